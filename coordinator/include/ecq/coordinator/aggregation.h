#pragma once
// The aggregation rule of docs/protocol.md: each decoded update u_i is
// clipped to the norm bound, weighted by w_i = min(samples used, weight cap)
// and averaged, a = sum(w_i u_i) / sum(w_i); the server optimizer then steps
// m = momentum * m + a, w = w - server learning rate * m.
//
// Arithmetic: the weighted sum is accumulated in double in arrival order,
// everything else is fp32, so replaying the same updates in the same order
// gives the same model bytes.

#include <cstdint>
#include <string>
#include <vector>

#include "ecq/runtime/span.h"

namespace ecq::coordinator {

enum class NormBoundAction : std::uint8_t { kClip, kReject };

struct AggregationConfig {
  float server_learning_rate = 1.0f;  ///< finite, > 0
  float momentum = 0.0f;              ///< 0 to < 1
  std::uint32_t weight_cap = 0;       ///< cap on samples used as a weight; 0 = no cap
  double norm_bound = 0.0;            ///< l2 bound on each decoded update; 0 = none
  NormBoundAction norm_bound_action = NormBoundAction::kClip;
};

/// A validated update waiting for its round to close.
struct AcceptedUpdate {
  std::string device_id;
  std::uint64_t update_id = 0;
  std::uint32_t samples_used = 0;
  float weight = 0.0f;  ///< min(samples used, weight cap)
  float scale = 1.0f;   ///< clip factor, bound / norm, or 1
  std::vector<std::uint8_t> payload;
};

/// The global model and the server optimizer's state.
struct ModelState {
  std::vector<float> model;
  std::vector<float> velocity;  ///< momentum buffer m
  std::uint64_t model_version = 0;  ///< applied rounds since initialization
  std::uint32_t last_round_id = 0;  ///< id of the last applied round, 0 before any
};

/// Returns w_i = min(samples, cap), or samples when cap is 0.
float update_weight(std::uint32_t samples_used, std::uint32_t weight_cap);

/// Applies rounds to a ModelState. Keeps a decode buffer and a double
/// accumulator of the model's dimension.
class Aggregator {
 public:
  void init(std::uint32_t dimension);

  /// Decodes a payload into the scratch buffer and returns its l2 norm, or
  /// a negative value when the payload does not validate for this dimension.
  double decoded_norm(Span<const std::uint8_t> payload);

  /// Adds the updates in order and steps the optimizer; increments
  /// model_version. Fails without changing `state` when an update does not
  /// validate or the total weight is 0.
  bool apply(const std::vector<AcceptedUpdate>& updates, float server_learning_rate, float momentum,
             ModelState* state, std::string* error);

 private:
  std::uint32_t dimension_ = 0;
  std::vector<float> decoded_;
  std::vector<double> sum_;
};

}  // namespace ecq::coordinator
