#pragma once
// IEEE 754 binary16 ("half") conversion in portable code, with no use of
// F16C, ARM FP16 or compiler half types, so that every target produces the
// same bits. The only float operations are exact or round in the default
// round-to-nearest-even mode, and none has a subnormal float input or result
// that flush-to-zero modes would change. The compressor stores its error buffer in this format when
// CompressorConfig::error_buffer is ErrorBufferType::kFp16.

#include <cstdint>
#include <cstring>

namespace ecq {

/// Largest finite binary16 value, 65504.
constexpr float kHalfMax = 65504.0f;
/// Bits of +Inf and of the largest finite value in binary16.
constexpr std::uint16_t kHalfInfinityBits = 0x7C00;
constexpr std::uint16_t kHalfMaxBits = 0x7BFF;

namespace detail {

// Returns `yes` when `condition` is true and `no` otherwise, with masks instead
// of a branch: GCC keeps a conditional float operation as a branch under
// -ftrapping-math, which stops loops over arrays from vectorizing.
inline std::uint32_t select_bits(bool condition, std::uint32_t yes, std::uint32_t no) {
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(condition);
  return (yes & mask) | (no & ~mask);
}

}  // namespace detail

/// Converts a binary16 value to float. Exact for every input: subnormal
/// halves become normal floats, NaN stays NaN with its sign and payload.
/// Branch-free, so that loops over arrays vectorize.
inline float half_to_float(std::uint16_t half) {
  const std::uint32_t magnitude = half & 0x7FFFu;
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  // Normal: move exponent and mantissa into place and rebias 15 -> 127.
  const std::uint32_t normal = (magnitude << 13) + 0x38000000u;
  // Inf and NaN: exponent 31 becomes 255.
  const std::uint32_t special = (magnitude << 13) + 0x70000000u;
  // Zero and subnormal: mantissa * 2^-24, exact in float arithmetic because
  // the mantissa has at most 10 bits and every nonzero result is at least
  // 2^-24, far above the float subnormals that a flush-to-zero mode changes.
  const float scaled = static_cast<float>(static_cast<std::int32_t>(magnitude)) * 0x1p-24f;
  std::uint32_t small;
  std::memcpy(&small, &scaled, sizeof small);
  const std::uint32_t bits =
      detail::select_bits(magnitude >= 0x7C00u, special, detail::select_bits(magnitude >= 0x0400u, normal, small)) |
      sign;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/// Converts a float to binary16, rounding to nearest with ties to even.
/// Magnitudes of 65520 and above become Inf, those at or below 2^-25 become a
/// zero of the same sign, and NaN becomes a quiet NaN of the same sign.
/// Branch-free, so that loops over arrays vectorize.
inline std::uint16_t half_from_float(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
  const std::uint32_t nan = 0x7E00u | ((magnitude >> 13) & 0x3FFu);
  // Normal result: adding just under half a unit of the kept bits, plus the
  // lowest kept bit, rounds to nearest even before the shift drops the rest.
  // A carry moves into the exponent correctly. Then rebias 127 -> 15.
  const std::uint32_t normal = (magnitude + 0xFFFu + ((magnitude >> 13) & 1u) - 0x38000000u) >> 13;
  // Subnormal result, for magnitudes below 2^-14: in 0.5 + |value| the float
  // unit is 2^-24, the half subnormal unit, so the addition rounds |value| to
  // a whole number of units, to nearest even, and the low bits count them.
  // A float subnormal input, which a flush-to-zero mode reads as 0, becomes 0
  // either way.
  float magnitude_value;
  std::memcpy(&magnitude_value, &magnitude, sizeof magnitude_value);
  const float shifted = magnitude_value + 0.5f;
  std::uint32_t shifted_bits;
  std::memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
  const std::uint32_t small = shifted_bits - 0x3F000000u;
  // 65520 is halfway from 65504 to 2^16, and 2^-14 the smallest normal half.
  const std::uint32_t finite = detail::select_bits(magnitude >= 0x38800000u, normal, small);
  const std::uint32_t result =
      detail::select_bits(magnitude > 0x7F800000u, nan,
                          detail::select_bits(magnitude >= 0x477FF000u, kHalfInfinityBits, finite));
  return static_cast<std::uint16_t>(result | sign);
}

/// True for the binary16 encodings of NaN and +-Inf.
inline bool half_non_finite(std::uint16_t half) { return (half & 0x7C00u) == 0x7C00u; }

}  // namespace ecq
