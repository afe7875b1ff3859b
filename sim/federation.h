#pragma once
// One simulated federation: an ecq::coordinator::Engine and N DeviceClient
// instances in this process, connected by in-process streams and stepped on
// a virtual clock by one thread. The devices run the same state machine,
// compressor and error buffer as ecq-device; only the transport and the
// clock differ. The schedule decides who checks in for each round and who
// drops mid-upload.

#include <cstdint>
#include <string>
#include <vector>

#include "ecq/data/idx.h"
#include "ecq/data/partition.h"
#include "ecq/protocol/messages.h"
#include "ecq/runtime/compressor.h"
#include "ecq/runtime/model.h"
#include "progress.h"
#include "report.h"
#include "schedule.h"

namespace ecq::sim {

struct FederationOptions {
  ModelShape shape;
  std::uint64_t seed = 1;  ///< run seed: model init, quantizer streams, batches
  ScheduleOptions schedule;
  std::uint32_t rounds = 100;       ///< rounds to run (applied or discarded)
  std::uint32_t eval_every = 10;    ///< evaluate after every this many rounds, and after the last
  std::uint32_t min_updates = 1;
  std::uint32_t batch_size = 32;
  std::uint32_t local_steps = 0;    ///< 0: one gradient per round; k: k local steps and the delta
  float device_learning_rate = 0.1f;
  float server_learning_rate = 0.1f;
  float momentum = 0.0f;
  protocol::CompressorOffer compressor;
  std::uint32_t device_body_size = 16 * 1024;  ///< largest frame body either side sends, bytes
  /// A run has diverged when its model turns NaN or Inf, or when its test
  /// loss exceeds this many times the loss of the initial model.
  double divergence_loss_factor = 100.0;
  /// DeviceConfig::round_decay of every device: extra error-buffer decay per
  /// global round a device missed; 1 = off.
  float round_decay = 1.0f;
  /// DeviceConfig::error_buffer of every device.
  ErrorBufferType error_buffer = ErrorBufferType::kFp32;
};

/// How a TLS federation runs: the coordinator in a process of its own, the
/// devices in this one, driven through Asio by a few threads.
struct TlsRunOptions {
  std::string coordinator_program;  ///< path of ecq-coordinator
  std::string work_dir;             ///< credentials, model exports and the coordinator's log go here
  std::uint32_t threads = 2;        ///< threads that drive the devices
  std::string log_name = "coordinator.log";  ///< the coordinator's log file in work_dir
};

/// Runs one federation over mutual TLS on 127.0.0.1 with throwaway
/// credentials: ecq-coordinator as a child process (its peak RSS goes to
/// result->peak_coordinator_rss_bytes) and the devices here.
bool run_tls_federation(const FederationOptions& options, const TlsRunOptions& tls, const data::ImageDataset& train,
                        const data::ImageDataset& test, const data::Partition& partition, Progress* progress,
                        RunResult* result, std::string* error);

/// Runs one federation in this process and returns its result. `train` and `test` are the
/// data sets, `partition` the devices' shares of `train` (one per device).
/// Returns false with a message when the setup fails.
bool run_federation(const FederationOptions& options, const data::ImageDataset& train,
                    const data::ImageDataset& test, const data::Partition& partition, Progress* progress,
                    RunResult* result, std::string* error);

}  // namespace ecq::sim
