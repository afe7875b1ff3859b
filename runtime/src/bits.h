#pragma once
// Internal helpers shared by the compressor and the payload decoder:
// little-endian loads and stores, fixed-width symbol packing, and the float
// rules that keep results identical across architectures.

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace ecq::detail {

inline std::uint32_t load_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

inline void store_u32(std::uint8_t* p, std::uint32_t value) {
  p[0] = static_cast<std::uint8_t>(value);
  p[1] = static_cast<std::uint8_t>(value >> 8);
  p[2] = static_cast<std::uint8_t>(value >> 16);
  p[3] = static_cast<std::uint8_t>(value >> 24);
}

inline float load_f32(const std::uint8_t* p) {
  const std::uint32_t bits = load_u32(p);
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline void store_f32(std::uint8_t* p, float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  store_u32(p, bits);
}

/// Flushes a value below the normal float range to +0. 32-bit ARM NEON does
/// this in hardware; doing it everywhere keeps results identical. NaN passes.
inline float flush(float x) { return std::fabs(x) < FLT_MIN ? 0.0f : x; }

/// True for NaN and +-Inf, from the exponent bits alone.
inline bool non_finite(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x7F800000u) == 0x7F800000u;
}

/// Returns step = flush(float(scale / s)), the value of one quantization level.
inline float level_step(float scale, std::uint32_t levels) {
  return flush(static_cast<float>(static_cast<double>(scale) / static_cast<double>(levels)));
}

/// Writes fixed-width symbols into a little-endian bit stream.
class BitWriter {
 public:
  BitWriter(std::uint8_t* out, std::uint32_t bits) : out_(out), bits_(bits) {}

  void put(std::uint32_t symbol) {
    buffer_ |= static_cast<std::uint64_t>(symbol) << filled_;
    filled_ += bits_;
    if (filled_ >= 32) {
      store_u32(out_ + position_, static_cast<std::uint32_t>(buffer_));
      position_ += 4;
      buffer_ >>= 32;
      filled_ -= 32;
    }
  }

  /// Writes the remaining bits, padding the last byte with zeros, and returns
  /// the total number of bytes written.
  std::size_t finish() {
    while (filled_ > 0) {
      out_[position_++] = static_cast<std::uint8_t>(buffer_);
      buffer_ >>= 8;
      filled_ = filled_ > 8 ? filled_ - 8 : 0;
    }
    return position_;
  }

 private:
  std::uint8_t* out_;
  std::uint64_t buffer_ = 0;
  std::uint32_t bits_;
  std::uint32_t filled_ = 0;
  std::size_t position_ = 0;
};

/// Reads fixed-width symbols from a little-endian bit stream of `size` bytes
/// without reading past it. The caller reads at most size * 8 / bits symbols.
class BitReader {
 public:
  BitReader(const std::uint8_t* data, std::size_t size, std::uint32_t bits)
      : data_(data), size_(size), bits_(bits), mask_((1u << bits) - 1u) {}

  std::uint32_t get() {
    if (filled_ < bits_) {
      refill();
    }
    const auto symbol = static_cast<std::uint32_t>(buffer_) & mask_;
    buffer_ >>= bits_;
    filled_ -= bits_;
    return symbol;
  }

  /// The bits left in the partly read last byte, which must be zero padding.
  std::uint64_t remaining_bits() const { return buffer_; }

 private:
  void refill() {
    if (size_ - position_ >= 4) {
      buffer_ |= static_cast<std::uint64_t>(load_u32(data_ + position_)) << filled_;
      position_ += 4;
      filled_ += 32;
      return;
    }
    while (position_ < size_ && filled_ <= 56) {
      buffer_ |= static_cast<std::uint64_t>(data_[position_++]) << filled_;
      filled_ += 8;
    }
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t position_ = 0;
  std::uint64_t buffer_ = 0;
  std::uint32_t bits_;
  std::uint32_t mask_;
  std::uint32_t filled_ = 0;
};

}  // namespace ecq::detail
