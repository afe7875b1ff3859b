// POSIX port: entropy from the kernel's getrandom(), which blocks only until
// the kernel's pool has been seeded once after boot.

#include "ecq/port/entropy.h"

#include <sys/random.h>

#include <cerrno>

#include "error_log.h"

namespace ecq::port {

PortStatus entropy_fill(std::uint8_t* out, std::size_t size) {
  if (out == nullptr && size > 0) {
    return PortStatus::kInvalidArgument;
  }
  std::size_t filled = 0;
  while (filled < size) {
    // Requests above 256 bytes may return fewer bytes (at most 32 MiB - 1
    // per call) or be cut short by a signal, so the loop continues.
    const ssize_t result = getrandom(out + filled, size - filled, 0);
    if (result < 0) {
      const int error = errno;
      if (error == EINTR) {
        continue;
      }
      char text[128];
      detail::log_error("getrandom failed after %zu of %zu bytes: %s", filled, size,
                        detail::error_text(error, text, sizeof text));
      return PortStatus::kError;
    }
    filled += static_cast<std::size_t>(result);
  }
  return PortStatus::kOk;
}

}  // namespace ecq::port
