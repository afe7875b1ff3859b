#pragma once
// Settings and derived quantities of the stochastic uniform quantizer Q_s of
// J. Wu, W. Huang, J. Huang, T. Zhang, "Error Compensated Quantized SGD and its
// Applications to Large-scale Distributed Optimization", ICML 2018, in the
// style of QSGD (D. Alistarh et al., NeurIPS 2017).
//
// A vector is cut into buckets of `bucket_size` consecutive elements (the last
// bucket keeps its true, shorter length). Each bucket v is sent as one fp32
// scale ||v|| plus, per element, a signed level in [-s, s]:
//   q_i = ||v|| * sgn(v_i) * level_i / s,
// where level_i is floor(s |v_i| / ||v||) rounded up with probability equal to
// the fractional part, so E[q_i] = v_i.

#include <cstdint>

#include "ecq/runtime/status.h"

namespace ecq {

/// Norm that scales each bucket.
enum class NormKind : std::uint8_t { kL2 = 0, kLinf = 1 };

constexpr std::uint32_t kMinLevels = 1;
constexpr std::uint32_t kMaxLevels = 127;

struct QuantizerConfig {
  std::uint32_t bucket_size = 512;  ///< elements per bucket, >= 1
  std::uint32_t levels = 4;         ///< s, the number of non-zero levels, 1 to 127
  NormKind norm = NormKind::kL2;
};

/// Returns kOk when bucket_size >= 1 and levels is in [1, 127], and fills
/// `error` otherwise.
[[nodiscard]] Status validate_quantizer(const QuantizerConfig& config, ErrorInfo* error = nullptr);

/// Returns ceil(log2(2s + 1)): the fixed-width size of one symbol in bits
/// (2 for s = 1, 8 for s = 127).
std::uint32_t bits_per_symbol(std::uint32_t levels);

/// Returns gamma, an upper bound on the quantizer's relative variance:
/// E||Q(v) - v||^2 <= gamma ||v||^2 for every bucket v, with b the bucket
/// size and s the number of levels.
///
/// Element i has variance (M/s)^2 p_i (1 - p_i), where M is the bucket scale
/// and p_i the fractional part of s|v_i|/M. Two bounds on p(1 - p) give:
///   p(1 - p) <= 1/4             ->  sum <= b M^2 / (4 s^2)
///   p(1 - p) <= s|v_i| / M      ->  sum <= (M/s) ||v||_1 <= (M/s) sqrt(b) ||v||_2
/// With M <= ||v||_2, true for both l2 (M = ||v||_2) and l-infinity
/// (M = max|v_i|) scaling, gamma = min(b / (4 s^2), sqrt(b) / s). QSGD states
/// the looser min(b / s^2, sqrt(b) / s) for l2 scaling.
double variance_bound(const QuantizerConfig& config);

}  // namespace ecq
