// Random mutations of valid frames through FrameReader and every decoder.
// Under AddressSanitizer and UndefinedBehaviorSanitizer this finds reads
// outside the input. In any build it checks that nothing crashes and that a
// failed reader stays failed.

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ecq/protocol/frame.h"
#include "ecq/protocol/messages.h"

namespace ecq::protocol {
namespace {

using Bytes = std::vector<std::uint8_t>;

template <typename Message, typename Encode>
Bytes frame_of(MessageType type, const Message& message, Encode encode_function) {
  Bytes body(1024);
  std::size_t body_size = 0;
  REQUIRE(encode_function(message, body.data(), body.size(), &body_size, nullptr) == Status::kOk);
  Bytes frame(body_size + kFrameOverheadBytes);
  std::size_t size = 0;
  REQUIRE(encode_frame(static_cast<std::uint8_t>(type), body.data(), body_size, frame.data(), frame.size(), &size) ==
          Status::kOk);
  return frame;
}

std::vector<Bytes> sample_frames() {
  std::vector<Bytes> frames;
  Hello hello;
  hello.runtime_version = 0x000100;
  hello.model_kinds = 0x0F;
  hello.methods = 0x0F;
  hello.max_body_size = 4096;
  std::strcpy(hello.device_id, "device-7");
  hello.device_id_size = 8;
  frames.push_back(frame_of(MessageType::kHello, hello, encode_hello));
  frames.push_back(frame_of(MessageType::kCheckIn, CheckIn{1000}, encode_check_in));

  RoundOffer offer;
  offer.shape.kind = ModelKind::kSoftmax;
  offer.shape.inputs = 10;
  offer.shape.classes = 3;
  offer.learning_rate = 0.1f;
  offer.batch_size = 8;
  offer.deadline_ms = 1000;
  offer.model_chunk_count = 2;
  frames.push_back(frame_of(MessageType::kRoundOffer, offer, encode_round_offer));

  const float values[6] = {1.0f, -2.0f, 0.5f, 0.0f, 3.0f, -0.25f};
  ModelChunk chunk;
  chunk.chunk_count = 2;
  chunk.element_count = 6;
  chunk.values = reinterpret_cast<const std::uint8_t*>(values);
  frames.push_back(frame_of(MessageType::kModelChunk, chunk, encode_model_chunk));

  const Bytes payload(40, 0x33);
  UpdateChunk update;
  update.payload_size = 40;
  update.bytes = payload.data();
  update.size = 40;
  frames.push_back(frame_of(MessageType::kUpdateChunk, update, encode_update_chunk));

  const std::string text = "late: round 3 closed";
  Verdict verdict;
  verdict.reason = VerdictReason::kLate;
  verdict.text = text.data();
  verdict.text_size = static_cast<std::uint16_t>(text.size());
  frames.push_back(frame_of(MessageType::kVerdict, verdict, encode_verdict));
  frames.push_back(frame_of(MessageType::kStatusQuery, StatusQuery{}, encode_status_query));
  frames.push_back(frame_of(MessageType::kStatusAnswer, StatusAnswer{}, encode_status_answer));
  frames.push_back(frame_of(MessageType::kHeartbeat, Heartbeat{123}, encode_heartbeat));
  Goodbye goodbye;
  goodbye.text = text.data();
  goodbye.text_size = static_cast<std::uint16_t>(text.size());
  frames.push_back(frame_of(MessageType::kGoodbye, goodbye, encode_goodbye));
  return frames;
}

// Decodes a body copied into a buffer of exactly its size, so a read past
// the body is a read past the allocation.
Status decode_any(std::uint8_t type, const Bytes& body) {
  const std::uint8_t* data = body.data();
  const std::size_t size = body.size();
  ErrorInfo error;
  if (check_message_type(type, &error) != Status::kOk) {
    return error.status;
  }
  switch (static_cast<MessageType>(type)) {
    case MessageType::kHello: { Hello m; return decode_hello(data, size, &m, &error); }
    case MessageType::kCheckIn: { CheckIn m; return decode_check_in(data, size, &m, &error); }
    case MessageType::kRoundOffer: { RoundOffer m; return decode_round_offer(data, size, &m, &error); }
    case MessageType::kModelChunk: {
      ModelChunk m;
      const Status status = decode_model_chunk(data, size, &m, &error);
      if (status == Status::kOk) {
        std::vector<float> values(m.element_count);
        REQUIRE(copy_model_chunk_values(m, Span<float>(values.data(), values.size())) == Status::kOk);
      }
      return status;
    }
    case MessageType::kUpdateChunk: { UpdateChunk m; return decode_update_chunk(data, size, &m, &error); }
    case MessageType::kVerdict: { Verdict m; return decode_verdict(data, size, &m, &error); }
    case MessageType::kStatusQuery: { StatusQuery m; return decode_status_query(data, size, &m, &error); }
    case MessageType::kStatusAnswer: { StatusAnswer m; return decode_status_answer(data, size, &m, &error); }
    case MessageType::kHeartbeat: { Heartbeat m; return decode_heartbeat(data, size, &m, &error); }
    case MessageType::kGoodbye: { Goodbye m; return decode_goodbye(data, size, &m, &error); }
  }
  return Status::kBadHeaderField;
}

TEST_CASE("valid sample frames decode") {
  for (const Bytes& frame : sample_frames()) {
    const Bytes body(frame.begin() + kFrameHeaderBytes, frame.end() - kFrameChecksumBytes);
    CHECK(decode_any(frame[5], body) == Status::kOk);
  }
}

// Mutated bodies sealed with a correct frame, so every mutation reaches the
// decoders rather than stopping at the CRC.
TEST_CASE("fuzz decoders") {
  const std::vector<Bytes> frames = sample_frames();
  std::mt19937 random(12345);
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    const Bytes& frame = frames[random() % frames.size()];
    Bytes body(frame.begin() + kFrameHeaderBytes, frame.end() - kFrameChecksumBytes);
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      const unsigned kind = random() % 4;
      if (kind == 0 && !body.empty()) {
        body[random() % body.size()] ^= static_cast<std::uint8_t>(1u << (random() % 8));
      } else if (kind == 1 && !body.empty()) {
        body[random() % body.size()] = static_cast<std::uint8_t>(random());
      } else if (kind == 2 && !body.empty()) {
        body.resize(random() % body.size());
      } else {
        body.insert(body.begin() + static_cast<long>(random() % (body.size() + 1)), static_cast<std::uint8_t>(random()));
      }
    }
    const std::uint8_t type = random() % 16 == 0 ? static_cast<std::uint8_t>(random()) : frame[5];
    if (decode_any(type, body) == Status::kOk) {
      ++accepted;
    }
  }
  // Some mutations only change a free field such as an id, so a share of
  // bodies must still decode.
  CHECK(accepted > 0);
}

// Mutated streams of frames fed in random pieces.
TEST_CASE("fuzz frame reader") {
  const std::vector<Bytes> frames = sample_frames();
  std::mt19937 random(777);
  for (int round = 0; round < 3000; ++round) {
    Bytes stream;
    for (int i = 0; i < 4; ++i) {
      const Bytes& frame = frames[random() % frames.size()];
      stream.insert(stream.end(), frame.begin(), frame.end());
    }
    const int edits = static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) {
      stream[random() % stream.size()] = static_cast<std::uint8_t>(random());
    }
    Bytes buffer(64 + random() % 128);
    FrameReader reader;
    REQUIRE(reader.init(Span<std::uint8_t>(buffer.data(), buffer.size()), static_cast<std::uint32_t>(random() % 200)) ==
            Status::kOk);
    std::size_t offset = 0;
    Status status = Status::kOk;
    while (offset < stream.size() && !reader.failed()) {
      const std::size_t piece = 1 + random() % 40;
      const std::size_t count = piece < stream.size() - offset ? piece : stream.size() - offset;
      std::size_t consumed = 0;
      status = reader.feed(stream.data() + offset, count, &consumed);
      offset += consumed;
      FrameView view;
      while ((status = reader.next(&view)) == Status::kOk) {
        REQUIRE(view.body_size <= reader.max_body_size());
        const Bytes body(view.body, view.body + view.body_size);
        (void)decode_any(view.type, body);
      }
    }
    if (reader.failed()) {
      FrameView view;
      CHECK(reader.next(&view) == status);
    }
  }
}

}  // namespace
}  // namespace ecq::protocol
