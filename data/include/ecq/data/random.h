#pragma once
// Seeded random numbers for building simulation data: shuffles, partitions,
// synthetic samples. Every draw is computed from the 64-bit SplitMix64 stream
// (G. Steele, D. Lea, C. Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014) with integer arithmetic, correctly rounded
// IEEE-754 operations (+, -, *, /, sqrt) and exact ones (frexp, ldexp, floor)
// only. The distributions do not use <random>, and the logarithm and
// exponential do not use the C library's libm, because both differ between
// implementations. A given seed therefore yields the same values with every
// compiler and standard library, provided that floating-point contraction is
// off (ecq::data is built with -ffp-contract=off) and doubles are IEEE-754
// binary64 evaluated without extended precision (true on x86-64 and AArch64).

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ecq::data {

/// SplitMix64 pseudorandom generator with the distributions ecq::data needs.
/// Copyable: a copy continues the same stream independently.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  /// Advances the stream and returns its next 64-bit output.
  std::uint64_t next_u64();

  /// Returns a uniform double in [0, 1) with 53 random bits.
  double uniform();

  /// Returns a uniform integer in [0, n), without modulo bias (draws that fall
  /// in the incomplete last block of 2^64 are rejected and redrawn). Returns 0
  /// for n = 0 and n = 1 without advancing the stream.
  std::uint64_t uniform_below(std::uint64_t n);

  /// Returns a standard normal draw, N(0, 1), by the Marsaglia polar form of
  /// the Box-Muller transform. Draws come in pairs: every second call returns
  /// the stored partner of the previous draw.
  double normal();

  /// Returns a Gamma(shape, 1) draw by the method of G. Marsaglia and W. Tsang,
  /// "A simple method for generating gamma variables", ACM TOMS 26(3), 2000.
  /// For shape < 1 it draws Gamma(shape + 1) and multiplies by U^(1 / shape).
  /// Returns NaN for a shape that is not finite and positive. Small shapes
  /// underflow to 0 with probability of roughly 2^(-1074 shape): 0.06% at
  /// shape 0.01 and about half the time at 0.001. dirichlet() works in log
  /// space and has no such limit.
  double gamma(double shape);

  /// Returns k proportions drawn from the symmetric Dirichlet(alpha, ..., alpha)
  /// distribution: non-negative, summing to 1 up to rounding. Computed from
  /// the logarithms of gamma draws, so small alpha (even 1e-3) gives one large proportion
  /// and many near 0 without dividing 0 by 0. Returns an empty vector for
  /// k = 0 or an alpha that is not finite and positive.
  std::vector<double> dirichlet(double alpha, std::uint32_t k);

 private:
  double gamma_shape_at_least_one(double shape);
  // Returns ln of a Gamma(shape, 1) draw, finite even where the draw itself
  // would underflow to 0.
  double log_gamma_variate(double shape);

  std::uint64_t state_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

/// Shuffles values[0..count) in place with the Fisher-Yates algorithm, drawing
/// one uniform_below(i + 1) for i = count - 1 down to 1.
template <typename T>
void shuffle(T* values, std::size_t count, Rng* rng) {
  for (std::size_t i = count; i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng->uniform_below(i));
    std::swap(values[i - 1], values[j]);
  }
}

/// Shuffles a whole vector in place; see shuffle(T*, std::size_t, Rng*).
template <typename T>
void shuffle(std::vector<T>* values, Rng* rng) {
  shuffle(values->data(), values->size(), rng);
}

/// Returns the natural logarithm of x from frexp and IEEE-754 basic
/// operations only, so the result is bit-identical on every platform.
/// random_test.cc checks it against the C library's log to within 1 ulp for
/// inputs from 2^-1000 to 2^1000 and near 1. Returns -Inf for +-0, +Inf for
/// +Inf and NaN for negative or NaN input.
double portable_log(double x);

/// Returns e^x, computed like portable_log() and tested the same way against
/// the C library's exp for |x| <= 745. Returns +Inf above about 709.78 and 0
/// below about -745.13.
double portable_exp(double x);

}  // namespace ecq::data
