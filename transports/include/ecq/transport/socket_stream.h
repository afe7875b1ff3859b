#pragma once
// A Stream over a connected non-blocking port socket (ecq/port/socket.h):
// the device side of TCP.

#include "ecq/port/socket.h"
#include "ecq/transport/stream.h"

namespace ecq::transport {

class SocketStream final : public Stream {
 public:
  /// Takes ownership of a connected socket; the destructor closes it.
  explicit SocketStream(port::Socket socket) : socket_(socket) {}
  ~SocketStream() { port::socket_close(&socket_); }

  IoStatus read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) override;
  IoStatus write(const std::uint8_t* data, std::size_t size, std::size_t* done) override;
  /// Closes the socket in both directions: the port has no half-close.
  void close() override { port::socket_close(&socket_); }
  const char* error_message() const override { return error_; }

  port::Socket socket() const { return socket_; }

  /// Closes the current socket, if any, and takes ownership of `socket`.
  void reset(port::Socket socket) {
    port::socket_close(&socket_);
    socket_ = socket;
    error_ = "";
  }

 private:
  IoStatus translate(port::PortStatus status, const char* operation);

  port::Socket socket_;
  const char* error_ = "";
};

}  // namespace ecq::transport
