#pragma once
// Frames of the ecq wire protocol between a device and the coordinator. Every
// message travels in one frame, all integers little-endian:
//
//   offset  size  field
//   0       4     magic "ECQF" (bytes 45 43 51 46)
//   4       1     protocol version, 1
//   5       1     message type (see messages.h; not checked at this layer)
//   6       2     flags, 0 (reserved: any other value is rejected)
//   8       4     body size N, at most the receiver's maximum body size
//   12      N     body
//   12+N    4     CRC-32C of bytes [0, 12 + N)
//
// docs/protocol.md describes the frame and every message body.

#include <cstddef>
#include <cstdint>

#include "ecq/runtime/span.h"
#include "ecq/runtime/status.h"

namespace ecq::protocol {

constexpr std::uint8_t kFrameMagic[4] = {'E', 'C', 'Q', 'F'};
/// The protocol version this build writes.
constexpr std::uint8_t kProtocolVersion = 1;
/// The range of protocol versions this build reads.
constexpr std::uint8_t kMinProtocolVersion = 1;
constexpr std::uint8_t kMaxProtocolVersion = 1;
constexpr std::size_t kFrameHeaderBytes = 12;
constexpr std::size_t kFrameChecksumBytes = 4;
/// Bytes a frame adds around its body.
constexpr std::size_t kFrameOverheadBytes = kFrameHeaderBytes + kFrameChecksumBytes;

/// Writes one frame carrying `body` (body_size bytes; `body` may be null when
/// body_size is 0) to out[0..*size). The body may overlap `out`; a body
/// already at out + kFrameHeaderBytes is framed in place without a copy. Fails with kBufferTooSmall when
/// `capacity` is below body_size + kFrameOverheadBytes (found = capacity,
/// limit = the required size) and with kOversizedPayload when body_size does
/// not fit the 32-bit size field. Writes nothing on failure.
[[nodiscard]] Status encode_frame(std::uint8_t type, const std::uint8_t* body, std::size_t body_size,
                                  std::uint8_t* out, std::size_t capacity, std::size_t* size,
                                  ErrorInfo* error = nullptr);

/// A validated frame inside a FrameReader's buffer.
struct FrameView {
  std::uint8_t type = 0;
  const std::uint8_t* body = nullptr;
  std::uint32_t body_size = 0;
};

/// Cuts a byte stream into validated frames, using only a caller-given
/// buffer. Typical use, per received chunk of bytes:
///
///   reader.feed(data, size, &consumed);   // keep data[consumed..) for later
///   while ((status = reader.next(&frame)) == Status::kOk) { handle(frame); }
///   if (status != Status::kTruncatedPayload) { close the connection; }
///
/// next() returns Status::kTruncatedPayload to mean "no complete frame yet,
/// feed more bytes"; that is the only status that is not an error.
///
/// Errors, each with its own status and details in last_error() (position =
/// the stream offset of the offending field):
///   kBadMagic            found = first 4 bytes as a little-endian u32, limit = "ECQF" likewise
///   kUnsupportedVersion  found = the version, limit = kMaxProtocolVersion
///   kBadHeaderField      non-zero flags; found = the flags, limit = 0
///   kOversizedPayload    found = the declared body size, limit = the maximum;
///                        reported from the 12 header bytes alone, before any body byte arrives
///   kChecksumMismatch    found = the CRC-32C in the frame, limit = the computed one
/// Each header field is checked as soon as its bytes are present. After an
/// error the reader stays failed: feed() and next() return the same status
/// until init() is called again, because the stream position of the next
/// frame is unknown and the connection is to be closed.
class FrameReader {
 public:
  FrameReader() = default;
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  /// Resets the reader to use `buffer`, which must stay valid and otherwise
  /// unused for the life of this object. The largest accepted body is
  /// min(max_body_size, buffer.size() - kFrameOverheadBytes). Fails with
  /// kBufferTooSmall when the buffer is shorter than kFrameOverheadBytes.
  [[nodiscard]] Status init(Span<std::uint8_t> buffer, std::uint32_t max_body_size);

  /// Copies as many of data[0..size) as the buffer has room for and sets
  /// *consumed to their number, which is below `size` only when the buffer is
  /// full: call next() and feed the rest again. Returns kOk, kNotInitialized,
  /// or the error of a failed reader (then *consumed = 0). Invalidates the
  /// FrameView of the last next().
  [[nodiscard]] Status feed(const std::uint8_t* data, std::size_t size, std::size_t* consumed);

  /// Returns kOk and fills `frame` when a complete, valid frame is buffered.
  /// frame->body points into the reader's buffer and stays valid until the
  /// next call to feed() or next(). Returns kTruncatedPayload when more bytes
  /// are needed, or an error (see the class comment).
  [[nodiscard]] Status next(FrameView* frame);

  /// The largest body init() accepted.
  std::uint32_t max_body_size() const { return max_body_size_; }
  /// True after an error; only init() clears it.
  bool failed() const { return failure_ != Status::kOk; }
  const ErrorInfo& last_error() const { return last_error_; }

 private:
  Status fail(Status status, std::uint64_t position, double found, double limit, const char* subject);
  Status check_header();
  void compact();

  std::uint8_t* buffer_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t start_ = 0;        // first byte of the frame being read
  std::size_t end_ = 0;          // one past the last buffered byte
  std::size_t handed_out_ = 0;   // bytes of the frame last returned by next(), released on the next call
  std::uint64_t stream_offset_ = 0;  // stream offset of buffer_[start_]
  std::uint32_t max_body_size_ = 0;
  bool initialized_ = false;
  Status failure_ = Status::kOk;
  ErrorInfo last_error_;
};

}  // namespace ecq::protocol
