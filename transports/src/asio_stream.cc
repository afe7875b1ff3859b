#include "ecq/transport/asio_stream.h"

#include <asio/error.hpp>

namespace ecq::transport {

AsioStream::AsioStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  asio::error_code error;
  socket_.non_blocking(true, error);
  if (!error) {
    socket_.set_option(asio::ip::tcp::no_delay(true), error);
  }
  if (error) {
    error_ = "configuring the socket failed: " + error.message();
  }
}

IoStatus AsioStream::translate(const asio::error_code& error, const char* operation) {
  if (!error) {
    return IoStatus::kOk;
  }
  if (error == asio::error::would_block || error == asio::error::try_again) {
    return IoStatus::kWouldBlock;
  }
  if (error == asio::error::eof || error == asio::error::connection_reset || error == asio::error::broken_pipe ||
      error == asio::error::shut_down) {
    return IoStatus::kClosed;
  }
  error_ = std::string(operation) + " failed: " + error.message();
  return IoStatus::kError;
}

IoStatus AsioStream::read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) {
  *done = 0;
  if (!error_.empty()) {
    return IoStatus::kError;
  }
  if (capacity == 0) {
    return IoStatus::kOk;
  }
  asio::error_code error;
  *done = socket_.read_some(asio::buffer(buffer, capacity), error);
  return translate(error, "receiving");
}

IoStatus AsioStream::write(const std::uint8_t* data, std::size_t size, std::size_t* done) {
  *done = 0;
  if (!error_.empty()) {
    return IoStatus::kError;
  }
  if (size == 0) {
    return IoStatus::kOk;
  }
  asio::error_code error;
  *done = socket_.write_some(asio::buffer(data, size), error);
  return translate(error, "sending");
}

void AsioStream::close() {
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace ecq::transport
