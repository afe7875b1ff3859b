#include "ecq/data/batch.h"

#include <algorithm>
#include <utility>

#include "fail.h"

namespace ecq::data {
namespace {

using detail::fail;

bool check_indices(Span<const std::uint32_t> indices, std::uint64_t count, std::string* error) {
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] >= count) {
      return fail(error, "sample index " + std::to_string(indices[i]) + " at batch position " + std::to_string(i) +
                             " is out of range for a data set of " + std::to_string(count) +
                             " samples. Take the indices from a partition of this data set.");
    }
  }
  return true;
}

bool check_buffer(const char* name, std::size_t size, std::uint64_t required, const std::string& batch,
                  std::string* error) {
  if (size < required) {
    return fail(error, std::string(name) + " buffer has " + std::to_string(size) + " elements, but " + batch +
                           " need " + std::to_string(required) + ". Size it for the largest batch.");
  }
  return true;
}

bool check_image_dataset(const ImageDataset& dataset, bool with_labels, std::string* error) {
  const std::uint64_t pixel_bytes = dataset.count * dataset.image_size();
  if (dataset.pixels.size() < pixel_bytes) {
    return fail(error, "image data set contains " + std::to_string(dataset.pixels.size()) + " pixel bytes, but " +
                           std::to_string(dataset.count) + " images of " + std::to_string(dataset.rows) + " x " +
                           std::to_string(dataset.cols) + " need " + std::to_string(pixel_bytes) + ".");
  }
  if (with_labels && dataset.labels.size() < dataset.count) {
    return fail(error, "labels requested, but the image data set contains " + std::to_string(dataset.labels.size()) +
                           " labels for " + std::to_string(dataset.count) +
                           " images. Read it with read_idx_dataset(), or pass an empty label span.");
  }
  return true;
}

bool check_dense_dataset(const DenseDataset& dataset, std::string* error) {
  const std::uint64_t elements = std::uint64_t{dataset.count()} * dataset.features;
  if (dataset.x.size() < elements) {
    return fail(error, "dense data set contains " + std::to_string(dataset.x.size()) + " feature values, but " +
                           std::to_string(dataset.count()) + " samples of " + std::to_string(dataset.features) +
                           " features need " + std::to_string(elements) + ".");
  }
  return true;
}

}  // namespace

bool gather_images(const ImageDataset& dataset, Span<const std::uint32_t> indices, Span<float> pixels,
                   Span<std::int32_t> labels, std::string* error) {
  const std::uint64_t image_size = dataset.image_size();
  const std::string batch = std::to_string(indices.size()) + " images of " + std::to_string(dataset.rows) + " x " +
                            std::to_string(dataset.cols);
  const bool with_labels = !labels.empty();
  if (!check_image_dataset(dataset, with_labels, error) || !check_indices(indices, dataset.count, error) ||
      !check_buffer("pixel", pixels.size(), indices.size() * image_size, batch, error) ||
      (with_labels && !check_buffer("label", labels.size(), indices.size(), batch, error))) {
    return false;
  }
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const std::uint8_t* source = dataset.pixels.data() + indices[i] * image_size;
    float* target = pixels.data() + i * image_size;
    for (std::uint64_t p = 0; p < image_size; ++p) {
      target[p] = static_cast<float>(source[p]) / 255.0f;
    }
    if (with_labels) {
      labels[i] = dataset.labels[indices[i]];
    }
  }
  return true;
}

bool gather_dense(const DenseDataset& dataset, Span<const std::uint32_t> indices, Span<float> features,
                  Span<float> targets, std::string* error) {
  const std::size_t width = dataset.features;
  const std::string batch = std::to_string(indices.size()) + " samples of " + std::to_string(width) + " features";
  const bool with_targets = !targets.empty();
  if (!check_dense_dataset(dataset, error) || !check_indices(indices, dataset.count(), error) ||
      !check_buffer("feature", features.size(), std::uint64_t{indices.size()} * width, batch, error) ||
      (with_targets && !check_buffer("target", targets.size(), indices.size(), batch, error))) {
    return false;
  }
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const float* source = dataset.x.data() + std::size_t{indices[i]} * width;
    std::copy(source, source + width, features.data() + i * width);
    if (with_targets) {
      targets[i] = dataset.y[indices[i]];
    }
  }
  return true;
}

BatchSampler::BatchSampler(std::vector<std::uint32_t> indices, std::uint32_t batch_size, std::uint64_t seed)
    : order_(std::move(indices)), batch_size_(batch_size), rng_(seed), position_(order_.size()) {}

Span<const std::uint32_t> BatchSampler::next() {
  if (order_.empty() || batch_size_ == 0) {
    return Span<const std::uint32_t>();
  }
  if (position_ >= order_.size()) {
    shuffle(&order_, &rng_);
    position_ = 0;
    ++epochs_started_;
  }
  const std::size_t size = std::min<std::size_t>(batch_size_, order_.size() - position_);
  const Span<const std::uint32_t> batch(order_.data() + position_, size);
  position_ += size;
  return batch;
}

std::uint32_t BatchSampler::batches_per_epoch() const {
  if (order_.empty() || batch_size_ == 0) {
    return 0;
  }
  return static_cast<std::uint32_t>((order_.size() + batch_size_ - 1) / batch_size_);
}

}  // namespace ecq::data
