#pragma once
// Local minibatch SGD on a device. Two modes produce the update a device
// sends:
//   - one gradient per round at the global parameters (ECQ-SGD as published:
//     the coordinator averages gradients and steps);
//   - E local SGD steps from the global parameters, sending the model delta
//     w_start - w_end (FedAvg style). The coordinator applies the delta as a
//     gradient, so a server learning rate of 1 averages the local models.

#include <cstddef>
#include <cstdint>

#include "ecq/runtime/model.h"
#include "ecq/runtime/span.h"
#include "ecq/runtime/status.h"

namespace ecq {

/// Supplies minibatches during local training. `next` fills *batch; the
/// memory it points to must stay valid until the following call. A status
/// other than kOk stops training and is returned to the caller.
struct BatchSource {
  Status (*next)(void* context, Batch* batch) = nullptr;
  void* context = nullptr;
};

/// Mean training loss over the steps of one round.
struct LocalResult {
  double mean_loss = 0.0;
  std::uint32_t steps = 0;
};

class LocalTrainer {
 public:
  LocalTrainer() = default;
  LocalTrainer(const LocalTrainer&) = delete;
  LocalTrainer& operator=(const LocalTrainer&) = delete;

  /// Returns the arena bytes init() needs: the model's scratch plus two
  /// parameter-sized buffers (working parameters and gradient), or 0 for an
  /// invalid shape.
  static std::size_t required_arena_bytes(const ModelShape& shape, std::uint32_t max_rows);

  /// Sets up the model and carves every buffer from `arena`, which must stay
  /// valid and otherwise unused for the life of this object.
  [[nodiscard]] Status init(const ModelShape& shape, std::uint32_t max_rows, Span<std::uint8_t> arena);

  /// Writes the gradient of the batch loss at `parameters` (one ECQ-SGD
  /// step's update) and stores the loss in *loss (may be null).
  [[nodiscard]] Status compute_gradient(Span<const float> parameters, const Batch& batch, Span<float> gradient,
                                        double* loss = nullptr);

  /// Runs `steps` SGD steps of size `learning_rate` from `parameters` on
  /// batches from `source`, then writes delta = parameters - w_end. Fails
  /// with kInvalidArgument for steps of 0, a learning rate that is not finite
  /// and positive, or wrong sizes. Any failure of the model or the source is
  /// returned as it is, and `delta` is then unspecified.
  [[nodiscard]] Status train_local(Span<const float> parameters, std::uint32_t steps, float learning_rate,
                                   const BatchSource& source, Span<float> delta, LocalResult* result = nullptr);

  Model& model() { return model_; }
  const Model& model() const { return model_; }

 private:
  Model model_;
  float* working_ = nullptr;   // parameters during local steps
  float* gradient_ = nullptr;  // gradient of the current step
  bool initialized_ = false;
};

}  // namespace ecq
