#pragma once
// The device-side driver: one TLS connection over the port socket, run on
// the calling thread with socket_wait() between events. A board runs its
// protocol loop around poll(); nothing here allocates after the handshake.

#include <cstdint>
#include <string>

#include "ecq/port/socket.h"
#include "ecq/transport/socket_stream.h"
#include "ecq/transport/tls.h"

namespace ecq::transport {

class DeviceConnection {
 public:
  DeviceConnection() = default;
  DeviceConnection(const DeviceConnection&) = delete;
  DeviceConnection& operator=(const DeviceConnection&) = delete;

  /// Connects to host:port and completes the TLS handshake of `context`
  /// (a client context), waiting at most the context's handshake timeout.
  /// Returns false with a message naming the host, port and cause.
  bool connect(const std::string& host, std::uint16_t port, TlsContext& context, std::string* error);

  /// Waits up to `timeout_ms` for the socket to become readable (or writable
  /// while TLS has bytes to flush), then advances the session. Returns false
  /// once the session has failed; stream().error_message() describes why.
  bool poll(std::uint32_t timeout_ms);

  /// The TLS stream to read and write application bytes.
  TlsStream& stream() { return tls_; }

 private:
  SocketStream socket_{port::Socket{}};
  TlsStream tls_;
};

}  // namespace ecq::transport
