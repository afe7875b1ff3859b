#include "ecq/runtime/payload.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "ecq/runtime/crc32c.h"
#include "test_support.h"

namespace ecq {
namespace {

using test::CompressorHarness;
using test::gaussian_vector;
using test::make_config;

using Bytes = std::vector<std::uint8_t>;

Bytes make_payload(Method method, std::uint32_t levels, EncoderChoice encoder, std::uint32_t dimension = 1000) {
  CompressorHarness harness(make_config(dimension, method, 128, levels, NormKind::kL2, encoder));
  REQUIRE(harness.init_status == Status::kOk);
  REQUIRE(harness.step(gaussian_vector(dimension, 21), StreamKey{1, 2, 3}) == Status::kOk);
  return harness.copy();
}

void reseal(Bytes& payload) {
  const std::size_t end = payload.size() - 4;
  const std::uint32_t crc = crc32c(payload.data(), end);
  for (int i = 0; i < 4; ++i) {
    payload[end + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (8 * i));
  }
}

Status validate(const Bytes& payload, DecodeLimits limits = DecodeLimits{}, ErrorInfo* error = nullptr) {
  PayloadView view;
  return validate_payload(Span<const std::uint8_t>(payload.data(), payload.size()), limits, &view, error);
}

void store_u32(Bytes& payload, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    payload[offset + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

TEST_CASE("valid payloads pass") {
  CHECK(validate(make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth)) == Status::kOk);
  CHECK(validate(make_payload(Method::kEcq, 2, EncoderChoice::kEntropy)) == Status::kOk);
  CHECK(validate(make_payload(Method::kFp32, 0, EncoderChoice::kAuto)) == Status::kOk);
}

TEST_CASE("truncated payload") {
  const Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth);
  for (std::size_t size : {std::size_t{0}, std::size_t{10}, std::size_t{23}, payload.size() - 1}) {
    const Bytes cut(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(size));
    CAPTURE(size);
    CHECK(validate(cut) == Status::kTruncatedPayload);
  }
}

TEST_CASE("trailing bytes") {
  Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth);
  const std::size_t size = payload.size();
  payload.push_back(0);
  ErrorInfo error;
  CHECK(validate(payload, DecodeLimits{}, &error) == Status::kTrailingBytes);
  CHECK(error.position == size);
}

TEST_CASE("oversized payload") {
  const Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth);
  DecodeLimits limits;
  limits.max_payload_bytes = payload.size() - 1;
  CHECK(validate(payload, limits) == Status::kOversizedPayload);
  limits = DecodeLimits{};
  limits.max_dimension = 999;
  CHECK(validate(payload, limits) == Status::kOversizedPayload);
}

TEST_CASE("wrong dimension") {
  const Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth);
  DecodeLimits limits;
  limits.expected_dimension = 1001;
  ErrorInfo error;
  CHECK(validate(payload, limits, &error) == Status::kDimensionMismatch);
  CHECK(error.found == 1000.0);
  CHECK(error.limit == 1001.0);
}

TEST_CASE("bad magic and version") {
  Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth);
  Bytes bad_magic = payload;
  bad_magic[0] = 'X';
  reseal(bad_magic);
  CHECK(validate(bad_magic) == Status::kBadMagic);
  Bytes bad_version = payload;
  bad_version[4] = 2;
  reseal(bad_version);
  CHECK(validate(bad_version) == Status::kUnsupportedVersion);
}

TEST_CASE("bad header fields") {
  const Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth);
  struct Case {
    const char* name;
    std::size_t offset;
    std::uint8_t value;
  };
  const Case cases[] = {{"encoding", 5, 3}, {"norm", 6, 2}, {"levels zero", 7, 0}, {"levels 128", 7, 128}};
  for (const Case& c : cases) {
    Bytes changed = payload;
    changed[c.offset] = c.value;
    reseal(changed);
    ErrorInfo error;
    CAPTURE(c.name);
    CHECK(validate(changed, DecodeLimits{}, &error) == Status::kBadHeaderField);
    CHECK(error.position == c.offset);
  }
  Bytes zero_bucket = payload;
  store_u32(zero_bucket, 12, 0);
  reseal(zero_bucket);
  CHECK(validate(zero_bucket) == Status::kBadHeaderField);
  Bytes wrong_body = payload;
  store_u32(wrong_body, 16, 1);
  reseal(wrong_body);
  CHECK(validate(wrong_body) == Status::kBadHeaderField);
  Bytes zero_dimension = payload;
  store_u32(zero_dimension, 8, 0);
  reseal(zero_dimension);
  CHECK(validate(zero_dimension) == Status::kBadHeaderField);
}

TEST_CASE("bad checksum") {
  Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth);
  payload[100] ^= 0x10;
  ErrorInfo error;
  CHECK(validate(payload, DecodeLimits{}, &error) == Status::kChecksumMismatch);
  CHECK(error.position == payload.size() - 4);
}

TEST_CASE("damaged header is a checksum error") {
  // Without a matching checksum the header cannot be trusted: a changed
  // length or field reads as damage in transit, not as a sender's mistake.
  const Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth);
  for (std::size_t offset : {5u, 6u, 7u, 8u, 12u, 16u}) {
    Bytes changed = payload;
    changed[offset] ^= 0x01;
    CAPTURE(offset);
    CHECK(validate(changed) == Status::kChecksumMismatch);
  }
}

TEST_CASE("error descriptions are readable") {
  Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth);
  char message[300];
  ErrorInfo error;
  Bytes bad_magic = payload;
  bad_magic[0] = 'X';
  REQUIRE(validate(bad_magic, DecodeLimits{}, &error) == Status::kBadMagic);
  describe_error(error, message, sizeof message);
  CHECK(std::string(message).find("0x50514358") != std::string::npos);
  CHECK(std::string(message).find("ECQP") != std::string::npos);
  payload[100] ^= 0x10;
  REQUIRE(validate(payload, DecodeLimits{}, &error) == Status::kChecksumMismatch);
  describe_error(error, message, sizeof message);
  CHECK(std::string(message).find("CRC-32C") != std::string::npos);
  CHECK(std::string(message).find("0x") != std::string::npos);
  CHECK(std::string(message).find("resend") != std::string::npos);
}

TEST_CASE("bad scale") {
  for (float scale : {std::nanf(""), INFINITY, -1.0f}) {
    Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth);
    std::memcpy(payload.data() + 20 + 4, &scale, 4);  // bucket 1
    reseal(payload);
    ErrorInfo error;
    CHECK(validate(payload, DecodeLimits{}, &error) == Status::kBadScale);
    CHECK(error.position == 24);
  }
}

TEST_CASE("bad fixed-width symbol") {
  // s = 2: 3-bit symbols 0..4; 7 is outside the alphabet.
  Bytes payload = make_payload(Method::kQsgd, 2, EncoderChoice::kFixedWidth);
  const std::size_t body = 20 + 4 * 8;  // 1000 elements in 8 buckets of 128
  payload[body] |= 0x07;
  reseal(payload);
  ErrorInfo error;
  CHECK(validate(payload, DecodeLimits{}, &error) == Status::kBadSymbol);
  CHECK(error.position == body);
  CHECK(error.found == 7.0);
}

TEST_CASE("non-zero padding bits") {
  // 1000 symbols of 3 bits fill 375 bytes exactly; 999 leave 3 bits of padding.
  Bytes payload = make_payload(Method::kQsgd, 2, EncoderChoice::kFixedWidth, 999);
  payload[payload.size() - 5] |= 0x80;
  reseal(payload);
  CHECK(validate(payload) == Status::kBadSymbol);
}

TEST_CASE("bad rANS table and stream") {
  const Bytes payload = make_payload(Method::kEcq, 2, EncoderChoice::kEntropy);
  REQUIRE(payload[5] == 2);
  const std::size_t body = 20 + 4 * 8;
  Bytes bad_table = payload;
  bad_table[body] ^= 0x01;  // frequencies no longer sum to 4096
  reseal(bad_table);
  CHECK(validate(bad_table) == Status::kBadSymbol);
  Bytes bad_stream = payload;
  bad_stream[body + 10 + 6] ^= 0x5A;
  reseal(bad_stream);
  CHECK(validate(bad_stream) == Status::kBadSymbol);
}

TEST_CASE("raw payload with NaN") {
  Bytes payload = make_payload(Method::kFp32, 0, EncoderChoice::kAuto);
  const float nan = std::nanf("");
  std::memcpy(payload.data() + 20 + 8, &nan, 4);
  reseal(payload);
  ErrorInfo error;
  CHECK(validate(payload, DecodeLimits{}, &error) == Status::kBadSymbol);
  CHECK(error.position == 28);
}

TEST_CASE("accumulate adds weighted decode") {
  const Bytes payload = make_payload(Method::kEcq, 4, EncoderChoice::kAuto);
  PayloadView view;
  REQUIRE(validate_payload(Span<const std::uint8_t>(payload.data(), payload.size()), DecodeLimits{}, &view) ==
          Status::kOk);
  std::vector<float> decoded(1000);
  REQUIRE(decode_payload(view, Span<float>(decoded.data(), decoded.size())) == Status::kOk);
  std::vector<float> sum(1000, 1.0f);
  REQUIRE(accumulate_payload(view, 0.5f, Span<float>(sum.data(), sum.size())) == Status::kOk);
  for (std::size_t i = 0; i < sum.size(); ++i) {
    REQUIRE(sum[i] == doctest::Approx(1.0f + 0.5f * decoded[i]));
  }
  std::vector<float> unit(1000, 0.0f);
  REQUIRE(accumulate_payload(view, 1.0f, Span<float>(unit.data(), unit.size())) == Status::kOk);
  CHECK(unit == decoded);
  CHECK(accumulate_payload(view, 1.0f, Span<float>(unit.data(), 999)) == Status::kInvalidArgument);
  CHECK(accumulate_payload(view, std::nanf(""), Span<float>(unit.data(), unit.size())) == Status::kInvalidArgument);
}

TEST_CASE("random corruption never crashes") {
  // Every single-byte change must be caught by the CRC; with the CRC fixed up,
  // the structural checks must reject it or the payload must decode safely.
  const Bytes sources[] = {make_payload(Method::kEcq, 4, EncoderChoice::kFixedWidth),
                           make_payload(Method::kEcq, 2, EncoderChoice::kEntropy),
                           make_payload(Method::kFp32, 0, EncoderChoice::kAuto)};
  std::mt19937 engine(99);
  for (const Bytes& source : sources) {
    int caught_by_crc = 0;
    for (int trial = 0; trial < 300; ++trial) {
      Bytes changed = source;
      const std::size_t at = engine() % changed.size();
      changed[at] = static_cast<std::uint8_t>(changed[at] ^ (1u + engine() % 255u));
      caught_by_crc += validate(changed) != Status::kOk ? 1 : 0;
      reseal(changed);
      PayloadView view;
      if (validate_payload(Span<const std::uint8_t>(changed.data(), changed.size()), DecodeLimits{}, &view) ==
          Status::kOk) {
        std::vector<float> out(view.dimension());
        REQUIRE(decode_payload(view, Span<float>(out.data(), out.size())) == Status::kOk);
        for (float value : out) {
          REQUIRE(std::isfinite(value));
        }
      }
    }
    CHECK(caught_by_crc == 300);
  }
}

}  // namespace
}  // namespace ecq
