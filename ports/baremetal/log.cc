// Bare-metal port template: log lines go to a RAM ring buffer, which a
// debugger can read (or copy_recent_log()), and to a UART once one is filled
// in below.

#include <cstring>

#include "ecq/port/baremetal.h"
#include "ecq/port/log.h"

namespace ecq::port {
namespace {

constexpr std::size_t kRingBytes = 2048;

// The last kRingBytes characters of the log. g_ring_next is the index of the
// next character, and g_ring_full is set once the buffer has wrapped.
char g_ring[kRingBytes];
std::size_t g_ring_next = 0;
bool g_ring_full = false;

void ring_append(const char* text, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    g_ring[g_ring_next] = text[i];
    g_ring_next = (g_ring_next + 1) % kRingBytes;
    g_ring_full = g_ring_full || g_ring_next == 0;
  }
}

// FILL IN: write text[0..size) to the board's UART, waiting while its
// transmit FIFO is full, e.g. HAL_UART_Transmit() on an STM32. Keep it short:
// log_write() may run in any context that logs.
void uart_write(const char* text, std::size_t size) {
  (void)text;
  (void)size;
}

const char* level_prefix(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "E ";
    case LogLevel::kWarning: return "W ";
    case LogLevel::kInfo: return "I ";
    case LogLevel::kDebug: return "D ";
  }
  return "? ";
}

}  // namespace

[[gnu::weak]] void log_write(LogLevel level, const char* message) {
  const char* prefix = level_prefix(level);
  const std::size_t length = std::strlen(message);
  ring_append(prefix, 2);
  ring_append(message, length);
  ring_append("\n", 1);
  uart_write(prefix, 2);
  uart_write(message, length);
  uart_write("\r\n", 2);
}

std::size_t baremetal::copy_recent_log(char* out, std::size_t capacity) {
  if (out == nullptr || capacity == 0) {
    return 0;
  }
  const std::size_t stored = g_ring_full ? kRingBytes : g_ring_next;
  const std::size_t start = g_ring_full ? g_ring_next : 0;
  const std::size_t count = stored < capacity - 1 ? stored : capacity - 1;
  // Keep the newest characters when the output is smaller than the log.
  const std::size_t skip = stored - count;
  for (std::size_t i = 0; i < count; ++i) {
    out[i] = g_ring[(start + skip + i) % kRingBytes];
  }
  out[count] = '\0';
  return count;
}

}  // namespace ecq::port
