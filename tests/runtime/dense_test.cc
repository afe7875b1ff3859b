// The dense model kernels must sum in the order dense.h documents, whatever
// the compiler vectorizes, so they are held bit for bit against plain loops.

#include "dense.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "test_support.h"

namespace ecq::detail {
namespace {

std::uint32_t bits_of(float value) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// The order of kDotLanes written out one step at a time.
float reference_dot(const float* a, const float* b, std::size_t n) {
  float lanes[8] = {};
  for (std::size_t k = 0; k < n; ++k) {
    lanes[k % 8] = lanes[k % 8] + a[k] * b[k];
  }
  const float low = (lanes[0] + lanes[4]) + (lanes[2] + lanes[6]);
  const float high = (lanes[1] + lanes[5]) + (lanes[3] + lanes[7]);
  return low + high;
}

TEST_CASE("dot sums in lane order") {
  const std::vector<float> a = test::gaussian_vector(800, 1);
  const std::vector<float> b = test::gaussian_vector(800, 2);
  for (std::size_t n : {0u, 1u, 5u, 7u, 8u, 9u, 15u, 16u, 17u, 63u, 128u, 784u, 799u}) {
    CAPTURE(n);
    CHECK(bits_of(dot(a.data(), b.data(), n)) == bits_of(reference_dot(a.data(), b.data(), n)));
  }
}

TEST_CASE("multiply_transposed matches dot per element") {
  // 7 rows: one block of 4 rows and 3 single rows.
  constexpr std::size_t kRows = 7;
  constexpr std::size_t kInner = 37;
  constexpr std::size_t kCols = 5;
  const std::vector<float> x = test::gaussian_vector(kRows * kInner, 3);
  const std::vector<float> w = test::gaussian_vector(kCols * kInner, 4);
  const std::vector<float> bias = test::gaussian_vector(kCols, 5);
  std::vector<float> out(kRows * kCols);
  multiply_transposed(x.data(), kRows, kInner, w.data(), kCols, bias.data(), out.data());
  for (std::size_t i = 0; i < kRows; ++i) {
    for (std::size_t j = 0; j < kCols; ++j) {
      CAPTURE(i);
      CAPTURE(j);
      const float expected = reference_dot(x.data() + i * kInner, w.data() + j * kInner, kInner) + bias[j];
      CHECK(bits_of(out[i * kCols + j]) == bits_of(expected));
    }
  }
}

TEST_CASE("multiply sums terms in increasing order") {
  constexpr std::size_t kRows = 3;
  for (std::size_t inner : {1u, 2u, 4u, 5u, 6u, 9u, 10u}) {
    constexpr std::size_t kCols = 11;
    const std::vector<float> a = test::gaussian_vector(kRows * inner, 6);
    const std::vector<float> b = test::gaussian_vector(inner * kCols, 7);
    std::vector<float> product(kRows * kCols);
    // a is kRows x inner, so strides (inner, 1) give a * b.
    multiply(a.data(), inner, 1, b.data(), kRows, inner, kCols, product.data());
    for (std::size_t r = 0; r < kRows; ++r) {
      for (std::size_t k = 0; k < kCols; ++k) {
        float expected = a[r * inner] * b[k];
        for (std::size_t t = 1; t < inner; ++t) {
          expected = expected + a[r * inner + t] * b[t * kCols + k];
        }
        CAPTURE(inner);
        CAPTURE(r);
        CHECK(bits_of(product[r * kCols + k]) == bits_of(expected));
      }
    }
    // Read as inner x kRows (strides (1, kRows)), a^T is kRows x inner again.
    const std::vector<float> c = test::gaussian_vector(inner * kRows, 8);
    multiply(c.data(), 1, kRows, b.data(), kRows, inner, kCols, product.data());
    for (std::size_t r = 0; r < kRows; ++r) {
      for (std::size_t k = 0; k < kCols; ++k) {
        float expected = c[r] * b[k];
        for (std::size_t t = 1; t < inner; ++t) {
          expected = expected + c[t * kRows + r] * b[t * kCols + k];
        }
        CAPTURE(inner);
        CAPTURE(r);
        CHECK(bits_of(product[r * kCols + k]) == bits_of(expected));
      }
    }
  }
}

TEST_CASE("sum_rows adds rows in order") {
  const std::vector<float> m = test::gaussian_vector(9 * 4, 9);
  float out[4];
  sum_rows(m.data(), 9, 4, out);
  for (std::size_t j = 0; j < 4; ++j) {
    float expected = m[j];
    for (std::size_t i = 1; i < 9; ++i) {
      expected = expected + m[i * 4 + j];
    }
    CHECK(bits_of(out[j]) == bits_of(expected));
  }
}

}  // namespace
}  // namespace ecq::detail
