#pragma once
// Arm semihosting calls (Arm "Semihosting for AArch32 and AArch64", version
// 2.0): the debugger or emulator, here qemu-system-arm with
// -semihosting-config enable=on, carries out the request on the host.

#include <cstdint>

namespace firmware {

/// Makes semihosting request `operation` with `argument` (a value or the
/// address of a parameter block) and returns the host's result.
std::uint32_t semihosting_call(std::uint32_t operation, std::uint32_t argument);

/// Writes a NUL-terminated string to the host's console (SYS_WRITE0).
void semihosting_write(const char* text);

/// Ends the program (SYS_EXIT): QEMU exits with status 0 when `success`,
/// else with status 1.
[[noreturn]] void semihosting_exit(bool success);

}  // namespace firmware
