#include "ecq/runtime/quantizer.h"

#include <doctest/doctest.h>

#include <cmath>
#include <initializer_list>

#include "ecq/runtime/compressor.h"

namespace ecq {
namespace {

TEST_CASE("bits per symbol") {
  struct Case {
    std::uint32_t levels;
    std::uint32_t bits;
  };
  const Case cases[] = {{1, 2},  {2, 3},  {3, 3},  {4, 4},  {7, 4},  {8, 5},
                        {15, 5}, {16, 6}, {32, 7}, {63, 7}, {64, 8}, {127, 8}};
  for (const Case& c : cases) {
    CAPTURE(c.levels);
    CHECK(bits_per_symbol(c.levels) == c.bits);
  }
}

TEST_CASE("quantizer config validation") {
  QuantizerConfig config;
  CHECK(validate_quantizer(config) == Status::kOk);
  config.levels = 0;
  CHECK(validate_quantizer(config) == Status::kInvalidArgument);
  config.levels = 128;
  ErrorInfo error;
  CHECK(validate_quantizer(config, &error) == Status::kInvalidArgument);
  CHECK(error.found == 128.0);
  config.levels = 127;
  config.bucket_size = 0;
  CHECK(validate_quantizer(config) == Status::kInvalidArgument);
}

TEST_CASE("variance bound values") {
  // l2, s = 2, b = 1024: min(64, 16) = 16; s = 4, b = 256: min(4, 4) = 4.
  CHECK(variance_bound(QuantizerConfig{1024, 2, NormKind::kL2}) == doctest::Approx(16.0));
  CHECK(variance_bound(QuantizerConfig{256, 4, NormKind::kL2}) == doctest::Approx(4.0));
  CHECK(variance_bound(QuantizerConfig{16, 4, NormKind::kLinf}) == doctest::Approx(0.25));
  CHECK(variance_bound(QuantizerConfig{1, 1, NormKind::kL2}) == doctest::Approx(0.25));
}

TEST_CASE("default compensation is stable") {
  for (std::uint32_t bucket : {1u, 16u, 256u, 512u, 1024u, 65536u}) {
    for (std::uint32_t levels : {1u, 2u, 4u, 8u, 16u, 127u}) {
      for (NormKind norm : {NormKind::kL2, NormKind::kLinf}) {
        const QuantizerConfig quantizer{bucket, levels, norm};
        const Compensation pair = default_compensation(quantizer);
        CAPTURE(bucket);
        CAPTURE(levels);
        CHECK(stability_value(pair, variance_bound(quantizer)) <= kDefaultStabilityTarget + 1e-6);
        CHECK(pair.alpha > 0.0f);
        CHECK(pair.beta <= 0.98f);
      }
    }
  }
}

TEST_CASE("default compensation at known points") {
  const Compensation at_gamma_4 = default_compensation(QuantizerConfig{256, 4, NormKind::kL2});
  CHECK(at_gamma_4.alpha == doctest::Approx(0.25));
  CHECK(at_gamma_4.beta == doctest::Approx(0.98));
  const Compensation at_gamma_8 = default_compensation(QuantizerConfig{1024, 4, NormKind::kL2});
  CHECK(at_gamma_8.alpha == doctest::Approx(0.5 / std::sqrt(8.0)));
  CHECK(at_gamma_8.beta == doctest::Approx(0.98));
  const Compensation at_gamma_16 = default_compensation(QuantizerConfig{1024, 2, NormKind::kL2});
  CHECK(at_gamma_16.alpha == doctest::Approx(0.125));
  CHECK(at_gamma_16.beta == doctest::Approx(0.125 + std::sqrt(0.65)));
}

TEST_CASE("classic error feedback is unstable at gamma 16") {
  const Compensation ef{1.0f, 1.0f, false};
  CHECK(stability_value(ef, 16.0) >= 1.0);
  const Compensation measured_stable{0.2f, 0.2f, false};
  CHECK(stability_value(measured_stable, 16.0) < 1.0);
}

}  // namespace
}  // namespace ecq
