#pragma once
// Bare-metal port template (ports/baremetal/): the ecq::port functions for a
// microcontroller without an operating system. Each file has one marked
// place, "FILL IN", for the board's driver:
//   clock.cc    a 1 kHz tick interrupt that calls tick_1ms()
//   entropy.cc  the hardware random number generator
//   socket.cc   a TCP/IP stack, e.g. lwIP's socket API
//   storage.cc  a flash region for the blobs
//   log.cc      a UART for log lines
// Until a place is filled in, its functions return kError and log what is
// missing. The clock does not advance, and log lines stay in RAM. Every function
// is a weak symbol, so a board may instead define the functions of a whole
// header in its own sources, as examples/firmware-tls/ does for the MPS2
// AN386 board under QEMU.

#include <cstddef>
#include <cstdint>

namespace ecq::port::baremetal {

/// Advances monotonic_ms() by one millisecond. Call it from a 1 kHz timer
/// interrupt, e.g. SysTick with its reload set to core clock / 1000 - 1.
void tick_1ms();

/// Copies the most recent log lines (newline-separated, oldest first) into
/// out[0..capacity), NUL-terminated, and returns the number of characters
/// copied. The template's log_write() keeps the last 2 KiB of lines in RAM.
std::size_t copy_recent_log(char* out, std::size_t capacity);

}  // namespace ecq::port::baremetal
