#include "ecq/runtime/model.h"

#include <doctest/doctest.h>

#include <cmath>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

namespace ecq {
namespace {

// A model with its own arena, plus a random batch that fits its shape.
struct ModelFixture {
  ModelFixture(const ModelShape& model_shape, std::uint32_t rows, std::uint32_t seed)
      : arena(Model::required_arena_bytes(model_shape, rows)),
        features(rows * model_shape.inputs),
        targets(rows),
        labels(rows) {
    init_status = model.init(model_shape, rows, Span<std::uint8_t>(arena.data(), arena.size()));
    std::mt19937 engine(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& value : features) {
      value = normal(engine);
    }
    for (std::uint32_t i = 0; i < rows; ++i) {
      targets[i] = model_shape.kind == ModelKind::kLogistic ? static_cast<float>(engine() % 2) : normal(engine);
      labels[i] = static_cast<std::int32_t>(engine() % std::max(2u, model_shape.classes));
    }
    parameters.resize(parameter_count(model_shape));
    for (float& value : parameters) {
      value = 0.3f * normal(engine);
    }
    batch = Batch{features.data(), targets.data(), labels.data(), rows};
  }

  double loss_at(const std::vector<double>& point) {
    std::vector<float> narrow(point.begin(), point.end());
    Evaluation evaluation;
    REQUIRE(model.evaluate(Span<const float>(narrow.data(), narrow.size()), batch, &evaluation) == Status::kOk);
    return evaluation.loss;
  }

  std::vector<std::uint8_t> arena;
  std::vector<float> features;
  std::vector<float> targets;
  std::vector<std::int32_t> labels;
  std::vector<float> parameters;
  Batch batch;
  Model model;
  Status init_status = Status::kNotInitialized;
};

struct ShapeCase {
  const char* name;
  ModelShape shape;
};

const ShapeCase kShapes[] = {
    {"linear", {ModelKind::kLinear, 5, 0, 0, true}},
    {"linear without bias", {ModelKind::kLinear, 4, 0, 0, false}},
    {"logistic", {ModelKind::kLogistic, 6, 0, 0, true}},
    {"softmax", {ModelKind::kSoftmax, 5, 4, 0, true}},
    {"softmax without bias", {ModelKind::kSoftmax, 3, 3, 0, false}},
    {"mlp", {ModelKind::kMlp, 4, 3, 6, true}},
};

TEST_CASE("gradient matches finite differences") {
  for (const ShapeCase& c : kShapes) {
    CAPTURE(c.name);
    ModelFixture fixture(c.shape, 7, 11);
    REQUIRE(fixture.init_status == Status::kOk);
    std::vector<float> gradient(fixture.parameters.size());
    double loss = 0.0;
    REQUIRE(fixture.model.gradient(Span<const float>(fixture.parameters.data(), fixture.parameters.size()),
                                   fixture.batch, Span<float>(gradient.data(), gradient.size()), &loss) == Status::kOk);
    const std::vector<double> point(fixture.parameters.begin(), fixture.parameters.end());
    CHECK(loss == doctest::Approx(fixture.loss_at(point)).epsilon(1e-6));
    // Central differences in float arithmetic: step 1e-2 keeps the rounding
    // error of the loss (about 1e-7 relative) well below the tolerance.
    const double step = 1e-2;
    for (std::size_t i = 0; i < point.size(); ++i) {
      std::vector<double> up = point;
      std::vector<double> down = point;
      up[i] += step;
      down[i] -= step;
      const double numeric = (fixture.loss_at(up) - fixture.loss_at(down)) / (2 * step);
      CAPTURE(i);
      CHECK(gradient[i] == doctest::Approx(numeric).epsilon(2e-3).scale(1.0));
    }
  }
}

TEST_CASE("parameter counts") {
  CHECK(parameter_count({ModelKind::kLinear, 256, 0, 0, false}) == 256);
  CHECK(parameter_count({ModelKind::kLogistic, 10, 0, 0, true}) == 11);
  CHECK(parameter_count({ModelKind::kSoftmax, 784, 10, 0, true}) == 7850);
  CHECK(parameter_count({ModelKind::kMlp, 784, 10, 128, true}) == 784 * 128 + 128 + 128 * 10 + 10);
  CHECK(parameter_count({ModelKind::kSoftmax, 784, 1, 0, true}) == 0);
  CHECK(parameter_count({ModelKind::kMlp, 784, 10, 0, true}) == 0);
  CHECK(parameter_count({ModelKind::kLinear, 0, 0, 0, true}) == 0);
}

TEST_CASE("softmax loss at zero parameters") {
  // Uniform predictions over 4 classes: cross-entropy log(4).
  ModelFixture fixture({ModelKind::kSoftmax, 5, 4, 0, true}, 9, 3);
  std::fill(fixture.parameters.begin(), fixture.parameters.end(), 0.0f);
  Evaluation evaluation;
  REQUIRE(fixture.model.evaluate(Span<const float>(fixture.parameters.data(), fixture.parameters.size()), fixture.batch,
                                 &evaluation) == Status::kOk);
  CHECK(evaluation.loss == doctest::Approx(std::log(4.0)));
  CHECK(evaluation.rows == 9);
}

TEST_CASE("logistic loss survives large logits") {
  ModelFixture fixture({ModelKind::kLogistic, 2, 0, 0, true}, 2, 5);
  const float features[] = {1000.0f, 0.0f, -1000.0f, 0.0f};
  const float targets[] = {1.0f, 1.0f};
  const float parameters[] = {1.0f, 0.0f, 0.0f};
  Evaluation evaluation;
  REQUIRE(fixture.model.evaluate(Span<const float>(parameters, 3), Batch{features, targets, nullptr, 2}, &evaluation) ==
          Status::kOk);
  // Sample 1 is right with certainty (loss 0), sample 2 wrong by 1000.
  CHECK(evaluation.loss == doctest::Approx(500.0));
  CHECK(evaluation.correct == 1);
}

TEST_CASE("evaluate splits large batches") {
  const ModelShape shape{ModelKind::kSoftmax, 3, 3, 0, true};
  ModelFixture whole(shape, 40, 9);
  ModelFixture chunked(shape, 40, 9);
  std::vector<std::uint8_t> small_arena(Model::required_arena_bytes(shape, 7));
  REQUIRE(chunked.model.init(shape, 7, Span<std::uint8_t>(small_arena.data(), small_arena.size())) == Status::kOk);
  Evaluation a;
  Evaluation b;
  const Span<const float> parameters(whole.parameters.data(), whole.parameters.size());
  REQUIRE(whole.model.evaluate(parameters, whole.batch, &a) == Status::kOk);
  REQUIRE(chunked.model.evaluate(parameters, whole.batch, &b) == Status::kOk);
  CHECK(a.loss == doctest::Approx(b.loss));
  CHECK(a.correct == b.correct);
}

TEST_CASE("gradient rejects bad batches") {
  ModelFixture fixture({ModelKind::kSoftmax, 4, 3, 0, true}, 5, 1);
  std::vector<float> gradient(fixture.parameters.size());
  const Span<const float> parameters(fixture.parameters.data(), fixture.parameters.size());
  const Span<float> out(gradient.data(), gradient.size());
  SUBCASE("label out of range") {
    fixture.labels[3] = 3;
    CHECK(fixture.model.gradient(parameters, fixture.batch, out) == Status::kInvalidArgument);
    CHECK(fixture.model.last_error().position == 3);
    char message[200];
    describe_error(fixture.model.last_error(), message, sizeof message);
    CHECK(std::string(message) == "invalid argument: batch label must be 0 to classes - 1; found 3, at index 3");
  }
  SUBCASE("negative label") {
    fixture.labels[0] = -1;
    CHECK(fixture.model.gradient(parameters, fixture.batch, out) == Status::kInvalidArgument);
  }
  SUBCASE("too many rows") {
    fixture.batch.rows = 6;
    CHECK(fixture.model.gradient(parameters, fixture.batch, out) == Status::kInvalidArgument);
  }
  SUBCASE("wrong gradient size") {
    CHECK(fixture.model.gradient(parameters, fixture.batch, out.subspan(0, out.size() - 1)) ==
          Status::kInvalidArgument);
  }
  SUBCASE("NaN feature") {
    fixture.features[2] = std::nanf("");
    CHECK(fixture.model.gradient(parameters, fixture.batch, out) == Status::kNonFiniteInput);
  }
}

TEST_CASE("mlp initialization is he normal") {
  const ModelShape shape{ModelKind::kMlp, 400, 10, 200, true};
  std::vector<std::uint8_t> arena(Model::required_arena_bytes(shape, 1));
  Model model;
  REQUIRE(model.init(shape, 1, Span<std::uint8_t>(arena.data(), arena.size())) == Status::kOk);
  std::vector<float> parameters(model.size(), 1.0f);
  model.initialize(Span<float>(parameters.data(), parameters.size()), 42);
  double sum = 0.0;
  double squares = 0.0;
  const std::size_t first_layer = 400 * 200;
  for (std::size_t i = 0; i < first_layer; ++i) {
    sum += parameters[i];
    squares += static_cast<double>(parameters[i]) * parameters[i];
  }
  CHECK(sum / first_layer == doctest::Approx(0.0).scale(1.0).epsilon(0.002));
  CHECK(std::sqrt(squares / first_layer) == doctest::Approx(std::sqrt(2.0 / 400)).epsilon(0.02));
  for (std::size_t i = first_layer; i < first_layer + 200; ++i) {
    REQUIRE(parameters[i] == 0.0f);  // b1
  }
  std::vector<float> again(model.size());
  model.initialize(Span<float>(again.data(), again.size()), 42);
  CHECK(again == parameters);
}

}  // namespace
}  // namespace ecq
