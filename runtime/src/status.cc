#include "ecq/runtime/status.h"

#include <cfloat>
#include <cstdarg>

#include "ecq/runtime/format.h"

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

// Writes printf-style text into buffer[*used..capacity) and advances *used by
// the length the full text needs, so the caller learns the total even when
// the buffer is too small.
void append(char* buffer, std::size_t capacity, std::size_t* used, const char* format, ...)
    __attribute__((format(printf, 4, 5)));

void append(char* buffer, std::size_t capacity, std::size_t* used, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  char* at = *used < capacity ? buffer + *used : nullptr;
  *used += vformat_printf(at, at != nullptr ? capacity - *used : 0, format, arguments);
  va_end(arguments);
}

unsigned long long as_integer(double value) { return static_cast<unsigned long long>(value); }

// Formats a found or limit value of a wire-protocol error.
void format_wire_value(Status status, double value, char* out, std::size_t capacity) {
  if (status == Status::kChecksumMismatch || status == Status::kBadMagic) {
    format_printf(out, capacity, "0x%08llX", as_integer(value));
  } else if (value >= 0.0 && value < 9.0e15 && value == static_cast<double>(as_integer(value))) {
    format_printf(out, capacity, "%llu", as_integer(value));
  } else {
    format_printf(out, capacity, "%.9g", value);
  }
}

}  // namespace

std::size_t describe_error(const ErrorInfo& error, char* buffer, std::size_t capacity) {
  if (capacity > 0) {
    buffer[0] = '\0';
  }
  std::size_t used = 0;
  const unsigned long long position = error.position;
  const char* subject = error.subject;
  if (error.context != nullptr && error.status != Status::kOk) {
    // Wire-protocol errors: the subject already names the field and its rule.
    // Checksums and magic numbers read best in hex, counts as integers.
    char found[32];
    char limit[32];
    format_wire_value(error.status, error.found, found, sizeof found);
    format_wire_value(error.status, error.limit, limit, sizeof limit);
    append(buffer, capacity, &used, "invalid %s (%s): %s; found %s at byte %llu", error.context,
           status_name(error.status), subject != nullptr ? subject : "malformed input", found, position);
    if (error.limit != 0.0) {
      append(buffer, capacity, &used, ", %s %s",
             error.status == Status::kChecksumMismatch ? "computed"
                                                       : (error.status == Status::kBadMagic ? "expected" : "limit"),
             limit);
    }
    append(buffer, capacity, &used, "; the peer sent data this build cannot accept, so close the connection");
    return used;
  }
  switch (error.status) {
    case Status::kOk: append(buffer, capacity, &used, "no error"); break;
    case Status::kInvalidArgument:
      append(buffer, capacity, &used, "invalid argument: %s; found %.9g",
             subject != nullptr ? subject : "a parameter is out of range", error.found);
      if (error.limit != 0.0) {
        append(buffer, capacity, &used, ", expected %.9g", error.limit);
      }
      if (error.indexed) {
        append(buffer, capacity, &used, ", at index %llu", position);
      }
      break;
    case Status::kNotInitialized:
      append(buffer, capacity, &used, "object used before a successful init(): call init() and check its status");
      break;
    case Status::kBufferTooSmall:
      append(buffer, capacity, &used,
             "%s of %llu bytes is too small, %llu bytes are required: size it with the matching *_bytes() function",
             subject != nullptr ? subject : "buffer", as_integer(error.found), as_integer(error.limit));
      break;
    case Status::kNonFiniteInput:
      append(buffer, capacity, &used,
             "%s %llu is %g (not finite): the step was rejected and nothing was changed; check the input data, the "
             "learning rate and the loss",
             subject != nullptr ? subject : "element", position, error.found);
      break;
    case Status::kScaleOverflow:
      append(
          buffer, capacity, &used,
          "bucket %llu has norm %.9g, above the float maximum %.9g: scale the gradient down or use l-infinity scaling",
          position, error.found, error.limit);
      break;
    case Status::kErrorBufferOverflow:
      if (error.limit < static_cast<double>(FLT_MAX)) {
        // The limit of an fp16 error buffer, 65504.
        append(buffer, capacity, &used,
               "%s %llu would put %.9g into the fp16 error buffer, above its maximum %.9g: nothing was changed; "
               "lower the learning rate, clip gradients or keep the error buffer in fp32",
               subject != nullptr ? subject : "bucket", position, error.found, error.limit);
        break;
      }
      append(buffer, capacity, &used,
             "bucket %llu could push the error buffer to %.9g, above the float maximum %.9g: the step was rejected; "
             "lower the learning rate or clip gradients",
             position, error.found, error.limit);
      break;
    case Status::kUnstableCompensation:
      append(buffer, capacity, &used,
             "alpha^2 * gamma + (beta - alpha)^2 = %.9g is not below %.9g: pick alpha and beta with "
             "default_compensation(), or set force to accept the risk of divergence",
             error.found, error.limit);
      break;
    case Status::kStalePayload:
      append(buffer, capacity, &used,
             "rollback rejected: %s (payload CRC-32C 0x%08llX, last compressed 0x%08llX); keep the payload of the last "
             "compress() until its verdict and roll it back at most once",
             subject != nullptr ? subject : "not the last compressed payload", as_integer(error.found),
             as_integer(error.limit));
      break;
    case Status::kTruncatedPayload:
      append(buffer, capacity, &used,
             "payload is %llu bytes but its header declares %llu: the sender or the transport cut it short", position,
             as_integer(error.found));
      break;
    case Status::kTrailingBytes:
      append(buffer, capacity, &used,
             "payload is %llu bytes, %llu more than its header declares, and the first %llu bytes are intact: pass "
             "exactly one payload per call",
             as_integer(error.found), as_integer(error.found - error.limit), as_integer(error.limit));
      break;
    case Status::kOversizedPayload:
      append(
          buffer, capacity, &used,
          "payload %s at byte %llu is %llu, above the receiver's limit %llu: raise the limit or send a smaller model",
          subject != nullptr ? subject : "size", position, as_integer(error.found), as_integer(error.limit));
      break;
    case Status::kBadMagic:
      append(buffer, capacity, &used,
             "payload starts with bytes 0x%08llX (little-endian), expected 0x%08llX (\"ECQP\"): this is not an ecq "
             "payload",
             as_integer(error.found), as_integer(error.limit));
      break;
    case Status::kUnsupportedVersion:
      append(buffer, capacity, &used,
             "payload format version is %llu, this build reads version %llu: use the same ecq release on both sides",
             as_integer(error.found), as_integer(error.limit));
      break;
    case Status::kBadHeaderField:
      append(buffer, capacity, &used,
             "payload header %s at byte %llu is %llu, expected %llu: the sender wrote an invalid payload",
             subject != nullptr ? subject : "field", position, as_integer(error.found), as_integer(error.limit));
      break;
    case Status::kDimensionMismatch:
      append(buffer, capacity, &used, "payload dimension is %llu, expected %llu: the sender runs a different model",
             as_integer(error.found), as_integer(error.limit));
      break;
    case Status::kBadScale:
      append(buffer, capacity, &used,
             "payload scale at byte %llu is %g, expected a finite value >= 0: the sender wrote an invalid payload",
             position, error.found);
      break;
    case Status::kBadSymbol:
      append(buffer, capacity, &used,
             "payload %s at byte %llu is invalid (value %llu, alphabet size %llu): the sender wrote an invalid payload",
             subject != nullptr ? subject : "symbol data", position, as_integer(error.found), as_integer(error.limit));
      break;
    case Status::kChecksumMismatch:
      append(buffer, capacity, &used,
             "payload CRC-32C at byte %llu is 0x%08llX, computed 0x%08llX: the payload was corrupted in transit; ask "
             "the sender to resend it",
             position, as_integer(error.found), as_integer(error.limit));
      break;
    default: append(buffer, capacity, &used, "unknown status %d", static_cast<int>(error.status)); break;
  }
  return used;
}

}  // namespace ecq
