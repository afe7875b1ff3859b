#pragma once
// Small models a device trains: linear, logistic and softmax regression and a
// one-hidden-layer ReLU network. Each reads its parameters from one flat
// float vector that the caller owns, and writes its gradient to another, so
// the compressor can take the gradient as it is.
//
// Parameter layout (row-major matrices, then biases):
//   kLinear, kLogistic: w[inputs], then b if `bias`
//   kSoftmax:           W[classes][inputs], then b[classes] if `bias`
//   kMlp:               W1[hidden][inputs], b1[hidden], W2[classes][hidden], b2[classes]
//
// Losses are means over the batch: half the squared error for kLinear,
// cross-entropy for the others (computed from logits without overflow).

#include <cstddef>
#include <cstdint>

#include "ecq/runtime/span.h"
#include "ecq/runtime/status.h"

namespace ecq {

enum class ModelKind : std::uint8_t { kLinear = 0, kLogistic = 1, kSoftmax = 2, kMlp = 3 };

/// Returns "linear", "logistic", "softmax" or "mlp".
const char* model_kind_name(ModelKind kind);

/// Parses a name as model_kind_name() spells it; false for any other text.
bool parse_model_kind(const char* name, ModelKind* kind);

struct ModelShape {
  ModelKind kind = ModelKind::kSoftmax;
  std::uint32_t inputs = 0;   ///< features per sample, >= 1
  std::uint32_t classes = 2;  ///< kSoftmax and kMlp: >= 2; ignored otherwise
  std::uint32_t hidden = 0;   ///< kMlp: hidden units, >= 1; ignored otherwise
  bool bias = true;           ///< kMlp always has biases
};

/// Returns kOk when the shape is complete and its parameter count fits in
/// 32 bits; fills `error` (found = the bad field's value) otherwise.
[[nodiscard]] Status validate_shape(const ModelShape& shape, ErrorInfo* error = nullptr);

/// Returns the number of parameters, or 0 for an invalid shape.
std::uint32_t parameter_count(const ModelShape& shape);

/// A minibatch in caller-owned memory. `features` contains rows x inputs floats,
/// row-major. kLinear reads `targets` (any finite value), kLogistic reads
/// `targets` (0 or 1), kSoftmax and kMlp read `labels` (0 to classes - 1).
struct Batch {
  const float* features = nullptr;
  const float* targets = nullptr;
  const std::int32_t* labels = nullptr;
  std::uint32_t rows = 0;
};

/// Loss and accuracy over a batch. `correct` counts samples whose predicted
/// class (or, for kLogistic, p >= 0.5) matches; it is 0 for kLinear.
struct Evaluation {
  double loss = 0.0;
  std::uint32_t correct = 0;
  std::uint32_t rows = 0;
};

/// Computes losses and gradients for one shape. Its scratch (activations for
/// up to `max_rows` samples) comes from a caller-given arena at init(), so no
/// call after init() allocates.
class Model {
 public:
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  /// Returns the arena bytes init() needs, or 0 for an invalid shape or
  /// max_rows of 0.
  static std::size_t required_arena_bytes(const ModelShape& shape, std::uint32_t max_rows);

  /// Validates the shape and carves the scratch from `arena`, which must stay
  /// valid and otherwise unused for the life of this object.
  [[nodiscard]] Status init(const ModelShape& shape, std::uint32_t max_rows, Span<std::uint8_t> arena);

  /// Writes the gradient of the mean batch loss at `parameters` into
  /// `gradient` and stores the loss in *loss (may be null). Fails with
  /// kInvalidArgument for wrong sizes, an empty batch, more than max_rows rows
  /// or a label out of range (last_error().position = row), and with
  /// kNonFiniteInput when the loss is NaN or Inf (then `gradient` is
  /// unspecified).
  [[nodiscard]] Status gradient(Span<const float> parameters, const Batch& batch, Span<float> gradient,
                                double* loss = nullptr);

  /// Computes loss and accuracy without a gradient. Batches of any size are
  /// fine: they are processed max_rows rows at a time.
  [[nodiscard]] Status evaluate(Span<const float> parameters, const Batch& batch, Evaluation* result);

  /// Writes a seeded initialization: zeros for the regressions and softmax;
  /// He-normal weights (standard deviation sqrt(2 / fan_in)) and zero biases
  /// for kMlp.
  void initialize(Span<float> parameters, std::uint64_t seed) const;

  const ModelShape& shape() const { return shape_; }
  std::uint32_t size() const { return parameter_count(shape_); }
  std::uint32_t max_rows() const { return max_rows_; }
  const ErrorInfo& last_error() const { return last_error_; }

 private:
  Status fail(Status status, std::uint64_t position = 0, double found = 0.0, double limit = 0.0,
              const char* subject = nullptr);
  Status check_batch(Span<const float> parameters, const Batch& batch, std::uint32_t rows_limit);
  // Runs the forward pass (and the backward pass when gradient != nullptr)
  // on at most max_rows rows; adds the summed loss to *loss_sum and the
  // number of correct predictions to *correct.
  void run(const float* parameters, const Batch& batch, float* gradient, double* loss_sum, std::uint32_t* correct);

  ModelShape shape_;
  std::uint32_t max_rows_ = 0;
  bool initialized_ = false;
  float* scratch_ = nullptr;  // activations, see required_arena_bytes()
  ErrorInfo last_error_;
};

}  // namespace ecq
