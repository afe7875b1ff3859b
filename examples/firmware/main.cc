// Reference firmware for the MPS2 AN386 board (Cortex-M4). It runs the
// compressor on the inputs of the "payload golden checksum" test case with
// s = 2, l2 buckets of 384 and automatic encoding
// (tests/runtime/compressor_test.cc) and prints the CRC-32C of the last
// payload over semihosting, then the same with s = 4 and an fp16 error buffer
// ("payload golden checksum with fp16 error buffer"). scripts/cross-test
// cortex-m4 compares both CRCs with the ones the tests pin for x86-64. Then
// it computes a softmax regression gradient on a batch stored in flash
// (softmax_case.h), compresses it and prints the loss, the gradient's CRC-32C
// and the payload's CRC-32C, which scripts/cross-test compares with the host
// test.
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <array>

#include "ecq/port/log.h"
#include "ecq/runtime/compressor.h"
#include "ecq/runtime/crc32c.h"
#include "ecq/runtime/format.h"
#include "ecq/runtime/model.h"
#include "ecq/runtime/philox.h"
#include "semihosting.h"
#include "softmax_case.h"

namespace {

constexpr std::uint32_t kDimension = 5000;
constexpr std::uint32_t kRounds = 3;
constexpr std::size_t kArenaBytes = 64 * 1024;
constexpr std::size_t kPayloadBytes = 32 * 1024;

// All buffers are static, so the image's bss counts them. The arenas are
// sized with margin; run() checks them against required_arena_bytes().
alignas(8) std::uint8_t g_arena[kArenaBytes];
alignas(8) std::uint8_t g_payload[kPayloadBytes];
float g_gradient[kDimension];

constexpr std::uint32_t kInputs = firmware::kSoftmaxInputs;
constexpr std::uint32_t kClasses = firmware::kSoftmaxClasses;
constexpr std::uint32_t kBatchRows = firmware::kSoftmaxRows;
constexpr std::uint32_t kSoftmaxParameters = kClasses * kInputs + kClasses;
constexpr std::size_t kModelArenaBytes = 4 * 1024;
constexpr std::size_t kSoftmaxArenaBytes = 64 * 1024;

// Computed by the compiler, so the batch is stored in flash.
constexpr firmware::SoftmaxFeatures kBatchFeatures = firmware::make_softmax_features();

alignas(8) std::uint8_t g_model_arena[kModelArenaBytes];
alignas(8) std::uint8_t g_softmax_arena[kSoftmaxArenaBytes];
float g_parameters[kSoftmaxParameters];
float g_softmax_gradient[kSoftmaxParameters];

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
  ecq::vformat_printf(line, sizeof line, format, arguments);
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
namespace {

// Computes the softmax regression gradient of the flash batch at small
// nonzero parameters and compresses it with the default ECQ settings.
bool run_softmax() {
  ecq::ModelShape shape;
  shape.kind = ecq::ModelKind::kSoftmax;
  shape.inputs = kInputs;
  shape.classes = kClasses;
  const std::size_t model_bytes = ecq::Model::required_arena_bytes(shape, kBatchRows);
  if (model_bytes == 0 || model_bytes > kModelArenaBytes) {
    print("firmware: the model arena needs %zu bytes, have %zu\n", model_bytes, kModelArenaBytes);
    return false;
  }
  ecq::Model model;
  ecq::Status status = model.init(shape, kBatchRows, ecq::Span<std::uint8_t>(g_model_arena, model_bytes));
  if (status != ecq::Status::kOk) {
    print("firmware: model init failed: %s\n", ecq::status_name(status));
    return false;
  }
  for (std::uint32_t i = 0; i < kSoftmaxParameters; ++i) {
    g_parameters[i] = firmware::softmax_parameter(i);
  }
  ecq::Batch batch;
  batch.features = kBatchFeatures.data();
  batch.labels = firmware::kSoftmaxLabels.data();
  batch.rows = kBatchRows;
  double loss = 0.0;
  status = model.gradient(ecq::Span<const float>(g_parameters, kSoftmaxParameters), batch,
                          ecq::Span<float>(g_softmax_gradient, kSoftmaxParameters), &loss);
  if (status != ecq::Status::kOk) {
    print("firmware: softmax gradient failed: %s\n", ecq::status_name(status));
    return false;
  }

  ecq::CompressorConfig config;
  config.dimension = kSoftmaxParameters;
  const std::size_t arena_bytes = ecq::Compressor::required_arena_bytes(config);
  const std::size_t payload_bytes = ecq::Compressor::max_payload_bytes(config);
  if (arena_bytes == 0 || arena_bytes > kSoftmaxArenaBytes || payload_bytes > kPayloadBytes) {
    print("firmware: buffers too small for the softmax gradient: the arena needs %zu bytes, the payload %zu\n",
          arena_bytes, payload_bytes);
    return false;
  }
  ecq::Compressor compressor;
  status = compressor.init(config, ecq::Span<std::uint8_t>(g_softmax_arena, arena_bytes));
  if (status != ecq::Status::kOk) {
    print("firmware: compressor init for the softmax gradient failed: %s\n", ecq::status_name(status));
    return false;
  }
  std::size_t size = 0;
  status = compressor.compress(ecq::Span<const float>(g_softmax_gradient, kSoftmaxParameters),
                               ecq::StreamKey{1, 2, 3}, ecq::Span<std::uint8_t>(g_payload, payload_bytes), &size);
  if (status != ecq::Status::kOk) {
    print("firmware: compressing the softmax gradient failed: %s\n", ecq::status_name(status));
    return false;
  }
  const std::uint32_t gradient_crc =
      ecq::crc32c(reinterpret_cast<const std::uint8_t*>(g_softmax_gradient), sizeof g_softmax_gradient);
  print("softmax: %" PRIu32 " parameters, batch %" PRIu32 ", loss %.9g, gradient crc32c %" PRIu32
        ", payload %zu bytes\n",
        kSoftmaxParameters, kBatchRows, loss, gradient_crc, size);
  print("softmax payload crc32c %" PRIu32 "\n", ecq::crc32c(g_payload, size - 4));
  return true;
}

// Runs kRounds steps of the "payload golden checksum" inputs through a
// compressor with `config` and stores the CRC-32C of the last payload,
// without its own trailing CRC, as the test computes it.
bool golden_payload_crc(const ecq::CompressorConfig& config, std::uint32_t* crc) {
  const std::size_t arena_bytes = ecq::Compressor::required_arena_bytes(config);
  const std::size_t payload_bytes = ecq::Compressor::max_payload_bytes(config);
  if (arena_bytes == 0 || arena_bytes > kArenaBytes || payload_bytes > kPayloadBytes) {
    print("firmware: buffers too small: the arena needs %zu bytes (have %zu), the payload %zu (have %zu)\n",
          arena_bytes, kArenaBytes, payload_bytes, kPayloadBytes);
    return false;
  }

  ecq::Compressor compressor;
  ecq::Status status = compressor.init(config, ecq::Span<std::uint8_t>(g_arena, arena_bytes));
  if (status != ecq::Status::kOk) {
    print("firmware: compressor init failed: %s\n", ecq::status_name(status));
    return false;
  }

  std::size_t size = 0;
  for (std::uint32_t round = 0; round < kRounds; ++round) {
    make_gradient(round, g_gradient);
    const ecq::StreamKey key{0x1234567890ull, 77, round};
    status = compressor.compress(ecq::Span<const float>(g_gradient, kDimension), key,
                                 ecq::Span<std::uint8_t>(g_payload, payload_bytes), &size);
    if (status != ecq::Status::kOk) {
      print("firmware: compress failed in round %" PRIu32 ": %s\n", round, ecq::status_name(status));
      return false;
    }
  }
  *crc = ecq::crc32c(g_payload, size - 4);
  print("firmware: %" PRIu32 " rounds of dimension %" PRIu32 " with an %s error buffer, last payload %zu bytes\n",
        kRounds, kDimension, ecq::error_buffer_type_name(config.error_buffer), size);
  return true;
}

}  // namespace

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
  std::uint32_t crc = 0;
  if (!golden_payload_crc(config, &crc)) {
    return 1;
  }
  print("payload crc32c %" PRIu32 "\n", crc);

  // The case of "payload golden checksum with fp16 error buffer": s = 4 and
  // the error buffer in binary16.
  config.quantizer.levels = 4;
  config.error_buffer = ecq::ErrorBufferType::kFp16;
  if (!golden_payload_crc(config, &crc)) {
    return 1;
  }
  print("fp16 payload crc32c %" PRIu32 "\n", crc);

  return run_softmax() ? 0 : 1;
}

}  // namespace firmware
