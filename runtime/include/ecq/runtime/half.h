#pragma once
// IEEE 754 binary16 ("half") conversion in portable integer code, with no use
// of F16C, ARM FP16 or compiler half types, so that every target produces the
// same bits. The compressor stores its error buffer in this format when
// CompressorConfig::error_buffer is ErrorBufferType::kFp16.

#include <cstdint>
#include <cstring>

namespace ecq {

/// Largest finite binary16 value, 65504.
constexpr float kHalfMax = 65504.0f;
/// Bits of +Inf and of the largest finite value in binary16.
constexpr std::uint16_t kHalfInfinityBits = 0x7C00;
constexpr std::uint16_t kHalfMaxBits = 0x7BFF;

/// Converts a binary16 value to float. Exact for every input: subnormal
/// halves become normal floats, NaN stays NaN with its sign and payload.
inline float half_to_float(std::uint16_t half) {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1Fu;
  std::uint32_t mantissa = half & 0x3FFu;
  std::uint32_t bits = sign;
  if (exponent == 0x1Fu) {
    bits |= 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits |= ((exponent + 112u) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa != 0) {
    // Subnormal: mantissa * 2^-24. Shift the leading one into the implicit
    // bit position, lowering the exponent once per shift.
    std::uint32_t float_exponent = 113;  // 2^-14, the exponent of the smallest normal half
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --float_exponent;
    }
    bits |= (float_exponent << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/// Converts a float to binary16, rounding to nearest with ties to even.
/// Magnitudes of 65520 and above become Inf, those at or below 2^-25 become a
/// zero of the same sign, and NaN becomes a quiet NaN of the same sign.
inline std::uint16_t half_from_float(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) {
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  }
  if (magnitude >= 0x477FF000u) {  // 65520, halfway between 65504 and 2^16
    return static_cast<std::uint16_t>(sign | kHalfInfinityBits);
  }
  if (magnitude >= 0x38800000u) {  // 2^-14, the smallest normal half
    // Adding just under half a unit of the kept bits, plus the kept lowest
    // bit, rounds to nearest even; a carry moves into the exponent correctly.
    const std::uint32_t rounded = magnitude + 0xFFFu + ((magnitude >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
  }
  if (magnitude <= 0x33000000u) {  // 2^-25: half the smallest subnormal, a tie to 0
    return sign;
  }
  // Subnormal result in units of 2^-24: the float's significand shifted right
  // by 126 - exponent, which is 14 to 24 here.
  const std::uint32_t shift = 126u - (magnitude >> 23);
  const std::uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
  std::uint32_t result = significand >> shift;
  const std::uint32_t remainder = significand & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1u);
  if (remainder > halfway || (remainder == halfway && (result & 1u) != 0)) {
    ++result;  // may carry into the smallest normal, 0x0400, which is correct
  }
  return static_cast<std::uint16_t>(sign | result);
}

/// True for the binary16 encodings of NaN and +-Inf.
inline bool half_non_finite(std::uint16_t half) { return (half & 0x7C00u) == 0x7C00u; }

}  // namespace ecq
