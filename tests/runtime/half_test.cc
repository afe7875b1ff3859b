#include "ecq/runtime/half.h"

#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

namespace ecq {
namespace {

std::uint32_t float_bits(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float float_from_bits(std::uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// The value of a binary16 encoding from its definition, in double.
double half_reference(std::uint16_t half) {
  const int exponent = (half >> 10) & 0x1F;
  const int mantissa = half & 0x3FF;
  const double sign = (half & 0x8000) != 0 ? -1.0 : 1.0;
  if (exponent == 0) {
    return sign * std::ldexp(mantissa, -24);
  }
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

TEST_CASE("half to float matches definition") {
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto half = static_cast<std::uint16_t>(bits);
    const float value = half_to_float(half);
    CAPTURE(bits);
    const int exponent = (half >> 10) & 0x1F;
    if (exponent == 0x1F && (half & 0x3FF) != 0) {
      CHECK(std::isnan(value));
      CHECK(std::signbit(value) == ((half & 0x8000) != 0));
    } else if (exponent == 0x1F) {
      CHECK(std::isinf(value));
      CHECK(std::signbit(value) == ((half & 0x8000) != 0));
    } else {
      CHECK(static_cast<double>(value) == half_reference(half));
      CHECK(std::signbit(value) == ((half & 0x8000) != 0));  // keeps the sign of zero
    }
  }
}

TEST_CASE("half round trip is exact") {
  std::uint32_t mismatches = 0;
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto half = static_cast<std::uint16_t>(bits);
    const std::uint16_t back = half_from_float(half_to_float(half));
    const bool nan = (half & 0x7C00) == 0x7C00 && (half & 0x3FF) != 0;
    if (nan) {
      // NaN stays NaN of the same sign; a quiet NaN keeps its payload.
      const bool quiet = (half & 0x200) != 0;
      if ((back & 0x7C00) != 0x7C00 || (back & 0x3FF) == 0 || (back & 0x8000) != (half & 0x8000) ||
          (quiet && back != half)) {
        ++mismatches;
      }
    } else if (back != half) {
      ++mismatches;
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("float to half rounds ties to even") {
  // Every pair of adjacent finite non-negative halves a < b: their midpoint
  // (exact in float) goes to the one with an even mantissa, and the floats
  // just beside it go to the nearer one.
  std::uint32_t mismatches = 0;
  for (std::uint16_t a = 0; a < kHalfMaxBits; ++a) {
    const auto b = static_cast<std::uint16_t>(a + 1);
    const float low = half_to_float(a);
    const float high = half_to_float(b);
    const float middle = (low + high) / 2.0f;
    const std::uint16_t even = (a & 1) == 0 ? a : b;
    const std::uint16_t below = half_from_float(std::nextafter(middle, 0.0f));
    const std::uint16_t above = half_from_float(std::nextafter(middle, 1e9f));
    if (half_from_float(middle) != even || below != a || above != b) {
      ++mismatches;
    }
    // The negative side mirrors it.
    if (half_from_float(-middle) != (even | 0x8000) || half_from_float(-low) != (a | 0x8000)) {
      ++mismatches;
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("float to half limits") {
  CHECK(half_from_float(65504.0f) == kHalfMaxBits);
  CHECK(half_from_float(std::nextafter(65520.0f, 0.0f)) == kHalfMaxBits);
  CHECK(half_from_float(65520.0f) == kHalfInfinityBits);  // the tie goes to the even 2^16, which is Inf
  CHECK(half_from_float(-65520.0f) == (kHalfInfinityBits | 0x8000));
  CHECK(half_from_float(1e30f) == kHalfInfinityBits);
  CHECK(half_from_float(INFINITY) == kHalfInfinityBits);
  CHECK(half_from_float(-INFINITY) == (kHalfInfinityBits | 0x8000));
  CHECK(half_non_finite(half_from_float(NAN)));
  CHECK((half_from_float(NAN) & 0x3FF) != 0);
  CHECK(half_from_float(std::ldexp(1.0f, -25)) == 0x0000);  // tie between 0 and the smallest subnormal
  CHECK(half_from_float(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
  CHECK(half_from_float(std::ldexp(3.0f, -25)) == 0x0002);  // tie between 1 and 2 units goes to 2
  CHECK(half_from_float(-1e-30f) == 0x8000);
  CHECK(half_from_float(FLT_MIN / 4.0f) == 0x0000);  // a float subnormal
  CHECK(half_from_float(std::nextafter(std::ldexp(1.0f, -14), 0.0f)) == 0x0400);  // rounds up into the normals
  CHECK(half_non_finite(kHalfInfinityBits));
  CHECK_FALSE(half_non_finite(kHalfMaxBits));
}

TEST_CASE("float to half matches definition") {
  // Random floats across the whole half range against the nearest of the two
  // neighbouring halves, computed in double.
  std::mt19937 engine(5);
  std::uniform_int_distribution<std::uint32_t> bits_of(0x30000000u, 0x47800000u);
  std::uint32_t mismatches = 0;
  for (int i = 0; i < 200000; ++i) {
    const float value = float_from_bits(bits_of(engine));
    const std::uint16_t half = half_from_float(value);
    const double exact = value;
    if (half == kHalfInfinityBits) {
      if (exact < 65520.0) ++mismatches;
      continue;
    }
    const double chosen = half_reference(half);
    const double other_down = half == 0 ? 0.0 : half_reference(static_cast<std::uint16_t>(half - 1));
    const double other_up = half_reference(static_cast<std::uint16_t>(half + 1));
    const double error = std::fabs(chosen - exact);
    if (error > std::fabs(other_down - exact) || error > std::fabs(other_up - exact)) {
      ++mismatches;
    }
  }
  CHECK(mismatches == 0);
  CHECK(float_bits(half_to_float(half_from_float(1.0f))) == float_bits(1.0f));
}

// The compiler's own binary16 type: _Float16 on x86-64 (GCC 12 C++ has it
// there), __fp16 on AArch64 (GCC 12 C++ has no _Float16 there).
#if defined(__x86_64__) && defined(__FLT16_MAX__)
#define ECQ_TEST_COMPILER_HALF 1
using CompilerHalf = _Float16;
#elif defined(__aarch64__) && defined(__ARM_FP16_FORMAT_IEEE)
#define ECQ_TEST_COMPILER_HALF 1
using CompilerHalf = __fp16;
#endif

#if defined(ECQ_TEST_COMPILER_HALF)
TEST_CASE("float to half matches compiler half") {
  // The compiler's conversion rounds to nearest even (in software, or with
  // F16C or the AArch64 FCVT instruction): an independent implementation to
  // compare with.
  std::mt19937 engine(7);
  std::uniform_int_distribution<std::uint32_t> bits_of(0u, 0xFFFFFFFFu);
  std::uint32_t mismatches = 0;
  for (int i = 0; i < 1000000; ++i) {
    const float value = float_from_bits(bits_of(engine));
    if (std::isnan(value)) continue;
    const CompilerHalf expected = static_cast<CompilerHalf>(value);
    std::uint16_t expected_bits;
    std::memcpy(&expected_bits, &expected, sizeof expected_bits);
    if (half_from_float(value) != expected_bits) ++mismatches;
  }
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto half = static_cast<std::uint16_t>(bits);
    CompilerHalf value;
    std::memcpy(&value, &half, sizeof value);
    if (!half_non_finite(half) && float_bits(half_to_float(half)) != float_bits(static_cast<float>(value))) {
      ++mismatches;
    }
  }
  CHECK(mismatches == 0);
}
#endif

}  // namespace
}  // namespace ecq
