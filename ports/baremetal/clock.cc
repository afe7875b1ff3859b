// Bare-metal port template: time from a millisecond tick counter.
//
// FILL IN: call baremetal::tick_1ms() from a 1 kHz timer interrupt. With
// CMSIS on a Cortex-M: SysTick_Config(SystemCoreClock / 1000) at start-up,
// and `extern "C" void SysTick_Handler() { ecq::port::baremetal::tick_1ms(); }`.
// Until then monotonic_ms() returns 0, and no timeout of the device client
// ever expires.

#include "ecq/port/baremetal.h"
#include "ecq/port/clock.h"

namespace ecq::port {
namespace {

// Written by the tick interrupt and read by the application. A 32-bit core
// cannot read 64 bits in one access, so readers retry until two reads agree.
volatile std::uint32_t g_ticks_low = 0;
volatile std::uint32_t g_ticks_high = 0;

}  // namespace

void baremetal::tick_1ms() {
  const std::uint32_t low = g_ticks_low + 1;
  if (low == 0) {
    g_ticks_high = g_ticks_high + 1;
  }
  g_ticks_low = low;
}

[[gnu::weak]] std::uint64_t monotonic_ms() {
  std::uint32_t high = 0;
  std::uint32_t low = 0;
  do {
    high = g_ticks_high;
    low = g_ticks_low;
  } while (high != g_ticks_high);
  return (static_cast<std::uint64_t>(high) << 32) | low;
}

[[gnu::weak]] bool wall_clock_seconds(std::int64_t* seconds) {
  // FILL IN: a real-time clock that is set from a trusted source. Without
  // one the wall clock is unknown, which PSK mode does not need.
  (void)seconds;
  return false;
}

}  // namespace ecq::port
