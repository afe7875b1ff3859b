#include "fleet.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ecq::sim {

DeviceConfig make_device_config(const FederationOptions& options, std::uint32_t index) {
  DeviceConfig config;
  std::snprintf(config.device_id, sizeof(config.device_id), "dev-%u", index);
  config.shape = options.shape;
  config.max_batch = options.batch_size;
  config.max_body_size = options.device_body_size;
  config.upload_body_size = options.device_body_size;
  // Every round offers the run's one compressor, so the buffers are sized
  // for it alone (docs/device.md, buffer sizing).
  config.methods = protocol::method_bit(options.compressor.method);
  config.allow_local_steps = options.local_steps > 0;
  if (options.compressor.method != Method::kFp32) {
    config.min_bucket_size = options.compressor.quantizer.bucket_size;
    config.max_levels = options.compressor.quantizer.levels;
  }
  // Simulated devices keep their error buffer in memory only.
  config.storage_prefix[0] = '\0';
  // A dropped device comes back quickly, so a round that needs it does not
  // wait long; real devices back off further (docs/device.md).
  config.backoff_min_ms = 20;
  config.backoff_max_ms = 1000;
  config.jitter_seed = options.seed * 7919u + index;
  config.round_decay = options.round_decay;
  config.error_buffer = options.error_buffer;
  return config;
}

std::size_t device_arena_bytes(const FederationOptions& options, std::string* error) {
  const DeviceConfig config = make_device_config(options, 0);
  ErrorInfo invalid;
  if (DeviceClient::validate_config(config, &invalid) != Status::kOk) {
    char text[256];
    describe_error(invalid, text, sizeof(text));
    *error = std::string("the simulated devices' configuration is invalid: ") + text;
    return 0;
  }
  return DeviceClient::required_arena_bytes(config);
}

Status DeviceData::fill(void* context, std::uint32_t rows, Span<float> features, Span<float>,
                        Span<std::int32_t> labels, std::uint32_t* filled) {
  DeviceData& data = *static_cast<DeviceData*>(context);
  const Span<const std::uint32_t> indices = data.sampler_.next();
  if (indices.size() == 0) return Status::kInvalidArgument;
  const std::size_t count = std::min<std::size_t>(rows, indices.size());
  if (!data::gather_images(data.train_, Span<const std::uint32_t>(indices.data(), count), features, labels,
                           &data.error_)) {
    return Status::kInvalidArgument;
  }
  *filled = static_cast<std::uint32_t>(count);
  return Status::kOk;
}

bool TestEvaluator::init(const ModelShape& shape, const data::ImageDataset& test, std::string* error) {
  constexpr std::uint32_t kRowsPerPass = 500;
  arena_.resize(Model::required_arena_bytes(shape, kRowsPerPass));
  if (model_.init(shape, kRowsPerPass, Span<std::uint8_t>(arena_.data(), arena_.size())) != Status::kOk) {
    *error = "the evaluation model failed to start";
    return false;
  }
  std::vector<std::uint32_t> all(test.count);
  for (std::uint32_t i = 0; i < test.count; ++i) all[i] = i;
  features_.resize(static_cast<std::size_t>(test.count) * test.image_size());
  labels_.resize(test.count);
  rows_ = test.count;
  return data::gather_images(test, Span<const std::uint32_t>(all.data(), all.size()),
                             Span<float>(features_.data(), features_.size()),
                             Span<std::int32_t>(labels_.data(), labels_.size()), error);
}

bool TestEvaluator::evaluate(const std::vector<float>& parameters, EvaluationRecord* record, std::string* error) {
  Batch batch;
  batch.features = features_.data();
  batch.labels = labels_.data();
  batch.rows = rows_;
  Evaluation evaluation;
  if (model_.evaluate(Span<const float>(parameters.data(), parameters.size()), batch, &evaluation) != Status::kOk) {
    char text[256];
    describe_error(model_.last_error(), text, sizeof(text));
    *error = std::string("evaluating the global model failed: ") + text;
    return false;
  }
  record->accuracy = static_cast<double>(evaluation.correct) / evaluation.rows;
  record->loss = evaluation.loss;
  return true;
}

bool TestEvaluator::initial_loss(std::uint64_t seed, double* loss, std::string* error) {
  std::vector<float> parameters(model_.size());
  model_.initialize(Span<float>(parameters.data(), parameters.size()), seed);
  EvaluationRecord record;
  if (!evaluate(parameters, &record, error)) return false;
  *loss = record.loss;
  return true;
}

bool TestEvaluator::diverged(const EvaluationRecord& record, double initial_loss, double factor) {
  return !std::isfinite(record.loss) || record.loss > factor * initial_loss;
}

bool all_finite(const std::vector<float>& values) {
  return std::all_of(values.begin(), values.end(), [](float value) { return std::isfinite(value); });
}

}  // namespace ecq::sim
