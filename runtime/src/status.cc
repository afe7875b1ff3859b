#include "ecq/runtime/status.h"

#include <cstdio>

namespace ecq {

const char* status_name(Status status) {
  switch (status) {
    case Status::kOk: return "ok";
    case Status::kInvalidArgument: return "invalid argument";
    case Status::kNotInitialized: return "not initialized";
    case Status::kBufferTooSmall: return "buffer too small";
    case Status::kNonFiniteInput: return "non-finite input";
    case Status::kScaleOverflow: return "scale overflow";
    case Status::kErrorBufferOverflow: return "error buffer overflow";
    case Status::kUnstableCompensation: return "unstable compensation";
    case Status::kStalePayload: return "stale payload";
    case Status::kTruncatedPayload: return "truncated payload";
    case Status::kTrailingBytes: return "trailing bytes";
    case Status::kOversizedPayload: return "oversized payload";
    case Status::kBadMagic: return "bad magic";
    case Status::kUnsupportedVersion: return "unsupported version";
    case Status::kBadHeaderField: return "bad header field";
    case Status::kDimensionMismatch: return "dimension mismatch";
    case Status::kBadScale: return "bad scale";
    case Status::kBadSymbol: return "bad symbol";
    case Status::kChecksumMismatch: return "checksum mismatch";
  }
  return "unknown status";
}

namespace {

// The message template for each status: what failed at `position`, the value
// found, the limit, and what the caller can do about it.
const char* message_format(Status status) {
  switch (status) {
    case Status::kOk: return "no error";
    case Status::kInvalidArgument:
      return "invalid argument %.17g at position %llu (limit %.17g): check the configuration or buffer sizes";
    case Status::kNotInitialized: return "object used before a successful init(): call init() and check its status";
    case Status::kBufferTooSmall:
      return "buffer of %.17g bytes is too small, %.17g bytes are required: size it with the matching *_bytes() "
             "function";
    case Status::kNonFiniteInput:
      return "element %llu is %g (not finite): the step was rejected and the error buffer is unchanged; check the "
             "loss, learning rate and input data";
    case Status::kScaleOverflow:
      return "bucket %llu has norm %.17g, above the float maximum %.17g: scale the gradient down or use l-infinity "
             "scaling";
    case Status::kErrorBufferOverflow:
      return "bucket %llu would push the error buffer to %.17g, above the float maximum %.17g: the step was rejected; "
             "lower the learning rate or clip gradients";
    case Status::kUnstableCompensation:
      return "alpha^2 * gamma + (beta - alpha)^2 = %.17g at position %llu is not below %.17g: pick alpha and beta with "
             "default_compensation(), or set force to accept divergence risk";
    case Status::kStalePayload:
      return "rollback given a payload that is not the last one compressed (byte %llu, value %.17g, expected %.17g): "
             "keep the payload from the last compress() until its verdict";
    case Status::kTruncatedPayload:
      return "payload ends at byte %llu but needs %.17g bytes (found %.17g): the sender or the transport cut it short";
    case Status::kTrailingBytes:
      return "payload has extra bytes after its checksum at byte %llu (size %.17g, expected %.17g): pass exactly one "
             "payload";
    case Status::kOversizedPayload:
      return "payload field at byte %llu is %.17g, above the receiver's limit %.17g: raise the limit or send a smaller "
             "model";
    case Status::kBadMagic: return "payload magic at byte %llu is %.17g, expected %.17g: this is not an ecq payload";
    case Status::kUnsupportedVersion:
      return "payload version at byte %llu is %.17g, this build reads up to %.17g: upgrade the receiver or downgrade "
             "the sender";
    case Status::kBadHeaderField:
      return "payload header field at byte %llu has invalid value %.17g (limit %.17g): the payload is corrupt or from "
             "an incompatible sender";
    case Status::kDimensionMismatch:
      return "payload dimension at byte %llu is %.17g, expected %.17g: the sender runs a different model";
    case Status::kBadScale:
      return "payload scale at byte %llu is %g, expected a finite value >= 0 (limit %.17g): the payload is corrupt";
    case Status::kBadSymbol:
      return "payload symbol data at byte %llu is invalid (value %.17g, alphabet size %.17g): the payload is corrupt";
    case Status::kChecksumMismatch:
      return "payload CRC-32C at byte %llu is %.17g, computed %.17g: the payload was corrupted in transit";
  }
  return "unknown status %llu";
}

}  // namespace

std::size_t describe_error(const ErrorInfo& error, char* buffer, std::size_t capacity) {
  const unsigned long long position = error.position;
  int written = 0;
  switch (error.status) {
    case Status::kOk:
    case Status::kNotInitialized: written = std::snprintf(buffer, capacity, "%s", message_format(error.status)); break;
    case Status::kNonFiniteInput:
      written = std::snprintf(buffer, capacity, message_format(error.status), position, error.found);
      break;
    case Status::kInvalidArgument:
    case Status::kUnstableCompensation:
      written = std::snprintf(buffer, capacity, message_format(error.status), error.found, position, error.limit);
      break;
    case Status::kBufferTooSmall:
      written = std::snprintf(buffer, capacity, message_format(error.status), error.found, error.limit);
      break;
    default:
      written = std::snprintf(buffer, capacity, message_format(error.status), position, error.found, error.limit);
      break;
  }
  return written < 0 ? 0 : static_cast<std::size_t>(written);
}

}  // namespace ecq
