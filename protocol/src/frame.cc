#include "ecq/protocol/frame.h"

#include <cstring>

#include "ecq/runtime/crc32c.h"
#include "wire.h"

namespace ecq::protocol {
namespace {

constexpr std::size_t kVersionOffset = 4;
constexpr std::size_t kTypeOffset = 5;
constexpr std::size_t kFlagsOffset = 6;
constexpr std::size_t kBodySizeOffset = 8;

}  // namespace

Status encode_frame(std::uint8_t type, const std::uint8_t* body, std::size_t body_size, std::uint8_t* out,
                    std::size_t capacity, std::size_t* size, ErrorInfo* error) {
  if (body_size > UINT32_MAX - kFrameOverheadBytes) {
    return wire::report(error, Status::kOversizedPayload, kBodySizeOffset, static_cast<double>(body_size),
                        static_cast<double>(UINT32_MAX - kFrameOverheadBytes), "frame body size");
  }
  const std::size_t total = body_size + kFrameOverheadBytes;
  if (capacity < total) {
    return wire::report(error, Status::kBufferTooSmall, 0, static_cast<double>(capacity), static_cast<double>(total),
                        "frame buffer");
  }
  std::memcpy(out, kFrameMagic, sizeof kFrameMagic);
  out[kVersionOffset] = kProtocolVersion;
  out[kTypeOffset] = type;
  wire::store_u16(out + kFlagsOffset, 0);
  wire::store_u32(out + kBodySizeOffset, static_cast<std::uint32_t>(body_size));
  if (body_size > 0 && body != out + kFrameHeaderBytes) {
    std::memmove(out + kFrameHeaderBytes, body, body_size);
  }
  wire::store_u32(out + kFrameHeaderBytes + body_size, crc32c(out, kFrameHeaderBytes + body_size));
  *size = total;
  return Status::kOk;
}

Status FrameReader::init(Span<std::uint8_t> buffer, std::uint32_t max_body_size) {
  if (buffer.data() == nullptr || buffer.size() < kFrameOverheadBytes) {
    return fail(Status::kBufferTooSmall, 0, static_cast<double>(buffer.size()),
                static_cast<double>(kFrameOverheadBytes), "frame reader buffer");
  }
  buffer_ = buffer.data();
  capacity_ = buffer.size();
  start_ = 0;
  end_ = 0;
  handed_out_ = 0;
  stream_offset_ = 0;
  const std::size_t room = capacity_ - kFrameOverheadBytes;
  max_body_size_ = room < max_body_size ? static_cast<std::uint32_t>(room) : max_body_size;
  initialized_ = true;
  failure_ = Status::kOk;
  last_error_ = ErrorInfo{};
  return Status::kOk;
}

Status FrameReader::fail(Status status, std::uint64_t position, double found, double limit, const char* subject) {
  last_error_ = ErrorInfo{status, position, found, limit, subject, false, "frame"};
  if (initialized_) {
    failure_ = status;
  }
  return status;
}

// Moves the unread bytes to the front of the buffer, releasing the frame last
// handed out.
void FrameReader::compact() {
  start_ += handed_out_;
  stream_offset_ += handed_out_;
  handed_out_ = 0;
  if (start_ == 0) {
    return;
  }
  const std::size_t pending = end_ - start_;
  if (pending > 0) {
    std::memmove(buffer_, buffer_ + start_, pending);
  }
  start_ = 0;
  end_ = pending;
}

Status FrameReader::feed(const std::uint8_t* data, std::size_t size, std::size_t* consumed) {
  *consumed = 0;
  if (!initialized_) {
    return Status::kNotInitialized;
  }
  if (failed()) {
    return failure_;
  }
  compact();
  const std::size_t room = capacity_ - end_;
  const std::size_t count = size < room ? size : room;
  if (count > 0) {
    std::memcpy(buffer_ + end_, data, count);
    end_ += count;
  }
  *consumed = count;
  return Status::kOk;
}

// Checks every header field whose bytes have arrived. Returns kOk when the
// whole header is present and valid, kTruncatedPayload when it is incomplete
// but valid so far, or the error.
Status FrameReader::check_header() {
  const std::uint8_t* frame = buffer_ + start_;
  const std::size_t available = end_ - start_;

  const std::size_t magic_bytes = available < sizeof kFrameMagic ? available : sizeof kFrameMagic;
  if (std::memcmp(frame, kFrameMagic, magic_bytes) != 0) {
    std::uint8_t found[4] = {0, 0, 0, 0};
    std::memcpy(found, frame, magic_bytes);
    return fail(Status::kBadMagic, stream_offset_, wire::load_u32(found), wire::load_u32(kFrameMagic),
                "frame magic must be \"ECQF\"");
  }
  if (available <= kVersionOffset) {
    return Status::kTruncatedPayload;
  }
  const std::uint8_t version = frame[kVersionOffset];
  if (version < kMinProtocolVersion || version > kMaxProtocolVersion) {
    return fail(Status::kUnsupportedVersion, stream_offset_ + kVersionOffset, version, kMaxProtocolVersion,
                "frame protocol version must be 1 to 1");
  }
  if (available >= kFlagsOffset + 1 && frame[kFlagsOffset] != 0) {
    return fail(Status::kBadHeaderField, stream_offset_ + kFlagsOffset, frame[kFlagsOffset], 0,
                "frame flags must be 0");
  }
  if (available >= kFlagsOffset + 2 && frame[kFlagsOffset + 1] != 0) {
    return fail(Status::kBadHeaderField, stream_offset_ + kFlagsOffset, wire::load_u16(frame + kFlagsOffset), 0,
                "frame flags must be 0");
  }
  if (available < kFrameHeaderBytes) {
    return Status::kTruncatedPayload;
  }
  const std::uint32_t body_size = wire::load_u32(frame + kBodySizeOffset);
  if (body_size > max_body_size_) {
    return fail(Status::kOversizedPayload, stream_offset_ + kBodySizeOffset, body_size, max_body_size_,
                "frame body size");
  }
  return Status::kOk;
}

Status FrameReader::next(FrameView* frame) {
  if (!initialized_) {
    return Status::kNotInitialized;
  }
  if (failed()) {
    return failure_;
  }
  start_ += handed_out_;
  stream_offset_ += handed_out_;
  handed_out_ = 0;
  if (start_ == end_) {
    return Status::kTruncatedPayload;
  }

  const Status header = check_header();
  if (header != Status::kOk) {
    return header;
  }
  const std::uint8_t* bytes = buffer_ + start_;
  const std::uint32_t body_size = wire::load_u32(bytes + kBodySizeOffset);
  const std::size_t total = kFrameHeaderBytes + body_size + kFrameChecksumBytes;
  if (end_ - start_ < total) {
    return Status::kTruncatedPayload;
  }

  const std::size_t checked = kFrameHeaderBytes + body_size;
  const std::uint32_t stored = wire::load_u32(bytes + checked);
  const std::uint32_t computed = crc32c(bytes, checked);
  if (stored != computed) {
    return fail(Status::kChecksumMismatch, stream_offset_ + checked, stored, computed, "frame CRC-32C");
  }

  frame->type = bytes[kTypeOffset];
  frame->body = bytes + kFrameHeaderBytes;
  frame->body_size = body_size;
  handed_out_ = total;
  return Status::kOk;
}

}  // namespace ecq::protocol
