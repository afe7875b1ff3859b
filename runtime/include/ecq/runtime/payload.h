#pragma once
// The compressed-update payload: a versioned, self-describing byte string,
// all integers and floats little-endian.
//
//   offset  size  field
//   0       4     magic "ECQP" (bytes 45 43 51 50)
//   4       1     format version, 1
//   5       1     encoding: 0 = raw fp32, 1 = fixed width, 2 = rANS
//   6       1     norm: 0 = l2, 1 = l-infinity (0 for raw fp32)
//   7       1     levels s, 1 to 127 (0 for raw fp32)
//   8       4     dimension d, >= 1
//   12      4     bucket size b, >= 1 (0 for raw fp32)
//   16      4     body size in bytes
//   20      4 nb  one fp32 scale per bucket, nb = ceil(d / b) (none for raw fp32)
//   ...     body  raw fp32: d floats
//                 fixed width: d symbols of r = ceil(log2(2s + 1)) bits, packed
//                   from bit 0 of the first byte upwards; symbol u encodes the
//                   signed level u - s; unused bits of the last byte are 0
//                 rANS: a frequency table of 2s + 1 uint16 values summing to
//                   4096, then the rANS stream (see rans.h)
//   end-4   4     CRC-32C of every byte before it
//
// Element i of bucket k decodes to (u_i - s) * step_k with
// step_k = float(scale_k / s) and values below the normal float range
// flushed to 0.

#include <cstddef>
#include <cstdint>

#include "ecq/runtime/quantizer.h"
#include "ecq/runtime/span.h"
#include "ecq/runtime/status.h"

namespace ecq {

constexpr std::uint8_t kPayloadMagic[4] = {'E', 'C', 'Q', 'P'};
constexpr std::uint8_t kPayloadVersion = 1;
constexpr std::size_t kPayloadHeaderBytes = 20;
constexpr std::size_t kPayloadChecksumBytes = 4;

enum class Encoding : std::uint8_t { kRawFp32 = 0, kFixedWidth = 1, kRans = 2 };

/// Returns "raw-fp32", "fixed-width" or "rans".
const char* encoding_name(Encoding encoding);

/// Returns the size of a raw fp32 payload of `dimension` elements, or 0 when
/// it does not fit in size_t.
std::size_t raw_payload_bytes(std::uint32_t dimension);

/// Returns the size of a fixed-width payload: an upper bound for every
/// quantized payload, since the encoder only entropy-codes when that is
/// smaller. 0 when the configuration is invalid or the size does not fit in
/// size_t (possible on 32-bit targets).
std::size_t fixed_width_payload_bytes(std::uint32_t dimension, const QuantizerConfig& quantizer);

/// Limits a receiver applies to incoming payloads.
struct DecodeLimits {
  std::uint32_t expected_dimension = 0;  ///< 0 accepts any dimension up to max_dimension
  std::uint32_t max_dimension = 1u << 26;
  std::size_t max_payload_bytes = std::size_t{1} << 28;
};

/// A payload that has passed validate_payload(). Only that function makes
/// one, so the decode functions below never see unchecked bytes. It points
/// into the validated bytes, which must outlive it and stay unchanged.
class PayloadView {
 public:
  PayloadView() = default;
  Encoding encoding() const { return encoding_; }
  NormKind norm() const { return norm_; }
  std::uint32_t levels() const { return levels_; }
  std::uint32_t dimension() const { return dimension_; }
  std::uint32_t bucket_size() const { return bucket_size_; }
  std::uint32_t bucket_count() const { return bucket_count_; }
  /// Total payload size in bytes, header and checksum included.
  std::size_t size_bytes() const { return size_; }
  /// Bytes of the body: symbols, plus the frequency table for rANS.
  std::size_t body_bytes() const { return body_size_; }
  /// Bytes of the rANS frequency table (0 for other encodings).
  std::size_t table_bytes() const { return table_size_; }
  std::uint32_t checksum() const { return checksum_; }
  /// Returns bucket k's scale as stored.
  float scale(std::uint32_t bucket) const;
  const std::uint8_t* body() const { return body_; }

 private:
  friend Status validate_payload(Span<const std::uint8_t>, const DecodeLimits&, PayloadView*, ErrorInfo*);
  const std::uint8_t* scales_ = nullptr;
  const std::uint8_t* body_ = nullptr;
  std::size_t size_ = 0;
  std::size_t body_size_ = 0;
  std::size_t table_size_ = 0;
  std::uint32_t dimension_ = 0;
  std::uint32_t bucket_size_ = 0;
  std::uint32_t bucket_count_ = 0;
  std::uint32_t levels_ = 0;
  std::uint32_t checksum_ = 0;
  Encoding encoding_ = Encoding::kRawFp32;
  NormKind norm_ = NormKind::kL2;
};

/// Checks every field, the checksum, every scale and every symbol of
/// `payload`, and on success fills `view`. Never reads outside `payload` and
/// writes nothing but `view` and `error`. Each defect has its own status:
/// kOversizedPayload (size or dimension above `limits`), kTruncatedPayload,
/// kTrailingBytes, kBadMagic, kUnsupportedVersion, kBadHeaderField,
/// kDimensionMismatch, kChecksumMismatch, kBadScale, kBadSymbol (a symbol
/// above 2s, non-zero padding bits, a corrupt rANS table or stream, or a
/// non-finite raw value). error->position is a byte offset into `payload`.
[[nodiscard]] Status validate_payload(Span<const std::uint8_t> payload, const DecodeLimits& limits, PayloadView* view,
                                      ErrorInfo* error = nullptr);

/// Writes the decoded vector to `out`, which must have view.dimension()
/// elements (kInvalidArgument otherwise).
[[nodiscard]] Status decode_payload(const PayloadView& view, Span<float> out);

/// Adds weight * decoded vector to `sum`, which must have view.dimension()
/// elements (kInvalidArgument otherwise). With weight 1 the added values are
/// bit-identical to decode_payload()'s.
[[nodiscard]] Status accumulate_payload(const PayloadView& view, float weight, Span<float> sum);

}  // namespace ecq
