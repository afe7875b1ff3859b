#include "drop_stream.h"

#include <algorithm>
#include <cstring>

#include "ecq/protocol/frame.h"
#include "ecq/protocol/messages.h"

namespace ecq::sim {

using transport::IoStatus;

void DropStream::attach(transport::Stream* lower) {
  lower_ = lower;
  header_fill_ = 0;
  frame_left_ = 0;
  until_cut_ = 0;
  cutting_ = false;
  armed_ = false;
  dropped_ = false;
}

IoStatus DropStream::read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) {
  *done = 0;
  if (dropped_) return IoStatus::kError;
  return lower_->read(buffer, capacity, done);
}

IoStatus DropStream::forward(const std::uint8_t* data, std::size_t size, std::size_t* done) {
  std::size_t allowed = size;
  if (cutting_) allowed = static_cast<std::size_t>(std::min<std::uint64_t>(size, until_cut_));
  *done = 0;
  IoStatus status = IoStatus::kOk;
  if (allowed > 0) status = lower_->write(data, allowed, done);
  if (cutting_) {
    until_cut_ -= *done;
    if (until_cut_ == 0) {
      dropped_ = true;
      // Report the whole request as written: the device believes the bytes
      // left, as it would before its link went down.
      *done = size;
    }
  }
  return status;
}

IoStatus DropStream::write(const std::uint8_t* data, std::size_t size, std::size_t* done) {
  *done = 0;
  if (dropped_) return IoStatus::kError;
  while (*done < size && !dropped_) {
    const std::uint8_t* segment = data + *done;
    const std::size_t left = size - *done;
    std::size_t moved = 0;
    IoStatus status;
    if (frame_left_ == 0) {
      // Inside a frame header: copy what passes so the type and size are known.
      const std::size_t take = std::min(left, sizeof(header_) - header_fill_);
      status = forward(segment, take, &moved);
      const std::size_t copied = std::min(moved, take);
      std::memcpy(header_ + header_fill_, segment, copied);
      header_fill_ += copied;
      if (header_fill_ == sizeof(header_)) {
        const std::uint64_t body = static_cast<std::uint64_t>(header_[8]) | static_cast<std::uint64_t>(header_[9]) << 8 |
                                   static_cast<std::uint64_t>(header_[10]) << 16 |
                                   static_cast<std::uint64_t>(header_[11]) << 24;
        frame_left_ = body + protocol::kFrameChecksumBytes;
        header_fill_ = 0;
        if (armed_ && header_[5] == static_cast<std::uint8_t>(protocol::MessageType::kUpdateChunk)) {
          armed_ = false;
          cutting_ = true;
          until_cut_ = (protocol::kFrameHeaderBytes + frame_left_) / 2 - protocol::kFrameHeaderBytes + 1;
        }
      }
    } else {
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(left, frame_left_));
      status = forward(segment, take, &moved);
      frame_left_ -= std::min<std::uint64_t>(moved, take);
    }
    *done += moved;
    if (status != IoStatus::kOk || moved == 0) {
      return *done > 0 ? IoStatus::kOk : status;
    }
  }
  if (dropped_) *done = size;
  return IoStatus::kOk;
}

void DropStream::close() {
  if (!dropped_) lower_->close();
}

const char* DropStream::error_message() const {
  return dropped_ ? "connection dropped mid-upload by the simulation schedule" : lower_->error_message();
}

}  // namespace ecq::sim
