#include "ecq/runtime/rans.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace ecq::rans {
namespace {

/// Exclusive upper bound of the normalised coder state.
constexpr std::uint32_t kStateHigh = kStateLow << 8;

/// Before coding a symbol of frequency f, the encoder shifts bytes out until
/// the state is below kRenormBoundPerFrequency * f. Coding then maps the state
/// back into [kStateLow, kStateHigh), and the decoder reads the same bytes back
/// in reverse order while its state is below kStateLow.
constexpr std::uint32_t kRenormBoundPerFrequency = (kStateLow >> kScaleBits) << 8;

/// Number of values a symbol of at most 8 bits can take. Encoder arrays have
/// this many entries, so any unpacked symbol indexes them without a range check.
constexpr std::size_t kByteValues = 256;

/// Upper bound on the unit transfers normalize_frequencies() makes after the
/// sum is exact. Every transfer lowers the cost as unit_saving() prices it, so
/// the loop ends even without this bound, which only caps the run time.
constexpr std::uint32_t kMaxTransfers = kTotalFrequency;

bool is_valid_alphabet(std::uint32_t alphabet_size) { return alphabet_size >= 1 && alphabet_size <= kMaxAlphabet; }

/// Returns whether frequency[0..alphabet_size) sums to kTotalFrequency with
/// no entry above it.
bool is_normalized(const std::uint16_t* frequency, std::uint32_t alphabet_size) {
  std::uint32_t sum = 0;
  for (std::uint32_t k = 0; k < alphabet_size; ++k) {
    if (frequency[k] > kTotalFrequency) {
      return false;
    }
    sum += frequency[k];
  }
  return sum == kTotalFrequency;
}

// ---------------------------------------------------------------------------
// Frequency normalisation
// ---------------------------------------------------------------------------

/// Returns the bits saved on `count` occurrences of a symbol when its
/// frequency rises from `frequency - 1` to `frequency` (frequency >= 2).
/// Raising and lowering a frequency are both priced by this one function, so
/// a unit moved from one symbol to another and back is priced the same both
/// ways, and the transfer loop cannot cycle.
float unit_saving(std::uint32_t count, std::uint32_t frequency) {
  const double ratio = static_cast<double>(frequency) / static_cast<double>(frequency - 1);
  return static_cast<float>(static_cast<double>(count) * std::log2(ratio));
}

/// Greedy minimiser of sum_k counts[k] * log2(kTotalFrequency / frequency[k]).
///
/// The cost is separable and convex in each frequency, so a table whose sum
/// is exact and which no single unit transfer between two symbols improves
/// is optimal. The search starts from the rounded proportional frequencies,
/// fixes the sum one unit at a time by the cheapest step, and then makes
/// improving transfers.
class Normalizer {
 public:
  Normalizer(const std::uint32_t* counts, std::uint32_t alphabet_size, std::uint16_t* frequency)
      : counts_(counts), alphabet_size_(alphabet_size), frequency_(frequency) {}

  void run(std::uint64_t total) {
    std::uint32_t sum = set_proportional(total);
    for (std::uint32_t k = 0; k < alphabet_size_; ++k) {
      update_prices(k);
    }

    // While the sum is off, a symbol to raise and a symbol to lower always
    // exist, because every present symbol can be raised, and a sum above
    // kTotalFrequency > kMaxAlphabet means some frequency is at least 2.
    while (sum != kTotalFrequency) {
      if (sum < kTotalFrequency) {
        const std::uint32_t up = best_to_raise();
        ++frequency_[up];
        update_prices(up);
        ++sum;
      } else {
        const std::uint32_t down = best_to_lower();
        --frequency_[down];
        update_prices(down);
        --sum;
      }
    }

    for (std::uint32_t transfers = 0; transfers < kMaxTransfers; ++transfers) {
      const std::uint32_t up = best_to_raise();
      const std::uint32_t down = best_to_lower();
      // By convexity, raising one symbol saves less than lowering it costs.
      // So when the best symbol to raise is also the cheapest to lower, no
      // transfer helps.
      if (up == down || !(raise_saving_[up] > lower_cost_[down])) {
        break;
      }
      ++frequency_[up];
      --frequency_[down];
      update_prices(up);
      update_prices(down);
    }
  }

 private:
  /// Sets each present symbol to round(count * M / total), at least 1, and
  /// each absent symbol to 0. Returns the sum.
  std::uint32_t set_proportional(std::uint64_t total) {
    std::uint32_t sum = 0;
    for (std::uint32_t k = 0; k < alphabet_size_; ++k) {
      std::uint64_t scaled = 0;
      if (counts_[k] > 0) {
        scaled = (static_cast<std::uint64_t>(counts_[k]) * kTotalFrequency + total / 2) / total;
        if (scaled == 0) {
          scaled = 1;
        }
      }
      frequency_[k] = static_cast<std::uint16_t>(scaled);
      sum += frequency_[k];
    }
    return sum;
  }

  /// Refreshes the price of raising and of lowering symbol k by one unit.
  /// An absent symbol can do neither, and a frequency of 1 cannot go lower.
  void update_prices(std::uint32_t k) {
    const std::uint32_t frequency = frequency_[k];
    if (counts_[k] == 0) {
      raise_saving_[k] = -std::numeric_limits<float>::infinity();
      lower_cost_[k] = std::numeric_limits<float>::infinity();
      return;
    }
    raise_saving_[k] = unit_saving(counts_[k], frequency + 1);
    lower_cost_[k] = frequency >= 2 ? unit_saving(counts_[k], frequency) : std::numeric_limits<float>::infinity();
  }

  std::uint32_t best_to_raise() const {
    std::uint32_t best = 0;
    for (std::uint32_t k = 1; k < alphabet_size_; ++k) {
      if (raise_saving_[k] > raise_saving_[best]) {
        best = k;
      }
    }
    return best;
  }

  std::uint32_t best_to_lower() const {
    std::uint32_t best = 0;
    for (std::uint32_t k = 1; k < alphabet_size_; ++k) {
      if (lower_cost_[k] < lower_cost_[best]) {
        best = k;
      }
    }
    return best;
  }

  const std::uint32_t* counts_;
  std::uint32_t alphabet_size_;
  std::uint16_t* frequency_;
  // Prices in bits. float keeps the two arrays at 2 KiB of stack, and its
  // precision is far finer than the cost differences that matter here.
  float raise_saving_[kMaxAlphabet] = {};
  float lower_cost_[kMaxAlphabet] = {};
};

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

/// Per-symbol encoder constants. Symbols outside the alphabet and absent
/// symbols have frequency 0, which the encoder rejects.
///
/// The quotient state / frequency is computed as (state * reciprocal) >> shift
/// with shift = 31 + ceil(log2 f) and reciprocal = ceil(2^shift / f), which
/// fits in 32 bits. It is exact for every state below 2^31, and the encoder
/// only divides states below kRenormBoundPerFrequency * f <= 2^31. Proof:
/// reciprocal * f = 2^shift + e with 0 <= e < f <= 2^(shift - 31), so
/// state * reciprocal / 2^shift exceeds state / f by state * e / (f * 2^shift)
/// < 1 / f, which cannot carry floor(state / f) to the next integer.
struct EncoderModel {
  std::uint32_t reciprocal[kByteValues];
  std::uint16_t frequency[kByteValues];
  std::uint16_t cumulative[kByteValues];
  std::uint8_t shift[kByteValues];
};

/// Returns ceil(log2(value)) for value >= 1.
std::uint32_t ceil_log2(std::uint32_t value) {
  std::uint32_t bits = 0;
  while ((1u << bits) < value) {
    ++bits;
  }
  return bits;
}

void build_encoder_model(const FrequencyTable& table, EncoderModel* model) {
  std::uint32_t cumulative = 0;
  for (std::size_t s = 0; s < kByteValues; ++s) {
    const std::uint32_t frequency = s < table.alphabet_size ? table.frequency[s] : 0;
    model->frequency[s] = static_cast<std::uint16_t>(frequency);
    model->cumulative[s] = static_cast<std::uint16_t>(cumulative);
    model->reciprocal[s] = 0;
    model->shift[s] = 0;
    if (frequency > 0) {
      const std::uint32_t shift = 31 + ceil_log2(frequency);
      const std::uint64_t reciprocal = ((std::uint64_t{1} << shift) + frequency - 1) / frequency;
      model->reciprocal[s] = static_cast<std::uint32_t>(reciprocal);
      model->shift[s] = static_cast<std::uint8_t>(shift);
    }
    cumulative += frequency;
  }
}

/// Returns symbol `index` of a packed little-endian bit stream. Reads only the
/// bytes that hold the symbol's bits.
std::uint32_t read_packed_symbol(const std::uint8_t* packed, std::size_t index, std::uint32_t bits_per_symbol) {
  const std::size_t first_bit = index * bits_per_symbol;
  const std::size_t byte = first_bit >> 3;
  const std::uint32_t offset = static_cast<std::uint32_t>(first_bit & 7u);
  std::uint32_t value = static_cast<std::uint32_t>(packed[byte]) >> offset;
  if (offset + bits_per_symbol > 8) {
    value |= static_cast<std::uint32_t>(packed[byte + 1]) << (8 - offset);
  }
  return value & ((1u << bits_per_symbol) - 1);
}

}  // namespace

Status normalize_frequencies(const std::uint32_t* counts, std::uint32_t alphabet_size, FrequencyTable* table) {
  if (counts == nullptr || table == nullptr || !is_valid_alphabet(alphabet_size)) {
    return Status::kInvalidArgument;
  }
  std::uint64_t total = 0;
  for (std::uint32_t k = 0; k < alphabet_size; ++k) {
    total += counts[k];
  }
  if (total == 0) {
    return Status::kInvalidArgument;
  }

  *table = FrequencyTable{};
  table->alphabet_size = alphabet_size;
  Normalizer normalizer(counts, alphabet_size, table->frequency);
  normalizer.run(total);
  return Status::kOk;
}

double estimate_coded_bits(const std::uint32_t* counts, const FrequencyTable& table) {
  // An alphabet above kMaxAlphabet is clamped so that `table` is never read
  // out of range. A present symbol with frequency 0 cannot be coded, and its
  // cost is infinite.
  const std::uint32_t alphabet_size = table.alphabet_size < kMaxAlphabet ? table.alphabet_size : kMaxAlphabet;
  double bits = 0.0;
  for (std::uint32_t k = 0; k < alphabet_size; ++k) {
    if (counts[k] == 0) {
      continue;
    }
    if (table.frequency[k] == 0) {
      return std::numeric_limits<double>::infinity();
    }
    const double symbol_bits = static_cast<double>(kScaleBits) - std::log2(static_cast<double>(table.frequency[k]));
    bits += static_cast<double>(counts[k]) * symbol_bits;
  }
  return bits;
}

Status write_table(const FrequencyTable& table, std::uint8_t* out, std::size_t capacity) {
  if (!is_valid_alphabet(table.alphabet_size)) {
    return Status::kInvalidArgument;
  }
  if (capacity < table_bytes(table.alphabet_size)) {
    return Status::kBufferTooSmall;
  }
  if (out == nullptr) {
    return Status::kInvalidArgument;
  }
  for (std::uint32_t k = 0; k < table.alphabet_size; ++k) {
    out[2 * k] = static_cast<std::uint8_t>(table.frequency[k] & 0xFFu);
    out[2 * k + 1] = static_cast<std::uint8_t>(table.frequency[k] >> 8);
  }
  return Status::kOk;
}

Status read_table(const std::uint8_t* data, std::size_t size, std::uint32_t alphabet_size, FrequencyTable* table) {
  if (table == nullptr || !is_valid_alphabet(alphabet_size)) {
    return Status::kInvalidArgument;
  }
  if (size < table_bytes(alphabet_size)) {
    return Status::kTruncatedPayload;
  }
  if (data == nullptr) {
    return Status::kInvalidArgument;
  }

  // Validate before writing, so that `table` is unchanged on failure.
  std::uint32_t sum = 0;
  for (std::uint32_t k = 0; k < alphabet_size; ++k) {
    const std::uint32_t frequency = data[2 * k] | (static_cast<std::uint32_t>(data[2 * k + 1]) << 8);
    if (frequency > kTotalFrequency) {
      return Status::kBadSymbol;
    }
    sum += frequency;
  }
  if (sum != kTotalFrequency) {
    return Status::kBadSymbol;
  }

  *table = FrequencyTable{};
  table->alphabet_size = alphabet_size;
  for (std::uint32_t k = 0; k < alphabet_size; ++k) {
    table->frequency[k] = static_cast<std::uint16_t>(data[2 * k] | (data[2 * k + 1] << 8));
  }
  return Status::kOk;
}

Status encode_packed(const std::uint8_t* packed, std::uint32_t bits_per_symbol, std::size_t count,
                     const FrequencyTable& table, std::uint8_t* out, std::size_t capacity, std::size_t* out_size) {
  if (out_size == nullptr) {
    return Status::kInvalidArgument;
  }
  *out_size = 0;
  if (bits_per_symbol < 1 || bits_per_symbol > 8 || (count > 0 && packed == nullptr)) {
    return Status::kInvalidArgument;
  }
  // Keeps index * bits_per_symbol in read_packed_symbol() from overflowing.
  if (count > static_cast<std::size_t>(-1) / bits_per_symbol) {
    return Status::kInvalidArgument;
  }
  if (!is_valid_alphabet(table.alphabet_size) || !is_normalized(table.frequency, table.alphabet_size)) {
    return Status::kInvalidArgument;
  }
  if (capacity < kStateBytes) {
    return Status::kBufferTooSmall;
  }
  if (out == nullptr) {
    return Status::kInvalidArgument;
  }

  EncoderModel model;
  build_encoder_model(table, &model);

  // The decoder reads forward and decodes symbol 0 first, so the encoder
  // codes the last symbol first and writes its bytes backwards from the end
  // of `out`. The first kStateBytes bytes stay free for the final state.
  std::uint32_t state = kStateLow;
  std::size_t position = capacity;
  for (std::size_t i = count; i-- > 0;) {
    const std::uint32_t symbol = read_packed_symbol(packed, i, bits_per_symbol);
    const std::uint32_t frequency = model.frequency[symbol];
    if (frequency == 0) {
      return Status::kInvalidArgument;
    }

    const std::uint32_t bound = kRenormBoundPerFrequency * frequency;
    while (state >= bound) {
      if (position == kStateBytes) {
        return Status::kBufferTooSmall;
      }
      out[--position] = static_cast<std::uint8_t>(state & 0xFFu);
      state >>= 8;
    }

    const std::uint64_t product = static_cast<std::uint64_t>(state) * model.reciprocal[symbol];
    const std::uint32_t quotient = static_cast<std::uint32_t>(product >> model.shift[symbol]);
    const std::uint32_t remainder = state - quotient * frequency;
    state = (quotient << kScaleBits) + remainder + model.cumulative[symbol];
  }

  position -= kStateBytes;
  for (std::size_t b = 0; b < kStateBytes; ++b) {
    out[position + b] = static_cast<std::uint8_t>(state >> (8 * b));
  }

  const std::size_t size = capacity - position;
  if (position > 0) {
    std::memmove(out, out + position, size);
  }
  *out_size = size;
  return Status::kOk;
}

void build_decode_table(const FrequencyTable& table, DecodeTable* decode) {
  if (decode == nullptr) {
    return;
  }
  // For a table that breaks the contract (alphabet too large, sum not
  // kTotalFrequency), the frequencies are cut at kTotalFrequency and unused
  // slots map to symbol 0, so that StreamDecoder::next() still indexes only
  // inside the table.
  const std::uint32_t alphabet_size = table.alphabet_size < kMaxAlphabet ? table.alphabet_size : kMaxAlphabet;
  std::uint32_t slot = 0;
  for (std::uint32_t s = 0; s < kMaxAlphabet; ++s) {
    std::uint32_t frequency = s < alphabet_size ? table.frequency[s] : 0;
    if (frequency > kTotalFrequency - slot) {
      frequency = kTotalFrequency - slot;
    }
    decode->frequency[s] = static_cast<std::uint16_t>(frequency);
    decode->cumulative[s] = static_cast<std::uint16_t>(slot);
    std::memset(decode->symbol_of_slot + slot, static_cast<int>(s), frequency);
    slot += frequency;
  }
  std::memset(decode->symbol_of_slot + slot, 0, kTotalFrequency - slot);
}

Status StreamDecoder::start(const std::uint8_t* data, std::size_t size) {
  // Until a successful start, the decoder has no bytes and reports
  // exhaustion, so next() reads nothing and finish() fails.
  data_ = nullptr;
  size_ = 0;
  position_ = 0;
  state_ = kStateLow;
  exhausted_ = true;

  if (size < kStateBytes) {
    return Status::kTruncatedPayload;
  }
  if (data == nullptr) {
    return Status::kInvalidArgument;
  }
  std::uint32_t state = 0;
  for (std::size_t b = 0; b < kStateBytes; ++b) {
    state |= static_cast<std::uint32_t>(data[b]) << (8 * b);
  }
  if (state < kStateLow || state >= kStateHigh) {
    return Status::kBadSymbol;
  }

  data_ = data;
  size_ = size;
  position_ = kStateBytes;
  state_ = state;
  exhausted_ = false;
  return Status::kOk;
}

Status StreamDecoder::finish() const {
  if (exhausted_ || position_ != size_ || state_ != kStateLow) {
    return Status::kBadSymbol;
  }
  return Status::kOk;
}

}  // namespace ecq::rans
