// Compresses a few synthetic gradients the way a device would, then validates
// and decodes each payload the way the coordinator would, and prints the sizes
// and the error. One payload alone is a rough copy of its gradient, but error
// compensation carries what was not sent into later rounds, so the running
// sums of what was sent and of the gradients stay close.
//
//   build/bin/ecq-example-compress

#include <cmath>
#include <cstdio>
#include <vector>

#include "ecq/runtime/compressor.h"
#include "ecq/runtime/payload.h"

int main() {
  ecq::CompressorConfig config;
  config.dimension = 7850;  // softmax regression on 784 pixels and 10 classes
  config.method = ecq::Method::kEcq;
  config.quantizer = ecq::QuantizerConfig{256, 8, ecq::NormKind::kL2};

  // All device memory is sized up front and owned by the caller.
  std::vector<std::uint8_t> arena(ecq::Compressor::required_arena_bytes(config));
  std::vector<std::uint8_t> payload(ecq::Compressor::max_payload_bytes(config));
  ecq::Compressor compressor;
  if (compressor.init(config, ecq::Span<std::uint8_t>(arena.data(), arena.size())) != ecq::Status::kOk) {
    char message[ecq::kErrorMessageBytes];
    ecq::describe_error(compressor.last_error(), message, sizeof message);
    std::fprintf(stderr, "init failed: %s\n", message);
    return 1;
  }
  std::printf("ecq with alpha = %.3f, beta = %.3f; arena %zu bytes, payload at most %zu bytes\n",
              static_cast<double>(compressor.compensation().alpha), static_cast<double>(compressor.compensation().beta),
              arena.size(), payload.size());

  std::vector<float> gradient(config.dimension);
  std::vector<float> decoded(config.dimension);
  std::vector<double> gradient_sum(config.dimension, 0.0);
  std::vector<double> sent_sum(config.dimension, 0.0);
  for (std::uint32_t round = 0; round < 8; ++round) {
    for (std::uint32_t i = 0; i < config.dimension; ++i) {
      gradient[i] = 0.01f * std::sin(0.37f * static_cast<float>(i) + 0.1f * static_cast<float>(round));
    }
    std::size_t size = 0;
    const ecq::StreamKey key{/*seed=*/2024, /*device_id=*/17, round};
    if (compressor.compress(ecq::Span<const float>(gradient.data(), gradient.size()), key,
                            ecq::Span<std::uint8_t>(payload.data(), payload.size()), &size) != ecq::Status::kOk) {
      char message[ecq::kErrorMessageBytes];
      ecq::describe_error(compressor.last_error(), message, sizeof message);
      std::fprintf(stderr, "compress failed: %s\n", message);
      return 1;
    }

    ecq::PayloadView view;
    ecq::ErrorInfo error;
    ecq::DecodeLimits limits;
    limits.expected_dimension = config.dimension;
    if (ecq::validate_payload(ecq::Span<const std::uint8_t>(payload.data(), size), limits, &view, &error) !=
            ecq::Status::kOk ||
        ecq::decode_payload(view, ecq::Span<float>(decoded.data(), decoded.size())) != ecq::Status::kOk) {
      char message[ecq::kErrorMessageBytes];
      ecq::describe_error(error, message, sizeof message);
      std::fprintf(stderr, "decode failed: %s\n", message);
      return 1;
    }
    double step_error = 0.0;
    double step_norm = 0.0;
    double sum_error = 0.0;
    double sum_norm = 0.0;
    for (std::uint32_t i = 0; i < config.dimension; ++i) {
      const double g = gradient[i];
      const double q = decoded[i];
      gradient_sum[i] += g;
      sent_sum[i] += q;
      step_error += (q - g) * (q - g);
      step_norm += g * g;
      sum_error += (sent_sum[i] - gradient_sum[i]) * (sent_sum[i] - gradient_sum[i]);
      sum_norm += gradient_sum[i] * gradient_sum[i];
    }
    std::printf(
        "round %u: %zu bytes (%s, %.1fx smaller than fp32); relative error of this payload %.3f, "
        "of the sums over rounds %.3f\n",
        round, size, ecq::encoding_name(view.encoding()), 4.0 * config.dimension / static_cast<double>(size),
        std::sqrt(step_error / step_norm), std::sqrt(sum_error / sum_norm));
  }
  return 0;
}
