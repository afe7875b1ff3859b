#pragma once
// Message bodies of the ecq wire protocol, carried in frames (frame.h). All
// integers and floats are little-endian; docs/protocol.md gives every
// layout field by field.
//
// Every encode_X() writes the body of one message to out[0..*size) and fails
// with kBufferTooSmall (found = capacity, limit = the required size) or, when
// a field is out of its valid range, with kInvalidArgument and the same
// subject the decoder would report. Nothing a successful encode_X() writes is
// rejected by decode_X().
//
// Every decode_X() checks the whole body and fills the struct only on
// success. Errors (error->position is a byte offset into the body):
//   kTruncatedPayload  the body ends inside a field; found = the bytes needed, limit = the body size
//   kTrailingBytes     bytes follow the last field; found = the body size, limit = the bytes used
//   kBadHeaderField    a field is out of range; found = its value, limit = the bound it broke
//   kNonFiniteInput    a float field is NaN or Inf where a finite value is required
// error->subject is a static string naming the message and the field, such
// as "round offer: levels s must be 1 to 127".
//
// Decoded strings and arrays point into the body and are valid as long as
// the body is (for FrameReader: until its next feed() or next()).

#include <cstddef>
#include <cstdint>

#include "ecq/runtime/compressor.h"
#include "ecq/runtime/model.h"
#include "ecq/runtime/quantizer.h"
#include "ecq/runtime/span.h"
#include "ecq/runtime/status.h"

namespace ecq::protocol {

/// The frame's message type byte.
enum class MessageType : std::uint8_t {
  kHello = 1,
  kCheckIn = 2,
  kRoundOffer = 3,
  kModelChunk = 4,
  kUpdateChunk = 5,
  kVerdict = 6,
  kStatusQuery = 7,
  kStatusAnswer = 8,
  kHeartbeat = 9,
  kGoodbye = 10,
};

/// Returns a name such as "round offer", or "unknown" for other values.
const char* message_type_name(std::uint8_t type);

/// Returns kOk when `type` is a MessageType, else kBadHeaderField (found =
/// type, limit = 10, position = 5, the type's offset in the frame). A
/// receiver closes the connection on an unknown type.
[[nodiscard]] Status check_message_type(std::uint8_t type, ErrorInfo* error = nullptr);

/// Maximum length of the device id in a hello.
constexpr std::size_t kMaxDeviceIdBytes = 64;
/// Maximum length of the text in a verdict or goodbye.
constexpr std::size_t kMaxTextBytes = 256;
/// Body bytes of a model chunk before its values, and of an update chunk
/// before its payload bytes.
constexpr std::size_t kModelChunkHeaderBytes = 20;
constexpr std::size_t kUpdateChunkHeaderBytes = 24;
/// Largest body of a message without a chunk: a verdict with the longest
/// text. A peer that announces a smaller maximum body size cannot take part.
constexpr std::size_t kMaxFixedBodyBytes = 4 + 8 + 1 + 2 + 2 + kMaxTextBytes;

/// Packs a runtime version as major << 16 | minor << 8 | patch.
constexpr std::uint32_t pack_version(std::uint32_t major, std::uint32_t minor, std::uint32_t patch) {
  return (major << 16) | ((minor & 0xFFu) << 8) | (patch & 0xFFu);
}

/// Returns the bit of `kind` in Hello::model_kinds.
constexpr std::uint8_t model_kind_bit(ModelKind kind) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(kind));
}

/// The bit of `method` in Hello::methods.
constexpr std::uint8_t method_bit(Method method) { return static_cast<std::uint8_t>(1u << static_cast<unsigned>(method)); }

/// The first message a device sends on a new connection.
struct Hello {
  std::uint32_t runtime_version = 0;  ///< pack_version(major, minor, patch)
  std::uint8_t model_kinds = 0;       ///< bit k set: ModelKind k is supported; bits 4 to 7 are 0, at least one bit set
  std::uint8_t methods = 0;           ///< bit k set: Method k is supported; bits 4 to 7 are 0, at least one bit set
  std::uint32_t max_body_size = 0;    ///< largest frame body the device accepts, >= kMaxFixedBodyBytes
  /// Device id, [A-Za-z0-9._-], NUL-terminated. Used only on transports
  /// without authentication; elsewhere the id comes from the TLS certificate
  /// and this may be empty.
  char device_id[kMaxDeviceIdBytes + 1] = {};
  std::uint8_t device_id_size = 0;  ///< 0 to 64
};

/// A device's request for work.
struct CheckIn {
  std::uint32_t available_ms = 0;  ///< the device stays available at most this long; 0 = unknown
};

/// Compressor settings of a round.
struct CompressorOffer {
  Method method = Method::kEcq;
  /// bucket size >= 1, levels 1 to 127, norm l2 or l-infinity; checked
  /// unless method is kFp32, which ignores them.
  QuantizerConfig quantizer;
  EncoderChoice encoder = EncoderChoice::kAuto;
  /// kEcq: take default_compensation(quantizer) and ignore alpha and beta.
  bool use_default_compensation = true;
  float alpha = 0.0f;  ///< finite, >= 0
  float beta = 0.0f;   ///< finite, >= 0
};

/// The coordinator's offer of one training round. The model follows in
/// model_chunk_count model chunks.
struct RoundOffer {
  std::uint32_t round_id = 0;
  std::uint64_t model_version = 0;
  /// inputs >= 1; classes >= 2 for kSoftmax and kMlp; hidden >= 1 for kMlp;
  /// the parameter count fits in 32 bits. Fields a kind ignores are sent as given.
  ModelShape shape;
  float learning_rate = 0.0f;     ///< finite, > 0
  std::uint32_t local_steps = 0;  ///< 0: send one gradient; k >= 1: send the FedAvg delta after k steps
  std::uint32_t batch_size = 1;   ///< >= 1
  CompressorOffer compressor;
  std::uint64_t run_seed = 0;
  std::uint32_t deadline_ms = 1;        ///< from receipt of this offer, >= 1
  std::uint32_t model_chunk_count = 1;  ///< >= 1
};

/// A run of consecutive model parameters.
struct ModelChunk {
  std::uint32_t round_id = 0;
  std::uint32_t chunk_index = 0;  ///< < chunk_count
  std::uint32_t chunk_count = 1;  ///< >= 1
  std::uint32_t first_element = 0;
  std::uint32_t element_count = 0;  ///< >= 1; first_element + element_count <= 2^32
  /// element_count finite fp32 values, little-endian, at any alignment. On a
  /// little-endian host the bytes of a float array have this layout.
  const std::uint8_t* values = nullptr;
};

/// Returns element `index` (< element_count) of a model chunk.
float model_chunk_value(const ModelChunk& chunk, std::uint32_t index);

/// Copies a model chunk's values to `out`, which must have element_count
/// elements (kInvalidArgument otherwise).
[[nodiscard]] Status copy_model_chunk_values(const ModelChunk& chunk, Span<float> out);

/// One piece of a device's update: the ECQ payload (payload.h) cut into
/// chunk_count pieces sent in index order.
struct UpdateChunk {
  std::uint32_t round_id = 0;
  std::uint64_t update_id = 0;
  std::uint32_t samples_used = 1;  ///< training samples behind the update, >= 1
  std::uint16_t chunk_index = 0;   ///< < chunk_count
  std::uint16_t chunk_count = 1;   ///< >= 1
  std::uint32_t payload_size = 0;  ///< size of the whole payload, >= 24 (payload header and checksum)
  const std::uint8_t* bytes = nullptr;
  std::uint32_t size = 0;  ///< bytes in this chunk, 1 to payload_size
};

/// Reason an update was not applied.
enum class VerdictReason : std::uint16_t {
  kNone = 0,  ///< the update was applied
  kLate = 1,
  kRoundClosed = 2,
  kInvalidPayload = 3,
  kNormBoundRejected = 4,
  kDuplicate = 5,
  kNotSelected = 6,
  kInternal = 7,
};

/// The coordinator's decision on an update.
struct Verdict {
  std::uint32_t round_id = 0;
  std::uint64_t update_id = 0;
  bool applied = false;
  /// kNone exactly when applied.
  VerdictReason reason = VerdictReason::kNone;
  const char* text = nullptr;  ///< UTF-8, not NUL-terminated
  std::uint16_t text_size = 0;  ///< 0 to 256
};

/// A device's question about an update whose verdict it missed.
struct StatusQuery {
  std::uint32_t round_id = 0;
  std::uint64_t update_id = 0;
};

enum class UpdateState : std::uint8_t { kApplied = 0, kNotApplied = 1, kPending = 2 };

struct StatusAnswer {
  std::uint32_t round_id = 0;
  std::uint64_t update_id = 0;
  UpdateState state = UpdateState::kPending;
};

struct Heartbeat {
  std::uint64_t monotonic_ms = 0;  ///< the sender's monotonic clock
};

/// Reason a peer closes the connection.
enum class GoodbyeReason : std::uint16_t {
  kNone = 0,           ///< orderly close
  kShutdown = 1,       ///< the sender is shutting down
  kProtocolError = 2,  ///< the peer sent an invalid frame or message
  kTimeout = 3,        ///< the peer was silent too long
  kIncompatible = 4,   ///< no common model kind or method, or body limit too small
  kUnauthorized = 5,   ///< the device is not admitted
};

/// Returns a name such as "shutdown", or "unknown" for a value outside the
/// enum (decoders accept any reason code).
const char* goodbye_reason_name(GoodbyeReason reason);

struct Goodbye {
  GoodbyeReason reason = GoodbyeReason::kNone;
  const char* text = nullptr;  ///< UTF-8, not NUL-terminated
  std::uint16_t text_size = 0;  ///< 0 to 256
};

[[nodiscard]] Status encode_hello(const Hello& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                                  ErrorInfo* error = nullptr);
[[nodiscard]] Status decode_hello(const std::uint8_t* body, std::size_t size, Hello* message,
                                  ErrorInfo* error = nullptr);

[[nodiscard]] Status encode_check_in(const CheckIn& message, std::uint8_t* out, std::size_t capacity,
                                     std::size_t* size, ErrorInfo* error = nullptr);
[[nodiscard]] Status decode_check_in(const std::uint8_t* body, std::size_t size, CheckIn* message,
                                     ErrorInfo* error = nullptr);

[[nodiscard]] Status encode_round_offer(const RoundOffer& message, std::uint8_t* out, std::size_t capacity,
                                        std::size_t* size, ErrorInfo* error = nullptr);
[[nodiscard]] Status decode_round_offer(const std::uint8_t* body, std::size_t size, RoundOffer* message,
                                        ErrorInfo* error = nullptr);

[[nodiscard]] Status encode_model_chunk(const ModelChunk& message, std::uint8_t* out, std::size_t capacity,
                                        std::size_t* size, ErrorInfo* error = nullptr);
[[nodiscard]] Status decode_model_chunk(const std::uint8_t* body, std::size_t size, ModelChunk* message,
                                        ErrorInfo* error = nullptr);

[[nodiscard]] Status encode_update_chunk(const UpdateChunk& message, std::uint8_t* out, std::size_t capacity,
                                         std::size_t* size, ErrorInfo* error = nullptr);
[[nodiscard]] Status decode_update_chunk(const std::uint8_t* body, std::size_t size, UpdateChunk* message,
                                         ErrorInfo* error = nullptr);

[[nodiscard]] Status encode_verdict(const Verdict& message, std::uint8_t* out, std::size_t capacity,
                                    std::size_t* size, ErrorInfo* error = nullptr);
[[nodiscard]] Status decode_verdict(const std::uint8_t* body, std::size_t size, Verdict* message,
                                    ErrorInfo* error = nullptr);

[[nodiscard]] Status encode_status_query(const StatusQuery& message, std::uint8_t* out, std::size_t capacity,
                                         std::size_t* size, ErrorInfo* error = nullptr);
[[nodiscard]] Status decode_status_query(const std::uint8_t* body, std::size_t size, StatusQuery* message,
                                         ErrorInfo* error = nullptr);

[[nodiscard]] Status encode_status_answer(const StatusAnswer& message, std::uint8_t* out, std::size_t capacity,
                                          std::size_t* size, ErrorInfo* error = nullptr);
[[nodiscard]] Status decode_status_answer(const std::uint8_t* body, std::size_t size, StatusAnswer* message,
                                          ErrorInfo* error = nullptr);

[[nodiscard]] Status encode_heartbeat(const Heartbeat& message, std::uint8_t* out, std::size_t capacity,
                                      std::size_t* size, ErrorInfo* error = nullptr);
[[nodiscard]] Status decode_heartbeat(const std::uint8_t* body, std::size_t size, Heartbeat* message,
                                      ErrorInfo* error = nullptr);

[[nodiscard]] Status encode_goodbye(const Goodbye& message, std::uint8_t* out, std::size_t capacity,
                                    std::size_t* size, ErrorInfo* error = nullptr);
[[nodiscard]] Status decode_goodbye(const std::uint8_t* body, std::size_t size, Goodbye* message,
                                    ErrorInfo* error = nullptr);

}  // namespace ecq::protocol
