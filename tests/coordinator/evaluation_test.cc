// Evaluation on Debian's Fashion-MNIST test set and on a LIBSVM file.

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "ecq/coordinator/evaluation.h"
#include "scripted_device.h"
#include "temp_dir.h"

namespace ecq::coordinator {
namespace {

TEST_CASE("fashion-mnist test set evaluates the initial softmax") {
  Evaluator evaluator;
  std::string error;
  REQUIRE_MESSAGE(evaluator.load_fashion_mnist_test(&error), error);
  CHECK(evaluator.rows() == 10000);
  CHECK(evaluator.inputs() == 784);
  CHECK(evaluator.classes() == 10);
  ModelShape shape;
  shape.kind = ModelKind::kSoftmax;
  shape.inputs = 784;
  shape.classes = 10;
  REQUIRE_MESSAGE(evaluator.init(shape, &error), error);
  std::vector<float> zeros(parameter_count(shape), 0.0f);
  EvalResult result;
  REQUIRE_MESSAGE(evaluator.evaluate({zeros.data(), zeros.size()}, &result, &error), error);
  CHECK(result.rows == 10000);
  CHECK(result.loss == doctest::Approx(std::log(10.0)).epsilon(1e-4));
  // Every class has 1000 test images, and all-zero logits predict class 0.
  CHECK(result.accuracy == doctest::Approx(0.1));
}

TEST_CASE("evaluation data must fit the model") {
  ecq::test::TempDir dir("ecq-coordinator-eval");
  const std::string path = dir.write("data.libsvm", "1 1:0.5 2:1\n0 1:-1 3:2\n");
  Evaluator evaluator;
  std::string error;
  REQUIRE_MESSAGE(evaluator.load_libsvm(path, 0, &error), error);
  CHECK(evaluator.inputs() == 3);
  ModelShape shape;
  shape.kind = ModelKind::kLogistic;
  shape.inputs = 4;
  CHECK_FALSE(evaluator.init(shape, &error));
  CHECK(error.find("3 features") != std::string::npos);
  shape.inputs = 3;
  REQUIRE_MESSAGE(evaluator.init(shape, &error), error);
  std::vector<float> zeros(parameter_count(shape), 0.0f);
  EvalResult result;
  REQUIRE(evaluator.evaluate({zeros.data(), zeros.size()}, &result, &error));
  CHECK(result.loss == doctest::Approx(std::log(2.0)));
}

TEST_CASE("engine evaluates after applied rounds") {
  ecq::test::TempDir dir("ecq-coordinator-eval");
  const std::string path = dir.write("data.libsvm", "1 1:0.5 2:1 3:1\n0 1:-1 3:2\n1 2:1\n");
  Evaluator evaluator;
  std::string error;
  REQUIRE(evaluator.load_libsvm(path, 0, &error));
  EngineConfig config = test::small_config(3, 1);
  config.offer.shape.kind = ModelKind::kLogistic;
  config.evaluator = &evaluator;
  config.eval_every = 1;
  config.export_path = dir.path("model.ecqm");
  Engine engine;
  REQUIRE_MESSAGE(engine.init(config, 0, &error), error);
  test::ScriptedDevice device(engine, "d0");
  device.connect(0);
  device.check_in(0);
  device.upload(1, 1, 1, 3, test::fp32_payload({-1.0f, -1.0f, -1.0f, 0.0f}));
  CHECK(device.take_verdict(1).applied);
  CHECK(engine.counters().evaluated);
  CHECK(engine.counters().eval_round == 1);
  CHECK(engine.counters().eval_loss < std::log(2.0));
  CHECK(std::ifstream(config.export_path).good());
}

}  // namespace
}  // namespace ecq::coordinator
