#pragma once
// A Stream over a connected Asio TCP socket: the coordinator side of TCP.
// The socket is switched to non-blocking mode; every call returns at once and
// reports errors through asio::error_code, never by throwing.

#include <asio/ip/tcp.hpp>
#include <string>

#include "ecq/transport/stream.h"

namespace ecq::transport {

class AsioStream final : public Stream {
 public:
  /// Takes ownership of a connected socket.
  explicit AsioStream(asio::ip::tcp::socket socket);

  IoStatus read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) override;
  IoStatus write(const std::uint8_t* data, std::size_t size, std::size_t* done) override;
  /// Shuts down the sending direction; reading may continue.
  void close() override;
  const char* error_message() const override { return error_.c_str(); }

  asio::ip::tcp::socket& socket() { return socket_; }

 private:
  IoStatus translate(const asio::error_code& error, const char* operation);

  asio::ip::tcp::socket socket_;
  std::string error_;
};

}  // namespace ecq::transport
