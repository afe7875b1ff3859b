#include "ecq/transport/memory_pipe.h"

#include <algorithm>
#include <cstring>

namespace ecq::transport {

const char* io_status_name(IoStatus status) {
  switch (status) {
    case IoStatus::kOk: return "ok";
    case IoStatus::kWouldBlock: return "would block";
    case IoStatus::kClosed: return "closed";
    case IoStatus::kError: return "error";
  }
  return "unknown";
}

std::size_t ByteQueue::push(const std::uint8_t* data, std::size_t size) {
  const std::size_t count = std::min(size, space());
  for (std::size_t copied = 0; copied < count;) {
    const std::size_t tail = (head_ + size_) % buffer_.size();
    const std::size_t chunk = std::min(count - copied, buffer_.size() - tail);
    std::memcpy(buffer_.data() + tail, data + copied, chunk);
    copied += chunk;
    size_ += chunk;
  }
  return count;
}

std::size_t ByteQueue::pop(std::uint8_t* out, std::size_t size) {
  const std::size_t count = std::min(size, size_);
  for (std::size_t copied = 0; copied < count;) {
    const std::size_t chunk = std::min(count - copied, buffer_.size() - head_);
    std::memcpy(out + copied, buffer_.data() + head_, chunk);
    copied += chunk;
    head_ = (head_ + chunk) % buffer_.size();
    size_ -= chunk;
  }
  return count;
}

IoStatus PipeEnd::read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) {
  *done = 0;
  if (capacity == 0) {
    return IoStatus::kOk;
  }
  *done = incoming_->pop(buffer, capacity);
  if (*done > 0) {
    return IoStatus::kOk;
  }
  return incoming_->closed() ? IoStatus::kClosed : IoStatus::kWouldBlock;
}

IoStatus PipeEnd::write(const std::uint8_t* data, std::size_t size, std::size_t* done) {
  *done = 0;
  if (outgoing_->closed()) {
    return IoStatus::kClosed;
  }
  if (size == 0) {
    return IoStatus::kOk;
  }
  *done = outgoing_->push(data, size);
  return *done > 0 ? IoStatus::kOk : IoStatus::kWouldBlock;
}

}  // namespace ecq::transport
