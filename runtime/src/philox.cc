#include "ecq/runtime/philox.h"

namespace ecq {

std::uint64_t device_stream_id(const char* id, std::size_t size) {
  constexpr std::uint64_t kOffsetBasis = 0xcbf29ce484222325ull;
  constexpr std::uint64_t kPrime = 0x100000001b3ull;
  std::uint64_t hash = kOffsetBasis;
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= static_cast<std::uint8_t>(id[i]);
    hash *= kPrime;
  }
  return hash;
}

}  // namespace ecq
