// The Asio side over real sockets on 127.0.0.1: TLS rounds with
// credentials from an ecq-pki CA directory, the revocation reload, plain
// TCP and the metrics responder. The server runs on its own thread; the
// scripted devices run on the test's thread.

#include <doctest/doctest.h>

#include <asio/connect.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstring>
#include <ctime>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ecq/coordinator/server.h"
#include "ecq/pki/ca_directory.h"
#include "ecq/pki/coordinator_tls.h"
#include "ecq/pki/psk.h"
#include "ecq/port/clock.h"
#include "ecq/port/socket.h"
#include "ecq/protocol/chunks.h"
#include "ecq/transport/device_connection.h"
#include "ecq/transport/socket_stream.h"
#include "log_capture.h"
#include "scripted_device.h"
#include "temp_dir.h"

namespace ecq::coordinator {
namespace {

using protocol::MessageType;

constexpr std::uint32_t kInputs = 4;

// A device speaking the protocol over any stream, polled by `poll`.
class WireDevice {
 public:
  WireDevice(transport::Stream& stream, std::function<bool(std::uint32_t)> poll)
      : stream_(stream), poll_(std::move(poll)), buffer_(64 * 1024 + 16) {
    REQUIRE(reader_.init({buffer_.data(), buffer_.size()}, 64 * 1024) == Status::kOk);
  }

  void send(MessageType type, const std::uint8_t* body, std::size_t size) {
    std::vector<std::uint8_t> frame(size + protocol::kFrameOverheadBytes);
    std::size_t frame_size = 0;
    REQUIRE(protocol::encode_frame(std::uint8_t(type), body, size, frame.data(), frame.size(), &frame_size) ==
            Status::kOk);
    std::size_t sent = 0;
    for (int attempt = 0; attempt < 500 && sent < frame_size; ++attempt) {
      std::size_t done = 0;
      const transport::IoStatus status = stream_.write(frame.data() + sent, frame_size - sent, &done);
      REQUIRE((status == transport::IoStatus::kOk || status == transport::IoStatus::kWouldBlock));
      sent += done;
      if (sent < frame_size) {
        REQUIRE(poll_(10));
      }
    }
    REQUIRE(sent == frame_size);
    poll_(0);
  }

  void hello(const std::string& id) {
    protocol::Hello hello;
    hello.model_kinds = 0x0F;
    hello.methods = 0x0F;
    hello.max_body_size = 64 * 1024;
    std::memcpy(hello.device_id, id.data(), id.size());
    hello.device_id_size = std::uint8_t(id.size());
    std::uint8_t body[128];
    std::size_t size = 0;
    REQUIRE(protocol::encode_hello(hello, body, sizeof body, &size) == Status::kOk);
    send(MessageType::kHello, body, size);
  }

  void check_in() {
    std::uint8_t body[8];
    std::size_t size = 0;
    REQUIRE(protocol::encode_check_in(protocol::CheckIn{0}, body, sizeof body, &size) == Status::kOk);
    send(MessageType::kCheckIn, body, size);
  }

  void upload(std::uint32_t round, std::uint64_t update, const std::vector<std::uint8_t>& payload) {
    std::vector<std::uint8_t> body(4096);
    const std::uint32_t count = protocol::update_chunk_count(payload.size(), body.size());
    for (std::uint32_t index = 0; index < count; ++index) {
      protocol::UpdateChunk chunk;
      REQUIRE(protocol::make_update_chunk(round, update, 8, {payload.data(), payload.size()}, body.size(), index,
                                          &chunk) == Status::kOk);
      std::size_t size = 0;
      REQUIRE(protocol::encode_update_chunk(chunk, body.data(), body.size(), &size) == Status::kOk);
      send(MessageType::kUpdateChunk, body.data(), size);
    }
  }

  // Polls until a frame of `type` arrives and returns its body; fails the
  // test after 200 polls of up to 50 ms without one.
  std::vector<std::uint8_t> wait_for(MessageType type) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
        if (it->type == type) {
          std::vector<std::uint8_t> body = it->body;
          inbox_.erase(inbox_.begin(), it + 1);
          return body;
        }
      }
      if (!poll_(50)) {
        break;
      }
      read_available();
    }
    FAIL("no " << protocol::message_type_name(std::uint8_t(type)) << " arrived");
    return {};
  }

  // Polls until the stream reports closed or failed, up to about 10 s.
  bool wait_closed() {
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (!poll_(50)) {
        return true;
      }
      if (read_available()) {
        return true;
      }
    }
    return false;
  }

 private:
  // Reads everything available; returns true once the stream has ended.
  bool read_available() {
    std::uint8_t chunk[8192];
    for (;;) {
      std::size_t done = 0;
      const transport::IoStatus status = stream_.read(chunk, sizeof chunk, &done);
      if (status == transport::IoStatus::kClosed || status == transport::IoStatus::kError) {
        return true;
      }
      if (status != transport::IoStatus::kOk || done == 0) {
        return false;
      }
      std::size_t offset = 0;
      while (offset < done) {
        std::size_t consumed = 0;
        REQUIRE(reader_.feed(chunk + offset, done - offset, &consumed) == Status::kOk);
        offset += consumed;
        protocol::FrameView frame;
        while (reader_.next(&frame) == Status::kOk) {
          inbox_.push_back(test::Received{MessageType(frame.type),
                                          std::vector<std::uint8_t>(frame.body, frame.body + frame.body_size)});
        }
      }
    }
  }

  transport::Stream& stream_;
  std::function<bool(std::uint32_t)> poll_;
  std::vector<std::uint8_t> buffer_;
  protocol::FrameReader reader_;
  std::vector<test::Received> inbox_;
};

// An engine and a Server on their own io_context thread.
struct RunningServer {
  RunningServer(EngineConfig config, ServerConfig server_config, pki::CoordinatorTls* tls) {
    std::string error;
    REQUIRE_MESSAGE(engine.init(config, port::monotonic_ms(), &error), error);
    REQUIRE_MESSAGE(server.start(server_config, tls, nullptr, &error), error);
    thread = std::thread([this] { io.run(); });
  }
  ~RunningServer() {
    asio::post(io, [this] { server.stop(); });
    io.stop();
    thread.join();
  }

  // Runs `function` on the server's thread and returns its result.
  template <typename Function>
  auto on_server(Function function) -> decltype(function()) {
    std::packaged_task<decltype(function())()> task(function);
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    return result.get();
  }

  Engine engine;
  asio::io_context io;
  Server server{io, engine};
  std::thread thread;
};

EngineConfig fp32_config(std::uint32_t devices) {
  EngineConfig config = test::small_config(kInputs, devices);
  config.round_deadline_ms = 20000;
  return config;
}

// A CA directory with a coordinator certificate for "localhost" and devices.
struct CaFixture {
  CaFixture() : directory(temp.path("ca")) {
    std::string error;
    pki::Credential ca;
    pki::Credential coordinator;
    const pki::Validity year = pki::validity_for_days(365, std::time(nullptr));
    REQUIRE_MESSAGE(directory.init("ecq coordinator test CA", year, &ca, &error), error);
    REQUIRE_MESSAGE(directory.issue_coordinator("coordinator", {"localhost"}, year, &coordinator, &error), error);
    for (const char* id : {"dev-1", "dev-2", "dev-3"}) {
      pki::Credential device;
      REQUIRE_MESSAGE(directory.issue_device(id, year, &device, &error), error);
      devices[id] = device;
    }
    REQUIRE_MESSAGE(tls.init(pki::coordinator_tls_files(directory.path()), transport::TlsMode::kCertificate, &error),
                    error);
    tls.config().handshake_timeout_ms = 5000;
  }

  transport::TlsConfig device_config(const std::string& id) {
    transport::TlsConfig config;
    config.role = transport::TlsRole::kClient;
    config.ca_pem = tls.config().ca_pem;
    config.certificate_pem = devices[id].certificate_pem;
    config.key_pem = devices[id].key_pem;
    config.server_name = "localhost";
    return config;
  }

  ecq::test::TempDir temp{"ecq-coordinator-tls"};
  pki::CaDirectory directory;
  std::map<std::string, pki::Credential> devices;
  pki::CoordinatorTls tls;
};

// A TLS device: its own client context and connection.
struct TlsDevice {
  TlsDevice(CaFixture& ca, const std::string& id, std::uint16_t port) {
    std::string error;
    REQUIRE_MESSAGE(context.init(ca.device_config(id), &error), error);
    REQUIRE_MESSAGE(connection.connect("127.0.0.1", port, context, &error), error);
    wire = std::make_unique<WireDevice>(connection.stream(),
                                        [this](std::uint32_t timeout) { return connection.poll(timeout); });
  }
  transport::TlsContext context;
  transport::DeviceConnection connection;
  std::unique_ptr<WireDevice> wire;
};

TEST_CASE("tls round end to end") {
  CaFixture ca;
  ServerConfig server_config;
  server_config.listen = Endpoint{"127.0.0.1", 0};
  RunningServer running(fp32_config(2), server_config, &ca.tls);
  const std::uint16_t port = running.on_server([&] { return running.server.port(); });

  TlsDevice first(ca, "dev-1", port);
  TlsDevice second(ca, "dev-2", port);
  for (TlsDevice* device : {&first, &second}) {
    device->wire->hello("");  // the id comes from the certificate
    device->wire->check_in();
  }
  std::vector<float> values(kInputs + 1, 0.5f);
  for (TlsDevice* device : {&first, &second}) {
    const std::vector<std::uint8_t> body = device->wire->wait_for(MessageType::kRoundOffer);
    protocol::RoundOffer offer;
    REQUIRE(protocol::decode_round_offer(body.data(), body.size(), &offer) == Status::kOk);
    CHECK(offer.round_id == 1);
    device->wire->wait_for(MessageType::kModelChunk);
    device->wire->upload(offer.round_id, 77, test::fp32_payload(values));
  }
  for (TlsDevice* device : {&first, &second}) {
    const std::vector<std::uint8_t> body = device->wire->wait_for(MessageType::kVerdict);
    protocol::Verdict verdict;
    REQUIRE(protocol::decode_verdict(body.data(), body.size(), &verdict) == Status::kOk);
    CHECK(verdict.applied);
  }
  const Counters counters = running.on_server([&] { return running.engine.counters(); });
  CHECK(counters.rounds_applied == 1);
  CHECK(counters.devices_authenticated == 2);
  CHECK(counters.devices_unauthenticated == 0);
  CHECK(running.on_server([&] { return running.engine.update_state("dev-1", 1, 77); }) ==
        protocol::UpdateState::kApplied);
}

TEST_CASE("revocation reload closes the live connection") {
  test::LogCapture logs;
  CaFixture ca;
  ServerConfig server_config;
  server_config.listen = Endpoint{"127.0.0.1", 0};
  RunningServer running(fp32_config(3), server_config, &ca.tls);
  const std::uint16_t port = running.on_server([&] { return running.server.port(); });

  TlsDevice revoked(ca, "dev-3", port);
  TlsDevice kept(ca, "dev-1", port);
  revoked.wire->hello("");
  kept.wire->hello("");
  revoked.wire->check_in();
  kept.wire->check_in();
  std::string error;
  std::vector<pki::RevocationEntry> added;
  REQUIRE_MESSAGE(ca.directory.revoke_device("dev-3", &added, &error), error);
  REQUIRE(added.size() == 1);

  CHECK(running.on_server([&] { return running.server.reload_revocations(); }) == 1);
  CHECK(revoked.wire->wait_closed());
  CHECK(running.on_server([&] { return running.engine.counters().devices_authenticated; }) == 1);
  CHECK(running.on_server([&] { return logs.contains("device dev-3: certificate"); }));
  CHECK(running.on_server([&] { return logs.contains("is now revoked"); }));

  // A new handshake with the revoked certificate fails.
  transport::TlsContext context;
  REQUIRE(context.init(ca.device_config("dev-3"), &error));
  transport::DeviceConnection again;
  CHECK_FALSE(again.connect("127.0.0.1", port, context, &error));
}

TEST_CASE("plaintext mode marks ids unauthenticated") {
  test::LogCapture logs;
  ServerConfig server_config;
  server_config.listen = Endpoint{"127.0.0.1", 0};
  server_config.plaintext = true;
  RunningServer running(fp32_config(1), server_config, nullptr);
  const std::uint16_t port = running.on_server([&] { return running.server.port(); });

  port::Socket socket;
  const port::PortStatus status = port::socket_connect("127.0.0.1", port, &socket);
  REQUIRE((status == port::PortStatus::kOk || status == port::PortStatus::kWouldBlock));
  transport::SocketStream stream(socket);
  auto poll = [&stream](std::uint32_t timeout) {
    bool readable = false;
    bool writable = false;
    return port::socket_wait(stream.socket(), true, false, timeout, &readable, &writable) == port::PortStatus::kOk;
  };
  if (status == port::PortStatus::kWouldBlock) {
    bool readable = false;
    bool writable = false;
    REQUIRE(port::socket_wait(socket, false, true, 2000, &readable, &writable) == port::PortStatus::kOk);
    REQUIRE(port::socket_connect_finish(socket) == port::PortStatus::kOk);
  }
  WireDevice device(stream, poll);
  device.hello("plain-7");
  device.check_in();
  device.wait_for(MessageType::kRoundOffer);
  device.upload(1, 5, test::fp32_payload(std::vector<float>(kInputs + 1, 1.0f)));
  device.wait_for(MessageType::kVerdict);
  const Counters counters = running.on_server([&] { return running.engine.counters(); });
  CHECK(counters.devices_unauthenticated == 1);
  CHECK(counters.devices_authenticated == 0);
  CHECK(running.on_server([&] { return running.engine.update_state("plain-7", 1, 5); }) ==
        protocol::UpdateState::kApplied);
  CHECK(running.on_server([&] { return logs.contains("unencrypted"); }));
  CHECK(running.on_server([&] { return logs.contains("plain-7 (unauthenticated)"); }));
}

TEST_CASE("psk listener takes the id from the psk identity") {
  CaFixture ca;
  std::string error;
  REQUIRE_MESSAGE(ca.directory.make_psk("tiny-1", &error), error);
  pki::CoordinatorTls psk_tls;
  REQUIRE_MESSAGE(psk_tls.init(pki::coordinator_tls_files(ca.directory.path()), transport::TlsMode::kPsk, &error),
                  error);
  ServerConfig server_config;
  server_config.listen = Endpoint{"127.0.0.1", 0};
  server_config.psk_listen = Endpoint{"127.0.0.1", 0};
  Engine engine;
  REQUIRE(engine.init(fp32_config(1), port::monotonic_ms(), &error));
  asio::io_context io;
  Server server(io, engine);
  REQUIRE_MESSAGE(server.start(server_config, &ca.tls, &psk_tls, &error), error);
  const std::uint16_t psk_port = server.psk_port();
  REQUIRE(psk_port != 0);
  std::thread thread([&io] { io.run(); });

  std::vector<unsigned char> key;
  REQUIRE(pki::read_psk_file(ca.directory.psk_path("tiny-1"), &key, &error));
  transport::TlsConfig config;
  config.role = transport::TlsRole::kClient;
  config.mode = transport::TlsMode::kPsk;
  config.psk_identity = "tiny-1";
  config.psk.assign(key.begin(), key.end());
  transport::TlsContext context;
  REQUIRE_MESSAGE(context.init(config, &error), error);
  transport::DeviceConnection connection;
  REQUIRE_MESSAGE(connection.connect("127.0.0.1", psk_port, context, &error), error);
  WireDevice device(connection.stream(), [&connection](std::uint32_t timeout) { return connection.poll(timeout); });
  device.hello("");
  device.check_in();
  device.wait_for(MessageType::kRoundOffer);
  device.upload(1, 3, test::fp32_payload(std::vector<float>(kInputs + 1, 0.25f)));
  device.wait_for(MessageType::kVerdict);

  std::packaged_task<protocol::UpdateState()> query([&] { return engine.update_state("tiny-1", 1, 3); });
  auto state = query.get_future();
  asio::post(io, [&query] { query(); });
  CHECK(state.get() == protocol::UpdateState::kApplied);

  // An identity without a key file fails the handshake.
  config.psk_identity = "tiny-2";
  transport::TlsContext unknown_context;
  REQUIRE(unknown_context.init(config, &error));
  transport::DeviceConnection unknown;
  CHECK_FALSE(unknown.connect("127.0.0.1", psk_port, unknown_context, &error));

  asio::post(io, [&server] { server.stop(); });
  io.stop();
  thread.join();
}

// Sends one HTTP request to 127.0.0.1:port and returns the whole response.
std::string http_get(std::uint16_t port, const std::string& path) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::error_code code;
  socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), code);
  REQUIRE_MESSAGE(!code, code.message());
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  asio::write(socket, asio::buffer(request), code);
  REQUIRE(!code);
  std::string response;
  asio::read(socket, asio::dynamic_buffer(response), code);
  CHECK(code == asio::error::eof);
  return response;
}

TEST_CASE("metrics GET returns the counters") {
  ServerConfig server_config;
  server_config.listen = Endpoint{"127.0.0.1", 0};
  server_config.plaintext = true;
  server_config.metrics = Endpoint{"127.0.0.1", 0};
  RunningServer running(fp32_config(1), server_config, nullptr);
  const std::uint16_t metrics_port = running.on_server([&] { return running.server.metrics_port(); });
  REQUIRE(metrics_port != 0);
  const std::string response = http_get(metrics_port, "/metrics");
  CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(response.find("text/plain; version=0.0.4") != std::string::npos);
  CHECK(response.find("# TYPE ecq_rounds_started_total counter\necq_rounds_started_total 0\n") != std::string::npos);
  CHECK(response.find("ecq_updates_rejected_total{reason=\"late\"} 0") != std::string::npos);
  CHECK(response.find("ecq_devices_connected{auth=\"false\"} 0") != std::string::npos);
  CHECK(response.find("ecq_model_bytes_sent_total") != std::string::npos);
  CHECK(http_get(metrics_port, "/other").rfind("HTTP/1.1 404", 0) == 0);
}

TEST_CASE("endpoint parsing names the flag") {
  Endpoint endpoint;
  std::string error;
  CHECK(parse_endpoint("127.0.0.1:0", "--listen", &endpoint, &error));
  CHECK(endpoint.port == 0);
  CHECK(parse_endpoint("[::1]:7443", "--listen", &endpoint, &error));
  CHECK(endpoint.address == "::1");
  CHECK_FALSE(parse_endpoint("localhost:7443", "--listen", &endpoint, &error));
  CHECK(error.find("--listen \"localhost:7443\"") != std::string::npos);
  CHECK_FALSE(parse_endpoint("127.0.0.1:70000", "--metrics-listen", &endpoint, &error));
}

}  // namespace
}  // namespace ecq::coordinator
