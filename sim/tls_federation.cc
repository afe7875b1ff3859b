// The TLS federation: ecq-coordinator in its own process, the devices in this
// one over mutual TLS on 127.0.0.1, each device a DeviceClient driven through
// Asio on a strand of its own.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio/bind_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include "drop_stream.h"
#include "ecq/coordinator/model_file.h"
#include "ecq/pki/credentials.h"
#include "ecq/pki/files.h"
#include "ecq/port/clock.h"
#include "ecq/runtime/log.h"
#include "ecq/transport/asio_stream.h"
#include "ecq/transport/tls.h"
#include "federation.h"
#include "fleet.h"

extern char** environ;

namespace ecq::sim {

namespace {

using Clock = std::chrono::steady_clock;

// The coordinator's round deadline and selection wait in simulations. The
// simulation gives up on participants without a verdict 10 s after both.
constexpr std::uint32_t kRoundDeadlineMs = 30000;
constexpr std::uint32_t kSelectionWaitMs = 2000;

// One simulated device over TLS. Every member is used on the device's strand
// only, except the atomics that publish its progress to the main thread.
class TlsDevice : public std::enable_shared_from_this<TlsDevice> {
 public:
  TlsDevice(asio::io_context& io, const asio::ip::tcp::endpoint& endpoint, std::uint32_t index)
      : strand_(asio::make_strand(io)), endpoint_(endpoint), timer_(strand_), index_(index) {}

  bool init(const FederationOptions& options, const std::string& ca_pem, const pki::Credential& credential,
            DeviceData* data, std::size_t arena_bytes, std::string* error) {
    transport::TlsConfig config;
    config.role = transport::TlsRole::kClient;
    config.ca_pem = ca_pem;
    config.certificate_pem = credential.certificate_pem;
    config.key_pem = credential.key_pem;
    config.server_name = "localhost";
    config.idle_timeout_ms = 120000;
    if (!context_.init(config, error)) return false;
    arena_.resize(arena_bytes);
    DeviceConfig device_config = make_device_config(options, index_);
    device_config.send_device_id = false;  // the certificate carries the id
    if (client_.init(device_config, data->source(), Span<std::uint8_t>(arena_.data(), arena_.size())) != Status::kOk) {
      *error = "device " + std::to_string(index_) + " failed to start";
      return false;
    }
    client_.set_available(false);
    footprint_bytes_ = client_.footprint().total;
    return true;
  }

  void start() {
    asio::post(strand_, [self = shared_from_this()] { self->step(); });
  }

  /// Makes the device available for the coming round; with `drop` it cuts
  /// its upload short if it is connected now.
  void begin_round(bool drop) {
    asio::post(strand_, [self = shared_from_this(), drop] {
      self->participant_ = true;
      self->offers_before_ = self->client_.counters().offers_received;
      // A device still reconnecting after an earlier drop gets its cut when
      // its next connection is up, so the schedule's drops all happen.
      self->drop_pending_ = drop;
      self->link_.disarm();
      if (drop && self->attached_) {
        self->link_.arm();
        self->drop_pending_ = false;
      }
      self->client_.set_available(true);
      self->step();
    });
  }

  /// Takes the device out of a round whose verdict never came.
  void end_round() {
    asio::post(strand_, [self = shared_from_this()] {
      self->participant_ = false;
      self->drop_pending_ = false;
      self->link_.disarm();
      self->client_.set_available(false);
    });
  }

  void stop() {
    asio::post(strand_, [self = shared_from_this()] {
      self->stopping_ = true;
      const std::uint64_t now = port::monotonic_ms();
      if (self->attached_) self->client_.shut_down(now);
      self->teardown(now);
      self->timer_.cancel();
    });
  }

  std::atomic<std::uint64_t> update_bytes{0};
  std::atomic<std::uint64_t> model_bytes{0};
  std::atomic<std::uint64_t> applied{0};
  std::atomic<std::uint64_t> resolved{0};  // verdicts and status answers, applied or not
  std::atomic<std::uint64_t> internal_rejects{0};
  std::atomic<std::uint64_t> drops{0};
  std::atomic<std::uint64_t> connections{0};
  std::atomic<bool> pending{false};
  std::size_t footprint_bytes() const { return footprint_bytes_; }

 private:
  void step() {
    if (stopping_) return;
    const std::uint64_t now = port::monotonic_ms();
    if (!tls_ && !connecting_ && client_.wants_connection(now)) {
      begin_connect();
      return;
    }
    if (tls_) {
      tls_->tick(now);
      if (!attached_ && tls_->established()) {
        link_.attach(tls_.get());
        if (drop_pending_) {
          link_.arm();
          drop_pending_ = false;
        }
        client_.on_connected(link_, now);
        attached_ = true;
      }
      if (attached_) client_.poll(now);
      if (participant_ && client_.counters().offers_received > offers_before_) {
        // The device has its offer; it checks in again only when the
        // schedule picks it.
        participant_ = false;
        client_.set_available(false);
      }
      if (tls_->failed() || link_.dropped() || (attached_ && !client_.connected())) teardown(now);
    }
    publish();
    wait(now);
  }

  void publish() {
    const DeviceCounters& counters = client_.counters();
    update_bytes.store(counters.update_bytes_sent);
    model_bytes.store(counters.model_bytes_received);
    applied.store(counters.updates_applied);
    resolved.store(counters.updates_applied + counters.updates_not_applied);
    internal_rejects.store(counters.not_applied_by_reason[static_cast<int>(protocol::VerdictReason::kInternal)]);
    connections.store(counters.connections);
    pending.store(client_.update_pending());
  }

  void wait(std::uint64_t now) {
    auto self = shared_from_this();
    if (tls_) {
      const std::uint64_t generation = generation_;
      if (!read_armed_) {
        read_armed_ = true;
        lower_->socket().async_wait(asio::ip::tcp::socket::wait_read,
                                    asio::bind_executor(strand_, [self, generation](const asio::error_code&) {
                                      if (generation != self->generation_) return;
                                      self->read_armed_ = false;
                                      self->step();
                                    }));
      }
      if (!write_armed_ && (tls_->wants_write() || client_.wants_write())) {
        write_armed_ = true;
        lower_->socket().async_wait(asio::ip::tcp::socket::wait_write,
                                    asio::bind_executor(strand_, [self, generation](const asio::error_code&) {
                                      if (generation != self->generation_) return;
                                      self->write_armed_ = false;
                                      self->step();
                                    }));
      }
    }
    if (connecting_) return;
    std::uint64_t wake = client_.next_wakeup_ms(now);
    if (tls_) wake = std::min<std::uint64_t>(wake, now + 1000);  // the TLS handshake and idle deadlines
    // At least 1 ms, so a device with nothing to send but a full socket does
    // not spin.
    const std::uint64_t delay = wake > now ? wake - now : 1;
    timer_.expires_after(std::chrono::milliseconds(delay));
    timer_.async_wait(asio::bind_executor(strand_, [self](const asio::error_code& error) {
      if (error != asio::error::operation_aborted) self->step();
    }));
  }

  void begin_connect() {
    connecting_ = true;
    auto socket = std::make_shared<asio::ip::tcp::socket>(strand_);
    socket->async_connect(endpoint_, asio::bind_executor(strand_, [self = shared_from_this(), socket](
                                                                         const asio::error_code& error) {
      self->connecting_ = false;
      const std::uint64_t now = port::monotonic_ms();
      if (self->stopping_) return;
      if (error) {
        log_message(LogLevel::kWarning, "simulation: device %u: connecting failed: %s", self->index_,
                    error.message().c_str());
        self->client_.on_connect_failed(now);
        self->step();
        return;
      }
      self->lower_ = std::make_unique<transport::AsioStream>(std::move(*socket));
      self->tls_ = std::make_unique<transport::TlsStream>();
      std::string start_error;
      if (!self->tls_->start(self->context_, *self->lower_, now, &start_error)) {
        log_message(LogLevel::kError, "simulation: device %u: TLS start failed: %s", self->index_,
                    start_error.c_str());
        self->teardown(now);
      }
      self->step();
    }));
  }

  void teardown(std::uint64_t now) {
    if (!tls_) return;
    if (tls_->failed()) {
      log_message(LogLevel::kWarning, "simulation: device %u: TLS failed: %s", index_, tls_->error_message());
    }
    if (attached_) {
      if (client_.connected()) client_.on_disconnected(now);
    } else {
      client_.on_connect_failed(now);
    }
    if (link_.dropped()) {
      drops.fetch_add(1);
      log_message(LogLevel::kInfo, "simulation: device %u dropped its connection mid-upload", index_);
    }
    // A device that vanishes sends nothing more; closing the socket ends the
    // connection at once.
    asio::error_code ignored;
    lower_->socket().close(ignored);
    tls_.reset();
    lower_.reset();
    link_.attach(nullptr);  // clears the cut for the next connection
    attached_ = false;
    read_armed_ = false;
    write_armed_ = false;
    ++generation_;
  }

  asio::strand<asio::io_context::executor_type> strand_;
  asio::ip::tcp::endpoint endpoint_;
  asio::steady_timer timer_;
  std::uint32_t index_;
  transport::TlsContext context_;
  std::unique_ptr<transport::AsioStream> lower_;
  std::unique_ptr<transport::TlsStream> tls_;
  DropStream link_;
  DeviceClient client_;
  std::vector<std::uint8_t> arena_;
  std::size_t footprint_bytes_ = 0;
  std::uint64_t generation_ = 0;  // bumped per connection, so stale waits are ignored
  std::uint64_t offers_before_ = 0;
  bool attached_ = false;
  bool connecting_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  bool participant_ = false;
  bool drop_pending_ = false;  // cut the upload once the next connection is up
  bool stopping_ = false;
};

// The coordinator process.
class CoordinatorProcess {
 public:
  ~CoordinatorProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  bool start(const std::string& program, const std::vector<std::string>& arguments, const std::string& log_path,
             std::string* error) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int result = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (result != 0) {
      pid_ = 0;
      *error = "starting " + program + " failed: " + std::strerror(result);
      return false;
    }
    return true;
  }

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
  }

  /// Stops the coordinator with SIGTERM and returns its peak resident set in
  /// bytes until then (0 when unknown). The peak is the kernel's VmHWM of
  /// the process: wait4()'s ru_maxrss would also count this process's pages,
  /// which the child shares between posix_spawn() and exec.
  std::uint64_t stop() {
    if (pid_ <= 0) return 0;
    std::uint64_t peak = 0;
    std::ifstream status_file("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status_file, line)) {
      if (line.rfind("VmHWM:", 0) == 0) peak = std::strtoull(line.c_str() + 6, nullptr, 10) * 1024u;  // kB
    }
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return peak;
  }

 private:
  pid_t pid_ = 0;
};

// Raises the open-file limit far enough for `needed` descriptors.
bool raise_file_limit(std::uint64_t needed, std::string* error) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur >= needed) return true;
  if (limit.rlim_max < needed) {
    *error = std::to_string(needed) + " open files are needed, but the hard limit is " +
             std::to_string(limit.rlim_max) + ": raise it (ulimit -Hn as root) or simulate fewer devices";
    return false;
  }
  limit.rlim_cur = needed;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    *error = std::string("raising the open-file limit failed: ") + std::strerror(errno);
    return false;
  }
  return true;
}

std::string method_flag(Method method) { return method_name(method); }

std::vector<std::string> coordinator_arguments(const FederationOptions& options, const std::string& dir,
                                               std::uint32_t eval_every) {
  const protocol::CompressorOffer& compressor = options.compressor;
  std::vector<std::string> arguments = {
      "--listen", "127.0.0.1:0", "--port-file", dir + "/coordinator.port", "--ca", dir + "/ca.crt", "--cert",
      dir + "/coordinator.crt", "--key", dir + "/coordinator.key", "--model", model_kind_name(options.shape.kind),
      "--inputs", std::to_string(options.shape.inputs), "--classes", std::to_string(options.shape.classes),
      "--hidden", std::to_string(options.shape.kind == ModelKind::kMlp ? options.shape.hidden : 1), "--init-seed",
      std::to_string(options.seed), "--run-seed", std::to_string(options.seed), "--selection-seed",
      std::to_string(options.seed), "--devices-per-round", std::to_string(options.schedule.devices_per_round),
      "--min-updates", std::to_string(options.min_updates), "--round-deadline-ms", std::to_string(kRoundDeadlineMs),
      "--selection-wait-ms", std::to_string(kSelectionWaitMs), "--rounds", "0", "--local-steps",
      std::to_string(options.local_steps), "--batch-size", std::to_string(options.batch_size), "--learning-rate",
      std::to_string(options.device_learning_rate), "--server-learning-rate",
      std::to_string(options.server_learning_rate), "--momentum", std::to_string(options.momentum), "--method",
      method_flag(compressor.method), "--levels", std::to_string(compressor.quantizer.levels), "--bucket-size",
      std::to_string(compressor.quantizer.bucket_size), "--norm",
      compressor.quantizer.norm == NormKind::kL2 ? "l2" : "linf", "--encoder",
      compressor.encoder == EncoderChoice::kAuto ? "auto"
                                                 : (compressor.encoder == EncoderChoice::kFixedWidth ? "fixed" : "entropy"),
      "--metrics-listen", "", "--no-durability", "--eval-every", std::to_string(eval_every), "--export-model", dir + "/model.ecqm",
      "--max-body-size", std::to_string(options.device_body_size), "--idle-timeout-ms", "120000", "--log-level",
      "warning"};
  if (!compressor.use_default_compensation) {
    arguments.insert(arguments.end(),
                     {"--alpha", std::to_string(compressor.alpha), "--beta", std::to_string(compressor.beta)});
  }
  return arguments;
}

bool write_credentials(const std::string& dir, std::uint32_t devices, std::string* ca_pem,
                       std::vector<pki::Credential>* credentials, std::string* error) {
  const pki::Validity validity = pki::validity_for_days(2, std::time(nullptr));
  pki::Credential ca;
  pki::Credential coordinator;
  if (!pki::create_ca("ecq-sim throwaway CA", validity, &ca, error) ||
      !pki::issue_coordinator(ca, "ecq-sim coordinator", {"localhost"}, validity, &coordinator, error) ||
      !pki::write_private_file(dir + "/ca.crt", ca.certificate_pem, error) ||
      !pki::write_private_file(dir + "/coordinator.crt", coordinator.certificate_pem, error) ||
      !pki::write_private_file(dir + "/coordinator.key", coordinator.key_pem, error)) {
    return false;
  }
  credentials->resize(devices);
  for (std::uint32_t i = 0; i < devices; ++i) {
    if (!pki::issue_device(ca, "dev-" + std::to_string(i), validity, &(*credentials)[i], error)) return false;
  }
  *ca_pem = ca.certificate_pem;
  return true;
}

bool read_port(const std::string& path, CoordinatorProcess& process, std::uint16_t* port, std::string* error) {
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < give_up) {
    std::ifstream in(path);
    unsigned value = 0;
    if (in >> value && value > 0 && value < 65536) {
      *port = static_cast<std::uint16_t>(value);
      return true;
    }
    if (!process.running()) {
      *error = "ecq-coordinator exited before listening";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  *error = "ecq-coordinator did not write " + path + " within 30 s";
  return false;
}

// Waits for the exported model of `version` applied rounds.
bool read_export(const std::string& path, std::uint64_t version, coordinator::ModelFile* file, std::string* error) {
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  std::string last_error;
  while (Clock::now() < give_up) {
    if (coordinator::read_model_file(path, file, &last_error) && file->model_version >= version) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  *error = "the coordinator did not export the model of version " + std::to_string(version) + " to " + path +
           " within 30 s" + (last_error.empty() ? "" : ": " + last_error);
  return false;
}

}  // namespace

bool run_tls_federation(const FederationOptions& options, const TlsRunOptions& tls, const data::ImageDataset& train,
                        const data::ImageDataset& test, const data::Partition& partition, Progress* progress,
                        RunResult* result, std::string* error) {
  const std::uint32_t devices = options.schedule.devices;
  if (!raise_file_limit(static_cast<std::uint64_t>(devices) + 256, error)) return false;
  if (!pki::make_private_directory(tls.work_dir, error)) return false;

  std::string ca_pem;
  std::vector<pki::Credential> credentials;
  if (!write_credentials(tls.work_dir, devices, &ca_pem, &credentials, error)) return false;

  TestEvaluator evaluator;
  double initial_loss = 0.0;
  if (!evaluator.init(options.shape, test, error) || !evaluator.initial_loss(options.seed, &initial_loss, error)) {
    return false;
  }
  const std::size_t arena_bytes = device_arena_bytes(options, error);
  if (arena_bytes == 0) return false;

  CoordinatorProcess coordinator;
  const std::string log_path = tls.work_dir + "/" + tls.log_name;
  const std::string export_path = tls.work_dir + "/model.ecqm";
  std::remove(export_path.c_str());
  std::remove((tls.work_dir + "/coordinator.port").c_str());
  if (!coordinator.start(tls.coordinator_program, coordinator_arguments(options, tls.work_dir, options.eval_every),
                         log_path, error)) {
    return false;
  }
  std::uint16_t port = 0;
  if (!read_port(tls.work_dir + "/coordinator.port", coordinator, &port, error)) {
    *error += " (see " + log_path + ")";
    return false;
  }

  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  std::vector<std::unique_ptr<DeviceData>> data;
  std::vector<std::shared_ptr<TlsDevice>> fleet;
  for (std::uint32_t i = 0; i < devices; ++i) {
    data.push_back(std::make_unique<DeviceData>(train, partition.devices[i], options.batch_size,
                                                options.seed * 1000003u + i));
    auto device = std::make_shared<TlsDevice>(io, endpoint, i);
    if (!device->init(options, ca_pem, credentials[i], data.back().get(), arena_bytes, error)) return false;
    fleet.push_back(device);
  }
  credentials.clear();

  std::vector<std::thread> threads;
  for (std::uint32_t t = 0; t < std::max<std::uint32_t>(1, tls.threads); ++t) threads.emplace_back([&io] { io.run(); });
  auto stop_threads = [&] {
    for (auto& device : fleet) device->stop();
    guard.reset();
    io.stop();
    for (std::thread& thread : threads) thread.join();
    threads.clear();
  };

  for (auto& device : fleet) device->start();
  // Every device connects once before the first round, so the rounds measure
  // training rather than the fleet's first handshakes.
  const auto connect_deadline = Clock::now() + std::chrono::seconds(60 + devices / 20);
  while (std::any_of(fleet.begin(), fleet.end(), [](const auto& device) { return device->connections.load() == 0; })) {
    if (Clock::now() > connect_deadline || !coordinator.running()) {
      stop_threads();
      *error = "not every device connected to the coordinator (see " + log_path + ")";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  const auto started = Clock::now();
  const Schedule schedule(options.schedule);
  std::uint64_t applied_rounds = 0;
  std::uint64_t uplink = 0;
  std::uint64_t downlink = 0;
  std::uint64_t dropped = 0;
  double last_accuracy = -1.0;
  std::uint64_t last_evaluated_version = 0;
  bool ok = true;

  for (std::uint32_t round = 1; round <= options.rounds && ok; ++round) {
    const RoundPlan plan = schedule.plan(round - 1);
    std::vector<std::uint64_t> resolved_before(plan.participants.size());
    std::vector<std::uint64_t> applied_before(plan.participants.size());
    std::vector<std::uint64_t> internal_before(plan.participants.size());
    std::vector<std::uint64_t> device_drops_before(plan.participants.size());
    std::uint64_t drops_before = 0;
    for (const auto& device : fleet) drops_before += device->drops.load();
    for (std::size_t i = 0; i < plan.participants.size(); ++i) {
      TlsDevice& device = *fleet[plan.participants[i]];
      resolved_before[i] = device.resolved.load();
      applied_before[i] = device.applied.load();
      internal_before[i] = device.internal_rejects.load();
      device_drops_before[i] = device.drops.load();
      device.begin_round(plan.drops[i]);
    }

    const auto give_up = Clock::now() + std::chrono::milliseconds(kRoundDeadlineMs + kSelectionWaitMs + 10000);
    while (true) {
      // A participant is done when its verdict arrived. One that dropped
      // mid-upload learns its update's fate after a reconnect backoff, which
      // the next round need not wait for, unless every participant dropped:
      // then their status answers tell that the round is over.
      bool waiting = false;
      bool any_verdict = false;
      bool dropped_waiting = false;
      for (std::size_t i = 0; i < plan.participants.size(); ++i) {
        const TlsDevice& device = *fleet[plan.participants[i]];
        const bool resolved = device.resolved.load() != resolved_before[i] && !device.pending.load();
        const bool dropped_now = device.drops.load() != device_drops_before[i];
        any_verdict |= resolved;
        if (!resolved && dropped_now) {
          dropped_waiting = true;
        } else if (!resolved) {
          waiting = true;
        }
      }
      if (!waiting && (!dropped_waiting || any_verdict)) break;
      if (!coordinator.running()) {
        *error = "ecq-coordinator exited during round " + std::to_string(round) + " (see " + log_path + ")";
        ok = false;
        break;
      }
      if (Clock::now() > give_up) {
        log_message(LogLevel::kWarning, "simulation: round %u: some participants got no verdict; going on", round);
        for (const std::uint32_t index : plan.participants) fleet[index]->end_round();
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (!ok) break;

    std::uint32_t updates = 0;
    bool internal = false;
    for (std::size_t i = 0; i < plan.participants.size(); ++i) {
      const TlsDevice& device = *fleet[plan.participants[i]];
      updates += static_cast<std::uint32_t>(device.applied.load() - applied_before[i]);
      internal |= device.internal_rejects.load() > internal_before[i];
    }
    uplink = 0;
    downlink = 0;
    std::uint64_t drops_now = 0;
    for (const auto& device : fleet) {
      uplink += device->update_bytes.load();
      downlink += device->model_bytes.load();
      drops_now += device->drops.load();
    }
    dropped = drops_now;
    RoundRecord record;
    record.round = round;
    record.applied = updates > 0;
    record.updates = updates;
    record.dropped = static_cast<std::uint32_t>(drops_now - drops_before);
    record.uplink_bytes = uplink;
    record.downlink_bytes = downlink;
    result->rounds.push_back(record);
    if (record.applied) ++applied_rounds;

    if (internal) {
      // The coordinator rejects a round whose result is not finite.
      result->diverged = true;
      result->diverged_at_round = round;
      break;
    }
    const bool last = round == options.rounds;
    if ((record.applied && applied_rounds % options.eval_every == 0) || last) {
      if (last && applied_rounds % options.eval_every != 0) {
        // The coordinator exports at evaluations and when it stops.
        result->peak_coordinator_rss_bytes = coordinator.stop();
      }
      coordinator::ModelFile model;
      EvaluationRecord evaluation;
      evaluation.round = round;
      evaluation.uplink_bytes = uplink;
      evaluation.downlink_bytes = downlink;
      if (!read_export(export_path, applied_rounds, &model, error) ||
          !evaluator.evaluate(model.parameters, &evaluation, error)) {
        ok = false;
        break;
      }
      if (!all_finite(model.parameters) ||
          TestEvaluator::diverged(evaluation, initial_loss, options.divergence_loss_factor)) {
        result->diverged = true;
        result->diverged_at_round = round;
        break;
      }
      last_evaluated_version = model.model_version;
      result->evaluations.push_back(evaluation);
      last_accuracy = evaluation.accuracy;
    }
    if (progress != nullptr) progress->update(round, last_accuracy, uplink);
  }
  (void)last_evaluated_version;

  result->uplink_bytes = uplink;
  result->downlink_bytes = downlink;
  result->rounds_applied = static_cast<std::uint32_t>(applied_rounds);
  result->devices_dropped = dropped;
  result->wall_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  result->peak_device_bytes = fleet.empty() ? 0 : fleet.front()->footprint_bytes();
  stop_threads();
  if (result->peak_coordinator_rss_bytes == 0) result->peak_coordinator_rss_bytes = coordinator.stop();
  if (progress != nullptr && ok) {
    progress->finish(static_cast<std::uint32_t>(result->rounds.size()), last_accuracy, uplink);
  }
  return ok;
}

}  // namespace ecq::sim
