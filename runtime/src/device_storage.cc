// The device client's use of port storage: the error buffer, saved every
// save_every committed updates, and the block of reserved update ids that
// keeps ids unique across restarts. docs/device.md gives the layouts.

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "bits.h"
#include "ecq/port/entropy.h"
#include "ecq/port/storage.h"
#include "ecq/runtime/crc32c.h"
#include "ecq/runtime/device_client.h"
#include "ecq/runtime/log.h"

namespace ecq {
namespace {

constexpr std::uint8_t kBlobMagic[4] = {'E', 'C', 'Q', 'H'};
// Version 2 added the element type at offset 44. Version 1 blobs, with a
// 44-byte header and fp32 elements, are still read.
constexpr std::uint8_t kBlobVersion = 2;
constexpr std::size_t kBlobHeaderBytes = 48;
constexpr std::size_t kBlobHeaderBytesV1 = 44;
constexpr std::size_t kElementTypeOffset = 44;
constexpr std::size_t kCounterBlobBytes = 12;
// Update ids reserved per storage write, so flash sees one write per block.
constexpr std::uint64_t kUpdateIdBlock = 1024;

bool storage_enabled(const DeviceConfig& config) { return config.storage_prefix[0] != '\0'; }

std::size_t header_bytes(std::uint8_t version) { return version == 1 ? kBlobHeaderBytesV1 : kBlobHeaderBytes; }

// Returns the size a blob of `version` must have for `parameters` elements.
std::size_t blob_bytes_read(std::uint8_t version, std::uint32_t parameters, ErrorBufferType type) {
  return DeviceClient::error_blob_bytes(parameters, type) - kBlobHeaderBytes + header_bytes(version);
}

}  // namespace

std::size_t DeviceClient::error_blob_bytes(std::uint32_t parameters, ErrorBufferType type) {
  return kBlobHeaderBytes + error_buffer_element_bytes(type) * static_cast<std::size_t>(parameters) + 4;
}

bool DeviceClient::same_error_settings(const CompressorConfig& a, const CompressorConfig& b) {
  if (a.dimension != b.dimension || a.method != b.method) {
    return false;
  }
  if (a.method != Method::kFp32 &&
      (a.quantizer.bucket_size != b.quantizer.bucket_size || a.quantizer.levels != b.quantizer.levels ||
       a.quantizer.norm != b.quantizer.norm)) {
    return false;
  }
  if ((a.method == Method::kEf || a.method == Method::kEcq) && a.error_buffer != b.error_buffer) {
    return false;
  }
  if (a.method == Method::kEcq) {
    if (a.use_default_compensation != b.use_default_compensation) {
      return false;
    }
    if (!a.use_default_compensation &&
        (a.compensation.alpha != b.compensation.alpha || a.compensation.beta != b.compensation.beta)) {
      return false;
    }
  }
  return true;
}

void DeviceClient::make_blob_names() {
  std::snprintf(error_blob_, sizeof error_blob_, "%serror-buffer", config_.storage_prefix);
  std::snprintf(counter_blob_, sizeof counter_blob_, "%supdate-id", config_.storage_prefix);
}

// Reserves the next block of update ids in storage. Falls back to a random
// start from the port's entropy source when storage is off or fails.
void DeviceClient::restore_update_counter() {
  update_ids_stored_ = false;
  if (storage_enabled(config_)) {
    std::uint8_t blob[kCounterBlobBytes];
    std::size_t size = 0;
    std::uint64_t start = 1;
    const port::PortStatus read = port::storage_read(counter_blob_, blob, sizeof blob, &size);
    if (read == port::PortStatus::kOk && size == kCounterBlobBytes &&
        crc32c(blob, 8) == detail::load_u32(blob + 8)) {
      start = static_cast<std::uint64_t>(detail::load_u32(blob)) |
              static_cast<std::uint64_t>(detail::load_u32(blob + 4)) << 32;
    } else if (read != port::PortStatus::kNotFound) {
      log_message(LogLevel::kWarning, "device %s: update id blob %s is unreadable or corrupt (%s); using a random start",
                  config_.device_id, counter_blob_, port::port_status_name(read));
      start = 0;
    }
    if (start != 0) {
      next_update_id_ = start;
      reserved_until_ = start;
      update_ids_stored_ = true;
      return;  // next_update_id() reserves the first block before using it
    }
  }
  std::uint64_t random = 0;
  if (port::entropy_fill(reinterpret_cast<std::uint8_t*>(&random), sizeof random) != port::PortStatus::kOk) {
    log_message(LogLevel::kError, "device %s: the entropy source failed; update ids may repeat after a restart",
                config_.device_id);
  }
  // The top bit keeps random starts apart from stored counters, which count
  // up from 1.
  next_update_id_ = random | (std::uint64_t{1} << 63);
}

std::uint64_t DeviceClient::next_update_id() {
  if (update_ids_stored_ && next_update_id_ >= reserved_until_) {
    const std::uint64_t until = next_update_id_ + kUpdateIdBlock;
    std::uint8_t blob[kCounterBlobBytes];
    detail::store_u32(blob, static_cast<std::uint32_t>(until));
    detail::store_u32(blob + 4, static_cast<std::uint32_t>(until >> 32));
    detail::store_u32(blob + 8, crc32c(blob, 8));
    const port::PortStatus written = port::storage_write(counter_blob_, blob, sizeof blob);
    if (written == port::PortStatus::kOk) {
      reserved_until_ = until;
    } else {
      log_message(LogLevel::kWarning, "device %s: reserving update ids in %s failed (%s); switching to random ids",
                  config_.device_id, counter_blob_, port::port_status_name(written));
      update_ids_stored_ = false;
      std::uint64_t random = 0;
      (void)port::entropy_fill(reinterpret_cast<std::uint8_t*>(&random), sizeof random);
      next_update_id_ = random | (std::uint64_t{1} << 63);
    }
  }
  return next_update_id_++;
}

// Blob layout, little-endian (docs/device.md):
//   0 magic "ECQH", 4 version 2, 5 model kind, 6 bias, 7 method,
//   8 inputs, 12 classes, 16 hidden, 20 bucket size, 24 levels, 25 norm,
//   26 use default compensation, 27 has last round, 28 alpha, 32 beta,
//   36 dimension, 40 last round id, 44 element type (0 f32, 1 f16),
//   45 three zero bytes, 48 h[dimension], then CRC-32C.
void DeviceClient::save_error_buffer() {
  if (!storage_enabled(config_) || !compressor_ready_ || !compressor_.keeps_error_buffer()) {
    return;  // fp32 and qsgd keep no error buffer
  }
  const CompressorConfig& c = compressor_.config();
  std::uint8_t* blob = blob_buffer();
  std::memset(blob, 0, kBlobHeaderBytes);
  std::memcpy(blob, kBlobMagic, sizeof kBlobMagic);
  blob[4] = kBlobVersion;
  blob[5] = static_cast<std::uint8_t>(config_.shape.kind);
  blob[6] = config_.shape.bias ? 1 : 0;
  blob[7] = static_cast<std::uint8_t>(c.method);
  detail::store_u32(blob + 8, config_.shape.inputs);
  detail::store_u32(blob + 12, config_.shape.classes);
  detail::store_u32(blob + 16, config_.shape.hidden);
  detail::store_u32(blob + 20, c.quantizer.bucket_size);
  blob[24] = static_cast<std::uint8_t>(c.quantizer.levels);
  blob[25] = static_cast<std::uint8_t>(c.quantizer.norm);
  blob[26] = c.use_default_compensation ? 1 : 0;
  blob[27] = has_last_round_ ? 1 : 0;
  detail::store_f32(blob + 28, c.compensation.alpha);
  detail::store_f32(blob + 32, c.compensation.beta);
  detail::store_u32(blob + 36, parameters_);
  detail::store_u32(blob + 40, last_round_);
  blob[kElementTypeOffset] = static_cast<std::uint8_t>(c.error_buffer);
  const Span<const float> h = compressor_.error_buffer();
  for (std::size_t i = 0; i < h.size(); ++i) {
    detail::store_f32(blob + kBlobHeaderBytes + 4 * i, h[i]);
  }
  const Span<const std::uint16_t> h_fp16 = compressor_.error_buffer_fp16();
  for (std::size_t i = 0; i < h_fp16.size(); ++i) {
    blob[kBlobHeaderBytes + 2 * i] = static_cast<std::uint8_t>(h_fp16[i]);
    blob[kBlobHeaderBytes + 2 * i + 1] = static_cast<std::uint8_t>(h_fp16[i] >> 8);
  }
  const std::size_t size = error_blob_bytes(parameters_, c.error_buffer);
  detail::store_u32(blob + size - 4, crc32c(blob, size - 4));
  const port::PortStatus written = port::storage_write(error_blob_, blob, size);
  if (written != port::PortStatus::kOk) {
    log_message(LogLevel::kWarning, "device %s: saving the error buffer to %s failed: %s", config_.device_id,
                error_blob_, port::port_status_name(written));
    return;
  }
  ++counters_.error_buffer_saves;
  log_message(LogLevel::kDebug, "device %s: saved the error buffer (%zu bytes) to %s", config_.device_id, size,
              error_blob_);
}

// Reads the blob into the gradient buffer, which stays unused until the first
// offer configures the compressor; apply_restored_error_buffer() loads it then.
void DeviceClient::restore_error_buffer() {
  restored_ = RestoredBuffer{};
  if (!storage_enabled(config_)) {
    return;
  }
  std::size_t size = 0;
  const port::PortStatus read = port::storage_read(error_blob_, blob_buffer(), footprint_.gradient, &size);
  if (read == port::PortStatus::kNotFound) {
    return;
  }
  const char* problem = nullptr;
  const std::uint8_t* blob = blob_buffer();
  if (read != port::PortStatus::kOk) {
    problem = "it could not be read or is larger than this model's blob";
  } else if (size < kBlobHeaderBytes + 4 || std::memcmp(blob, kBlobMagic, sizeof kBlobMagic) != 0 ||
             (blob[4] != kBlobVersion && blob[4] != 1)) {
    problem = "it is not an error-buffer blob of format version 1 or 2";
  } else if (crc32c(blob, size - 4) != detail::load_u32(blob + size - 4)) {
    problem = "its CRC-32C does not match";
  } else if (blob[4] == 1 && config_.error_buffer != ErrorBufferType::kFp32) {
    problem = "it stores fp32 elements (format version 1) but this device keeps an fp16 error buffer";
  } else if (blob[4] == kBlobVersion && blob[kElementTypeOffset] != static_cast<std::uint8_t>(config_.error_buffer)) {
    problem = config_.error_buffer == ErrorBufferType::kFp16
                  ? "it stores fp32 elements but this device keeps an fp16 error buffer"
                  : "it stores elements other than fp32 (fp16, or an unknown type) but this device keeps an fp32 "
                    "error buffer";
  } else {
    ModelShape shape;
    shape.kind = static_cast<ModelKind>(blob[5]);
    shape.bias = blob[6] != 0;
    shape.inputs = detail::load_u32(blob + 8);
    shape.classes = detail::load_u32(blob + 12);
    shape.hidden = detail::load_u32(blob + 16);
    const ModelShape& mine = config_.shape;
    const bool classified = mine.kind == ModelKind::kSoftmax || mine.kind == ModelKind::kMlp;
    if (shape.kind != mine.kind || shape.inputs != mine.inputs || (classified && shape.classes != mine.classes) ||
        (mine.kind == ModelKind::kMlp && shape.hidden != mine.hidden) ||
        (mine.kind != ModelKind::kMlp && shape.bias != mine.bias) || detail::load_u32(blob + 36) != parameters_ ||
        size != blob_bytes_read(blob[4], parameters_, config_.error_buffer)) {
      problem = "it belongs to another model shape";
    }
  }
  if (problem != nullptr) {
    log_message(LogLevel::kWarning, "device %s: discarded the saved error buffer %s: %s", config_.device_id,
                error_blob_, problem);
    return;
  }
  restored_.present = true;
  restored_.header_bytes = header_bytes(blob[4]);
  restored_.config.dimension = parameters_;
  restored_.config.error_buffer = config_.error_buffer;
  restored_.config.method = static_cast<Method>(blob[7]);
  restored_.config.quantizer.bucket_size = detail::load_u32(blob + 20);
  restored_.config.quantizer.levels = blob[24];
  restored_.config.quantizer.norm = static_cast<NormKind>(blob[25]);
  restored_.config.use_default_compensation = blob[26] != 0;
  restored_.has_last_round = blob[27] != 0;
  restored_.config.compensation.alpha = detail::load_f32(blob + 28);
  restored_.config.compensation.beta = detail::load_f32(blob + 32);
  restored_.last_round = detail::load_u32(blob + 40);
  log_message(LogLevel::kInfo, "device %s: found a saved error buffer in %s for method %s", config_.device_id,
              error_blob_, method_name(restored_.config.method));
}

void DeviceClient::apply_restored_error_buffer(std::uint32_t round_id) {
  if (!restored_.present) {
    return;
  }
  restored_.present = false;
  if (!same_error_settings(restored_.config, compressor_.config())) {
    log_message(LogLevel::kWarning,
                "device %s round %u: discarded the saved error buffer: it belongs to other compressor settings "
                "(method %s, bucket size %u, levels %u)",
                config_.device_id, round_id, method_name(restored_.config.method),
                restored_.config.quantizer.bucket_size, restored_.config.quantizer.levels);
    return;
  }
  // The elements start at offset 48 (44 in version 1) of the 64-byte aligned
  // gradient buffer, so they are aligned for their type. The port stored them
  // little-endian, the layout of every supported target.
  const std::uint8_t* elements = blob_buffer() + restored_.header_bytes;
  const Status loaded =
      compressor_.config().error_buffer == ErrorBufferType::kFp16
          ? compressor_.load_error_buffer_fp16(
                Span<const std::uint16_t>(detail::arena_array<std::uint16_t>(elements), parameters_))
          : compressor_.load_error_buffer(Span<const float>(detail::arena_array<float>(elements), parameters_));
  if (loaded != Status::kOk) {
    log_message(LogLevel::kWarning, "device %s round %u: discarded the saved error buffer: %s", config_.device_id,
                round_id, status_name(loaded));
    return;
  }
  has_last_round_ = restored_.has_last_round;
  last_round_ = restored_.last_round;
  log_message(LogLevel::kInfo, "device %s round %u: restored the saved error buffer", config_.device_id, round_id);
}

}  // namespace ecq
