#include "ecq/port/clock.h"

#include <time.h>

namespace ecq::port {

std::uint64_t monotonic_ms() {
  // clock_gettime(2) lists only a bad pointer and an invalid clock as read
  // failures, and Linux always has CLOCK_MONOTONIC, so the result is unchecked.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000u + static_cast<std::uint64_t>(now.tv_nsec) / 1000000u;
}

bool wall_clock_seconds(std::int64_t* seconds) {
  // NOTE: the system clock is trusted as it is. A host that booted without a
  // real-time clock and has not synchronised yet reports a time near 1970.
  timespec now{};
  if (seconds == nullptr || clock_gettime(CLOCK_REALTIME, &now) != 0) {
    return false;
  }
  *seconds = static_cast<std::int64_t>(now.tv_sec);
  return true;
}

}  // namespace ecq::port
