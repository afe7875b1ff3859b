#include "ecq/protocol/messages.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace ecq::protocol {
namespace {

using Bytes = std::vector<std::uint8_t>;

template <typename Message, typename Encode>
Bytes encode(const Message& message, Encode encode_function) {
  Bytes out(4096);
  std::size_t size = 0;
  ErrorInfo error;
  const Status status = encode_function(message, out.data(), out.size(), &size, &error);
  const std::string subject = error.subject != nullptr ? error.subject : "";
  INFO(subject);
  REQUIRE(status == Status::kOk);
  out.resize(size);
  return out;
}

void put_u32(Bytes* body, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    (*body)[offset + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

void put_u16(Bytes* body, std::size_t offset, std::uint16_t value) {
  (*body)[offset] = static_cast<std::uint8_t>(value);
  (*body)[offset + 1] = static_cast<std::uint8_t>(value >> 8);
}

void put_f32(Bytes* body, std::size_t offset, float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, 4);
  put_u32(body, offset, bits);
}

// One invalid field: the patch to apply to a valid body and what the decoder
// must report.
struct Mutation {
  const char* name;
  std::size_t offset;
  int width;  // 1, 2 or 4 bytes; 0 writes an f32
  double value;
  Status status;
  const char* subject;
  // Where the decoder reports the error, when that is not `offset`: a check
  // that spans several fields reports the first of them.
  long long position = -1;
};

void patch(Bytes* body, const Mutation& mutation) {
  switch (mutation.width) {
    case 0: put_f32(body, mutation.offset, static_cast<float>(mutation.value)); break;
    case 1: (*body)[mutation.offset] = static_cast<std::uint8_t>(mutation.value); break;
    case 2: put_u16(body, mutation.offset, static_cast<std::uint16_t>(mutation.value)); break;
    default: put_u32(body, mutation.offset, static_cast<std::uint32_t>(mutation.value)); break;
  }
}

template <typename Message, typename Decode>
void check_rejections(const Bytes& valid, const std::vector<Mutation>& mutations, Decode decode_function) {
  for (const Mutation& mutation : mutations) {
    const std::string name = mutation.name;
    CAPTURE(name);
    Bytes body = valid;
    patch(&body, mutation);
    Message message;
    ErrorInfo error;
    CHECK(decode_function(body.data(), body.size(), &message, &error) == mutation.status);
    const std::uint64_t position =
        mutation.position >= 0 ? static_cast<std::uint64_t>(mutation.position) : mutation.offset;
    CHECK(error.position == position);
    REQUIRE(error.subject != nullptr);
    CHECK(std::string(error.subject) == mutation.subject);
  }
}

// Every prefix of a valid body is rejected as truncated, and one extra byte
// as trailing.
template <typename Message, typename Decode>
void check_truncation(const Bytes& valid, Decode decode_function, bool open_ended = false) {
  for (std::size_t size = 0; size < valid.size(); ++size) {
    CAPTURE(size);
    Message message;
    ErrorInfo error;
    const Status status = decode_function(valid.data(), size, &message, &error);
    if (open_ended && size > kUpdateChunkHeaderBytes) {
      // An update chunk's bytes run to the end of the body, so a shorter
      // body is a shorter chunk.
      CHECK(status == Status::kOk);
    } else {
      CHECK(status != Status::kOk);
    }
  }
  if (!open_ended) {
    Bytes longer = valid;
    longer.push_back(0);
    Message message;
    ErrorInfo error;
    CHECK(decode_function(longer.data(), longer.size(), &message, &error) == Status::kTrailingBytes);
    CHECK(error.found == static_cast<double>(longer.size()));
    CHECK(error.limit == static_cast<double>(valid.size()));
  }
}

TEST_CASE("message type check") {
  CHECK(check_message_type(1) == Status::kOk);
  CHECK(check_message_type(10) == Status::kOk);
  ErrorInfo error;
  CHECK(check_message_type(0, &error) == Status::kBadHeaderField);
  CHECK(check_message_type(11) == Status::kBadHeaderField);
  CHECK(check_message_type(255) == Status::kBadHeaderField);
  CHECK(std::string(message_type_name(3)) == "round offer");
  CHECK(std::string(message_type_name(0)) == "unknown");
}

Hello sample_hello() {
  Hello hello;
  hello.runtime_version = pack_version(1, 2, 3);
  hello.model_kinds = model_kind_bit(ModelKind::kLinear) | model_kind_bit(ModelKind::kMlp);
  hello.methods = method_bit(Method::kEcq);
  hello.max_body_size = 65536;
  std::strcpy(hello.device_id, "dev-01.a_Z");
  hello.device_id_size = 10;
  return hello;
}

TEST_CASE("hello round trip") {
  const Bytes body = encode(sample_hello(), encode_hello);
  CHECK(body.size() == 4 + 1 + 1 + 4 + 1 + 10);
  Hello decoded;
  REQUIRE(decode_hello(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.runtime_version == 0x010203u);
  CHECK(decoded.model_kinds == 0x09);
  CHECK(decoded.methods == 0x08);
  CHECK(decoded.max_body_size == 65536u);
  CHECK(decoded.device_id_size == 10);
  CHECK(std::string(decoded.device_id) == "dev-01.a_Z");
}

TEST_CASE("hello edge values") {
  Hello hello;
  hello.runtime_version = UINT32_MAX;
  hello.model_kinds = 0x0F;
  hello.methods = 0x01;
  hello.max_body_size = static_cast<std::uint32_t>(kMaxFixedBodyBytes);
  hello.device_id_size = 0;
  Hello decoded;
  Bytes body = encode(hello, encode_hello);
  REQUIRE(decode_hello(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.device_id_size == 0);
  CHECK(decoded.device_id[0] == '\0');

  std::memset(hello.device_id, 'x', kMaxDeviceIdBytes);
  hello.device_id_size = kMaxDeviceIdBytes;
  hello.max_body_size = UINT32_MAX;
  body = encode(hello, encode_hello);
  REQUIRE(decode_hello(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.device_id_size == kMaxDeviceIdBytes);
  CHECK(std::strlen(decoded.device_id) == kMaxDeviceIdBytes);
  CHECK(decoded.max_body_size == UINT32_MAX);
}

TEST_CASE("hello invalid fields") {
  const Bytes valid = encode(sample_hello(), encode_hello);
  const char* kinds = "hello: model kinds bitmask must set only bits 0 to 3, at least one";
  const char* methods = "hello: methods bitmask must set only bits 0 to 3, at least one";
  const char* charset = "hello: device id bytes must be A-Z, a-z, 0-9, '.', '_' or '-'";
  check_rejections<Hello>(valid,
                          {
                              {"kinds zero", 4, 1, 0, Status::kBadHeaderField, kinds},
                              {"kinds bit 4", 4, 1, 0x11, Status::kBadHeaderField, kinds},
                              {"methods zero", 5, 1, 0, Status::kBadHeaderField, methods},
                              {"methods bit 7", 5, 1, 0x88, Status::kBadHeaderField, methods},
                              {"max body small", 6, 4, 272, Status::kBadHeaderField,
                               "hello: max body size must be at least 273 bytes"},
                              {"id length", 10, 1, 65, Status::kBadHeaderField,
                               "hello: device id length must be 0 to 64"},
                              {"id space", 11, 1, ' ', Status::kBadHeaderField, charset},
                              {"id slash", 20, 1, '/', Status::kBadHeaderField, charset},
                              {"id high byte", 15, 1, 0xC3, Status::kBadHeaderField, charset},
                          },
                          decode_hello);
}

TEST_CASE("hello encode rejects invalid") {
  Hello hello = sample_hello();
  hello.methods = 0x10;
  Bytes out(256);
  std::size_t size = 0;
  ErrorInfo error;
  CHECK(encode_hello(hello, out.data(), out.size(), &size, &error) == Status::kInvalidArgument);
  CHECK(std::string(error.subject) == "hello: methods bitmask must set only bits 0 to 3, at least one");
  hello = sample_hello();
  hello.device_id_size = 65;
  CHECK(encode_hello(hello, out.data(), out.size(), &size, &error) == Status::kInvalidArgument);
}

TEST_CASE("hello truncated") { check_truncation<Hello>(encode(sample_hello(), encode_hello), decode_hello); }

TEST_CASE("encode small buffer") {
  Bytes out(20);
  std::size_t size = 0;
  ErrorInfo error;
  CHECK(encode_hello(sample_hello(), out.data(), out.size(), &size, &error) == Status::kBufferTooSmall);
  CHECK(error.found == 20.0);
  CHECK(error.limit == 21.0);
}

TEST_CASE("check-in round trip") {
  for (std::uint32_t value : {0u, 1u, UINT32_MAX}) {
    CheckIn check_in;
    check_in.available_ms = value;
    const Bytes body = encode(check_in, encode_check_in);
    CHECK(body.size() == 4);
    CheckIn decoded;
    REQUIRE(decode_check_in(body.data(), body.size(), &decoded) == Status::kOk);
    CHECK(decoded.available_ms == value);
  }
}

TEST_CASE("check-in truncated") {
  check_truncation<CheckIn>(encode(CheckIn{}, encode_check_in), decode_check_in);
}

RoundOffer sample_offer() {
  RoundOffer offer;
  offer.round_id = 7;
  offer.model_version = 0x0102030405060708ull;
  offer.shape.kind = ModelKind::kMlp;
  offer.shape.inputs = 784;
  offer.shape.classes = 10;
  offer.shape.hidden = 64;
  offer.shape.bias = true;
  offer.learning_rate = 0.05f;
  offer.local_steps = 5;
  offer.batch_size = 32;
  offer.compressor.method = Method::kEcq;
  offer.compressor.quantizer.bucket_size = 512;
  offer.compressor.quantizer.levels = 4;
  offer.compressor.quantizer.norm = NormKind::kLinf;
  offer.compressor.encoder = EncoderChoice::kEntropy;
  offer.compressor.use_default_compensation = false;
  offer.compressor.alpha = 0.25f;
  offer.compressor.beta = 0.9f;
  offer.run_seed = 0xFEDCBA9876543210ull;
  offer.deadline_ms = 30000;
  offer.model_chunk_count = 3;
  return offer;
}

TEST_CASE("round offer round trip") {
  const RoundOffer offer = sample_offer();
  const Bytes body = encode(offer, encode_round_offer);
  CHECK(body.size() == 71);
  RoundOffer decoded;
  REQUIRE(decode_round_offer(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.round_id == 7u);
  CHECK(decoded.model_version == offer.model_version);
  CHECK(decoded.shape.kind == ModelKind::kMlp);
  CHECK(decoded.shape.inputs == 784u);
  CHECK(decoded.shape.classes == 10u);
  CHECK(decoded.shape.hidden == 64u);
  CHECK(decoded.shape.bias);
  CHECK(decoded.learning_rate == 0.05f);
  CHECK(decoded.local_steps == 5u);
  CHECK(decoded.batch_size == 32u);
  CHECK(decoded.compressor.method == Method::kEcq);
  CHECK(decoded.compressor.quantizer.bucket_size == 512u);
  CHECK(decoded.compressor.quantizer.levels == 4u);
  CHECK(decoded.compressor.quantizer.norm == NormKind::kLinf);
  CHECK(decoded.compressor.encoder == EncoderChoice::kEntropy);
  CHECK_FALSE(decoded.compressor.use_default_compensation);
  CHECK(decoded.compressor.alpha == 0.25f);
  CHECK(decoded.compressor.beta == 0.9f);
  CHECK(decoded.run_seed == offer.run_seed);
  CHECK(decoded.deadline_ms == 30000u);
  CHECK(decoded.model_chunk_count == 3u);
}

TEST_CASE("round offer edge values") {
  RoundOffer offer = sample_offer();
  offer.shape.kind = ModelKind::kLinear;
  offer.shape.inputs = 1;
  offer.shape.classes = 0;
  offer.shape.hidden = 0;
  offer.shape.bias = false;
  offer.learning_rate = std::numeric_limits<float>::denorm_min();
  offer.local_steps = 0;
  offer.batch_size = 1;
  offer.compressor.quantizer.levels = 127;
  offer.compressor.quantizer.bucket_size = 1;
  offer.compressor.alpha = 0.0f;
  offer.compressor.beta = std::numeric_limits<float>::max();
  offer.deadline_ms = 1;
  offer.model_chunk_count = 1;
  Bytes body = encode(offer, encode_round_offer);
  RoundOffer decoded;
  REQUIRE(decode_round_offer(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.shape.classes == 0u);
  CHECK(decoded.learning_rate == std::numeric_limits<float>::denorm_min());
  CHECK(decoded.compressor.quantizer.levels == 127u);
  CHECK(decoded.compressor.beta == std::numeric_limits<float>::max());

  // fp32 ignores the quantizer fields, so zeros are accepted.
  offer.compressor.method = Method::kFp32;
  offer.compressor.quantizer.levels = 0;
  offer.compressor.quantizer.bucket_size = 0;
  body = encode(offer, encode_round_offer);
  REQUIRE(decode_round_offer(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.compressor.method == Method::kFp32);
}

TEST_CASE("round offer invalid fields") {
  const Bytes valid = encode(sample_offer(), encode_round_offer);
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  check_rejections<RoundOffer>(
      valid,
      {
          {"kind", 12, 1, 4, Status::kBadHeaderField, "round offer: model kind must be 0 to 3"},
          {"inputs", 13, 4, 0, Status::kBadHeaderField, "round offer: model inputs must be at least 1"},
          {"classes", 17, 4, 1, Status::kBadHeaderField,
           "round offer: model classes must be at least 2 for softmax and mlp"},
          {"hidden", 21, 4, 0, Status::kBadHeaderField, "round offer: model hidden units must be at least 1 for mlp"},
          {"parameter count", 21, 4, 0x10000000, Status::kBadHeaderField,
           "round offer: model parameter count must fit in 32 bits", 12},
          {"bias", 25, 1, 2, Status::kBadHeaderField, "round offer: model bias must be 0 or 1"},
          {"learning rate zero", 26, 0, 0.0, Status::kBadHeaderField,
           "round offer: learning rate must be finite and > 0"},
          {"learning rate negative", 26, 0, -0.5, Status::kBadHeaderField,
           "round offer: learning rate must be finite and > 0"},
          {"learning rate inf", 26, 0, static_cast<double>(inf), Status::kNonFiniteInput,
           "round offer: learning rate must be finite and > 0"},
          {"learning rate nan", 26, 0, static_cast<double>(nan), Status::kNonFiniteInput,
           "round offer: learning rate must be finite and > 0"},
          {"batch size", 34, 4, 0, Status::kBadHeaderField, "round offer: batch size must be at least 1"},
          {"method", 38, 1, 4, Status::kBadHeaderField, "round offer: compressor method must be 0 to 3"},
          {"bucket size", 39, 4, 0, Status::kBadHeaderField, "round offer: bucket size must be at least 1"},
          {"levels zero", 43, 1, 0, Status::kBadHeaderField, "round offer: levels s must be 1 to 127"},
          {"levels 128", 43, 1, 128, Status::kBadHeaderField, "round offer: levels s must be 1 to 127"},
          {"norm", 44, 1, 2, Status::kBadHeaderField, "round offer: norm must be 0 (l2) or 1 (l-infinity)"},
          {"encoder", 45, 1, 3, Status::kBadHeaderField, "round offer: encoder must be 0 to 2"},
          {"default compensation", 46, 1, 2, Status::kBadHeaderField,
           "round offer: use default compensation must be 0 or 1"},
          {"alpha negative", 47, 0, -0.1, Status::kBadHeaderField, "round offer: alpha must be finite and >= 0"},
          {"alpha nan", 47, 0, static_cast<double>(nan), Status::kNonFiniteInput,
           "round offer: alpha must be finite and >= 0"},
          {"beta inf", 51, 0, static_cast<double>(-inf), Status::kNonFiniteInput,
           "round offer: beta must be finite and >= 0"},
          {"deadline", 63, 4, 0, Status::kBadHeaderField, "round offer: deadline must be at least 1 ms"},
          {"chunk count", 67, 4, 0, Status::kBadHeaderField, "round offer: model chunk count must be at least 1"},
      },
      decode_round_offer);
}

TEST_CASE("round offer encode rejects levels") {
  RoundOffer offer = sample_offer();
  offer.compressor.quantizer.levels = 300;
  Bytes out(128);
  std::size_t size = 0;
  ErrorInfo error;
  CHECK(encode_round_offer(offer, out.data(), out.size(), &size, &error) == Status::kInvalidArgument);
  offer.compressor.quantizer.levels = 128;
  CHECK(encode_round_offer(offer, out.data(), out.size(), &size, &error) == Status::kInvalidArgument);
  CHECK(std::string(error.subject) == "round offer: levels s must be 1 to 127");
}

TEST_CASE("round offer truncated") {
  check_truncation<RoundOffer>(encode(sample_offer(), encode_round_offer), decode_round_offer);
}

std::vector<float> sample_values() { return {0.0f, -1.5f, 3.25e-30f, std::numeric_limits<float>::max(), -0.0f}; }

ModelChunk sample_chunk(const std::vector<float>& values) {
  ModelChunk chunk;
  chunk.round_id = 9;
  chunk.chunk_index = 1;
  chunk.chunk_count = 2;
  chunk.first_element = 100;
  chunk.element_count = static_cast<std::uint32_t>(values.size());
  chunk.values = reinterpret_cast<const std::uint8_t*>(values.data());
  return chunk;
}

TEST_CASE("model chunk round trip") {
  const std::vector<float> values = sample_values();
  const Bytes body = encode(sample_chunk(values), encode_model_chunk);
  CHECK(body.size() == kModelChunkHeaderBytes + 4 * values.size());
  ModelChunk decoded;
  REQUIRE(decode_model_chunk(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.round_id == 9u);
  CHECK(decoded.chunk_index == 1u);
  CHECK(decoded.chunk_count == 2u);
  CHECK(decoded.first_element == 100u);
  CHECK(decoded.element_count == 5u);
  CHECK(decoded.values == body.data() + kModelChunkHeaderBytes);
  std::vector<float> copied(values.size());
  REQUIRE(copy_model_chunk_values(decoded, Span<float>(copied.data(), copied.size())) == Status::kOk);
  for (std::size_t i = 0; i < values.size(); ++i) {
    CAPTURE(i);
    CHECK(std::memcmp(&copied[i], &values[i], 4) == 0);
  }
  CHECK(model_chunk_value(decoded, 1) == -1.5f);
  CHECK(copy_model_chunk_values(decoded, Span<float>(copied.data(), 4)) == Status::kInvalidArgument);
}

TEST_CASE("model chunk last element") {
  const std::vector<float> values = {1.0f};
  ModelChunk chunk = sample_chunk(values);
  chunk.first_element = UINT32_MAX;
  const Bytes body = encode(chunk, encode_model_chunk);
  ModelChunk decoded;
  CHECK(decode_model_chunk(body.data(), body.size(), &decoded) == Status::kOk);
}

TEST_CASE("model chunk invalid fields") {
  const std::vector<float> values = sample_values();
  const Bytes valid = encode(sample_chunk(values), encode_model_chunk);
  check_rejections<ModelChunk>(
      valid,
      {
          {"chunk index", 4, 4, 2, Status::kBadHeaderField, "model chunk: chunk index must be below the chunk count"},
          {"chunk count", 8, 4, 0, Status::kBadHeaderField, "model chunk: chunk count must be at least 1"},
          {"end above 2^32", 12, 4, UINT32_MAX - 3, Status::kBadHeaderField,
           "model chunk: first element + element count must be at most 2^32", 16},
          {"value nan", 20 + 8, 0, std::nan(""), Status::kNonFiniteInput, "model chunk: values must be finite"},
          {"value inf", 20 + 16, 0, static_cast<double>(std::numeric_limits<float>::infinity()),
           Status::kNonFiniteInput, "model chunk: values must be finite"},
      },
      decode_model_chunk);
}

TEST_CASE("model chunk zero elements") {
  const std::vector<float> values = sample_values();
  Bytes body = encode(sample_chunk(values), encode_model_chunk);
  put_u32(&body, 16, 0);
  body.resize(kModelChunkHeaderBytes);
  ModelChunk decoded;
  ErrorInfo error;
  CHECK(decode_model_chunk(body.data(), body.size(), &decoded, &error) == Status::kBadHeaderField);
  CHECK(error.position == 16);
}

TEST_CASE("model chunk huge count truncated") {
  const std::vector<float> values = sample_values();
  Bytes body = encode(sample_chunk(values), encode_model_chunk);
  put_u32(&body, 12, 0);
  put_u32(&body, 16, UINT32_MAX);
  ModelChunk decoded;
  CHECK(decode_model_chunk(body.data(), body.size(), &decoded) == Status::kTruncatedPayload);
}

TEST_CASE("model chunk encode rejects nan") {
  std::vector<float> values = sample_values();
  values[2] = std::nanf("");
  Bytes out(256);
  std::size_t size = 0;
  ErrorInfo error;
  CHECK(encode_model_chunk(sample_chunk(values), out.data(), out.size(), &size, &error) == Status::kInvalidArgument);
  CHECK(std::string(error.subject) == "model chunk: values must be finite");
}

TEST_CASE("model chunk truncated") {
  const std::vector<float> values = sample_values();
  check_truncation<ModelChunk>(encode(sample_chunk(values), encode_model_chunk), decode_model_chunk);
}

UpdateChunk sample_update(const Bytes& bytes) {
  UpdateChunk chunk;
  chunk.round_id = 4;
  chunk.update_id = 0xAABBCCDDEEFF0011ull;
  chunk.samples_used = 640;
  chunk.chunk_index = 2;
  chunk.chunk_count = 3;
  chunk.payload_size = 100;
  chunk.bytes = bytes.data();
  chunk.size = static_cast<std::uint32_t>(bytes.size());
  return chunk;
}

TEST_CASE("update chunk round trip") {
  const Bytes payload_piece = {1, 2, 3, 4, 5, 6, 7};
  const Bytes body = encode(sample_update(payload_piece), encode_update_chunk);
  CHECK(body.size() == kUpdateChunkHeaderBytes + payload_piece.size());
  UpdateChunk decoded;
  REQUIRE(decode_update_chunk(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.round_id == 4u);
  CHECK(decoded.update_id == 0xAABBCCDDEEFF0011ull);
  CHECK(decoded.samples_used == 640u);
  CHECK(decoded.chunk_index == 2);
  CHECK(decoded.chunk_count == 3);
  CHECK(decoded.payload_size == 100u);
  CHECK(decoded.size == payload_piece.size());
  CHECK(Bytes(decoded.bytes, decoded.bytes + decoded.size) == payload_piece);
}

TEST_CASE("update chunk edge values") {
  const Bytes payload(24, 0x5A);
  UpdateChunk chunk = sample_update(payload);
  chunk.chunk_index = 65534;
  chunk.chunk_count = 65535;
  chunk.payload_size = 24;
  chunk.samples_used = 1;
  const Bytes body = encode(chunk, encode_update_chunk);
  UpdateChunk decoded;
  REQUIRE(decode_update_chunk(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.chunk_count == 65535);
  CHECK(decoded.size == 24u);
}

TEST_CASE("update chunk invalid fields") {
  const Bytes payload_piece = {1, 2, 3, 4, 5, 6, 7};
  const Bytes valid = encode(sample_update(payload_piece), encode_update_chunk);
  check_rejections<UpdateChunk>(
      valid,
      {
          {"samples", 12, 4, 0, Status::kBadHeaderField, "update chunk: samples used must be at least 1"},
          {"chunk index", 16, 2, 3, Status::kBadHeaderField, "update chunk: chunk index must be below the chunk count"},
          {"chunk count", 18, 2, 0, Status::kBadHeaderField, "update chunk: chunk count must be at least 1"},
          {"payload size", 20, 4, 23, Status::kBadHeaderField, "update chunk: payload size must be at least 24 bytes"},
      },
      decode_update_chunk);
}

TEST_CASE("update chunk larger than payload") {
  const Bytes payload_piece(30, 1);
  UpdateChunk chunk = sample_update(payload_piece);
  chunk.payload_size = 30;
  Bytes body = encode(chunk, encode_update_chunk);
  put_u32(&body, 20, 29);
  UpdateChunk decoded;
  ErrorInfo error;
  CHECK(decode_update_chunk(body.data(), body.size(), &decoded, &error) == Status::kBadHeaderField);
  CHECK(error.position == kUpdateChunkHeaderBytes);
}

TEST_CASE("update chunk empty rejected") {
  const Bytes payload_piece = {1};
  Bytes body = encode(sample_update(payload_piece), encode_update_chunk);
  body.pop_back();
  UpdateChunk decoded;
  ErrorInfo error;
  CHECK(decode_update_chunk(body.data(), body.size(), &decoded, &error) == Status::kBadHeaderField);
  CHECK(std::string(error.subject) == "update chunk: chunk bytes must be 1 to the payload size");
}

TEST_CASE("update chunk truncated") {
  const Bytes payload_piece = {1, 2, 3};
  check_truncation<UpdateChunk>(encode(sample_update(payload_piece), encode_update_chunk), decode_update_chunk,
                                true);
}

Verdict sample_verdict(const std::string& text) {
  Verdict verdict;
  verdict.round_id = 3;
  verdict.update_id = 77;
  verdict.applied = false;
  verdict.reason = VerdictReason::kNormBoundRejected;
  verdict.text = text.data();
  verdict.text_size = static_cast<std::uint16_t>(text.size());
  return verdict;
}

TEST_CASE("verdict round trip") {
  const std::string text = "norm 12.5 above bound 10 \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  const Bytes body = encode(sample_verdict(text), encode_verdict);
  CHECK(body.size() == 4 + 8 + 1 + 2 + 2 + text.size());
  Verdict decoded;
  REQUIRE(decode_verdict(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.round_id == 3u);
  CHECK(decoded.update_id == 77u);
  CHECK_FALSE(decoded.applied);
  CHECK(decoded.reason == VerdictReason::kNormBoundRejected);
  CHECK(std::string(decoded.text, decoded.text_size) == text);
}

TEST_CASE("verdict edge values") {
  Verdict verdict = sample_verdict("");
  verdict.applied = true;
  verdict.reason = VerdictReason::kNone;
  Bytes body = encode(verdict, encode_verdict);
  Verdict decoded;
  REQUIRE(decode_verdict(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.applied);
  CHECK(decoded.text_size == 0);

  const std::string longest(kMaxTextBytes, 'a');
  verdict = sample_verdict(longest);
  verdict.reason = VerdictReason::kInternal;
  body = encode(verdict, encode_verdict);
  CHECK(body.size() == kMaxFixedBodyBytes);
  REQUIRE(decode_verdict(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.text_size == kMaxTextBytes);
}

TEST_CASE("verdict invalid fields") {
  const Bytes valid = encode(sample_verdict("abcdef"), encode_verdict);
  const char* utf8 = "verdict: text must be valid UTF-8";
  check_rejections<Verdict>(
      valid,
      {
          {"applied", 12, 1, 2, Status::kBadHeaderField, "verdict: applied must be 0 or 1"},
          {"reason", 13, 2, 8, Status::kBadHeaderField, "verdict: reason code must be 0 to 7"},
          {"reason none", 13, 2, 0, Status::kBadHeaderField, "verdict: reason code must be 1 to 7 when not applied"},
          {"text length", 15, 2, 257, Status::kBadHeaderField, "verdict: text length must be 0 to 256"},
          {"continuation lead", 17, 1, 0x80, Status::kBadHeaderField, utf8},
          {"overlong", 18, 1, 0xC0, Status::kBadHeaderField, utf8},
          {"invalid byte", 19, 1, 0xFF, Status::kBadHeaderField, utf8},
          {"cut sequence", 22, 1, 0xE2, Status::kBadHeaderField, utf8},
      },
      decode_verdict);

  Bytes body = valid;
  body[12] = 1;
  Verdict decoded;
  ErrorInfo error;
  CHECK(decode_verdict(body.data(), body.size(), &decoded, &error) == Status::kBadHeaderField);
  CHECK(std::string(error.subject) == "verdict: reason code must be 0 when applied");
}

TEST_CASE("utf8 surrogate rejected") {
  const std::string surrogate = "\xED\xA0\x80";
  const std::string above_max = "\xF4\x90\x80\x80";
  const std::string overlong_three = "\xE0\x80\x80";
  for (const std::string& text : {surrogate, above_max, overlong_three}) {
    Bytes out(64);
    std::size_t size = 0;
    ErrorInfo error;
    CHECK(encode_verdict(sample_verdict(text), out.data(), out.size(), &size, &error) == Status::kInvalidArgument);
  }
}

TEST_CASE("verdict truncated") {
  check_truncation<Verdict>(encode(sample_verdict("abc"), encode_verdict), decode_verdict);
}

TEST_CASE("status query round trip") {
  StatusQuery query;
  query.round_id = UINT32_MAX;
  query.update_id = UINT64_MAX;
  const Bytes body = encode(query, encode_status_query);
  CHECK(body.size() == 12);
  StatusQuery decoded;
  REQUIRE(decode_status_query(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.round_id == UINT32_MAX);
  CHECK(decoded.update_id == UINT64_MAX);
  check_truncation<StatusQuery>(body, decode_status_query);
}

TEST_CASE("status answer round trip") {
  for (UpdateState state : {UpdateState::kApplied, UpdateState::kNotApplied, UpdateState::kPending}) {
    StatusAnswer answer;
    answer.round_id = 1;
    answer.update_id = 2;
    answer.state = state;
    const Bytes body = encode(answer, encode_status_answer);
    CHECK(body.size() == 13);
    StatusAnswer decoded;
    REQUIRE(decode_status_answer(body.data(), body.size(), &decoded) == Status::kOk);
    CHECK(decoded.state == state);
    CHECK(decoded.update_id == 2u);
  }
}

TEST_CASE("status answer invalid state") {
  const Bytes valid = encode(StatusAnswer{}, encode_status_answer);
  check_rejections<StatusAnswer>(
      valid, {{"state", 12, 1, 3, Status::kBadHeaderField, "status answer: state must be 0 to 2"}},
      decode_status_answer);
  check_truncation<StatusAnswer>(valid, decode_status_answer);
}

TEST_CASE("heartbeat round trip") {
  Heartbeat heartbeat;
  heartbeat.monotonic_ms = 0x8000000000000001ull;
  const Bytes body = encode(heartbeat, encode_heartbeat);
  CHECK(body.size() == 8);
  Heartbeat decoded;
  REQUIRE(decode_heartbeat(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.monotonic_ms == heartbeat.monotonic_ms);
  check_truncation<Heartbeat>(body, decode_heartbeat);
}

TEST_CASE("goodbye round trip") {
  const std::string text = "shutting down";
  Goodbye goodbye;
  goodbye.reason = GoodbyeReason::kUnauthorized;
  goodbye.text = text.data();
  goodbye.text_size = static_cast<std::uint16_t>(text.size());
  const Bytes body = encode(goodbye, encode_goodbye);
  CHECK(body.size() == 4 + text.size());
  Goodbye decoded;
  REQUIRE(decode_goodbye(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.reason == GoodbyeReason::kUnauthorized);
  CHECK(std::string(decoded.text, decoded.text_size) == text);
  check_truncation<Goodbye>(body, decode_goodbye);
  check_rejections<Goodbye>(
      body,
      {
          {"reason", 0, 2, 6, Status::kBadHeaderField, "goodbye: reason code must be 0 to 5"},
          {"text length", 2, 2, 300, Status::kBadHeaderField, "goodbye: text length must be 0 to 256"},
          {"text utf8", 4, 1, 0xFE, Status::kBadHeaderField, "goodbye: text must be valid UTF-8"},
      },
      decode_goodbye);
}

TEST_CASE("goodbye empty text") {
  Goodbye goodbye;
  const Bytes body = encode(goodbye, encode_goodbye);
  CHECK(body.size() == 4);
  Goodbye decoded;
  REQUIRE(decode_goodbye(body.data(), body.size(), &decoded) == Status::kOk);
  CHECK(decoded.reason == GoodbyeReason::kNone);
  CHECK(decoded.text_size == 0);
}

}  // namespace
}  // namespace ecq::protocol
