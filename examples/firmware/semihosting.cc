#include "semihosting.h"

#include <cstdint>

namespace firmware {
namespace {

constexpr std::uint32_t kSysWrite0 = 0x04;
constexpr std::uint32_t kSysExit = 0x18;
// Reasons for SYS_EXIT: QEMU maps ApplicationExit to exit status 0 and every
// other reason to 1.
constexpr std::uint32_t kApplicationExit = 0x20026;
constexpr std::uint32_t kRunTimeErrorUnknown = 0x20023;

}  // namespace

// On M-profile cores the request is BKPT 0xAB, with the operation in r0 and
// its argument in r1; the result comes back in r0.
std::uint32_t semihosting_call(std::uint32_t operation, std::uint32_t argument) {
  register std::uint32_t r0 asm("r0") = operation;
  register std::uint32_t r1 asm("r1") = argument;
  asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void semihosting_write(const char* text) {
  semihosting_call(kSysWrite0, static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(text)));
}

void semihosting_exit(bool success) {
  semihosting_call(kSysExit, success ? kApplicationExit : kRunTimeErrorUnknown);
  // Without a semihosting host the call returns; stop here.
  for (;;) {
    asm volatile("wfi");
  }
}

}  // namespace firmware
