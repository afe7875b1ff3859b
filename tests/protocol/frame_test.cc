#include "ecq/protocol/frame.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ecq/runtime/crc32c.h"

namespace ecq::protocol {
namespace {

std::vector<std::uint8_t> make_frame(std::uint8_t type, const std::vector<std::uint8_t>& body) {
  std::vector<std::uint8_t> frame(body.size() + kFrameOverheadBytes);
  std::size_t size = 0;
  REQUIRE(encode_frame(type, body.data(), body.size(), frame.data(), frame.size(), &size) == Status::kOk);
  REQUIRE(size == frame.size());
  return frame;
}

std::vector<std::uint8_t> counting_body(std::size_t size) {
  std::vector<std::uint8_t> body(size);
  for (std::size_t i = 0; i < size; ++i) {
    body[i] = static_cast<std::uint8_t>(i * 7 + 3);
  }
  return body;
}

// Rewrites the CRC-32C after a test changed a header byte, so only that
// change is wrong.
void reseal(std::vector<std::uint8_t>* frame) {
  const std::size_t checked = frame->size() - kFrameChecksumBytes;
  const std::uint32_t crc = crc32c(frame->data(), checked);
  for (int i = 0; i < 4; ++i) {
    (*frame)[checked + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (8 * i));
  }
}

struct Reader {
  explicit Reader(std::size_t capacity, std::uint32_t max_body = UINT32_MAX) : buffer(capacity) {
    REQUIRE(reader.init(Span<std::uint8_t>(buffer.data(), buffer.size()), max_body) == Status::kOk);
  }

  Status feed(const std::vector<std::uint8_t>& bytes) {
    std::size_t consumed = 0;
    const Status status = reader.feed(bytes.data(), bytes.size(), &consumed);
    REQUIRE(consumed == (status == Status::kOk ? bytes.size() : 0));
    return status;
  }

  std::vector<std::uint8_t> buffer;
  FrameReader reader;
};

TEST_CASE("frame layout") {
  const std::vector<std::uint8_t> frame = make_frame(9, {0xAA, 0xBB});
  const std::vector<std::uint8_t> header = {'E', 'C', 'Q', 'F', 1, 9, 0, 0, 2, 0, 0, 0, 0xAA, 0xBB};
  CHECK(std::vector<std::uint8_t>(frame.begin(), frame.begin() + 14) == header);
  const std::uint32_t crc = crc32c(frame.data(), 14);
  CHECK(frame[14] == static_cast<std::uint8_t>(crc));
  CHECK(frame[17] == static_cast<std::uint8_t>(crc >> 24));
}

TEST_CASE("encode frame small buffer") {
  std::vector<std::uint8_t> out(17);
  std::size_t size = 0;
  ErrorInfo error;
  const std::uint8_t body[2] = {1, 2};
  CHECK(encode_frame(1, body, 2, out.data(), out.size(), &size, &error) == Status::kBufferTooSmall);
  CHECK(error.found == 17.0);
  CHECK(error.limit == 18.0);
}

TEST_CASE("encode frame in place") {
  const std::vector<std::uint8_t> body = counting_body(300);
  std::vector<std::uint8_t> out(body.size() + kFrameOverheadBytes);
  std::copy(body.begin(), body.end(), out.begin() + kFrameHeaderBytes);
  std::size_t size = 0;
  REQUIRE(encode_frame(4, out.data() + kFrameHeaderBytes, body.size(), out.data(), out.size(), &size) ==
          Status::kOk);
  CHECK(size == out.size());
  CHECK(out == make_frame(4, body));
}

TEST_CASE("frame round trip") {
  for (std::size_t body_size : {0u, 1u, 100u, 4096u}) {
    CAPTURE(body_size);
    const std::vector<std::uint8_t> body = counting_body(body_size);
    Reader input(body_size + kFrameOverheadBytes);
    REQUIRE(input.feed(make_frame(3, body)) == Status::kOk);
    FrameView view;
    REQUIRE(input.reader.next(&view) == Status::kOk);
    CHECK(view.type == 3);
    CHECK(view.body_size == body_size);
    CHECK(std::vector<std::uint8_t>(view.body, view.body + view.body_size) == body);
    CHECK(input.reader.next(&view) == Status::kTruncatedPayload);
  }
}

TEST_CASE("frame split byte by byte") {
  const std::vector<std::uint8_t> body = counting_body(37);
  const std::vector<std::uint8_t> frame = make_frame(5, body);
  Reader input(64);
  FrameView view;
  for (std::size_t i = 0; i + 1 < frame.size(); ++i) {
    REQUIRE(input.feed({frame[i]}) == Status::kOk);
    REQUIRE(input.reader.next(&view) == Status::kTruncatedPayload);
  }
  REQUIRE(input.feed({frame.back()}) == Status::kOk);
  REQUIRE(input.reader.next(&view) == Status::kOk);
  CHECK(view.type == 5);
  CHECK(std::vector<std::uint8_t>(view.body, view.body + view.body_size) == body);
}

TEST_CASE("several frames in one feed") {
  std::vector<std::uint8_t> stream;
  for (std::uint8_t type = 1; type <= 5; ++type) {
    const std::vector<std::uint8_t> frame = make_frame(type, counting_body(type * 3u));
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  Reader input(stream.size());
  REQUIRE(input.feed(stream) == Status::kOk);
  FrameView view;
  for (std::uint8_t type = 1; type <= 5; ++type) {
    CAPTURE(type);
    REQUIRE(input.reader.next(&view) == Status::kOk);
    CHECK(view.type == type);
    CHECK(view.body_size == type * 3u);
  }
  CHECK(input.reader.next(&view) == Status::kTruncatedPayload);
}

TEST_CASE("frames through small buffer") {
  // 20 frames of 8 to 27 body bytes through a 48-byte buffer, fed in pieces
  // of 13 bytes: exercises compaction and partial feeds.
  std::vector<std::uint8_t> stream;
  for (std::uint8_t i = 0; i < 20; ++i) {
    const std::vector<std::uint8_t> frame = make_frame(i, counting_body(8u + i));
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  Reader input(48);
  std::size_t offset = 0;
  std::uint8_t expected = 0;
  FrameView view;
  while (offset < stream.size()) {
    const std::size_t piece = stream.size() - offset < 13 ? stream.size() - offset : 13;
    std::size_t consumed = 0;
    REQUIRE(input.reader.feed(stream.data() + offset, piece, &consumed) == Status::kOk);
    offset += consumed;
    Status status;
    while ((status = input.reader.next(&view)) == Status::kOk) {
      CHECK(view.type == expected);
      CHECK(view.body_size == 8u + expected);
      ++expected;
    }
    REQUIRE(status == Status::kTruncatedPayload);
  }
  CHECK(expected == 20);
}

TEST_CASE("feed stops at full buffer") {
  Reader input(20);
  const std::vector<std::uint8_t> bytes(30, 0);
  std::size_t consumed = 0;
  CHECK(input.reader.feed(bytes.data(), bytes.size(), &consumed) == Status::kOk);
  CHECK(consumed == 20);
}

TEST_CASE("oversized body from header") {
  Reader input(1024, 100);
  CHECK(input.reader.max_body_size() == 100);
  std::vector<std::uint8_t> frame = make_frame(4, counting_body(101));
  frame.resize(kFrameHeaderBytes);
  REQUIRE(input.feed(frame) == Status::kOk);
  FrameView view;
  CHECK(input.reader.next(&view) == Status::kOversizedPayload);
  CHECK(input.reader.last_error().found == 101.0);
  CHECK(input.reader.last_error().limit == 100.0);
  CHECK(input.reader.last_error().position == 8);
}

TEST_CASE("max body bounded by buffer") {
  Reader input(116, 1000);
  CHECK(input.reader.max_body_size() == 100);
  REQUIRE(input.feed(make_frame(4, counting_body(100))) == Status::kOk);
  FrameView view;
  CHECK(input.reader.next(&view) == Status::kOk);
}

TEST_CASE("init rejects tiny buffer") {
  std::uint8_t buffer[15];
  FrameReader reader;
  CHECK(reader.init(Span<std::uint8_t>(buffer, sizeof buffer), 10) == Status::kBufferTooSmall);
}

TEST_CASE("reader needs init") {
  FrameReader reader;
  FrameView view;
  std::size_t consumed = 1;
  const std::uint8_t byte = 0;
  CHECK(reader.next(&view) == Status::kNotInitialized);
  CHECK(reader.feed(&byte, 1, &consumed) == Status::kNotInitialized);
  CHECK(consumed == 0);
}

TEST_CASE("bad magic") {
  std::vector<std::uint8_t> frame = make_frame(1, counting_body(4));
  frame[3] = 'P';
  reseal(&frame);
  Reader input(64);
  REQUIRE(input.feed(frame) == Status::kOk);
  FrameView view;
  CHECK(input.reader.next(&view) == Status::kBadMagic);
  CHECK(input.reader.failed());
}

TEST_CASE("bad magic from first byte") {
  Reader input(64);
  REQUIRE(input.feed({'X'}) == Status::kOk);
  FrameView view;
  CHECK(input.reader.next(&view) == Status::kBadMagic);
}

TEST_CASE("version 2 rejected") {
  std::vector<std::uint8_t> frame = make_frame(1, counting_body(4));
  frame[4] = 2;
  reseal(&frame);
  Reader input(64);
  REQUIRE(input.feed(frame) == Status::kOk);
  FrameView view;
  CHECK(input.reader.next(&view) == Status::kUnsupportedVersion);
  CHECK(input.reader.last_error().found == 2.0);
  CHECK(input.reader.last_error().limit == 1.0);
  CHECK(input.reader.last_error().position == 4);
}

TEST_CASE("version 0 rejected") {
  std::vector<std::uint8_t> frame = make_frame(1, counting_body(4));
  frame[4] = 0;
  reseal(&frame);
  Reader input(64);
  REQUIRE(input.feed(frame) == Status::kOk);
  FrameView view;
  CHECK(input.reader.next(&view) == Status::kUnsupportedVersion);
}

TEST_CASE("non-zero flags rejected") {
  for (std::size_t index : {6u, 7u}) {
    CAPTURE(index);
    std::vector<std::uint8_t> frame = make_frame(1, counting_body(4));
    frame[index] = 0x10;
    reseal(&frame);
    Reader input(64);
    REQUIRE(input.feed(frame) == Status::kOk);
    FrameView view;
    CHECK(input.reader.next(&view) == Status::kBadHeaderField);
    CHECK(input.reader.last_error().position == 6);
    CHECK(input.reader.last_error().found != 0.0);
  }
}

TEST_CASE("checksum mismatch") {
  std::vector<std::uint8_t> frame = make_frame(1, counting_body(4));
  frame[13] ^= 0x01;
  Reader input(64);
  REQUIRE(input.feed(frame) == Status::kOk);
  FrameView view;
  CHECK(input.reader.next(&view) == Status::kChecksumMismatch);
  CHECK(input.reader.last_error().position == 16);
}

TEST_CASE("every byte flip caught") {
  const std::vector<std::uint8_t> frame = make_frame(2, counting_body(6));
  for (std::size_t index = 0; index < frame.size(); ++index) {
    for (int bit = 0; bit < 8; ++bit) {
      CAPTURE(index);
      CAPTURE(bit);
      std::vector<std::uint8_t> corrupt = frame;
      corrupt[index] ^= static_cast<std::uint8_t>(1u << bit);
      Reader input(64);
      REQUIRE(input.feed(corrupt) == Status::kOk);
      FrameView view;
      const Status status = input.reader.next(&view);
      // A flip in the type byte leaves a valid frame of another type, but the
      // CRC-32C covers it, so that flip is caught too.
      CHECK(status != Status::kOk);
    }
  }
}

TEST_CASE("failed reader stays failed") {
  std::vector<std::uint8_t> frame = make_frame(1, counting_body(4));
  frame[0] = 'X';
  Reader input(64);
  REQUIRE(input.feed(frame) == Status::kOk);
  FrameView view;
  REQUIRE(input.reader.next(&view) == Status::kBadMagic);
  const std::vector<std::uint8_t> good = make_frame(1, counting_body(4));
  std::size_t consumed = 1;
  CHECK(input.reader.feed(good.data(), good.size(), &consumed) == Status::kBadMagic);
  CHECK(consumed == 0);
  CHECK(input.reader.next(&view) == Status::kBadMagic);
}

TEST_CASE("error position in stream") {
  std::vector<std::uint8_t> stream = make_frame(1, counting_body(4));
  std::vector<std::uint8_t> bad = make_frame(1, counting_body(4));
  bad[4] = 9;
  reseal(&bad);
  stream.insert(stream.end(), bad.begin(), bad.end());
  Reader input(64);
  REQUIRE(input.feed(stream) == Status::kOk);
  FrameView view;
  REQUIRE(input.reader.next(&view) == Status::kOk);
  CHECK(input.reader.next(&view) == Status::kUnsupportedVersion);
  CHECK(input.reader.last_error().position == 20 + 4);
}

}  // namespace
}  // namespace ecq::protocol

namespace ecq::protocol {
namespace {

TEST_CASE("frame error description") {
  std::vector<std::uint8_t> buffer(256);
  FrameReader reader;
  REQUIRE(reader.init(Span<std::uint8_t>(buffer.data(), buffer.size()), 100) == Status::kOk);
  const std::uint8_t header[12] = {'E', 'C', 'Q', 'F', 2, 1, 0, 0, 0, 0, 0, 0};
  std::size_t consumed = 0;
  (void)reader.feed(header, sizeof header, &consumed);
  FrameView view;
  REQUIRE(reader.next(&view) == Status::kUnsupportedVersion);
  char message[300];
  describe_error(reader.last_error(), message, sizeof message);
  CHECK(std::string(message).rfind("invalid frame (unsupported version): frame protocol version must be 1 to 1; "
                                   "found 2 at byte 4",
                                   0) == 0);
}

TEST_CASE("frame checksum error in hex") {
  std::vector<std::uint8_t> frame = make_frame(1, counting_body(4));
  frame[12] ^= 0x01;  // body byte 0; the stored CRC no longer matches
  std::vector<std::uint8_t> buffer(256);
  FrameReader reader;
  REQUIRE(reader.init(Span<std::uint8_t>(buffer.data(), buffer.size()), 100) == Status::kOk);
  std::size_t consumed = 0;
  (void)reader.feed(frame.data(), frame.size(), &consumed);
  FrameView view;
  REQUIRE(reader.next(&view) == Status::kChecksumMismatch);
  char message[300];
  describe_error(reader.last_error(), message, sizeof message);
  const std::string text(message);
  INFO(text);
  CHECK(text.find("found 0x") != std::string::npos);
  CHECK(text.find(", computed 0x") != std::string::npos);
  CHECK(text.find("e+") == std::string::npos);
}

TEST_CASE("oversized frame error as integer") {
  const std::uint8_t header[12] = {'E', 'C', 'Q', 'F', 1, 1, 0, 0, 0xF0, 0xFF, 0xFF, 0x7F};
  std::vector<std::uint8_t> buffer(256);
  FrameReader reader;
  REQUIRE(reader.init(Span<std::uint8_t>(buffer.data(), buffer.size()), 100) == Status::kOk);
  std::size_t consumed = 0;
  (void)reader.feed(header, sizeof header, &consumed);
  FrameView view;
  REQUIRE(reader.next(&view) == Status::kOversizedPayload);
  char message[300];
  describe_error(reader.last_error(), message, sizeof message);
  const std::string text(message);
  INFO(text);
  CHECK(text.find("found 2147483632 at byte 8, limit 100") != std::string::npos);
}

}  // namespace
}  // namespace ecq::protocol
