// Established TLS sessions move data without allocating: Mbed TLS sets up its
// record buffers in the handshake. This executable links the counting
// allocator.

#include <doctest/doctest.h>

#include <vector>

#include "counting_allocator.h"
#include "ecq/transport/memory_pipe.h"
#include "ecq/transport/tls.h"
#include "tls_fixture.h"

namespace ecq::transport {
namespace {

// Moves `size` bytes from `from` to `to` and returns how many arrived.
std::size_t exchange(TlsStream& from, TlsStream& to, std::uint64_t now, std::size_t size) {
  std::vector<std::uint8_t> data(size, 0x42);
  std::vector<std::uint8_t> buffer(4096);
  std::size_t sent = 0;
  std::size_t received = 0;
  for (int round = 0; round < 10000 && received < size; ++round) {
    std::size_t done = 0;
    if (sent < size && from.write(data.data() + sent, size - sent, &done) == IoStatus::kOk) {
      sent += done;
    }
    from.tick(now);
    to.tick(now);
    while (to.read(buffer.data(), buffer.size(), &done) == IoStatus::kOk && done > 0) {
      received += done;
    }
  }
  return received;
}

TEST_CASE("established tls allocates nothing") {
  for (const TlsMode mode : {TlsMode::kCertificate, TlsMode::kPsk}) {
    TlsContext server_context;
    TlsContext device_context;
    std::string error;
    REQUIRE(server_context.init(test::server_config(mode), &error));
    REQUIRE(device_context.init(mode == TlsMode::kPsk ? test::psk_device_config("tiny-1", std::string(32, '\x5a'))
                                                      : test::device_config(test::fleet().device),
                                &error));
    MemoryPipe pipe(1 << 16);
    TlsStream server;
    TlsStream device;
    REQUIRE(server.start(server_context, pipe.a(), 0, &error));
    REQUIRE(device.start(device_context, pipe.b(), 0, &error));
    for (int round = 0; round < 200 && !(server.established() && device.established()); ++round) {
      server.tick(0);
      device.tick(0);
    }
    REQUIRE(server.established());
    REQUIRE(device.established());
    std::vector<std::uint8_t> buffers;  // the exchange's own buffers are made before counting
    (void)exchange(device, server, 0, 10);

    const long before = ecq::test::allocation_count();
    const std::size_t forward = exchange(device, server, 0, 1 << 20);
    const std::size_t backward = exchange(server, device, 0, 1 << 20);
    const long allocations = ecq::test::allocation_count() - before;

    CAPTURE(static_cast<int>(mode));
    CHECK(forward == (1u << 20));
    CHECK(backward == (1u << 20));
    // Two exchanges each make their two std::vector buffers: 4 allocations.
    CHECK(allocations == 4);
  }
}

}  // namespace
}  // namespace ecq::transport
