#include "ecq/port/entropy.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace ecq::port {
namespace {

TEST_CASE("entropy blocks differ") {
  std::array<std::uint8_t, 32> first{};
  std::array<std::uint8_t, 32> second{};
  CHECK(entropy_fill(first.data(), first.size()) == PortStatus::kOk);
  CHECK(entropy_fill(second.data(), second.size()) == PortStatus::kOk);
  CHECK(first != second);
}

TEST_CASE("entropy fills 1 MiB") {
  // Zeros where getrandom() wrote nothing would inflate the count of byte 0.
  // Each value is expected 4096 times with a standard deviation of about 64,
  // so the bounds lie about 9 standard deviations out.
  std::vector<std::uint8_t> buffer(std::size_t{1} << 20, 0);
  REQUIRE(entropy_fill(buffer.data(), buffer.size()) == PortStatus::kOk);
  std::array<int, 256> counts{};
  for (const std::uint8_t byte : buffer) {
    ++counts[byte];
  }
  CHECK(*std::min_element(counts.begin(), counts.end()) >= 3500);
  CHECK(*std::max_element(counts.begin(), counts.end()) <= 4700);
}

TEST_CASE("entropy accepts empty request") { CHECK(entropy_fill(nullptr, 0) == PortStatus::kOk); }

TEST_CASE("entropy rejects null buffer") { CHECK(entropy_fill(nullptr, 16) == PortStatus::kInvalidArgument); }

}  // namespace
}  // namespace ecq::port
