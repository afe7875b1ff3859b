#include "ecq/coordinator/aggregation.h"

#include <cmath>

#include "ecq/runtime/payload.h"

namespace ecq::coordinator {

float update_weight(std::uint32_t samples_used, std::uint32_t weight_cap) {
  const std::uint32_t capped = weight_cap != 0 && samples_used > weight_cap ? weight_cap : samples_used;
  return static_cast<float>(capped);
}

void Aggregator::init(std::uint32_t dimension) {
  dimension_ = dimension;
  decoded_.assign(dimension, 0.0f);
  sum_.assign(dimension, 0.0);
}

double Aggregator::decoded_norm(Span<const std::uint8_t> payload) {
  DecodeLimits limits;
  limits.expected_dimension = dimension_;
  PayloadView view;
  if (validate_payload(payload, limits, &view) != Status::kOk ||
      decode_payload(view, Span<float>(decoded_.data(), decoded_.size())) != Status::kOk) {
    return -1.0;
  }
  double squares = 0.0;
  for (const float value : decoded_) {
    squares += static_cast<double>(value) * static_cast<double>(value);
  }
  return std::sqrt(squares);
}

bool Aggregator::apply(const std::vector<AcceptedUpdate>& updates, float server_learning_rate, float momentum,
                       ModelState* state, std::string* error) {
  if (state->model.size() != dimension_ || state->velocity.size() != dimension_) {
    *error = "model state has " + std::to_string(state->model.size()) + " parameters, expected " +
             std::to_string(dimension_);
    return false;
  }
  std::fill(sum_.begin(), sum_.end(), 0.0);
  double total_weight = 0.0;
  DecodeLimits limits;
  limits.expected_dimension = dimension_;
  for (const AcceptedUpdate& update : updates) {
    PayloadView view;
    if (validate_payload(Span<const std::uint8_t>(update.payload.data(), update.payload.size()), limits, &view) !=
            Status::kOk ||
        decode_payload(view, Span<float>(decoded_.data(), decoded_.size())) != Status::kOk) {
      *error = "update " + std::to_string(update.update_id) + " of device " + update.device_id +
               " does not validate for dimension " + std::to_string(dimension_);
      return false;
    }
    const double factor = static_cast<double>(update.weight) * static_cast<double>(update.scale);
    for (std::uint32_t i = 0; i < dimension_; ++i) {
      sum_[i] += factor * static_cast<double>(decoded_[i]);
    }
    total_weight += static_cast<double>(update.weight);
  }
  if (!(total_weight > 0.0)) {
    *error = "the round's total weight is 0";
    return false;
  }
  for (std::uint32_t i = 0; i < dimension_; ++i) {
    const auto average = static_cast<float>(sum_[i] / total_weight);
    state->velocity[i] = momentum * state->velocity[i] + average;
    state->model[i] = state->model[i] - server_learning_rate * state->velocity[i];
  }
  ++state->model_version;
  return true;
}

}  // namespace ecq::coordinator
