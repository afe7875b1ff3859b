#include "ecq/runtime/quantizer.h"

#include <algorithm>
#include <cmath>

namespace ecq {

Status validate_quantizer(const QuantizerConfig& config, ErrorInfo* error) {
  ErrorInfo found;
  if (config.bucket_size == 0) {
    found = ErrorInfo{Status::kInvalidArgument, 0, 0.0, 0.0, "quantizer bucket_size must be at least 1"};
  } else if (config.levels < kMinLevels || config.levels > kMaxLevels) {
    found = ErrorInfo{Status::kInvalidArgument, 0, static_cast<double>(config.levels), 0.0,
                      "quantizer levels s must be 1 to 127"};
  } else if (config.norm != NormKind::kL2 && config.norm != NormKind::kLinf) {
    found = ErrorInfo{Status::kInvalidArgument, 0, static_cast<double>(config.norm), 0.0,
                      "quantizer norm must be NormKind::kL2 (0) or NormKind::kLinf (1)"};
  }
  if (error != nullptr) {
    *error = found;
  }
  return found.status;
}

std::uint32_t bits_per_symbol(std::uint32_t levels) {
  const std::uint32_t alphabet = 2 * levels + 1;
  std::uint32_t bits = 1;
  while ((1u << bits) < alphabet) {
    ++bits;
  }
  return bits;
}

double variance_bound(const QuantizerConfig& config) {
  const auto b = static_cast<double>(config.bucket_size);
  const auto s = static_cast<double>(config.levels);
  return std::min(b / (4.0 * s * s), std::sqrt(b) / s);
}

}  // namespace ecq
