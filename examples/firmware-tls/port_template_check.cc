// Checks the bare-metal port template (ports/baremetal/) as it is before a
// board fills it in, on the MPS2 AN386 board under qemu-system-arm: every
// hook that needs hardware returns an error and logs which file to fill in,
// argument checks come first, and the clock advances only with tick_1ms().
// Prints one line per failed check and exits with failure if there is any.

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "ecq/port/baremetal.h"
#include "ecq/port/clock.h"
#include "ecq/port/entropy.h"
#include "ecq/port/socket.h"
#include "ecq/port/status.h"
#include "ecq/port/storage.h"
#include "semihosting.h"

namespace firmware {
namespace {

int g_checks = 0;
int g_failures = 0;

void check(bool condition, const char* description) {
  ++g_checks;
  if (!condition) {
    ++g_failures;
    semihosting_write("port template check failed: ");
    semihosting_write(description);
    semihosting_write("\n");
  }
}

void check_status(ecq::port::PortStatus actual, ecq::port::PortStatus expected, const char* call) {
  char description[160];
  std::snprintf(description, sizeof description, "%s returned \"%s\", expected \"%s\"", call,
                ecq::port::port_status_name(actual), ecq::port::port_status_name(expected));
  check(actual == expected, description);
}

// Returns how often `text` occurs in `log`.
int count_occurrences(const char* log, const char* text) {
  int count = 0;
  for (const char* found = std::strstr(log, text); found != nullptr; found = std::strstr(found + 1, text)) {
    ++count;
  }
  return count;
}

void check_entropy() {
  using ecq::port::PortStatus;
  std::uint8_t bytes[16] = {};
  check_status(ecq::port::entropy_fill(bytes, sizeof bytes), PortStatus::kError, "entropy_fill(16 bytes)");
  check_status(ecq::port::entropy_fill(nullptr, 4), PortStatus::kInvalidArgument, "entropy_fill(nullptr, 4)");
}

void check_socket() {
  using ecq::port::PortStatus;
  ecq::port::Socket socket;
  check_status(ecq::port::socket_connect("192.0.2.1", 7000, &socket), PortStatus::kError, "socket_connect");
  check_status(ecq::port::socket_connect(nullptr, 7000, &socket), PortStatus::kInvalidArgument,
               "socket_connect(nullptr host)");
  check_status(ecq::port::socket_connect_finish(socket), PortStatus::kError, "socket_connect_finish");
  const std::uint8_t data[4] = {1, 2, 3, 4};
  std::size_t count = 99;
  check_status(ecq::port::socket_send(socket, data, sizeof data, &count), PortStatus::kError, "socket_send");
  check(count == 0, "socket_send reports 0 bytes sent");
  std::uint8_t buffer[4];
  count = 99;
  check_status(ecq::port::socket_receive(socket, buffer, sizeof buffer, &count), PortStatus::kError,
               "socket_receive");
  check(count == 0, "socket_receive reports 0 bytes received");
  bool readable = true;
  bool writable = true;
  check_status(ecq::port::socket_wait(socket, true, true, 10, &readable, &writable), PortStatus::kError,
               "socket_wait");
  check(!readable && !writable, "socket_wait reports neither readable nor writable");
  socket.handle = 3;
  ecq::port::socket_close(&socket);
  check(socket.handle == -1, "socket_close sets the handle to -1");
}

void check_storage() {
  using ecq::port::PortStatus;
  const std::uint8_t data[4] = {1, 2, 3, 4};
  check_status(ecq::port::storage_write("error-buffer", data, sizeof data), PortStatus::kError,
               "storage_write(\"error-buffer\")");
  check_status(ecq::port::storage_write(".hidden", data, sizeof data), PortStatus::kInvalidArgument,
               "storage_write(\".hidden\")");
  check_status(ecq::port::storage_write("a/b", data, sizeof data), PortStatus::kInvalidArgument,
               "storage_write(\"a/b\")");
  std::uint8_t buffer[4];
  std::size_t size = 99;
  check_status(ecq::port::storage_read("error-buffer", buffer, sizeof buffer, &size), PortStatus::kError,
               "storage_read(\"error-buffer\")");
  check(size == 0, "storage_read reports size 0");
  check_status(ecq::port::storage_remove(""), PortStatus::kInvalidArgument, "storage_remove(\"\")");
  check_status(ecq::port::storage_remove("error-buffer"), PortStatus::kError, "storage_remove(\"error-buffer\")");
}

void check_clock() {
  check(ecq::port::monotonic_ms() == 0, "monotonic_ms() is 0 before any tick");
  for (int i = 0; i < 3; ++i) {
    ecq::port::baremetal::tick_1ms();
  }
  check(ecq::port::monotonic_ms() == 3, "monotonic_ms() is 3 after 3 ticks");
  std::int64_t seconds = 0;
  check(!ecq::port::wall_clock_seconds(&seconds), "wall_clock_seconds() reports no wall clock");
}

void check_log() {
  char log[2048];
  ecq::port::baremetal::copy_recent_log(log, sizeof log);
  check(count_occurrences(log, "E entropy: no hardware random number generator; fill in entropy_fill() in "
                               "ports/baremetal/entropy.cc\n") == 1,
        "the log names ports/baremetal/entropy.cc once");
  check(count_occurrences(log, "socket: no TCP/IP stack; fill in") == 1,
        "the log names the missing TCP/IP stack once for all socket calls");
  check(count_occurrences(log, "storage: no flash region; fill in") == 1,
        "the log names the missing flash region once for all storage calls");
  char tail[8];
  const std::size_t copied = ecq::port::baremetal::copy_recent_log(tail, sizeof tail);
  check(copied == 7 && std::strlen(tail) == 7 && tail[6] == '\n', "copy_recent_log keeps the newest characters");
}

}  // namespace

int run() {
  check_entropy();
  check_socket();
  check_storage();
  check_clock();
  check_log();
  char summary[96];
  std::snprintf(summary, sizeof summary, "port template: %d of %d checks passed\n", g_checks - g_failures, g_checks);
  semihosting_write(summary);
  return g_failures == 0 ? 0 : 1;
}

}  // namespace firmware
