#pragma once
// The coordinator's state directory, which makes every applied round durable
// before its "applied" verdicts go out:
//
//   DIR/rounds.log     append-only log, one record per applied round (its
//                      accepted payloads with device id, update id, weight
//                      and clip factor), fsynced before the verdicts
//   DIR/snapshot.ecqs  model, momentum and device records, replaced
//                      atomically every N applied rounds; the log is then
//                      emptied
//   DIR/round-ids      the lowest round id not yet handed out, reserved in
//                      blocks before a round is offered, so a restarted
//                      coordinator never reuses an offered round id
//
// Recovery loads the snapshot (or the initial model) and replays the log
// records after it. A record whose length or CRC-32C does not check out at
// the end of the log is a write torn by a crash: it is dropped and the log
// truncated to the last whole record. docs/coordinator.md gives the layouts.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ecq/coordinator/aggregation.h"
#include "ecq/protocol/messages.h"
#include "ecq/runtime/model.h"

namespace ecq::coordinator {

/// The last update a device sent, for status answers.
struct DeviceRecord {
  std::uint32_t round_id = 0;
  std::uint64_t update_id = 0;
  protocol::UpdateState state = protocol::UpdateState::kNotApplied;
};

/// One applied round as the log stores it.
struct RoundRecord {
  std::uint32_t round_id = 0;
  std::uint64_t model_version = 0;  ///< the version this round produced
  float server_learning_rate = 0.0f;
  float momentum = 0.0f;
  std::vector<AcceptedUpdate> updates;
};

/// Findings of a recovery from the state directory.
struct RecoveryReport {
  std::uint64_t snapshot_version = 0;
  std::size_t replayed_rounds = 0;
  bool dropped_torn_record = false;
  std::uint32_t reserved_round_limit = 1;  ///< the next round id to use
};

class StateStore {
 public:
  StateStore() = default;
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  /// Opens `directory` (created when missing). Without `resume` it fails when
  /// the directory already contains state; with `resume` it fails when it
  /// contains none.
  bool open(const std::string& directory, bool resume, std::string* error);
  bool is_open() const { return log_fd_ >= 0; }

  /// Loads the snapshot into *state and *records (leaving them as given
  /// when there is none; `state` must then hold the initial model of
  /// `shape`), replays the log through `aggregator` and reads the reserved
  /// round ids.
  bool recover(const ModelShape& shape, Aggregator* aggregator, ModelState* state,
               std::map<std::string, DeviceRecord>* records, RecoveryReport* report, std::string* error);

  /// Appends one record and fsyncs the log.
  bool append_round(const RoundRecord& record, std::string* error);

  /// Replaces the snapshot atomically, then empties the log.
  bool write_snapshot(const ModelShape& shape, const ModelState& state,
                      const std::map<std::string, DeviceRecord>& records, std::string* error);

  /// Records atomically that round ids below `limit` may have been handed out.
  bool reserve_round_ids(std::uint32_t limit, std::string* error);

  std::string log_path() const { return directory_ + "/rounds.log"; }
  std::string snapshot_path() const { return directory_ + "/snapshot.ecqs"; }
  std::string round_ids_path() const { return directory_ + "/round-ids"; }

 private:
  std::string directory_;
  int log_fd_ = -1;
};

/// Encodes a log record (magic, length, body, CRC-32C).
std::vector<std::uint8_t> encode_round_record(const RoundRecord& record);

}  // namespace ecq::coordinator
