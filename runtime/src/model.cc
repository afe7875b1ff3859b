#include "ecq/runtime/model.h"

#include <cmath>
#include <cstring>
#include <initializer_list>

#include "bits.h"
#include "dense.h"
#include "ecq/runtime/philox.h"

namespace ecq {
namespace {

constexpr std::size_t kArenaAlignment = 64;

bool is_classifier(ModelKind kind) { return kind == ModelKind::kSoftmax || kind == ModelKind::kMlp; }

std::uint64_t parameter_count_wide(const ModelShape& shape) {
  const std::uint64_t inputs = shape.inputs;
  const std::uint64_t classes = shape.classes;
  const std::uint64_t hidden = shape.hidden;
  switch (shape.kind) {
    case ModelKind::kLinear:
    case ModelKind::kLogistic: return inputs + (shape.bias ? 1 : 0);
    case ModelKind::kSoftmax: return classes * inputs + (shape.bias ? classes : 0);
    case ModelKind::kMlp: return hidden * inputs + hidden + classes * hidden + classes;
  }
  return 0;
}

// Floats of scratch per batch row: residuals, logits or hidden activations.
std::uint64_t scratch_per_row(const ModelShape& shape) {
  switch (shape.kind) {
    case ModelKind::kLinear:
    case ModelKind::kLogistic: return 1;
    case ModelKind::kSoftmax: return shape.classes;
    case ModelKind::kMlp: return 2ull * shape.hidden + shape.classes;
  }
  return 0;
}

void scale(float* values, std::size_t count, float factor) {
  for (std::size_t i = 0; i < count; ++i) {
    values[i] *= factor;
  }
}

// Numerically stable log(1 + exp(x)).
double softplus(double x) { return x > 0.0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// NOTE: std::exp and std::log come from the C library, and glibc and newlib
// may differ in the last bit of a double. The float results differ only when
// that bit crosses a float rounding step, so cross-platform identity of the
// gradient rests on the pinned golden case, not on a proof.
// Turns row i of `logits` into softmax probabilities minus the one-hot label
// (the gradient of the cross-entropy in the logits) and returns the row's
// cross-entropy. Counts a correct argmax in *correct.
double softmax_row(float* logits, std::uint32_t classes, std::int32_t label, std::uint32_t* correct) {
  std::uint32_t best = 0;
  for (std::uint32_t k = 1; k < classes; ++k) {
    best = logits[k] > logits[best] ? k : best;
  }
  const double top = logits[best];
  double sum = 0.0;
  for (std::uint32_t k = 0; k < classes; ++k) {
    sum += std::exp(static_cast<double>(logits[k]) - top);
  }
  const double log_sum = top + std::log(sum);
  const double loss = log_sum - static_cast<double>(logits[label]);
  for (std::uint32_t k = 0; k < classes; ++k) {
    logits[k] = static_cast<float>(std::exp(static_cast<double>(logits[k]) - log_sum));
  }
  logits[label] -= 1.0f;
  *correct += best == static_cast<std::uint32_t>(label) ? 1u : 0u;
  return loss;
}

}  // namespace

const char* model_kind_name(ModelKind kind) {
  switch (kind) {
    case ModelKind::kLinear: return "linear";
    case ModelKind::kLogistic: return "logistic";
    case ModelKind::kSoftmax: return "softmax";
    case ModelKind::kMlp: return "mlp";
  }
  return "unknown";
}

bool parse_model_kind(const char* name, ModelKind* kind) {
  for (ModelKind candidate : {ModelKind::kLinear, ModelKind::kLogistic, ModelKind::kSoftmax, ModelKind::kMlp}) {
    if (std::strcmp(name, model_kind_name(candidate)) == 0) {
      *kind = candidate;
      return true;
    }
  }
  return false;
}

Status validate_shape(const ModelShape& shape, ErrorInfo* error) {
  ErrorInfo found;
  if (shape.kind > ModelKind::kMlp) {
    found = ErrorInfo{Status::kInvalidArgument, 0, static_cast<double>(shape.kind), 0,
                      "model kind must be kLinear, kLogistic, kSoftmax or kMlp"};
  } else if (shape.inputs == 0) {
    found = ErrorInfo{Status::kInvalidArgument, 0, 0, 0, "model inputs must be at least 1"};
  } else if (is_classifier(shape.kind) && shape.classes < 2) {
    found = ErrorInfo{Status::kInvalidArgument, 0, static_cast<double>(shape.classes), 0,
                      "model classes must be at least 2 for softmax and mlp"};
  } else if (shape.kind == ModelKind::kMlp && shape.hidden == 0) {
    found = ErrorInfo{Status::kInvalidArgument, 0, 0, 0, "model hidden units must be at least 1 for mlp"};
  } else if (parameter_count_wide(shape) > UINT32_MAX) {
    found = ErrorInfo{Status::kInvalidArgument, 0, static_cast<double>(parameter_count_wide(shape)), 0,
                      "model parameter count must fit in 32 bits"};
  }
  if (error != nullptr) {
    *error = found;
  }
  return found.status;
}

std::uint32_t parameter_count(const ModelShape& shape) {
  return validate_shape(shape) == Status::kOk ? static_cast<std::uint32_t>(parameter_count_wide(shape)) : 0;
}

std::size_t Model::required_arena_bytes(const ModelShape& shape, std::uint32_t max_rows) {
  if (validate_shape(shape) != Status::kOk || max_rows == 0) {
    return 0;
  }
  const std::uint64_t bytes = sizeof(float) * scratch_per_row(shape) * max_rows + kArenaAlignment - 1;
  return bytes > SIZE_MAX ? 0 : static_cast<std::size_t>(bytes);
}

Status Model::fail(Status status, std::uint64_t position, double found, double limit, const char* subject) {
  last_error_ = ErrorInfo{status, position, found, limit, subject};
  return status;
}

Status Model::init(const ModelShape& shape, std::uint32_t max_rows, Span<std::uint8_t> arena) {
  initialized_ = false;
  ErrorInfo shape_error;
  if (validate_shape(shape, &shape_error) != Status::kOk) {
    last_error_ = shape_error;
    return shape_error.status;
  }
  if (max_rows == 0) {
    return fail(Status::kInvalidArgument, 0, 0, 0, "max_rows must be at least 1");
  }
  const std::size_t needed = required_arena_bytes(shape, max_rows);
  if (needed == 0 || arena.data() == nullptr || arena.size() < needed) {
    return fail(Status::kBufferTooSmall, 0, static_cast<double>(arena.size()), static_cast<double>(needed), "arena");
  }
  const auto address = reinterpret_cast<std::uintptr_t>(arena.data());
  scratch_ = detail::arena_array<float>(arena.data() + (kArenaAlignment - address % kArenaAlignment) % kArenaAlignment);
  shape_ = shape;
  max_rows_ = max_rows;
  initialized_ = true;
  last_error_ = ErrorInfo{};
  return Status::kOk;
}

Status Model::check_batch(Span<const float> parameters, const Batch& batch, std::uint32_t rows_limit) {
  if (!initialized_) {
    return fail(Status::kNotInitialized);
  }
  if (parameters.size() != size() || parameters.data() == nullptr) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(parameters.size()), size(),
                "parameters must have parameter_count(shape) elements");
  }
  if (batch.features == nullptr) {
    return fail(Status::kInvalidArgument, 0, 0, 0, "batch features must not be null");
  }
  if (batch.rows == 0 || batch.rows > rows_limit) {
    return fail(Status::kInvalidArgument, 0, batch.rows, rows_limit, "batch rows must be 1 to max_rows");
  }
  if (is_classifier(shape_.kind)) {
    if (batch.labels == nullptr) {
      return fail(Status::kInvalidArgument, 0, 0, 0, "batch labels must not be null for softmax and mlp");
    }
    for (std::uint32_t row = 0; row < batch.rows; ++row) {
      if (batch.labels[row] < 0 || static_cast<std::uint32_t>(batch.labels[row]) >= shape_.classes) {
        (void)fail(Status::kInvalidArgument, row, batch.labels[row], 0, "batch label must be 0 to classes - 1");
        last_error_.indexed = true;
        return Status::kInvalidArgument;
      }
    }
  } else if (batch.targets == nullptr) {
    return fail(Status::kInvalidArgument, 0, 0, 0, "batch targets must not be null for linear and logistic");
  }
  return Status::kOk;
}

void Model::run(const float* parameters, const Batch& batch, float* gradient, double* loss_sum,
                std::uint32_t* correct) {
  const std::size_t n = batch.rows;
  const std::size_t d = shape_.inputs;
  const float* x = batch.features;
  const float inverse_rows = 1.0f / static_cast<float>(batch.rows);

  if (shape_.kind == ModelKind::kLinear || shape_.kind == ModelKind::kLogistic) {
    const float* w = parameters;
    const float b = shape_.bias ? parameters[d] : 0.0f;
    float* residual = scratch_;
    detail::multiply_transposed(x, n, d, w, 1, nullptr, residual);
    for (std::size_t i = 0; i < n; ++i) {
      const double z = static_cast<double>(residual[i]) + static_cast<double>(b);
      const double y = static_cast<double>(batch.targets[i]);
      if (shape_.kind == ModelKind::kLinear) {
        *loss_sum += 0.5 * (z - y) * (z - y);
        residual[i] = static_cast<float>(z - y);
      } else {
        *loss_sum += softplus(z) - y * z;
        const double p = z >= 0.0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
        *correct += (p >= 0.5) == (y >= 0.5) ? 1u : 0u;
        residual[i] = static_cast<float>(p - y);
      }
    }
    if (gradient != nullptr) {
      scale(residual, n, inverse_rows);
      // gradient = x^T residual, and the bias gradient is the residuals' sum.
      detail::multiply(residual, 1, 1, x, 1, n, d, gradient);
      if (shape_.bias) {
        detail::sum_rows(residual, n, 1, gradient + d);
      }
    }
    return;
  }

  const std::size_t c = shape_.classes;
  if (shape_.kind == ModelKind::kSoftmax) {
    const float* weights = parameters;
    float* logits = scratch_;
    detail::multiply_transposed(x, n, d, weights, c, shape_.bias ? parameters + c * d : nullptr, logits);
    for (std::size_t i = 0; i < n; ++i) {
      *loss_sum += softmax_row(logits + i * c, shape_.classes, batch.labels[i], correct);
    }
    if (gradient != nullptr) {
      scale(logits, n * c, inverse_rows);
      // gradient W = logits^T x, and the bias gradient sums the logits' rows.
      detail::multiply(logits, 1, c, x, c, n, d, gradient);
      if (shape_.bias) {
        detail::sum_rows(logits, n, c, gradient + c * d);
      }
    }
    return;
  }

  // kMlp: hidden = relu(x W1^T + b1), logits = hidden W2^T + b2.
  const std::size_t h = shape_.hidden;
  const float* w1 = parameters;
  const float* b1 = parameters + h * d;
  const float* w2 = parameters + h * d + h;
  const float* b2 = parameters + h * d + h + c * h;
  float* hidden = scratch_;
  float* logits = scratch_ + n * h;
  detail::multiply_transposed(x, n, d, w1, h, b1, hidden);
  for (std::size_t k = 0; k < n * h; ++k) {
    hidden[k] = hidden[k] > 0.0f ? hidden[k] : 0.0f;
  }
  detail::multiply_transposed(hidden, n, h, w2, c, b2, logits);
  for (std::size_t i = 0; i < n; ++i) {
    *loss_sum += softmax_row(logits + i * c, shape_.classes, batch.labels[i], correct);
  }
  if (gradient == nullptr) {
    return;
  }
  scale(logits, n * c, inverse_rows);
  // hidden_gradient = (logits W2) where the ReLU was active, 0 elsewhere.
  float* hidden_gradient = scratch_ + n * h + n * c;
  detail::multiply(logits, c, 1, w2, n, c, h, hidden_gradient);
  for (std::size_t k = 0; k < n * h; ++k) {
    hidden_gradient[k] = hidden[k] > 0.0f ? hidden_gradient[k] : 0.0f;
  }
  detail::multiply(logits, 1, c, hidden, c, n, h, gradient + h * d + h);
  detail::sum_rows(logits, n, c, gradient + h * d + h + c * h);
  detail::multiply(hidden_gradient, 1, h, x, h, n, d, gradient);
  detail::sum_rows(hidden_gradient, n, h, gradient + h * d);
}

Status Model::gradient(Span<const float> parameters, const Batch& batch, Span<float> gradient, double* loss) {
  const Status checked = check_batch(parameters, batch, max_rows_);
  if (checked != Status::kOk) {
    return checked;
  }
  if (gradient.size() != size() || gradient.data() == nullptr) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(gradient.size()), size(),
                "gradient must have parameter_count(shape) elements");
  }
  double loss_sum = 0.0;
  std::uint32_t correct = 0;
  run(parameters.data(), batch, gradient.data(), &loss_sum, &correct);
  const double mean = loss_sum / batch.rows;
  if (!std::isfinite(mean)) {
    return fail(Status::kNonFiniteInput, 0, mean, 0.0, "loss of the batch starting at row");
  }
  if (loss != nullptr) {
    *loss = mean;
  }
  last_error_ = ErrorInfo{};
  return Status::kOk;
}

Status Model::evaluate(Span<const float> parameters, const Batch& batch, Evaluation* result) {
  const Status checked = check_batch(parameters, batch, UINT32_MAX);
  if (checked != Status::kOk) {
    return checked;
  }
  double loss_sum = 0.0;
  std::uint32_t correct = 0;
  for (std::uint32_t first = 0; first < batch.rows; first += max_rows_) {
    Batch part = batch;
    part.rows = batch.rows - first < max_rows_ ? batch.rows - first : max_rows_;
    part.features = batch.features + static_cast<std::size_t>(first) * shape_.inputs;
    part.targets = batch.targets != nullptr ? batch.targets + first : nullptr;
    part.labels = batch.labels != nullptr ? batch.labels + first : nullptr;
    run(parameters.data(), part, nullptr, &loss_sum, &correct);
  }
  if (result != nullptr) {
    *result = Evaluation{loss_sum / batch.rows, correct, batch.rows};
  }
  if (!std::isfinite(loss_sum)) {
    return fail(Status::kNonFiniteInput, 0, loss_sum, 0.0, "loss of the rows starting at row");
  }
  return Status::kOk;
}

void Model::initialize(Span<float> parameters, std::uint64_t seed) const {
  std::memset(parameters.data(), 0, parameters.size() * sizeof(float));
  if (shape_.kind != ModelKind::kMlp || parameters.size() != size()) {
    return;
  }
  // Box-Muller on Philox uniforms: weights of layer 1 then layer 2.
  const std::uint32_t first_layer = shape_.hidden * shape_.inputs;
  const std::uint32_t second_layer_start = first_layer + shape_.hidden;
  const std::uint32_t second_layer = shape_.classes * shape_.hidden;
  const StreamKey key{seed, 0, 0};
  auto normal = [&key](std::uint32_t index) {
    const PhiloxBlock block = stream_block(key, index);
    const double u1 = (static_cast<double>(block.word[0]) + 1.0) * 0x1.0p-32;
    const double u2 = static_cast<double>(block.word[1]) * 0x1.0p-32;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  };
  const double first_scale = std::sqrt(2.0 / shape_.inputs);
  for (std::uint32_t i = 0; i < first_layer; ++i) {
    parameters[i] = static_cast<float>(first_scale * normal(i));
  }
  const double second_scale = std::sqrt(2.0 / shape_.hidden);
  for (std::uint32_t i = 0; i < second_layer; ++i) {
    parameters[second_layer_start + i] = static_cast<float>(second_scale * normal(first_layer + i));
  }
}

}  // namespace ecq
