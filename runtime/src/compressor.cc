#include "ecq/runtime/compressor.h"

#include <cfloat>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <initializer_list>

#include "bits.h"
#include "ecq/runtime/crc32c.h"
#include "ecq/runtime/log.h"
#include "ecq/runtime/rans.h"
#include "kernels.h"

namespace ecq {
namespace detail {
void add_payload_flushed(const PayloadView& view, float* sum);
void add_payload_flushed_fp16(const PayloadView& view, std::uint16_t* sum);
}  // namespace detail

namespace {

using detail::flush;
using detail::non_finite;

constexpr std::size_t kArenaAlignment = 64;

bool keeps_error(Method method) { return method == Method::kEf || method == Method::kEcq; }

bool fp16_error(const CompressorConfig& config) {
  return keeps_error(config.method) && config.error_buffer == ErrorBufferType::kFp16;
}

// Widens binary16 values to floats, exactly.
void widen(const std::uint16_t* half, std::uint32_t count, float* out) {
  for (std::uint32_t i = 0; i < count; ++i) {
    out[i] = half_to_float(half[i]);
  }
}

// Rounds floats to binary16, to nearest even. The caller has checked that
// every magnitude stays below 65520, so no value becomes Inf.
void narrow(const float* values, std::uint32_t count, std::uint16_t* out) {
  for (std::uint32_t i = 0; i < count; ++i) {
    out[i] = half_from_float(values[i]);
  }
}

std::uint32_t bucket_count(const CompressorConfig& config) {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(config.dimension) + config.quantizer.bucket_size - 1) /
                                    config.quantizer.bucket_size);
}

std::size_t fixed_symbol_bytes(const CompressorConfig& config) {
  return static_cast<std::size_t>(
      (static_cast<std::uint64_t>(config.dimension) * bits_per_symbol(config.quantizer.levels) + 7) / 8);
}

bool valid_shape(const CompressorConfig& config) {
  if (config.dimension == 0) {
    return false;
  }
  if (config.method == Method::kFp32) {
    return raw_payload_bytes(config.dimension) != 0;
  }
  return config.method <= Method::kEcq && config.error_buffer <= ErrorBufferType::kFp16 &&
         fixed_width_payload_bytes(config.dimension, config.quantizer) != 0;
}

bool needs_scratch(const CompressorConfig& config) {
  return config.method != Method::kFp32 && config.encoder != EncoderChoice::kFixedWidth;
}

void write_header(std::uint8_t* out, Encoding encoding, const CompressorConfig& config, std::uint32_t body_bytes) {
  std::memcpy(out, kPayloadMagic, sizeof kPayloadMagic);
  out[4] = kPayloadVersion;
  out[5] = static_cast<std::uint8_t>(encoding);
  const bool raw = encoding == Encoding::kRawFp32;
  out[6] = raw ? 0 : static_cast<std::uint8_t>(config.quantizer.norm);
  out[7] = raw ? 0 : static_cast<std::uint8_t>(config.quantizer.levels);
  detail::store_u32(out + 8, config.dimension);
  detail::store_u32(out + 12, raw ? 0 : config.quantizer.bucket_size);
  detail::store_u32(out + 16, body_bytes);
}

// Appends the CRC-32C and returns the total payload size.
std::size_t seal(std::uint8_t* out, std::size_t size_before_checksum) {
  detail::store_u32(out + size_before_checksum, crc32c(out, size_before_checksum));
  return size_before_checksum + kPayloadChecksumBytes;
}

}  // namespace

const char* method_name(Method method) {
  switch (method) {
    case Method::kFp32: return "fp32";
    case Method::kQsgd: return "qsgd";
    case Method::kEf: return "ef";
    case Method::kEcq: return "ecq";
  }
  return "unknown";
}

const char* error_buffer_type_name(ErrorBufferType type) {
  switch (type) {
    case ErrorBufferType::kFp32: return "fp32";
    case ErrorBufferType::kFp16: return "fp16";
  }
  return "unknown";
}

bool parse_error_buffer_type(const char* name, ErrorBufferType* type) {
  for (ErrorBufferType candidate : {ErrorBufferType::kFp32, ErrorBufferType::kFp16}) {
    if (std::strcmp(name, error_buffer_type_name(candidate)) == 0) {
      *type = candidate;
      return true;
    }
  }
  return false;
}

std::size_t error_buffer_element_bytes(ErrorBufferType type) {
  return type == ErrorBufferType::kFp16 ? sizeof(std::uint16_t) : sizeof(float);
}

bool parse_method(const char* name, Method* method) {
  for (Method candidate : {Method::kFp32, Method::kQsgd, Method::kEf, Method::kEcq}) {
    if (std::strcmp(name, method_name(candidate)) == 0) {
      *method = candidate;
      return true;
    }
  }
  return false;
}

double stability_value(const Compensation& compensation, double gamma) {
  const double alpha = compensation.alpha;
  const double beta = compensation.beta;
  return alpha * alpha * gamma + (beta - alpha) * (beta - alpha);
}

Compensation default_compensation(const QuantizerConfig& quantizer) {
  const double gamma = variance_bound(quantizer);
  const double alpha = std::fmin(1.0, 0.5 / std::sqrt(gamma));
  const double beta = std::fmin(0.98, alpha + std::sqrt(kDefaultStabilityTarget - alpha * alpha * gamma));
  return Compensation{static_cast<float>(alpha), static_cast<float>(beta), false};
}

std::size_t Compressor::required_arena_bytes(const CompressorConfig& config) {
  if (!valid_shape(config)) {
    return 0;
  }
  std::size_t bytes = kArenaAlignment - 1;
  if (keeps_error(config.method)) {
    bytes += error_buffer_element_bytes(config.error_buffer) * static_cast<std::size_t>(config.dimension);
  }
  if (needs_scratch(config) && !config.gradient_as_scratch) {
    bytes += fixed_symbol_bytes(config);
  }
  return bytes;
}

std::size_t Compressor::max_payload_bytes(const CompressorConfig& config) {
  if (!valid_shape(config)) {
    return 0;
  }
  if (config.method == Method::kFp32) {
    return raw_payload_bytes(config.dimension);
  }
  return fixed_width_payload_bytes(config.dimension, config.quantizer);
}

Status Compressor::fail(Status status, std::uint64_t position, double found, double limit, const char* subject) {
  last_error_ = ErrorInfo{status, position, found, limit, subject};
  return status;
}

Status Compressor::init(const CompressorConfig& config, Span<std::uint8_t> arena) {
  // Nothing changes until every check has passed, so a failed call leaves a
  // working compressor as it was.
  if (config.method > Method::kEcq) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(config.method), 0,
                "method must be kFp32, kQsgd, kEf or kEcq");
  }
  if (config.method != Method::kFp32) {
    ErrorInfo quantizer_error;
    if (validate_quantizer(config.quantizer, &quantizer_error) != Status::kOk) {
      last_error_ = quantizer_error;
      return quantizer_error.status;
    }
  }
  if (config.error_buffer > ErrorBufferType::kFp16) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(config.error_buffer), 0,
                "error buffer type must be kFp32 or kFp16");
  }
  if (!valid_shape(config)) {
    return fail(Status::kInvalidArgument, 0, config.dimension, 0,
                config.dimension == 0 ? "dimension must be at least 1"
                                      : "dimension is too large: the payload size does not fit in size_t");
  }

  Compensation compensation;
  if (config.method == Method::kEf) {
    compensation = Compensation{1.0f, 1.0f, true};
  } else if (config.method == Method::kEcq) {
    compensation = config.use_default_compensation ? default_compensation(config.quantizer) : config.compensation;
  }
  if (!(compensation.alpha >= 0.0f && compensation.alpha <= 1.0f)) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(compensation.alpha), 0,
                "compensation alpha must be in [0, 1]");
  }
  if (!(compensation.beta >= 0.0f && compensation.beta <= 1.0f)) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(compensation.beta), 0,
                "compensation beta must be in [0, 1]");
  }
  if (keeps_error(config.method) && compensation.alpha > 0.0f) {
    const double gamma = variance_bound(config.quantizer);
    const double stability = stability_value(compensation, gamma);
    if (stability >= 1.0 && !compensation.force) {
      return fail(Status::kUnstableCompensation, 0, stability, 1.0);
    }
    if (stability >= 1.0) {
      log_message(LogLevel::kWarning,
                  "compressor %s: alpha=%g beta=%g gives alpha^2*gamma+(beta-alpha)^2=%g >= 1 with gamma=%g "
                  "(bucket %" PRIu32 ", s=%" PRIu32 "); forced, so the error buffer may grow without bound",
                  method_name(config.method), static_cast<double>(compensation.alpha),
                  static_cast<double>(compensation.beta), stability, gamma, config.quantizer.bucket_size,
                  config.quantizer.levels);
    }
  }

  const std::size_t needed = required_arena_bytes(config);
  if (arena.size() < needed || arena.data() == nullptr) {
    return fail(Status::kBufferTooSmall, 0, static_cast<double>(arena.size()), static_cast<double>(needed), "arena");
  }
  const auto address = reinterpret_cast<std::uintptr_t>(arena.data());
  std::uint8_t* cursor = arena.data() + ((kArenaAlignment - address % kArenaAlignment) % kArenaAlignment);
  error_ = nullptr;
  error_half_ = nullptr;
  scratch_ = nullptr;
  scratch_bytes_ = 0;
  if (fp16_error(config)) {
    error_half_ = detail::arena_array<std::uint16_t>(cursor);
  } else if (keeps_error(config.method)) {
    error_ = detail::arena_array<float>(cursor);
  }
  if (keeps_error(config.method)) {
    cursor += error_buffer_element_bytes(config.error_buffer) * static_cast<std::size_t>(config.dimension);
  }
  if (needs_scratch(config) && !config.gradient_as_scratch) {
    scratch_ = cursor;
    scratch_bytes_ = fixed_symbol_bytes(config);
  }

  config_ = config;
  compensation_ = compensation;
  initialized_ = true;
  reset_error_buffer();
  last_error_ = ErrorInfo{};
  return Status::kOk;
}

void Compressor::reset_error_buffer() {
  if (error_ != nullptr) {
    std::memset(error_, 0, sizeof(float) * static_cast<std::size_t>(config_.dimension));
  }
  if (error_half_ != nullptr) {
    std::memset(error_half_, 0, sizeof(std::uint16_t) * static_cast<std::size_t>(config_.dimension));
  }
  rollback_armed_ = false;
}

float Compressor::error_value(std::size_t i) const {
  return error_half_ != nullptr ? half_to_float(error_half_[i]) : error_[i];
}

Status Compressor::set_encoder(EncoderChoice encoder) {
  if (!initialized_) {
    return fail(Status::kNotInitialized);
  }
  if (encoder > EncoderChoice::kEntropy) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(encoder), 2,
                "encoder must be kAuto, kFixedWidth or kEntropy");
  }
  CompressorConfig changed = config_;
  changed.encoder = encoder;
  if (needs_scratch(changed) && !changed.gradient_as_scratch && scratch_ == nullptr) {
    return fail(Status::kBufferTooSmall, 0, 0, static_cast<double>(fixed_symbol_bytes(changed)),
                "entropy coder scratch: this compressor was initialized with kFixedWidth; call init() with the new "
                "encoder instead");
  }
  config_ = changed;
  return Status::kOk;
}

Status Compressor::scale_error_buffer(float factor) {
  if (!initialized_) {
    return fail(Status::kNotInitialized);
  }
  if (!(factor >= 0.0f && factor <= 1.0f)) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(factor), 1.0,
                "error buffer scale factor must be in [0, 1]");
  }
  const std::size_t count = keeps_error_buffer() ? config_.dimension : 0;
  for (std::size_t i = 0; i < count; ++i) {
    const float scaled = flush(error_value(i) * factor);
    if (error_half_ != nullptr) {
      error_half_[i] = half_from_float(scaled);
    } else {
      error_[i] = scaled;
    }
  }
  rollback_armed_ = false;
  return Status::kOk;
}

Status Compressor::load_error_buffer(Span<const float> values) {
  const Status usable = check_error_values(values.size());
  if (usable != Status::kOk) {
    return usable;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (non_finite(values[i])) {
      return fail(Status::kNonFiniteInput, i, static_cast<double>(values[i]), FLT_MAX, "error buffer element");
    }
    if (error_half_ != nullptr && half_non_finite(half_from_float(values[i]))) {
      return fail(Status::kErrorBufferOverflow, i, static_cast<double>(values[i]), kHalfMax, "error buffer element");
    }
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (error_half_ != nullptr) {
      error_half_[i] = half_from_float(flush(values[i]));
    } else {
      error_[i] = flush(values[i]);
    }
  }
  rollback_armed_ = false;
  return Status::kOk;
}

Status Compressor::load_error_buffer_fp16(Span<const std::uint16_t> values) {
  const Status usable = check_error_values(values.size());
  if (usable != Status::kOk) {
    return usable;
  }
  if (error_half_ == nullptr) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(values.size()), 0,
                "fp16 error buffer values given, but this compressor keeps an fp32 error buffer");
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (half_non_finite(values[i])) {
      return fail(Status::kNonFiniteInput, i, static_cast<double>(half_to_float(values[i])), kHalfMax,
                  "error buffer element");
    }
  }
  std::memcpy(error_half_, values.data(), sizeof(std::uint16_t) * values.size());
  rollback_armed_ = false;
  return Status::kOk;
}

// Checks that the compressor is ready for `count` error-buffer values.
Status Compressor::check_error_values(std::size_t count) {
  if (!initialized_) {
    return fail(Status::kNotInitialized);
  }
  if (!keeps_error_buffer()) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(count), 0,
                "error buffer values given, but this method (fp32 or qsgd) keeps no error buffer");
  }
  if (count != config_.dimension) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(count), config_.dimension,
                "error buffer values must have one element per dimension");
  }
  return Status::kOk;
}

// Pass 1: checks the gradient and the error buffer, and stores every bucket's
// scale. It writes nothing but the scales, so a rejected step leaves h as it
// was.
Status Compressor::scan_buckets(const float* gradient, std::uint8_t* scales) {
  const std::uint32_t dimension = config_.dimension;
  const std::uint32_t bucket = config_.quantizer.bucket_size;
  const float zero_below = static_cast<float>(config_.quantizer.levels) * FLT_MIN;

  for (std::uint32_t k = 0, begin = 0; begin < dimension; ++k, begin += bucket) {
    const std::uint32_t count = dimension - begin < bucket ? dimension - begin : bucket;
    detail::BucketScan scan;
    scan_bucket(gradient, begin, count, &scan);
    if (scan.non_finite) {
      return report_non_finite(gradient, begin, count, k);
    }

    double norm = static_cast<double>(scan.max_abs);
    if (config_.quantizer.norm == NormKind::kL2) {
      const double* lanes = scan.lanes;
      norm =
          std::sqrt(((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])));
    }
    if (norm > static_cast<double>(FLT_MAX)) {
      return fail(Status::kScaleOverflow, k, norm, FLT_MAX);
    }
    float scale = static_cast<float>(norm);
    if (scale < zero_below) {
      scale = 0.0f;  // its level step would be below the normal float range
    }
    if (keeps_error_buffer()) {
      // |new h| <= beta |h| + |g| + scale, up to a few float roundings of
      // relative size 2^-24. From at most 65504 that cannot reach 65520,
      // where fp16 rounding gives Inf.
      const double limit = error_half_ != nullptr ? static_cast<double>(kHalfMax) : static_cast<double>(FLT_MAX);
      const double bound = static_cast<double>(scan.max_error_bound) + static_cast<double>(scale);
      if (!(bound <= limit)) {
        return fail(Status::kErrorBufferOverflow, k, bound, limit, "bucket");
      }
    }
    detail::store_f32(scales + 4u * k, scale);
  }
  return Status::kOk;
}

// Scans one bucket into *scan. An fp16 h is widened one group at a time. The
// groups are multiples of 8 elements, so the lane sums equal those of one call.
void Compressor::scan_bucket(const float* gradient, std::uint32_t begin, std::uint32_t count,
                             detail::BucketScan* scan) const {
  const detail::Kernels& kernels = detail::select_kernels(!config_.simd);
  if (error_half_ == nullptr) {
    const float* error = error_ != nullptr ? error_ + begin : nullptr;
    kernels.scan(gradient + begin, error, count, compensation_.alpha, compensation_.beta, scan);
    return;
  }
  float widened[detail::kGroupElements];
  for (std::uint32_t at = begin; at < begin + count; at += detail::kGroupElements) {
    const std::uint32_t n = begin + count - at < detail::kGroupElements ? begin + count - at : detail::kGroupElements;
    widen(error_half_ + at, n, widened);
    kernels.scan(gradient + at, widened, n, compensation_.alpha, compensation_.beta, scan);
  }
}

// Names the first NaN or Inf in the bucket, or reports that g + alpha h
// overflowed there.
Status Compressor::report_non_finite(const float* gradient, std::uint32_t begin, std::uint32_t count,
                                     std::uint32_t bucket) {
  for (std::uint32_t i = begin; i < begin + count; ++i) {
    if (non_finite(gradient[i])) {
      return fail(Status::kNonFiniteInput, i, static_cast<double>(gradient[i]), FLT_MAX, "gradient element");
    }
    if (keeps_error_buffer() && non_finite(error_value(i))) {
      return fail(Status::kNonFiniteInput, i, static_cast<double>(error_value(i)), FLT_MAX, "error buffer element");
    }
  }
  return fail(Status::kErrorBufferOverflow, bucket, HUGE_VAL, FLT_MAX);
}

// Pass 2: quantizes with the scales from pass 1, packs the symbols and updates
// the error buffer. Cannot fail: pass 1 checked every value it uses. Works in
// groups of 64 elements, the unit of the random stream; 64 symbols of r bits
// fill exactly 8r bytes, so each group's bits start on a byte boundary.
void Compressor::quantize_groups(const float* gradient, const StreamKey& key, const std::uint8_t* scales,
                                 std::uint8_t* symbols, std::uint32_t* histogram) {
  const detail::Kernels& kernels = detail::select_kernels(!config_.simd);
  const std::uint32_t dimension = config_.dimension;
  const std::uint32_t bucket = config_.quantizer.bucket_size;
  const std::uint32_t levels = config_.quantizer.levels;
  const std::uint32_t bits = bits_per_symbol(levels);
  detail::SegmentParams params{compensation_.alpha, compensation_.beta, 0.0f, 0.0f, static_cast<float>(levels), levels};
  std::uint32_t params_bucket = UINT32_MAX;
  float uniforms[detail::kGroupElements];
  float widened[detail::kGroupElements];
  std::uint8_t codes[detail::kGroupElements];

  detail::BucketCursor cursor(bucket, dimension);
  detail::for_each_group(dimension, [&](std::uint32_t group, std::uint32_t first, std::uint32_t count) {
    kernels.group_uniforms(key, group, uniforms);
    cursor.pieces(first, count, [&](std::uint32_t k, std::uint32_t begin, std::uint32_t end) {
      if (k != params_bucket) {
        const float scale = detail::load_f32(scales + 4u * k);
        params.step = detail::level_step(scale, levels);
        params.ratio =
            scale > 0.0f ? static_cast<float>(static_cast<double>(levels) / static_cast<double>(scale)) : 0.0f;
        params_bucket = k;
      }
      if (error_half_ != nullptr) {
        // The piece lies within one group, so it fits the 64-float buffer.
        widen(error_half_ + begin, end - begin, widened);
        kernels.quantize(gradient + begin, widened, end - begin, uniforms + (begin - first), params,
                         codes + (begin - first));
        narrow(widened, end - begin, error_half_ + begin);
      } else {
        kernels.quantize(gradient + begin, error_ != nullptr ? error_ + begin : nullptr, end - begin,
                         uniforms + (begin - first), params, codes + (begin - first));
      }
    });
    detail::pack_group(codes, count, bits, symbols + static_cast<std::size_t>(group) * 8u * bits);
    if (histogram != nullptr) {
      for (std::uint32_t j = 0; j < count; ++j) {
        ++histogram[codes[j]];
      }
    }
  });
}

// Replaces the fixed-width body at `symbols` with a rANS body when that is
// smaller. Returns the body size in use; the caller reads the encoding from it.
std::size_t Compressor::try_entropy_coding(const std::uint32_t* histogram, std::uint8_t* symbols,
                                           std::size_t fixed_bytes, std::uint8_t* scratch,
                                           std::size_t scratch_bytes) {
  const std::uint32_t alphabet = 2 * config_.quantizer.levels + 1;
  rans::FrequencyTable table;
  if (rans::normalize_frequencies(histogram, alphabet, &table) != Status::kOk) {
    return fixed_bytes;
  }
  const std::size_t table_size = rans::table_bytes(alphabet);
  if (table_size + rans::kStateBytes >= fixed_bytes) {
    return fixed_bytes;
  }
  if (config_.encoder == EncoderChoice::kAuto) {
    const double estimate = rans::estimate_coded_bits(histogram, table) / 8.0;
    if (static_cast<double>(table_size + rans::kStateBytes) + estimate >= static_cast<double>(fixed_bytes)) {
      return fixed_bytes;
    }
  }
  std::size_t stream_size = 0;
  const std::size_t capacity = fixed_bytes - table_size < scratch_bytes ? fixed_bytes - table_size : scratch_bytes;
  const Status status = rans::encode_packed(symbols, bits_per_symbol(config_.quantizer.levels), config_.dimension,
                                            table, scratch, capacity, &stream_size);
  if (status != Status::kOk || table_size + stream_size >= fixed_bytes) {
    return fixed_bytes;
  }
  (void)rans::write_table(table, symbols, table_size);
  std::memcpy(symbols + table_size, scratch, stream_size);
  return table_size + stream_size;
}

Status Compressor::compress(Span<const float> gradient, const StreamKey& key, Span<std::uint8_t> out,
                            std::size_t* out_size) {
  if (initialized_ && config_.gradient_as_scratch && needs_scratch(config_)) {
    return fail(Status::kInvalidArgument, 0, 0, 0,
                "this compressor has gradient_as_scratch set and needs a writable gradient: call "
                "compress_reusing_gradient()");
  }
  return compress_with_scratch(gradient, scratch_, scratch_bytes_, key, out, out_size);
}

Status Compressor::compress_reusing_gradient(Span<float> gradient, const StreamKey& key, Span<std::uint8_t> out,
                                             std::size_t* out_size) {
  // Every element is read before the coder writes, and any byte may alias a
  // float's storage.
  std::uint8_t* scratch = scratch_;
  std::size_t scratch_bytes = scratch_bytes_;
  if (scratch == nullptr && gradient.data() != nullptr) {
    scratch = reinterpret_cast<std::uint8_t*>(gradient.data());
    scratch_bytes = sizeof(float) * gradient.size();
  }
  return compress_with_scratch(Span<const float>(gradient.data(), gradient.size()), scratch, scratch_bytes, key, out,
                               out_size);
}

Status Compressor::compress_with_scratch(Span<const float> gradient, std::uint8_t* scratch, std::size_t scratch_bytes,
                                         const StreamKey& key, Span<std::uint8_t> out, std::size_t* out_size) {
  if (!initialized_) {
    return fail(Status::kNotInitialized);
  }
  if (gradient.size() != config_.dimension || gradient.data() == nullptr) {
    return fail(Status::kInvalidArgument, 0, static_cast<double>(gradient.size()), config_.dimension,
                "gradient must have one element per dimension");
  }
  if (out_size == nullptr) {
    return fail(Status::kInvalidArgument, 0, 0, 0, "out_size must not be null");
  }
  const std::size_t capacity = max_payload_bytes(config_);
  if (out.size() < capacity || out.data() == nullptr) {
    return fail(Status::kBufferTooSmall, 0, static_cast<double>(out.size()), static_cast<double>(capacity),
                "payload buffer");
  }
  std::uint8_t* payload = out.data();

  if (config_.method == Method::kFp32) {
    for (std::uint32_t i = 0; i < config_.dimension; ++i) {
      if (non_finite(gradient[i])) {
        return fail(Status::kNonFiniteInput, i, static_cast<double>(gradient[i]), FLT_MAX, "gradient element");
      }
    }
    const std::uint32_t body = 4u * config_.dimension;
    write_header(payload, Encoding::kRawFp32, config_, body);
    for (std::uint32_t i = 0; i < config_.dimension; ++i) {
      detail::store_f32(payload + kPayloadHeaderBytes + 4u * i, flush(gradient[i]));
    }
    *out_size = seal(payload, kPayloadHeaderBytes + body);
    last_error_ = ErrorInfo{};
    return Status::kOk;
  }

  const detail::FlushToZeroScope flush_mode(detail::select_kernels(!config_.simd));
  std::uint8_t* scales = payload + kPayloadHeaderBytes;
  std::uint8_t* symbols = scales + 4u * static_cast<std::size_t>(bucket_count(config_));
  const Status scanned = scan_buckets(gradient.data(), scales);
  if (scanned != Status::kOk) {
    return scanned;
  }
  std::uint32_t histogram[rans::kMaxAlphabet] = {};
  const bool entropy = config_.encoder != EncoderChoice::kFixedWidth;
  quantize_groups(gradient.data(), key, scales, symbols, entropy ? histogram : nullptr);

  const std::size_t fixed_bytes = fixed_symbol_bytes(config_);
  const std::size_t body =
      entropy ? try_entropy_coding(histogram, symbols, fixed_bytes, scratch, scratch_bytes) : fixed_bytes;
  const Encoding encoding = body < fixed_bytes ? Encoding::kRans : Encoding::kFixedWidth;
  write_header(payload, encoding, config_, static_cast<std::uint32_t>(body));
  *out_size = seal(payload, static_cast<std::size_t>(symbols - payload) + body);

  rollback_armed_ = keeps_error_buffer();
  last_size_ = *out_size;
  last_crc_ = detail::load_u32(payload + *out_size - kPayloadChecksumBytes);
  last_error_ = ErrorInfo{};
  return Status::kOk;
}

Status Compressor::rollback(Span<const std::uint8_t> payload) {
  if (!initialized_) {
    return fail(Status::kNotInitialized);
  }
  if (!keeps_error_buffer()) {
    return Status::kOk;
  }
  if (!rollback_armed_) {
    // Name the given payload's checksum when it has one, so the message
    // shows which payload was offered.
    const double found = payload.size() >= kPayloadChecksumBytes
                             ? detail::load_u32(payload.data() + payload.size() - kPayloadChecksumBytes)
                             : 0.0;
    return fail(Status::kStalePayload, 0, found, last_crc_,
                "no payload is waiting for a verdict: none was compressed since init() or the last reset, or it was "
                "already rolled back");
  }
  DecodeLimits limits;
  limits.expected_dimension = config_.dimension;
  limits.max_dimension = config_.dimension;
  limits.max_payload_bytes = max_payload_bytes(config_);
  PayloadView view;
  ErrorInfo error;
  if (validate_payload(payload, limits, &view, &error) != Status::kOk) {
    last_error_ = error;
    return error.status;
  }
  if (view.size_bytes() != last_size_ || view.checksum() != last_crc_) {
    return fail(Status::kStalePayload, view.size_bytes() - kPayloadChecksumBytes, view.checksum(), last_crc_,
                "the payload is not the last one compressed");
  }
  if (error_half_ != nullptr) {
    detail::add_payload_flushed_fp16(view, error_half_);
  } else {
    detail::add_payload_flushed(view, error_);
  }
  rollback_armed_ = false;
  last_error_ = ErrorInfo{};
  return Status::kOk;
}

}  // namespace ecq
