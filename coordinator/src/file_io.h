#pragma once
// POSIX file helpers for the state directory and the model file, and a
// little-endian byte writer and reader for their layouts.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace ecq::coordinator {

/// Replaces `path` atomically: temporary file, fsync, rename, fsync of the
/// directory. On failure `path` is unchanged.
bool write_file_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes, std::string* error);
/// Reads the whole file.
bool read_whole_file(const std::string& path, std::vector<std::uint8_t>* bytes, std::string* error);
bool file_exists(const std::string& path);
/// fsyncs the directory that contains `path`.
bool sync_parent_directory(const std::string& path, std::string* error);
/// Returns "<what> <path> failed: <strerror(errno)>".
std::string system_error(const char* what, const std::string& path);

class ByteWriter {
 public:
  void u8(std::uint8_t value) { bytes_.push_back(value); }
  void u32(std::uint32_t value) {
    for (int i = 0; i < 4; ++i) {
      bytes_.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
  }
  void u64(std::uint64_t value) {
    for (int i = 0; i < 8; ++i) {
      bytes_.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
  }
  void f32(float value) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &value, 4);
    u32(bits);
  }
  void raw(const std::uint8_t* data, std::size_t size) { bytes_.insert(bytes_.end(), data, data + size); }
  void text(const std::string& value) {
    u8(static_cast<std::uint8_t>(value.size()));
    raw(reinterpret_cast<const std::uint8_t*>(value.data()), value.size());
  }
  /// Appends the CRC-32C of everything written so far.
  void checksum();
  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

/// Reads fields in order; once a read runs past the end, ok() stays false and
/// every later read returns 0.
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t u8() {
    const std::uint8_t* p = take(1);
    return p != nullptr ? p[0] : 0;
  }
  std::uint32_t u32() {
    const std::uint8_t* p = take(4);
    std::uint32_t value = 0;
    for (int i = 0; p != nullptr && i < 4; ++i) {
      value |= static_cast<std::uint32_t>(p[i]) << (8 * i);
    }
    return value;
  }
  std::uint64_t u64() {
    const std::uint64_t low = u32();
    const std::uint64_t high = u32();
    return low | (high << 32);
  }
  float f32() {
    const std::uint32_t bits = u32();
    float value = 0.0f;
    std::memcpy(&value, &bits, 4);
    return value;
  }
  const std::uint8_t* raw(std::size_t size) { return take(size); }
  std::string text() {
    const std::size_t size = u8();
    const std::uint8_t* p = take(size);
    return p != nullptr ? std::string(reinterpret_cast<const char*>(p), size) : std::string();
  }
  bool ok() const { return ok_; }
  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return size_ - offset_; }

 private:
  const std::uint8_t* take(std::size_t size) {
    if (!ok_ || size > size_ - offset_) {
      ok_ = false;
      return nullptr;
    }
    const std::uint8_t* p = data_ + offset_;
    offset_ += size;
    return p;
  }
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t offset_ = 0;
  bool ok_ = true;
};

}  // namespace ecq::coordinator
