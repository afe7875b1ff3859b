#pragma once
// The device side of the ecq conversation (docs/protocol.md, "Conversation";
// docs/device.md): a sans-I/O state machine over a transport::Stream that a
// driver connects, polls and reports closed. It never opens sockets, waits
// or sleeps. The driver calls
//
//   if (client.wants_connection(now)) { connect; client.on_connected(stream, now)
//                                       or client.on_connect_failed(now); }
//   client.poll(now);                  // read, handle frames, one slice of work, write
//   if (!client.connected()) { tear the transport down }
//   wait for the socket or until client.next_wakeup_ms(now)
//
// Memory: every buffer (model, gradient, round-start model, error buffer,
// payload, batch, frame buffers) is carved at init() from one caller-given
// arena of required_arena_bytes(config), so nothing allocates afterwards.

#include <cstddef>
#include <cstdint>

#include "ecq/protocol/chunks.h"
#include "ecq/protocol/frame.h"
#include "ecq/protocol/messages.h"
#include "ecq/runtime/compressor.h"
#include "ecq/runtime/model.h"
#include "ecq/runtime/span.h"
#include "ecq/runtime/status.h"

namespace ecq {
namespace transport {
class Stream;
}  // namespace transport

/// Supplies training data on demand. `fill` writes `rows` samples (1 to the
/// device's max_batch) into the device's batch buffers: row-major features
/// (rows x inputs floats) and, depending on the model kind, `targets`
/// (kLinear, kLogistic) or `labels` (kSoftmax, kMlp). It returns the number
/// of rows it wrote in *filled (1 to `rows`; fewer when the device has fewer
/// samples). Any status other than kOk abandons the round's training.
struct DataSource {
  Status (*fill)(void* context, std::uint32_t rows, Span<float> features, Span<float> targets,
                 Span<std::int32_t> labels, std::uint32_t* filled) = nullptr;
  void* context = nullptr;
};

struct DeviceConfig {
  /// Device id, [A-Za-z0-9._-], 1 to 64 characters, NUL-terminated. Keys the
  /// quantizer's random stream and is sent in hello.
  char device_id[protocol::kMaxDeviceIdBytes + 1] = {};
  /// Send the id in hello. Off on TLS, where the certificate or PSK identity
  /// carries it.
  bool send_device_id = true;
  /// The one model shape this device trains; offers of any other are declined.
  ModelShape shape;
  /// Largest batch the device accepts, in samples; sizes the batch buffers.
  std::uint32_t max_batch = 32;
  /// Compressor methods the device accepts, as protocol::method_bit() bits.
  /// Accepting fp32 sizes the payload buffer for raw floats (4 bytes per
  /// parameter); without it, for the largest quantized payload.
  std::uint8_t methods = 0x0F;
  /// Accept offers of local SGD steps (FedAvg). They need a working copy of
  /// the model (4 bytes per parameter); without them the device trains one
  /// gradient per round and declines local-steps offers.
  bool allow_local_steps = true;
  /// Smallest quantizer bucket size and largest level count the device
  /// accepts. The payload and compressor buffers are sized for the worst case
  /// within these limits.
  std::uint32_t min_bucket_size = 64;
  std::uint32_t max_levels = 127;
  /// Element type of the error buffer for ef and ecq: kFp16 halves its RAM
  /// and its storage blob. A local choice, so the coordinator and the payload
  /// format are unaffected.
  ErrorBufferType error_buffer = ErrorBufferType::kFp32;
  /// Largest frame body the device receives, in bytes (announced in hello);
  /// sizes the receive buffer. At least protocol::kMaxFixedBodyBytes.
  std::uint32_t max_body_size = 16 * 1024;
  /// Largest frame body the coordinator receives, in bytes: update chunks are
  /// cut to fit it. At least kUpdateChunkHeaderBytes + 1.
  std::uint32_t upload_body_size = 16 * 1024;
  /// Send a heartbeat after this many milliseconds without sending anything.
  std::uint32_t heartbeat_interval_ms = 10000;
  /// Close the connection after this many milliseconds without receiving.
  std::uint32_t idle_timeout_ms = 30000;
  /// Reconnect delay: the first retry waits about backoff_min_ms, each
  /// further failure doubles it up to backoff_max_ms, and each delay is drawn
  /// uniformly from [max(backoff_min_ms, base / 2), base].
  std::uint32_t backoff_min_ms = 500;
  std::uint32_t backoff_max_ms = 60000;
  /// Seed of the jitter generator, so simulations are reproducible.
  std::uint64_t jitter_seed = 1;
  /// Local SGD steps run per poll() in local-steps mode.
  std::uint32_t steps_per_poll = 1;
  /// Available time announced in check-in, in milliseconds; 0 = unknown.
  std::uint32_t available_ms = 0;
  /// Save the error buffer every this many committed updates; 0 = never.
  std::uint32_t save_every = 10;
  /// Prefix of the storage blob names "<prefix>error-buffer" and
  /// "<prefix>update-id", at most 32 characters from [A-Za-z0-9._-].
  /// Empty disables all storage use (update ids then come from entropy).
  char storage_prefix[33] = "ecq-";
  /// Extra decay of the error buffer per global round the device missed:
  /// h *= round_decay^(rounds missed) before the next update. 1 = off.
  float round_decay = 1.0f;
  /// Runtime version announced in hello, protocol::pack_version() form.
  std::uint32_t runtime_version = protocol::pack_version(0, 1, 0);
};

enum class DeviceState : std::uint8_t {
  kDisconnected,   ///< waiting for the driver to connect
  kAwaitStatus,    ///< sent a status query about an update without verdict
  kIdle,           ///< declined an offer; checks in again after its deadline
  kAwaitOffer,     ///< checked in, waiting for a round offer
  kDownload,       ///< receiving the offered model's chunks
  kTrain,          ///< computing the gradient or running local steps
  kUpload,         ///< sending update chunks
  kAwaitVerdict,   ///< update sent in full; busy until its verdict
};

/// Returns a name such as "await offer".
const char* device_state_name(DeviceState state);

/// Counts of the device's activity since init(). Byte counts are application
/// frame bytes (headers and checksums included) as queued for sending or as
/// received, not transport bytes.
struct DeviceCounters {
  std::uint64_t connections = 0;          ///< on_connected() calls
  std::uint64_t connect_failures = 0;     ///< on_connect_failed() calls
  std::uint64_t disconnects = 0;          ///< connections closed for any reason
  std::uint64_t offers_received = 0;
  std::uint64_t offers_declined = 0;      ///< offers the device could not take
  std::uint64_t rounds_trained = 0;       ///< updates compressed
  std::uint64_t rounds_abandoned = 0;     ///< training or compression failed, or the connection closed first
  std::uint64_t updates_sent = 0;         ///< updates whose last chunk was queued for sending
  std::uint64_t updates_applied = 0;
  std::uint64_t updates_not_applied = 0;
  /// Not-applied updates by protocol::VerdictReason (1 to 7); index 0 counts
  /// status answers "not applied", which carry no reason.
  std::uint64_t not_applied_by_reason[8] = {};
  std::uint64_t status_queries = 0;
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t protocol_errors = 0;      ///< connections closed for an invalid or unexpected message
  std::uint64_t idle_timeouts = 0;
  std::uint64_t goodbyes_received = 0;
  std::uint64_t error_buffer_saves = 0;
  std::uint64_t error_buffer_resets = 0;  ///< compressor re-inits that restarted h at zero
  std::uint64_t update_bytes_sent = 0;    ///< frames of update chunks
  std::uint64_t other_bytes_sent = 0;     ///< all other frames
  std::uint64_t model_bytes_received = 0; ///< frames of model chunks
  std::uint64_t other_bytes_received = 0; ///< all other frames
};

/// Bytes of each buffer carved from the arena (alignment padding included).
struct DeviceFootprint {
  std::size_t model = 0;            ///< the offered model, w_start
  std::size_t working_model = 0;    ///< parameters during local steps; 0 without allow_local_steps
  std::size_t gradient = 0;         ///< gradient or delta; also the coder scratch and the error-buffer blob
  std::size_t model_scratch = 0;    ///< activations of the model for max_batch rows
  std::size_t compressor = 0;       ///< error buffer (4 or 2 bytes per parameter)
  std::size_t payload = 0;          ///< last payload, kept until its verdict
  std::size_t batch = 0;            ///< features, targets and labels of one batch
  std::size_t receive_frame = 0;    ///< FrameReader buffer and the read scratch
  std::size_t send_frame = 0;       ///< outgoing frames
  std::size_t total = 0;            ///< required_arena_bytes()
};

class DeviceClient {
 public:
  DeviceClient() = default;
  DeviceClient(const DeviceClient&) = delete;
  DeviceClient& operator=(const DeviceClient&) = delete;

  /// Returns the arena bytes init() needs for `config`, or 0 when the
  /// configuration is invalid (see validate_config()).
  static std::size_t required_arena_bytes(const DeviceConfig& config);

  /// Returns the size of the stored error-buffer blob for `parameters`
  /// elements of `type`: a 48-byte header, the elements and a CRC-32C
  /// (docs/device.md).
  static std::size_t error_blob_bytes(std::uint32_t parameters, ErrorBufferType type = ErrorBufferType::kFp32);

  /// Returns kOk or kInvalidArgument with `error` naming the bad field.
  [[nodiscard]] static Status validate_config(const DeviceConfig& config, ErrorInfo* error = nullptr);

  /// Checks `config`, carves every buffer from `arena` (which must stay valid
  /// and otherwise unused for the life of this object), restores the update
  /// id counter and the saved error buffer from storage, and starts
  /// disconnected, wanting a connection at once.
  [[nodiscard]] Status init(const DeviceConfig& config, const DataSource& data, Span<std::uint8_t> arena);

  /// True when the driver should connect now: disconnected and the backoff
  /// delay has passed.
  bool wants_connection(std::uint64_t now_ms) const;

  /// Starts the conversation on a connected (and, for TLS, handshaken)
  /// stream, which must stay valid until connected() turns false.
  void on_connected(transport::Stream& stream, std::uint64_t now_ms);

  /// Reports a connection attempt that failed; schedules the next one.
  void on_connect_failed(std::uint64_t now_ms);

  /// Reports that the driver lost the stream (e.g. TLS failed). Closes the
  /// session as the device does itself on a closed stream.
  void on_disconnected(std::uint64_t now_ms);

  /// Reads what the stream has, handles complete frames, does one bounded
  /// slice of work (a gradient or steps_per_poll local steps), enforces the
  /// heartbeat and idle timers and writes pending output.
  void poll(std::uint64_t now_ms);

  /// Sets whether the device is available for rounds (on a phone: idle,
  /// charging and on Wi-Fi). An unavailable device stays connected, answers
  /// heartbeats and finishes a round it already has, but does not check in
  /// again until it is available. A check-in already sent stays with the
  /// coordinator. Devices start available.
  void set_available(bool available);

  /// Sends goodbye reason 1 (shutdown) if connected, then closes the stream.
  void shut_down(std::uint64_t now_ms);

  /// Returns the time at which poll() has work to do even without incoming
  /// bytes (a timer, pending work, a reconnect): now_ms when there is work now.
  std::uint64_t next_wakeup_ms(std::uint64_t now_ms) const;

  /// True while a stream is attached.
  bool connected() const { return stream_ != nullptr; }
  /// True while output waits for the stream to accept it.
  bool wants_write() const { return out_end_ > out_begin_; }
  DeviceState state() const { return state_; }
  const DeviceCounters& counters() const { return counters_; }
  DeviceFootprint footprint() const { return footprint_; }
  /// The compressor, for inspection (error buffer, configuration).
  const Compressor& compressor() const { return compressor_; }
  /// True while an update waits for its verdict (also across reconnects).
  bool update_pending() const { return pending_.active; }
  std::uint32_t pending_round() const { return pending_.round_id; }
  std::uint64_t pending_update_id() const { return pending_.update_id; }
  /// Time at which the next connection attempt is due.
  std::uint64_t next_attempt_ms() const { return next_attempt_ms_; }

 private:
  struct PendingUpdate {
    bool active = false;
    std::uint32_t round_id = 0;
    std::uint64_t update_id = 0;
    std::uint32_t samples = 0;
    std::size_t payload_size = 0;
    std::uint32_t chunk_count = 0;
    std::uint32_t next_chunk = 0;
  };
  // The error buffer read from storage at init(), applied at the first
  // compressor init whose settings match.
  struct RestoredBuffer {
    bool present = false;
    std::size_t header_bytes = 0;  // where the elements start in the blob
    CompressorConfig config;
    std::uint32_t last_round = 0;
    bool has_last_round = false;
  };

  // Session.
  void close_session(std::uint64_t now_ms, bool failure);
  void protocol_error(const ErrorInfo& error, std::uint64_t now_ms);
  void unexpected_message(std::uint8_t type, std::uint64_t now_ms);
  void read_frames(std::uint64_t now_ms);
  void handle_frame(const protocol::FrameView& frame, std::uint64_t now_ms);
  void handle_offer(const protocol::FrameView& frame, std::uint64_t now_ms);
  void handle_model_chunk(const protocol::FrameView& frame, std::uint64_t now_ms);
  void handle_verdict(const protocol::FrameView& frame, std::uint64_t now_ms);
  void handle_status_answer(const protocol::FrameView& frame, std::uint64_t now_ms);
  void handle_goodbye(const protocol::FrameView& frame, std::uint64_t now_ms);
  void run_timers(std::uint64_t now_ms);
  void check_in(std::uint64_t now_ms);
  void decline(const char* why, std::uint32_t deadline_ms, std::uint64_t now_ms);
  void schedule_reconnect(std::uint64_t now_ms);

  // Output.
  template <typename Message, typename Encoder>
  bool queue_message(protocol::MessageType type, const Message& message, Encoder encode);
  void flush(std::uint64_t now_ms);
  void send_update_chunks();

  // Work.
  bool check_offer(const protocol::RoundOffer& offer) const;
  bool configure_compressor(const protocol::RoundOffer& offer);
  void train_slice(std::uint64_t now_ms);
  bool next_batch(std::uint32_t rows, Batch* batch);
  void finish_training(std::uint64_t now_ms);
  void abandon_round(const char* why, std::uint64_t now_ms);
  void resolve_pending(bool applied, std::uint16_t reason, std::uint64_t now_ms);
  void apply_round_decay(std::uint32_t round_id);
  static bool same_error_settings(const CompressorConfig& a, const CompressorConfig& b);

  // Storage.
  void make_blob_names();
  void restore_update_counter();
  std::uint64_t next_update_id();
  void restore_error_buffer();
  void save_error_buffer();
  void apply_restored_error_buffer(std::uint32_t round_id);

  DeviceConfig config_;
  DataSource data_;
  bool initialized_ = false;
  DeviceState state_ = DeviceState::kDisconnected;
  transport::Stream* stream_ = nullptr;
  bool stopped_ = false;  // shut_down() was called
  bool available_ = true;              // set_available()
  bool awaiting_availability_ = false; // idle until set_available(true)
  std::uint64_t stream_id_ = 0;  // device_stream_id(device id)
  std::uint32_t parameters_ = 0;

  // Buffers carved from the arena.
  float* model_ = nullptr;
  float* working_ = nullptr;
  float* gradient_ = nullptr;  // footprint_.gradient bytes
  float* features_ = nullptr;
  float* targets_ = nullptr;
  std::int32_t* labels_ = nullptr;
  std::uint8_t* payload_ = nullptr;
  std::size_t payload_capacity_ = 0;
  // The error-buffer blob is staged in the gradient buffer, which no round
  // uses while the blob is saved (after a verdict) or restored (before the
  // first offer).
  std::uint8_t* blob_buffer() { return reinterpret_cast<std::uint8_t*>(gradient_); }
  std::uint8_t* compressor_arena_ = nullptr;
  std::size_t compressor_arena_bytes_ = 0;
  std::uint8_t* frame_buffer_ = nullptr;
  std::size_t frame_buffer_bytes_ = 0;
  std::uint8_t* receive_scratch_ = nullptr;
  std::size_t receive_scratch_bytes_ = 0;
  std::uint8_t* out_ = nullptr;
  std::size_t out_capacity_ = 0;
  std::size_t out_begin_ = 0;
  std::size_t out_end_ = 0;

  Model model_math_;
  Compressor compressor_;
  bool compressor_ready_ = false;
  protocol::FrameReader reader_;
  protocol::ModelAssembler assembler_{Span<float>()};
  DeviceFootprint footprint_;
  DeviceCounters counters_;

  // Round in progress.
  protocol::RoundOffer offer_;
  std::uint64_t offer_deadline_ms_ = 0;
  std::uint32_t steps_done_ = 0;
  std::uint64_t samples_used_ = 0;
  bool declined_round_valid_ = false;
  std::uint32_t declined_round_ = 0;
  std::uint64_t idle_until_ms_ = 0;
  PendingUpdate pending_;
  bool has_last_round_ = false;
  std::uint32_t last_round_ = 0;  // round of the last committed or rolled-back update
  std::uint32_t commits_since_save_ = 0;
  RestoredBuffer restored_;

  // Timers and backoff.
  std::uint64_t last_sent_ms_ = 0;
  std::uint64_t last_received_ms_ = 0;
  std::uint64_t next_attempt_ms_ = 0;
  std::uint32_t failures_ = 0;
  std::uint64_t jitter_state_ = 0;

  // Update ids: [next_update_id_, reserved_until_) are reserved in storage.
  std::uint64_t next_update_id_ = 0;
  std::uint64_t reserved_until_ = 0;
  bool update_ids_stored_ = false;
  char error_blob_[64] = {};
  char counter_blob_[64] = {};
};

}  // namespace ecq
