// Reset handler and vector table for a Cortex-M4 with the FPU, laid out by
// mps2-an386.ld: the table sits at address 0, where the core reads the
// initial stack pointer and the reset vector.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "semihosting.h"

extern "C" {
// Symbols of the linker script.
extern char __stack_top[];
extern std::uint32_t __data_start[];
extern std::uint32_t __data_end[];
extern const std::uint32_t __data_load[];
extern std::uint32_t __bss_start[];
extern std::uint32_t __bss_end[];
extern void (*__preinit_array_start[])();
extern void (*__preinit_array_end[])();
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();

void reset_handler();

// The firmware has no heap. newlib-nano's printf family links malloc() for
// stream buffers, which snprintf() into a caller's array never uses, and
// malloc() takes its memory from _sbrk(); here every request fails, so an
// allocation returns a null pointer instead of taking memory.
void* _sbrk(std::ptrdiff_t increment);
}

void* _sbrk(std::ptrdiff_t increment) {
  (void)increment;
  errno = ENOMEM;
  return reinterpret_cast<void*>(-1);
}

namespace firmware {
// The firmware's work, in main.cc; returns 0 on success.
int run();
}  // namespace firmware

namespace {

// Coprocessor Access Control Register: CP10 and CP11 are the FPU.
volatile std::uint32_t* const kCpacr = reinterpret_cast<volatile std::uint32_t*>(0xE000ED88u);

// Any exception but reset is unexpected here: report it and stop QEMU.
void unexpected_exception() {
  firmware::semihosting_write("firmware: unexpected exception or interrupt\n");
  firmware::semihosting_exit(false);
}

// The first 16 entries are the core's exceptions; the AN386 board has 32
// external interrupts after them.
constexpr std::size_t kExceptionHandlers = 15;
constexpr std::size_t kInterruptHandlers = 32;

struct VectorTable {
  void* initial_stack_pointer;
  void (*handlers[kExceptionHandlers + kInterruptHandlers])();
};

template <std::size_t... kIndex>
constexpr VectorTable make_vector_table(std::index_sequence<kIndex...>) {
  return VectorTable{__stack_top, {(kIndex == 0 ? reset_handler : unexpected_exception)...}};
}

}  // namespace

__attribute__((section(".vectors"), used)) const VectorTable kVectorTable =
    make_vector_table(std::make_index_sequence<kExceptionHandlers + kInterruptHandlers>());

// Runs before any floating-point instruction, so it must enable the FPU
// first; the compiler emits none before the two barriers.
extern "C" void reset_handler() {
  *kCpacr = *kCpacr | (0xFu << 20);
  asm volatile("dsb\n\tisb" ::: "memory");

  const std::uint32_t* source = __data_load;
  for (std::uint32_t* word = __data_start; word < __data_end; ++word) {
    *word = *source++;
  }
  for (std::uint32_t* word = __bss_start; word < __bss_end; ++word) {
    *word = 0;
  }
  for (void (**constructor)() = __preinit_array_start; constructor < __preinit_array_end; ++constructor) {
    (*constructor)();
  }
  for (void (**constructor)() = __init_array_start; constructor < __init_array_end; ++constructor) {
    (*constructor)();
  }

  firmware::semihosting_exit(firmware::run() == 0);
}
