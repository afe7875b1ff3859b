#include "ecq/runtime/philox.h"

#include <doctest/doctest.h>

#include <initializer_list>
#include <set>

namespace ecq {
namespace {

struct KnownAnswer {
  PhiloxBlock counter;
  std::uint32_t key0;
  std::uint32_t key1;
  PhiloxBlock expected;
};

// Known-answer vectors published with the Random123 library (kat_vectors).
const KnownAnswer kKnownAnswers[] = {
    {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
    {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
     0xffffffff,
     0xffffffff,
     {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
    {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
     0xa4093822,
     0x299f31d0,
     {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
};

TEST_CASE("philox4x32 known answers") {
  for (const KnownAnswer& vector : kKnownAnswers) {
    const PhiloxBlock result = philox4x32(vector.counter, vector.key0, vector.key1);
    for (int word = 0; word < 4; ++word) {
      CHECK(result.word[word] == vector.expected.word[word]);
    }
  }
}

TEST_CASE("uniform never reaches one") {
  CHECK(uniform_from_bits(0xFFFFFFFFu) < 1.0f);
  CHECK(uniform_from_bits(0xFFFFFFFFu) == 1.0f - 0x1.0p-24f);
  CHECK(uniform_from_bits(0) == 0.0f);
}

TEST_CASE("stream blocks differ by device and round") {
  const StreamKey base{42, 7, 3};
  StreamKey other_device = base;
  other_device.device_id = 8;
  StreamKey other_round = base;
  other_round.round = 4;
  StreamKey high_device = base;
  high_device.device_id = 7 + (std::uint64_t{1} << 32);
  std::set<std::uint32_t> first_words;
  for (const StreamKey& key : {base, other_device, other_round, high_device}) {
    first_words.insert(stream_block(key, 0).word[0]);
  }
  CHECK(first_words.size() == 4);
}

TEST_CASE("uniform mean and spread") {
  // 400k draws: the mean of U[0,1) has standard error 0.00046.
  const StreamKey key{1, 2, 3};
  double sum = 0.0;
  double sum_squares = 0.0;
  const std::uint32_t blocks = 100000;
  for (std::uint32_t block = 0; block < blocks; ++block) {
    const PhiloxBlock words = stream_block(key, block);
    for (std::uint32_t word : words.word) {
      const double u = uniform_from_bits(word);
      sum += u;
      sum_squares += u * u;
    }
  }
  const double count = 4.0 * blocks;
  const double mean = sum / count;
  const double variance = sum_squares / count - mean * mean;
  CHECK(mean == doctest::Approx(0.5).epsilon(0.004));
  CHECK(variance == doctest::Approx(1.0 / 12.0).epsilon(0.01));
}

}  // namespace
}  // namespace ecq
