// The device's conversation with the coordinator: connection, frames, round
// work and timers. Persistence and update ids are in device_storage.cc.

#include "ecq/runtime/device_client.h"

#include <cmath>
#include <cstring>

#include "bits.h"
#include "ecq/protocol/chunks.h"
#include "ecq/runtime/log.h"
#include "ecq/runtime/philox.h"
#include "ecq/transport/stream.h"

namespace ecq {
namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kReceiveScratchBytes = 1024;
// Room for an encoded frame of the largest fixed-size message.
constexpr std::size_t kFixedFrameBytes = protocol::kMaxFixedBodyBytes + protocol::kFrameOverheadBytes;

std::size_t align_up(std::size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

bool accepts(const DeviceConfig& config, Method method) {
  return (config.methods & protocol::method_bit(method)) != 0;
}

// The quantizer with the largest payload the device accepts: the smallest
// bucket and the most levels.
QuantizerConfig worst_quantizer(const DeviceConfig& config) {
  return QuantizerConfig{config.min_bucket_size, config.max_levels, NormKind::kL2};
}

// The compressor configuration that needs the most memory among those the
// device accepts: an error buffer when ef or ecq is accepted. The entropy
// coder's scratch lives in the gradient buffer (gradient_as_scratch).
CompressorConfig worst_compressor(const DeviceConfig& config, std::uint32_t parameters) {
  CompressorConfig worst;
  worst.dimension = parameters;
  worst.method = accepts(config, Method::kEcq) || accepts(config, Method::kEf) ? Method::kEcq : Method::kQsgd;
  worst.quantizer = worst_quantizer(config);
  worst.encoder = EncoderChoice::kAuto;
  worst.gradient_as_scratch = true;
  worst.error_buffer = config.error_buffer;
  return worst;
}

// The largest payload among the accepted methods: raw floats for fp32, the
// fixed-width body at the smallest bucket and most levels for the others.
std::size_t payload_buffer_bytes(const DeviceConfig& config, std::uint32_t parameters) {
  std::size_t bytes = 0;
  if (accepts(config, Method::kFp32)) {
    bytes = raw_payload_bytes(parameters);
  }
  if ((config.methods & ~protocol::method_bit(Method::kFp32)) != 0) {
    const std::size_t fixed = fixed_width_payload_bytes(parameters, worst_quantizer(config));
    bytes = fixed > bytes ? fixed : bytes;
  }
  return bytes;
}

// The gradient buffer also stages the error-buffer blob while it is saved or
// restored, when no gradient is in use. It fits an fp32 blob also on an fp16
// device, so that restoring one is reported as an element type mismatch
// rather than as an unreadable blob.
std::size_t gradient_buffer_bytes(std::uint32_t parameters) {
  const std::size_t vector = sizeof(float) * parameters;
  const std::size_t blob = DeviceClient::error_blob_bytes(parameters, ErrorBufferType::kFp32);
  return blob > vector ? blob : vector;
}

std::size_t send_body_bytes(const DeviceConfig& config) {
  return config.upload_body_size > protocol::kMaxFixedBodyBytes ? config.upload_body_size
                                                                 : protocol::kMaxFixedBodyBytes;
}

// Byte offsets of every buffer in the arena, relative to its first 64-byte
// aligned address.
struct Layout {
  std::size_t model = 0;
  std::size_t working = 0;
  std::size_t gradient = 0;
  std::size_t model_scratch = 0;
  std::size_t compressor = 0;
  std::size_t payload = 0;
  std::size_t features = 0;
  std::size_t targets = 0;
  std::size_t labels = 0;
  std::size_t frame_reader = 0;
  std::size_t receive_scratch = 0;
  std::size_t out = 0;
  std::size_t end = 0;
  DeviceFootprint footprint;
};

Layout make_layout(const DeviceConfig& config) {
  const std::uint32_t parameters = parameter_count(config.shape);
  const std::size_t vector = align_up(sizeof(float) * parameters);
  Layout layout;
  std::size_t cursor = 0;
  auto carve = [&cursor](std::size_t bytes) {
    const std::size_t offset = cursor;
    cursor += align_up(bytes);
    return offset;
  };
  const std::size_t working = config.allow_local_steps ? vector : 0;
  const std::size_t gradient = align_up(gradient_buffer_bytes(parameters));
  layout.model = carve(vector);
  layout.working = carve(working);
  layout.gradient = carve(gradient);
  const std::size_t scratch_bytes = Model::required_arena_bytes(config.shape, config.max_batch);
  layout.model_scratch = carve(scratch_bytes);
  const std::size_t compressor_bytes = Compressor::required_arena_bytes(worst_compressor(config, parameters));
  layout.compressor = carve(compressor_bytes);
  const std::size_t payload_bytes = payload_buffer_bytes(config, parameters);
  layout.payload = carve(payload_bytes);
  const std::size_t feature_bytes = sizeof(float) * config.max_batch * config.shape.inputs;
  layout.features = carve(feature_bytes);
  layout.targets = carve(sizeof(float) * config.max_batch);
  layout.labels = carve(sizeof(std::int32_t) * config.max_batch);
  const std::size_t reader_bytes = config.max_body_size + protocol::kFrameOverheadBytes;
  layout.frame_reader = carve(reader_bytes);
  layout.receive_scratch = carve(kReceiveScratchBytes);
  const std::size_t out_bytes = send_body_bytes(config) + protocol::kFrameOverheadBytes + 2 * kFixedFrameBytes;
  layout.out = carve(out_bytes);
  layout.end = cursor;

  DeviceFootprint& f = layout.footprint;
  f.model = vector;
  f.working_model = working;
  f.gradient = gradient;
  f.model_scratch = align_up(scratch_bytes);
  f.compressor = align_up(compressor_bytes);
  f.payload = align_up(payload_bytes);
  f.batch = align_up(feature_bytes) + align_up(sizeof(float) * config.max_batch) +
            align_up(sizeof(std::int32_t) * config.max_batch);
  f.receive_frame = align_up(reader_bytes) + kReceiveScratchBytes;
  f.send_frame = align_up(out_bytes);
  f.total = layout.end + kAlignment - 1;
  return layout;
}

bool is_id_character(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Checks a NUL-terminated name of min_size to max_size id characters.
bool valid_name(const char* name, std::size_t capacity, std::size_t min_size, std::size_t max_size) {
  std::size_t size = 0;
  while (size < capacity && name[size] != '\0') {
    if (!is_id_character(name[size])) {
      return false;
    }
    ++size;
  }
  return size < capacity && size >= min_size && size <= max_size;
}

Status invalid(ErrorInfo* error, double found, double limit, const char* subject) {
  if (error != nullptr) {
    *error = ErrorInfo{Status::kInvalidArgument, 0, found, limit, subject};
  }
  return Status::kInvalidArgument;
}

bool same_shape(const ModelShape& a, const ModelShape& b) {
  if (a.kind != b.kind || a.inputs != b.inputs) {
    return false;
  }
  const bool classified = a.kind == ModelKind::kSoftmax || a.kind == ModelKind::kMlp;
  if (classified && a.classes != b.classes) {
    return false;
  }
  if (a.kind == ModelKind::kMlp) {
    return a.hidden == b.hidden;
  }
  return a.bias == b.bias;
}

const char* io_status_text(transport::IoStatus status) {
  switch (status) {
    case transport::IoStatus::kOk:
      return "ok";
    case transport::IoStatus::kWouldBlock:
      return "would block";
    case transport::IoStatus::kClosed:
      return "closed";
    case transport::IoStatus::kError:
      return "error";
  }
  return "unknown";
}

const char* verdict_reason_name(std::uint16_t reason) {
  static const char* const kNames[] = {"none",       "late",         "round closed", "invalid payload",
                                       "norm bound", "duplicate",    "not selected", "internal"};
  return reason < 8 ? kNames[reason] : "unknown";
}

}  // namespace

const char* device_state_name(DeviceState state) {
  switch (state) {
    case DeviceState::kDisconnected:
      return "disconnected";
    case DeviceState::kAwaitStatus:
      return "await status";
    case DeviceState::kIdle:
      return "idle";
    case DeviceState::kAwaitOffer:
      return "await offer";
    case DeviceState::kDownload:
      return "download";
    case DeviceState::kTrain:
      return "train";
    case DeviceState::kUpload:
      return "upload";
    case DeviceState::kAwaitVerdict:
      return "await verdict";
  }
  return "unknown";
}

Status DeviceClient::validate_config(const DeviceConfig& config, ErrorInfo* error) {
  if (!valid_name(config.device_id, sizeof config.device_id, 1, protocol::kMaxDeviceIdBytes)) {
    return invalid(error, 0, protocol::kMaxDeviceIdBytes,
                   "device id must be 1 to 64 characters from A-Z a-z 0-9 . _ -");
  }
  ErrorInfo shape_error;
  if (validate_shape(config.shape, &shape_error) != Status::kOk) {
    if (error != nullptr) {
      *error = shape_error;
    }
    return Status::kInvalidArgument;
  }
  if (config.max_batch == 0) {
    return invalid(error, 0, 1, "max batch must be at least 1 sample");
  }
  if (config.methods == 0 || config.methods > 0x0F) {
    return invalid(error, config.methods, 0x0F, "accepted methods must be a non-empty set of method bits 0 to 3");
  }
  if (config.min_bucket_size == 0) {
    return invalid(error, 0, 1, "minimum bucket size must be at least 1");
  }
  if (config.max_levels == 0 || config.max_levels > 127) {
    return invalid(error, config.max_levels, 127, "maximum quantizer levels must be 1 to 127");
  }
  if (config.error_buffer > ErrorBufferType::kFp16) {
    return invalid(error, static_cast<double>(config.error_buffer), 1, "error buffer type must be kFp32 or kFp16");
  }
  if (config.max_body_size < protocol::kMaxFixedBodyBytes) {
    return invalid(error, config.max_body_size, protocol::kMaxFixedBodyBytes,
                   "max body size must be at least 273 bytes");
  }
  if (config.upload_body_size <= protocol::kUpdateChunkHeaderBytes) {
    return invalid(error, config.upload_body_size, protocol::kUpdateChunkHeaderBytes + 1,
                   "upload body size must be at least 25 bytes");
  }
  const std::uint32_t parameters = parameter_count(config.shape);
  if (protocol::update_chunk_count(payload_buffer_bytes(config, parameters), config.upload_body_size) == 0) {
    return invalid(error, config.upload_body_size, 0,
                   "upload body size is too small: the largest payload would need more than 65535 chunks");
  }
  if (config.heartbeat_interval_ms == 0 || config.idle_timeout_ms == 0) {
    return invalid(error, 0, 1, "heartbeat interval and idle timeout must be at least 1 ms");
  }
  if (config.backoff_min_ms == 0 || config.backoff_max_ms < config.backoff_min_ms) {
    return invalid(error, config.backoff_max_ms, config.backoff_min_ms,
                   "backoff bounds must satisfy 1 <= backoff min <= backoff max (ms)");
  }
  if (config.steps_per_poll == 0) {
    return invalid(error, 0, 1, "steps per poll must be at least 1");
  }
  if (!(config.round_decay > 0.0f && config.round_decay <= 1.0f)) {
    return invalid(error, static_cast<double>(config.round_decay), 1,
                   "round decay must be above 0 and at most 1 (1 = off)");
  }
  if (!valid_name(config.storage_prefix, sizeof config.storage_prefix, 0, 32) || config.storage_prefix[0] == '.') {
    return invalid(error, 0, 32, "storage prefix must be at most 32 characters from A-Z a-z 0-9 . _ - not starting with '.'");
  }
  return Status::kOk;
}

std::size_t DeviceClient::required_arena_bytes(const DeviceConfig& config) {
  if (validate_config(config) != Status::kOk) {
    return 0;
  }
  return make_layout(config).footprint.total;
}

Status DeviceClient::init(const DeviceConfig& config, const DataSource& data, Span<std::uint8_t> arena) {
  initialized_ = false;
  ErrorInfo error;
  if (validate_config(config, &error) != Status::kOk) {
    char text[200];
    describe_error(error, text, sizeof text);
    log_message(LogLevel::kError, "device configuration is invalid: %s", text);
    return Status::kInvalidArgument;
  }
  if (data.fill == nullptr) {
    log_message(LogLevel::kError, "device %s: no data source: set DataSource::fill", config.device_id);
    return Status::kInvalidArgument;
  }
  const Layout layout = make_layout(config);
  if (arena.data() == nullptr || arena.size() < layout.footprint.total) {
    return Status::kBufferTooSmall;
  }
  config_ = config;
  data_ = data;
  parameters_ = parameter_count(config.shape);
  stream_id_ = device_stream_id(config.device_id, std::strlen(config.device_id));

  const auto address = reinterpret_cast<std::uintptr_t>(arena.data());
  std::uint8_t* base = arena.data() + (kAlignment - address % kAlignment) % kAlignment;
  model_ = detail::arena_array<float>(base + layout.model);
  working_ = config.allow_local_steps ? detail::arena_array<float>(base + layout.working) : nullptr;
  gradient_ = detail::arena_array<float>(base + layout.gradient);
  features_ = detail::arena_array<float>(base + layout.features);
  targets_ = detail::arena_array<float>(base + layout.targets);
  labels_ = detail::arena_array<std::int32_t>(base + layout.labels);
  payload_ = base + layout.payload;
  payload_capacity_ = layout.footprint.payload;
  compressor_arena_ = base + layout.compressor;
  compressor_arena_bytes_ = layout.footprint.compressor;
  receive_scratch_ = base + layout.receive_scratch;
  receive_scratch_bytes_ = kReceiveScratchBytes;
  frame_buffer_ = base + layout.frame_reader;
  frame_buffer_bytes_ = config.max_body_size + protocol::kFrameOverheadBytes;
  out_ = base + layout.out;
  out_capacity_ = layout.end - layout.out;
  footprint_ = layout.footprint;

  const Status model_status = model_math_.init(
      config.shape, config.max_batch, Span<std::uint8_t>(base + layout.model_scratch, layout.footprint.model_scratch));
  if (model_status != Status::kOk) {
    return model_status;
  }
  assembler_ = protocol::ModelAssembler(Span<float>(model_, parameters_));
  compressor_ready_ = false;
  state_ = DeviceState::kDisconnected;
  stream_ = nullptr;
  stopped_ = false;
  counters_ = DeviceCounters{};
  pending_ = PendingUpdate{};
  restored_ = RestoredBuffer{};
  has_last_round_ = false;
  commits_since_save_ = 0;
  failures_ = 0;
  next_attempt_ms_ = 0;
  jitter_state_ = config.jitter_seed;

  make_blob_names();
  restore_update_counter();
  restore_error_buffer();
  initialized_ = true;
  log_message(LogLevel::kInfo, "device %s: initialized for %s with %u parameters, %zu arena bytes", config_.device_id,
              model_kind_name(config_.shape.kind), parameters_, footprint_.total);
  return Status::kOk;
}

// --- Connection -------------------------------------------------------------

bool DeviceClient::wants_connection(std::uint64_t now_ms) const {
  return initialized_ && !stopped_ && stream_ == nullptr && now_ms >= next_attempt_ms_;
}

void DeviceClient::on_connected(transport::Stream& stream, std::uint64_t now_ms) {
  if (!initialized_ || stream_ != nullptr) {
    return;
  }
  stream_ = &stream;
  ++counters_.connections;
  out_begin_ = 0;
  out_end_ = 0;
  last_sent_ms_ = now_ms;
  last_received_ms_ = now_ms;
  if (reader_.init(Span<std::uint8_t>(frame_buffer_, frame_buffer_bytes_), config_.max_body_size) != Status::kOk) {
    log_message(LogLevel::kError, "device %s: frame reader init failed", config_.device_id);
    close_session(now_ms, true);
    return;
  }
  log_message(LogLevel::kInfo, "device %s: connected (connection %llu)", config_.device_id,
              static_cast<unsigned long long>(counters_.connections));

  protocol::Hello hello;
  hello.runtime_version = config_.runtime_version;
  hello.model_kinds = protocol::model_kind_bit(config_.shape.kind);
  hello.methods = config_.methods;
  hello.max_body_size = config_.max_body_size;
  if (config_.send_device_id) {
    const std::size_t size = std::strlen(config_.device_id);
    std::memcpy(hello.device_id, config_.device_id, size + 1);
    hello.device_id_size = static_cast<std::uint8_t>(size);
  }
  (void)queue_message(protocol::MessageType::kHello, hello, protocol::encode_hello);

  if (pending_.active) {
    // The verdict of the last update was lost with the old connection: ask
    // before checking in, so the update is neither lost nor counted twice.
    protocol::StatusQuery query{pending_.round_id, pending_.update_id};
    (void)queue_message(protocol::MessageType::kStatusQuery, query, protocol::encode_status_query);
    ++counters_.status_queries;
    state_ = DeviceState::kAwaitStatus;
    log_message(LogLevel::kInfo, "device %s round %u: asking for the status of update %llu", config_.device_id,
                pending_.round_id, static_cast<unsigned long long>(pending_.update_id));
  } else {
    check_in(now_ms);
  }
  flush(now_ms);
}

void DeviceClient::on_connect_failed(std::uint64_t now_ms) {
  ++counters_.connect_failures;
  schedule_reconnect(now_ms);
}

void DeviceClient::on_disconnected(std::uint64_t now_ms) {
  if (stream_ == nullptr) {
    return;
  }
  log_message(LogLevel::kWarning, "device %s: connection lost in state %s", config_.device_id,
              device_state_name(state_));
  close_session(now_ms, true);
}

void DeviceClient::shut_down(std::uint64_t now_ms) {
  stopped_ = true;
  if (stream_ == nullptr) {
    return;
  }
  protocol::Goodbye goodbye;
  goodbye.reason = protocol::GoodbyeReason::kShutdown;
  (void)queue_message(protocol::MessageType::kGoodbye, goodbye, protocol::encode_goodbye);
  log_message(LogLevel::kInfo, "device %s: shutting down", config_.device_id);
  close_session(now_ms, false);
}

void DeviceClient::schedule_reconnect(std::uint64_t now_ms) {
  ++failures_;
  const std::uint32_t doublings = failures_ - 1 < 31 ? failures_ - 1 : 31;
  std::uint64_t base = static_cast<std::uint64_t>(config_.backoff_min_ms) << doublings;
  if (base > config_.backoff_max_ms) {
    base = config_.backoff_max_ms;
  }
  std::uint64_t low = base / 2;
  if (low < config_.backoff_min_ms) {
    low = config_.backoff_min_ms;
  }
  // splitmix64 step: a small seedable generator, so simulations repeat.
  jitter_state_ += 0x9E3779B97F4A7C15ull;
  std::uint64_t z = jitter_state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const std::uint64_t delay = low + z % (base - low + 1);
  next_attempt_ms_ = now_ms + delay;
  log_message(LogLevel::kInfo, "device %s: next connection attempt in %llu ms", config_.device_id,
              static_cast<unsigned long long>(delay));
}

void DeviceClient::close_session(std::uint64_t now_ms, bool failure) {
  if (stream_ != nullptr) {
    flush(now_ms);
    stream_->close();
    stream_ = nullptr;
    ++counters_.disconnects;
  }
  out_begin_ = 0;
  out_end_ = 0;
  if (state_ == DeviceState::kDownload || state_ == DeviceState::kTrain) {
    ++counters_.rounds_abandoned;
    log_message(LogLevel::kWarning, "device %s round %u: round abandoned, the connection closed", config_.device_id,
                offer_.round_id);
  }
  // An update whose upload started stays pending: the next connection asks
  // for its status.
  state_ = DeviceState::kDisconnected;
  declined_round_valid_ = false;
  if (!stopped_) {
    if (!failure) {
      failures_ = 0;
    }
    schedule_reconnect(now_ms);
  }
}

void DeviceClient::protocol_error(const ErrorInfo& error, std::uint64_t now_ms) {
  char text[200];
  describe_error(error, text, sizeof text);
  log_message(LogLevel::kError, "device %s: invalid frame or message from the coordinator, closing: %s",
              config_.device_id, text);
  ++counters_.protocol_errors;
  protocol::Goodbye goodbye;
  goodbye.reason = protocol::GoodbyeReason::kProtocolError;
  (void)queue_message(protocol::MessageType::kGoodbye, goodbye, protocol::encode_goodbye);
  close_session(now_ms, true);
}

void DeviceClient::unexpected_message(std::uint8_t type, std::uint64_t now_ms) {
  log_message(LogLevel::kError, "device %s: unexpected %s from the coordinator in state %s, closing",
              config_.device_id, protocol::message_type_name(type), device_state_name(state_));
  ++counters_.protocol_errors;
  protocol::Goodbye goodbye;
  goodbye.reason = protocol::GoodbyeReason::kProtocolError;
  (void)queue_message(protocol::MessageType::kGoodbye, goodbye, protocol::encode_goodbye);
  close_session(now_ms, true);
}

// --- Poll and timers ----------------------------------------------------------

void DeviceClient::poll(std::uint64_t now_ms) {
  if (!initialized_ || stream_ == nullptr) {
    return;
  }
  read_frames(now_ms);
  if (stream_ == nullptr) {
    return;
  }
  run_timers(now_ms);
  if (stream_ == nullptr) {
    return;
  }
  if (state_ == DeviceState::kTrain) {
    train_slice(now_ms);
  }
  if (state_ == DeviceState::kUpload) {
    send_update_chunks();
  }
  // A heartbeat is due when nothing at all was queued for the interval.
  if (now_ms - last_sent_ms_ >= config_.heartbeat_interval_ms && out_end_ == out_begin_) {
    protocol::Heartbeat heartbeat{now_ms};
    if (queue_message(protocol::MessageType::kHeartbeat, heartbeat, protocol::encode_heartbeat)) {
      ++counters_.heartbeats_sent;
    }
  }
  flush(now_ms);
}

void DeviceClient::run_timers(std::uint64_t now_ms) {
  if (now_ms - last_received_ms_ >= config_.idle_timeout_ms) {
    log_message(LogLevel::kWarning, "device %s: nothing received for %u ms, closing the connection",
                config_.device_id, config_.idle_timeout_ms);
    ++counters_.idle_timeouts;
    protocol::Goodbye goodbye;
    goodbye.reason = protocol::GoodbyeReason::kTimeout;
    (void)queue_message(protocol::MessageType::kGoodbye, goodbye, protocol::encode_goodbye);
    close_session(now_ms, true);
    return;
  }
  if (state_ == DeviceState::kIdle && now_ms >= idle_until_ms_) {
    check_in(now_ms);
  }
}

std::uint64_t DeviceClient::next_wakeup_ms(std::uint64_t now_ms) const {
  if (!initialized_ || stopped_) {
    return now_ms + config_.heartbeat_interval_ms;
  }
  if (stream_ == nullptr) {
    return next_attempt_ms_ > now_ms ? next_attempt_ms_ : now_ms;
  }
  if (state_ == DeviceState::kTrain || (state_ == DeviceState::kUpload && out_end_ == out_begin_)) {
    return now_ms;
  }
  std::uint64_t wakeup = last_sent_ms_ + config_.heartbeat_interval_ms;
  const std::uint64_t idle = last_received_ms_ + config_.idle_timeout_ms;
  if (idle < wakeup) {
    wakeup = idle;
  }
  if (state_ == DeviceState::kIdle && idle_until_ms_ < wakeup) {
    wakeup = idle_until_ms_;
  }
  return wakeup > now_ms ? wakeup : now_ms;
}

void DeviceClient::set_available(bool available) {
  available_ = available;
  if (available && state_ == DeviceState::kIdle && awaiting_availability_) {
    idle_until_ms_ = 0;  // check in at the next poll()
  }
}

void DeviceClient::check_in(std::uint64_t now_ms) {
  (void)now_ms;
  if (!available_) {
    // Stay connected without asking for work until set_available(true).
    state_ = DeviceState::kIdle;
    awaiting_availability_ = true;
    idle_until_ms_ = UINT64_MAX;
    return;
  }
  awaiting_availability_ = false;
  protocol::CheckIn message{config_.available_ms};
  (void)queue_message(protocol::MessageType::kCheckIn, message, protocol::encode_check_in);
  state_ = DeviceState::kAwaitOffer;
}

// --- Output -------------------------------------------------------------------

// Encodes the body where its frame goes in the output buffer, then frames it
// in place, so no separate body buffer is needed.
template <typename Message, typename Encoder>
bool DeviceClient::queue_message(protocol::MessageType type, const Message& message, Encoder encode) {
  const char* name = protocol::message_type_name(static_cast<std::uint8_t>(type));
  std::size_t size = 0;
  ErrorInfo error;
  Status status = Status::kBufferTooSmall;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::size_t room = out_capacity_ - out_end_;
    if (room > protocol::kFrameOverheadBytes) {
      status = encode(message, out_ + out_end_ + protocol::kFrameHeaderBytes, room - protocol::kFrameOverheadBytes,
                      &size, &error);
    }
    if (status != Status::kBufferTooSmall || out_begin_ == 0) {
      break;
    }
    // Move the unsent bytes to the front and try again.
    std::memmove(out_, out_ + out_begin_, out_end_ - out_begin_);
    out_end_ -= out_begin_;
    out_begin_ = 0;
  }
  if (status == Status::kBufferTooSmall && out_end_ > 0) {
    return false;  // the output buffer is full; flush() makes room and the next poll continues
  }
  if (status != Status::kOk) {
    char text[200];
    describe_error(error, text, sizeof text);
    log_message(LogLevel::kError, "device %s: encoding a %s failed: %s", config_.device_id, name, text);
    return false;
  }
  std::uint8_t* frame = out_ + out_end_;
  std::size_t written = 0;
  if (protocol::encode_frame(static_cast<std::uint8_t>(type), frame + protocol::kFrameHeaderBytes, size, frame,
                             out_capacity_ - out_end_, &written, &error) != Status::kOk) {
    char text[200];
    describe_error(error, text, sizeof text);
    log_message(LogLevel::kError, "device %s: framing a %s failed: %s", config_.device_id, name, text);
    return false;
  }
  out_end_ += written;
  if (type == protocol::MessageType::kUpdateChunk) {
    counters_.update_bytes_sent += written;
  } else {
    counters_.other_bytes_sent += written;
  }
  return true;
}

void DeviceClient::flush(std::uint64_t now_ms) {
  while (stream_ != nullptr && out_end_ > out_begin_) {
    std::size_t done = 0;
    const transport::IoStatus status = stream_->write(out_ + out_begin_, out_end_ - out_begin_, &done);
    if (status == transport::IoStatus::kWouldBlock) {
      return;
    }
    if (status != transport::IoStatus::kOk) {
      log_message(LogLevel::kWarning, "device %s: sending failed (%s): %s", config_.device_id,
                  io_status_text(status), stream_->error_message());
      out_begin_ = out_end_;
      return;
    }
    out_begin_ += done;
    last_sent_ms_ = now_ms;
  }
  if (out_begin_ == out_end_) {
    out_begin_ = 0;
    out_end_ = 0;
  }
}

void DeviceClient::send_update_chunks() {
  const Span<const std::uint8_t> payload(payload_, pending_.payload_size);
  while (pending_.next_chunk < pending_.chunk_count) {
    protocol::UpdateChunk chunk;
    if (protocol::make_update_chunk(pending_.round_id, pending_.update_id, pending_.samples, payload,
                                    config_.upload_body_size, pending_.next_chunk, &chunk) != Status::kOk) {
      log_message(LogLevel::kError, "device %s round %u: cutting update chunk %u failed", config_.device_id,
                  pending_.round_id, pending_.next_chunk);
      return;
    }
    if (!queue_message(protocol::MessageType::kUpdateChunk, chunk, protocol::encode_update_chunk)) {
      return;  // the output buffer is full; the next poll continues
    }
    ++pending_.next_chunk;
  }
  ++counters_.updates_sent;
  state_ = DeviceState::kAwaitVerdict;
  log_message(LogLevel::kInfo, "device %s round %u: sent update %llu (%zu bytes in %u chunks)", config_.device_id,
              pending_.round_id, static_cast<unsigned long long>(pending_.update_id), pending_.payload_size,
              pending_.chunk_count);
}

// --- Input --------------------------------------------------------------------

void DeviceClient::read_frames(std::uint64_t now_ms) {
  while (stream_ != nullptr) {
    std::size_t received = 0;
    const transport::IoStatus status = stream_->read(receive_scratch_, receive_scratch_bytes_, &received);
    if (status == transport::IoStatus::kWouldBlock) {
      return;
    }
    if (status != transport::IoStatus::kOk) {
      if (status == transport::IoStatus::kClosed) {
        log_message(LogLevel::kWarning, "device %s: the coordinator closed the connection in state %s",
                    config_.device_id, device_state_name(state_));
      } else {
        log_message(LogLevel::kWarning, "device %s: receiving failed: %s", config_.device_id,
                    stream_->error_message());
      }
      close_session(now_ms, true);
      return;
    }
    if (received == 0) {
      return;
    }
    last_received_ms_ = now_ms;
    std::size_t offset = 0;
    while (stream_ != nullptr && offset < received) {
      std::size_t consumed = 0;
      Status fed = reader_.feed(receive_scratch_ + offset, received - offset, &consumed);
      offset += consumed;
      const bool stalled = fed == Status::kOk && consumed == 0;
      protocol::FrameView frame;
      while (fed == Status::kOk && stream_ != nullptr && (fed = reader_.next(&frame)) == Status::kOk) {
        handle_frame(frame, now_ms);
      }
      if (stream_ != nullptr && fed != Status::kOk && fed != Status::kTruncatedPayload) {
        protocol_error(reader_.last_error(), now_ms);
        return;
      }
      if (stalled && fed == Status::kTruncatedPayload) {
        // NOTE: unreachable while the reader's buffer holds a whole frame of
        // max_body_size, which init() guarantees; kept so a bug cannot spin.
        ErrorInfo full{Status::kBufferTooSmall, 0, 0, 0, "frame reader buffer"};
        protocol_error(full, now_ms);
        return;
      }
    }
  }
}

void DeviceClient::handle_frame(const protocol::FrameView& frame, std::uint64_t now_ms) {
  const std::size_t frame_bytes = frame.body_size + protocol::kFrameOverheadBytes;
  if (frame.type == static_cast<std::uint8_t>(protocol::MessageType::kModelChunk)) {
    counters_.model_bytes_received += frame_bytes;
  } else {
    counters_.other_bytes_received += frame_bytes;
  }
  ErrorInfo error;
  if (protocol::check_message_type(frame.type, &error) != Status::kOk) {
    protocol_error(error, now_ms);
    return;
  }
  switch (static_cast<protocol::MessageType>(frame.type)) {
    case protocol::MessageType::kRoundOffer:
      handle_offer(frame, now_ms);
      break;
    case protocol::MessageType::kModelChunk:
      handle_model_chunk(frame, now_ms);
      break;
    case protocol::MessageType::kVerdict:
      handle_verdict(frame, now_ms);
      break;
    case protocol::MessageType::kStatusAnswer:
      handle_status_answer(frame, now_ms);
      break;
    case protocol::MessageType::kGoodbye:
      handle_goodbye(frame, now_ms);
      return;
    case protocol::MessageType::kHeartbeat: {
      protocol::Heartbeat heartbeat;
      if (protocol::decode_heartbeat(frame.body, frame.body_size, &heartbeat, &error) != Status::kOk) {
        protocol_error(error, now_ms);
        return;
      }
      break;
    }
    default:
      unexpected_message(frame.type, now_ms);
      return;
  }
  if (stream_ != nullptr) {
    failures_ = 0;  // the coordinator answers: the next disconnect starts the backoff over
  }
}

void DeviceClient::handle_goodbye(const protocol::FrameView& frame, std::uint64_t now_ms) {
  protocol::Goodbye goodbye;
  ErrorInfo error;
  if (protocol::decode_goodbye(frame.body, frame.body_size, &goodbye, &error) != Status::kOk) {
    protocol_error(error, now_ms);
    return;
  }
  ++counters_.goodbyes_received;
  const LogLevel level = goodbye.reason == protocol::GoodbyeReason::kNone ||
                                 goodbye.reason == protocol::GoodbyeReason::kShutdown
                             ? LogLevel::kInfo
                             : LogLevel::kError;
  log_message(level, "device %s: the coordinator said goodbye, reason %u (%s): %.*s", config_.device_id,
              static_cast<unsigned>(goodbye.reason), goodbye_reason_name(goodbye.reason),
              static_cast<int>(goodbye.text_size), goodbye.text != nullptr ? goodbye.text : "");
  // The coordinator sends nothing after goodbye, so the device answers none.
  out_begin_ = out_end_;
  close_session(now_ms, true);
}

void DeviceClient::handle_offer(const protocol::FrameView& frame, std::uint64_t now_ms) {
  protocol::RoundOffer offer;
  ErrorInfo error;
  if (protocol::decode_round_offer(frame.body, frame.body_size, &offer, &error) != Status::kOk) {
    protocol_error(error, now_ms);
    return;
  }
  if (state_ != DeviceState::kAwaitOffer) {
    unexpected_message(frame.type, now_ms);
    return;
  }
  ++counters_.offers_received;
  offer_ = offer;
  offer_deadline_ms_ = now_ms + offer.deadline_ms;
  if (!check_offer(offer) || !configure_compressor(offer)) {
    decline("the offer does not fit this device", offer.deadline_ms, now_ms);
    ++counters_.offers_declined;
    return;
  }
  log_message(LogLevel::kInfo, "device %s round %u: offer accepted (%s, %u local steps, batch %u, %s)",
              config_.device_id, offer.round_id, model_kind_name(offer.shape.kind), offer.local_steps,
              offer.batch_size, method_name(offer.compressor.method));
  assembler_.start(offer.round_id, offer.model_chunk_count);
  state_ = DeviceState::kDownload;
}

void DeviceClient::handle_model_chunk(const protocol::FrameView& frame, std::uint64_t now_ms) {
  protocol::ModelChunk chunk;
  ErrorInfo error;
  if (protocol::decode_model_chunk(frame.body, frame.body_size, &chunk, &error) != Status::kOk) {
    protocol_error(error, now_ms);
    return;
  }
  if (state_ != DeviceState::kDownload) {
    // The chunks of a declined round still arrive; they are skipped.
    const bool declined = declined_round_valid_ && chunk.round_id == declined_round_ &&
                          (state_ == DeviceState::kIdle || state_ == DeviceState::kAwaitOffer);
    if (!declined) {
      unexpected_message(frame.type, now_ms);
    }
    return;
  }
  bool complete = false;
  if (assembler_.add(chunk, &complete, &error) != Status::kOk) {
    protocol_error(error, now_ms);
    return;
  }
  if (complete) {
    steps_done_ = 0;
    samples_used_ = 0;
    state_ = DeviceState::kTrain;
  }
}

void DeviceClient::handle_verdict(const protocol::FrameView& frame, std::uint64_t now_ms) {
  protocol::Verdict verdict;
  ErrorInfo error;
  if (protocol::decode_verdict(frame.body, frame.body_size, &verdict, &error) != Status::kOk) {
    protocol_error(error, now_ms);
    return;
  }
  if (!pending_.active || verdict.round_id != pending_.round_id || verdict.update_id != pending_.update_id) {
    // Already resolved (a status answer came first) or never sent: taking it
    // again would count or roll back the update twice.
    log_message(LogLevel::kWarning, "device %s round %u: ignored a verdict for update %llu, which is not pending",
                config_.device_id, verdict.round_id, static_cast<unsigned long long>(verdict.update_id));
    return;
  }
  if (verdict.applied) {
    log_message(LogLevel::kInfo, "device %s round %u: update %llu applied", config_.device_id, verdict.round_id,
                static_cast<unsigned long long>(verdict.update_id));
  } else {
    log_message(LogLevel::kWarning, "device %s round %u: update %llu not applied, reason %u (%s)%s%.*s",
                config_.device_id, verdict.round_id, static_cast<unsigned long long>(verdict.update_id),
                static_cast<unsigned>(verdict.reason), verdict_reason_name(static_cast<std::uint16_t>(verdict.reason)),
                verdict.text_size > 0 ? ": " : "", static_cast<int>(verdict.text_size),
                verdict.text != nullptr ? verdict.text : "");
  }
  resolve_pending(verdict.applied, static_cast<std::uint16_t>(verdict.reason), now_ms);
}

void DeviceClient::handle_status_answer(const protocol::FrameView& frame, std::uint64_t now_ms) {
  protocol::StatusAnswer answer;
  ErrorInfo error;
  if (protocol::decode_status_answer(frame.body, frame.body_size, &answer, &error) != Status::kOk) {
    protocol_error(error, now_ms);
    return;
  }
  if (!pending_.active || answer.round_id != pending_.round_id || answer.update_id != pending_.update_id) {
    log_message(LogLevel::kWarning, "device %s round %u: ignored a status answer for update %llu, which is not pending",
                config_.device_id, answer.round_id, static_cast<unsigned long long>(answer.update_id));
    return;
  }
  if (answer.state == protocol::UpdateState::kPending) {
    log_message(LogLevel::kInfo, "device %s round %u: update %llu is pending, waiting for its verdict",
                config_.device_id, answer.round_id, static_cast<unsigned long long>(answer.update_id));
    state_ = DeviceState::kAwaitVerdict;
    return;
  }
  const bool applied = answer.state == protocol::UpdateState::kApplied;
  log_message(applied ? LogLevel::kInfo : LogLevel::kWarning, "device %s round %u: status of update %llu: %s",
              config_.device_id, answer.round_id, static_cast<unsigned long long>(answer.update_id),
              applied ? "applied" : "not applied");
  resolve_pending(applied, 0, now_ms);
}

// --- Round work -----------------------------------------------------------------

bool DeviceClient::check_offer(const protocol::RoundOffer& offer) const {
  const char* id = config_.device_id;
  if (!same_shape(offer.shape, config_.shape)) {
    log_message(LogLevel::kWarning,
                "device %s round %u: declined: offered model %s with %u inputs, %u classes, %u hidden; this device "
                "runs %s with %u inputs, %u classes, %u hidden",
                id, offer.round_id, model_kind_name(offer.shape.kind), offer.shape.inputs, offer.shape.classes,
                offer.shape.hidden, model_kind_name(config_.shape.kind), config_.shape.inputs, config_.shape.classes,
                config_.shape.hidden);
    return false;
  }
  if (offer.local_steps > 0 && !config_.allow_local_steps) {
    log_message(LogLevel::kWarning,
                "device %s round %u: declined: the offer asks for %u local steps, but this device trains one gradient "
                "per round (allow_local_steps is off)",
                id, offer.round_id, offer.local_steps);
    return false;
  }
  if (offer.batch_size > config_.max_batch) {
    log_message(LogLevel::kWarning, "device %s round %u: declined: batch size %u exceeds this device's max batch %u",
                id, offer.round_id, offer.batch_size, config_.max_batch);
    return false;
  }
  const Method method = offer.compressor.method;
  if ((config_.methods & protocol::method_bit(method)) == 0) {
    log_message(LogLevel::kWarning, "device %s round %u: declined: compressor method %s is not supported", id,
                offer.round_id, method_name(method));
    return false;
  }
  if (method != Method::kFp32 && (offer.compressor.quantizer.bucket_size < config_.min_bucket_size ||
                                  offer.compressor.quantizer.levels > config_.max_levels)) {
    log_message(LogLevel::kWarning,
                "device %s round %u: declined: bucket size %u and levels %u exceed the buffers sized for bucket size "
                ">= %u and levels <= %u",
                id, offer.round_id, offer.compressor.quantizer.bucket_size, offer.compressor.quantizer.levels,
                config_.min_bucket_size, config_.max_levels);
    return false;
  }
  return true;
}

bool DeviceClient::configure_compressor(const protocol::RoundOffer& offer) {
  CompressorConfig wanted;
  wanted.dimension = parameters_;
  wanted.method = offer.compressor.method;
  wanted.quantizer = offer.compressor.quantizer;
  wanted.encoder = offer.compressor.encoder;
  wanted.use_default_compensation = offer.compressor.use_default_compensation;
  wanted.compensation = Compensation{offer.compressor.alpha, offer.compressor.beta, false};
  wanted.gradient_as_scratch = true;
  wanted.error_buffer = config_.error_buffer;
  if (Compressor::required_arena_bytes(wanted) > compressor_arena_bytes_ ||
      Compressor::max_payload_bytes(wanted) > payload_capacity_) {
    log_message(LogLevel::kWarning, "device %s round %u: declined: the compressor settings need larger buffers",
                config_.device_id, offer.round_id);
    return false;
  }
  if (compressor_ready_ && same_error_settings(compressor_.config(), wanted)) {
    if (compressor_.config().encoder == wanted.encoder) {
      return true;
    }
    // Only the encoder changed, which leaves h valid. The device's compressor
    // borrows the gradient as coder scratch, so any encoder fits its arena.
    return compressor_.set_encoder(wanted.encoder) == Status::kOk;
  }
  if (compressor_.init(wanted, Span<std::uint8_t>(compressor_arena_, compressor_arena_bytes_)) != Status::kOk) {
    char text[200];
    describe_error(compressor_.last_error(), text, sizeof text);
    log_message(LogLevel::kWarning, "device %s round %u: declined: the offered compressor settings are invalid: %s",
                config_.device_id, offer.round_id, text);
    return false;
  }
  if (compressor_ready_) {
    ++counters_.error_buffer_resets;
    log_message(LogLevel::kInfo, "device %s round %u: compressor settings changed; the error buffer restarts at zero",
                config_.device_id, offer.round_id);
  }
  compressor_ready_ = true;
  apply_restored_error_buffer(offer.round_id);
  return true;
}

void DeviceClient::decline(const char* why, std::uint32_t deadline_ms, std::uint64_t now_ms) {
  log_message(LogLevel::kInfo, "device %s round %u: %s; checking in again in %u ms", config_.device_id,
              offer_.round_id, why, deadline_ms);
  declined_round_valid_ = true;
  declined_round_ = offer_.round_id;
  idle_until_ms_ = now_ms + deadline_ms;
  state_ = DeviceState::kIdle;
}

void DeviceClient::abandon_round(const char* why, std::uint64_t now_ms) {
  ++counters_.rounds_abandoned;
  const std::uint64_t remaining = offer_deadline_ms_ > now_ms ? offer_deadline_ms_ - now_ms : 0;
  decline(why, static_cast<std::uint32_t>(remaining), now_ms);
}

bool DeviceClient::next_batch(std::uint32_t rows, Batch* batch) {
  std::uint32_t filled = 0;
  const std::uint32_t inputs = config_.shape.inputs;
  const Status status = data_.fill(data_.context, rows, Span<float>(features_, std::size_t{rows} * inputs),
                                   Span<float>(targets_, rows), Span<std::int32_t>(labels_, rows), &filled);
  if (status != Status::kOk || filled == 0 || filled > rows) {
    log_message(LogLevel::kError, "device %s round %u: the data source failed (%s, %u of %u rows)", config_.device_id,
                offer_.round_id, status_name(status), filled, rows);
    return false;
  }
  batch->features = features_;
  batch->targets = targets_;
  batch->labels = labels_;
  batch->rows = filled;
  samples_used_ += filled;
  return true;
}

void DeviceClient::train_slice(std::uint64_t now_ms) {
  const Span<float> gradient(gradient_, parameters_);
  if (offer_.local_steps == 0) {
    Batch batch;
    if (!next_batch(offer_.batch_size, &batch)) {
      abandon_round("training failed", now_ms);
      return;
    }
    if (model_math_.gradient(Span<const float>(model_, parameters_), batch, gradient) != Status::kOk) {
      char text[200];
      describe_error(model_math_.last_error(), text, sizeof text);
      log_message(LogLevel::kError, "device %s round %u: gradient failed: %s", config_.device_id, offer_.round_id,
                  text);
      abandon_round("training failed", now_ms);
      return;
    }
    finish_training(now_ms);
    return;
  }
  if (steps_done_ == 0) {
    std::memcpy(working_, model_, sizeof(float) * parameters_);
  }
  const float rate = offer_.learning_rate;
  for (std::uint32_t step = 0; step < config_.steps_per_poll && steps_done_ < offer_.local_steps; ++step) {
    Batch batch;
    if (!next_batch(offer_.batch_size, &batch)) {
      abandon_round("training failed", now_ms);
      return;
    }
    if (model_math_.gradient(Span<const float>(working_, parameters_), batch, gradient) != Status::kOk) {
      char text[200];
      describe_error(model_math_.last_error(), text, sizeof text);
      log_message(LogLevel::kError, "device %s round %u: local step %u failed: %s", config_.device_id,
                  offer_.round_id, steps_done_, text);
      abandon_round("training failed", now_ms);
      return;
    }
    for (std::uint32_t i = 0; i < parameters_; ++i) {
      working_[i] -= rate * gradient_[i];
    }
    ++steps_done_;
  }
  if (steps_done_ < offer_.local_steps) {
    return;
  }
  // The FedAvg update is w_start - w_end (docs/protocol.md, sign convention).
  for (std::uint32_t i = 0; i < parameters_; ++i) {
    gradient_[i] = model_[i] - working_[i];
  }
  finish_training(now_ms);
}

void DeviceClient::finish_training(std::uint64_t now_ms) {
  apply_round_decay(offer_.round_id);
  const std::uint64_t update_id = next_update_id();
  std::size_t size = 0;
  const StreamKey key{offer_.run_seed, stream_id_, offer_.round_id};
  if (compressor_.compress_reusing_gradient(Span<float>(gradient_, parameters_), key,
                                            Span<std::uint8_t>(payload_, payload_capacity_), &size) != Status::kOk) {
    char text[200];
    describe_error(compressor_.last_error(), text, sizeof text);
    log_message(LogLevel::kError, "device %s round %u: compression failed: %s", config_.device_id, offer_.round_id,
                text);
    abandon_round("compression failed", now_ms);
    return;
  }
  has_last_round_ = true;
  last_round_ = offer_.round_id;
  ++counters_.rounds_trained;
  pending_ = PendingUpdate{};
  pending_.active = true;
  pending_.round_id = offer_.round_id;
  pending_.update_id = update_id;
  pending_.samples = samples_used_ > 0xFFFFFFFFull ? 0xFFFFFFFFu : static_cast<std::uint32_t>(samples_used_);
  pending_.payload_size = size;
  pending_.chunk_count = protocol::update_chunk_count(size, config_.upload_body_size);
  state_ = DeviceState::kUpload;
}

void DeviceClient::resolve_pending(bool applied, std::uint16_t reason, std::uint64_t now_ms) {
  pending_.active = false;
  if (applied) {
    ++counters_.updates_applied;
    ++commits_since_save_;
    if (config_.save_every != 0 && commits_since_save_ >= config_.save_every) {
      save_error_buffer();
      commits_since_save_ = 0;
    }
  } else {
    ++counters_.updates_not_applied;
    ++counters_.not_applied_by_reason[reason < 8 ? reason : 7];
    // The update did not count, so its whole gradient becomes error again.
    if (compressor_.rollback(Span<const std::uint8_t>(payload_, pending_.payload_size)) != Status::kOk) {
      char text[200];
      describe_error(compressor_.last_error(), text, sizeof text);
      log_message(LogLevel::kError, "device %s round %u: rollback failed: %s", config_.device_id, pending_.round_id,
                  text);
    }
  }
  if (state_ == DeviceState::kAwaitVerdict || state_ == DeviceState::kAwaitStatus ||
      state_ == DeviceState::kUpload) {
    check_in(now_ms);
  }
}

void DeviceClient::apply_round_decay(std::uint32_t round_id) {
  if (config_.round_decay >= 1.0f || !has_last_round_ || round_id <= last_round_ + 1u || round_id <= last_round_) {
    return;
  }
  if (!compressor_.keeps_error_buffer()) {
    return;
  }
  const std::uint32_t missed = round_id - last_round_ - 1u;
  const float factor = static_cast<float>(std::pow(static_cast<double>(config_.round_decay), missed));
  if (compressor_.scale_error_buffer(factor) == Status::kOk) {
    log_message(LogLevel::kInfo, "device %s round %u: error buffer decayed by %g for %u missed rounds",
                config_.device_id, round_id, static_cast<double>(factor), missed);
  }
}

}  // namespace ecq
