// Port functions of the MPS2 AN386 board as qemu-system-arm 7.2 models it,
// in place of the template's (ports/baremetal/): the clock from CMSDK timer 0,
// the log through semihosting, and a "socket" that is UART0. QEMU joins UART0
// to a TCP connection of the host (-serial tcp:HOST:PORT), so the bytes the
// firmware sends and receives there are that connection's stream.

#include <cstdio>

#include "ecq/port/clock.h"
#include "ecq/port/log.h"
#include "ecq/port/socket.h"
#include "semihosting.h"

namespace ecq::port {
namespace {

// CMSDK APB timer 0 (Arm DDI 0479C): a 32-bit down counter that reloads at
// zero. QEMU clocks it with the 25 MHz system clock of the board.
constexpr std::uintptr_t kTimer0 = 0x40000000u;
constexpr std::uint32_t kTimerTicksPerMs = 25000;

// CMSDK APB UART 0.
constexpr std::uintptr_t kUart0 = 0x40004000u;
constexpr std::uint32_t kUartStateTxFull = 1u << 0;
constexpr std::uint32_t kUartStateRxFull = 1u << 1;
constexpr std::uint32_t kUartControlTxRxEnable = 0x3u;
// 25 MHz / 115200 baud; QEMU forwards bytes at once whatever the divider.
constexpr std::uint32_t kUartBaudDivider = 217;

volatile std::uint32_t& reg(std::uintptr_t base, std::uint32_t offset) {
  return *reinterpret_cast<volatile std::uint32_t*>(base + offset);
}
volatile std::uint32_t& timer_control() { return reg(kTimer0, 0x0); }
volatile std::uint32_t& timer_value() { return reg(kTimer0, 0x4); }
volatile std::uint32_t& timer_reload() { return reg(kTimer0, 0x8); }
volatile std::uint32_t& uart_data() { return reg(kUart0, 0x0); }
volatile std::uint32_t& uart_state() { return reg(kUart0, 0x4); }
volatile std::uint32_t& uart_control() { return reg(kUart0, 0x8); }
volatile std::uint32_t& uart_baud_divider() { return reg(kUart0, 0x10); }

bool g_timer_started = false;
std::uint32_t g_timer_last = 0;
std::uint64_t g_timer_elapsed_ticks = 0;

// Socket::handle of the one UART "connection".
constexpr std::intptr_t kUartHandle = 0;

}  // namespace

// NOTE: counts the timer's ticks between calls, so it must be called at least
// once per timer period (2^32 ticks, 171 s at 25 MHz) or time is lost.
std::uint64_t monotonic_ms() {
  if (!g_timer_started) {
    g_timer_started = true;
    timer_reload() = UINT32_MAX;
    timer_value() = UINT32_MAX;
    timer_control() = 1;  // enable
    g_timer_last = UINT32_MAX;
  }
  const std::uint32_t now = timer_value();
  g_timer_elapsed_ticks += g_timer_last - now;  // a down counter; wraps modulo 2^32
  g_timer_last = now;
  return g_timer_elapsed_ticks / kTimerTicksPerMs;
}

bool wall_clock_seconds(std::int64_t* seconds) {
  (void)seconds;
  return false;
}

void log_write(LogLevel level, const char* message) {
  static const char* const kNames[] = {"error", "warning", "info", "debug"};
  const auto index = static_cast<std::size_t>(level);
  char line[320];
  std::snprintf(line, sizeof line, "ecq %s: %s\n", index < 4 ? kNames[index] : "log", message);
  firmware::semihosting_write(line);
}

// Enables the UART. QEMU's -serial option sets the host end of the
// connection, so the host name and port are not used.
PortStatus socket_connect(const char* host, std::uint16_t port, Socket* socket) {
  if (host == nullptr || socket == nullptr || port == 0) {
    return PortStatus::kInvalidArgument;
  }
  uart_baud_divider() = kUartBaudDivider;
  uart_control() = kUartControlTxRxEnable;
  socket->handle = kUartHandle;
  return PortStatus::kOk;
}

PortStatus socket_connect_finish(Socket socket) {
  return socket.handle == kUartHandle ? PortStatus::kOk : PortStatus::kInvalidArgument;
}

PortStatus socket_send(Socket socket, const std::uint8_t* data, std::size_t size, std::size_t* sent) {
  if (socket.handle != kUartHandle || (data == nullptr && size > 0) || sent == nullptr) {
    return PortStatus::kInvalidArgument;
  }
  std::size_t count = 0;
  while (count < size && (uart_state() & kUartStateTxFull) == 0) {
    uart_data() = data[count++];
  }
  *sent = count;
  return count > 0 || size == 0 ? PortStatus::kOk : PortStatus::kWouldBlock;
}

// NOTE: a UART cannot see the host close the connection, so this never
// returns kClosed; the TLS close_notify alert marks the end instead.
PortStatus socket_receive(Socket socket, std::uint8_t* buffer, std::size_t capacity, std::size_t* received) {
  if (socket.handle != kUartHandle || (buffer == nullptr && capacity > 0) || received == nullptr) {
    return PortStatus::kInvalidArgument;
  }
  std::size_t count = 0;
  while (count < capacity && (uart_state() & kUartStateRxFull) != 0) {
    buffer[count++] = static_cast<std::uint8_t>(uart_data() & 0xFFu);
  }
  *received = count;
  return count > 0 || capacity == 0 ? PortStatus::kOk : PortStatus::kWouldBlock;
}

// Polls the UART's state register until it is ready or the time is up.
PortStatus socket_wait(Socket socket, bool want_read, bool want_write, std::uint32_t timeout_ms, bool* readable,
                       bool* writable) {
  if (socket.handle != kUartHandle || readable == nullptr || writable == nullptr) {
    return PortStatus::kInvalidArgument;
  }
  const std::uint64_t deadline = monotonic_ms() + timeout_ms;
  do {
    const std::uint32_t state = uart_state();
    *readable = want_read && (state & kUartStateRxFull) != 0;
    *writable = want_write && (state & kUartStateTxFull) == 0;
    if (*readable || *writable) {
      return PortStatus::kOk;
    }
  } while (monotonic_ms() < deadline);
  return PortStatus::kTimeout;
}

void socket_close(Socket* socket) {
  if (socket == nullptr || socket->handle != kUartHandle) {
    return;
  }
  // Wait for the last byte to leave, then disable the UART.
  while ((uart_state() & kUartStateTxFull) != 0) {
  }
  uart_control() = 0;
  socket->handle = -1;
}

}  // namespace ecq::port
