#include "ecq/runtime/rans.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using ecq::Status;
using ecq::rans::DecodeTable;
using ecq::rans::FrequencyTable;
using ecq::rans::kMaxAlphabet;
using ecq::rans::kStateBytes;
using ecq::rans::kTotalFrequency;
using ecq::rans::StreamDecoder;

using Bytes = std::vector<std::uint8_t>;
using Symbols = std::vector<std::uint32_t>;

/// Deterministic random source: std::mt19937_64 output is fixed by the C++
/// standard, so every platform draws the same test data.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  /// Returns a value in [0, bound).
  std::uint32_t below(std::uint32_t bound) { return static_cast<std::uint32_t>(engine_() % bound); }

  /// Returns a value in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

 private:
  std::mt19937_64 engine_;
};

/// Packs symbols fixed-width into a little-endian bit stream of exactly
/// ceil(count * bits / 8) bytes, so that AddressSanitizer catches any read
/// past its end.
Bytes pack(const Symbols& symbols, std::uint32_t bits) {
  Bytes packed((symbols.size() * bits + 7) / 8, 0);
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    for (std::uint32_t b = 0; b < bits; ++b) {
      if ((symbols[i] >> b) & 1u) {
        const std::size_t bit = i * bits + b;
        packed[bit / 8] = static_cast<std::uint8_t>(packed[bit / 8] | (1u << (bit % 8)));
      }
    }
  }
  return packed;
}

Symbols count_symbols(const Symbols& symbols, std::uint32_t alphabet_size) {
  Symbols counts(alphabet_size, 0);
  for (const std::uint32_t symbol : symbols) {
    ++counts[symbol];
  }
  return counts;
}

/// Returns the order-0 entropy sum_k n_k * log2(n / n_k) in bits.
double entropy_bits(const Symbols& counts) {
  double total = 0.0;
  for (const std::uint32_t count : counts) {
    total += count;
  }
  double bits = 0.0;
  for (const std::uint32_t count : counts) {
    if (count > 0) {
      bits += count * std::log2(total / count);
    }
  }
  return bits;
}

FrequencyTable normalized_table(const Symbols& counts) {
  FrequencyTable table;
  const std::uint32_t alphabet_size = static_cast<std::uint32_t>(counts.size());
  const Status status = ecq::rans::normalize_frequencies(counts.data(), alphabet_size, &table);
  REQUIRE(status == Status::kOk);
  return table;
}

/// Encodes into a buffer that always suffices, because the encoder emits at
/// most 2 bytes per symbol plus the flushed state.
Bytes encode(const Symbols& symbols, std::uint32_t bits, const FrequencyTable& table) {
  const Bytes packed = pack(symbols, bits);
  Bytes out(2 * symbols.size() + kStateBytes);
  std::size_t size = 0;
  const Status status =
      ecq::rans::encode_packed(packed.data(), bits, symbols.size(), table, out.data(), out.size(), &size);
  REQUIRE(status == Status::kOk);
  out.resize(size);
  out.shrink_to_fit();
  return out;
}

struct Decoded {
  Status start = Status::kOk;
  Status finish = Status::kOk;
  Symbols symbols;
};

Decoded decode(const Bytes& stream, const FrequencyTable& table, std::size_t count) {
  static DecodeTable decode_table;
  ecq::rans::build_decode_table(table, &decode_table);
  Decoded result;
  StreamDecoder decoder;
  result.start = decoder.start(stream.data(), stream.size());
  if (result.start != Status::kOk) {
    return result;
  }
  result.symbols.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    result.symbols[i] = decoder.next(decode_table);
  }
  result.finish = decoder.finish();
  return result;
}

Symbols uniform_symbols(std::size_t count, std::uint32_t alphabet_size, std::uint64_t seed) {
  Random random(seed);
  Symbols symbols(count);
  for (std::uint32_t& symbol : symbols) {
    symbol = random.below(alphabet_size);
  }
  return symbols;
}

/// Draws symbols from a distribution given by weights.
Symbols weighted_symbols(std::size_t count, const std::vector<double>& weights, std::uint64_t seed) {
  double total = 0.0;
  for (const double weight : weights) {
    total += weight;
  }
  Random random(seed);
  Symbols symbols(count);
  for (std::uint32_t& symbol : symbols) {
    double target = random.uniform() * total;
    std::uint32_t k = 0;
    while (k + 1 < weights.size() && target >= weights[k]) {
      target -= weights[k];
      ++k;
    }
    symbol = k;
  }
  return symbols;
}

/// Weights of round(N(0, sigma^2)) clipped to [-levels, levels], centred at
/// symbol `levels`.
std::vector<double> gaussian_weights(std::uint32_t levels, double sigma) {
  std::vector<double> weights(2 * levels + 1);
  for (std::uint32_t k = 0; k < weights.size(); ++k) {
    const double x = static_cast<double>(k) - levels;
    const double upper = std::erf((x + 0.5) / (sigma * std::sqrt(2.0)));
    const double lower = std::erf((x - 0.5) / (sigma * std::sqrt(2.0)));
    weights[k] = 0.5 * (upper - lower);
  }
  return weights;
}

std::uint32_t table_sum(const FrequencyTable& table) {
  std::uint32_t sum = 0;
  for (std::uint32_t k = 0; k < table.alphabet_size; ++k) {
    sum += table.frequency[k];
  }
  return sum;
}

}  // namespace

TEST_CASE("rans round trip widths") {
  struct Case {
    std::uint32_t bits;
    std::size_t count;
  };
  // Odd counts leave a partial last byte, and widths 3, 5, 6 and 7 make
  // symbols straddle byte boundaries.
  const Case cases[] = {{1, 10007}, {2, 10007}, {3, 10007}, {4, 10007}, {5, 10007}, {6, 10007},
                        {7, 10007}, {8, 10007}, {3, 1},     {5, 3},     {7, 9},     {8, 1}};
  for (const Case& c : cases) {
    CAPTURE(c.bits);
    CAPTURE(c.count);
    const std::uint32_t alphabet_size = c.bits == 8 ? kMaxAlphabet : (1u << c.bits);
    const Symbols symbols = uniform_symbols(c.count, alphabet_size, 100 + c.bits);
    const FrequencyTable table = normalized_table(count_symbols(symbols, alphabet_size));
    const Bytes stream = encode(symbols, c.bits, table);
    const Decoded decoded = decode(stream, table, symbols.size());
    CHECK(decoded.start == Status::kOk);
    CHECK(decoded.finish == Status::kOk);
    CHECK(decoded.symbols == symbols);
  }
}

TEST_CASE("rans round trip skewed") {
  struct Case {
    const char* name;
    std::vector<double> weights;
    std::uint32_t bits;
  };
  const Case cases[] = {
      {"five levels", {0.96, 0.015, 0.005, 0.015, 0.005}, 3},
      {"gaussian 33", gaussian_weights(16, 2.0), 6},
      {"gaussian 255", gaussian_weights(127, 20.0), 8},
      {"geometric 16", {256, 128, 64, 32, 16, 8, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1}, 4},
      {"rare tail", {1e6, 1, 1, 1, 1, 1, 1}, 3},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) {
      const std::uint32_t alphabet_size = static_cast<std::uint32_t>(c.weights.size());
      const Symbols symbols = weighted_symbols(50001, c.weights, 7);
      const FrequencyTable table = normalized_table(count_symbols(symbols, alphabet_size));
      const Bytes stream = encode(symbols, c.bits, table);
      const Decoded decoded = decode(stream, table, symbols.size());
      CHECK(decoded.start == Status::kOk);
      CHECK(decoded.finish == Status::kOk);
      CHECK(decoded.symbols == symbols);
    }
  }
}

TEST_CASE("rans empty input") {
  FrequencyTable table;
  table.alphabet_size = 3;
  table.frequency[0] = 1000;
  table.frequency[1] = 3000;
  table.frequency[2] = 96;
  std::uint8_t out[8] = {};
  std::size_t size = 99;
  const Status status = ecq::rans::encode_packed(nullptr, 2, 0, table, out, sizeof(out), &size);
  REQUIRE(status == Status::kOk);
  REQUIRE(size == kStateBytes);

  // The flushed state is kStateLow = 0x00800000, little-endian.
  CHECK(out[0] == 0x00);
  CHECK(out[1] == 0x00);
  CHECK(out[2] == 0x80);
  CHECK(out[3] == 0x00);

  const Decoded decoded = decode(Bytes(out, out + size), table, 0);
  CHECK(decoded.start == Status::kOk);
  CHECK(decoded.finish == Status::kOk);
}

TEST_CASE("rans known stream") {
  // Coding symbol 1 with frequencies {2048, 2048} takes the state from 2^23 to
  // (2^23 / 2048) * 4096 + 0 + 2048 = 0x01000800, with no renormalisation.
  FrequencyTable table;
  table.alphabet_size = 2;
  table.frequency[0] = 2048;
  table.frequency[1] = 2048;
  const Bytes stream = encode({1}, 1, table);
  REQUIRE(stream.size() == 4);
  CHECK(stream[0] == 0x00);
  CHECK(stream[1] == 0x08);
  CHECK(stream[2] == 0x00);
  CHECK(stream[3] == 0x01);
}

TEST_CASE("rans single symbol alphabet") {
  const Symbols symbols(5000, 0);
  const FrequencyTable table = normalized_table({5000});
  REQUIRE(table.alphabet_size == 1);
  CHECK(table.frequency[0] == kTotalFrequency);

  // A symbol with the whole range costs nothing, so the stream is only the state.
  const Bytes stream = encode(symbols, 1, table);
  CHECK(stream.size() == kStateBytes);
  const Decoded decoded = decode(stream, table, symbols.size());
  CHECK(decoded.start == Status::kOk);
  CHECK(decoded.finish == Status::kOk);
  CHECK(decoded.symbols == symbols);
}

TEST_CASE("rans one present symbol") {
  const Symbols symbols(777, 4);
  const FrequencyTable table = normalized_table(count_symbols(symbols, 9));
  CHECK(table.frequency[4] == kTotalFrequency);
  CHECK(table_sum(table) == kTotalFrequency);

  const Bytes stream = encode(symbols, 4, table);
  CHECK(stream.size() == kStateBytes);
  const Decoded decoded = decode(stream, table, symbols.size());
  CHECK(decoded.finish == Status::kOk);
  CHECK(decoded.symbols == symbols);
}

TEST_CASE("rans alphabet 255") {
  // Every symbol occurs, and symbol 254 (the largest) occurs most often.
  Symbols symbols = uniform_symbols(20000, kMaxAlphabet, 255);
  for (std::size_t i = 0; i < symbols.size(); i += 3) {
    symbols[i] = kMaxAlphabet - 1;
  }
  const Symbols counts = count_symbols(symbols, kMaxAlphabet);
  std::size_t absent_symbols = 0;
  for (const std::uint32_t count : counts) {
    absent_symbols += count == 0 ? 1 : 0;
  }
  REQUIRE(absent_symbols == 0);

  const FrequencyTable table = normalized_table(counts);
  CHECK(table.alphabet_size == kMaxAlphabet);
  CHECK(table_sum(table) == kTotalFrequency);

  const Bytes stream = encode(symbols, 8, table);
  const Decoded decoded = decode(stream, table, symbols.size());
  CHECK(decoded.start == Status::kOk);
  CHECK(decoded.finish == Status::kOk);
  CHECK(decoded.symbols == symbols);
}

TEST_CASE("rans every frequency value") {
  // Two symbols with frequencies f and M - f, for every f from 1 to M - 1,
  // because each frequency has its own encoder reciprocal and renormalisation
  // bound.
  for (std::uint32_t f = 1; f < kTotalFrequency; ++f) {
    CAPTURE(f);
    FrequencyTable table;
    table.alphabet_size = 2;
    table.frequency[0] = static_cast<std::uint16_t>(f);
    table.frequency[1] = static_cast<std::uint16_t>(kTotalFrequency - f);
    const Symbols symbols = uniform_symbols(64, 2, f);
    const Bytes stream = encode(symbols, 1, table);
    const Decoded decoded = decode(stream, table, symbols.size());
    REQUIRE(decoded.finish == Status::kOk);
    REQUIRE(decoded.symbols == symbols);
  }
}

TEST_CASE("rans coded size near entropy") {
  struct Case {
    const char* name;
    std::vector<double> weights;
    std::uint32_t bits;
  };
  const Case cases[] = {
      {"five levels", {0.96, 0.015, 0.005, 0.015, 0.005}, 3},
      {"gaussian 33 sigma 1", gaussian_weights(16, 1.0), 6},
      {"gaussian 33 sigma 3", gaussian_weights(16, 3.0), 6},
      {"gaussian 255 sigma 30", gaussian_weights(127, 30.0), 8},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) {
      const std::uint32_t alphabet_size = static_cast<std::uint32_t>(c.weights.size());
      const Symbols symbols = weighted_symbols(1000000, c.weights, 11);
      const Symbols counts = count_symbols(symbols, alphabet_size);
      const FrequencyTable table = normalized_table(counts);
      const Bytes stream = encode(symbols, c.bits, table);

      const double entropy = entropy_bits(counts);
      const double stream_bits = 8.0 * static_cast<double>(stream.size());
      const double ratio = stream_bits / entropy;
      CAPTURE(entropy);
      CAPTURE(stream_bits);
      CHECK(ratio <= 1.02);
      // A stream far below the entropy would mean the measurement is wrong.
      CHECK(ratio >= 0.999);

      // The estimate leaves out the flushed state and the coder's small
      // rounding loss, so it lies close to the measured size.
      const double estimate = ecq::rans::estimate_coded_bits(counts.data(), table);
      CHECK(std::fabs(stream_bits - estimate) <= 0.005 * estimate + 64.0);
    }
  }
}

TEST_CASE("normalize invariants") {
  struct Case {
    const char* name;
    Symbols counts;
  };
  Symbols many_singletons(kMaxAlphabet, 1);
  Symbols dominant_with_singletons(kMaxAlphabet, 1);
  dominant_with_singletons[100] = 4000000000u;
  Symbols huge_counts(kMaxAlphabet, 0xFFFFFFFFu);
  huge_counts[3] = 0;
  Symbols sparse(200, 0);
  sparse[0] = 5;
  sparse[199] = 17;
  sparse[50] = 1;

  const Case cases[] = {
      {"uniform", {10, 10, 10, 10}},
      {"skewed", {960000, 15000, 5000, 15000, 5000}},
      {"with zeros", {0, 3, 0, 0, 1000, 0, 1}},
      {"two symbols", {1, 1000000}},
      {"many singletons", many_singletons},
      {"dominant with singletons", dominant_with_singletons},
      {"huge counts", huge_counts},
      {"sparse", sparse},
      {"first symbol absent", {0, 41917, 93809, 18683, 11892, 64902, 43761}},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) {
      const FrequencyTable table = normalized_table(c.counts);
      CHECK(table.alphabet_size == c.counts.size());
      CHECK(table_sum(table) == kTotalFrequency);
      for (std::size_t k = 0; k < c.counts.size(); ++k) {
        CAPTURE(k);
        CHECK((table.frequency[k] > 0) == (c.counts[k] > 0));
      }
      for (std::size_t k = c.counts.size(); k < kMaxAlphabet; ++k) {
        CAPTURE(k);
        CHECK(table.frequency[k] == 0);
      }
    }
  }
}

TEST_CASE("normalize local optimum") {
  // The cost is convex in each frequency, so a table that no single unit
  // transfer improves is optimal.
  struct Case {
    const char* name;
    Symbols counts;
  };
  const Case cases[] = {
      {"gaussian", count_symbols(weighted_symbols(300000, gaussian_weights(16, 2.5), 3), 33)},
      // Rounding lands on the exact sum, but one unit sits on the wrong symbol.
      {"powers of two", {256, 128, 262144, 512, 32768, 512, 32, 4096, 32}},
      // Rounding leaves the sum below kTotalFrequency.
      {"sum below total", {93, 51, 48, 54, 19, 68, 6, 20, 47, 16}},
      // Rounding leaves the sum above kTotalFrequency.
      {"sum above total", {900000, 70000, 3, 1, 1, 1, 1, 1}},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) {
      const FrequencyTable table = normalized_table(c.counts);
      const double cost = ecq::rans::estimate_coded_bits(c.counts.data(), table);
      std::size_t improving_transfers = 0;
      for (std::size_t up = 0; up < c.counts.size(); ++up) {
        for (std::size_t down = 0; down < c.counts.size(); ++down) {
          if (up == down || c.counts[up] == 0 || table.frequency[down] < 2) {
            continue;
          }
          FrequencyTable moved = table;
          ++moved.frequency[up];
          --moved.frequency[down];
          if (ecq::rans::estimate_coded_bits(c.counts.data(), moved) < cost * (1.0 - 1e-12)) {
            ++improving_transfers;
          }
        }
      }
      CHECK(improving_transfers == 0);
    }
  }
}

TEST_CASE("normalize matches brute force") {
  // Exhaustive search over every table for three symbols.
  const Symbols counts = {900000, 70000, 3};
  const FrequencyTable table = normalized_table(counts);
  const double cost = ecq::rans::estimate_coded_bits(counts.data(), table);

  std::vector<double> log2_of(kTotalFrequency + 1, 0.0);
  for (std::uint32_t f = 1; f <= kTotalFrequency; ++f) {
    log2_of[f] = std::log2(static_cast<double>(f));
  }
  double best = 1e300;
  for (std::uint32_t f0 = 1; f0 + 2 <= kTotalFrequency; ++f0) {
    for (std::uint32_t f1 = 1; f0 + f1 + 1 <= kTotalFrequency; ++f1) {
      const std::uint32_t f2 = kTotalFrequency - f0 - f1;
      const double bits =
          counts[0] * (12.0 - log2_of[f0]) + counts[1] * (12.0 - log2_of[f1]) + counts[2] * (12.0 - log2_of[f2]);
      if (bits < best) {
        best = bits;
      }
    }
  }
  CHECK(cost <= best * (1.0 + 1e-9));
}

TEST_CASE("normalize rejects bad input") {
  FrequencyTable table;
  const std::uint32_t zeros[4] = {0, 0, 0, 0};
  const std::uint32_t counts[kMaxAlphabet + 1] = {1, 2, 3};
  CHECK(ecq::rans::normalize_frequencies(counts, 0, &table) == Status::kInvalidArgument);
  CHECK(ecq::rans::normalize_frequencies(counts, kMaxAlphabet + 1, &table) == Status::kInvalidArgument);
  CHECK(ecq::rans::normalize_frequencies(zeros, 4, &table) == Status::kInvalidArgument);
  CHECK(ecq::rans::normalize_frequencies(nullptr, 4, &table) == Status::kInvalidArgument);
  CHECK(ecq::rans::normalize_frequencies(counts, 4, nullptr) == Status::kInvalidArgument);
}

TEST_CASE("estimate coded bits") {
  FrequencyTable table;
  table.alphabet_size = 3;
  table.frequency[0] = 2048;
  table.frequency[1] = 1024;
  table.frequency[2] = 1024;
  const std::uint32_t counts[3] = {4, 3, 0};
  // 4 symbols at 1 bit and 3 at 2 bits. The absent symbol costs nothing.
  CHECK(ecq::rans::estimate_coded_bits(counts, table) == doctest::Approx(10.0));

  table.frequency[1] = 0;
  table.frequency[0] = 3072;
  CHECK(std::isinf(ecq::rans::estimate_coded_bits(counts, table)));
}

TEST_CASE("table write read round trip") {
  const FrequencyTable table = normalized_table({7, 0, 123456, 42, 1, 999});
  Bytes bytes(ecq::rans::table_bytes(table.alphabet_size));
  REQUIRE(ecq::rans::write_table(table, bytes.data(), bytes.size()) == Status::kOk);

  FrequencyTable parsed;
  REQUIRE(ecq::rans::read_table(bytes.data(), bytes.size(), table.alphabet_size, &parsed) == Status::kOk);
  CHECK(parsed.alphabet_size == table.alphabet_size);
  for (std::uint32_t k = 0; k < kMaxAlphabet; ++k) {
    CAPTURE(k);
    CHECK(parsed.frequency[k] == table.frequency[k]);
  }

  // The layout is little-endian. Symbol 2 gets most of the range.
  CHECK(bytes[4] == (table.frequency[2] & 0xFF));
  CHECK(bytes[5] == (table.frequency[2] >> 8));
}

TEST_CASE("table write too small") {
  const FrequencyTable table = normalized_table({1, 2, 3});
  std::uint8_t bytes[8];
  for (std::uint8_t& byte : bytes) {
    byte = 0xA5;
  }
  CHECK(ecq::rans::write_table(table, bytes, 5) == Status::kBufferTooSmall);
  for (const std::uint8_t byte : bytes) {
    CHECK(byte == 0xA5);
  }
  CHECK(ecq::rans::write_table(table, nullptr, 0) == Status::kBufferTooSmall);
}

TEST_CASE("table read truncated") {
  const FrequencyTable table = normalized_table({5, 6, 7, 8});
  Bytes bytes(ecq::rans::table_bytes(4));
  REQUIRE(ecq::rans::write_table(table, bytes.data(), bytes.size()) == Status::kOk);
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    CAPTURE(size);
    // An exact-size copy lets AddressSanitizer catch a read past `size`.
    const Bytes truncated(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
    FrequencyTable parsed;
    CHECK(ecq::rans::read_table(truncated.data(), truncated.size(), 4, &parsed) == Status::kTruncatedPayload);
  }
}

TEST_CASE("table read rejects bad frequencies") {
  struct Case {
    const char* name;
    Bytes bytes;
  };
  const Case cases[] = {
      {"sum below total", {0x00, 0x08, 0xFF, 0x07}},  // 2048 + 2047
      {"sum above total", {0x00, 0x08, 0x01, 0x08}},  // 2048 + 2049
      {"all zero", {0x00, 0x00, 0x00, 0x00}},
      // 4097 + 65535 wraps to 4096 in a 16-bit sum.
      {"frequency above total", {0x01, 0x10, 0xFF, 0xFF}},
      {"total above total", {0x01, 0x10, 0x00, 0x00}},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) {
      FrequencyTable parsed;
      parsed.alphabet_size = 77;
      const Status status = ecq::rans::read_table(c.bytes.data(), c.bytes.size(), 2, &parsed);
      CHECK(status == Status::kBadSymbol);
      // A failed read leaves the table unchanged.
      CHECK(parsed.alphabet_size == 77);
    }
  }
}

TEST_CASE("table read whole range") {
  const Bytes bytes = {0x00, 0x00, 0x00, 0x10};
  FrequencyTable parsed;
  CHECK(ecq::rans::read_table(bytes.data(), bytes.size(), 2, &parsed) == Status::kOk);
  CHECK(parsed.frequency[0] == 0);
  CHECK(parsed.frequency[1] == kTotalFrequency);
}

TEST_CASE("table bad alphabet size") {
  const Bytes bytes(2 * (kMaxAlphabet + 1), 0);
  FrequencyTable table;
  CHECK(ecq::rans::read_table(bytes.data(), bytes.size(), 0, &table) == Status::kInvalidArgument);
  CHECK(ecq::rans::read_table(bytes.data(), bytes.size(), kMaxAlphabet + 1, &table) == Status::kInvalidArgument);
  table.alphabet_size = 0;
  std::uint8_t out[4];
  CHECK(ecq::rans::write_table(table, out, sizeof(out)) == Status::kInvalidArgument);
}

TEST_CASE("encode capacity too small") {
  const Symbols symbols = weighted_symbols(3001, {0.5, 0.2, 0.2, 0.05, 0.05}, 5);
  const std::uint32_t bits = 3;
  const FrequencyTable table = normalized_table(count_symbols(symbols, 5));
  const Bytes reference = encode(symbols, bits, table);
  const Bytes packed = pack(symbols, bits);

  constexpr std::size_t kGuardBytes = 64;
  constexpr std::uint8_t kGuardValue = 0xA5;
  for (std::size_t capacity = 0; capacity < reference.size(); ++capacity) {
    CAPTURE(capacity);
    Bytes out(capacity + kGuardBytes, kGuardValue);
    std::size_t size = 99;
    const Status status =
        ecq::rans::encode_packed(packed.data(), bits, symbols.size(), table, out.data(), capacity, &size);
    CHECK(status == Status::kBufferTooSmall);
    CHECK(size == 0);
    std::size_t guard_changes = 0;
    for (std::size_t i = capacity; i < out.size(); ++i) {
      guard_changes += out[i] != kGuardValue ? 1 : 0;
    }
    CHECK(guard_changes == 0);
  }

  // The exact size fits, and the result matches the one from a large buffer.
  Bytes out(reference.size() + kGuardBytes, kGuardValue);
  std::size_t size = 0;
  const Status status =
      ecq::rans::encode_packed(packed.data(), bits, symbols.size(), table, out.data(), reference.size(), &size);
  CHECK(status == Status::kOk);
  CHECK(size == reference.size());
  CHECK(Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(size)) == reference);
  CHECK(out[reference.size()] == kGuardValue);
}

TEST_CASE("encode rejects invalid arguments") {
  FrequencyTable table;
  table.alphabet_size = 3;
  table.frequency[0] = 4000;
  table.frequency[1] = 96;
  table.frequency[2] = 0;
  std::uint8_t out[64];
  std::size_t size = 0;

  SUBCASE("bits per symbol") {
    const std::uint8_t packed[1] = {0};
    CHECK(ecq::rans::encode_packed(packed, 0, 1, table, out, sizeof(out), &size) == Status::kInvalidArgument);
    CHECK(ecq::rans::encode_packed(packed, 9, 1, table, out, sizeof(out), &size) == Status::kInvalidArgument);
  }
  SUBCASE("symbol outside alphabet") {
    const Bytes packed = pack({0, 1, 3, 0}, 2);
    CHECK(ecq::rans::encode_packed(packed.data(), 2, 4, table, out, sizeof(out), &size) == Status::kInvalidArgument);
  }
  SUBCASE("symbol with zero frequency") {
    const Bytes packed = pack({0, 2, 1}, 2);
    CHECK(ecq::rans::encode_packed(packed.data(), 2, 3, table, out, sizeof(out), &size) == Status::kInvalidArgument);
  }
  SUBCASE("table sum wrong") {
    table.frequency[0] = 3999;
    const Bytes packed = pack({0, 1}, 2);
    CHECK(ecq::rans::encode_packed(packed.data(), 2, 2, table, out, sizeof(out), &size) == Status::kInvalidArgument);
  }
  SUBCASE("empty alphabet") {
    table.alphabet_size = 0;
    CHECK(ecq::rans::encode_packed(nullptr, 2, 0, table, out, sizeof(out), &size) == Status::kInvalidArgument);
  }
  SUBCASE("missing packed input") {
    CHECK(ecq::rans::encode_packed(nullptr, 2, 5, table, out, sizeof(out), &size) == Status::kInvalidArgument);
  }
  SUBCASE("missing output size") {
    CHECK(ecq::rans::encode_packed(nullptr, 2, 0, table, out, sizeof(out), nullptr) == Status::kInvalidArgument);
  }
}

TEST_CASE("decode table slots") {
  const FrequencyTable table = normalized_table({30, 0, 500, 7, 1});
  static DecodeTable decode_table;
  ecq::rans::build_decode_table(table, &decode_table);
  std::uint32_t slot = 0;
  for (std::uint32_t s = 0; s < table.alphabet_size; ++s) {
    CAPTURE(s);
    CHECK(decode_table.frequency[s] == table.frequency[s]);
    CHECK(decode_table.cumulative[s] == slot);
    std::size_t wrong_slots = 0;
    for (std::uint32_t j = 0; j < table.frequency[s]; ++j) {
      wrong_slots += decode_table.symbol_of_slot[slot + j] != s ? 1 : 0;
    }
    CHECK(wrong_slots == 0);
    slot += table.frequency[s];
  }
  CHECK(slot == kTotalFrequency);
}

TEST_CASE("decode detects truncation") {
  const Symbols symbols = weighted_symbols(2000, gaussian_weights(16, 2.0), 9);
  const FrequencyTable table = normalized_table(count_symbols(symbols, 33));
  const Bytes stream = encode(symbols, 6, table);
  REQUIRE(stream.size() > kStateBytes);
  for (std::size_t size = 0; size < stream.size(); ++size) {
    CAPTURE(size);
    const Bytes truncated(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(size));
    const Decoded decoded = decode(truncated, table, symbols.size());
    if (size < kStateBytes) {
      CHECK(decoded.start == Status::kTruncatedPayload);
    } else {
      CHECK(decoded.start == Status::kOk);
      CHECK(decoded.finish == Status::kBadSymbol);
    }
  }
}

TEST_CASE("decode detects extra bytes") {
  const Symbols symbols = weighted_symbols(2000, gaussian_weights(16, 2.0), 10);
  const FrequencyTable table = normalized_table(count_symbols(symbols, 33));
  const Bytes stream = encode(symbols, 6, table);
  const std::uint8_t extras[] = {0x00, 0x5A, 0xFF};
  for (const std::uint8_t extra : extras) {
    CAPTURE(extra);
    Bytes longer = stream;
    longer.push_back(extra);
    const Decoded decoded = decode(longer, table, symbols.size());
    CHECK(decoded.start == Status::kOk);
    CHECK(decoded.finish == Status::kBadSymbol);
  }
}

TEST_CASE("decode rejects initial state") {
  const FrequencyTable table = normalized_table({1, 1});
  struct Case {
    const char* name;
    Bytes bytes;
  };
  const Case cases[] = {
      {"zero", {0x00, 0x00, 0x00, 0x00}},
      {"just below low", {0xFF, 0xFF, 0x7F, 0x00}},
      {"high", {0x00, 0x00, 0x00, 0x80}},
      {"max", {0xFF, 0xFF, 0xFF, 0xFF}},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) {
      const Decoded decoded = decode(c.bytes, table, 1);
      CHECK(decoded.start == Status::kBadSymbol);
    }
  }
  SUBCASE("bounds accepted") {
    StreamDecoder decoder;
    const std::uint8_t low[4] = {0x00, 0x00, 0x80, 0x00};
    const std::uint8_t high[4] = {0xFF, 0xFF, 0xFF, 0x7F};
    CHECK(decoder.start(low, sizeof(low)) == Status::kOk);
    CHECK(decoder.start(high, sizeof(high)) == Status::kOk);
  }
}

TEST_CASE("decode after failed start") {
  // A decoder whose start() failed reads nothing and fails finish().
  static DecodeTable decode_table;
  ecq::rans::build_decode_table(normalized_table({3, 1}), &decode_table);
  StreamDecoder decoder;
  const std::uint8_t short_stream[2] = {0x00, 0x80};
  CHECK(decoder.start(short_stream, sizeof(short_stream)) == Status::kTruncatedPayload);
  for (int i = 0; i < 10; ++i) {
    const std::uint32_t symbol = decoder.next(decode_table);
    CHECK(symbol < 2);
  }
  CHECK(decoder.finish() == Status::kBadSymbol);
}

TEST_CASE("decode detects byte flips") {
  const Symbols symbols = weighted_symbols(1000, gaussian_weights(16, 2.0), 12);
  const FrequencyTable table = normalized_table(count_symbols(symbols, 33));
  const Bytes stream = encode(symbols, 6, table);

  constexpr int kTrials = 3000;
  Random random(77);
  int detected = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    Bytes corrupted = stream;
    const std::size_t position = random.below(static_cast<std::uint32_t>(corrupted.size()));
    const std::uint32_t flip = 1 + random.below(255);
    corrupted[position] = static_cast<std::uint8_t>(corrupted[position] ^ flip);
    const Decoded decoded = decode(corrupted, table, symbols.size());
    if (decoded.start != Status::kOk || decoded.finish != Status::kOk) {
      ++detected;
    }
  }
  CAPTURE(detected);
  CHECK(detected >= kTrials * 99 / 100);
}
