// Connects an ecq device client to a stand-in coordinator inside one process.
// The PSK comes from ecq::pki. TLS 1.2 (ecq::transport) runs over both ends
// of a Unix socket pair, which SocketStream (ecq::transport_socket) reads and
// writes through the POSIX port. The coordinator's end parses the device's
// hello with ecq::protocol. Exits with 0 when the hello of the expected
// device arrives, and with 1 otherwise.

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ecq/pki/psk.h"
#include "ecq/port/clock.h"
#include "ecq/protocol/frame.h"
#include "ecq/protocol/messages.h"
#include "ecq/runtime/device_client.h"
#include "ecq/transport/socket_stream.h"
#include "ecq/transport/tls.h"

namespace {

constexpr char kDeviceId[] = "device-1";

struct PskTable {
  std::string identity;
  std::vector<unsigned char> key;
};

bool find_psk(void* context, const std::string& identity, std::uint8_t* key, std::size_t* key_size) {
  const auto* table = static_cast<const PskTable*>(context);
  if (identity != table->identity) {
    return false;
  }
  std::memcpy(key, table->key.data(), table->key.size());
  *key_size = table->key.size();
  return true;
}

// The device never trains here: it is closed after its hello.
ecq::Status fill_nothing(void*, std::uint32_t, ecq::Span<float>, ecq::Span<float>, ecq::Span<std::int32_t>,
                         std::uint32_t*) {
  return ecq::Status::kInvalidArgument;
}

bool fail(const char* operation, const std::string& message) {
  std::fprintf(stderr, "%s failed: %s\n", operation, message.c_str());
  return false;
}

bool run() {
  PskTable table{kDeviceId, {}};
  std::string error;
  if (!ecq::pki::generate_psk(&table.key, &error)) {
    return fail("generate_psk", error);
  }

  ecq::transport::TlsConfig server_config;
  server_config.role = ecq::transport::TlsRole::kServer;
  server_config.mode = ecq::transport::TlsMode::kPsk;
  server_config.psk_lookup = find_psk;
  server_config.psk_lookup_context = &table;
  ecq::transport::TlsConfig device_config;
  device_config.role = ecq::transport::TlsRole::kClient;
  device_config.mode = ecq::transport::TlsMode::kPsk;
  device_config.psk_identity = kDeviceId;
  device_config.psk.assign(table.key.begin(), table.key.end());
  ecq::transport::TlsContext server_context;
  ecq::transport::TlsContext device_context;
  if (!server_context.init(server_config, &error)) {
    return fail("TlsContext::init (server)", error);
  }
  if (!device_context.init(device_config, &error)) {
    return fail("TlsContext::init (device)", error);
  }

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    return fail("socketpair", std::strerror(errno));
  }
  ecq::transport::SocketStream server_socket(ecq::port::Socket{fds[0]});
  ecq::transport::SocketStream device_socket(ecq::port::Socket{fds[1]});
  ecq::transport::TlsStream server_tls;
  ecq::transport::TlsStream device_tls;
  if (!server_tls.start(server_context, server_socket, ecq::port::monotonic_ms(), &error)) {
    return fail("TlsStream::start (server)", error);
  }
  if (!device_tls.start(device_context, device_socket, ecq::port::monotonic_ms(), &error)) {
    return fail("TlsStream::start (device)", error);
  }

  ecq::DeviceConfig config;
  std::memcpy(config.device_id, kDeviceId, sizeof kDeviceId);
  config.send_device_id = false;  // the PSK identity carries it
  config.shape = ecq::ModelShape{ecq::ModelKind::kSoftmax, 4, 3, 0, true};
  config.storage_prefix[0] = '\0';  // no storage
  std::vector<std::uint8_t> arena(ecq::DeviceClient::required_arena_bytes(config));
  ecq::DataSource data;
  data.fill = fill_nothing;
  ecq::DeviceClient device;
  if (arena.empty() || device.init(config, data, ecq::Span<std::uint8_t>(arena.data(), arena.size())) !=
                           ecq::Status::kOk) {
    return fail("DeviceClient::init", "invalid configuration");
  }

  // One thread drives both ends: the handshake, then the device's hello.
  std::vector<std::uint8_t> frame_buffer(4096);
  ecq::protocol::FrameReader reader;
  if (reader.init(ecq::Span<std::uint8_t>(frame_buffer.data(), frame_buffer.size()), 4000) != ecq::Status::kOk) {
    return fail("FrameReader::init", "buffer too small");
  }
  const std::uint64_t deadline = ecq::port::monotonic_ms() + 10000;
  while (ecq::port::monotonic_ms() < deadline) {
    const std::uint64_t now = ecq::port::monotonic_ms();
    server_tls.tick(now);
    device_tls.tick(now);
    if (server_tls.failed()) {
      return fail("TLS handshake (server)", server_tls.error_message());
    }
    if (device_tls.failed()) {
      return fail("TLS handshake (device)", device_tls.error_message());
    }
    if (!server_tls.established() || !device_tls.established()) {
      continue;
    }
    if (!device.connected() && device.wants_connection(now)) {
      device.on_connected(device_tls, now);
    }
    device.poll(now);

    std::uint8_t bytes[512];
    std::size_t received = 0;
    const ecq::transport::IoStatus status = server_tls.read(bytes, sizeof bytes, &received);
    if (status != ecq::transport::IoStatus::kOk && status != ecq::transport::IoStatus::kWouldBlock) {
      return fail("TlsStream::read (server)", server_tls.error_message());
    }
    std::size_t consumed = 0;
    if (reader.feed(bytes, received, &consumed) != ecq::Status::kOk || consumed != received) {
      return fail("FrameReader::feed", "the reader rejected the device's bytes");
    }
    ecq::protocol::FrameView frame;
    const ecq::Status next = reader.next(&frame);
    if (next == ecq::Status::kTruncatedPayload) {
      continue;
    }
    if (next != ecq::Status::kOk) {
      return fail("FrameReader::next", ecq::status_name(next));
    }
    if (frame.type != static_cast<std::uint8_t>(ecq::protocol::MessageType::kHello)) {
      return fail("the device's first frame", ecq::protocol::message_type_name(frame.type));
    }
    ecq::protocol::Hello hello;
    if (ecq::protocol::decode_hello(frame.body, frame.body_size, &hello) != ecq::Status::kOk) {
      return fail("decode_hello", "invalid hello body");
    }
    std::printf("coordinator end: TLS peer \"%s\", hello with max body size %u, runtime version %u\n",
                server_tls.peer_id().c_str(), hello.max_body_size, hello.runtime_version);
    if (server_tls.peer_id() != kDeviceId) {
      return fail("the PSK identity check", "peer id is \"" + server_tls.peer_id() + "\", expected \"" + kDeviceId + "\"");
    }
    if (hello.max_body_size != config.max_body_size) {
      return fail("the hello check", "max body size " + std::to_string(hello.max_body_size) + ", expected " +
                                         std::to_string(config.max_body_size));
    }
    device.shut_down(ecq::port::monotonic_ms());
    return true;
  }
  return fail("the hello", "it did not arrive within 10 s");
}

}  // namespace

int main() { return run() ? 0 : 1; }
