#pragma once
// Helpers shared by the runtime tests: seeded data and a compressor with its
// own arena and payload buffer.

#include <cstdint>
#include <random>
#include <vector>

#include "ecq/runtime/compressor.h"
#include "ecq/runtime/payload.h"

namespace ecq::test {

inline std::vector<float> gaussian_vector(std::size_t size, std::uint32_t seed, float sigma = 1.0f) {
  std::mt19937 engine(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> values(size);
  for (float& value : values) {
    value = normal(engine);
  }
  return values;
}

inline CompressorConfig make_config(std::uint32_t dimension, Method method, std::uint32_t bucket, std::uint32_t levels,
                                    NormKind norm = NormKind::kL2, EncoderChoice encoder = EncoderChoice::kAuto) {
  CompressorConfig config;
  config.dimension = dimension;
  config.method = method;
  config.quantizer.bucket_size = bucket;
  config.quantizer.levels = levels;
  config.quantizer.norm = norm;
  config.encoder = encoder;
  return config;
}

/// A compressor that owns its arena and payload buffer.
struct CompressorHarness {
  explicit CompressorHarness(const CompressorConfig& config)
      : arena(Compressor::required_arena_bytes(config)), payload(Compressor::max_payload_bytes(config)) {
    init_status = compressor.init(config, Span<std::uint8_t>(arena.data(), arena.size()));
  }

  Status step(const std::vector<float>& gradient, const StreamKey& key) {
    return compressor.compress(Span<const float>(gradient.data(), gradient.size()), key,
                               Span<std::uint8_t>(payload.data(), payload.size()), &size);
  }

  Span<const std::uint8_t> bytes() const { return Span<const std::uint8_t>(payload.data(), size); }

  std::vector<std::uint8_t> copy() const {
    return std::vector<std::uint8_t>(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(size));
  }

  /// Validates and decodes the last payload; an empty vector when invalid.
  std::vector<float> decoded() const {
    PayloadView view;
    if (validate_payload(bytes(), DecodeLimits{}, &view) != Status::kOk) {
      return {};
    }
    std::vector<float> out(view.dimension());
    if (decode_payload(view, Span<float>(out.data(), out.size())) != Status::kOk) {
      return {};
    }
    return out;
  }

  /// The error buffer as floats, whatever its storage; empty when the
  /// method keeps none.
  std::vector<float> error_copy() const {
    std::vector<float> values;
    if (compressor.keeps_error_buffer()) {
      for (std::size_t i = 0; i < compressor.dimension(); ++i) {
        values.push_back(compressor.error_value(i));
      }
    }
    return values;
  }

  std::vector<std::uint8_t> arena;
  std::vector<std::uint8_t> payload;
  Compressor compressor;
  Status init_status = Status::kNotInitialized;
  std::size_t size = 0;
};

}  // namespace ecq::test
