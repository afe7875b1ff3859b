#include "ecq/protocol/chunks.h"

#include <doctest/doctest.h>

#include <vector>

namespace ecq::protocol {
namespace {

std::vector<std::uint8_t> sample_payload(std::size_t size) {
  std::vector<std::uint8_t> payload(size);
  for (std::size_t i = 0; i < size; ++i) {
    payload[i] = static_cast<std::uint8_t>(i * 31 + 7);
  }
  return payload;
}

TEST_CASE("update chunk count") {
  CHECK(update_chunk_count(1000, 24 + 100) == 10);
  CHECK(update_chunk_count(1001, 24 + 100) == 11);
  CHECK(update_chunk_count(100, 24 + 100) == 1);
  CHECK(update_chunk_count(100, 24) == 0);
  CHECK(update_chunk_count(0, 1000) == 0);
  CHECK(update_chunk_count(70000, 25) == 0);  // more than 65535 chunks
}

TEST_CASE("chunks reassemble payload") {
  const std::vector<std::uint8_t> payload = sample_payload(5000);
  const std::size_t max_body = 600;
  const std::uint32_t count = update_chunk_count(payload.size(), max_body);
  REQUIRE(count == 9);
  std::vector<std::uint8_t> buffer(8192);
  UpdateAssembler assembler(Span<std::uint8_t>(buffer.data(), buffer.size()));
  bool complete = false;
  for (std::uint32_t i = 0; i < count; ++i) {
    UpdateChunk chunk;
    REQUIRE(make_update_chunk(3, 77, 32, Span<const std::uint8_t>(payload.data(), payload.size()), max_body, i,
                              &chunk) == Status::kOk);
    CHECK(chunk.size + kUpdateChunkHeaderBytes <= max_body);
    // Every chunk also survives the wire encoding.
    std::vector<std::uint8_t> body(max_body);
    std::size_t size = 0;
    REQUIRE(encode_update_chunk(chunk, body.data(), body.size(), &size) == Status::kOk);
    UpdateChunk decoded;
    REQUIRE(decode_update_chunk(body.data(), size, &decoded) == Status::kOk);
    REQUIRE(assembler.add(decoded, &complete) == Status::kOk);
    CHECK(complete == (i + 1 == count));
  }
  REQUIRE(complete);
  CHECK(std::vector<std::uint8_t>(assembler.payload().begin(), assembler.payload().end()) == payload);
  CHECK(assembler.round_id() == 3);
  CHECK(assembler.update_id() == 77);
  CHECK(assembler.samples_used() == 32);
}

TEST_CASE("assembler rejects out of order chunk") {
  const std::vector<std::uint8_t> payload = sample_payload(1000);
  std::vector<std::uint8_t> buffer(2000);
  UpdateAssembler assembler(Span<std::uint8_t>(buffer.data(), buffer.size()));
  UpdateChunk first;
  UpdateChunk third;
  const Span<const std::uint8_t> bytes(payload.data(), payload.size());
  REQUIRE(make_update_chunk(1, 2, 3, bytes, 224, 0, &first) == Status::kOk);
  REQUIRE(make_update_chunk(1, 2, 3, bytes, 224, 2, &third) == Status::kOk);
  bool complete = false;
  REQUIRE(assembler.add(first, &complete) == Status::kOk);
  ErrorInfo error;
  CHECK(assembler.add(third, &complete, &error) == Status::kBadHeaderField);
  CHECK(error.found == 2.0);
  CHECK(error.limit == 1.0);
  CHECK_FALSE(complete);
}

TEST_CASE("assembler rejects chunk of other update") {
  const std::vector<std::uint8_t> payload = sample_payload(1000);
  std::vector<std::uint8_t> buffer(2000);
  UpdateAssembler assembler(Span<std::uint8_t>(buffer.data(), buffer.size()));
  const Span<const std::uint8_t> bytes(payload.data(), payload.size());
  UpdateChunk first;
  UpdateChunk other;
  REQUIRE(make_update_chunk(1, 2, 3, bytes, 224, 0, &first) == Status::kOk);
  REQUIRE(make_update_chunk(1, 9, 3, bytes, 224, 1, &other) == Status::kOk);
  bool complete = false;
  REQUIRE(assembler.add(first, &complete) == Status::kOk);
  CHECK(assembler.add(other, &complete) == Status::kBadHeaderField);
  // A new update starts cleanly after the rejection.
  REQUIRE(assembler.add(first, &complete) == Status::kOk);
}

TEST_CASE("assembler rejects oversized payload") {
  const std::vector<std::uint8_t> payload = sample_payload(1000);
  std::vector<std::uint8_t> buffer(999);
  UpdateAssembler assembler(Span<std::uint8_t>(buffer.data(), buffer.size()));
  UpdateChunk first;
  REQUIRE(make_update_chunk(1, 2, 3, Span<const std::uint8_t>(payload.data(), payload.size()), 4096, 0, &first) ==
          Status::kOk);
  bool complete = false;
  ErrorInfo error;
  CHECK(assembler.add(first, &complete, &error) == Status::kOversizedPayload);
  CHECK(error.found == 1000.0);
  CHECK(error.limit == 999.0);
}

TEST_CASE("assembler rejects short update") {
  // The last chunk arrives but the bytes fall short of the payload size.
  std::vector<std::uint8_t> buffer(2000);
  UpdateAssembler assembler(Span<std::uint8_t>(buffer.data(), buffer.size()));
  const std::vector<std::uint8_t> data = sample_payload(100);
  UpdateChunk only{1, 2, 3, 0, 1, 200, data.data(), 100};
  bool complete = false;
  CHECK(assembler.add(only, &complete) == Status::kTruncatedPayload);
  CHECK_FALSE(complete);
}

TEST_CASE("make update chunk rejects bad index") {
  const std::vector<std::uint8_t> payload = sample_payload(100);
  UpdateChunk chunk;
  CHECK(make_update_chunk(1, 2, 3, Span<const std::uint8_t>(payload.data(), payload.size()), 124, 1, &chunk) ==
        Status::kInvalidArgument);
}

TEST_CASE("model chunks reassemble parameters") {
  std::vector<float> model(7850);
  for (std::size_t i = 0; i < model.size(); ++i) {
    model[i] = static_cast<float>(i) * 0.25f - 100.0f;
  }
  const std::size_t max_body = 4096;
  const std::uint32_t count = model_chunk_count(model.size(), max_body);
  REQUIRE(count == 8);  // (4096 - 20) / 4 = 1019 values per chunk
  std::vector<float> received(model.size(), 0.0f);
  ModelAssembler assembler(Span<float>(received.data(), received.size()));
  assembler.start(5, count);
  bool complete = false;
  for (std::uint32_t i = 0; i < count; ++i) {
    ModelChunk chunk;
    REQUIRE(make_model_chunk(5, Span<const float>(model.data(), model.size()), max_body, i, &chunk) == Status::kOk);
    std::vector<std::uint8_t> body(max_body);
    std::size_t size = 0;
    REQUIRE(encode_model_chunk(chunk, body.data(), body.size(), &size) == Status::kOk);
    ModelChunk decoded;
    REQUIRE(decode_model_chunk(body.data(), size, &decoded) == Status::kOk);
    REQUIRE(assembler.add(decoded, &complete) == Status::kOk);
    CHECK(complete == (i + 1 == count));
  }
  CHECK(received == model);
}

TEST_CASE("model assembler rejects gap and other round") {
  std::vector<float> model(100, 1.0f);
  std::vector<float> received(100);
  ModelAssembler assembler(Span<float>(received.data(), received.size()));
  const Span<const float> values(model.data(), model.size());
  ModelChunk first;
  ModelChunk second;
  REQUIRE(make_model_chunk(2, values, 20 + 4 * 40, 0, &first) == Status::kOk);
  REQUIRE(make_model_chunk(2, values, 20 + 4 * 40, 1, &second) == Status::kOk);
  bool complete = false;
  assembler.start(2, 3);
  REQUIRE(assembler.add(first, &complete) == Status::kOk);
  ModelChunk skipped = second;
  skipped.first_element += 1;
  CHECK(assembler.add(skipped, &complete) == Status::kBadHeaderField);
  assembler.start(3, 3);
  CHECK(assembler.add(first, &complete) == Status::kBadHeaderField);
}

TEST_CASE("model assembler rejects short cover") {
  std::vector<float> model(100, 1.0f);
  std::vector<float> received(120);
  ModelAssembler assembler(Span<float>(received.data(), received.size()));
  ModelChunk only;
  REQUIRE(make_model_chunk(2, Span<const float>(model.data(), model.size()), 4096, 0, &only) == Status::kOk);
  bool complete = false;
  assembler.start(2, 1);
  ErrorInfo error;
  CHECK(assembler.add(only, &complete, &error) == Status::kDimensionMismatch);
  CHECK(error.found == 100.0);
  CHECK(error.limit == 120.0);
  CHECK_FALSE(complete);
}

}  // namespace
}  // namespace ecq::protocol
