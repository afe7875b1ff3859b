#pragma once
// Static-model rANS entropy coder for quantized-gradient symbols.
//
// One frequency table describes all symbols of a payload. Frequencies are
// normalised to kTotalFrequency = 2^12, so the decoder's slot-to-symbol table
// is 4 KiB: small enough for a microcontroller. The coder state is 32 bits and
// is renormalised one byte at a time, which keeps the loss against the order-0
// entropy far below 1% for the symbol distributions the quantizer produces.
// Reference: J. Duda, "Asymmetric numeral systems", arXiv:1311.2540.

#include <cstddef>
#include <cstdint>

#include "ecq/runtime/status.h"

namespace ecq::rans {

constexpr std::uint32_t kScaleBits = 12;
constexpr std::uint32_t kTotalFrequency = 1u << kScaleBits;
/// Largest alphabet: 2s + 1 symbols for s <= 127 quantization levels.
constexpr std::uint32_t kMaxAlphabet = 255;
/// Lower bound of the normalised coder state; the encoder starts here and the
/// decoder must end here, which detects most corrupt streams.
constexpr std::uint32_t kStateLow = 1u << 23;
/// Bytes the encoder flushes at the end: the final 32-bit state.
constexpr std::size_t kStateBytes = 4;

/// Symbol frequencies that sum to kTotalFrequency. A symbol that occurs gets a
/// frequency of at least 1; an absent symbol may have frequency 0.
struct FrequencyTable {
  std::uint32_t alphabet_size = 0;
  std::uint16_t frequency[kMaxAlphabet] = {};
};

/// Normalises `counts[0..alphabet_size)` into `table`, choosing the
/// frequencies that make the coded size small (greedy on the per-symbol cost).
/// Fails with kInvalidArgument when alphabet_size is 0 or above kMaxAlphabet,
/// or when every count is 0.
[[nodiscard]] Status normalize_frequencies(const std::uint32_t* counts, std::uint32_t alphabet_size,
                                           FrequencyTable* table);

/// Returns sum_k counts[k] * log2(kTotalFrequency / frequency[k]): the coded
/// size in bits, without the flushed state. Requires frequency[k] > 0 wherever
/// counts[k] > 0.
double estimate_coded_bits(const std::uint32_t* counts, const FrequencyTable& table);

/// Bytes write_table() produces for an alphabet: 2 bytes per symbol (uint16,
/// little-endian).
constexpr std::size_t table_bytes(std::uint32_t alphabet_size) { return 2u * alphabet_size; }

/// Serialises `table` as alphabet_size little-endian uint16 values.
/// Fails with kBufferTooSmall when capacity < table_bytes(alphabet_size).
[[nodiscard]] Status write_table(const FrequencyTable& table, std::uint8_t* out, std::size_t capacity);

/// Parses a table written by write_table() for a known alphabet size. Fails
/// with kTruncatedPayload when size < table_bytes(alphabet_size), and with
/// kBadSymbol when the frequencies do not sum to kTotalFrequency or one
/// exceeds it. Never reads past `size`.
[[nodiscard]] Status read_table(const std::uint8_t* data, std::size_t size, std::uint32_t alphabet_size,
                                FrequencyTable* table);

/// Encodes `count` symbols that are stored fixed-width packed in `packed`:
/// symbol i occupies bits [i * bits_per_symbol, (i + 1) * bits_per_symbol) of
/// the little-endian bit stream (bit 0 is the least significant bit of byte 0).
/// `bits_per_symbol` is 1 to 8. Every symbol must be below
/// table.alphabet_size and have a non-zero frequency.
///
/// The stream is written to out[0..*out_size). Fails with kBufferTooSmall,
/// without writing past `capacity`, when the stream would not fit; callers use
/// that to fall back to fixed-width coding. Allocates nothing.
[[nodiscard]] Status encode_packed(const std::uint8_t* packed, std::uint32_t bits_per_symbol, std::size_t count,
                                   const FrequencyTable& table, std::uint8_t* out, std::size_t capacity,
                                   std::size_t* out_size);

/// Lookup tables the decoder needs, built once per payload from its table.
struct DecodeTable {
  std::uint8_t symbol_of_slot[kTotalFrequency];
  std::uint16_t frequency[kMaxAlphabet];
  std::uint16_t cumulative[kMaxAlphabet];
};

/// Builds `decode` from a validated frequency table.
void build_decode_table(const FrequencyTable& table, DecodeTable* decode);

/// Decodes one stream symbol by symbol. It never reads outside
/// data[0..size): a stream that runs out sets a sticky error instead, and
/// finish() reports it.
class StreamDecoder {
 public:
  /// Reads the initial state. Fails with kTruncatedPayload when size <
  /// kStateBytes and with kBadSymbol when the state is out of range.
  [[nodiscard]] Status start(const std::uint8_t* data, std::size_t size);

  /// Returns the next symbol.
  inline std::uint32_t next(const DecodeTable& decode) {
    const std::uint32_t slot = state_ & (kTotalFrequency - 1);
    const std::uint32_t symbol = decode.symbol_of_slot[slot];
    state_ = decode.frequency[symbol] * (state_ >> kScaleBits) + slot - decode.cumulative[symbol];
    while (state_ < kStateLow) {
      if (position_ == size_) {
        exhausted_ = true;
        state_ = kStateLow;
        break;
      }
      state_ = (state_ << 8) | data_[position_++];
    }
    return symbol;
  }

  /// Succeeds only when the stream was consumed exactly, never ran out, and
  /// the final state equals the encoder's initial state. Returns kBadSymbol
  /// otherwise.
  [[nodiscard]] Status finish() const;

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t position_ = 0;
  std::uint32_t state_ = 0;
  bool exhausted_ = false;
};

}  // namespace ecq::rans
