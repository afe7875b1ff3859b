#pragma once
// Dense float kernels of the models. They compute with Eigen's arrays, but in
// a summation order fixed in the source, because Eigen's matrix products
// order their sums by SIMD width and cache blocking, which differ between
// targets. Device code is built without floating-point contraction and
// without reassociation, so every rounding step is the same on every target.
// A model gradient is therefore bit-identical on x86-64, AArch64, armhf and
// Cortex-M4, and so is the payload that compresses it.

#include <Eigen/Core>
#include <cstddef>

namespace ecq::detail {

/// Number of partial sums in dot(). Element k goes to partial sum k % 8, and
/// the sums are then added pairwise (0+4, 1+5, ..., then 0+2, 1+3, then 0+1).
/// Eight lanes fill two SSE or NEON registers.
constexpr std::size_t kDotLanes = 8;

/// The partial sums of a dot product. Eigen adds and multiplies fixed-size
/// arrays lane by lane, so the vector code has the rounding steps of the
/// scalar loop.
using DotLanes = Eigen::Array<float, kDotLanes, 1>;
static_assert(kDotLanes == 8, "dot_rows() adds the partial sums pairwise for 8 lanes");

/// Writes to out[r] the sum of rows[r][k] * b[k] for k < n, for each of the
/// kRows rows, in the order described at kDotLanes. The rows share the loads
/// of b, and each sum has the same rounding steps as a single dot product.
template <std::size_t kRows>
inline void dot_rows(const float* const* rows, const float* b, std::size_t n, float* out) {
  using LanesMap = Eigen::Map<const DotLanes>;
  DotLanes lanes[kRows];
  for (DotLanes& sums : lanes) {
    sums.setZero();
  }
  std::size_t k = 0;
  for (; k + kDotLanes <= n; k += kDotLanes) {
    const LanesMap b_lanes(b + k);
    for (std::size_t r = 0; r < kRows; ++r) {
      lanes[r] += LanesMap(rows[r] + k) * b_lanes;
    }
  }
  for (std::size_t r = 0; r < kRows; ++r) {
    DotLanes& sums = lanes[r];
    for (std::size_t lane = 0; k + lane < n; ++lane) {
      sums[static_cast<Eigen::Index>(lane)] += rows[r][k + lane] * b[k + lane];
    }
    sums.head<4>() += sums.tail<4>();
    sums.head<2>() += sums.segment<2>(2);
    out[r] = sums[0] + sums[1];
  }
}

/// Returns the sum of a[k] * b[k] for k < n in the order described at
/// kDotLanes.
inline float dot(const float* a, const float* b, std::size_t n) {
  float sum = 0.0f;
  dot_rows<1>(&a, b, n, &sum);
  return sum;
}

/// Computes out = x * w^T for row-major x (rows x inner) and w (cols x
/// inner), and adds bias[j] to column j when bias is not null. out is
/// row-major rows x cols.
void multiply_transposed(const float* x, std::size_t rows, std::size_t inner, const float* w, std::size_t cols,
                         const float* bias, float* out);

/// Computes out[r][k] = sum over t < inner of a(r, t) * b[t][k], where
/// a(r, t) = a[r * a_row_stride + t * a_inner_stride] and b is row-major
/// inner x cols, with inner >= 1. The sum runs over t in increasing order. With strides
/// (cols_of_a, 1) this is a * b, and with (1, cols_of_a) it is a^T * b.
void multiply(const float* a, std::size_t a_row_stride, std::size_t a_inner_stride, const float* b,
              std::size_t out_rows, std::size_t inner, std::size_t cols, float* out);

/// Computes out[j] = sum over i < rows of m[i][j], in increasing i, for a
/// row-major rows x cols matrix m.
void sum_rows(const float* m, std::size_t rows, std::size_t cols, float* out);

}  // namespace ecq::detail
