#include "ecq/port/clock.h"

#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <thread>

namespace ecq::port {
namespace {

TEST_CASE("monotonic clock never goes backwards") {
  int backward_steps = 0;
  std::uint64_t previous = monotonic_ms();
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t now = monotonic_ms();
    if (now < previous) {
      ++backward_steps;
    }
    previous = now;
  }
  CHECK(backward_steps == 0);
}

TEST_CASE("monotonic clock advances over sleep") {
  const std::uint64_t start = monotonic_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::uint64_t elapsed = monotonic_ms() - start;
  // Both readings are truncated to whole milliseconds, so a 20 ms sleep may
  // read as 19. The upper bound only catches a wrong unit.
  CHECK(elapsed >= 19);
  CHECK(elapsed < 2000);
}

TEST_CASE("wall clock matches time()") {
  std::int64_t seconds = 0;
  REQUIRE(wall_clock_seconds(&seconds));
  const std::int64_t reference = static_cast<std::int64_t>(std::time(nullptr));
  CHECK(seconds >= reference - 2);
  CHECK(seconds <= reference + 2);
}

TEST_CASE("wall clock rejects null") { CHECK_FALSE(wall_clock_seconds(nullptr)); }

}  // namespace
}  // namespace ecq::port
