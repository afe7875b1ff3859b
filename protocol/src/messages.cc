#include "ecq/protocol/messages.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "ecq/runtime/payload.h"
#include "wire.h"

namespace ecq::protocol {
namespace {

using wire::Reader;
using wire::Writer;

constexpr std::uint8_t kKnownBitsMask = 0x0F;  // ModelKind and Method values 0 to 3
constexpr std::uint32_t kMinPayloadBytes = kPayloadHeaderBytes + kPayloadChecksumBytes;

bool is_device_id_char(std::uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

// Returns the offset of the first byte that is not part of valid UTF-8
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or
// `size` when all of text[0..size) is valid.
std::size_t find_invalid_utf8(const std::uint8_t* text, std::size_t size) {
  std::size_t i = 0;
  while (i < size) {
    const std::uint8_t lead = text[i];
    std::size_t length = 0;
    std::uint8_t low = 0x80;  // valid range of the second byte
    std::uint8_t high = 0xBF;
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      low = lead == 0xE0 ? 0xA0 : 0x80;
      high = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      low = lead == 0xF0 ? 0x90 : 0x80;
      high = lead == 0xF4 ? 0x8F : 0xBF;
    } else {
      return i;
    }
    if (length > size - i) {
      return i;
    }
    for (std::size_t k = 1; k < length; ++k) {
      const std::uint8_t byte = text[i + k];
      const std::uint8_t min = k == 1 ? low : 0x80;
      const std::uint8_t max = k == 1 ? high : 0xBF;
      if (byte < min || byte > max) {
        return i;
      }
    }
    i += length;
  }
  return size;
}

// Reads a u16 length (at most kMaxTextBytes) and that many UTF-8 bytes.
bool read_text(Reader* reader, const char* length_subject, const char* utf8_subject, const char** text,
               std::uint16_t* text_size) {
  const std::size_t at = reader->offset();
  std::uint16_t length = 0;
  if (!reader->u16(&length)) {
    return false;
  }
  if (length > kMaxTextBytes) {
    (void)reader->reject(at, length, kMaxTextBytes, length_subject);
    return false;
  }
  const std::size_t start = reader->offset();
  const std::uint8_t* bytes = nullptr;
  if (!reader->bytes(length, &bytes)) {
    return false;
  }
  const std::size_t bad = find_invalid_utf8(bytes, length);
  if (bad != length) {
    (void)reader->reject(start + bad, bytes[bad], 0, utf8_subject);
    return false;
  }
  *text = reinterpret_cast<const char*>(bytes);
  *text_size = length;
  return true;
}

// Reads a u8 that must be 0 or 1.
bool read_flag(Reader* reader, const char* subject, bool* value) {
  const std::size_t at = reader->offset();
  std::uint8_t raw = 0;
  if (!reader->u8(&raw)) {
    return false;
  }
  if (raw > 1) {
    (void)reader->reject(at, raw, 1, subject);
    return false;
  }
  *value = raw == 1;
  return true;
}

// Reads a u32 that must be at least `min`.
bool read_u32_min(Reader* reader, std::uint32_t min, const char* subject, std::uint32_t* value) {
  const std::size_t at = reader->offset();
  if (!reader->u32(value)) {
    return false;
  }
  if (*value < min) {
    (void)reader->reject(at, *value, min, subject);
    return false;
  }
  return true;
}

// Reads an f32 that must be finite and at least `min` (above it when
// `exclusive`).
bool read_f32_min(Reader* reader, float min, bool exclusive, const char* subject, float* value) {
  const std::size_t at = reader->offset();
  if (!reader->f32(value)) {
    return false;
  }
  if (!std::isfinite(*value)) {
    (void)reader->reject_non_finite(at, static_cast<double>(*value), subject);
    return false;
  }
  if (*value < min || (exclusive && *value == min)) {
    (void)reader->reject(at, static_cast<double>(*value), static_cast<double>(min), subject);
    return false;
  }
  return true;
}

// Finishes an encoder: checks that the body fit and that the decoder accepts
// it, so a sender never emits a body its peer rejects. A decoder failure
// becomes kInvalidArgument with the decoder's details.
template <typename Message, typename Decode>
Status finish_encode(const Writer& writer, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                     ErrorInfo* error, Decode decode) {
  if (!writer.fits()) {
    return wire::report(error, Status::kBufferTooSmall, 0, static_cast<double>(capacity),
                        static_cast<double>(writer.size()), "message body buffer");
  }
  Message check;
  ErrorInfo details;
  if (decode(out, writer.size(), &check, &details) != Status::kOk) {
    details.status = Status::kInvalidArgument;
    if (error != nullptr) {
      *error = details;
    }
    return Status::kInvalidArgument;
  }
  *size = writer.size();
  return Status::kOk;
}

Status invalid(ErrorInfo* error, double found, double limit, const char* subject) {
  return wire::report(error, Status::kInvalidArgument, 0, found, limit, subject);
}

bool read_shape(Reader* reader, ModelShape* shape) {
  const std::size_t kind_at = reader->offset();
  std::uint8_t kind = 0;
  if (!reader->u8(&kind)) {
    return false;
  }
  if (kind > static_cast<std::uint8_t>(ModelKind::kMlp)) {
    (void)reader->reject(kind_at, kind, 3, "round offer: model kind must be 0 to 3");
    return false;
  }
  shape->kind = static_cast<ModelKind>(kind);
  if (!read_u32_min(reader, 1, "round offer: model inputs must be at least 1", &shape->inputs)) {
    return false;
  }
  const bool multiclass = shape->kind == ModelKind::kSoftmax || shape->kind == ModelKind::kMlp;
  const std::uint32_t min_classes = multiclass ? 2 : 0;
  if (!read_u32_min(reader, min_classes, "round offer: model classes must be at least 2 for softmax and mlp",
                    &shape->classes)) {
    return false;
  }
  const std::uint32_t min_hidden = shape->kind == ModelKind::kMlp ? 1 : 0;
  if (!read_u32_min(reader, min_hidden, "round offer: model hidden units must be at least 1 for mlp",
                    &shape->hidden)) {
    return false;
  }
  if (!read_flag(reader, "round offer: model bias must be 0 or 1", &shape->bias)) {
    return false;
  }

  if (parameter_count(*shape) == 0) {
    (void)reader->reject(kind_at, static_cast<double>(shape->inputs), UINT32_MAX,
                         "round offer: model parameter count must fit in 32 bits");
    return false;
  }
  return true;
}

bool read_compressor(Reader* reader, CompressorOffer* compressor) {
  const std::size_t method_at = reader->offset();
  std::uint8_t method = 0;
  if (!reader->u8(&method)) {
    return false;
  }
  if (method > static_cast<std::uint8_t>(Method::kEcq)) {
    (void)reader->reject(method_at, method, 3, "round offer: compressor method must be 0 to 3");
    return false;
  }
  compressor->method = static_cast<Method>(method);

  const bool quantized = compressor->method != Method::kFp32;

  const std::size_t bucket_at = reader->offset();
  if (!reader->u32(&compressor->quantizer.bucket_size)) {
    return false;
  }
  if (quantized && compressor->quantizer.bucket_size < 1) {
    (void)reader->reject(bucket_at, 0, 1, "round offer: bucket size must be at least 1");
    return false;
  }

  const std::size_t levels_at = reader->offset();
  std::uint8_t levels = 0;
  if (!reader->u8(&levels)) {
    return false;
  }
  if (quantized && (levels < kMinLevels || levels > kMaxLevels)) {
    (void)reader->reject(levels_at, levels, levels < kMinLevels ? kMinLevels : kMaxLevels,
                         "round offer: levels s must be 1 to 127");
    return false;
  }
  compressor->quantizer.levels = levels;

  const std::size_t norm_at = reader->offset();
  std::uint8_t norm = 0;
  if (!reader->u8(&norm)) {
    return false;
  }
  if (quantized && norm > static_cast<std::uint8_t>(NormKind::kLinf)) {
    (void)reader->reject(norm_at, norm, 1, "round offer: norm must be 0 (l2) or 1 (l-infinity)");
    return false;
  }
  compressor->quantizer.norm = static_cast<NormKind>(norm);

  const std::size_t encoder_at = reader->offset();
  std::uint8_t encoder = 0;
  if (!reader->u8(&encoder)) {
    return false;
  }
  if (encoder > static_cast<std::uint8_t>(EncoderChoice::kEntropy)) {
    (void)reader->reject(encoder_at, encoder, 2, "round offer: encoder must be 0 to 2");
    return false;
  }
  compressor->encoder = static_cast<EncoderChoice>(encoder);
  if (!read_flag(reader, "round offer: use default compensation must be 0 or 1",
                 &compressor->use_default_compensation)) {
    return false;
  }
  return read_f32_min(reader, 0.0f, false, "round offer: alpha must be finite and >= 0", &compressor->alpha) &&
         read_f32_min(reader, 0.0f, false, "round offer: beta must be finite and >= 0", &compressor->beta);
}

}  // namespace

const char* message_type_name(std::uint8_t type) {
  switch (type) {
    case 1: return "hello";
    case 2: return "check-in";
    case 3: return "round offer";
    case 4: return "model chunk";
    case 5: return "update chunk";
    case 6: return "verdict";
    case 7: return "status query";
    case 8: return "status answer";
    case 9: return "heartbeat";
    case 10: return "goodbye";
    default: return "unknown";
  }
}

const char* goodbye_reason_name(GoodbyeReason reason) {
  switch (reason) {
    case GoodbyeReason::kNone: return "orderly close";
    case GoodbyeReason::kShutdown: return "shutdown";
    case GoodbyeReason::kProtocolError: return "protocol error";
    case GoodbyeReason::kTimeout: return "timeout";
    case GoodbyeReason::kIncompatible: return "incompatible";
    case GoodbyeReason::kUnauthorized: return "unauthorized";
  }
  return "unknown";
}

Status check_message_type(std::uint8_t type, ErrorInfo* error) {
  if (type < static_cast<std::uint8_t>(MessageType::kHello) || type > static_cast<std::uint8_t>(MessageType::kGoodbye)) {
    return wire::report(error, Status::kBadHeaderField, 5, type, 10, "message type must be 1 to 10");
  }
  return Status::kOk;
}

// ---- hello -----------------------------------------------------------------

Status decode_hello(const std::uint8_t* body, std::size_t size, Hello* message, ErrorInfo* error) {
  Reader reader(body, size, error);
  reader.set_truncation_subject("hello");
  Hello result;
  if (!reader.u32(&result.runtime_version)) {
    return reader.status();
  }
  std::size_t at = reader.offset();
  if (!reader.u8(&result.model_kinds)) {
    return reader.status();
  }
  if (result.model_kinds == 0 || (result.model_kinds & ~kKnownBitsMask) != 0) {
    return reader.reject(at, result.model_kinds, kKnownBitsMask,
                         "hello: model kinds bitmask must set only bits 0 to 3, at least one");
  }

  at = reader.offset();
  if (!reader.u8(&result.methods)) {
    return reader.status();
  }
  if (result.methods == 0 || (result.methods & ~kKnownBitsMask) != 0) {
    return reader.reject(at, result.methods, kKnownBitsMask,
                         "hello: methods bitmask must set only bits 0 to 3, at least one");
  }
  if (!read_u32_min(&reader, kMaxFixedBodyBytes, "hello: max body size must be at least 273 bytes",
                    &result.max_body_size)) {
    return reader.status();
  }

  at = reader.offset();
  std::uint8_t id_size = 0;
  if (!reader.u8(&id_size)) {
    return reader.status();
  }
  if (id_size > kMaxDeviceIdBytes) {
    return reader.reject(at, id_size, kMaxDeviceIdBytes, "hello: device id length must be 0 to 64");
  }

  at = reader.offset();
  const std::uint8_t* id = nullptr;
  if (!reader.bytes(id_size, &id)) {
    return reader.status();
  }
  for (std::size_t i = 0; i < id_size; ++i) {
    if (!is_device_id_char(id[i])) {
      return reader.reject(at + i, id[i], 0, "hello: device id bytes must be A-Z, a-z, 0-9, '.', '_' or '-'");
    }
  }

  const Status status = reader.finish("hello");
  if (status != Status::kOk) {
    return status;
  }
  if (id_size > 0) {
    std::memcpy(result.device_id, id, id_size);
  }
  result.device_id[id_size] = '\0';
  result.device_id_size = id_size;
  *message = result;
  return Status::kOk;
}

Status encode_hello(const Hello& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                    ErrorInfo* error) {
  if (message.device_id_size > kMaxDeviceIdBytes) {
    return invalid(error, message.device_id_size, kMaxDeviceIdBytes, "hello: device id length must be 0 to 64");
  }
  Writer writer(out, capacity);
  writer.u32(message.runtime_version);
  writer.u8(message.model_kinds);
  writer.u8(message.methods);
  writer.u32(message.max_body_size);
  writer.u8(message.device_id_size);
  writer.bytes(message.device_id, message.device_id_size);
  return finish_encode<Hello>(writer, out, capacity, size, error, decode_hello);
}

// ---- check-in --------------------------------------------------------------

Status decode_check_in(const std::uint8_t* body, std::size_t size, CheckIn* message, ErrorInfo* error) {
  Reader reader(body, size, error);
  reader.set_truncation_subject("check-in");
  CheckIn result;
  if (!reader.u32(&result.available_ms)) {
    return reader.status();
  }

  const Status status = reader.finish("check-in");
  if (status == Status::kOk) {
    *message = result;
  }
  return status;
}

Status encode_check_in(const CheckIn& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                       ErrorInfo* error) {
  Writer writer(out, capacity);
  writer.u32(message.available_ms);
  return finish_encode<CheckIn>(writer, out, capacity, size, error, decode_check_in);
}

// ---- round offer -----------------------------------------------------------

Status decode_round_offer(const std::uint8_t* body, std::size_t size, RoundOffer* message, ErrorInfo* error) {
  Reader reader(body, size, error);
  reader.set_truncation_subject("round offer");
  RoundOffer result;
  const bool ok =
      reader.u32(&result.round_id) && reader.u64(&result.model_version) && read_shape(&reader, &result.shape) &&
      read_f32_min(&reader, 0.0f, true, "round offer: learning rate must be finite and > 0",
                   &result.learning_rate) &&
      reader.u32(&result.local_steps) &&
      read_u32_min(&reader, 1, "round offer: batch size must be at least 1", &result.batch_size) &&
      read_compressor(&reader, &result.compressor) && reader.u64(&result.run_seed) &&
      read_u32_min(&reader, 1, "round offer: deadline must be at least 1 ms", &result.deadline_ms) &&
      read_u32_min(&reader, 1, "round offer: model chunk count must be at least 1", &result.model_chunk_count);
  if (!ok) {
    return reader.status();
  }

  const Status status = reader.finish("round offer");
  if (status == Status::kOk) {
    *message = result;
  }
  return status;
}

Status encode_round_offer(const RoundOffer& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                          ErrorInfo* error) {
  const CompressorOffer& compressor = message.compressor;
  if (compressor.quantizer.levels > UINT8_MAX) {
    return invalid(error, compressor.quantizer.levels, kMaxLevels, "round offer: levels s must be 1 to 127");
  }
  Writer writer(out, capacity);
  writer.u32(message.round_id);
  writer.u64(message.model_version);
  writer.u8(static_cast<std::uint8_t>(message.shape.kind));
  writer.u32(message.shape.inputs);
  writer.u32(message.shape.classes);
  writer.u32(message.shape.hidden);
  writer.u8(message.shape.bias ? 1 : 0);
  writer.f32(message.learning_rate);
  writer.u32(message.local_steps);
  writer.u32(message.batch_size);
  writer.u8(static_cast<std::uint8_t>(compressor.method));
  writer.u32(compressor.quantizer.bucket_size);
  writer.u8(static_cast<std::uint8_t>(compressor.quantizer.levels));
  writer.u8(static_cast<std::uint8_t>(compressor.quantizer.norm));
  writer.u8(static_cast<std::uint8_t>(compressor.encoder));
  writer.u8(compressor.use_default_compensation ? 1 : 0);
  writer.f32(compressor.alpha);
  writer.f32(compressor.beta);
  writer.u64(message.run_seed);
  writer.u32(message.deadline_ms);
  writer.u32(message.model_chunk_count);
  return finish_encode<RoundOffer>(writer, out, capacity, size, error, decode_round_offer);
}

// ---- model chunk -----------------------------------------------------------

float model_chunk_value(const ModelChunk& chunk, std::uint32_t index) {
  return wire::load_f32(chunk.values + 4u * static_cast<std::size_t>(index));
}

Status copy_model_chunk_values(const ModelChunk& chunk, Span<float> out) {
  if (out.size() != chunk.element_count) {
    return Status::kInvalidArgument;
  }
  for (std::uint32_t i = 0; i < chunk.element_count; ++i) {
    out[i] = model_chunk_value(chunk, i);
  }
  return Status::kOk;
}

Status decode_model_chunk(const std::uint8_t* body, std::size_t size, ModelChunk* message, ErrorInfo* error) {
  Reader reader(body, size, error);
  reader.set_truncation_subject("model chunk");
  ModelChunk result;
  if (!reader.u32(&result.round_id)) {
    return reader.status();
  }

  const std::size_t index_at = reader.offset();
  if (!reader.u32(&result.chunk_index) ||
      !read_u32_min(&reader, 1, "model chunk: chunk count must be at least 1", &result.chunk_count)) {
    return reader.status();
  }
  if (result.chunk_index >= result.chunk_count) {
    return reader.reject(index_at, result.chunk_index, result.chunk_count - 1,
                         "model chunk: chunk index must be below the chunk count");
  }
  if (!reader.u32(&result.first_element)) {
    return reader.status();
  }

  const std::size_t count_at = reader.offset();
  if (!read_u32_min(&reader, 1, "model chunk: element count must be at least 1", &result.element_count)) {
    return reader.status();
  }

  const std::uint64_t end = static_cast<std::uint64_t>(result.first_element) + result.element_count;
  if (end > (std::uint64_t{1} << 32)) {
    return reader.reject(count_at, result.element_count, static_cast<double>((std::uint64_t{1} << 32) - result.first_element),
                         "model chunk: first element + element count must be at most 2^32");
  }

  const std::size_t values_at = reader.offset();
  const std::uint64_t value_bytes = 4u * static_cast<std::uint64_t>(result.element_count);
  const std::uint8_t* values = nullptr;
  if (!reader.bytes(value_bytes > SIZE_MAX ? SIZE_MAX : static_cast<std::size_t>(value_bytes), &values)) {
    return reader.status();
  }

  const Status status = reader.finish("model chunk");
  if (status != Status::kOk) {
    return status;
  }

  for (std::uint32_t i = 0; i < result.element_count; ++i) {
    const float value = wire::load_f32(values + 4u * static_cast<std::size_t>(i));
    if (!std::isfinite(value)) {
      return reader.reject_non_finite(values_at + 4u * static_cast<std::size_t>(i), static_cast<double>(value),
                                      "model chunk: values must be finite");
    }
  }
  result.values = values;
  *message = result;
  return Status::kOk;
}

Status encode_model_chunk(const ModelChunk& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                          ErrorInfo* error) {
  if (message.element_count > 0 && message.values == nullptr) {
    return invalid(error, 0, 0, "model chunk: values must not be null");
  }
  const std::uint64_t total = kModelChunkHeaderBytes + 4u * static_cast<std::uint64_t>(message.element_count);
  if (total > capacity) {
    return wire::report(error, Status::kBufferTooSmall, 0, static_cast<double>(capacity), static_cast<double>(total),
                        "message body buffer");
  }
  Writer writer(out, capacity);
  writer.u32(message.round_id);
  writer.u32(message.chunk_index);
  writer.u32(message.chunk_count);
  writer.u32(message.first_element);
  writer.u32(message.element_count);
  writer.bytes(message.values, 4u * static_cast<std::size_t>(message.element_count));
  return finish_encode<ModelChunk>(writer, out, capacity, size, error, decode_model_chunk);
}

// ---- update chunk ----------------------------------------------------------

Status decode_update_chunk(const std::uint8_t* body, std::size_t size, UpdateChunk* message, ErrorInfo* error) {
  Reader reader(body, size, error);
  reader.set_truncation_subject("update chunk");
  UpdateChunk result;
  if (!reader.u32(&result.round_id) || !reader.u64(&result.update_id) ||
      !read_u32_min(&reader, 1, "update chunk: samples used must be at least 1", &result.samples_used)) {
    return reader.status();
  }

  const std::size_t index_at = reader.offset();
  if (!reader.u16(&result.chunk_index)) {
    return reader.status();
  }

  const std::size_t count_at = reader.offset();
  if (!reader.u16(&result.chunk_count)) {
    return reader.status();
  }
  if (result.chunk_count < 1) {
    return reader.reject(count_at, 0, 1, "update chunk: chunk count must be at least 1");
  }
  if (result.chunk_index >= result.chunk_count) {
    return reader.reject(index_at, result.chunk_index, result.chunk_count - 1,
                         "update chunk: chunk index must be below the chunk count");
  }
  if (!read_u32_min(&reader, kMinPayloadBytes, "update chunk: payload size must be at least 24 bytes",
                    &result.payload_size)) {
    return reader.status();
  }

  const std::size_t bytes_at = reader.offset();
  const std::size_t chunk_size = size - bytes_at;
  if (chunk_size < 1 || chunk_size > result.payload_size) {
    return reader.reject(bytes_at, static_cast<double>(chunk_size), chunk_size < 1 ? 1 : result.payload_size,
                         "update chunk: chunk bytes must be 1 to the payload size");
  }
  if (!reader.bytes(chunk_size, &result.bytes)) {
    return reader.status();
  }
  result.size = static_cast<std::uint32_t>(chunk_size);
  *message = result;
  return Status::kOk;
}

Status encode_update_chunk(const UpdateChunk& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                           ErrorInfo* error) {
  if (message.size > 0 && message.bytes == nullptr) {
    return invalid(error, 0, 0, "update chunk: bytes must not be null");
  }
  Writer writer(out, capacity);
  writer.u32(message.round_id);
  writer.u64(message.update_id);
  writer.u32(message.samples_used);
  writer.u16(message.chunk_index);
  writer.u16(message.chunk_count);
  writer.u32(message.payload_size);
  writer.bytes(message.bytes, message.size);
  return finish_encode<UpdateChunk>(writer, out, capacity, size, error, decode_update_chunk);
}

// ---- verdict ---------------------------------------------------------------

Status decode_verdict(const std::uint8_t* body, std::size_t size, Verdict* message, ErrorInfo* error) {
  Reader reader(body, size, error);
  reader.set_truncation_subject("verdict");
  Verdict result;
  if (!reader.u32(&result.round_id) || !reader.u64(&result.update_id) ||
      !read_flag(&reader, "verdict: applied must be 0 or 1", &result.applied)) {
    return reader.status();
  }

  const std::size_t reason_at = reader.offset();
  std::uint16_t reason = 0;
  if (!reader.u16(&reason)) {
    return reader.status();
  }
  if (reason > static_cast<std::uint16_t>(VerdictReason::kInternal)) {
    return reader.reject(reason_at, reason, 7, "verdict: reason code must be 0 to 7");
  }
  if (result.applied && reason != 0) {
    return reader.reject(reason_at, reason, 0, "verdict: reason code must be 0 when applied");
  }
  if (!result.applied && reason == 0) {
    return reader.reject(reason_at, reason, 1, "verdict: reason code must be 1 to 7 when not applied");
  }

  result.reason = static_cast<VerdictReason>(reason);

  if (!read_text(&reader, "verdict: text length must be 0 to 256", "verdict: text must be valid UTF-8",
                 &result.text, &result.text_size)) {
    return reader.status();
  }

  const Status status = reader.finish("verdict");
  if (status == Status::kOk) {
    *message = result;
  }
  return status;
}

Status encode_verdict(const Verdict& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                      ErrorInfo* error) {
  if (message.text_size > 0 && message.text == nullptr) {
    return invalid(error, 0, 0, "verdict: text must not be null");
  }
  Writer writer(out, capacity);
  writer.u32(message.round_id);
  writer.u64(message.update_id);
  writer.u8(message.applied ? 1 : 0);
  writer.u16(static_cast<std::uint16_t>(message.reason));
  writer.u16(message.text_size);
  writer.bytes(message.text, message.text_size);
  return finish_encode<Verdict>(writer, out, capacity, size, error, decode_verdict);
}

// ---- status query and answer -----------------------------------------------

Status decode_status_query(const std::uint8_t* body, std::size_t size, StatusQuery* message, ErrorInfo* error) {
  Reader reader(body, size, error);
  reader.set_truncation_subject("status query");
  StatusQuery result;
  if (!reader.u32(&result.round_id) || !reader.u64(&result.update_id)) {
    return reader.status();
  }

  const Status status = reader.finish("status query");
  if (status == Status::kOk) {
    *message = result;
  }
  return status;
}

Status encode_status_query(const StatusQuery& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                           ErrorInfo* error) {
  Writer writer(out, capacity);
  writer.u32(message.round_id);
  writer.u64(message.update_id);
  return finish_encode<StatusQuery>(writer, out, capacity, size, error, decode_status_query);
}

Status decode_status_answer(const std::uint8_t* body, std::size_t size, StatusAnswer* message, ErrorInfo* error) {
  Reader reader(body, size, error);
  reader.set_truncation_subject("status answer");
  StatusAnswer result;
  if (!reader.u32(&result.round_id) || !reader.u64(&result.update_id)) {
    return reader.status();
  }

  const std::size_t state_at = reader.offset();
  std::uint8_t state = 0;
  if (!reader.u8(&state)) {
    return reader.status();
  }
  if (state > static_cast<std::uint8_t>(UpdateState::kPending)) {
    return reader.reject(state_at, state, 2, "status answer: state must be 0 to 2");
  }
  result.state = static_cast<UpdateState>(state);

  const Status status = reader.finish("status answer");
  if (status == Status::kOk) {
    *message = result;
  }
  return status;
}

Status encode_status_answer(const StatusAnswer& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                            ErrorInfo* error) {
  Writer writer(out, capacity);
  writer.u32(message.round_id);
  writer.u64(message.update_id);
  writer.u8(static_cast<std::uint8_t>(message.state));
  return finish_encode<StatusAnswer>(writer, out, capacity, size, error, decode_status_answer);
}

// ---- heartbeat -------------------------------------------------------------

Status decode_heartbeat(const std::uint8_t* body, std::size_t size, Heartbeat* message, ErrorInfo* error) {
  Reader reader(body, size, error);
  reader.set_truncation_subject("heartbeat");
  Heartbeat result;
  if (!reader.u64(&result.monotonic_ms)) {
    return reader.status();
  }

  const Status status = reader.finish("heartbeat");
  if (status == Status::kOk) {
    *message = result;
  }
  return status;
}

Status encode_heartbeat(const Heartbeat& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                        ErrorInfo* error) {
  Writer writer(out, capacity);
  writer.u64(message.monotonic_ms);
  return finish_encode<Heartbeat>(writer, out, capacity, size, error, decode_heartbeat);
}

// ---- goodbye ---------------------------------------------------------------

Status decode_goodbye(const std::uint8_t* body, std::size_t size, Goodbye* message, ErrorInfo* error) {
  Reader reader(body, size, error);
  reader.set_truncation_subject("goodbye");
  Goodbye result;

  const std::size_t reason_at = reader.offset();
  std::uint16_t reason = 0;
  if (!reader.u16(&reason)) {
    return reader.status();
  }
  if (reason > static_cast<std::uint16_t>(GoodbyeReason::kUnauthorized)) {
    return reader.reject(reason_at, reason, 5, "goodbye: reason code must be 0 to 5");
  }

  result.reason = static_cast<GoodbyeReason>(reason);

  if (!read_text(&reader, "goodbye: text length must be 0 to 256", "goodbye: text must be valid UTF-8",
                 &result.text, &result.text_size)) {
    return reader.status();
  }

  const Status status = reader.finish("goodbye");
  if (status == Status::kOk) {
    *message = result;
  }
  return status;
}

Status encode_goodbye(const Goodbye& message, std::uint8_t* out, std::size_t capacity, std::size_t* size,
                      ErrorInfo* error) {
  if (message.text_size > 0 && message.text == nullptr) {
    return invalid(error, 0, 0, "goodbye: text must not be null");
  }
  Writer writer(out, capacity);
  writer.u16(static_cast<std::uint16_t>(message.reason));
  writer.u16(message.text_size);
  writer.bytes(message.text, message.text_size);
  return finish_encode<Goodbye>(writer, out, capacity, size, error, decode_goodbye);
}

}  // namespace ecq::protocol
