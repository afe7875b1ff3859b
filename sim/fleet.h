#pragma once
// Pieces every simulated federation shares, whatever its transport: the
// device configuration, each device's data feed, and the evaluation of a
// global model on the test set.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ecq/data/batch.h"
#include "ecq/data/idx.h"
#include "ecq/runtime/device_client.h"
#include "ecq/runtime/model.h"
#include "federation.h"
#include "report.h"

namespace ecq::sim {

/// The DeviceClient configuration of simulated device `index` (id "dev-N").
DeviceConfig make_device_config(const FederationOptions& options, std::uint32_t index);

/// Checks the configuration the devices of `options` use and returns the
/// arena size of one device, or 0 with a message.
std::size_t device_arena_bytes(const FederationOptions& options, std::string* error);

/// One device's share of the training set, handed out in minibatches.
class DeviceData {
 public:
  DeviceData(const data::ImageDataset& train, std::vector<std::uint32_t> indices, std::uint32_t batch_size,
             std::uint64_t seed)
      : train_(train), sampler_(std::move(indices), batch_size, seed) {}

  /// The DataSource for DeviceClient::init(); this object must outlive it.
  DataSource source() { return DataSource{fill, this}; }

 private:
  static Status fill(void* context, std::uint32_t rows, Span<float> features, Span<float> targets,
                     Span<std::int32_t> labels, std::uint32_t* filled);

  const data::ImageDataset& train_;
  data::BatchSampler sampler_;
  std::string error_;
};

/// Test-set accuracy and loss of a parameter vector.
class TestEvaluator {
 public:
  bool init(const ModelShape& shape, const data::ImageDataset& test, std::string* error);
  /// Fills accuracy and loss of `record`; fails for a wrong size or a
  /// non-finite loss.
  bool evaluate(const std::vector<float>& parameters, EvaluationRecord* record, std::string* error);

  /// Returns the test loss of the model the coordinator starts from
  /// (Model::initialize with `seed`), the reference of the divergence rule.
  bool initial_loss(std::uint64_t seed, double* loss, std::string* error);

  /// True when `record` shows a diverged run under FederationOptions'
  /// divergence rule (the model's NaN or Inf is checked apart).
  static bool diverged(const EvaluationRecord& record, double initial_loss, double factor);

 private:
  Model model_;
  std::vector<std::uint8_t> arena_;
  std::vector<float> features_;
  std::vector<std::int32_t> labels_;
  std::uint32_t rows_ = 0;
};

/// True when every element is finite.
bool all_finite(const std::vector<float>& values);

}  // namespace ecq::sim
