#pragma once
// Internal helpers shared by the compressor and the payload decoder:
// little-endian loads and stores, and the float rules that keep results
// identical across architectures.

#include <cassert>
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

/// Views bytes of an arena as an array of T. Every caller carves its arena at
/// offsets aligned for T, and the assert checks that in debug builds. The cast
/// goes through void* because GCC's -Wcast-align rejects a direct one on
/// strict-alignment targets such as 32-bit ARM.
template <typename T>
inline T* arena_array(std::uint8_t* bytes) {
  assert(reinterpret_cast<std::uintptr_t>(bytes) % alignof(T) == 0);
  return static_cast<T*>(static_cast<void*>(bytes));
}

template <typename T>
inline const T* arena_array(const std::uint8_t* bytes) {
  assert(reinterpret_cast<std::uintptr_t>(bytes) % alignof(T) == 0);
  return static_cast<const T*>(static_cast<const void*>(bytes));
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

}  // namespace ecq::detail
