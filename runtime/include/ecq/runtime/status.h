#pragma once
// Status codes of the device runtime. Device code reports every failure
// through these values; it is built with -fno-exceptions.

#include <cstddef>
#include <cstdint>

namespace ecq {

/// Result of a device-runtime call. `kOk` is the only success value.
enum class [[nodiscard]] Status : std::int32_t{
    kOk = 0,
    kInvalidArgument,       ///< a parameter is out of its documented range
    kNotInitialized,        ///< the object was used before a successful init()
    kBufferTooSmall,        ///< a caller-given buffer is smaller than required
    kNonFiniteInput,        ///< a gradient or error-buffer element is NaN or Inf
    kScaleOverflow,         ///< a bucket's norm does not fit in a float
    kErrorBufferOverflow,   ///< the error update would leave the float range
    kUnstableCompensation,  ///< alpha^2 * gamma + (beta - alpha)^2 >= 1 and not forced
    kStalePayload,          ///< rollback given a payload that is not the last one compressed
    kTruncatedPayload,      ///< the payload ends before its declared length
    kTrailingBytes,         ///< bytes follow the payload's checksum
    kOversizedPayload,      ///< the payload exceeds the receiver's size or dimension limit
    kBadMagic,              ///< the payload does not start with the ecq payload magic
    kUnsupportedVersion,    ///< the payload format version is not supported
    kBadHeaderField,        ///< a header field is outside its valid range
    kDimensionMismatch,     ///< the payload dimension is not the expected one
    kBadScale,              ///< a bucket scale is negative, NaN or Inf
    kBadSymbol,             ///< a symbol is outside the alphabet, or the entropy stream is corrupt
    kChecksumMismatch,      ///< the CRC-32C does not match the payload bytes
};

/// Returns a stable, human-readable name such as "non-finite input".
const char* status_name(Status status);

/// Details of the last failure: where it happened and which value caused it.
/// `position` is an element index for gradient and error-buffer checks, a
/// bucket index for norm checks, a row for batch checks and a byte offset for
/// payload checks. `found` and `limit` are the offending value and the bound
/// it broke, where the status has them (0 otherwise). `subject`, where set,
/// is a static sentence fragment naming the value and its valid range, such
/// as "quantizer levels s must be 1 to 127".
struct ErrorInfo {
  Status status = Status::kOk;
  std::uint64_t position = 0;
  double found = 0.0;
  double limit = 0.0;
  const char* subject = nullptr;
  /// True when `position` names the element or row of an invalid argument.
  bool indexed = false;
  /// Name of the input being decoded when it is not a compressed-update
  /// payload, e.g. "frame" or "message" for the wire protocol; else null.
  const char* context = nullptr;
};

/// Buffer size for any describe_error() message of the runtime in full. The
/// longest message seen was 283 characters, so 512 is an estimate with margin.
constexpr std::size_t kErrorMessageBytes = 512;

/// Writes a one-line English description of `error`, with the value and what
/// to do next, into `buffer` (always NUL-terminated when capacity > 0).
/// Returns the number of characters the full message needs, as snprintf does.
std::size_t describe_error(const ErrorInfo& error, char* buffer, std::size_t capacity);

}  // namespace ecq
