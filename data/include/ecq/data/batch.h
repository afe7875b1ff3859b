#pragma once
// Minibatch forming: copying selected samples into caller-owned float
// buffers in the layout of ecq::Batch (runtime/include/ecq/runtime/model.h),
// and a per-device sampler that picks the samples epoch by epoch.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ecq/data/dense.h"
#include "ecq/data/idx.h"
#include "ecq/data/random.h"
#include "ecq/runtime/span.h"

namespace ecq::data {

/// Copies the images at `indices` into `pixels` as indices.size() x rows x
/// cols floats, row-major, each pixel byte divided by 255 (so 0.0 to 1.0), and
/// their labels into `labels`. Pass an empty `labels` span to skip labels.
/// Only the first indices.size() images and labels of the buffers are
/// written. Returns false and writes nothing when an index is not below
/// dataset.count, a buffer is too small, labels are requested from a data set
/// without them, or the data set's vectors are shorter than its count requires.
bool gather_images(const ImageDataset& dataset, Span<const std::uint32_t> indices, Span<float> pixels,
                   Span<std::int32_t> labels, std::string* error);

/// Copies the samples at `indices` into `features` (indices.size() x
/// dataset.features floats, row-major) and their targets into `targets`.
/// Pass an empty `targets` span to skip targets. Fails like gather_images().
bool gather_dense(const DenseDataset& dataset, Span<const std::uint32_t> indices, Span<float> features,
                  Span<float> targets, std::string* error);

/// Draws minibatches from one device's samples: each epoch shuffles the
/// device's indices with the sampler's own Rng and hands them out in
/// consecutive batches of batch_size, so every sample is used once per
/// epoch. The last batch of an epoch contains the remaining
/// (count mod batch_size) samples when batch_size does not divide the count,
/// and a device with fewer samples than batch_size gets all of them in every
/// batch. A batch never spans two epochs.
class BatchSampler {
 public:
  /// `indices` are the device's sample indices, e.g. one entry of
  /// Partition::devices; the sampler keeps its own copy.
  BatchSampler(std::vector<std::uint32_t> indices, std::uint32_t batch_size, std::uint64_t seed);

  /// Returns the next minibatch's sample indices, at most batch_size of them.
  /// The view stays valid until the next call or the sampler's destruction. Returns an empty span, every
  /// time, when the device has no samples or batch_size is 0.
  Span<const std::uint32_t> next();

  /// Number of epochs begun so far: 0 before the first next(), 1 during the
  /// first epoch.
  std::uint64_t epochs_started() const { return epochs_started_; }

  /// Number of batches per epoch, ceil(count / batch_size); 0 when next()
  /// returns only empty batches.
  std::uint32_t batches_per_epoch() const;

 private:
  std::vector<std::uint32_t> order_;
  std::uint32_t batch_size_;
  Rng rng_;
  std::size_t position_;
  std::uint64_t epochs_started_ = 0;
};

}  // namespace ecq::data
