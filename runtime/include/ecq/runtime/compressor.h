#pragma once
// Error-compensated quantized SGD (ECQ-SGD) compressor for one device, after
// J. Wu, W. Huang, J. Huang, T. Zhang, "Error Compensated Quantized SGD and its
// Applications to Large-scale Distributed Optimization", ICML 2018.
//
// Each step takes a gradient g and the accumulated quantization error h
// (h = 0 at start) and
//   sends   q = Q(g + alpha * h)
//   keeps   h <- beta * h + (g - q)
// The error term is the raw gradient minus what was sent.
//
// Memory: every buffer comes from a caller-given arena whose size
// required_arena_bytes() computes from the configuration, and compress()
// writes into a caller-given payload buffer of max_payload_bytes(). Nothing
// allocates after init().
//
// Arithmetic: fp32 with every result below the normal float range flushed to
// +0, l2 norms summed in double over 8 fixed lanes, and no fused multiply-add
// (the library is built with -ffp-contract=off). The payload for a given
// gradient, error buffer and stream key is therefore byte-identical on every
// architecture, vector width and thread count. An fp16 error buffer
// (ErrorBufferType::kFp16) is widened to fp32 exactly before this arithmetic
// and rounded back to nearest even after it.

#include <cstddef>
#include <cstdint>

#include "ecq/runtime/half.h"
#include "ecq/runtime/payload.h"
#include "ecq/runtime/philox.h"
#include "ecq/runtime/quantizer.h"
#include "ecq/runtime/span.h"
#include "ecq/runtime/status.h"

namespace ecq {
namespace detail {
struct BucketScan;
}  // namespace detail

/// The compressors ecq offers, all run through the same code path.
enum class Method : std::uint8_t {
  kFp32 = 0,  ///< 32-bit pass-through: the gradient is sent as raw floats
  kQsgd = 1,  ///< Q(g) with alpha = 0: no error buffer is kept at all
  kEf = 2,    ///< classic error feedback, alpha = beta = 1 (forced; see below)
  kEcq = 3,   ///< ECQ-SGD with the configured or default alpha and beta
};

/// Returns "fp32", "qsgd", "ef" or "ecq".
const char* method_name(Method method);

/// Parses a method name as method_name() spells it. Returns false for any
/// other text and leaves `method` unchanged.
bool parse_method(const char* name, Method* method);

/// alpha (compensation coefficient) and beta (decay of the error buffer).
struct Compensation {
  float alpha = 0.0f;
  float beta = 0.0f;
  /// Accept a pair that breaks the stability condition; init() then logs a
  /// warning. Without it such a pair is rejected with kUnstableCompensation.
  bool force = false;
};

/// Returns alpha^2 * gamma + (beta - alpha)^2. Below 1 the contribution of old
/// quantization errors decays geometrically (the paper's condition for
/// quadratic objectives); at or above 1 it can grow without bound.
double stability_value(const Compensation& compensation, double gamma);

/// Largest stability_value() that default_compensation() returns.
constexpr double kDefaultStabilityTarget = 0.9;

/// Returns a stable (alpha, beta) with margin for a quantizer. The rule:
///   alpha = min(1, 0.5 / sqrt(gamma))                (alpha^2 gamma <= 0.25)
///   beta  = min(0.98, alpha + sqrt(0.9 - alpha^2 gamma))
/// so stability_value() <= 0.9. On the paper's linear regression (s = 4, one
/// l2 bucket per vector; ecq-repro-linreg) it beat the earlier rule
/// alpha = 0.6 / sqrt(gamma), beta <= 0.95 on all three datasets. At gamma = 16
/// (l2, s = 2, b = 1024), where classic error feedback diverges, it gives
/// alpha = 0.125, beta = 0.931.
Compensation default_compensation(const QuantizerConfig& quantizer);

/// Element type of the error buffer h. Only the device's memory changes: the
/// arithmetic stays fp32 and the payload format is the same for both.
enum class ErrorBufferType : std::uint8_t {
  kFp32 = 0,  ///< 4 bytes per element
  /// 2 bytes per element, IEEE binary16. Each step widens h to fp32 exactly,
  /// runs the fp32 arithmetic and rounds the new h to nearest even. |h| must
  /// stay at or below kHalfMax (65504).
  kFp16 = 1,
};

/// Returns "fp32" or "fp16".
const char* error_buffer_type_name(ErrorBufferType type);

/// Parses "fp32" or "fp16". Returns false for any other text and leaves
/// `type` unchanged.
bool parse_error_buffer_type(const char* name, ErrorBufferType* type);

/// Returns the bytes of one error-buffer element: 4 or 2.
std::size_t error_buffer_element_bytes(ErrorBufferType type);

/// Choice of payload encoding for compress().
enum class EncoderChoice : std::uint8_t {
  kAuto = 0,        ///< entropy-coded when that is smaller, else fixed width
  kFixedWidth = 1,  ///< always fixed width
  kEntropy = 2,     ///< entropy-coded unless it would be larger than fixed width
};

struct CompressorConfig {
  std::uint32_t dimension = 0;  ///< number of gradient elements, >= 1
  Method method = Method::kEcq;
  QuantizerConfig quantizer;
  /// Used by kEcq only. Leave `use_default_compensation` set to take
  /// default_compensation(quantizer).
  Compensation compensation;
  bool use_default_compensation = true;
  EncoderChoice encoder = EncoderChoice::kAuto;
  /// Storage of h for kEf and kEcq; ignored by the methods that keep none.
  ErrorBufferType error_buffer = ErrorBufferType::kFp32;
  /// Use the SIMD kernels for this CPU. false runs the scalar reference
  /// kernels, which produce the same bytes more slowly.
  bool simd = true;
  /// Let the entropy coder write its stream into the gradient's storage once
  /// every gradient element has been read, so the arena needs no coder
  /// scratch (dimension * bits per symbol / 8 bytes less). Such a compressor
  /// takes its gradients through compress_reusing_gradient().
  bool gradient_as_scratch = false;
};

/// Compresses one device's gradients step after step. Not copyable: it owns a
/// view of the caller's arena.
class Compressor {
 public:
  Compressor() = default;
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  /// Returns the arena size init() needs for `config`, or 0 when the
  /// configuration is invalid. Covers the error buffer (4 or 2 bytes per
  /// element by `error_buffer`, none for kFp32 and kQsgd) and the entropy
  /// coder's scratch (none with gradient_as_scratch).
  static std::size_t required_arena_bytes(const CompressorConfig& config);

  /// Returns the largest payload compress() can produce for `config`, or 0
  /// when the configuration is invalid.
  static std::size_t max_payload_bytes(const CompressorConfig& config);

  /// Validates `config`, carves the error buffer and scratch from `arena` and
  /// sets h = 0. `arena` must stay valid, unmoved and otherwise unused for the
  /// life of this object and be at least required_arena_bytes(config) long; any
  /// alignment is fine. May be called again to reconfigure; a failed call
  /// leaves the previous configuration and error buffer in place.
  [[nodiscard]] Status init(const CompressorConfig& config, Span<std::uint8_t> arena);

  /// Runs one step: reads `gradient` (dimension elements), writes the payload
  /// to out[0..*out_size) and updates the error buffer in place. On any
  /// failure the error buffer and the rollback state are unchanged and
  /// last_error() describes the failure: kNonFiniteInput (position = element index, found =
  /// the value; covers the gradient and the error buffer), kScaleOverflow
  /// (position = bucket), kErrorBufferOverflow (position = bucket),
  /// kBufferTooSmall. The random rounding is keyed on `key` and the element
  /// index only.
  /// With gradient_as_scratch, fails with kInvalidArgument unless the
  /// encoder is kFixedWidth or the method kFp32, which need no scratch.
  [[nodiscard]] Status compress(Span<const float> gradient, const StreamKey& key, Span<std::uint8_t> out,
                                std::size_t* out_size);

  /// Same as compress(), but the entropy coder may use the storage of
  /// `gradient` as its scratch after reading it, so its contents are
  /// unspecified afterwards. For compressors with gradient_as_scratch (works
  /// for the others too).
  [[nodiscard]] Status compress_reusing_gradient(Span<float> gradient, const StreamKey& key, Span<std::uint8_t> out,
                                                 std::size_t* out_size);

  /// Takes back the last compressed update after learning it was not applied.
  /// Adds the decoded payload to the error buffer, so h = beta * h + g: the
  /// whole gradient becomes error, as if the step had sent nothing.
  /// `payload` must be the exact bytes of the last compress(). The caller
  /// keeps them until the verdict, because no second copy is kept here, and
  /// rollback() checks them against their CRC. Fails with kStalePayload for
  /// any other payload, after a second rollback, or after a newer compress().
  /// A no-op for methods without an error buffer.
  [[nodiscard]] Status rollback(Span<const std::uint8_t> payload);

  /// True for the methods that keep an error buffer (kEf, kEcq).
  bool keeps_error_buffer() const { return error_ != nullptr || error_half_ != nullptr; }

  /// The fp32 error buffer h, for persistence. Empty for methods that keep
  /// none and for an fp16 buffer.
  Span<const float> error_buffer() const { return Span<const float>(error_, error_ != nullptr ? dimension() : 0); }

  /// Returns the fp16 error buffer h as binary16 bits, for persistence, or an
  /// empty span unless the buffer is fp16.
  Span<const std::uint16_t> error_buffer_fp16() const {
    return Span<const std::uint16_t>(error_half_, error_half_ != nullptr ? dimension() : 0);
  }

  /// Returns element i of h as a float, whatever its storage; i must be below
  /// dimension() and the method must keep an error buffer.
  float error_value(std::size_t i) const;

  /// Replaces h, e.g. after a restart. Rejects NaN or Inf (kNonFiniteInput)
  /// and a size other than dimension() (kInvalidArgument), leaving h as it
  /// was. An fp16 buffer stores each value rounded to nearest even and rejects
  /// a value that rounds to Inf (magnitude 65520 or more) with
  /// kErrorBufferOverflow (position = element index).
  [[nodiscard]] Status load_error_buffer(Span<const float> values);

  /// Replaces an fp16 h with binary16 bits, exactly. Rejects NaN or Inf
  /// (kNonFiniteInput), a size other than dimension() and a compressor whose
  /// buffer is not fp16 (kInvalidArgument), leaving h as it was.
  [[nodiscard]] Status load_error_buffer_fp16(Span<const std::uint16_t> values);

  /// Sets h = 0 and clears the rollback state.
  void reset_error_buffer();

  /// Changes the payload encoding and keeps h and the rollback state, which
  /// the encoding does not affect. Fails with kInvalidArgument for an unknown
  /// choice and with kBufferTooSmall when the new encoder needs coder scratch
  /// that init() did not reserve (an entropy encoder after kFixedWidth,
  /// without gradient_as_scratch).
  [[nodiscard]] Status set_encoder(EncoderChoice encoder);

  /// Multiplies h by `factor` in place, rounding as a step does (to binary16
  /// for an fp16 buffer), e.g. to decay the error of rounds a device missed,
  /// and clears the rollback state. Rejects a factor outside [0, 1]
  /// (kInvalidArgument); a no-op for methods that keep no error buffer.
  [[nodiscard]] Status scale_error_buffer(float factor);

  const CompressorConfig& config() const { return config_; }
  std::uint32_t dimension() const { return config_.dimension; }
  /// The (alpha, beta) in use after init(); both 0 for kFp32 and kQsgd.
  const Compensation& compensation() const { return compensation_; }
  const ErrorInfo& last_error() const { return last_error_; }

 private:
  Status fail(Status status, std::uint64_t position = 0, double found = 0.0, double limit = 0.0,
              const char* subject = nullptr);
  Status scan_buckets(const float* gradient, std::uint8_t* scales);
  void scan_bucket(const float* gradient, std::uint32_t begin, std::uint32_t count, detail::BucketScan* scan) const;
  Status check_error_values(std::size_t count);
  Status report_non_finite(const float* gradient, std::uint32_t begin, std::uint32_t count, std::uint32_t bucket);
  void quantize_groups(const float* gradient, const StreamKey& key, const std::uint8_t* scales, std::uint8_t* symbols,
                       std::uint32_t* histogram);
  Status compress_with_scratch(Span<const float> gradient, std::uint8_t* scratch, std::size_t scratch_bytes,
                               const StreamKey& key, Span<std::uint8_t> out, std::size_t* out_size);
  std::size_t try_entropy_coding(const std::uint32_t* histogram, std::uint8_t* symbols, std::size_t fixed_bytes,
                                 std::uint8_t* scratch, std::size_t scratch_bytes);

  CompressorConfig config_;
  Compensation compensation_;
  bool initialized_ = false;
  float* error_ = nullptr;                  // fp32 h, dimension elements, or nullptr
  std::uint16_t* error_half_ = nullptr;     // fp16 h as binary16 bits, or nullptr
  std::uint8_t* scratch_ = nullptr;  // entropy coder output
  std::size_t scratch_bytes_ = 0;
  // Rollback state: the CRC and size of the last payload, and whether it can
  // still be taken back.
  bool rollback_armed_ = false;
  std::uint32_t last_crc_ = 0;
  std::size_t last_size_ = 0;
  ErrorInfo last_error_;
};

}  // namespace ecq
