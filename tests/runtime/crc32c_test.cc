#include "ecq/runtime/crc32c.h"

#include <doctest/doctest.h>

#include <cstring>
#include <initializer_list>
#include <vector>

namespace ecq {
namespace {

std::uint32_t crc_of(const char* text) {
  return crc32c(reinterpret_cast<const std::uint8_t*>(text), std::strlen(text));
}

TEST_CASE("crc32c check values") {
  CHECK(crc_of("") == 0x00000000u);
  CHECK(crc_of("123456789") == 0xE3069283u);
  // RFC 3720, appendix B.4: 32 bytes of zeros and 32 bytes of 0xFF.
  const std::vector<std::uint8_t> zeros(32, 0x00);
  const std::vector<std::uint8_t> ones(32, 0xFF);
  CHECK(crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);
  CHECK(crc32c(ones.data(), ones.size()) == 0x62A8AB43u);
}

TEST_CASE("crc32c hardware matches portable") {
  std::vector<std::uint8_t> data(4099);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::uint8_t>(i * 131 + 7);
  }
  for (std::size_t size : {0u, 1u, 7u, 8u, 9u, 63u, 4099u}) {
    CAPTURE(size);
    CHECK(crc32c(data.data(), size) == crc32c_portable(data.data(), size));
  }
}

TEST_CASE("crc32c extends in pieces") {
  std::vector<std::uint8_t> data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::uint8_t>(i);
  }
  const std::uint32_t whole = crc32c(data.data(), data.size());
  const std::uint32_t first = crc32c(data.data(), 333);
  CHECK(crc32c(data.data() + 333, data.size() - 333, first) == whole);
}

}  // namespace
}  // namespace ecq
