// The SIMD kernels must give the same bits as the scalar reference.

#include "kernels.h"

#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "test_support.h"

namespace ecq::detail {
namespace {

std::vector<float> awkward_values(std::size_t size, std::uint32_t seed) {
  std::vector<float> values = test::gaussian_vector(size, seed);
  // Subnormals, signed zeros and values near the rounding edges.
  for (std::size_t i = 0; i < size; i += 7) {
    values[i] = (i % 2 == 0 ? 1.0f : -1.0f) * 1e-40f;
  }
  for (std::size_t i = 3; i < size; i += 11) {
    values[i] = -0.0f;
  }
  return values;
}

bool same_bits(const float* a, const float* b, std::size_t size) {
  return std::memcmp(a, b, size * sizeof(float)) == 0;
}

// Equal values, where -0 and +0 count as equal: kernels that flush in
// hardware may keep the sign of a flushed zero.
bool same_values(const float* a, const float* b, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    if (!(a[i] == b[i])) {
      return false;
    }
  }
  return true;
}

// Runs `check` once for every SIMD variant this CPU supports.
template <typename Check>
void for_each_simd(Check check) {
  const Kernels* variants[3];
  const std::size_t count = supported_simd_kernels(variants);
  for (std::size_t v = 0; v < count; ++v) {
    CAPTURE(std::string(variants[v]->name));
    check(*variants[v]);
  }
}

void check_against_scalar(const Kernels& simd) {
  const Kernels& scalar = scalar_kernels();
  for (std::uint32_t n : {1u, 15u, 16u, 17u, 64u, 333u, 512u}) {
    CAPTURE(n);
    const std::vector<float> g = awkward_values(n, n);
    const std::vector<float> h0 = awkward_values(n, n + 100);

    const FlushToZeroScope flush_mode(simd);
    BucketScan simd_scan;
    BucketScan scalar_scan;
    simd.scan(g.data(), h0.data(), n, 0.3f, 0.9f, &simd_scan);
    scalar.scan(g.data(), h0.data(), n, 0.3f, 0.9f, &scalar_scan);
    CHECK(std::memcmp(simd_scan.lanes, scalar_scan.lanes, sizeof simd_scan.lanes) == 0);
    CHECK(simd_scan.max_abs == scalar_scan.max_abs);
    CHECK(simd_scan.max_error_bound == scalar_scan.max_error_bound);
    CHECK(simd_scan.non_finite == scalar_scan.non_finite);

    // A scan resumed piece by piece, at multiples of 8, continues the same
    // lane sums: it matches the one-call scalar scan exactly.
    for (std::uint32_t piece : {8u, 16u, 64u}) {
      CAPTURE(piece);
      BucketScan resumed;
      for (std::uint32_t at = 0; at < n; at += piece) {
        simd.scan(g.data() + at, h0.data() + at, n - at < piece ? n - at : piece, 0.3f, 0.9f, &resumed);
      }
      CHECK(std::memcmp(resumed.lanes, scalar_scan.lanes, sizeof resumed.lanes) == 0);
      CHECK(resumed.max_abs == scalar_scan.max_abs);
      CHECK(resumed.max_error_bound == scalar_scan.max_error_bound);
    }

    std::vector<float> uniforms(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      uniforms[i] = static_cast<float>(i % 97) / 97.0f;
    }
    const SegmentParams params{0.3f, 0.9f, 1.7f, 0.6f, 4.0f, 4};
    std::vector<float> h_simd = h0;
    std::vector<float> h_scalar = h0;
    std::vector<std::uint8_t> codes_simd(n);
    std::vector<std::uint8_t> codes_scalar(n);
    simd.quantize(g.data(), h_simd.data(), n, uniforms.data(), params, codes_simd.data());
    scalar.quantize(g.data(), h_scalar.data(), n, uniforms.data(), params, codes_scalar.data());
    CHECK(codes_simd == codes_scalar);
    CHECK(same_values(h_simd.data(), h_scalar.data(), n));
  }
}

TEST_CASE("simd kernels match scalar") {
  MESSAGE("kernels in use: " << std::string(select_kernels().name));
  for_each_simd(check_against_scalar);
}

TEST_CASE("simd accumulate matches scalar") {
  for_each_simd([](const Kernels& simd) {
    std::mt19937 engine(7);
    for (std::uint32_t bits = 2; bits <= 8; ++bits) {
      const std::uint32_t groups = 3;
      std::vector<std::uint8_t> packed(groups * 8 * bits);
      for (std::uint8_t& byte : packed) {
        byte = static_cast<std::uint8_t>(engine());
      }
      std::vector<float> simd_sum = test::gaussian_vector(groups * kGroupElements, bits);
      std::vector<float> scalar_sum = simd_sum;
      simd.accumulate_groups(packed.data(), groups, bits, 0.37f, 5.0f, simd_sum.data());
      scalar_kernels().accumulate_groups(packed.data(), groups, bits, 0.37f, 5.0f, scalar_sum.data());
      CAPTURE(bits);
      CHECK(same_bits(simd_sum.data(), scalar_sum.data(), simd_sum.size()));
    }
  });
}

TEST_CASE("simd scan flags non-finite lanes") {
  for_each_simd([](const Kernels& simd) {
    for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
      for (std::uint32_t position : {0u, 9u, 15u, 16u, 40u}) {
        std::vector<float> g(41, 1.0f);
        g[position] = bad;
        BucketScan scan;
        simd.scan(g.data(), nullptr, 41, 0.0f, 0.0f, &scan);
        CAPTURE(position);
        CHECK(scan.non_finite);
      }
    }
  });
}

TEST_CASE("simd uniforms match scalar") {
  for_each_simd([](const Kernels& simd) {
    const Kernels& scalar = scalar_kernels();
    for (const StreamKey& key :
         {StreamKey{0, 0, 0}, StreamKey{~0ull, ~0ull, ~0u}, StreamKey{0x1234567890abcdefull, 77, 5}}) {
      for (std::uint32_t group : {0u, 1u, 1000u, (1u << 26) - 1}) {
        float simd_out[kGroupElements];
        float scalar_out[kGroupElements];
        simd.group_uniforms(key, group, simd_out);
        scalar.group_uniforms(key, group, scalar_out);
        CAPTURE(group);
        CHECK(same_bits(simd_out, scalar_out, kGroupElements));
      }
    }
  });
}

TEST_CASE("group uniforms follow philox mapping") {
  // Element i of a group uses word (i % 64) / 16 of block group * 16 + i % 16.
  const StreamKey key{42, 7, 3};
  float out[kGroupElements];
  scalar_kernels().group_uniforms(key, 5, out);
  for (std::uint32_t i = 0; i < kGroupElements; ++i) {
    const PhiloxBlock block = stream_block(key, 5 * 16 + i % 16);
    REQUIRE(out[i] == uniform_from_bits(block.word[i / 16]));
  }
}

TEST_CASE("pack and unpack match bit reference") {
  std::mt19937 engine(1);
  for (std::uint32_t bits = 2; bits <= 8; ++bits) {
    for (std::uint32_t count = 1; count <= kGroupElements; ++count) {
      std::uint8_t codes[kGroupElements];
      for (std::uint32_t i = 0; i < count; ++i) {
        codes[i] = static_cast<std::uint8_t>(engine() % (1u << bits));
      }
      std::uint8_t packed[80] = {};
      std::uint8_t expected[80] = {};
      pack_group(codes, count, bits, packed);
      for (std::uint32_t i = 0; i < count; ++i) {
        for (std::uint32_t bit = 0; bit < bits; ++bit) {
          if ((codes[i] >> bit) & 1u) {
            const std::uint32_t at = i * bits + bit;
            expected[at / 8] = static_cast<std::uint8_t>(expected[at / 8] | (1u << (at % 8)));
          }
        }
      }
      CAPTURE(bits);
      CAPTURE(count);
      CHECK(std::memcmp(packed, expected, sizeof packed) == 0);
      std::uint8_t unpacked[kGroupElements] = {};
      unpack_group(expected, count, bits, unpacked);
      CHECK(std::memcmp(unpacked, codes, count) == 0);
    }
  }
}

}  // namespace
}  // namespace ecq::detail
