#include "ecq/runtime/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
#define ECQ_CRC32C_X86 1
#endif

namespace ecq {
namespace {

constexpr std::uint32_t kReflectedPolynomial = 0x82F63B78u;

// Table t[k][b] is the CRC of byte b followed by k zero bytes, which lets the
// loop fold 8 input bytes per step ("slicing by 8"). Builds for small flash
// keep only t[0] (1 KiB instead of 8 KiB) and fold one byte per step.
#if ECQ_RUNTIME_SMALL_FLASH
constexpr std::size_t kSlices = 1;
#else
constexpr std::size_t kSlices = 8;
#endif
using SliceTables = std::array<std::array<std::uint32_t, 256>, kSlices>;

constexpr SliceTables make_tables() {
  SliceTables tables{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1u) != 0 ? (crc >> 1) ^ kReflectedPolynomial : crc >> 1;
    }
    tables[0][byte] = crc;
  }
  for (std::size_t k = 1; k < kSlices; ++k) {
    for (std::uint32_t byte = 0; byte < 256; ++byte) {
      const std::uint32_t previous = tables[k - 1][byte];
      tables[k][byte] = (previous >> 8) ^ tables[0][previous & 0xFFu];
    }
  }
  return tables;
}

constexpr SliceTables kTables = make_tables();

std::uint32_t load_le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

#if ECQ_CRC32C_X86
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(const std::uint8_t* data, std::size_t size,
                                                             std::uint32_t crc) {
  std::uint64_t state = ~crc;
  while (size >= 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, data, 8);
    state = _mm_crc32_u64(state, word);
    data += 8;
    size -= 8;
  }
  auto narrow = static_cast<std::uint32_t>(state);
  while (size > 0) {
    narrow = _mm_crc32_u8(narrow, *data);
    ++data;
    --size;
  }
  return ~narrow;
}

bool cpu_has_sse42() {
  static const bool has = __builtin_cpu_supports("sse4.2") != 0;
  return has;
}
#endif

}  // namespace

std::uint32_t crc32c_portable(const std::uint8_t* data, std::size_t size, std::uint32_t crc) {
  crc = ~crc;
  if constexpr (kSlices == 8) {
    while (size >= 8) {
      const std::uint32_t low = load_le32(data) ^ crc;
      const std::uint32_t high = load_le32(data + 4);
      crc = kTables[7][low & 0xFFu] ^ kTables[6][(low >> 8) & 0xFFu] ^ kTables[5][(low >> 16) & 0xFFu] ^
            kTables[4][low >> 24] ^ kTables[3][high & 0xFFu] ^ kTables[2][(high >> 8) & 0xFFu] ^
            kTables[1][(high >> 16) & 0xFFu] ^ kTables[0][high >> 24];
      data += 8;
      size -= 8;
    }
  }
  while (size > 0) {
    crc = (crc >> 8) ^ kTables[0][(crc ^ *data) & 0xFFu];
    ++data;
    --size;
  }
  return ~crc;
}

std::uint32_t crc32c(const std::uint8_t* data, std::size_t size, std::uint32_t crc) {
#if ECQ_CRC32C_X86
  if (cpu_has_sse42()) {
    return crc32c_sse42(data, size, crc);
  }
#endif
  return crc32c_portable(data, size, crc);
}

}  // namespace ecq
