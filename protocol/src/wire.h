#pragma once
// Little-endian field access with bounds checks, for the frame and message
// codecs. Internal to ecq::protocol.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ecq/runtime/status.h"

namespace ecq::protocol::wire {

inline std::uint16_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

inline std::uint32_t load_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

inline std::uint64_t load_u64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(load_u32(p)) | (static_cast<std::uint64_t>(load_u32(p + 4)) << 32);
}

inline float load_f32(const std::uint8_t* p) {
  const std::uint32_t bits = load_u32(p);
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline void store_u16(std::uint8_t* p, std::uint16_t value) {
  p[0] = static_cast<std::uint8_t>(value);
  p[1] = static_cast<std::uint8_t>(value >> 8);
}

inline void store_u32(std::uint8_t* p, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    p[i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

inline void store_u64(std::uint8_t* p, std::uint64_t value) {
  store_u32(p, static_cast<std::uint32_t>(value));
  store_u32(p + 4, static_cast<std::uint32_t>(value >> 32));
}

inline void store_f32(std::uint8_t* p, float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  store_u32(p, bits);
}

inline Status report(ErrorInfo* error, Status status, std::uint64_t position, double found, double limit,
                     const char* subject) {
  if (error != nullptr) {
    *error = ErrorInfo{status, position, found, limit, subject, false, "message"};
  }
  return status;
}

/// Appends fields to a caller-given buffer. Writes nothing past `capacity`
/// but keeps counting, so size() is the full size the body needs.
class Writer {
 public:
  Writer(std::uint8_t* out, std::size_t capacity) : out_(out), capacity_(capacity) {}

  void u8(std::uint8_t value) {
    if (std::uint8_t* p = reserve(1)) {
      p[0] = value;
    }
  }
  void u16(std::uint16_t value) {
    if (std::uint8_t* p = reserve(2)) {
      store_u16(p, value);
    }
  }
  void u32(std::uint32_t value) {
    if (std::uint8_t* p = reserve(4)) {
      store_u32(p, value);
    }
  }
  void u64(std::uint64_t value) {
    if (std::uint8_t* p = reserve(8)) {
      store_u64(p, value);
    }
  }
  void f32(float value) {
    if (std::uint8_t* p = reserve(4)) {
      store_f32(p, value);
    }
  }
  void bytes(const void* data, std::size_t size) {
    std::uint8_t* p = reserve(size);
    if (p != nullptr && size > 0) {
      std::memcpy(p, data, size);
    }
  }

  std::size_t size() const { return size_; }
  bool fits() const { return size_ <= capacity_; }

 private:
  // Returns where the next `count` bytes go, or null once they do not fit.
  std::uint8_t* reserve(std::size_t count) {
    std::uint8_t* p = (size_ <= capacity_ && count <= capacity_ - size_) ? out_ + size_ : nullptr;
    size_ += count;
    return p;
  }

  std::uint8_t* out_;
  std::size_t capacity_;
  std::size_t size_ = 0;
};

/// Reads fields from a message body. The first read past the end records
/// kTruncatedPayload (position = body size, found = the bytes needed so far,
/// limit = body size) and every later call fails without reading.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size, ErrorInfo* error) : data_(data), size_(size), error_(error) {}

  bool u8(std::uint8_t* value) {
    const std::uint8_t* p = take(1);
    if (p == nullptr) {
      return false;
    }
    *value = p[0];
    return true;
  }
  bool u16(std::uint16_t* value) {
    const std::uint8_t* p = take(2);
    if (p == nullptr) {
      return false;
    }
    *value = load_u16(p);
    return true;
  }
  bool u32(std::uint32_t* value) {
    const std::uint8_t* p = take(4);
    if (p == nullptr) {
      return false;
    }
    *value = load_u32(p);
    return true;
  }
  bool u64(std::uint64_t* value) {
    const std::uint8_t* p = take(8);
    if (p == nullptr) {
      return false;
    }
    *value = load_u64(p);
    return true;
  }
  bool f32(float* value) {
    const std::uint8_t* p = take(4);
    if (p == nullptr) {
      return false;
    }
    *value = load_f32(p);
    return true;
  }
  /// Points *bytes at the next `count` bytes of the body.
  bool bytes(std::size_t count, const std::uint8_t** bytes) {
    const std::uint8_t* p = take(count);
    if (p == nullptr) {
      return false;
    }
    *bytes = p;
    return true;
  }

  /// Offset of the next field; use it before a read to name that field.
  std::size_t offset() const { return offset_; }
  Status status() const { return status_; }

  /// Records an invalid field that starts at `position`.
  Status reject(std::size_t position, double found, double limit, const char* subject) {
    status_ = Status::kBadHeaderField;
    return report(error_, status_, position, found, limit, subject);
  }
  Status reject_non_finite(std::size_t position, double found, const char* subject) {
    status_ = Status::kNonFiniteInput;
    return report(error_, status_, position, found, 0.0, subject);
  }

  /// Returns kOk when every byte was read, kTrailingBytes (found = body size,
  /// limit = bytes read) when some are left, or the first failure.
  Status finish(const char* subject) {
    if (status_ != Status::kOk) {
      return status_;
    }
    if (offset_ != size_) {
      status_ = Status::kTrailingBytes;
      return report(error_, status_, offset_, static_cast<double>(size_), static_cast<double>(offset_), subject);
    }
    return Status::kOk;
  }

  /// Records kTruncatedPayload at the first read that needed more bytes.
  void set_truncation_subject(const char* subject) { truncation_subject_ = subject; }

 private:
  const std::uint8_t* take(std::size_t count) {
    if (status_ != Status::kOk) {
      return nullptr;
    }
    if (count > size_ - offset_) {
      status_ = Status::kTruncatedPayload;
      (void)report(error_, status_, size_, static_cast<double>(offset_) + static_cast<double>(count),
                   static_cast<double>(size_), truncation_subject_);
      return nullptr;
    }
    const std::uint8_t* p = data_ + offset_;
    offset_ += count;
    return p;
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t offset_ = 0;
  ErrorInfo* error_;
  Status status_ = Status::kOk;
  const char* truncation_subject_ = nullptr;
};

}  // namespace ecq::protocol::wire
