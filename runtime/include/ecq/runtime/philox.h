#pragma once
// Philox4x32-10, the counter-based random number generator of J. Salmon,
// M. Moraes, R. Dror and D. Shaw, "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011. Each (key, counter) pair maps to four independent 32-bit
// words, so any element's random draw can be computed on its own, in any
// order, on any thread, with the same result on every architecture.

#include <cstddef>
#include <cstdint>

namespace ecq {

struct PhiloxBlock {
  std::uint32_t word[4];
};

/// Returns the ten-round Philox4x32 output for `counter` under the 64-bit key
/// (key0, key1).
inline PhiloxBlock philox4x32(PhiloxBlock counter, std::uint32_t key0, std::uint32_t key1) {
  constexpr std::uint32_t kMultiplier0 = 0xD2511F53u;
  constexpr std::uint32_t kMultiplier1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;
  constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;
  std::uint32_t c0 = counter.word[0];
  std::uint32_t c1 = counter.word[1];
  std::uint32_t c2 = counter.word[2];
  std::uint32_t c3 = counter.word[3];
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t product0 = static_cast<std::uint64_t>(kMultiplier0) * c0;
    const std::uint64_t product1 = static_cast<std::uint64_t>(kMultiplier1) * c2;
    const auto high0 = static_cast<std::uint32_t>(product0 >> 32);
    const auto low0 = static_cast<std::uint32_t>(product0);
    const auto high1 = static_cast<std::uint32_t>(product1 >> 32);
    const auto low1 = static_cast<std::uint32_t>(product1);
    c0 = high1 ^ c1 ^ key0;
    c1 = low1;
    c2 = high0 ^ c3 ^ key1;
    c3 = low0;
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return PhiloxBlock{{c0, c1, c2, c3}};
}

/// Identifies one quantizer random stream: the run seed, the device and the
/// round. Distinct keys give statistically independent streams.
struct StreamKey {
  std::uint64_t seed = 0;
  std::uint64_t device_id = 0;
  std::uint32_t round = 0;
};

/// Returns the 64-bit FNV-1a hash of id[0..size) (offset basis
/// 0xcbf29ce484222325, prime 0x100000001b3): the StreamKey::device_id of the
/// device with this id, as docs/protocol.md specifies.
std::uint64_t device_stream_id(const char* id, std::size_t size);

/// Returns Philox block `block_index` of the stream `key`. The seed is the
/// Philox key and the counter is (block index, round, device id low, device
/// id high), so streams of different devices or rounds never share a counter.
/// The quantizer draws element i's uniform from word (i % 64) / 16 of block
/// (i / 64) * 16 + i % 16, so SIMD lanes can evaluate adjacent blocks at once.
inline PhiloxBlock stream_block(const StreamKey& key, std::uint32_t block_index) {
  const PhiloxBlock counter{{block_index, key.round, static_cast<std::uint32_t>(key.device_id),
                             static_cast<std::uint32_t>(key.device_id >> 32)}};
  return philox4x32(counter, static_cast<std::uint32_t>(key.seed), static_cast<std::uint32_t>(key.seed >> 32));
}

/// Maps a 32-bit word to a float uniform on [0, 1) with 24 bits of
/// resolution. The largest value is 1 - 2^-24, so a draw never reaches 1.0.
inline float uniform_from_bits(std::uint32_t bits) { return static_cast<float>(bits >> 8) * 0x1.0p-24f; }

}  // namespace ecq
