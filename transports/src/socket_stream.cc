#include "ecq/transport/socket_stream.h"

namespace ecq::transport {

IoStatus SocketStream::translate(port::PortStatus status, const char* operation) {
  switch (status) {
    case port::PortStatus::kOk: return IoStatus::kOk;
    case port::PortStatus::kWouldBlock: return IoStatus::kWouldBlock;
    case port::PortStatus::kClosed: return IoStatus::kClosed;
    default: error_ = operation; return IoStatus::kError;
  }
}

IoStatus SocketStream::read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) {
  *done = 0;
  if (socket_.handle < 0) {
    return IoStatus::kClosed;
  }
  if (capacity == 0) {
    return IoStatus::kOk;
  }
  return translate(port::socket_receive(socket_, buffer, capacity, done), "receiving from the socket failed");
}

IoStatus SocketStream::write(const std::uint8_t* data, std::size_t size, std::size_t* done) {
  *done = 0;
  if (socket_.handle < 0) {
    return IoStatus::kClosed;
  }
  if (size == 0) {
    return IoStatus::kOk;
  }
  return translate(port::socket_send(socket_, data, size, done), "sending on the socket failed");
}

}  // namespace ecq::transport
