// TLS between a device and the coordinator: handshakes, rejections and
// deadlines, over an in-process pipe and over real sockets on 127.0.0.1.

#include "ecq/transport/tls.h"

#include <doctest/doctest.h>

#include <asio/ip/tcp.hpp>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "ecq/pki/credentials.h"
#include "ecq/port/clock.h"
#include "ecq/port/socket.h"
#include "ecq/transport/asio_stream.h"
#include "ecq/transport/memory_pipe.h"
#include "ecq/transport/socket_stream.h"
#include "stream_suite.h"
#include "tls_fixture.h"

namespace ecq::transport {
namespace {

using test::device_config;
using test::fleet;
using test::psk_device_config;
using test::server_config;

// Both ends of a session over an in-process pipe, driven by one thread.
struct PipeSession {
  PipeSession(const TlsConfig& server, const TlsConfig& client) {
    std::string error;
    REQUIRE_MESSAGE(server_context.init(server, &error), error);
    REQUIRE_MESSAGE(client_context.init(client, &error), error);
    REQUIRE(server_stream.start(server_context, pipe.a(), now, &error));
    REQUIRE(client_stream.start(client_context, pipe.b(), now, &error));
  }

  // Ticks both ends until both are established or one failed.
  void handshake() {
    for (int round = 0; round < 200 && !done(); ++round) {
      pump();
    }
  }
  void pump() {
    server_stream.tick(now);
    client_stream.tick(now);
  }
  bool done() const {
    return (server_stream.established() && client_stream.established()) || server_stream.failed() ||
           client_stream.failed();
  }

  MemoryPipe pipe{1 << 16};
  TlsContext server_context;
  TlsContext client_context;
  TlsStream server_stream;
  TlsStream client_stream;
  std::uint64_t now = 1000;
};

TEST_CASE("tls certificate handshake and data") {
  PipeSession session(server_config(), device_config(fleet().device));
  session.handshake();
  REQUIRE(session.server_stream.established());
  REQUIRE(session.client_stream.established());
  CHECK(session.server_stream.peer_id() == "device-7");
  CHECK(session.client_stream.peer_id() == "coordinator");
  test::StreamPair pair{&session.client_stream, &session.server_stream, [&session] { session.pump(); }};
  const std::vector<std::uint8_t> data = test::pattern(50000, 9);
  CHECK(test::transfer(pair, session.client_stream, session.server_stream, data) == data);
  CHECK(test::transfer(pair, session.server_stream, session.client_stream, data) == data);
}

TEST_CASE("tls psk handshake and data") {
  PipeSession session(server_config(TlsMode::kPsk), psk_device_config("tiny-1", std::string(32, '\x5a')));
  session.handshake();
  REQUIRE(session.server_stream.established());
  REQUIRE(session.client_stream.established());
  CHECK(session.server_stream.peer_id() == "tiny-1");
  test::StreamPair pair{&session.client_stream, &session.server_stream, [&session] { session.pump(); }};
  const std::vector<std::uint8_t> data = test::pattern(20000, 5);
  CHECK(test::transfer(pair, session.client_stream, session.server_stream, data) == data);
}

TEST_CASE("tls stream semantics") {
  std::unique_ptr<PipeSession> session;
  test::check_stream_semantics([&session] {
    session = std::make_unique<PipeSession>(server_config(), device_config(fleet().device));
    session->handshake();
    REQUIRE(session->server_stream.established());
    PipeSession* raw = session.get();
    return test::StreamPair{&raw->client_stream, &raw->server_stream, [raw] { raw->pump(); }};
  });
}

// Runs a handshake that must fail and returns both sides' messages.
std::pair<std::string, std::string> failed_handshake(const TlsConfig& server, const TlsConfig& client) {
  PipeSession session(server, client);
  session.handshake();
  for (int round = 0; round < 20; ++round) {
    session.pump();  // let the alert reach the other side
  }
  CHECK(session.server_stream.failed());
  CHECK(session.client_stream.failed());
  return {session.server_stream.error_message(), session.client_stream.error_message()};
}

TEST_CASE("tls rejects missing client certificate") {
  TlsConfig client = device_config(fleet().device);
  client.certificate_pem.clear();
  client.key_pem.clear();
  const auto [server, device] = failed_handshake(server_config(), client);
  CHECK_MESSAGE(server.find("presented no certificate") != std::string::npos, server);
  CHECK_MESSAGE(device.find("closed the connection during the handshake") != std::string::npos, device);
}

TEST_CASE("tls rejects certificate from another ca") {
  const auto [server, client] = failed_handshake(server_config(), device_config(fleet().impostor));
  CHECK_MESSAGE(server.find("device certificate was rejected") != std::string::npos, server);
  CHECK_MESSAGE(server.find("not correctly signed by the trusted CA") != std::string::npos, server);
  CHECK_MESSAGE(client.find("rejected the handshake") != std::string::npos, client);
}

TEST_CASE("tls rejects revoked device") {
  const auto [server, client] = failed_handshake(server_config(), device_config(fleet().revoked_device));
  CHECK_MESSAGE(server.find("revoked") != std::string::npos, server);
  CHECK_MESSAGE(client.find("rejected the handshake") != std::string::npos, client);
}

TEST_CASE("tls rejects expired certificate") {
  const auto [server, client] = failed_handshake(server_config(), device_config(fleet().expired_device));
  CHECK_MESSAGE(server.find("expired") != std::string::npos, server);
  CHECK_MESSAGE(client.find("rejected the handshake") != std::string::npos, client);
}

TEST_CASE("tls rejects wrong coordinator host name") {
  TlsConfig server = server_config();
  server.certificate_pem = fleet().wrong_host_coordinator.certificate_pem;
  server.key_pem = fleet().wrong_host_coordinator.key_pem;
  const auto [server_message, client_message] = failed_handshake(server, device_config(fleet().device));
  CHECK_MESSAGE(client_message.find("coordinator certificate was rejected") != std::string::npos, client_message);
  CHECK_MESSAGE(client_message.find("CN") != std::string::npos, client_message);
  CHECK_MESSAGE(server_message.find("rejected the handshake") != std::string::npos, server_message);
}

TEST_CASE("tls rejects wrong psk") {
  const auto [server, client] =
      failed_handshake(server_config(TlsMode::kPsk), psk_device_config("tiny-2", std::string(16, '\x34')));
  CHECK_MESSAGE(server.find("different PSKs") != std::string::npos, server);
  CHECK_MESSAGE(client.find("rejected the handshake") != std::string::npos, client);
}

TEST_CASE("tls rejects unknown psk identity") {
  const auto [server, client] =
      failed_handshake(server_config(TlsMode::kPsk), psk_device_config("stranger", std::string(32, '\x5a')));
  CHECK_MESSAGE(server.find("unknown PSK identity \"stranger\"") != std::string::npos, server);
  CHECK_FALSE(client.empty());
}

TEST_CASE("tls handshake deadline") {
  // The device never sends a byte: the server gives up at the deadline.
  TlsContext context;
  std::string error;
  REQUIRE(context.init(server_config(), &error));
  MemoryPipe pipe;
  TlsStream server;
  REQUIRE(server.start(context, pipe.a(), 0, &error));
  server.tick(1999);
  CHECK_FALSE(server.failed());
  server.tick(2000);
  REQUIRE(server.failed());
  CHECK(std::string(server.error_message()).find("timed out after 2000 ms") != std::string::npos);
}

TEST_CASE("tls idle deadline") {
  PipeSession session(server_config(), device_config(fleet().device));
  session.handshake();
  REQUIRE(session.server_stream.established());
  // Half a record arrives, then nothing.
  const std::uint8_t partial[] = {23, 3, 3, 0, 40, 1, 2, 3};
  std::size_t done = 0;
  REQUIRE(session.pipe.b().write(partial, sizeof partial, &done) == IoStatus::kOk);
  std::uint8_t buffer[64];
  CHECK(session.server_stream.read(buffer, sizeof buffer, &done) == IoStatus::kWouldBlock);
  session.server_stream.tick(session.now + 1999);
  CHECK_FALSE(session.server_stream.failed());
  session.server_stream.tick(session.now + 2000);
  REQUIRE(session.server_stream.failed());
  CHECK(std::string(session.server_stream.error_message()).find("idle") != std::string::npos);
}

// Real sockets: the coordinator side on Asio, the device on the port socket.
TEST_CASE("tls over sockets on loopback") {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t port = acceptor.local_endpoint().port();

  port::Socket socket;
  port::PortStatus connecting = port::socket_connect("127.0.0.1", port, &socket);
  REQUIRE((connecting == port::PortStatus::kOk || connecting == port::PortStatus::kWouldBlock));
  asio::error_code accept_error;
  asio::ip::tcp::socket accepted(io);
  acceptor.accept(accepted, accept_error);
  REQUIRE_FALSE(accept_error);
  if (connecting == port::PortStatus::kWouldBlock) {
    bool readable = false;
    bool writable = false;
    REQUIRE(port::socket_wait(socket, false, true, 2000, &readable, &writable) == port::PortStatus::kOk);
    REQUIRE(port::socket_connect_finish(socket) == port::PortStatus::kOk);
  }

  AsioStream server_lower(std::move(accepted));
  SocketStream client_lower(socket);
  TlsContext server_context;
  TlsContext client_context;
  std::string error;
  REQUIRE(server_context.init(server_config(), &error));
  REQUIRE(client_context.init(device_config(fleet().device), &error));
  TlsStream server;
  TlsStream client;
  REQUIRE(server.start(server_context, server_lower, port::monotonic_ms(), &error));
  REQUIRE(client.start(client_context, client_lower, port::monotonic_ms(), &error));
  for (int round = 0; round < 5000 && !(server.established() && client.established()); ++round) {
    server.tick(port::monotonic_ms());
    client.tick(port::monotonic_ms());
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  REQUIRE(server.established());
  REQUIRE(client.established());
  CHECK(server.peer_id() == "device-7");
  test::StreamPair pair{&client, &server, [] { std::this_thread::sleep_for(std::chrono::microseconds(50)); }};
  const std::vector<std::uint8_t> data = test::pattern(1 << 20, 11);
  CHECK(test::transfer(pair, client, server, data) == data);
  CHECK(test::transfer(pair, server, client, data) == data);
}

}  // namespace
}  // namespace ecq::transport
