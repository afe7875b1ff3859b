#pragma once
// Inputs of the softmax regression step of the reference firmware, from
// integers only so that every platform builds the same floats. The test
// "softmax gradient golden checksum" (tests/runtime/compressor_test.cc)
// includes this header and pins the CRC-32C of the resulting gradient and
// payload.

#include <array>
#include <cstdint>

namespace firmware {

// Fashion-MNIST-sized samples: 28 x 28 pixels and 10 classes.
constexpr std::uint32_t kSoftmaxInputs = 784;
constexpr std::uint32_t kSoftmaxClasses = 10;
constexpr std::uint32_t kSoftmaxRows = 8;

using SoftmaxFeatures = std::array<float, kSoftmaxRows * kSoftmaxInputs>;

// Synthetic pixel intensities in [0, 1]: a 32-bit xorshift generator, 8 bits
// per pixel. constexpr, so that the firmware keeps the batch in flash.
constexpr SoftmaxFeatures make_softmax_features() {
  SoftmaxFeatures features{};
  std::uint32_t state = 0x9E3779B9u;
  for (float& pixel : features) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    pixel = static_cast<float>(state >> 24) / 255.0f;
  }
  return features;
}

constexpr std::array<std::int32_t, kSoftmaxRows> kSoftmaxLabels = {3, 7, 0, 9, 1, 4, 8, 2};

// Parameter i of the model, in [-0.01, 0.01].
constexpr float softmax_parameter(std::uint32_t i) {
  return static_cast<float>(static_cast<std::int32_t>((i * 2654435761u) % 2001u) - 1000) * 1e-5f;
}

}  // namespace firmware
