// TLS reference firmware for the MPS2 AN386 board under qemu-system-arm: a
// TLS 1.2 handshake with the coordinator's PSK listener
// (TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256) over UART0, which QEMU joins
// to a TCP connection of the host, then one federation round with the device
// client (federation_round.h). The semihosting command line names the
// PSK identity and the host file with the key, as ecq-pki make-psk writes it
// (64 hex digits). The QEMU options, one a line:
//   -M mps2-an386 -display none -monitor none
//   -semihosting-config enable=on,target=native,arg=IDENTITY,arg=KEY_FILE
//   -chardev socket,id=link,host=127.0.0.1,port=PSK_PORT,nodelay=on
//   -serial chardev:link -kernel ecq-firmware-tls-mps2-an386.elf
// It prints the handshake time, the cipher suite, the round's verdict and
// traffic, and the peak use of Mbed TLS's heap buffer and of the stack, then
// exits through semihosting.

#include <mbedtls/memory_buffer_alloc.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "ecq/port/clock.h"
#include "ecq/port/socket.h"
#include "emulation_entropy.h"
#include "federation_round.h"
#include "semihosting.h"
#include "semihosting_files.h"
#include "tls_psk_client.h"

extern "C" {
// Symbols of mps2-an386.ld: the top of the stack and its size (an absolute
// symbol, so its address is the value).
extern char __stack_top[];
extern char STACK_SIZE[];
}

namespace firmware {
namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr std::uint32_t kHandshakeTimeoutMs = 60000;
constexpr std::uint32_t kRoundTimeoutMs = 120000;
// The UART "socket" ignores the address: QEMU's -serial option sets the host end.
constexpr const char* kCoordinatorHost = "uart0";
constexpr std::uint16_t kCoordinatorPort = 1;
// Every Mbed TLS allocation comes from this buffer; the run's peak use
// is printed, so the size can be cut to that plus a margin.
constexpr std::size_t kTlsHeapBytes = 8 * 1024;
constexpr std::uint32_t kStackPaint = 0xA5A5A5A5u;

alignas(8) unsigned char g_tls_heap[kTlsHeapBytes];

void print(const char* format, std::uint32_t a = 0, std::uint32_t b = 0, std::uint32_t c = 0) {
  char line[256];
  std::snprintf(line, sizeof line, format, static_cast<unsigned long>(a), static_cast<unsigned long>(b),
                static_cast<unsigned long>(c));
  semihosting_write(line);
}

void print_text(const char* prefix, const char* text) {
  semihosting_write(prefix);
  semihosting_write(text);
  semihosting_write("\n");
}

std::uintptr_t stack_bottom() {
  return reinterpret_cast<std::uintptr_t>(__stack_top) - reinterpret_cast<std::uintptr_t>(STACK_SIZE);
}

// Fills the unused part of the stack, below this frame, with kStackPaint.
// noinline keeps its own frame out of the caller's.
[[gnu::noinline]] void paint_stack() {
  std::uint32_t marker = 0;
  // Leave 256 bytes below this frame for the loop itself.
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(&marker) - 256) & ~std::uintptr_t{3};
  for (std::uintptr_t address = stack_bottom(); address < end; address += 4) {
    *reinterpret_cast<volatile std::uint32_t*>(address) = kStackPaint;
  }
}

// Returns the deepest stack use so far: the bytes from the top down to the
// lowest word that no longer contains kStackPaint.
std::size_t stack_peak_bytes() {
  std::uintptr_t address = stack_bottom();
  while (address < reinterpret_cast<std::uintptr_t>(__stack_top) &&
         *reinterpret_cast<volatile std::uint32_t*>(address) == kStackPaint) {
    address += 4;
  }
  return reinterpret_cast<std::uintptr_t>(__stack_top) - address;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads a key file of ecq-pki make-psk: 64 hex digits, then an optional newline.
bool read_key(const char* path, std::uint8_t (&key)[kKeyBytes]) {
  unsigned char text[2 * kKeyBytes + 2];
  std::size_t size = 0;
  if (!semihosting_read_file(path, text, sizeof text, &size)) {
    print_text("firmware: cannot read the PSK file through semihosting: ", path);
    return false;
  }
  while (size > 0 && (text[size - 1] == '\n' || text[size - 1] == '\r')) {
    --size;
  }
  bool valid = size == 2 * kKeyBytes;
  for (std::size_t i = 0; valid && i < kKeyBytes; ++i) {
    const int high = hex_digit(static_cast<char>(text[2 * i]));
    const int low = hex_digit(static_cast<char>(text[2 * i + 1]));
    valid = high >= 0 && low >= 0;
    key[i] = static_cast<std::uint8_t>((high << 4) | (low & 0xF));
  }
  if (!valid) {
    print_text("firmware: the PSK file must hold 64 hex digits, as ecq-pki make-psk writes it: ", path);
  }
  return valid;
}

}  // namespace

int run() {
  paint_stack();
  semihosting_write("firmware-tls: TLS 1.2 PSK client on UART0\n");
  log_emulation_entropy_warning();

  char command_line[256];
  char* identity = nullptr;
  char* key_path = nullptr;
  // newlib's strtok() links assert() and stdio, so split by hand.
  if (semihosting_command_line(command_line, sizeof command_line)) {
    identity = command_line;
    char* space = std::strchr(command_line, ' ');
    if (space != nullptr) {
      *space = '\0';
      key_path = space + 1;
    }
  }
  if (identity == nullptr || identity[0] == '\0' || key_path == nullptr || key_path[0] == '\0' ||
      std::strchr(key_path, ' ') != nullptr) {
    semihosting_write("firmware-tls: invalid arguments: expected the PSK identity and the key file; run with "
                      "-semihosting-config enable=on,target=native,arg=IDENTITY,arg=KEY_FILE\n");
    return 1;
  }
  std::uint8_t key[kKeyBytes];
  if (!read_key(key_path, key)) {
    return 1;
  }

  mbedtls_memory_buffer_alloc_init(g_tls_heap, sizeof g_tls_heap);
  ecq::port::Socket socket;
  if (ecq::port::socket_connect(kCoordinatorHost, kCoordinatorPort, &socket) != ecq::port::PortStatus::kOk) {
    semihosting_write("firmware-tls: opening UART0 failed\n");
    return 1;
  }
  char error[192] = "";
  bool ok = false;
  RoundReport round;
  {
    TlsPskClient client;
    const std::uint64_t start_ms = ecq::port::monotonic_ms();
    ok = client.init(identity, key, sizeof key, socket, error, sizeof error) &&
         client.handshake(kHandshakeTimeoutMs, error, sizeof error);
    const std::uint64_t handshake_ms = ecq::port::monotonic_ms() - start_ms;
    if (ok) {
      print("firmware-tls: handshake done in %lu ms, records of at most %lu bytes\n",
            static_cast<std::uint32_t>(handshake_ms), static_cast<std::uint32_t>(client.max_record_plaintext()));
      print_text("firmware-tls: identity ", identity);
      print_text("firmware-tls: cipher suite ", client.cipher_suite());
      ok = run_federation_round(client, socket, identity, kRoundTimeoutMs, &round, error, sizeof error);
    }
  }
  ecq::port::socket_close(&socket);
  if (!ok) {
    print_text("firmware-tls: ", error);
    return 1;
  }

  const ecq::DeviceCounters& counters = round.counters;
  print("firmware-tls: round done in %lu ms\n", static_cast<std::uint32_t>(round.duration_ms));
  semihosting_write(round.applied ? "firmware-tls: update applied\n" : "firmware-tls: update not applied\n");
  print("firmware-tls: model %lu bytes received, update %lu bytes sent, other %lu bytes sent\n",
        static_cast<std::uint32_t>(counters.model_bytes_received), static_cast<std::uint32_t>(counters.update_bytes_sent),
        static_cast<std::uint32_t>(counters.other_bytes_sent));
  print("firmware-tls: device client arena %lu bytes\n", static_cast<std::uint32_t>(round.arena_bytes));

  std::size_t heap_peak = 0;
  std::size_t heap_blocks = 0;
  mbedtls_memory_buffer_alloc_max_get(&heap_peak, &heap_blocks);
  // The allocator counts requested bytes; each block also has a 32-byte
  // header (struct _memory_header of memory_buffer_alloc.c, Mbed TLS 2.28).
  print("firmware-tls: Mbed TLS heap peak %lu bytes requested, at most %lu blocks, buffer %lu bytes\n",
        static_cast<std::uint32_t>(heap_peak), static_cast<std::uint32_t>(heap_blocks),
        static_cast<std::uint32_t>(kTlsHeapBytes));
  print("firmware-tls: stack peak %lu of %lu bytes\n", static_cast<std::uint32_t>(stack_peak_bytes()),
        static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(STACK_SIZE)));
  mbedtls_memory_buffer_alloc_free();
  return 0;
}

}  // namespace firmware
