#include "ecq/runtime/payload.h"

#include <cfloat>
#include <cstring>

#include "bits.h"
#include "ecq/runtime/crc32c.h"
#include "ecq/runtime/half.h"
#include "ecq/runtime/rans.h"
#include "kernels.h"

namespace ecq {
namespace {

using detail::load_f32;
using detail::load_u32;

constexpr std::size_t kVersionOffset = 4;
constexpr std::size_t kEncodingOffset = 5;
constexpr std::size_t kNormOffset = 6;
constexpr std::size_t kLevelsOffset = 7;
constexpr std::size_t kDimensionOffset = 8;
constexpr std::size_t kBucketOffset = 12;
constexpr std::size_t kBodySizeOffset = 16;
constexpr std::size_t kFixedOverhead = kPayloadHeaderBytes + kPayloadChecksumBytes;

Status report(ErrorInfo* error, Status status, std::uint64_t position, double found, double limit,
              const char* subject = nullptr) {
  if (error != nullptr) {
    *error = ErrorInfo{status, position, found, limit, subject};
  }
  return status;
}

std::uint64_t symbol_bits_total(std::uint32_t dimension, std::uint32_t levels) {
  return static_cast<std::uint64_t>(dimension) * bits_per_symbol(levels);
}

// Produces the symbols of a validated payload in groups of 64, whatever the
// encoding. Fixed-width groups start on a byte boundary (64 symbols of r bits
// fill 8r bytes).
class SymbolSource {
 public:
  explicit SymbolSource(const PayloadView& view)
      : body_(view.body()), bits_(bits_per_symbol(view.levels())), rans_(view.encoding() == Encoding::kRans) {
    if (rans_) {
      rans::FrequencyTable table;
      // Both calls succeeded in validate_payload() on the same bytes.
      (void)rans::read_table(view.body(), view.table_bytes(), 2 * view.levels() + 1, &table);
      rans::build_decode_table(table, &decode_);
      (void)stream_.start(view.body() + view.table_bytes(), view.body_bytes() - view.table_bytes());
    }
  }

  void read_group(std::uint32_t group, std::uint32_t count, std::uint8_t* codes) {
    if (rans_) {
      for (std::uint32_t i = 0; i < count; ++i) {
        codes[i] = static_cast<std::uint8_t>(stream_.next(decode_));
      }
    } else {
      detail::unpack_group(body_ + static_cast<std::size_t>(group) * 8u * bits_, count, bits_, codes);
    }
  }

  bool stream_ok() const { return stream_.finish() == Status::kOk; }

 private:
  const std::uint8_t* body_;
  std::uint32_t bits_;
  bool rans_;
  rans::DecodeTable decode_;
  rans::StreamDecoder stream_;
};

// Checks what every version shares: the size limits, the magic and the
// version byte.
Status check_envelope(Span<const std::uint8_t> payload, const DecodeLimits& limits, ErrorInfo* error) {
  const std::uint8_t* p = payload.data();
  if (payload.size() > limits.max_payload_bytes) {
    return report(error, Status::kOversizedPayload, 0, static_cast<double>(payload.size()),
                  static_cast<double>(limits.max_payload_bytes), "size in bytes");
  }
  if (payload.size() < kFixedOverhead) {
    return report(error, Status::kTruncatedPayload, payload.size(), static_cast<double>(kFixedOverhead),
                  static_cast<double>(payload.size()));
  }
  if (std::memcmp(p, kPayloadMagic, sizeof kPayloadMagic) != 0) {
    return report(error, Status::kBadMagic, 0, load_u32(p), load_u32(kPayloadMagic));
  }
  if (p[kVersionOffset] != kPayloadVersion) {
    return report(error, Status::kUnsupportedVersion, kVersionOffset, p[kVersionOffset], kPayloadVersion);
  }
  return Status::kOk;
}

// Checks the header fields of a payload whose checksum matched.
Status check_fields(const std::uint8_t* p, ErrorInfo* error) {
  if (p[kEncodingOffset] > static_cast<std::uint8_t>(Encoding::kRans)) {
    return report(error, Status::kBadHeaderField, kEncodingOffset, p[kEncodingOffset], 2, "encoding (0 to 2)");
  }
  const bool raw = p[kEncodingOffset] == static_cast<std::uint8_t>(Encoding::kRawFp32);
  const std::uint32_t levels = p[kLevelsOffset];
  const std::uint32_t bucket_size = load_u32(p + kBucketOffset);
  if (raw ? p[kNormOffset] != 0 : p[kNormOffset] > 1) {
    return report(error, Status::kBadHeaderField, kNormOffset, p[kNormOffset], raw ? 0 : 1, "norm (0 or 1)");
  }
  if (raw ? levels != 0 : (levels < kMinLevels || levels > kMaxLevels)) {
    return report(error, Status::kBadHeaderField, kLevelsOffset, levels, raw ? 0 : kMaxLevels,
                  "levels s (1 to 127; 0 for raw fp32)");
  }
  if (raw ? bucket_size != 0 : bucket_size == 0) {
    return report(error, Status::kBadHeaderField, kBucketOffset, bucket_size, raw ? 0 : 1,
                  "bucket size (>= 1; 0 for raw fp32)");
  }
  if (load_u32(p + kDimensionOffset) == 0) {
    return report(error, Status::kBadHeaderField, kDimensionOffset, 0, 1, "dimension (>= 1)");
  }
  return Status::kOk;
}

// Checks the dimension against the receiver's limits.
Status check_dimension(const std::uint8_t* p, const DecodeLimits& limits, ErrorInfo* error) {
  const std::uint32_t dimension = load_u32(p + kDimensionOffset);
  if (dimension > limits.max_dimension) {
    return report(error, Status::kOversizedPayload, kDimensionOffset, dimension, limits.max_dimension, "dimension");
  }
  if (limits.expected_dimension != 0 && dimension != limits.expected_dimension) {
    return report(error, Status::kDimensionMismatch, kDimensionOffset, dimension, limits.expected_dimension);
  }
  return Status::kOk;
}

// Stores the payload size the header declares in *size, after checking the
// header fields and the body size against what the encoding allows.
Status declared_size(const std::uint8_t* p, std::uint64_t* size, ErrorInfo* error) {
  const Status fields = check_fields(p, error);
  if (fields != Status::kOk) {
    return fields;
  }
  const auto encoding = static_cast<Encoding>(p[kEncodingOffset]);
  const std::uint32_t dimension = load_u32(p + kDimensionOffset);
  const std::uint32_t levels = p[kLevelsOffset];
  const std::uint64_t body = load_u32(p + kBodySizeOffset);
  const std::uint64_t fixed = (symbol_bits_total(dimension, levels) + 7) / 8;
  std::uint64_t minimum = encoding == Encoding::kRawFp32 ? 4ull * dimension : fixed;
  std::uint64_t maximum = minimum;
  if (encoding == Encoding::kRans) {
    minimum = rans::table_bytes(2 * levels + 1) + rans::kStateBytes;
  }
  if (body < minimum || body > maximum) {
    return report(error, Status::kBadHeaderField, kBodySizeOffset, static_cast<double>(body),
                  static_cast<double>(body < minimum ? minimum : maximum), "body size");
  }
  const std::uint64_t bucket_size = load_u32(p + kBucketOffset);
  const std::uint64_t buckets = encoding == Encoding::kRawFp32 ? 0 : (dimension + bucket_size - 1) / bucket_size;
  *size = kPayloadHeaderBytes + 4 * buckets + body + kPayloadChecksumBytes;
  return Status::kOk;
}

bool sealed_at(Span<const std::uint8_t> payload, std::uint64_t size) {
  const std::size_t end = static_cast<std::size_t>(size) - kPayloadChecksumBytes;
  return load_u32(payload.data() + end) == crc32c(payload.data(), end);
}

// Names the damage to a payload whose checksum did not match: cut short,
// followed by extra bytes, or changed in transit.
Status diagnose_damage(Span<const std::uint8_t> payload, ErrorInfo* error) {
  std::uint64_t declared = 0;
  if (declared_size(payload.data(), &declared, nullptr) != Status::kOk) {
    declared = 0;
  }
  if (declared != 0 && payload.size() < declared) {
    return report(error, Status::kTruncatedPayload, payload.size(), static_cast<double>(declared),
                  static_cast<double>(payload.size()));
  }
  if (declared != 0 && payload.size() > declared && sealed_at(payload, declared)) {
    return report(error, Status::kTrailingBytes, declared, static_cast<double>(payload.size()),
                  static_cast<double>(declared));
  }
  const std::size_t end = payload.size() - kPayloadChecksumBytes;
  return report(error, Status::kChecksumMismatch, end, load_u32(payload.data() + end), crc32c(payload.data(), end));
}

Status check_scales(const PayloadView& view, const std::uint8_t* scales, std::size_t scales_offset, ErrorInfo* error) {
  for (std::uint32_t k = 0; k < view.bucket_count(); ++k) {
    const float scale = load_f32(scales + 4u * k);
    if (detail::non_finite(scale) || scale < 0.0f) {
      return report(error, Status::kBadScale, scales_offset + 4u * k, static_cast<double>(scale), FLT_MAX);
    }
  }
  return Status::kOk;
}

Status check_raw_values(const PayloadView& view, std::size_t body_offset, ErrorInfo* error) {
  for (std::uint32_t i = 0; i < view.dimension(); ++i) {
    const float value = load_f32(view.body() + 4u * i);
    if (detail::non_finite(value)) {
      return report(error, Status::kBadSymbol, body_offset + 4u * i, static_cast<double>(value), 0,
                    "raw fp32 value (NaN or Inf)");
    }
  }
  return Status::kOk;
}

Status check_fixed_symbols(const PayloadView& view, std::size_t body_offset, ErrorInfo* error) {
  const std::uint32_t bits = bits_per_symbol(view.levels());
  const std::uint32_t alphabet = 2 * view.levels() + 1;
  SymbolSource source(view);
  std::uint8_t codes[detail::kGroupElements];
  std::uint64_t bad_element = UINT64_MAX;
  std::uint32_t bad_code = 0;
  detail::for_each_group(view.dimension(), [&](std::uint32_t group, std::uint32_t first, std::uint32_t count) {
    source.read_group(group, count, codes);
    std::uint8_t largest = 0;
    for (std::uint32_t j = 0; j < count; ++j) {
      largest = codes[j] > largest ? codes[j] : largest;
    }
    for (std::uint32_t j = 0; largest >= alphabet && bad_element == UINT64_MAX && j < count; ++j) {
      if (codes[j] >= alphabet) {
        bad_element = first + j;
        bad_code = codes[j];
      }
    }
  });
  if (bad_element != UINT64_MAX) {
    return report(error, Status::kBadSymbol, body_offset + bad_element * bits / 8, bad_code, alphabet,
                  "fixed-width symbol");
  }
  const std::uint32_t used_bits = static_cast<std::uint32_t>((static_cast<std::uint64_t>(view.dimension()) * bits) % 8);
  const std::uint8_t last = view.body()[view.body_bytes() - 1];
  if (used_bits != 0 && (last >> used_bits) != 0) {
    return report(error, Status::kBadSymbol, body_offset + view.body_bytes() - 1, last >> used_bits, 0,
                  "padding bits after the last symbol (must be 0)");
  }
  return Status::kOk;
}

Status check_rans_symbols(const PayloadView& view, std::size_t body_offset, ErrorInfo* error) {
  const std::uint32_t alphabet = 2 * view.levels() + 1;
  rans::FrequencyTable table;
  if (rans::read_table(view.body(), view.table_bytes(), alphabet, &table) != Status::kOk) {
    return report(error, Status::kBadSymbol, body_offset, 0, alphabet, "rANS frequency table");
  }
  rans::StreamDecoder stream;
  const std::size_t stream_offset = body_offset + view.table_bytes();
  if (stream.start(view.body() + view.table_bytes(), view.body_bytes() - view.table_bytes()) != Status::kOk) {
    return report(error, Status::kBadSymbol, stream_offset, 0, alphabet, "rANS stream");
  }
  SymbolSource source(view);
  std::uint8_t codes[detail::kGroupElements];
  detail::for_each_group(view.dimension(), [&](std::uint32_t group, std::uint32_t, std::uint32_t count) {
    source.read_group(group, count, codes);
  });
  if (!source.stream_ok()) {
    return report(error, Status::kBadSymbol, stream_offset, 0, alphabet, "rANS stream");
  }
  return Status::kOk;
}

// Calls visit(begin, n, factor, codes) for each run of elements
// [begin, begin + n) of a quantized payload that shares one bucket and one
// group, from group `first_group` on: element begin + j decodes to
// factor * (codes[j] - s), where factor = weight * the bucket's level step.
template <typename Visit>
void visit_symbol_pieces(const PayloadView& view, float weight, std::uint32_t first_group, Visit visit) {
  const std::uint32_t dimension = view.dimension();
  const std::uint32_t bucket = view.bucket_size();
  const std::uint32_t first_element = first_group * detail::kGroupElements;
  if (first_element >= dimension) {
    return;
  }
  SymbolSource source(view);
  std::uint8_t codes[detail::kGroupElements];
  std::uint32_t factor_bucket = UINT32_MAX;
  float factor = 0.0f;
  detail::BucketCursor cursor(bucket, dimension, first_element / bucket);
  detail::for_each_group(
      dimension,
      [&](std::uint32_t group, std::uint32_t first, std::uint32_t count) {
        source.read_group(group, count, codes);
        cursor.pieces(first, count, [&](std::uint32_t k, std::uint32_t begin, std::uint32_t end) {
          if (k != factor_bucket) {
            factor = weight * detail::level_step(view.scale(k), view.levels());
            factor_bucket = k;
          }
          visit(begin, end - begin, factor, codes + (begin - first));
        });
      },
      first_group);
}

// Adds weight * decoded (or stores decoded when `store`) into out[0..dimension),
// flushing results below the normal float range when `flush_results`.
void apply_payload(const PayloadView& view, float weight, float* out, bool store, bool flush_results) {
  if (view.encoding() == Encoding::kRawFp32) {
    for (std::uint32_t i = 0; i < view.dimension(); ++i) {
      const float value = weight * load_f32(view.body() + 4u * i);
      out[i] = store ? value : out[i] + value;
      if (flush_results) {
        out[i] = detail::flush(out[i]);
      }
    }
    return;
  }
  const auto offset = static_cast<float>(view.levels());
  const std::uint32_t dimension = view.dimension();
  const std::uint32_t bucket = view.bucket_size();
  std::uint32_t first_group = 0;
  if (view.encoding() == Encoding::kFixedWidth && !store && !flush_results && bucket % detail::kGroupElements == 0) {
    // Fast path: whole buckets of whole groups, one factor each.
    const detail::Kernels& kernels = detail::select_kernels();
    const std::uint32_t bits = bits_per_symbol(view.levels());
    const std::uint32_t groups_per_bucket = bucket / detail::kGroupElements;
    const std::uint32_t whole_buckets = dimension / bucket;
    for (std::uint32_t k = 0; k < whole_buckets; ++k) {
      const float factor = weight * detail::level_step(view.scale(k), view.levels());
      kernels.accumulate_groups(view.body() + static_cast<std::size_t>(k) * groups_per_bucket * 8u * bits,
                                groups_per_bucket, bits, factor, offset, out + static_cast<std::size_t>(k) * bucket);
    }
    first_group = whole_buckets * groups_per_bucket;
  }

  visit_symbol_pieces(view, weight, first_group,
                      [&](std::uint32_t begin, std::uint32_t n, float factor, const std::uint8_t* piece) {
                        float* __restrict target = out + begin;
                        if (store) {
                          for (std::uint32_t j = 0; j < n; ++j) {
                            target[j] = factor * (static_cast<float>(piece[j]) - offset);
                          }
                        } else {
                          for (std::uint32_t j = 0; j < n; ++j) {
                            target[j] += factor * (static_cast<float>(piece[j]) - offset);
                          }
                        }
                        if (flush_results) {
                          for (std::uint32_t j = 0; j < n; ++j) {
                            target[j] = detail::flush(target[j]);
                          }
                        }
                      });
}

}  // namespace

const char* encoding_name(Encoding encoding) {
  switch (encoding) {
    case Encoding::kRawFp32: return "raw-fp32";
    case Encoding::kFixedWidth: return "fixed-width";
    case Encoding::kRans: return "rans";
  }
  return "unknown";
}

std::size_t raw_payload_bytes(std::uint32_t dimension) {
  const std::uint64_t total = kFixedOverhead + 4ull * dimension;
  return total > SIZE_MAX ? 0 : static_cast<std::size_t>(total);
}

std::size_t fixed_width_payload_bytes(std::uint32_t dimension, const QuantizerConfig& quantizer) {
  if (dimension == 0 || validate_quantizer(quantizer) != Status::kOk) {
    return 0;
  }
  const std::uint64_t buckets =
      (static_cast<std::uint64_t>(dimension) + quantizer.bucket_size - 1) / quantizer.bucket_size;
  const std::uint64_t body = (symbol_bits_total(dimension, quantizer.levels) + 7) / 8;
  const std::uint64_t total = kFixedOverhead + 4 * buckets + body;
  return total > SIZE_MAX ? 0 : static_cast<std::size_t>(total);
}

float PayloadView::scale(std::uint32_t bucket) const { return load_f32(scales_ + 4u * bucket); }

Status validate_payload(Span<const std::uint8_t> payload, const DecodeLimits& limits, PayloadView* view,
                        ErrorInfo* error) {
  if (view == nullptr || (payload.data() == nullptr && payload.size() != 0)) {
    return report(error, Status::kInvalidArgument, 0, 0, 0,
                  "view must not be null, nor the payload data when its size is not 0");
  }
  // The checksum comes first. With it intact, every later defect was written
  // by the sender; without it, the bytes were cut or changed on the way.
  Status status = check_envelope(payload, limits, error);
  if (status != Status::kOk) {
    return status;
  }
  if (!sealed_at(payload, payload.size())) {
    return diagnose_damage(payload, error);
  }
  const std::uint8_t* p = payload.data();
  std::uint64_t declared = 0;
  status = declared_size(p, &declared, error);
  if (status != Status::kOk) {
    return status;
  }
  status = check_dimension(p, limits, error);
  if (status != Status::kOk) {
    return status;
  }
  if (declared != payload.size()) {
    return report(error, Status::kBadHeaderField, kBodySizeOffset, static_cast<double>(load_u32(p + kBodySizeOffset)),
                  static_cast<double>(load_u32(p + kBodySizeOffset)) + static_cast<double>(payload.size()) -
                      static_cast<double>(declared),
                  "body size");
  }

  PayloadView parsed;
  parsed.encoding_ = static_cast<Encoding>(p[kEncodingOffset]);
  parsed.norm_ = static_cast<NormKind>(p[kNormOffset]);
  parsed.levels_ = p[kLevelsOffset];
  parsed.dimension_ = load_u32(p + kDimensionOffset);
  parsed.bucket_size_ = load_u32(p + kBucketOffset);
  const bool raw = parsed.encoding_ == Encoding::kRawFp32;
  parsed.bucket_count_ =
      raw ? 0
          : static_cast<std::uint32_t>((static_cast<std::uint64_t>(parsed.dimension_) + parsed.bucket_size_ - 1) /
                                       parsed.bucket_size_);
  parsed.body_size_ = load_u32(p + kBodySizeOffset);
  parsed.table_size_ = parsed.encoding_ == Encoding::kRans ? rans::table_bytes(2 * parsed.levels_ + 1) : 0;

  const std::uint64_t scales_offset = kPayloadHeaderBytes;
  // Both offsets are below the declared size, which equals payload.size(), so
  // they fit in size_t also where it has 32 bits.
  const auto body_offset = static_cast<std::size_t>(scales_offset + 4ull * parsed.bucket_count_);
  const std::uint32_t stored = load_u32(p + payload.size() - kPayloadChecksumBytes);
  parsed.checksum_ = stored;
  parsed.size_ = payload.size();
  parsed.scales_ = p + scales_offset;
  parsed.body_ = p + body_offset;

  status = check_scales(parsed, parsed.scales_, scales_offset, error);
  if (status != Status::kOk) {
    return status;
  }
  switch (parsed.encoding_) {
    case Encoding::kRawFp32: status = check_raw_values(parsed, body_offset, error); break;
    case Encoding::kFixedWidth: status = check_fixed_symbols(parsed, body_offset, error); break;
    case Encoding::kRans: status = check_rans_symbols(parsed, body_offset, error); break;
  }
  if (status != Status::kOk) {
    return status;
  }
  *view = parsed;
  if (error != nullptr) {
    *error = ErrorInfo{};
  }
  return Status::kOk;
}

Status decode_payload(const PayloadView& view, Span<float> out) {
  if (view.dimension() == 0 || out.size() != view.dimension()) {
    return Status::kInvalidArgument;
  }
  apply_payload(view, 1.0f, out.data(), true, false);
  return Status::kOk;
}

Status accumulate_payload(const PayloadView& view, float weight, Span<float> sum) {
  if (view.dimension() == 0 || sum.size() != view.dimension() || detail::non_finite(weight)) {
    return Status::kInvalidArgument;
  }
  apply_payload(view, weight, sum.data(), false, false);
  return Status::kOk;
}

namespace detail {

// Used by Compressor::rollback(): adds the decoded payload with every result
// below the normal range flushed to 0, as the compressor's own arithmetic does.
void add_payload_flushed(const PayloadView& view, float* sum) { apply_payload(view, 1.0f, sum, false, true); }

// The same for an fp16 error buffer: each element is widened, gets the
// decoded value added and flushed, and is rounded back to nearest even. A sum
// that would round to Inf is held at +-65504 instead, so that a rollback never
// leaves a non-finite h: compress() keeps |h| within 65504 but the rounded sum
// can exceed it by up to half a unit of the last place.
void add_payload_flushed_fp16(const PayloadView& view, std::uint16_t* sum) {
  const auto add = [sum](std::uint32_t i, float value) {
    std::uint16_t result = half_from_float(flush(half_to_float(sum[i]) + value));
    if (half_non_finite(result)) {
      result = static_cast<std::uint16_t>((result & 0x8000u) | kHalfMaxBits);
    }
    sum[i] = result;
  };
  if (view.encoding() == Encoding::kRawFp32) {
    for (std::uint32_t i = 0; i < view.dimension(); ++i) {
      add(i, load_f32(view.body() + 4u * i));
    }
    return;
  }
  const auto offset = static_cast<float>(view.levels());
  visit_symbol_pieces(view, 1.0f, 0,
                      [&](std::uint32_t begin, std::uint32_t n, float factor, const std::uint8_t* piece) {
                        for (std::uint32_t j = 0; j < n; ++j) {
                          add(begin + j, factor * (static_cast<float>(piece[j]) - offset));
                        }
                      });
}

}  // namespace detail
}  // namespace ecq
