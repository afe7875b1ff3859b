#pragma once
// The coordinator's round engine: sessions, rounds, validation, aggregation
// and durability, with no I/O of its own besides the state directory.
//
// A transport adapter drives it from one thread:
//   open_session()   when a connection is ready (after the TLS handshake),
//   receive()        with every chunk of application bytes it reads,
//   close_session()  when the connection ends,
//   tick()           on a timer (every 100 ms or so) for deadlines.
// The engine writes frames through the session's SessionOutput and calls
// SessionOutput::close() when it ends a session itself; after that call it
// forgets the session, and a later close_session() for it is a no-op.
//
// Memory: the model, its momentum, at most K validated payloads of the open
// round, one reassembly buffer per selected device, and per connection one
// frame buffer (max_body_size + 16 bytes) and a small record. Each device id
// ever seen keeps a record of its last update (about 100 bytes).

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "ecq/coordinator/aggregation.h"
#include "ecq/coordinator/evaluation.h"
#include "ecq/coordinator/state_store.h"
#include "ecq/protocol/chunks.h"
#include "ecq/protocol/frame.h"
#include "ecq/protocol/messages.h"
#include "ecq/runtime/model.h"

namespace ecq::coordinator {

using SessionId = std::uint64_t;
struct SelectedDevice;

/// Where the engine sends one session's bytes. The transport queues what it
/// cannot send at once; the engine never waits.
class SessionOutput {
 public:
  /// Queues one or more complete frames for the peer.
  virtual void send(const std::uint8_t* data, std::size_t size) = 0;
  /// Ends the connection after the queued bytes.
  virtual void close() = 0;

 protected:
  ~SessionOutput() = default;
};

struct EngineConfig {
  protocol::RoundOffer offer;  ///< shape, device hyper-parameters and compressor; ids, deadline and chunks are set per round
  std::uint64_t init_seed = 1;       ///< seed of the initial model (Model::initialize)
  std::uint64_t selection_seed = 1;  ///< seed of the device selection
  std::uint32_t devices_per_round = 10;  ///< K
  std::uint32_t min_updates = 1;         ///< a round with fewer updates is discarded
  std::uint32_t round_deadline_ms = 60000;
  std::uint32_t selection_wait_ms = 10000;  ///< start with fewer than K (at least min_updates) after this wait
  /// Stop once the model version (applied rounds, those before a resume
  /// included) reaches this; 0 = no limit.
  std::uint64_t rounds = 0;
  AggregationConfig aggregation;
  /// Empty state_dir or durable == false: nothing is written, nothing survives a restart.
  std::string state_dir;
  bool durable = true;
  bool resume = false;
  std::uint32_t snapshot_every = 10;  ///< applied rounds between model snapshots, >= 1
  /// Evaluation on held-out data after every eval_every applied rounds (0 = never).
  std::uint32_t eval_every = 0;
  Evaluator* evaluator = nullptr;  ///< not owned; may be null
  std::string export_path;         ///< model file written at each evaluation and at shutdown; empty = none
  /// The coordinator's maximum frame body, bytes. Every session keeps a frame
  /// buffer of this size plus 16 bytes, so it bounds the memory per connection.
  std::uint32_t max_body_size = 64u * 1024;
  std::uint32_t idle_timeout_ms = 60000;   ///< sessions silent longer than this are closed
};

/// Monotonic counters and gauges for metrics and the run summary.
struct Counters {
  std::uint64_t rounds_started = 0;
  std::uint64_t rounds_applied = 0;
  std::uint64_t rounds_discarded = 0;
  std::uint64_t sessions_opened = 0;
  std::uint64_t devices_authenticated = 0;    ///< gauge: open sessions with an authenticated id
  std::uint64_t devices_unauthenticated = 0;  ///< gauge: open sessions with an id from hello
  std::uint64_t bytes_in = 0;                 ///< application frame bytes received
  std::uint64_t bytes_out = 0;                ///< application frame bytes sent
  std::uint64_t update_bytes_in = 0;          ///< frame bytes of update chunks
  std::uint64_t model_bytes_out = 0;          ///< frame bytes of model chunks
  std::uint64_t updates_applied = 0;
  std::uint64_t updates_clipped = 0;
  /// Rounds discarded because the aggregated model would contain NaN or Inf.
  std::uint64_t rounds_non_finite = 0;
  /// Updates not applied, indexed by protocol::VerdictReason (index 0 unused).
  std::array<std::uint64_t, 8> updates_rejected{};
  std::uint64_t sessions_closed_protocol_error = 0;
  bool evaluated = false;
  std::uint32_t eval_round = 0;          ///< round id of the last evaluation
  std::uint64_t eval_model_version = 0;  ///< applied rounds behind the last evaluation
  double eval_loss = 0.0;
  double eval_accuracy = 0.0;
};

/// Returns the metric-label spelling of a verdict reason, e.g. "late".
const char* verdict_reason_name(protocol::VerdictReason reason);

class Engine {
 public:
  Engine();
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Validates the configuration, then creates the initial model or, with
  /// config.resume, recovers the model, optimizer state and device records
  /// from the state directory. Returns false with a message naming the value
  /// or file and what to do.
  bool init(const EngineConfig& config, std::uint64_t now_ms, std::string* error);

  /// Opens a session. `authenticated_id` is the TLS peer id; pass
  /// authenticated = false (and any id) on a transport without
  /// authentication, and the id then comes from the device's hello.
  SessionId open_session(const std::string& authenticated_id, bool authenticated, SessionOutput* output,
                         std::uint64_t now_ms);
  /// Feeds bytes received on a session.
  void receive(SessionId session, const std::uint8_t* data, std::size_t size, std::uint64_t now_ms);
  /// Reports that the transport closed the session. `reason` is for the log.
  void close_session(SessionId session, const char* reason, std::uint64_t now_ms);
  /// Enforces deadlines and timeouts and starts rounds.
  void tick(std::uint64_t now_ms);
  /// Sends goodbye (shutdown) to every session, closes them, writes a final
  /// snapshot when durable and the model file when configured.
  void shutdown(std::uint64_t now_ms);

  /// True once config.rounds applied rounds are done (never when rounds is 0).
  bool finished() const;
  const Counters& counters() const { return counters_; }
  /// True after the engine stopped because the state directory failed; failure() says why.
  bool failed() const { return failed_; }
  const std::string& failure() const { return failure_; }
  const std::vector<float>& model() const { return state_.model; }
  std::uint64_t model_version() const { return state_.model_version; }
  /// The id of the open round, or 0 when none is open.
  std::uint32_t open_round_id() const;
  /// The id the next round will get.
  std::uint32_t next_round_id() const { return next_round_id_; }
  /// Returns the state a status query about this update gets.
  protocol::UpdateState update_state(const std::string& device_id, std::uint32_t round_id,
                                     std::uint64_t update_id) const;
  /// The device id of a session ("" before hello on an unauthenticated one).
  std::string session_device_id(SessionId session) const;
  /// Writes the model file to `path` (model_file.h). Returns false with a message.
  bool export_model(const std::string& path, std::string* error) const;
  /// CRC-32C of the model parameters' bytes.
  std::uint32_t model_crc() const;

 private:
  struct Session;
  struct Round;

  Session* find(SessionId id);
  void handle_frame(Session& session, const protocol::FrameView& frame, std::uint64_t now_ms);
  void handle_hello(Session& session, const protocol::FrameView& frame);
  void handle_update_chunk(Session& session, const protocol::UpdateChunk& chunk, std::uint32_t frame_bytes,
                           std::uint64_t now_ms);
  void handle_status_query(Session& session, const protocol::StatusQuery& query);
  void finish_upload(Session& session, std::uint64_t now_ms);
  void begin_upload(Session& session, const protocol::UpdateChunk& chunk);
  void accept_update(Session& session, std::uint32_t round_id, std::uint64_t update_id, std::uint32_t samples,
                     Span<const std::uint8_t> payload, std::uint64_t now_ms);
  void protocol_error(Session& session, const ErrorInfo& error, bool send_goodbye);
  void end_session(Session& session, protocol::GoodbyeReason reason, const char* text, const char* log_reason);
  void forget_session(SessionId id, const char* reason, std::uint64_t now_ms);
  void mark_selected_gone(const std::string& device_id, std::uint64_t now_ms);

  void send_frame(Session& session, protocol::MessageType type, const std::uint8_t* body, std::size_t size);
  void send_verdict(const std::string& device_id, std::uint32_t round_id, std::uint64_t update_id,
                    protocol::VerdictReason reason, const std::string& text);
  void send_verdict_to(Session& session, std::uint32_t round_id, std::uint64_t update_id,
                       protocol::VerdictReason reason, const std::string& text);
  void send_goodbye(Session& session, protocol::GoodbyeReason reason, const char* text);
  void send_heartbeat(Session& session, std::uint64_t now_ms);

  void maybe_start_round(std::uint64_t now_ms);
  void start_round(std::vector<Session*> candidates, std::uint64_t now_ms);
  void offer_round(Session& session, std::uint64_t now_ms);
  void check_round_complete(std::uint64_t now_ms);
  void close_round(std::uint64_t now_ms);
  // Returns false with *error set on a storage failure, or with *non_finite
  // set when the new model would contain NaN or Inf (nothing changes then).
  bool apply_round(std::string* error, bool* non_finite);
  void finish_round(std::uint64_t now_ms);
  SelectedDevice* selected_entry(const std::string& device_id);
  void discard_round(const char* why, std::uint64_t now_ms,
                     protocol::VerdictReason reason = protocol::VerdictReason::kRoundClosed);
  void evaluate_and_export();
  bool reserve_round_id(std::uint32_t round_id, std::string* error);
  void fail(const std::string& message);

  EngineConfig config_;
  std::uint32_t dimension_ = 0;
  std::size_t max_payload_bytes_ = 0;
  ModelState state_;
  StateStore store_;
  Aggregator aggregator_;
  std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
  /// The session currently holding each device id.
  std::unordered_map<std::string, SessionId> session_of_device_;
  /// Last update of each device, for status answers.
  std::map<std::string, DeviceRecord> records_;
  std::unique_ptr<Round> round_;
  std::mt19937_64 selection_rng_;
  SessionId next_session_id_ = 1;
  std::uint32_t next_round_id_ = 1;
  std::uint32_t reserved_round_limit_ = 1;  ///< round ids below it may have been offered
  std::vector<std::uint8_t> frame_scratch_;
  std::vector<std::uint8_t> body_scratch_;
  std::uint64_t idle_since_ms_ = 0;
  std::uint64_t current_ms_ = 0;  ///< time of the call being handled
  Counters counters_;
  bool initialized_ = false;
  bool stopped_ = false;
  bool shut_down_ = false;
  bool failed_ = false;
  std::string failure_;
};

}  // namespace ecq::coordinator
