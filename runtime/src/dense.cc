#include "dense.h"

namespace ecq::detail {

namespace {

using ConstVector = Eigen::Map<const Eigen::ArrayXf>;
using Vector = Eigen::Map<Eigen::ArrayXf>;

// Rows of x per dot_rows() call in multiply_transposed(). Blocking over rows
// of w too would reuse more loads in the same order (not tried).
constexpr std::size_t kRowBlock = 4;

}  // namespace

void multiply_transposed(const float* x, std::size_t rows, std::size_t inner, const float* w, std::size_t cols,
                         const float* bias, float* out) {
  std::size_t i = 0;
  for (; i + kRowBlock <= rows; i += kRowBlock) {
    const float* block[kRowBlock];
    for (std::size_t r = 0; r < kRowBlock; ++r) {
      block[r] = x + (i + r) * inner;
    }
    for (std::size_t j = 0; j < cols; ++j) {
      float sums[kRowBlock];
      dot_rows<kRowBlock>(block, w + j * inner, inner, sums);
      for (std::size_t r = 0; r < kRowBlock; ++r) {
        out[(i + r) * cols + j] = sums[r];
      }
    }
  }
  for (; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      out[i * cols + j] = dot(x + i * inner, w + j * inner, inner);
    }
  }
  if (bias != nullptr) {
    const ConstVector bias_row(bias, static_cast<Eigen::Index>(cols));
    for (std::size_t r = 0; r < rows; ++r) {
      Vector(out + r * cols, static_cast<Eigen::Index>(cols)) += bias_row;
    }
  }
}

void multiply(const float* a, std::size_t a_row_stride, std::size_t a_inner_stride, const float* b,
              std::size_t out_rows, std::size_t inner, std::size_t cols, float* out) {
  const auto size = static_cast<Eigen::Index>(cols);
  for (std::size_t r = 0; r < out_rows; ++r) {
    const float* coefficients = a + r * a_row_stride;
    Vector out_row(out + r * cols, size);
    out_row = coefficients[0] * ConstVector(b, size);
    // Four terms per pass over out_row. Eigen evaluates the sum left to
    // right per element, so each element still gets its terms one at a time
    // in increasing t.
    std::size_t t = 1;
    for (; t + 4 <= inner; t += 4) {
      const float* b0 = b + t * cols;
      out_row = out_row + coefficients[t * a_inner_stride] * ConstVector(b0, size) +
                coefficients[(t + 1) * a_inner_stride] * ConstVector(b0 + cols, size) +
                coefficients[(t + 2) * a_inner_stride] * ConstVector(b0 + 2 * cols, size) +
                coefficients[(t + 3) * a_inner_stride] * ConstVector(b0 + 3 * cols, size);
    }
    for (; t < inner; ++t) {
      out_row += coefficients[t * a_inner_stride] * ConstVector(b + t * cols, size);
    }
  }
}

void sum_rows(const float* m, std::size_t rows, std::size_t cols, float* out) {
  const auto size = static_cast<Eigen::Index>(cols);
  Vector sums(out, size);
  sums = ConstVector(m, size);
  for (std::size_t i = 1; i < rows; ++i) {
    sums += ConstVector(m + i * cols, size);
  }
}

}  // namespace ecq::detail
