#include "ecq/runtime/trainer.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

namespace ecq {
namespace {

// Cycles through a fixed set of batches of a noiseless linear problem.
struct LinearBatches {
  LinearBatches(std::uint32_t input_count, std::uint32_t row_count, std::uint32_t count)
      : inputs(input_count), rows(row_count) {
    std::mt19937 engine(17);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    truth.resize(inputs);
    for (float& w : truth) {
      w = normal(engine);
    }
    features.resize(static_cast<std::size_t>(count) * rows * inputs);
    targets.resize(static_cast<std::size_t>(count) * rows);
    for (std::size_t r = 0; r < targets.size(); ++r) {
      double y = 0.0;
      for (std::uint32_t j = 0; j < inputs; ++j) {
        features[r * inputs + j] = normal(engine);
        y += features[r * inputs + j] * truth[j];
      }
      targets[r] = static_cast<float>(y);
    }
    batches = count;
  }

  static Status next(void* context, Batch* batch) {
    auto* self = static_cast<LinearBatches*>(context);
    const std::size_t index = self->served++ % self->batches;
    *batch = Batch{self->features.data() + index * self->rows * self->inputs, self->targets.data() + index * self->rows,
                   nullptr, self->rows};
    return Status::kOk;
  }

  std::uint32_t inputs;
  std::uint32_t rows;
  std::uint32_t batches = 0;
  std::size_t served = 0;
  std::vector<float> truth;
  std::vector<float> features;
  std::vector<float> targets;
};

TEST_CASE("local steps learn linear model") {
  const ModelShape shape{ModelKind::kLinear, 8, 0, 0, false};
  std::vector<std::uint8_t> arena(LocalTrainer::required_arena_bytes(shape, 32));
  LocalTrainer trainer;
  REQUIRE(trainer.init(shape, 32, Span<std::uint8_t>(arena.data(), arena.size())) == Status::kOk);
  LinearBatches data(8, 32, 4);
  std::vector<float> start(8, 0.0f);
  std::vector<float> delta(8);
  LocalResult result;
  REQUIRE(trainer.train_local(Span<const float>(start.data(), 8), 300, 0.1f, BatchSource{LinearBatches::next, &data},
                              Span<float>(delta.data(), 8), &result) == Status::kOk);
  CHECK(result.steps == 300);
  CHECK(data.served == 300);
  // delta = w_start - w_end, so w_end = -delta here.
  for (std::size_t j = 0; j < 8; ++j) {
    CHECK(-delta[j] == doctest::Approx(data.truth[j]).epsilon(1e-3));
  }
}

TEST_CASE("one local step equals scaled gradient") {
  const ModelShape shape{ModelKind::kLinear, 8, 0, 0, true};
  std::vector<std::uint8_t> arena(LocalTrainer::required_arena_bytes(shape, 32));
  LocalTrainer trainer;
  REQUIRE(trainer.init(shape, 32, Span<std::uint8_t>(arena.data(), arena.size())) == Status::kOk);
  LinearBatches data(8, 32, 1);
  std::vector<float> start(9, 0.25f);
  std::vector<float> delta(9);
  std::vector<float> gradient(9);
  REQUIRE(trainer.train_local(Span<const float>(start.data(), 9), 1, 0.5f, BatchSource{LinearBatches::next, &data},
                              Span<float>(delta.data(), 9)) == Status::kOk);
  Batch batch;
  REQUIRE(LinearBatches::next(&data, &batch) == Status::kOk);
  REQUIRE(trainer.compute_gradient(Span<const float>(start.data(), 9), batch, Span<float>(gradient.data(), 9)) ==
          Status::kOk);
  for (std::size_t j = 0; j < 9; ++j) {
    CHECK(delta[j] == doctest::Approx(0.5f * gradient[j]));
  }
}

Status failing_source(void*, Batch*) { return Status::kTruncatedPayload; }

TEST_CASE("train local rejects bad arguments") {
  const ModelShape shape{ModelKind::kLinear, 4, 0, 0, true};
  std::vector<std::uint8_t> arena(LocalTrainer::required_arena_bytes(shape, 8));
  LocalTrainer trainer;
  std::vector<float> start(5, 0.0f);
  std::vector<float> delta(5);
  LinearBatches data(4, 8, 1);
  const BatchSource source{LinearBatches::next, &data};
  CHECK(trainer.train_local(Span<const float>(start.data(), 5), 1, 0.1f, source, Span<float>(delta.data(), 5)) ==
        Status::kNotInitialized);
  REQUIRE(trainer.init(shape, 8, Span<std::uint8_t>(arena.data(), arena.size())) == Status::kOk);
  CHECK(trainer.train_local(Span<const float>(start.data(), 5), 0, 0.1f, source, Span<float>(delta.data(), 5)) ==
        Status::kInvalidArgument);
  CHECK(trainer.train_local(Span<const float>(start.data(), 5), 1, -0.1f, source, Span<float>(delta.data(), 5)) ==
        Status::kInvalidArgument);
  CHECK(trainer.train_local(Span<const float>(start.data(), 5), 1, NAN, source, Span<float>(delta.data(), 5)) ==
        Status::kInvalidArgument);
  CHECK(trainer.train_local(Span<const float>(start.data(), 4), 1, 0.1f, source, Span<float>(delta.data(), 5)) ==
        Status::kInvalidArgument);
  CHECK(trainer.train_local(Span<const float>(start.data(), 5), 1, 0.1f, BatchSource{failing_source, nullptr},
                            Span<float>(delta.data(), 5)) == Status::kTruncatedPayload);
  std::vector<std::uint8_t> small(LocalTrainer::required_arena_bytes(shape, 8) - 1);
  LocalTrainer other;
  CHECK(other.init(shape, 8, Span<std::uint8_t>(small.data(), small.size())) == Status::kBufferTooSmall);
}

}  // namespace
}  // namespace ecq
