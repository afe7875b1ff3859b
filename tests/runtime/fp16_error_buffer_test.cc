// The compressor with its error buffer in binary16 (ErrorBufferType::kFp16),
// held to its definition: the fp32 compressor run on the widened buffer, with
// the new buffer rounded to nearest even.

#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "ecq/runtime/compressor.h"
#include "ecq/runtime/half.h"
#include "test_support.h"

namespace ecq {
namespace {

using test::CompressorHarness;
using test::gaussian_vector;
using test::make_config;

CompressorConfig fp16_config(CompressorConfig config) {
  config.error_buffer = ErrorBufferType::kFp16;
  return config;
}

// The value a float takes after rounding to binary16.
float rounded_to_half(float value) { return half_to_float(half_from_float(value)); }

float flushed(float value) { return std::fabs(value) < FLT_MIN ? 0.0f : value; }

TEST_CASE("fp16 error buffer halves the arena") {
  const CompressorConfig full = make_config(10000, Method::kEcq, 512, 2);
  const CompressorConfig half = fp16_config(full);
  CHECK(Compressor::required_arena_bytes(full) - Compressor::required_arena_bytes(half) == 2u * 10000u);
  CHECK(Compressor::max_payload_bytes(full) == Compressor::max_payload_bytes(half));
  // Methods without an error buffer ignore the setting.
  const CompressorConfig qsgd = make_config(10000, Method::kQsgd, 512, 2);
  CHECK(Compressor::required_arena_bytes(qsgd) == Compressor::required_arena_bytes(fp16_config(qsgd)));
  CHECK(error_buffer_element_bytes(ErrorBufferType::kFp16) == 2);
  CHECK(error_buffer_element_bytes(ErrorBufferType::kFp32) == 4);
}

TEST_CASE("error buffer type names parse") {
  ErrorBufferType type = ErrorBufferType::kFp32;
  CHECK(parse_error_buffer_type("fp16", &type));
  CHECK(type == ErrorBufferType::kFp16);
  CHECK(parse_error_buffer_type("fp32", &type));
  CHECK(type == ErrorBufferType::kFp32);
  CHECK_FALSE(parse_error_buffer_type("bf16", &type));
  CHECK(type == ErrorBufferType::kFp32);
  CHECK(std::string(error_buffer_type_name(ErrorBufferType::kFp16)) == "fp16");
}

TEST_CASE("init rejects unknown error buffer type") {
  CompressorConfig config = make_config(100, Method::kEcq, 64, 2);
  config.error_buffer = static_cast<ErrorBufferType>(2);
  CompressorHarness harness(make_config(100, Method::kEcq, 64, 2));
  std::vector<std::uint8_t> arena(4096);
  CHECK(harness.compressor.init(config, Span<std::uint8_t>(arena.data(), arena.size())) == Status::kInvalidArgument);
  CHECK(harness.compressor.last_error().found == 2.0);
}

// Runs the fp16 compressor and an fp32 one side by side. Before each step the
// fp32 one gets the widened fp16 buffer. The payloads must then be identical,
// and the new fp16 buffer must equal the new fp32 one rounded.
void check_against_fp32(CompressorConfig config) {
  CompressorHarness half(fp16_config(config));
  CompressorHarness full(config);
  REQUIRE(half.init_status == Status::kOk);
  REQUIRE(full.init_status == Status::kOk);
  for (std::uint32_t round = 0; round < 4; ++round) {
    CAPTURE(round);
    const std::vector<float> widened = half.error_copy();
    REQUIRE(full.compressor.load_error_buffer(Span<const float>(widened.data(), widened.size())) == Status::kOk);
    // Tiny gradients give subnormal halves; the large round gives errors
    // in the thousands, where one half unit is 2 or 4.
    const std::vector<float> g = gaussian_vector(config.dimension, round, round == 2 ? 300.0f : 1e-3f);
    REQUIRE(half.step(g, StreamKey{3, round, 11}) == Status::kOk);
    REQUIRE(full.step(g, StreamKey{3, round, 11}) == Status::kOk);
    CHECK(half.copy() == full.copy());

    const std::vector<float> h_half = half.error_copy();
    const std::vector<float> h_full = full.error_copy();
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < h_half.size(); ++i) {
      if (h_half[i] != rounded_to_half(h_full[i])) {
        ++mismatches;
      }
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("fp16 compressor matches rounded fp32") {
  for (bool simd : {true, false}) {
    for (NormKind norm : {NormKind::kL2, NormKind::kLinf}) {
      for (std::uint32_t bucket : {1u, 48u, 512u}) {
        for (std::uint32_t levels : {1u, 4u, 127u}) {
          CompressorConfig config = make_config(3001, Method::kEcq, bucket, levels, norm);
          config.simd = simd;
          CAPTURE(simd);
          CAPTURE(static_cast<int>(norm));
          CAPTURE(bucket);
          CAPTURE(levels);
          check_against_fp32(config);
        }
      }
    }
  }
  CompressorConfig ef = make_config(777, Method::kEf, 100, 2);
  check_against_fp32(ef);
}

TEST_CASE("fp16 rollback adds payload and rounds") {
  const CompressorConfig config = fp16_config(make_config(1000, Method::kEcq, 256, 4));
  CompressorHarness harness(config);
  REQUIRE(harness.step(gaussian_vector(1000, 1), StreamKey{1, 1, 1}) == Status::kOk);
  REQUIRE(harness.step(gaussian_vector(1000, 2), StreamKey{1, 2, 1}) == Status::kOk);
  const std::vector<float> h = harness.error_copy();
  const std::vector<float> q = harness.decoded();
  REQUIRE(q.size() == h.size());
  REQUIRE(harness.compressor.rollback(harness.bytes()) == Status::kOk);
  const std::vector<float> rolled_back = harness.error_copy();
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (rolled_back[i] != rounded_to_half(flushed(h[i] + q[i]))) {
      ++mismatches;
    }
  }
  CHECK(mismatches == 0);
  CHECK(harness.compressor.rollback(harness.bytes()) == Status::kStalePayload);
}

TEST_CASE("fp16 error buffer overflow is rejected") {
  // ef keeps beta = 1, so h = 60000 with g = 6000 would reach about 66000.
  const CompressorConfig config = fp16_config(make_config(64, Method::kEf, 64, 2));
  CompressorHarness harness(config);
  const std::vector<float> h(64, 60000.0f);
  REQUIRE(harness.compressor.load_error_buffer(Span<const float>(h.data(), h.size())) == Status::kOk);
  const std::vector<float> g(64, 6000.0f);
  CHECK(harness.step(g, StreamKey{}) == Status::kErrorBufferOverflow);
  CHECK(harness.compressor.last_error().limit == 65504.0);
  CHECK(harness.compressor.last_error().position == 0);
  CHECK(harness.error_copy() == h);  // unchanged
  char text[256];
  describe_error(harness.compressor.last_error(), text, sizeof text);
  const std::string message(text);
  CHECK(message.find("bucket 0") != std::string::npos);
  CHECK(message.find("fp16 error buffer, above its maximum 65504") != std::string::npos);
  CHECK(message.find("keep the error buffer in fp32") != std::string::npos);

  // The fp32 buffer takes the same step.
  CompressorConfig full_config = config;
  full_config.error_buffer = ErrorBufferType::kFp32;
  CompressorHarness full(full_config);
  REQUIRE(full.compressor.load_error_buffer(Span<const float>(h.data(), h.size())) == Status::kOk);
  CHECK(full.step(g, StreamKey{}) == Status::kOk);
}

TEST_CASE("fp16 load error buffer checks range") {
  CompressorHarness harness(fp16_config(make_config(16, Method::kEcq, 16, 2)));
  std::vector<float> values(16, 0.5f);
  values[3] = 65519.0f;  // rounds to 65504
  REQUIRE(harness.compressor.load_error_buffer(Span<const float>(values.data(), values.size())) == Status::kOk);
  CHECK(harness.compressor.error_value(3) == 65504.0f);
  CHECK(harness.compressor.error_buffer().empty());
  CHECK(harness.compressor.error_buffer_fp16().size() == 16);

  values[5] = -70000.0f;
  CHECK(harness.compressor.load_error_buffer(Span<const float>(values.data(), values.size())) ==
        Status::kErrorBufferOverflow);
  CHECK(harness.compressor.last_error().position == 5);
  CHECK(harness.compressor.last_error().found == -70000.0);
  CHECK(harness.compressor.error_value(5) == 0.5f);  // unchanged

  values[5] = NAN;
  CHECK(harness.compressor.load_error_buffer(Span<const float>(values.data(), values.size())) ==
        Status::kNonFiniteInput);

  std::vector<std::uint16_t> bits(16, 0x3C00);  // 1.0
  REQUIRE(harness.compressor.load_error_buffer_fp16(Span<const std::uint16_t>(bits.data(), bits.size())) ==
          Status::kOk);
  CHECK(harness.compressor.error_value(0) == 1.0f);
  bits[9] = kHalfInfinityBits;
  CHECK(harness.compressor.load_error_buffer_fp16(Span<const std::uint16_t>(bits.data(), bits.size())) ==
        Status::kNonFiniteInput);
  CHECK(harness.compressor.last_error().position == 9);
  CHECK(harness.compressor.load_error_buffer_fp16(Span<const std::uint16_t>(bits.data(), 15)) ==
        Status::kInvalidArgument);

  CompressorHarness full(make_config(16, Method::kEcq, 16, 2));
  bits[9] = 0;
  CHECK(full.compressor.load_error_buffer_fp16(Span<const std::uint16_t>(bits.data(), bits.size())) ==
        Status::kInvalidArgument);
}

TEST_CASE("fp16 scale error buffer rounds") {
  CompressorHarness harness(fp16_config(make_config(4, Method::kEcq, 4, 2)));
  const std::vector<float> values = {1.0f, -3.0f, 2049.0f, 1e-7f};
  REQUIRE(harness.compressor.load_error_buffer(Span<const float>(values.data(), values.size())) == Status::kOk);
  REQUIRE(harness.compressor.scale_error_buffer(0.5f) == Status::kOk);
  const std::vector<float> expected = {0.5f, -1.5f, rounded_to_half(rounded_to_half(2049.0f) * 0.5f),
                                       rounded_to_half(rounded_to_half(1e-7f) * 0.5f)};
  CHECK(harness.error_copy() == expected);
}

}  // namespace
}  // namespace ecq
