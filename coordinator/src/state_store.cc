#include "ecq/coordinator/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "ecq/runtime/crc32c.h"
#include "ecq/runtime/log.h"
#include "file_io.h"

namespace ecq::coordinator {
namespace {

constexpr std::uint32_t kLogMagic = 0x4C514345;        // "ECQL"
constexpr std::uint32_t kSnapshotMagic = 0x53514345;   // "ECQS"
constexpr std::uint32_t kRoundIdsMagic = 0x49514345;   // "ECQI"
constexpr std::uint32_t kSnapshotVersion = 1;
// Header of a log record: magic and body length; a CRC-32C of the body follows it.
constexpr std::size_t kRecordHeaderBytes = 8;

bool decode_record_body(const std::uint8_t* body, std::size_t size, RoundRecord* record) {
  ByteReader reader(body, size);
  record->round_id = reader.u32();
  record->model_version = reader.u64();
  record->server_learning_rate = reader.f32();
  record->momentum = reader.f32();
  const std::uint32_t count = reader.u32();
  record->updates.clear();
  for (std::uint32_t i = 0; i < count && reader.ok(); ++i) {
    AcceptedUpdate update;
    update.device_id = reader.text();
    update.update_id = reader.u64();
    update.samples_used = reader.u32();
    update.weight = reader.f32();
    update.scale = reader.f32();
    const std::uint32_t payload_size = reader.u32();
    const std::uint8_t* payload = reader.raw(payload_size);
    if (payload != nullptr) {
      update.payload.assign(payload, payload + payload_size);
    }
    record->updates.push_back(std::move(update));
  }
  return reader.ok() && reader.remaining() == 0;
}

void encode_records(const std::map<std::string, DeviceRecord>& records, ByteWriter* writer) {
  writer->u32(static_cast<std::uint32_t>(records.size()));
  for (const auto& [device_id, record] : records) {
    writer->text(device_id);
    writer->u32(record.round_id);
    writer->u64(record.update_id);
    // A pending update's round was not applied before this snapshot, and it
    // is not applied after a restart either.
    const protocol::UpdateState state =
        record.state == protocol::UpdateState::kPending ? protocol::UpdateState::kNotApplied : record.state;
    writer->u8(static_cast<std::uint8_t>(state));
  }
}

}  // namespace

std::vector<std::uint8_t> encode_round_record(const RoundRecord& record) {
  ByteWriter body;
  body.u32(record.round_id);
  body.u64(record.model_version);
  body.f32(record.server_learning_rate);
  body.f32(record.momentum);
  body.u32(static_cast<std::uint32_t>(record.updates.size()));
  for (const AcceptedUpdate& update : record.updates) {
    body.text(update.device_id);
    body.u64(update.update_id);
    body.u32(update.samples_used);
    body.f32(update.weight);
    body.f32(update.scale);
    body.u32(static_cast<std::uint32_t>(update.payload.size()));
    body.raw(update.payload.data(), update.payload.size());
  }
  ByteWriter framed;
  framed.u32(kLogMagic);
  framed.u32(static_cast<std::uint32_t>(body.bytes().size()));
  framed.raw(body.bytes().data(), body.bytes().size());
  framed.u32(crc32c(body.bytes().data(), body.bytes().size()));
  return std::move(framed.bytes());
}

StateStore::~StateStore() {
  if (log_fd_ >= 0) {
    ::close(log_fd_);
  }
}

bool StateStore::open(const std::string& directory, bool resume, std::string* error) {
  directory_ = directory;
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = system_error("creating state directory", directory) + "; its parent must exist";
    return false;
  }
  const bool has_state = file_exists(log_path()) || file_exists(snapshot_path()) || file_exists(round_ids_path());
  if (has_state && !resume) {
    *error = "state directory " + directory +
             " already contains a run; pass --resume to continue it or choose an empty directory";
    return false;
  }
  if (!has_state && resume) {
    *error = "--resume was given but state directory " + directory +
             " contains no run (no rounds.log, snapshot.ecqs or round-ids); start without --resume";
    return false;
  }
  log_fd_ = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd_ < 0) {
    *error = system_error("opening", log_path());
    return false;
  }
  return sync_parent_directory(log_path(), error);
}

bool StateStore::recover(const ModelShape& shape, Aggregator* aggregator, ModelState* state,
                         std::map<std::string, DeviceRecord>* records, RecoveryReport* report, std::string* error) {
  *report = RecoveryReport{};
  if (file_exists(snapshot_path())) {
    std::vector<std::uint8_t> bytes;
    if (!read_whole_file(snapshot_path(), &bytes, error)) {
      return false;
    }
    if (bytes.size() < 8 || crc32c(bytes.data(), bytes.size() - 4) !=
                                ByteReader(bytes.data() + bytes.size() - 4, 4).u32()) {
      *error = snapshot_path() + ": CRC-32C mismatch; the snapshot is damaged and the run cannot resume";
      return false;
    }
    ByteReader reader(bytes.data(), bytes.size() - 4);
    const std::uint32_t magic = reader.u32();
    const std::uint32_t version = reader.u32();
    const std::uint8_t kind = reader.u8();
    const std::uint32_t inputs = reader.u32();
    const std::uint32_t classes = reader.u32();
    const std::uint32_t hidden = reader.u32();
    const bool bias = reader.u8() != 0;
    if (magic != kSnapshotMagic || version != kSnapshotVersion) {
      *error = snapshot_path() + ": not a version 1 snapshot";
      return false;
    }
    if (kind != static_cast<std::uint8_t>(shape.kind) || inputs != shape.inputs || classes != shape.classes ||
        hidden != shape.hidden || bias != shape.bias) {
      *error = snapshot_path() + ": the snapshot's model shape differs from the configured one; resume with the "
                                 "same --model, --inputs, --classes and --hidden";
      return false;
    }
    ModelState loaded;
    loaded.model_version = reader.u64();
    loaded.last_round_id = reader.u32();
    const std::uint32_t count = reader.u32();
    if (count != state->model.size()) {
      *error = snapshot_path() + ": parameter count " + std::to_string(count) + " differs from the model's " +
               std::to_string(state->model.size());
      return false;
    }
    loaded.model.resize(count);
    loaded.velocity.resize(count);
    for (float& value : loaded.model) {
      value = reader.f32();
    }
    for (float& value : loaded.velocity) {
      value = reader.f32();
    }
    std::map<std::string, DeviceRecord> loaded_records;
    const std::uint32_t record_count = reader.u32();
    for (std::uint32_t i = 0; i < record_count && reader.ok(); ++i) {
      const std::string device_id = reader.text();
      DeviceRecord record;
      record.round_id = reader.u32();
      record.update_id = reader.u64();
      record.state = static_cast<protocol::UpdateState>(reader.u8());
      loaded_records[device_id] = record;
    }
    if (!reader.ok() || reader.remaining() != 0) {
      *error = snapshot_path() + ": the snapshot's length does not match its contents";
      return false;
    }
    *state = std::move(loaded);
    *records = std::move(loaded_records);
    report->snapshot_version = state->model_version;
  }

  std::vector<std::uint8_t> log;
  if (!read_whole_file(log_path(), &log, error)) {
    return false;
  }
  std::size_t offset = 0;
  while (offset < log.size()) {
    const std::size_t left = log.size() - offset;
    ByteReader header(log.data() + offset, left);
    const std::uint32_t magic = header.u32();
    const std::uint32_t length = header.u32();
    if (left < kRecordHeaderBytes || magic != kLogMagic || length > left - kRecordHeaderBytes ||
        left - kRecordHeaderBytes - length < 4) {
      report->dropped_torn_record = true;
      break;
    }
    const std::uint8_t* body = log.data() + offset + kRecordHeaderBytes;
    const std::uint32_t stored_crc = ByteReader(body + length, 4).u32();
    RoundRecord record;
    if (crc32c(body, length) != stored_crc || !decode_record_body(body, length, &record)) {
      report->dropped_torn_record = true;
      break;
    }
    offset += kRecordHeaderBytes + length + 4;
    if (record.model_version <= state->model_version) {
      continue;  // already in the snapshot
    }
    if (record.model_version != state->model_version + 1) {
      *error = log_path() + ": round " + std::to_string(record.round_id) + " produced model version " +
               std::to_string(record.model_version) + " but the model is at version " +
               std::to_string(state->model_version) + "; the state directory is inconsistent";
      return false;
    }
    if (!aggregator->apply(record.updates, record.server_learning_rate, record.momentum, state, error)) {
      *error = log_path() + ": replaying round " + std::to_string(record.round_id) + " failed: " + *error;
      return false;
    }
    state->last_round_id = record.round_id;
    for (const AcceptedUpdate& update : record.updates) {
      (*records)[update.device_id] = DeviceRecord{record.round_id, update.update_id, protocol::UpdateState::kApplied};
    }
    ++report->replayed_rounds;
  }
  if (report->dropped_torn_record) {
    log_message(LogLevel::kWarning, "state: dropped %zu bytes of a torn record at offset %zu of %s",
                log.size() - offset, offset, log_path().c_str());
    if (::ftruncate(log_fd_, static_cast<off_t>(offset)) != 0 || ::fsync(log_fd_) != 0) {
      *error = system_error("truncating", log_path());
      return false;
    }
  }

  report->reserved_round_limit = state->last_round_id + 1;
  if (file_exists(round_ids_path())) {
    std::vector<std::uint8_t> bytes;
    if (!read_whole_file(round_ids_path(), &bytes, error)) {
      return false;
    }
    ByteReader reader(bytes.data(), bytes.size());
    const std::uint32_t magic = reader.u32();
    const std::uint32_t limit = reader.u32();
    const std::uint32_t stored_crc = reader.u32();
    if (!reader.ok() || magic != kRoundIdsMagic || crc32c(bytes.data(), 8) != stored_crc) {
      *error = round_ids_path() + ": damaged; the run cannot resume without knowing which round ids were offered";
      return false;
    }
    if (limit > report->reserved_round_limit) {
      report->reserved_round_limit = limit;
    }
  }
  return true;
}

bool StateStore::append_round(const RoundRecord& record, std::string* error) {
  const std::vector<std::uint8_t> bytes = encode_round_record(record);
  const std::uint8_t* data = bytes.data();
  std::size_t size = bytes.size();
  while (size > 0) {
    const ssize_t written = ::write(log_fd_, data, size);
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written < 0) {
      *error = system_error("appending to", log_path());
      return false;
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  if (::fdatasync(log_fd_) != 0) {
    *error = system_error("fdatasync of", log_path());
    return false;
  }
  return true;
}

bool StateStore::write_snapshot(const ModelShape& shape, const ModelState& state,
                                const std::map<std::string, DeviceRecord>& records, std::string* error) {
  ByteWriter writer;
  writer.u32(kSnapshotMagic);
  writer.u32(kSnapshotVersion);
  writer.u8(static_cast<std::uint8_t>(shape.kind));
  writer.u32(shape.inputs);
  writer.u32(shape.classes);
  writer.u32(shape.hidden);
  writer.u8(shape.bias ? 1 : 0);
  writer.u64(state.model_version);
  writer.u32(state.last_round_id);
  writer.u32(static_cast<std::uint32_t>(state.model.size()));
  for (const float value : state.model) {
    writer.f32(value);
  }
  for (const float value : state.velocity) {
    writer.f32(value);
  }
  encode_records(records, &writer);
  writer.checksum();
  if (!write_file_atomically(snapshot_path(), writer.bytes(), error)) {
    return false;
  }
  // The snapshot now contains every logged round; a crash before this
  // truncation leaves records that recovery skips by model version.
  if (::ftruncate(log_fd_, 0) != 0 || ::fsync(log_fd_) != 0) {
    *error = system_error("emptying", log_path());
    return false;
  }
  return true;
}

bool StateStore::reserve_round_ids(std::uint32_t limit, std::string* error) {
  ByteWriter writer;
  writer.u32(kRoundIdsMagic);
  writer.u32(limit);
  writer.checksum();
  return write_file_atomically(round_ids_path(), writer.bytes(), error);
}

}  // namespace ecq::coordinator
