#include "ecq/runtime/trainer.h"

#include <cmath>
#include <cstring>

#include "bits.h"

namespace ecq {
namespace {

constexpr std::size_t kAlignment = 64;

std::size_t aligned_floats(std::uint32_t count) {
  return (sizeof(float) * count + kAlignment - 1) / kAlignment * kAlignment;
}

}  // namespace

std::size_t LocalTrainer::required_arena_bytes(const ModelShape& shape, std::uint32_t max_rows) {
  const std::size_t model_bytes = Model::required_arena_bytes(shape, max_rows);
  if (model_bytes == 0) {
    return 0;
  }
  return model_bytes + kAlignment + 2 * aligned_floats(parameter_count(shape));
}

Status LocalTrainer::init(const ModelShape& shape, std::uint32_t max_rows, Span<std::uint8_t> arena) {
  initialized_ = false;
  const std::size_t needed = required_arena_bytes(shape, max_rows);
  if (needed == 0) {
    ErrorInfo error;
    const Status invalid = validate_shape(shape, &error);
    return invalid != Status::kOk ? invalid : Status::kInvalidArgument;
  }
  if (arena.data() == nullptr || arena.size() < needed) {
    return Status::kBufferTooSmall;
  }
  const std::size_t model_bytes = Model::required_arena_bytes(shape, max_rows);
  const Status status = model_.init(shape, max_rows, arena.subspan(0, model_bytes));
  if (status != Status::kOk) {
    return status;
  }
  std::uint8_t* cursor = arena.data() + model_bytes;
  cursor += (kAlignment - reinterpret_cast<std::uintptr_t>(cursor) % kAlignment) % kAlignment;
  working_ = detail::arena_array<float>(cursor);
  gradient_ = detail::arena_array<float>(cursor + aligned_floats(parameter_count(shape)));
  initialized_ = true;
  return Status::kOk;
}

Status LocalTrainer::compute_gradient(Span<const float> parameters, const Batch& batch, Span<float> gradient,
                                      double* loss) {
  if (!initialized_) {
    return Status::kNotInitialized;
  }
  return model_.gradient(parameters, batch, gradient, loss);
}

Status LocalTrainer::train_local(Span<const float> parameters, std::uint32_t steps, float learning_rate,
                                 const BatchSource& source, Span<float> delta, LocalResult* result) {
  if (!initialized_) {
    return Status::kNotInitialized;
  }
  const std::uint32_t size = model_.size();
  if (steps == 0 || !(learning_rate > 0.0f) || !std::isfinite(learning_rate) || source.next == nullptr ||
      parameters.size() != size || delta.size() != size) {
    return Status::kInvalidArgument;
  }
  std::memcpy(working_, parameters.data(), sizeof(float) * size);
  const Span<const float> working(working_, size);
  const Span<float> gradient(gradient_, size);
  double loss_sum = 0.0;
  for (std::uint32_t step = 0; step < steps; ++step) {
    Batch batch;
    Status status = source.next(source.context, &batch);
    if (status != Status::kOk) {
      return status;
    }
    double loss = 0.0;
    status = model_.gradient(working, batch, gradient, &loss);
    if (status != Status::kOk) {
      return status;
    }
    loss_sum += loss;
    for (std::uint32_t i = 0; i < size; ++i) {
      working_[i] -= learning_rate * gradient_[i];
    }
  }
  for (std::uint32_t i = 0; i < size; ++i) {
    delta[i] = parameters[i] - working_[i];
  }
  if (result != nullptr) {
    *result = LocalResult{loss_sum / steps, steps};
  }
  return Status::kOk;
}

}  // namespace ecq
