#include "ecq/data/random.h"

#include <cmath>
#include <limits>

namespace ecq::data {
namespace {

// ln 2 split so that k * kLn2High is exact for |k| < 2^20 and
// kLn2High + kLn2Low is ln 2 to about 2^-86.
constexpr double kLn2High = 0x1.62e42fee00000p-1;
constexpr double kLn2Low = 0x1.a39ef35793c76p-33;
constexpr double kInverseLn2 = 0x1.71547652b82fep+0;
constexpr double kSqrtHalf = 0x1.6a09e667f3bcdp-1;

// e^x overflows above ln(DBL_MAX) and underflows to 0 below
// ln(smallest subnormal / 2).
constexpr double kExpOverflow = 709.782712893383973;
constexpr double kExpUnderflow = -745.133219101941108;

// Returns R(s) = 2 (s^2/3 + s^4/5 + ... + s^24/25) for |s| <= 0.1716, so that
// ln((1 + s) / (1 - s)) = 2s + s R(s). The first omitted term, 2 s^26 / 27,
// is below 2^-66.
double atanh_remainder(double s) {
  const double s2 = s * s;
  double series = 2.0 / 25.0;
  for (int odd = 23; odd >= 3; odd -= 2) {
    series = series * s2 + 2.0 / odd;
  }
  return s2 * series;
}

// Returns e^r for |r| <= ln(2) / 2 from its Taylor series cut after r^17,
// where the next term is below 2^-80.
double exp_reduced(double r) {
  double series = 1.0;
  for (int power = 17; power >= 1; --power) {
    series = 1.0 + series * r / power;
  }
  return series;
}

}  // namespace

double portable_log(double x) {
  if (std::isnan(x) || x < 0.0) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (x == 0.0) {
    return -std::numeric_limits<double>::infinity();
  }
  if (std::isinf(x)) {
    return x;
  }
  // x = (1 + f) 2^e with 1 + f in [sqrt(1/2), sqrt(2)), so ln x = e ln 2 +
  // ln(1 + f). With s = f / (2 + f), ln(1 + f) = 2 atanh(s)
  // = f - (f^2/2 - s (f^2/2 + R(s))), where f is exact and the terms after it
  // are small corrections, which keeps the rounding error below 1 ulp.
  int exponent = 0;
  double mantissa = std::frexp(x, &exponent);
  if (mantissa < kSqrtHalf) {
    mantissa *= 2.0;
    exponent -= 1;
  }
  const double f = mantissa - 1.0;
  const double s = f / (2.0 + f);
  const double half_f2 = 0.5 * f * f;
  const double e = exponent;
  const double correction = half_f2 - (s * (half_f2 + atanh_remainder(s)) + e * kLn2Low);
  return e * kLn2High - (correction - f);
}

double portable_exp(double x) {
  if (std::isnan(x)) {
    return x;
  }
  if (x > kExpOverflow) {
    return std::numeric_limits<double>::infinity();
  }
  if (x < kExpUnderflow) {
    return 0.0;
  }
  // x = k ln 2 + r with |r| <= ln(2) / 2, so e^x = 2^k e^r.
  const double k = std::floor(x * kInverseLn2 + 0.5);
  const double r = (x - k * kLn2High) - k * kLn2Low;
  return std::ldexp(exp_reduced(r), static_cast<int>(k));
}

std::uint64_t Rng::next_u64() {
  state_ += 0x9E3779B97F4A7C15u;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

std::uint64_t Rng::uniform_below(std::uint64_t n) {
  if (n <= 1) {
    return 0;
  }
  // 2^64 mod n: outputs below it belong to the incomplete block.
  const std::uint64_t threshold = (0 - n) % n;
  for (;;) {
    const std::uint64_t bits = next_u64();
    if (bits >= threshold) {
      return bits % n;
    }
  }
}

double Rng::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  double u = 0.0;
  double v = 0.0;
  double s = 0.0;
  do {
    u = 2.0 * uniform() - 1.0;
    v = 2.0 * uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double factor = std::sqrt(-2.0 * portable_log(s) / s);
  spare_normal_ = v * factor;
  has_spare_normal_ = true;
  return u * factor;
}

double Rng::gamma_shape_at_least_one(double shape) {
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0.0;
    double v = 0.0;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform();
    const double x2 = x * x;
    // The squeeze test accepts most draws without a logarithm.
    if (u < 1.0 - 0.0331 * x2 * x2) {
      return d * v;
    }
    if (portable_log(u) < 0.5 * x2 + d * (1.0 - v + portable_log(v))) {
      return d * v;
    }
  }
}

double Rng::log_gamma_variate(double shape) {
  if (shape >= 1.0) {
    return portable_log(gamma_shape_at_least_one(shape));
  }
  // Gamma(a) = Gamma(a + 1) * U^(1/a) for U uniform on (0, 1].
  const double log_boosted = portable_log(gamma_shape_at_least_one(shape + 1.0));
  const double open_uniform = 1.0 - uniform();
  return log_boosted + portable_log(open_uniform) / shape;
}

double Rng::gamma(double shape) {
  if (!(shape > 0.0) || std::isinf(shape)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (shape >= 1.0) {
    return gamma_shape_at_least_one(shape);
  }
  const double boosted = gamma_shape_at_least_one(shape + 1.0);
  const double open_uniform = 1.0 - uniform();
  return boosted * portable_exp(portable_log(open_uniform) / shape);
}

std::vector<double> Rng::dirichlet(double alpha, std::uint32_t k) {
  std::vector<double> proportions;
  if (k == 0 || !(alpha > 0.0) || std::isinf(alpha)) {
    return proportions;
  }
  proportions.resize(k);
  double max_log = -std::numeric_limits<double>::infinity();
  for (double& value : proportions) {
    value = log_gamma_variate(alpha);
    max_log = std::fmax(max_log, value);
  }
  // Scaling every draw by e^-max_log leaves the proportions unchanged and
  // keeps the largest term at 1, so the sum never underflows.
  double sum = 0.0;
  for (double& value : proportions) {
    value = portable_exp(value - max_log);
    sum += value;
  }
  for (double& value : proportions) {
    value /= sum;
  }
  return proportions;
}

}  // namespace ecq::data
