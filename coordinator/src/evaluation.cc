#include "ecq/coordinator/evaluation.h"

#include <cmath>
#include <numeric>

#include "ecq/data/batch.h"
#include "ecq/data/dense.h"
#include "ecq/data/idx.h"

namespace ecq::coordinator {
namespace {

// Rows the model processes at a time during evaluation.
constexpr std::uint32_t kEvalRows = 256;

}  // namespace

Evaluator::Evaluator() = default;
Evaluator::~Evaluator() = default;

namespace {

bool take_images(const data::ImageDataset& images, std::vector<float>* features, std::vector<float>* targets,
                 std::vector<std::int32_t>* labels, std::string* error) {
  std::vector<std::uint32_t> indices(images.count);
  std::iota(indices.begin(), indices.end(), 0u);
  features->resize(images.image_size() * images.count);
  labels->resize(images.count);
  if (!data::gather_images(images, Span<const std::uint32_t>(indices.data(), indices.size()),
                           Span<float>(features->data(), features->size()),
                           Span<std::int32_t>(labels->data(), labels->size()), error)) {
    return false;
  }
  targets->assign(labels->begin(), labels->end());
  return true;
}

}  // namespace

bool Evaluator::load_fashion_mnist_test(std::string* error) {
  std::string directory;
  data::ImageDataset images;
  if (!data::locate_fashion_mnist(&directory, error) ||
      !data::load_fashion_mnist(directory, data::Split::kTest, &images, error) ||
      !take_images(images, &features_, &targets_, &labels_, error)) {
    return false;
  }
  inputs_ = static_cast<std::uint32_t>(images.image_size());
  rows_ = images.count;
  classes_ = data::kFashionMnistClasses;
  return true;
}

bool Evaluator::load_idx(const std::string& images_path, const std::string& labels_path, std::string* error) {
  data::ImageDataset images;
  if (!data::read_idx_dataset(images_path, labels_path, 256, &images, error) ||
      !take_images(images, &features_, &targets_, &labels_, error)) {
    return false;
  }
  inputs_ = static_cast<std::uint32_t>(images.image_size());
  rows_ = images.count;
  std::int32_t largest = 1;
  for (const std::int32_t label : labels_) {
    largest = std::max(largest, label);
  }
  classes_ = static_cast<std::uint32_t>(largest) + 1;
  return true;
}

bool Evaluator::load_libsvm(const std::string& path, std::uint32_t features, std::string* error) {
  data::DenseDataset dataset;
  if (!data::read_libsvm(path, features, &dataset, error)) {
    return false;
  }
  rows_ = dataset.count();
  inputs_ = dataset.features;
  features_ = std::move(dataset.x);
  targets_ = std::move(dataset.y);
  labels_.assign(rows_, -1);
  float largest = 1.0f;
  for (std::uint32_t i = 0; i < rows_; ++i) {
    const float target = targets_[i];
    if (target >= 0.0f && target <= 65535.0f && std::floor(target) == target) {
      labels_[i] = static_cast<std::int32_t>(target);
      largest = std::max(largest, target);
    }
  }
  classes_ = static_cast<std::uint32_t>(largest) + 1;
  return true;
}

bool Evaluator::init(const ModelShape& shape, std::string* error) {
  if (rows_ == 0) {
    *error = "no evaluation data is loaded";
    return false;
  }
  if (shape.inputs != inputs_) {
    *error = "the evaluation data has " + std::to_string(inputs_) + " features per sample but the model takes " +
             std::to_string(shape.inputs) + "; pass a matching --inputs or other data";
    return false;
  }
  model_targets_ = targets_;
  for (std::uint32_t i = 0; i < rows_; ++i) {
    const bool classifier = shape.kind == ModelKind::kSoftmax || shape.kind == ModelKind::kMlp;
    if (classifier && (labels_[i] < 0 || static_cast<std::uint32_t>(labels_[i]) >= shape.classes)) {
      *error = "evaluation sample " + std::to_string(i + 1) + " has label " + std::to_string(targets_[i]) +
               ", which is not a class 0 to " + std::to_string(shape.classes - 1) + "; check --classes";
      return false;
    }
    if (shape.kind == ModelKind::kLogistic) {
      model_targets_[i] = targets_[i] > 0.0f ? 1.0f : 0.0f;  // LIBSVM writes binary labels as -1/+1 or 0/1
    }
  }
  shape_ = shape;
  arena_.assign(Model::required_arena_bytes(shape, kEvalRows), 0);
  model_ = std::make_unique<Model>();
  if (model_->init(shape, kEvalRows, Span<std::uint8_t>(arena_.data(), arena_.size())) != Status::kOk) {
    *error = "the evaluation model does not accept the shape";
    return false;
  }
  return true;
}

bool Evaluator::evaluate(Span<const float> parameters, EvalResult* result, std::string* error) {
  if (!model_) {
    *error = "the evaluator was not initialized";
    return false;
  }
  Batch batch;
  batch.features = features_.data();
  batch.targets = model_targets_.data();
  batch.labels = labels_.data();
  batch.rows = rows_;
  Evaluation evaluation;
  if (model_->evaluate(parameters, batch, &evaluation) != Status::kOk) {
    *error = "evaluating the model failed (" + std::string(status_name(model_->last_error().status)) +
             "); the model may have diverged";
    return false;
  }
  result->loss = evaluation.loss;
  result->rows = evaluation.rows;
  result->accuracy = evaluation.rows > 0 ? static_cast<double>(evaluation.correct) / evaluation.rows : 0.0;
  return true;
}

}  // namespace ecq::coordinator
