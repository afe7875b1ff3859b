// Compresses a vector with ecq::runtime and decodes the payload the way the
// coordinator does. Exits with 0 when the fp32 round trip is exact and the
// quantized one is within its error bound, and with 1 otherwise.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "ecq/runtime/compressor.h"
#include "ecq/runtime/payload.h"

namespace {

constexpr std::uint32_t kDimension = 1000;

// Compresses `gradient` with `config` and decodes the payload into *decoded.
bool round_trip(const ecq::CompressorConfig& config, const std::vector<float>& gradient,
                std::vector<float>* decoded, std::size_t* payload_size) {
  std::vector<std::uint8_t> arena(ecq::Compressor::required_arena_bytes(config));
  std::vector<std::uint8_t> payload(ecq::Compressor::max_payload_bytes(config));
  char message[256];
  ecq::Compressor compressor;
  if (compressor.init(config, ecq::Span<std::uint8_t>(arena.data(), arena.size())) != ecq::Status::kOk) {
    ecq::describe_error(compressor.last_error(), message, sizeof message);
    std::fprintf(stderr, "Compressor::init failed: %s\n", message);
    return false;
  }
  const ecq::StreamKey key{/*seed=*/7, /*device_id=*/3, /*round=*/0};
  if (compressor.compress(ecq::Span<const float>(gradient.data(), gradient.size()), key,
                          ecq::Span<std::uint8_t>(payload.data(), payload.size()), payload_size) != ecq::Status::kOk) {
    ecq::describe_error(compressor.last_error(), message, sizeof message);
    std::fprintf(stderr, "Compressor::compress failed: %s\n", message);
    return false;
  }

  ecq::PayloadView view;
  ecq::ErrorInfo error;
  ecq::DecodeLimits limits;
  limits.expected_dimension = kDimension;
  decoded->assign(kDimension, 0.0f);
  if (ecq::validate_payload(ecq::Span<const std::uint8_t>(payload.data(), *payload_size), limits, &view, &error) !=
      ecq::Status::kOk) {
    ecq::describe_error(error, message, sizeof message);
    std::fprintf(stderr, "validate_payload failed: %s\n", message);
    return false;
  }
  if (ecq::decode_payload(view, ecq::Span<float>(decoded->data(), decoded->size())) != ecq::Status::kOk) {
    std::fprintf(stderr, "decode_payload failed on a validated payload\n");
    return false;
  }
  return true;
}

}  // namespace

int main() {
  std::vector<float> gradient(kDimension);
  for (std::uint32_t i = 0; i < kDimension; ++i) {
    gradient[i] = 0.01f * std::sin(0.37f * static_cast<float>(i));
  }

  ecq::CompressorConfig fp32;
  fp32.dimension = kDimension;
  fp32.method = ecq::Method::kFp32;
  std::vector<float> decoded;
  std::size_t size = 0;
  if (!round_trip(fp32, gradient, &decoded, &size)) {
    return 1;
  }
  for (std::uint32_t i = 0; i < kDimension; ++i) {
    if (decoded[i] != gradient[i]) {
      std::fprintf(stderr, "fp32 payload element %u decoded to %g, expected %g\n", i, static_cast<double>(decoded[i]),
                   static_cast<double>(gradient[i]));
      return 1;
    }
  }
  std::printf("fp32: %zu bytes, exact\n", size);

  // QSGD with 127 levels over the max-norm of 64-element buckets moves each
  // element by at most one step, max |g| / 127 of its bucket. Here |g| <= 0.01.
  ecq::CompressorConfig qsgd;
  qsgd.dimension = kDimension;
  qsgd.method = ecq::Method::kQsgd;
  qsgd.quantizer = ecq::QuantizerConfig{64, 127, ecq::NormKind::kLinf};
  if (!round_trip(qsgd, gradient, &decoded, &size)) {
    return 1;
  }
  const double max_step = 0.01 / 127.0;
  for (std::uint32_t i = 0; i < kDimension; ++i) {
    const double difference = std::fabs(static_cast<double>(decoded[i]) - static_cast<double>(gradient[i]));
    if (difference > max_step * 1.001) {
      std::fprintf(stderr, "qsgd payload element %u decoded to %g, expected %g within %g\n", i,
                   static_cast<double>(decoded[i]), static_cast<double>(gradient[i]), max_step);
      return 1;
    }
  }
  if (size >= kDimension * sizeof(float)) {
    std::fprintf(stderr, "qsgd payload has %zu bytes, expected fewer than fp32's %zu\n", size,
                 kDimension * sizeof(float));
    return 1;
  }
  std::printf("qsgd: %zu bytes, every element within one quantization step\n", size);
  return 0;
}
