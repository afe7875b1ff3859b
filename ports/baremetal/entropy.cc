// Bare-metal port template: entropy from the hardware random number
// generator. Never replace it with a counter, a clock or a fixed seed: the
// TLS keys are derived from these bytes.

#include "ecq/port/entropy.h"

#include "ecq/port/log.h"

namespace ecq::port {

[[gnu::weak]] PortStatus entropy_fill(std::uint8_t* out, std::size_t size) {
  if (out == nullptr && size > 0) {
    return PortStatus::kInvalidArgument;
  }
  // FILL IN: read `size` bytes from the board's TRNG, e.g. on an STM32 with
  // the HAL: HAL_RNG_GenerateRandomNumber() for each 4 bytes, returning
  // kError when it reports a seed or clock error. Boards without a TRNG need
  // an external source (a secure element) and must not ship without one.
  log_write(LogLevel::kError,
            "entropy: no hardware random number generator; fill in entropy_fill() in ports/baremetal/entropy.cc");
  return PortStatus::kError;
}

}  // namespace ecq::port
