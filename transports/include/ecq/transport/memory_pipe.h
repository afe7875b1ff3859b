#pragma once
// Two connected in-process streams over bounded ring buffers, for tests and
// for drivers that move bytes between a socket and a sans-I/O TLS stream.
// Not thread-safe: one thread drives both ends.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ecq/transport/stream.h"

namespace ecq::transport {

/// Bytes in flight in one direction, at most `capacity` of them.
class ByteQueue {
 public:
  explicit ByteQueue(std::size_t capacity) : buffer_(capacity) {}
  std::size_t push(const std::uint8_t* data, std::size_t size);
  std::size_t pop(std::uint8_t* out, std::size_t size);
  std::size_t size() const { return size_; }
  std::size_t space() const { return buffer_.size() - size_; }
  bool closed() const { return closed_; }
  void close() { closed_ = true; }

 private:
  std::vector<std::uint8_t> buffer_;
  std::size_t head_ = 0;  // index of the oldest byte
  std::size_t size_ = 0;
  bool closed_ = false;
};

/// One end of a MemoryPipe.
class PipeEnd final : public Stream {
 public:
  PipeEnd(ByteQueue* incoming, ByteQueue* outgoing) : incoming_(incoming), outgoing_(outgoing) {}
  IoStatus read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) override;
  IoStatus write(const std::uint8_t* data, std::size_t size, std::size_t* done) override;
  void close() override { outgoing_->close(); }
  const char* error_message() const override { return ""; }

 private:
  ByteQueue* incoming_;
  ByteQueue* outgoing_;
};

/// A connected pair of streams: bytes written to `a()` are read from `b()`
/// and the reverse. Each direction buffers up to `capacity` bytes.
class MemoryPipe {
 public:
  explicit MemoryPipe(std::size_t capacity = 64 * 1024)
      : a_to_b_(capacity), b_to_a_(capacity), a_(&b_to_a_, &a_to_b_), b_(&a_to_b_, &b_to_a_) {}
  MemoryPipe(const MemoryPipe&) = delete;
  MemoryPipe& operator=(const MemoryPipe&) = delete;
  PipeEnd& a() { return a_; }
  PipeEnd& b() { return b_; }

 private:
  ByteQueue a_to_b_;
  ByteQueue b_to_a_;
  PipeEnd a_;
  PipeEnd b_;
};

}  // namespace ecq::transport
