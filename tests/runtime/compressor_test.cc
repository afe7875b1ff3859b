#include "ecq/runtime/compressor.h"

#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <ios>
#include <string>
#include <thread>
#include <vector>

#include "ecq/runtime/crc32c.h"
#include "ecq/runtime/log.h"
#include "ecq/runtime/model.h"
#include "softmax_case.h"
#include "test_support.h"

namespace ecq {
namespace {

using test::CompressorHarness;
using test::gaussian_vector;
using test::make_config;

double reference_norm(const float* values, std::size_t count, NormKind norm) {
  double result = 0.0;
  for (std::size_t i = 0; i < count; ++i) {
    const double value = values[i];
    result = norm == NormKind::kL2 ? result + value * value : std::fmax(result, std::fabs(value));
  }
  return norm == NormKind::kL2 ? std::sqrt(result) : result;
}

// Checks one step against a double-precision reference of the ECQ-SGD
// recursion: every decoded level is the floor or the ceiling of s |v| / ||v||
// with the sign of v, and h_new = beta * h + g - q.
void check_against_reference(const CompressorConfig& config, std::uint32_t seed) {
  CompressorHarness harness(config);
  REQUIRE(harness.init_status == Status::kOk);
  const std::vector<float> warmup = gaussian_vector(config.dimension, seed + 1);
  REQUIRE(harness.step(warmup, StreamKey{9, 1, 0}) == Status::kOk);
  const std::vector<float> h = harness.error_copy();
  const std::vector<float> g = gaussian_vector(config.dimension, seed);
  REQUIRE(harness.step(g, StreamKey{9, 1, 1}) == Status::kOk);
  const std::vector<float> q = harness.decoded();
  REQUIRE(q.size() == g.size());
  const std::vector<float> h_new = harness.error_copy();

  const double alpha = harness.compressor.compensation().alpha;
  const double beta = harness.compressor.compensation().beta;
  const std::uint32_t bucket = config.quantizer.bucket_size;
  const double s = config.quantizer.levels;
  std::size_t mismatches = 0;
  for (std::uint32_t begin = 0; begin < config.dimension; begin += bucket) {
    const std::uint32_t end = std::min(config.dimension, begin + bucket);
    std::vector<float> v(end - begin);
    for (std::uint32_t i = begin; i < end; ++i) {
      v[i - begin] = g[i] + static_cast<float>(alpha) * (h.empty() ? 0.0f : h[i]);
    }
    const double scale = reference_norm(v.data(), v.size(), config.quantizer.norm);
    for (std::uint32_t i = begin; i < end; ++i) {
      const double a = std::fabs(v[i - begin]) * s / scale;
      const double level = std::fabs(q[i]) * s / scale;
      const double rounded = std::round(level);
      const bool on_grid = std::fabs(level - rounded) < 1e-4 * std::fmax(1.0, rounded);
      const bool floor_or_ceiling = rounded >= std::floor(a - 1e-5) && rounded <= std::fmin(std::ceil(a + 1e-5), s);
      const bool sign_ok = q[i] == 0.0f || (q[i] < 0.0f) == (v[i - begin] < 0.0f);
      if (!on_grid || !floor_or_ceiling || !sign_ok) {
        ++mismatches;
      }
      if (!h_new.empty()) {
        const double expected = beta * h[i] + g[i] - static_cast<double>(q[i]);
        const double tolerance = 1e-5 * (std::fabs(h[i]) + std::fabs(g[i]) + std::fabs(q[i])) + 1e-30;
        if (std::fabs(h_new[i] - expected) > tolerance) {
          ++mismatches;
        }
      }
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("compressor matches double reference") {
  struct Case {
    std::uint32_t dimension;
    std::uint32_t bucket;
    std::uint32_t levels;
    NormKind norm;
    Method method;
  };
  const Case cases[] = {
      {4096, 512, 4, NormKind::kL2, Method::kEcq},  {4096, 512, 4, NormKind::kLinf, Method::kEcq},
      {1000, 512, 2, NormKind::kL2, Method::kEcq},  {1000, 512, 8, NormKind::kLinf, Method::kQsgd},
      {333, 1, 1, NormKind::kL2, Method::kEcq},     {777, 64, 1, NormKind::kL2, Method::kQsgd},
      {2049, 256, 32, NormKind::kL2, Method::kEcq}, {2049, 256, 127, NormKind::kLinf, Method::kEcq},
      {100, 1000, 4, NormKind::kL2, Method::kEcq},  {5000, 1024, 2, NormKind::kL2, Method::kEf},
  };
  for (const Case& c : cases) {
    for (EncoderChoice encoder : {EncoderChoice::kFixedWidth, EncoderChoice::kAuto}) {
      CAPTURE(c.dimension);
      CAPTURE(c.bucket);
      CAPTURE(c.levels);
      CAPTURE(static_cast<int>(c.norm));
      CAPTURE(static_cast<int>(encoder));
      check_against_reference(make_config(c.dimension, c.method, c.bucket, c.levels, c.norm, encoder), c.dimension);
    }
  }
}

TEST_CASE("quantizer is unbiased") {
  // qsgd sends Q(g); averaged over 4000 independent rounds each element's mean
  // must be within 5 standard errors of g (per-draw deviation <= step / 2).
  const std::uint32_t dimension = 64;
  CompressorHarness harness(make_config(dimension, Method::kQsgd, 64, 2, NormKind::kL2, EncoderChoice::kFixedWidth));
  REQUIRE(harness.init_status == Status::kOk);
  const std::vector<float> g = gaussian_vector(dimension, 5);
  const double scale = reference_norm(g.data(), g.size(), NormKind::kL2);
  const int rounds = 4000;
  std::vector<double> sum(dimension, 0.0);
  for (int round = 0; round < rounds; ++round) {
    REQUIRE(harness.step(g, StreamKey{3, 4, static_cast<std::uint32_t>(round)}) == Status::kOk);
    const std::vector<float> q = harness.decoded();
    for (std::uint32_t i = 0; i < dimension; ++i) {
      sum[i] += q[i];
    }
  }
  const double bound = 5.0 * (scale / 2.0) / 2.0 / std::sqrt(static_cast<double>(rounds));
  for (std::uint32_t i = 0; i < dimension; ++i) {
    CAPTURE(i);
    CHECK(std::fabs(sum[i] / rounds - g[i]) < bound);
  }
}

TEST_CASE("payload is deterministic") {
  const CompressorConfig config = make_config(3000, Method::kEcq, 512, 4);
  CompressorHarness first(config);
  CompressorHarness second(config);
  const std::vector<float> g = gaussian_vector(config.dimension, 11);
  REQUIRE(first.step(g, StreamKey{1, 2, 3}) == Status::kOk);
  REQUIRE(second.step(g, StreamKey{1, 2, 3}) == Status::kOk);
  CHECK(first.copy() == second.copy());
  REQUIRE(second.step(g, StreamKey{1, 2, 3}) == Status::kOk);
  CHECK(first.copy() != second.copy());  // h changed
  CompressorHarness third(config);
  REQUIRE(third.step(g, StreamKey{1, 2, 4}) == Status::kOk);
  CHECK(first.copy() != third.copy());  // another round draws other numbers
}

TEST_CASE("simd and scalar payloads match") {
  for (ErrorBufferType error_buffer : {ErrorBufferType::kFp32, ErrorBufferType::kFp16}) {
    for (std::uint32_t bucket : {1u, 48u, 512u, 1000u}) {
      for (std::uint32_t levels : {1u, 2u, 4u, 8u, 32u, 127u}) {
        CompressorConfig config = make_config(4099, Method::kEcq, bucket, levels);
        config.error_buffer = error_buffer;
        CompressorHarness simd(config);
        config.simd = false;
        CompressorHarness scalar(config);
        CAPTURE(error_buffer_type_name(error_buffer));
        CAPTURE(bucket);
        CAPTURE(levels);
        for (std::uint32_t round = 0; round < 3; ++round) {
          const std::vector<float> g = gaussian_vector(config.dimension, round);
          REQUIRE(simd.step(g, StreamKey{8, 9, round}) == Status::kOk);
          REQUIRE(scalar.step(g, StreamKey{8, 9, round}) == Status::kOk);
          CHECK(simd.copy() == scalar.copy());
          // Compared as floats: a SIMD kernel may store -0 where the
          // reference stores +0, which never reaches a payload.
          CHECK(simd.error_copy() == scalar.error_copy());
        }
      }
    }
  }
}

TEST_CASE("payload is identical across threads") {
  const CompressorConfig config = make_config(20000, Method::kEcq, 512, 4);
  const std::vector<float> g = gaussian_vector(config.dimension, 12);
  CompressorHarness reference(config);
  REQUIRE(reference.step(g, StreamKey{5, 6, 7}) == Status::kOk);
  std::vector<std::vector<std::uint8_t>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      CompressorHarness harness(config);
      if (harness.step(g, StreamKey{5, 6, 7}) == Status::kOk) {
        results[t] = harness.copy();
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (const auto& result : results) {
    CHECK(result == reference.copy());
  }
}

// Inputs built from integers only, so they are the same on every platform and
// standard library. The expected CRC below was recorded from an x86-64 build;
// an ARM build must produce the same payload bytes.
std::vector<float> portable_vector(std::uint32_t size, std::uint32_t salt) {
  std::vector<float> values(size);
  for (std::uint32_t i = 0; i < size; ++i) {
    const PhiloxBlock block = philox4x32(PhiloxBlock{{i, salt, 0, 0}}, 17, 19);
    values[i] = static_cast<float>(static_cast<std::int32_t>(block.word[0] % 20001u) - 10000) * 1e-4f;
  }
  return values;
}

TEST_CASE("payload golden checksum") {
  struct Case {
    std::uint32_t levels;
    NormKind norm;
    EncoderChoice encoder;
    std::uint32_t expected_crc;
  };
  const Case cases[] = {
      {4, NormKind::kL2, EncoderChoice::kFixedWidth, 3963206210u},
      {2, NormKind::kL2, EncoderChoice::kAuto, 4181277395u},
      {8, NormKind::kLinf, EncoderChoice::kFixedWidth, 4081997486u},
  };
  for (const Case& c : cases) {
    CompressorConfig config = make_config(5000, Method::kEcq, 384, c.levels, c.norm, c.encoder);
    config.use_default_compensation = false;
    config.compensation = Compensation{0.3f, 0.9f, true};
    CompressorHarness harness(config);
    REQUIRE(harness.init_status == Status::kOk);
    for (std::uint32_t round = 0; round < 3; ++round) {
      REQUIRE(harness.step(portable_vector(5000, round), StreamKey{0x1234567890ull, 77, round}) == Status::kOk);
    }
    const std::uint32_t crc = crc32c(harness.payload.data(), harness.size - 4);
    CAPTURE(c.levels);
    MESSAGE("payload crc " << crc);
    CHECK(crc == c.expected_crc);
  }
}

// The softmax regression step of the reference firmware, on the inputs of
// examples/firmware/softmax_case.h, compressed with the default ECQ
// settings. The model sums in a fixed order (runtime/src/dense.h), so the
// gradient and the payload are the same bytes on x86-64, AArch64, armhf and
// Cortex-M4. scripts/cross-test cortex-m4 reads the payload CRC from here.
TEST_CASE("softmax gradient golden checksum") {
  using namespace firmware;
  const SoftmaxFeatures features = make_softmax_features();
  ModelShape shape;
  shape.kind = ModelKind::kSoftmax;
  shape.inputs = kSoftmaxInputs;
  shape.classes = kSoftmaxClasses;
  std::vector<std::uint8_t> model_arena(Model::required_arena_bytes(shape, kSoftmaxRows));
  Model model;
  const Span<std::uint8_t> model_span(model_arena.data(), model_arena.size());
  REQUIRE(model.init(shape, kSoftmaxRows, model_span) == Status::kOk);
  std::vector<float> parameters(model.size());
  for (std::uint32_t i = 0; i < parameters.size(); ++i) {
    parameters[i] = softmax_parameter(i);
  }
  std::vector<float> gradient(model.size());
  double loss = 0.0;
  const Batch batch{features.data(), nullptr, kSoftmaxLabels.data(), kSoftmaxRows};
  REQUIRE(model.gradient(Span<const float>(parameters.data(), parameters.size()), batch,
                         Span<float>(gradient.data(), gradient.size()), &loss) == Status::kOk);
  CHECK(loss == doctest::Approx(2.2985125).epsilon(1e-7));
  const std::uint32_t gradient_crc =
      crc32c(reinterpret_cast<const std::uint8_t*>(gradient.data()), gradient.size() * sizeof(float));
  MESSAGE("gradient crc " << gradient_crc);
  CHECK(gradient_crc == 3808273999u);

  CompressorConfig config;
  config.dimension = model.size();
  CompressorHarness harness(config);
  REQUIRE(harness.init_status == Status::kOk);
  REQUIRE(harness.step(gradient, StreamKey{1, 2, 3}) == Status::kOk);
  const std::uint32_t payload_crc = crc32c(harness.payload.data(), harness.size - 4);
  MESSAGE("payload crc " << payload_crc);
  CHECK(payload_crc == 1624164660u);
}

// A golden checksum with the error buffer in fp16: the rounding of h to
// binary16 after each step feeds the next payload, so the aarch64 and armhf legs of
// scripts/cross-test check the conversion as well.
TEST_CASE("payload golden checksum with fp16 error buffer") {
  CompressorConfig config = make_config(5000, Method::kEcq, 384, 4, NormKind::kL2, EncoderChoice::kAuto);
  config.use_default_compensation = false;
  config.compensation = Compensation{0.3f, 0.9f, true};
  config.error_buffer = ErrorBufferType::kFp16;
  CompressorHarness harness(config);
  REQUIRE(harness.init_status == Status::kOk);
  for (std::uint32_t round = 0; round < 3; ++round) {
    REQUIRE(harness.step(portable_vector(5000, round), StreamKey{0x1234567890ull, 77, round}) == Status::kOk);
  }
  const std::uint32_t crc = crc32c(harness.payload.data(), harness.size - 4);
  MESSAGE("payload crc " << crc);
  CHECK(crc == 1369730707u);
}

TEST_CASE("all-zero bucket") {
  CompressorHarness harness(make_config(1024, Method::kEcq, 512, 4, NormKind::kL2, EncoderChoice::kFixedWidth));
  std::vector<float> g = gaussian_vector(1024, 3);
  std::fill(g.begin(), g.begin() + 512, 0.0f);
  REQUIRE(harness.step(g, StreamKey{}) == Status::kOk);
  PayloadView view;
  REQUIRE(validate_payload(harness.bytes(), DecodeLimits{}, &view) == Status::kOk);
  CHECK(view.scale(0) == 0.0f);
  CHECK(view.scale(1) > 0.0f);
  const std::vector<float> q = harness.decoded();
  const std::vector<float> h = harness.error_copy();
  for (std::size_t i = 0; i < 512; ++i) {
    REQUIRE(q[i] == 0.0f);
    REQUIRE(h[i] == 0.0f);
    REQUIRE(!std::isnan(q[i]));
  }
}

TEST_CASE("tiny bucket flushes to zero") {
  // A norm below s * FLT_MIN would need a level step below the normal range:
  // the bucket is sent as zero and its content stays in h.
  CompressorHarness harness(make_config(8, Method::kEcq, 8, 4));
  std::vector<float> g(8, 0.0f);
  g[3] = 2.0f * FLT_MIN;
  g[4] = 1e-45f;  // subnormal input: flushed to 0 on read
  REQUIRE(harness.step(g, StreamKey{}) == Status::kOk);
  const std::vector<float> q = harness.decoded();
  const std::vector<float> h = harness.error_copy();
  CHECK(q[3] == 0.0f);
  CHECK(h[3] == 2.0f * FLT_MIN);
  CHECK(h[4] == 0.0f);
}

void check_rejected_with_error_unchanged(CompressorHarness& harness, const std::vector<float>& g, Status expected,
                                         std::uint64_t position) {
  const std::vector<float> before = harness.error_copy();
  const std::vector<std::uint8_t> payload_before = harness.copy();
  CHECK(harness.step(g, StreamKey{1, 1, 1}) == expected);
  CHECK(harness.compressor.last_error().status == expected);
  CHECK(harness.compressor.last_error().position == position);
  const std::vector<float> after = harness.error_copy();
  CHECK(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)) == 0);
  if (!payload_before.empty()) {
    // The previous payload can still be taken back.
    CHECK(harness.compressor.rollback(Span<const std::uint8_t>(payload_before.data(), payload_before.size())) ==
          Status::kOk);
  }
}

TEST_CASE("non-finite gradient is rejected") {
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    CompressorHarness harness(make_config(2000, Method::kEcq, 512, 4));
    REQUIRE(harness.step(gaussian_vector(2000, 1), StreamKey{}) == Status::kOk);
    std::vector<float> g = gaussian_vector(2000, 2);
    g[1500] = bad;
    check_rejected_with_error_unchanged(harness, g, Status::kNonFiniteInput, 1500);
    REQUIRE(harness.step(g, StreamKey{1, 1, 2}) == Status::kNonFiniteInput);
    char message[256];
    describe_error(harness.compressor.last_error(), message, sizeof message);
    CHECK(std::string(message).rfind("gradient element 1500 is ", 0) == 0);
  }
}

TEST_CASE("non-finite error buffer is rejected") {
  CompressorHarness harness(make_config(2000, Method::kEcq, 512, 4));
  REQUIRE(harness.step(gaussian_vector(2000, 1), StreamKey{}) == Status::kOk);
  // The arena belongs to the caller; corrupt h there as a memory fault would.
  auto* h = const_cast<float*>(harness.compressor.error_buffer().data());
  h[1999] = std::nanf("");
  check_rejected_with_error_unchanged(harness, gaussian_vector(2000, 2), Status::kNonFiniteInput, 1999);
}

TEST_CASE("load error buffer rejects non-finite") {
  CompressorHarness harness(make_config(16, Method::kEcq, 8, 4));
  std::vector<float> values(16, 1.0f);
  values[5] = INFINITY;
  CHECK(harness.compressor.load_error_buffer(Span<const float>(values.data(), values.size())) ==
        Status::kNonFiniteInput);
  CHECK(harness.compressor.last_error().position == 5);
  CHECK(harness.error_copy() == std::vector<float>(16, 0.0f));
  values[5] = 2.0f;
  CHECK(harness.compressor.load_error_buffer(Span<const float>(values.data(), values.size())) == Status::kOk);
  CHECK(harness.error_copy() == values);
  CHECK(harness.compressor.load_error_buffer(Span<const float>(values.data(), 15)) == Status::kInvalidArgument);
}

TEST_CASE("norm near float max") {
  // Four values of 1e38: the float sum of squares overflows, the double-lane
  // norm (2e38) does not.
  CompressorHarness fits(make_config(8, Method::kQsgd, 4, 4));
  std::vector<float> g(8, 1e38f);
  REQUIRE(fits.step(g, StreamKey{}) == Status::kOk);
  PayloadView view;
  REQUIRE(validate_payload(fits.bytes(), DecodeLimits{}, &view) == Status::kOk);
  CHECK(view.scale(0) == doctest::Approx(2e38));
  for (float value : fits.decoded()) {
    CHECK(std::isfinite(value));
  }

  // Sixteen values of 1e38 have an l2 norm of 4e38: no float can hold it.
  CompressorHarness overflows(make_config(32, Method::kQsgd, 16, 4));
  std::vector<float> big(32, 1.0f);
  std::fill(big.begin() + 16, big.end(), 1e38f);
  CHECK(overflows.step(big, StreamKey{}) == Status::kScaleOverflow);
  CHECK(overflows.compressor.last_error().position == 1);
  CHECK(overflows.compressor.last_error().found == doctest::Approx(4e38));

  // The same bucket under l-infinity scaling is fine.
  CompressorHarness linf(make_config(32, Method::kQsgd, 16, 4, NormKind::kLinf));
  CHECK(linf.step(big, StreamKey{}) == Status::kOk);
}

TEST_CASE("error buffer overflow is rejected") {
  CompressorHarness harness(make_config(8, Method::kEcq, 8, 4));
  std::vector<float> h(8, 3e38f);
  REQUIRE(harness.compressor.load_error_buffer(Span<const float>(h.data(), h.size())) == Status::kOk);
  std::vector<float> g(8, 3e38f);
  check_rejected_with_error_unchanged(harness, g, Status::kErrorBufferOverflow, 0);
}

TEST_CASE("symbol widths round trip") {
  // s = 1, 2, 8, 32, 127 give 2, 3, 5, 7 and 8 bits; 3, 5 and 7 straddle bytes.
  for (std::uint32_t levels : {1u, 2u, 8u, 32u, 127u}) {
    for (NormKind norm : {NormKind::kL2, NormKind::kLinf}) {
      CompressorHarness fixed(make_config(1001, Method::kQsgd, 100, levels, norm, EncoderChoice::kFixedWidth));
      CompressorHarness entropy(make_config(1001, Method::kQsgd, 100, levels, norm, EncoderChoice::kEntropy));
      const std::vector<float> g = gaussian_vector(1001, levels);
      REQUIRE(fixed.step(g, StreamKey{1, 2, 3}) == Status::kOk);
      REQUIRE(entropy.step(g, StreamKey{1, 2, 3}) == Status::kOk);
      CAPTURE(levels);
      CHECK(fixed.size == Compressor::max_payload_bytes(fixed.compressor.config()));
      CHECK(entropy.size <= fixed.size);
      CHECK(fixed.decoded() == entropy.decoded());
    }
  }
}

TEST_CASE("entropy coding shrinks sparse symbols") {
  // l2 scaling over 1024-element buckets with s = 2 makes most levels 0.
  CompressorHarness automatic(make_config(100000, Method::kEcq, 1024, 2));
  CompressorHarness fixed(make_config(100000, Method::kEcq, 1024, 2, NormKind::kL2, EncoderChoice::kFixedWidth));
  const std::vector<float> g = gaussian_vector(100000, 8);
  REQUIRE(automatic.step(g, StreamKey{}) == Status::kOk);
  REQUIRE(fixed.step(g, StreamKey{}) == Status::kOk);
  PayloadView view;
  REQUIRE(validate_payload(automatic.bytes(), DecodeLimits{}, &view) == Status::kOk);
  CHECK(view.encoding() == Encoding::kRans);
  CHECK(automatic.size * 3 < fixed.size);
  CHECK(automatic.decoded() == fixed.decoded());
  CHECK(automatic.error_copy() == fixed.error_copy());
}

TEST_CASE("gradient as scratch gives same payload") {
  CompressorConfig borrowed = make_config(100000, Method::kEcq, 1024, 2);
  borrowed.gradient_as_scratch = true;
  const CompressorConfig owned = make_config(100000, Method::kEcq, 1024, 2);
  CHECK(Compressor::required_arena_bytes(owned) - Compressor::required_arena_bytes(borrowed) == 100000 * 3 / 8);
  CompressorHarness lender(borrowed);
  CompressorHarness reference(owned);
  REQUIRE(lender.init_status == Status::kOk);
  for (std::uint32_t round = 0; round < 3; ++round) {
    const std::vector<float> g = gaussian_vector(100000, 20 + round);
    std::vector<float> writable = g;
    REQUIRE(lender.compressor.compress_reusing_gradient(Span<float>(writable.data(), writable.size()),
                                                        StreamKey{1, 2, round},
                                                        Span<std::uint8_t>(lender.payload.data(), lender.payload.size()),
                                                        &lender.size) == Status::kOk);
    REQUIRE(reference.step(g, StreamKey{1, 2, round}) == Status::kOk);
    CHECK(lender.copy() == reference.copy());
    CHECK(lender.error_copy() == reference.error_copy());
  }
  PayloadView view;
  REQUIRE(validate_payload(lender.bytes(), DecodeLimits{}, &view) == Status::kOk);
  CHECK(view.encoding() == Encoding::kRans);
}

TEST_CASE("gradient as scratch rejects const gradient") {
  CompressorConfig config = make_config(1000, Method::kEcq, 512, 4);
  config.gradient_as_scratch = true;
  CompressorHarness harness(config);
  REQUIRE(harness.init_status == Status::kOk);
  CHECK(harness.step(gaussian_vector(1000, 3), StreamKey{}) == Status::kInvalidArgument);
  CHECK(std::string(harness.compressor.last_error().subject).find("compress_reusing_gradient") != std::string::npos);
  CHECK(harness.error_copy() == std::vector<float>(1000, 0.0f));

  config.encoder = EncoderChoice::kFixedWidth;
  CompressorHarness fixed(config);
  CHECK(fixed.step(gaussian_vector(1000, 3), StreamKey{}) == Status::kOk);
}

TEST_CASE("set encoder keeps error buffer") {
  CompressorHarness changed(make_config(20000, Method::kEcq, 1024, 2));
  CompressorHarness fixed(make_config(20000, Method::kEcq, 1024, 2, NormKind::kL2, EncoderChoice::kFixedWidth));
  REQUIRE(changed.step(gaussian_vector(20000, 31), StreamKey{1, 2, 0}) == Status::kOk);
  REQUIRE(fixed.step(gaussian_vector(20000, 31), StreamKey{1, 2, 0}) == Status::kOk);
  REQUIRE(changed.error_copy() == fixed.error_copy());

  REQUIRE(changed.compressor.set_encoder(EncoderChoice::kFixedWidth) == Status::kOk);
  CHECK(changed.compressor.config().encoder == EncoderChoice::kFixedWidth);
  CHECK(changed.error_copy() == fixed.error_copy());
  CHECK(changed.compressor.rollback(changed.bytes()) == Status::kOk);
  CHECK(fixed.compressor.rollback(fixed.bytes()) == Status::kOk);
  CHECK(changed.error_copy() == fixed.error_copy());

  REQUIRE(changed.step(gaussian_vector(20000, 32), StreamKey{1, 2, 1}) == Status::kOk);
  REQUIRE(fixed.step(gaussian_vector(20000, 32), StreamKey{1, 2, 1}) == Status::kOk);
  CHECK(changed.copy() == fixed.copy());
}

TEST_CASE("set encoder needs reserved scratch") {
  CompressorHarness fixed(make_config(1000, Method::kEcq, 512, 4, NormKind::kL2, EncoderChoice::kFixedWidth));
  REQUIRE(fixed.init_status == Status::kOk);
  CHECK(fixed.compressor.set_encoder(EncoderChoice::kAuto) == Status::kBufferTooSmall);
  CHECK(fixed.compressor.config().encoder == EncoderChoice::kFixedWidth);
  CHECK(fixed.compressor.set_encoder(static_cast<EncoderChoice>(7)) == Status::kInvalidArgument);

  CompressorConfig borrowed = make_config(1000, Method::kEcq, 512, 4, NormKind::kL2, EncoderChoice::kFixedWidth);
  borrowed.gradient_as_scratch = true;
  CompressorHarness lender(borrowed);
  REQUIRE(lender.init_status == Status::kOk);
  CHECK(lender.compressor.set_encoder(EncoderChoice::kEntropy) == Status::kOk);
}

TEST_CASE("scale error buffer multiplies h") {
  CompressorHarness harness(make_config(2000, Method::kEcq, 512, 4));
  REQUIRE(harness.step(gaussian_vector(2000, 5), StreamKey{}) == Status::kOk);
  const std::vector<float> before = harness.error_copy();
  REQUIRE(harness.compressor.scale_error_buffer(0.5f) == Status::kOk);
  const std::vector<float> after = harness.error_copy();
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i] == before[i] * 0.5f);
  }
  CHECK(harness.compressor.rollback(harness.bytes()) == Status::kStalePayload);
  CHECK(harness.compressor.scale_error_buffer(1.5f) == Status::kInvalidArgument);
  CHECK(harness.compressor.scale_error_buffer(std::nanf("")) == Status::kInvalidArgument);
  CHECK(harness.error_copy() == after);
}

TEST_CASE("fp32 passes the gradient through") {
  CompressorHarness harness(make_config(1000, Method::kFp32, 0, 0));
  REQUIRE(harness.init_status == Status::kOk);
  const std::vector<float> g = gaussian_vector(1000, 4);
  REQUIRE(harness.step(g, StreamKey{}) == Status::kOk);
  CHECK(harness.decoded() == g);
  CHECK(harness.compressor.error_buffer().empty());
  CHECK(harness.size == 24 + 4 * 1000);
}

TEST_CASE("qsgd keeps no error buffer") {
  const CompressorConfig qsgd = make_config(10000, Method::kQsgd, 512, 4, NormKind::kL2, EncoderChoice::kFixedWidth);
  const CompressorConfig ecq = make_config(10000, Method::kEcq, 512, 4, NormKind::kL2, EncoderChoice::kFixedWidth);
  CHECK(Compressor::required_arena_bytes(qsgd) < 100);
  CHECK(Compressor::required_arena_bytes(ecq) >= 40000);
  CompressorHarness harness(qsgd);
  REQUIRE(harness.step(gaussian_vector(10000, 1), StreamKey{}) == Status::kOk);
  CHECK(harness.compressor.error_buffer().empty());
  CHECK(harness.compressor.rollback(harness.bytes()) == Status::kOk);
}

TEST_CASE("rollback restores whole gradient as error") {
  CompressorHarness harness(make_config(3000, Method::kEcq, 512, 4));
  REQUIRE(harness.step(gaussian_vector(3000, 1), StreamKey{}) == Status::kOk);
  const std::vector<float> h0 = harness.error_copy();
  const std::vector<float> g = gaussian_vector(3000, 2);
  REQUIRE(harness.step(g, StreamKey{0, 0, 1}) == Status::kOk);
  const std::vector<std::uint8_t> rolled_back = harness.copy();
  REQUIRE(harness.compressor.rollback(harness.bytes()) == Status::kOk);
  const double beta = harness.compressor.compensation().beta;
  const std::vector<float> h = harness.error_copy();
  std::size_t off = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double expected = beta * h0[i] + g[i];
    if (std::fabs(h[i] - expected) > 1e-5 * (std::fabs(expected) + 1.0)) {
      ++off;
    }
  }
  CHECK(off == 0);
  SUBCASE("second rollback is stale") {
    CHECK(harness.compressor.rollback(Span<const std::uint8_t>(rolled_back.data(), rolled_back.size())) ==
          Status::kStalePayload);
  }
}

TEST_CASE("rollback rejects other payloads") {
  CompressorHarness harness(make_config(3000, Method::kEcq, 512, 4));
  REQUIRE(harness.step(gaussian_vector(3000, 1), StreamKey{}) == Status::kOk);
  const std::vector<std::uint8_t> older = harness.copy();
  REQUIRE(harness.step(gaussian_vector(3000, 2), StreamKey{0, 0, 1}) == Status::kOk);
  const std::vector<float> before = harness.error_copy();
  CHECK(harness.compressor.rollback(Span<const std::uint8_t>(older.data(), older.size())) == Status::kStalePayload);
  std::vector<std::uint8_t> corrupted = harness.copy();
  corrupted[30] ^= 0x01;
  CHECK(harness.compressor.rollback(Span<const std::uint8_t>(corrupted.data(), corrupted.size())) ==
        Status::kChecksumMismatch);
  CHECK(harness.error_copy() == before);
  CHECK(harness.compressor.rollback(harness.bytes()) == Status::kOk);
}

TEST_CASE("init rejects bad configurations") {
  std::vector<std::uint8_t> arena(1 << 20);
  const Span<std::uint8_t> memory(arena.data(), arena.size());
  Compressor compressor;
  CHECK(compressor.init(make_config(0, Method::kEcq, 512, 4), memory) == Status::kInvalidArgument);
  CHECK(compressor.init(make_config(100, Method::kEcq, 0, 4), memory) == Status::kInvalidArgument);
  CHECK(compressor.init(make_config(100, Method::kEcq, 512, 0), memory) == Status::kInvalidArgument);
  CHECK(compressor.init(make_config(100, Method::kEcq, 512, 128), memory) == Status::kInvalidArgument);
  const CompressorConfig config = make_config(100000, Method::kEcq, 512, 4);
  CHECK(compressor.init(config, Span<std::uint8_t>(arena.data(), Compressor::required_arena_bytes(config) - 1)) ==
        Status::kBufferTooSmall);
  CHECK(compressor.last_error().limit == Compressor::required_arena_bytes(config));
  std::vector<float> g(100000, 1.0f);
  std::vector<std::uint8_t> out(Compressor::max_payload_bytes(config));
  std::size_t size = 0;
  CHECK(compressor.compress(Span<const float>(g.data(), g.size()), StreamKey{},
                            Span<std::uint8_t>(out.data(), out.size()), &size) == Status::kNotInitialized);
  REQUIRE(compressor.init(config, memory) == Status::kOk);
  CHECK(compressor.compress(Span<const float>(g.data(), g.size()), StreamKey{},
                            Span<std::uint8_t>(out.data(), out.size() - 1), &size) == Status::kBufferTooSmall);
  CHECK(compressor.compress(Span<const float>(g.data(), 99999), StreamKey{}, Span<std::uint8_t>(out.data(), out.size()),
                            &size) == Status::kInvalidArgument);
}

std::vector<std::string> g_logged;
void capture_log(LogLevel level, const char* message) {
  if (level == LogLevel::kWarning) {
    g_logged.emplace_back(message);
  }
}

TEST_CASE("unstable compensation needs force") {
  std::vector<std::uint8_t> arena(1 << 16);
  const Span<std::uint8_t> memory(arena.data(), arena.size());
  CompressorConfig config = make_config(1000, Method::kEcq, 1024, 2);
  config.use_default_compensation = false;
  config.compensation = Compensation{0.2f, 0.9f, false};  // 0.04 * 16 + 0.49 = 1.13
  Compressor compressor;
  CHECK(compressor.init(config, memory) == Status::kUnstableCompensation);
  CHECK(compressor.last_error().found == doctest::Approx(1.13).epsilon(1e-3));

  g_logged.clear();
  set_log_sink(capture_log);
  config.compensation.force = true;
  CHECK(compressor.init(config, memory) == Status::kOk);
  CHECK(g_logged.size() == 1);

  config.compensation = Compensation{0.2f, 0.2f, false};
  CHECK(compressor.init(config, memory) == Status::kOk);
  CHECK(g_logged.size() == 1);

  config.method = Method::kEf;  // forced by design: always logs
  CHECK(compressor.init(config, memory) == Status::kOk);
  CHECK(compressor.compensation().alpha == 1.0f);
  CHECK(compressor.compensation().beta == 1.0f);
  CHECK(g_logged.size() == 2);
  set_log_sink(nullptr);

  config.method = Method::kEcq;
  config.compensation = Compensation{1.5f, 0.5f, true};
  CHECK(compressor.init(config, memory) == Status::kInvalidArgument);
}

TEST_CASE("failed init keeps working compressor") {
  CompressorHarness harness(make_config(1000, Method::kEcq, 256, 4));
  REQUIRE(harness.step(gaussian_vector(1000, 1), StreamKey{}) == Status::kOk);
  const std::vector<float> h = harness.error_copy();
  CompressorConfig bad = harness.compressor.config();
  bad.quantizer.levels = 0;
  CHECK(harness.compressor.init(bad, Span<std::uint8_t>(harness.arena.data(), harness.arena.size())) ==
        Status::kInvalidArgument);
  CHECK(harness.error_copy() == h);
  CHECK(harness.step(gaussian_vector(1000, 2), StreamKey{0, 0, 1}) == Status::kOk);
}

TEST_CASE("invalid argument names the field") {
  std::vector<std::uint8_t> arena(1 << 16);
  Compressor compressor;
  char message[300];
  CHECK(compressor.init(make_config(100, Method::kEcq, 512, 0), Span<std::uint8_t>(arena.data(), arena.size())) ==
        Status::kInvalidArgument);
  describe_error(compressor.last_error(), message, sizeof message);
  CHECK(std::string(message).find("levels s must be 1 to 127") != std::string::npos);
  CHECK(std::string(message).find("found 0") != std::string::npos);
  REQUIRE(compressor.init(make_config(100, Method::kEcq, 64, 4), Span<std::uint8_t>(arena.data(), arena.size())) ==
          Status::kOk);
  std::vector<float> g(99, 1.0f);
  std::vector<std::uint8_t> out(4096);
  std::size_t size = 0;
  CHECK(compressor.compress(Span<const float>(g.data(), g.size()), StreamKey{},
                            Span<std::uint8_t>(out.data(), out.size()), &size) == Status::kInvalidArgument);
  describe_error(compressor.last_error(), message, sizeof message);
  CHECK(std::string(message).find("gradient must have one element per dimension; found 99, expected 100") !=
        std::string::npos);
}

TEST_CASE("error messages name value and fix") {
  char message[256];
  ErrorInfo error{Status::kNonFiniteInput, 17, std::nan(""), FLT_MAX};
  describe_error(error, message, sizeof message);
  CHECK(std::string(message).find("element 17") != std::string::npos);
  CHECK(std::string(message).find("nan") != std::string::npos);
  error = ErrorInfo{Status::kScaleOverflow, 3, 4e38, FLT_MAX};
  describe_error(error, message, sizeof message);
  CHECK(std::string(message).find("bucket 3") != std::string::npos);
  CHECK(std::string(status_name(Status::kChecksumMismatch)) == "checksum mismatch");
}

}  // namespace
}  // namespace ecq
