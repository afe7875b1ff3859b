#include "ecq/coordinator/in_process.h"

#include <algorithm>

namespace ecq::coordinator {

transport::IoStatus write_queued(std::deque<std::uint8_t>* queue, transport::Stream& stream) {
  std::uint8_t chunk[16384];
  while (!queue->empty()) {
    const std::size_t count = std::min(queue->size(), sizeof chunk);
    std::copy(queue->begin(), queue->begin() + static_cast<std::ptrdiff_t>(count), chunk);
    std::size_t done = 0;
    const transport::IoStatus status = stream.write(chunk, count, &done);
    if (status != transport::IoStatus::kOk) {
      return status;
    }
    if (done == 0) {
      return transport::IoStatus::kWouldBlock;
    }
    queue->erase(queue->begin(), queue->begin() + static_cast<std::ptrdiff_t>(done));
  }
  return transport::IoStatus::kOk;
}

void StreamSession::open(std::uint64_t now_ms, const std::string& authenticated_id, bool authenticated) {
  id_ = engine_.open_session(authenticated_id, authenticated, this, now_ms);
}

void StreamSession::send(const std::uint8_t* data, std::size_t size) {
  if (closed_ || closing_) {
    return;
  }
  queue_.insert(queue_.end(), data, data + size);
  flush();
}

void StreamSession::close() {
  closing_ = true;
  flush();
}

void StreamSession::flush() {
  if (!closed_) {
    (void)write_queued(&queue_, stream_);
  }
  if (closing_ && queue_.empty() && !closed_) {
    closed_ = true;
    stream_.close();
  }
}

bool StreamSession::pump(std::uint64_t now_ms) {
  flush();
  const transport::IoStatus status =
      read_into_engine(engine_, id_, stream_, now_ms, [this] { return !closed_ && !closing_; });
  if (status == transport::IoStatus::kClosed || status == transport::IoStatus::kError) {
    closed_ = true;
    engine_.close_session(id_, end_of_stream_reason(status, stream_), now_ms);
  }
  flush();
  return !closed_;
}

}  // namespace ecq::coordinator
