#pragma once
// A Stream wrapper that makes a simulated device vanish in the middle of an
// upload: once armed, it forwards the first half of the next update-chunk
// frame the device writes and then fails, so the coordinator receives a
// truncated update followed by the end of the connection.

#include <cstddef>
#include <cstdint>

#include "ecq/transport/stream.h"

namespace ecq::sim {

class DropStream final : public transport::Stream {
 public:
  DropStream() = default;

  /// Starts forwarding to `lower`, which must outlive the use of this stream,
  /// and clears any earlier cut.
  void attach(transport::Stream* lower);

  /// Cuts the next update-chunk frame in half.
  void arm() { armed_ = true; }
  /// Takes back an arm() whose cut has not happened yet.
  void disarm() { armed_ = false; }
  bool armed() const { return armed_; }
  /// True once the cut has happened; the driver then closes the connection.
  bool dropped() const { return dropped_; }

  transport::IoStatus read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) override;
  transport::IoStatus write(const std::uint8_t* data, std::size_t size, std::size_t* done) override;
  void close() override;
  const char* error_message() const override;

 private:
  // Forwards up to `size` bytes, stopping at the cut; returns the status of
  // the lower write and stores the bytes it took in *done.
  transport::IoStatus forward(const std::uint8_t* data, std::size_t size, std::size_t* done);

  transport::Stream* lower_ = nullptr;
  std::uint8_t header_[12] = {};
  std::size_t header_fill_ = 0;
  std::uint64_t frame_left_ = 0;     // body and checksum bytes left in the current frame
  std::uint64_t until_cut_ = 0;      // bytes to forward before the cut, when cutting_
  bool cutting_ = false;
  bool armed_ = false;
  bool dropped_ = false;
};

}  // namespace ecq::sim
