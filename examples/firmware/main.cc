// Reference firmware for the MPS2 AN386 board (Cortex-M4): runs the
// compressor on the inputs of the "payload golden checksum" test case with
// s = 2, l2 buckets of 384 and automatic encoding
// (tests/runtime/compressor_test.cc), prints the CRC-32C of the last payload
// over semihosting and exits. scripts/cross-test cortex-m4 compares the CRC
// with the one that test pins for x86-64.
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>

#include "ecq/port/log.h"
#include "ecq/runtime/compressor.h"
#include "ecq/runtime/crc32c.h"
#include "ecq/runtime/philox.h"
#include "semihosting.h"

namespace {

constexpr std::uint32_t kDimension = 5000;
constexpr std::uint32_t kRounds = 3;
constexpr std::size_t kArenaBytes = 64 * 1024;
constexpr std::size_t kPayloadBytes = 32 * 1024;

// All buffers are static, so the image's bss shows the memory the run needs
// besides the stack.
alignas(8) std::uint8_t g_arena[kArenaBytes];
alignas(8) std::uint8_t g_payload[kPayloadBytes];
float g_gradient[kDimension];

// The test's portable_vector(): values from integers only, the same on every
// platform.
void make_gradient(std::uint32_t salt, float* values) {
  for (std::uint32_t i = 0; i < kDimension; ++i) {
    const ecq::PhiloxBlock block = ecq::philox4x32(ecq::PhiloxBlock{{i, salt, 0, 0}}, 17, 19);
    values[i] = static_cast<float>(static_cast<std::int32_t>(block.word[0] % 20001u) - 10000) * 1e-4f;
  }
}

void print(const char* format, ...) __attribute__((format(printf, 1, 2)));

void print(const char* format, ...) {
  char line[160];
  va_list arguments;
  va_start(arguments, format);
  std::vsnprintf(line, sizeof line, format, arguments);
  va_end(arguments);
  firmware::semihosting_write(line);
}

}  // namespace

namespace ecq::port {

// The runtime's log lines go to the semihosting console.
void log_write(LogLevel level, const char* message) {
  firmware::semihosting_write(level == LogLevel::kError ? "ecq error: " : "ecq: ");
  firmware::semihosting_write(message);
  firmware::semihosting_write("\n");
}

}  // namespace ecq::port

namespace firmware {

// Called by reset_handler() in startup.cc once memory is set up.
int run() {
  ecq::CompressorConfig config;
  config.dimension = kDimension;
  config.method = ecq::Method::kEcq;
  config.quantizer.bucket_size = 384;
  config.quantizer.levels = 2;
  config.quantizer.norm = ecq::NormKind::kL2;
  config.encoder = ecq::EncoderChoice::kAuto;
  config.use_default_compensation = false;
  config.compensation = ecq::Compensation{0.3f, 0.9f, true};

  const std::size_t arena_bytes = ecq::Compressor::required_arena_bytes(config);
  const std::size_t payload_bytes = ecq::Compressor::max_payload_bytes(config);
  if (arena_bytes == 0 || arena_bytes > kArenaBytes || payload_bytes > kPayloadBytes) {
    // newlib-nano's printf has no z or ll length modifier, hence the casts.
    print("firmware: buffers too small: the arena needs %lu bytes (have %lu), the payload %lu (have %lu)\n",
          static_cast<unsigned long>(arena_bytes), static_cast<unsigned long>(kArenaBytes),
          static_cast<unsigned long>(payload_bytes), static_cast<unsigned long>(kPayloadBytes));
    return 1;
  }

  ecq::Compressor compressor;
  ecq::Status status = compressor.init(config, ecq::Span<std::uint8_t>(g_arena, arena_bytes));
  if (status != ecq::Status::kOk) {
    print("firmware: compressor init failed: %s\n", ecq::status_name(status));
    return 1;
  }

  std::size_t size = 0;
  for (std::uint32_t round = 0; round < kRounds; ++round) {
    make_gradient(round, g_gradient);
    const ecq::StreamKey key{0x1234567890ull, 77, round};
    status = compressor.compress(ecq::Span<const float>(g_gradient, kDimension), key,
                                 ecq::Span<std::uint8_t>(g_payload, payload_bytes), &size);
    if (status != ecq::Status::kOk) {
      print("firmware: compress failed in round %" PRIu32 ": %s\n", round, ecq::status_name(status));
      return 1;
    }
  }

  // The last 4 payload bytes are the payload's own CRC; the test checksums
  // everything before them.
  const std::uint32_t crc = ecq::crc32c(g_payload, size - 4);
  print("firmware: %" PRIu32 " rounds of dimension %" PRIu32 ", last payload %lu bytes\n", kRounds, kDimension,
        static_cast<unsigned long>(size));
  print("payload crc32c %" PRIu32 "\n", crc);
  return 0;
}

}  // namespace firmware
