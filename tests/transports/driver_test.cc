// The two drivers together over real sockets on 127.0.0.1: a device on the
// port socket (DeviceConnection) and the coordinator on Asio
// (AsioTlsServer), each on its own thread.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "ecq/port/clock.h"
#include "ecq/port/socket.h"
#include "ecq/transport/asio_tls.h"
#include "ecq/transport/device_connection.h"
#include "stream_suite.h"
#include "tls_fixture.h"

namespace ecq::transport {
namespace {

// Runs an Asio TLS server on its own thread; every connection echoes what it
// receives.
struct EchoServer {
  explicit EchoServer(const TlsConfig& config) {
    std::string error;
    REQUIRE_MESSAGE(context.init(config, &error), error);
    REQUIRE_MESSAGE(server.listen(
                        "127.0.0.1", 0, [this](AsioTlsConnection&) { return echo(); }, &error),
                    error);
    thread = std::thread([this] { io.run(); });
  }
  ~EchoServer() {
    asio::post(io, [this] { server.stop(); });
    io.stop();
    thread.join();
  }

  AsioTlsConnection::Handler echo() {
    return [this](AsioTlsConnection& connection) {
      TlsStream& stream = connection.stream();
      if (stream.failed()) {
        failures.fetch_add(1);
        return;
      }
      std::uint8_t buffer[4096];
      std::size_t done = 0;
      while (stream.read(buffer, sizeof buffer, &done) == IoStatus::kOk && done > 0) {
        std::size_t written = 0;
        for (std::size_t offset = 0; offset < done; offset += written) {
          if (stream.write(buffer + offset, done - offset, &written) != IoStatus::kOk) {
            break;  // NOTE: an echo test server; a real one queues what did not fit
          }
        }
        echoed.fetch_add(done);
      }
    };
  }

  asio::io_context io;
  TlsContext context;
  AsioTlsServer server{io, context};
  std::thread thread;
  std::atomic<std::size_t> echoed{0};
  std::atomic<int> failures{0};
};

TEST_CASE("device connection echo over loopback") {
  EchoServer echo(test::server_config());
  TlsContext device_context;
  std::string error;
  REQUIRE(device_context.init(test::device_config(test::fleet().device), &error));
  DeviceConnection device;
  REQUIRE_MESSAGE(device.connect("127.0.0.1", echo.server.port(), device_context, &error), error);
  CHECK(device.stream().peer_id() == "coordinator");

  const std::vector<std::uint8_t> message = test::pattern(3000, 4);
  std::size_t sent = 0;
  std::vector<std::uint8_t> received;
  for (int round = 0; round < 400 && received.size() < message.size(); ++round) {
    std::size_t done = 0;
    if (sent < message.size() &&
        device.stream().write(message.data() + sent, message.size() - sent, &done) == IoStatus::kOk) {
      sent += done;
    }
    REQUIRE(device.poll(10));
    std::uint8_t buffer[4096];
    while (device.stream().read(buffer, sizeof buffer, &done) == IoStatus::kOk && done > 0) {
      received.insert(received.end(), buffer, buffer + done);
    }
  }
  CHECK(received == message);
}

TEST_CASE("device connection names refused port") {
  // A port with no listener: bind one, note it, close it.
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t port = probe.local_endpoint().port();
  probe.close();
  TlsContext device_context;
  std::string error;
  REQUIRE(device_context.init(test::device_config(test::fleet().device), &error));
  DeviceConnection device;
  CHECK_FALSE(device.connect("127.0.0.1", port, device_context, &error));
  CHECK(error.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("server closes silent peer at handshake deadline") {
  TlsConfig config = test::server_config();
  config.handshake_timeout_ms = 300;
  EchoServer echo(config);
  port::Socket socket;
  port::PortStatus status = port::socket_connect("127.0.0.1", echo.server.port(), &socket);
  REQUIRE((status == port::PortStatus::kOk || status == port::PortStatus::kWouldBlock));
  // Send nothing; the server must close within its deadline plus one tick.
  const std::uint64_t start = port::monotonic_ms();
  port::PortStatus received = port::PortStatus::kWouldBlock;
  while (received == port::PortStatus::kWouldBlock && port::monotonic_ms() - start < 5000) {
    bool readable = false;
    bool writable = false;
    (void)port::socket_wait(socket, true, false, 100, &readable, &writable);
    std::uint8_t byte = 0;
    std::size_t done = 0;
    received = port::socket_receive(socket, &byte, 1, &done);
  }
  CHECK(received == port::PortStatus::kClosed);
  CHECK(port::monotonic_ms() - start < 3000);
  // The server counts the failure on its own thread; give it a moment.
  for (int round = 0; round < 200 && echo.failures.load() == 0; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(echo.failures.load() == 1);
  port::socket_close(&socket);
}

// A revocation list the test can change while the server runs.
struct LiveRevocations {
  static bool check(void* context, const std::uint8_t* serial, std::size_t size, const std::string&) {
    return static_cast<LiveRevocations*>(context)->contains(test::serial_hex(serial, size));
  }
  bool contains(const std::string& serial) {
    const std::lock_guard<std::mutex> lock(mutex);
    return serials.count(serial) != 0;
  }
  void add(const std::string& serial) {
    const std::lock_guard<std::mutex> lock(mutex);
    serials.insert(serial);
  }
  std::mutex mutex;
  std::set<std::string> serials;
};

TEST_CASE("revocation reload closes live connection") {
  LiveRevocations revocations;
  TlsConfig config = test::server_config();
  config.revocation_check = LiveRevocations::check;
  config.revocation_context = &revocations;
  EchoServer echo(config);
  TlsContext device_context;
  std::string error;
  REQUIRE(device_context.init(test::device_config(test::fleet().device), &error));
  DeviceConnection device;
  REQUIRE_MESSAGE(device.connect("127.0.0.1", echo.server.port(), device_context, &error), error);

  // Revoke the device, then do what the coordinator does after reloading.
  revocations.add(test::fleet().device.serial);
  std::promise<std::size_t> closed;
  asio::post(echo.io, [&] {
    closed.set_value(echo.server.close_where(
        [&](AsioTlsConnection& connection) { return revocations.contains(connection.stream().peer_serial()); }));
  });
  CHECK(closed.get_future().get() == 1);

  IoStatus status = IoStatus::kWouldBlock;
  for (int round = 0; round < 200 && status == IoStatus::kWouldBlock; ++round) {
    (void)device.poll(10);
    std::uint8_t buffer[16];
    std::size_t done = 0;
    status = device.stream().read(buffer, sizeof buffer, &done);
  }
  CHECK((status == IoStatus::kClosed || status == IoStatus::kError));

  DeviceConnection again;
  CHECK_FALSE(again.connect("127.0.0.1", echo.server.port(), device_context, &error));
  CHECK_MESSAGE(error.find("rejected the handshake") != std::string::npos, error);
}

}  // namespace
}  // namespace ecq::transport
