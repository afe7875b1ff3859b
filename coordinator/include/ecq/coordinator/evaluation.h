#pragma once
// Evaluation of the global model on held-out data: Debian's Fashion-MNIST
// test set, an IDX image and label pair, or a LIBSVM file.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ecq/runtime/model.h"
#include "ecq/runtime/span.h"

namespace ecq::coordinator {

struct EvalResult {
  double loss = 0.0;      ///< mean loss over the data set
  double accuracy = 0.0;  ///< fraction of correct predictions; 0 for linear models
  std::uint32_t rows = 0;
};

class Evaluator {
 public:
  Evaluator();
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  /// Loads Fashion-MNIST's 10000 test images (pixels scaled to 0 to 1).
  bool load_fashion_mnist_test(std::string* error);
  /// Loads an IDX image file and its label file.
  bool load_idx(const std::string& images, const std::string& labels, std::string* error);
  /// Loads a LIBSVM file; `features` 0 infers the count.
  bool load_libsvm(const std::string& path, std::uint32_t features, std::string* error);

  /// Features per sample of the loaded data.
  std::uint32_t inputs() const { return inputs_; }
  /// Largest label + 1 (at least 2).
  std::uint32_t classes() const { return classes_; }
  std::uint32_t rows() const { return rows_; }

  /// Prepares a model of `shape`; fails when the data does not fit it (other
  /// input count, labels outside the classes).
  bool init(const ModelShape& shape, std::string* error);
  bool evaluate(Span<const float> parameters, EvalResult* result, std::string* error);

 private:
  std::vector<float> features_;
  std::vector<float> targets_;       // raw labels as floats
  std::vector<std::int32_t> labels_;
  std::uint32_t inputs_ = 0;
  std::uint32_t classes_ = 2;
  std::uint32_t rows_ = 0;
  ModelShape shape_;
  std::vector<float> model_targets_;  // targets as the model kind reads them
  std::vector<std::uint8_t> arena_;
  std::unique_ptr<Model> model_;
};

}  // namespace ecq::coordinator
