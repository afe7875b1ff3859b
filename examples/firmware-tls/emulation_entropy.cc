// Emulation-only entropy: the MPS2 AN386 has no hardware random number
// generator, so under QEMU the firmware reads the host's /dev/urandom through
// semihosting. INSECURE on a device: semihosting is a debug channel, the
// bytes cross the debug probe in the clear, and a board without a debugger
// has no source at all. Only the QEMU reference image links this file; the
// port template's entropy_fill() returns an error until a TRNG is filled in.

#include "emulation_entropy.h"

#include "ecq/port/entropy.h"
#include "ecq/port/log.h"
#include "semihosting_files.h"

void firmware::log_emulation_entropy_warning() {
  ecq::port::log_write(ecq::LogLevel::kWarning,
                       "entropy: INSECURE emulation-only source, the host's /dev/urandom read through semihosting; "
                       "a device needs a hardware random number generator (ports/baremetal/entropy.cc)");
}

namespace ecq::port {

PortStatus entropy_fill(std::uint8_t* out, std::size_t size) {
  if (out == nullptr && size > 0) {
    return PortStatus::kInvalidArgument;
  }
  std::size_t read = 0;
  if (!firmware::semihosting_read_file("/dev/urandom", out, size, &read) || read != size) {
    log_write(LogLevel::kError, "entropy: reading /dev/urandom through semihosting failed; run under "
                                "qemu-system-arm with -semihosting-config enable=on,target=native");
    return PortStatus::kError;
  }
  return PortStatus::kOk;
}

}  // namespace ecq::port
