// The in-process federation: engine and devices in this process, stepped by
// one thread on a virtual clock.

#include "federation.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "drop_stream.h"
#include "ecq/coordinator/engine.h"
#include "ecq/coordinator/in_process.h"
#include "ecq/runtime/log.h"
#include "ecq/transport/memory_pipe.h"
#include "fleet.h"

namespace ecq::sim {

namespace {

// Virtual milliseconds. Rounds take no virtual time unless something waits:
// a reconnect backoff, the coordinator's selection wait or a deadline.
constexpr std::uint64_t kStartMs = 1000;
constexpr std::uint64_t kMaxStepMs = 50;
// Every device is polled at least this often, so heartbeats and the
// coordinator's idle timeout see the quiet ones too.
constexpr std::uint64_t kFullPassMs = 5000;
// Each direction of an in-process connection buffers this many bytes.
constexpr std::size_t kPipeBytes = 40 * 1024;

// The coordinator's and the device's ends of one in-process connection.
struct Connection {
  explicit Connection(coordinator::Engine& engine) : pipe(kPipeBytes), session(engine, pipe.b()) {}
  transport::MemoryPipe pipe;
  coordinator::StreamSession session;
  DropStream link;  // the device's end, which can cut an upload short
};

struct SimDevice {
  std::uint32_t index = 0;
  DeviceClient client;
  std::vector<std::uint8_t> arena;
  std::unique_ptr<DeviceData> data;
  std::unique_ptr<Connection> connection;
  bool participant = false;
  bool drop_pending = false;        // cut the upload once the next connection is up
  std::uint64_t offers_before = 0;  // offers received when the round began
};

class Federation {
 public:
  Federation(const FederationOptions& options, const data::ImageDataset& train, const data::ImageDataset& test,
             const data::Partition& partition)
      : options_(options), train_(train), test_(test), partition_(partition), schedule_(options.schedule) {}

  bool setup(std::string* error);
  bool run(Progress* progress, RunResult* result, std::string* error);

 private:
  bool setup_engine(std::string* error);
  bool setup_devices(std::string* error);
  void connect(SimDevice& device);
  void disconnect(SimDevice& device);
  bool drain();
  // Polls one device and its session; returns true when anything moved.
  bool step(SimDevice& device);
  std::uint64_t activity() const;
  bool round_open(const std::vector<SimDevice*>& active, std::uint64_t closed_before) const;

  const FederationOptions& options_;
  const data::ImageDataset& train_;
  const data::ImageDataset& test_;
  const data::Partition& partition_;
  Schedule schedule_;
  coordinator::Engine engine_;
  std::vector<std::unique_ptr<SimDevice>> devices_;
  // Connections a device left whose coordinator side still has bytes to read.
  std::vector<std::unique_ptr<Connection>> draining_;
  TestEvaluator evaluator_;
  double initial_loss_ = 0.0;
  std::uint64_t now_ = kStartMs;
  std::uint64_t dropped_ = 0;
};

bool Federation::setup_engine(std::string* error) {
  coordinator::EngineConfig config;
  config.offer.shape = options_.shape;
  config.offer.learning_rate = options_.device_learning_rate;
  config.offer.local_steps = options_.local_steps;
  config.offer.batch_size = options_.batch_size;
  config.offer.compressor = options_.compressor;
  config.offer.run_seed = options_.seed;
  config.init_seed = options_.seed;
  config.selection_seed = options_.seed;
  config.devices_per_round = options_.schedule.devices_per_round;
  config.min_updates = options_.min_updates;
  config.round_deadline_ms = 60000;
  config.selection_wait_ms = 1000;
  config.rounds = 0;
  config.aggregation.server_learning_rate = options_.server_learning_rate;
  config.aggregation.momentum = options_.momentum;
  config.durable = false;
  config.max_body_size = options_.device_body_size;
  config.idle_timeout_ms = 60000;
  return engine_.init(config, now_, error);
}

bool Federation::setup_devices(std::string* error) {
  const std::size_t arena_bytes = device_arena_bytes(options_, error);
  if (arena_bytes == 0) return false;
  devices_.reserve(options_.schedule.devices);
  for (std::uint32_t i = 0; i < options_.schedule.devices; ++i) {
    auto device = std::make_unique<SimDevice>();
    device->index = i;
    device->data = std::make_unique<DeviceData>(train_, partition_.devices[i], options_.batch_size,
                                                options_.seed * 1000003u + i);
    device->arena.resize(arena_bytes);
    const DeviceConfig config = make_device_config(options_, i);
    if (device->client.init(config, device->data->source(),
                            Span<std::uint8_t>(device->arena.data(), device->arena.size())) != Status::kOk) {
      *error = "device " + std::to_string(i) + " failed to start";
      return false;
    }
    device->client.set_available(false);
    devices_.push_back(std::move(device));
  }
  return true;
}

bool Federation::setup(std::string* error) {
  return setup_engine(error) && setup_devices(error) && evaluator_.init(options_.shape, test_, error) &&
         evaluator_.initial_loss(options_.seed, &initial_loss_, error);
}

void Federation::connect(SimDevice& device) {
  device.connection = std::make_unique<Connection>(engine_);
  device.connection->link.attach(&device.connection->pipe.a());
  if (device.drop_pending) {
    device.connection->link.arm();
    device.drop_pending = false;
  }
  device.connection->session.open(now_);
  device.client.on_connected(device.connection->link, now_);
}

void Federation::disconnect(SimDevice& device) {
  if (device.client.connected()) device.client.on_disconnected(now_);
  Connection& connection = *device.connection;
  if (connection.link.dropped()) {
    ++dropped_;
    log_message(LogLevel::kInfo, "simulation: device %u dropped its connection mid-upload", device.index);
  }
  // The coordinator reads what the device sent before it left, then the end
  // of the stream.
  connection.pipe.a().close();
  if (!connection.session.closed()) draining_.push_back(std::move(device.connection));
  device.connection.reset();
}

bool Federation::drain() {
  bool moved = false;
  for (auto& connection : draining_) moved |= !connection->session.pump(now_);
  draining_.erase(std::remove_if(draining_.begin(), draining_.end(),
                                 [](const std::unique_ptr<Connection>& connection) {
                                   return connection->session.closed();
                                 }),
                  draining_.end());
  return moved;
}

bool Federation::step(SimDevice& device) {
  const std::uint64_t before = activity();
  if (!device.connection && device.client.wants_connection(now_)) connect(device);
  if (device.connection) {
    device.client.poll(now_);
    if (device.participant && device.client.counters().offers_received > device.offers_before) {
      // The device has its offer: it must not check in for the next round
      // unless the schedule picks it again.
      device.client.set_available(false);
    }
    if (device.connection->link.dropped() || !device.client.connected()) {
      disconnect(device);
    } else {
      device.connection->session.pump(now_);
      if (device.connection->session.closed()) disconnect(device);
    }
  }
  return activity() != before;
}

std::uint64_t Federation::activity() const {
  const coordinator::Counters& counters = engine_.counters();
  return counters.bytes_in + counters.bytes_out + counters.sessions_opened + counters.rounds_started;
}

bool Federation::round_open(const std::vector<SimDevice*>& active, std::uint64_t closed_before) const {
  const coordinator::Counters& counters = engine_.counters();
  if (counters.rounds_applied + counters.rounds_discarded == closed_before) return true;
  // The round is closed; wait until every participant has its verdict.
  return std::any_of(active.begin(), active.end(),
                     [](const SimDevice* device) { return device->client.update_pending(); });
}

bool Federation::run(Progress* progress, RunResult* result, std::string* error) {
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t last_full_pass = now_;
  std::uint64_t uplink = 0;
  std::uint64_t downlink = 0;
  double last_accuracy = -1.0;

  for (std::uint32_t round = 1; round <= options_.rounds; ++round) {
    const RoundPlan plan = schedule_.plan(round - 1);
    std::vector<SimDevice*> active;
    for (std::size_t i = 0; i < plan.participants.size(); ++i) {
      SimDevice& device = *devices_[plan.participants[i]];
      device.participant = true;
      device.offers_before = device.client.counters().offers_received;
      device.drop_pending = plan.drops[i];
      if (device.connection) device.connection->link.disarm();
      if (device.drop_pending && device.connection) {
        device.connection->link.arm();
        device.drop_pending = false;
      }
      device.client.set_available(true);
      active.push_back(&device);
    }
    const coordinator::Counters before = engine_.counters();
    const std::uint64_t dropped_before = dropped_;

    while (round_open(active, before.rounds_applied + before.rounds_discarded)) {
      bool moved = drain();
      for (SimDevice* device : active) moved |= step(*device);
      engine_.tick(now_);
      if (now_ - last_full_pass >= kFullPassMs) {
        for (auto& device : devices_) step(*device);
        last_full_pass = now_;
      }
      if (!moved) {
        std::uint64_t next = now_ + kMaxStepMs;
        for (SimDevice* device : active) next = std::min(next, device->client.next_wakeup_ms(now_));
        now_ = std::max(next, now_ + 1);
      }
      if (engine_.failed()) {
        *error = "the coordinator engine failed: " + engine_.failure();
        return false;
      }
    }
    for (SimDevice* device : active) {
      device->participant = false;
      device->drop_pending = false;
      if (device->connection) device->connection->link.disarm();
    }

    uplink = 0;
    downlink = 0;
    for (const auto& device : devices_) {
      uplink += device->client.counters().update_bytes_sent;
      downlink += device->client.counters().model_bytes_received;
    }
    const coordinator::Counters& after = engine_.counters();
    RoundRecord record;
    record.round = round;
    record.applied = after.rounds_applied > before.rounds_applied;
    record.updates = static_cast<std::uint32_t>(after.updates_applied - before.updates_applied);
    record.dropped = static_cast<std::uint32_t>(dropped_ - dropped_before);
    record.uplink_bytes = uplink;
    record.downlink_bytes = downlink;
    result->rounds.push_back(record);

    if (!all_finite(engine_.model())) {
      result->diverged = true;
      result->diverged_at_round = round;
      break;
    }
    if ((record.applied && after.rounds_applied % options_.eval_every == 0) || round == options_.rounds) {
      EvaluationRecord evaluation;
      evaluation.round = round;
      evaluation.uplink_bytes = uplink;
      evaluation.downlink_bytes = downlink;
      if (!evaluator_.evaluate(engine_.model(), &evaluation, error)) return false;
      if (TestEvaluator::diverged(evaluation, initial_loss_, options_.divergence_loss_factor)) {
        result->diverged = true;
        result->diverged_at_round = round;
        break;
      }
      result->evaluations.push_back(evaluation);
      last_accuracy = evaluation.accuracy;
      for (const auto& device : devices_) {
        const Compressor& compressor = device->client.compressor();
        if (!compressor.keeps_error_buffer()) continue;
        for (std::size_t i = 0; i < compressor.dimension(); ++i) {
          result->error_buffer_range.add(compressor.error_value(i));
        }
      }
    }
    if (progress != nullptr) progress->update(round, last_accuracy, uplink);
  }

  result->uplink_bytes = uplink;
  result->downlink_bytes = downlink;
  result->rounds_applied = static_cast<std::uint32_t>(engine_.counters().rounds_applied);
  result->devices_dropped = dropped_;
  result->wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result->peak_device_bytes = devices_.empty() ? 0 : devices_.front()->client.footprint().total;
  if (progress != nullptr) {
    progress->finish(static_cast<std::uint32_t>(result->rounds.size()), last_accuracy, uplink);
  }
  return true;
}

}  // namespace

bool run_federation(const FederationOptions& options, const data::ImageDataset& train, const data::ImageDataset& test,
                    const data::Partition& partition, Progress* progress, RunResult* result, std::string* error) {
  Federation federation(options, train, test, partition);
  return federation.setup(error) && federation.run(progress, result, error);
}

}  // namespace ecq::sim
