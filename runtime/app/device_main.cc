// ecq-device: one federated-learning device on a host. It loads its share of
// a data set, connects to the coordinator over TLS (certificate or PSK) or,
// for tests, plain TCP, and runs the ecq::device client until it has received
// --rounds verdicts or is stopped by SIGINT or SIGTERM (it then says goodbye).
// Exit status: 0 on success, 1 with a one-line error on stderr otherwise.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ecq/data/batch.h"
#include "ecq/data/dense.h"
#include "ecq/data/idx.h"
#include "ecq/data/partition.h"
#include "ecq/pki/device_tls.h"
#include "ecq/port/clock.h"
#include "ecq/port/posix.h"
#include "ecq/port/socket.h"
#include "ecq/runtime/device_client.h"
#include "ecq/runtime/log.h"
#include "ecq/transport/device_connection.h"
#include "ecq/transport/socket_stream.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void request_stop(int) { g_stop = 1; }

struct Options {
  std::string coordinator;
  std::string server_name = "localhost";
  std::string pki_directory;
  std::string id;
  std::string ca_file;
  std::string certificate_file;
  std::string key_file;
  std::string psk_file;
  bool insecure_plaintext = false;
  std::string model = "softmax";
  std::uint32_t hidden = 128;
  std::string data;
  std::string idx_images;
  std::string idx_labels;
  std::string libsvm;
  std::uint32_t features = 0;
  std::string partition = "iid";
  double partition_alpha = 0.5;
  std::uint32_t shards_per_device = 2;
  std::uint32_t devices = 1;
  std::uint32_t device_index = 0;
  std::uint64_t seed = 1;
  std::uint32_t max_batch = 64;
  std::vector<std::string> methods = {"fp32", "qsgd", "ef", "ecq"};
  std::uint32_t min_bucket_size = 64;
  std::uint32_t max_levels = 127;
  bool no_local_steps = false;
  std::string state_dir;
  std::uint32_t save_every = 10;
  std::uint64_t rounds = 0;
  std::uint32_t max_body_size = 65536;
  std::uint32_t upload_body_size = 65536;
  std::uint32_t heartbeat_ms = 10000;
  std::uint32_t idle_timeout_ms = 30000;
  std::uint32_t handshake_timeout_ms = 10000;
  std::uint32_t backoff_min_ms = 500;
  std::uint32_t backoff_max_ms = 60000;
  float round_decay = 1.0f;
  std::string error_buffer = "fp32";
  std::string log_level = "info";
};

// The device's samples in the layout the model reads, whatever the source.
struct DeviceData {
  ecq::data::ImageDataset images;  // Fashion-MNIST or IDX files
  ecq::data::DenseDataset dense;   // LIBSVM
  bool is_images = false;
  std::uint32_t inputs = 0;
  std::uint32_t classes = 2;
  ecq::ModelKind kind = ecq::ModelKind::kSoftmax;
  std::unique_ptr<ecq::data::BatchSampler> sampler;  // one sample per draw
  std::vector<float> target_scratch;
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "ecq-device: " << message << "\n";
  std::exit(1);
}

bool split_host_port(const std::string& text, std::string* host, std::uint16_t* port) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return false;
  }
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);  // [::1]:7000
  }
  const std::string digits = text.substr(colon + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 5) {
    return false;
  }
  const unsigned long value = std::stoul(digits);
  if (value == 0 || value > 65535) {
    return false;
  }
  *port = static_cast<std::uint16_t>(value);
  return true;
}

void load_data(const Options& options, DeviceData* data) {
  std::string error;
  std::vector<std::uint8_t> labels;
  std::uint32_t count = 0;
  if (!options.libsvm.empty()) {
    if (!ecq::data::read_libsvm(options.libsvm, options.features, &data->dense, &error)) {
      fail(error);
    }
    data->inputs = data->dense.features;
    count = data->dense.count();
    float largest = 0.0f;
    for (float label : data->dense.y) {
      largest = std::max(largest, label);
    }
    if (data->kind == ecq::ModelKind::kSoftmax || data->kind == ecq::ModelKind::kMlp) {
      for (float label : data->dense.y) {
        if (label < 0.0f || label > 255.0f || label != static_cast<float>(static_cast<int>(label))) {
          fail(options.libsvm + ": label " + std::to_string(label) +
               " is not a class 0 to 255; use --model linear or logistic for other targets");
        }
      }
      data->classes = static_cast<std::uint32_t>(largest) + 1 < 2 ? 2 : static_cast<std::uint32_t>(largest) + 1;
    }
    for (float label : data->dense.y) {
      labels.push_back(static_cast<std::uint8_t>(label > 0.0f && label < 256.0f ? label : 0.0f));
    }
  } else {
    if (!options.idx_images.empty() || !options.idx_labels.empty()) {
      if (options.idx_images.empty() || options.idx_labels.empty()) {
        fail("--idx-images and --idx-labels go together; pass both files");
      }
      if (!ecq::data::read_idx_dataset(options.idx_images, options.idx_labels, 256, &data->images, &error)) {
        fail(error);
      }
    } else if (options.data == "fashion-mnist") {
      std::string directory;
      if (!ecq::data::locate_fashion_mnist(&directory, &error) ||
          !ecq::data::load_fashion_mnist(directory, ecq::data::Split::kTrain, &data->images, &error)) {
        fail(error);
      }
    } else {
      fail("no data: pass --data fashion-mnist, --idx-images FILE --idx-labels FILE, or --libsvm FILE");
    }
    data->is_images = true;
    data->inputs = static_cast<std::uint32_t>(data->images.image_size());
    count = data->images.count;
    labels = data->images.labels;
    std::uint32_t largest = 0;
    for (std::uint8_t label : labels) {
      largest = std::max<std::uint32_t>(largest, label);
    }
    data->classes = std::max<std::uint32_t>(2, largest + 1);
  }

  ecq::data::Partition partition;
  bool ok = false;
  if (options.partition == "iid") {
    ok = ecq::data::partition_iid(count, options.devices, options.seed, &partition, &error);
  } else if (options.partition == "dirichlet") {
    ok = ecq::data::partition_dirichlet(labels, options.devices, options.partition_alpha, options.seed, &partition,
                                        &error);
  } else {
    ok = ecq::data::partition_shards(labels, options.devices, options.shards_per_device, options.seed, &partition,
                                     &error);
  }
  if (!ok) {
    fail("partitioning the data failed: " + error);
  }
  if (options.device_index >= options.devices) {
    fail("--device-index " + std::to_string(options.device_index) + " must be below --devices " +
         std::to_string(options.devices));
  }
  std::vector<std::uint32_t> share = partition.devices[options.device_index];
  if (share.empty()) {
    fail("device index " + std::to_string(options.device_index) + " received no samples from the " +
         options.partition + " partition; use fewer --devices or another --partition");
  }
  ecq::log_message(ecq::LogLevel::kInfo, "device %s: %zu samples (share %u of %u, %s), %u inputs, %u classes",
                   options.id.c_str(), share.size(), options.device_index, options.devices,
                   options.partition.c_str(), data->inputs, data->classes);
  data->sampler = std::make_unique<ecq::data::BatchSampler>(std::move(share), 1, options.seed + options.device_index);
}

// DataSource::fill: draws `rows` samples from the device's share.
ecq::Status fill_batch(void* context, std::uint32_t rows, ecq::Span<float> features, ecq::Span<float> targets,
                       ecq::Span<std::int32_t> labels, std::uint32_t* filled) {
  auto* data = static_cast<DeviceData*>(context);
  std::string error;
  for (std::uint32_t row = 0; row < rows; ++row) {
    const ecq::Span<const std::uint32_t> index = data->sampler->next();
    const std::uint32_t sample = index[0];
    ecq::Span<float> x = features.subspan(std::size_t{row} * data->inputs, data->inputs);
    if (data->is_images) {
      std::int32_t label = 0;
      if (!ecq::data::gather_images(data->images, index, x, ecq::Span<std::int32_t>(&label, 1), &error)) {
        ecq::log_message(ecq::LogLevel::kError, "forming a batch failed: %s", error.c_str());
        return ecq::Status::kInvalidArgument;
      }
      labels[row] = label;
      targets[row] = static_cast<float>(label);
    } else {
      float target = 0.0f;
      if (!ecq::data::gather_dense(data->dense, index, x, ecq::Span<float>(&target, 1), &error)) {
        ecq::log_message(ecq::LogLevel::kError, "forming a batch failed: %s", error.c_str());
        return ecq::Status::kInvalidArgument;
      }
      // Logistic regression reads 0 or 1; LIBSVM binary files often use -1.
      targets[row] = data->kind == ecq::ModelKind::kLogistic ? (target > 0.0f ? 1.0f : 0.0f) : target;
      labels[row] = static_cast<std::int32_t>(target);
    }
    (void)sample;
  }
  *filled = rows;
  return ecq::Status::kOk;
}

void add_options(CLI::App& app, Options* o) {
  app.add_option("--coordinator", o->coordinator, "Coordinator address HOST:PORT ([::1]:PORT for IPv6)")->required();
  app.add_option("--server-name", o->server_name, "Host name to verify in the coordinator certificate")
      ->capture_default_str();
  app.add_option("--pki", o->pki_directory,
                 "Certificate mode from an ecq-pki CA directory: DIR/ca.crt, DIR/devices/ID.crt, DIR/devices/ID.key");
  app.add_option("--id", o->id, "Device id (1 to 64 of A-Z a-z 0-9 . _ -); with --pki, --psk-file, --insecure-plaintext");
  app.add_option("--ca", o->ca_file, "Certificate mode with explicit files: fleet CA certificate (PEM)");
  app.add_option("--cert", o->certificate_file, "Device certificate (PEM); its subject CN is the device id");
  app.add_option("--key", o->key_file, "Device private key (PEM, unencrypted)");
  app.add_option("--psk-file", o->psk_file, "PSK mode: file with the 64-hex-digit key; PSK identity = --id");
  app.add_flag("--insecure-plaintext", o->insecure_plaintext,
               "Plain TCP without TLS, for tests only: the connection is unencrypted and the id unauthenticated");
  app.add_option("--model", o->model, "Model kind this device runs: softmax, mlp, logistic or linear")
      ->check(CLI::IsMember({"softmax", "mlp", "logistic", "linear"}))
      ->capture_default_str();
  app.add_option("--hidden", o->hidden, "Hidden units of the mlp model")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--data", o->data, "Named data set: fashion-mnist (Debian's dataset-fashion-mnist training set)")
      ->check(CLI::IsMember({"fashion-mnist"}));
  app.add_option("--idx-images", o->idx_images, "IDX image file (gzip or plain); needs --idx-labels");
  app.add_option("--idx-labels", o->idx_labels, "IDX label file (gzip or plain); needs --idx-images");
  app.add_option("--libsvm", o->libsvm, "LIBSVM data file");
  app.add_option("--features", o->features, "Feature count of the LIBSVM file; 0 infers it")->capture_default_str();
  app.add_option("--partition", o->partition, "How the data is split across devices: iid, dirichlet or shards")
      ->check(CLI::IsMember({"iid", "dirichlet", "shards"}))
      ->capture_default_str();
  app.add_option("--partition-alpha", o->partition_alpha, "Dirichlet concentration (smaller = more label skew)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--shards-per-device", o->shards_per_device, "Shards per device for --partition shards")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--devices", o->devices, "Number of devices the data is split across")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--device-index", o->device_index, "This device's share, 0 to --devices - 1")->capture_default_str();
  app.add_option("--seed", o->seed, "Partition seed; the same on every device gives disjoint shares")
      ->capture_default_str();
  app.add_option("--max-batch", o->max_batch, "Largest batch the device accepts, in samples (sizes its buffers)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--methods", o->methods,
                 "Compressor methods the device accepts, comma-separated (fp32, qsgd, ef, ecq); without fp32 the "
                 "payload buffer is sized for quantized payloads only")
      ->delimiter(',')
      ->check(CLI::IsMember({"fp32", "qsgd", "ef", "ecq"}))
      ->capture_default_str();
  app.add_option("--min-bucket-size", o->min_bucket_size,
                 "Smallest quantizer bucket the device accepts (sizes the payload buffer)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-levels", o->max_levels, "Most quantization levels s the device accepts, 1 to 127")
      ->check(CLI::Range(1u, 127u))
      ->capture_default_str();
  app.add_flag("--no-local-steps", o->no_local_steps,
               "Train one gradient per round and decline local-steps (FedAvg) offers, which saves the working copy "
               "of the model (4 bytes per parameter)");
  app.add_option("--state-dir", o->state_dir,
                 "Directory for the saved error buffer and update-id counter (default: ECQ_STORAGE_DIR or ./ecq-storage)");
  app.add_option("--save-every", o->save_every, "Save the error buffer every N committed updates; 0 = never")
      ->capture_default_str();
  app.add_option("--rounds", o->rounds, "Exit 0 after this many verdicts, taking no further round and sending goodbye; 0 = run until SIGINT or SIGTERM")
      ->capture_default_str();
  app.add_option("--max-body-size", o->max_body_size,
                 "Largest frame body in bytes, both received by the device (announced in hello) and sent in update "
                 "chunks (must not exceed the coordinator's maximum)")
      ->check(CLI::Range(273u, 1u << 30))
      ->capture_default_str();
  app.add_option("--heartbeat-ms", o->heartbeat_ms, "Send a heartbeat after this many milliseconds without sending")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", o->idle_timeout_ms,
                 "Close the connection after this many milliseconds without receiving")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--handshake-timeout-ms", o->handshake_timeout_ms, "TLS handshake deadline in milliseconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--backoff-min-ms", o->backoff_min_ms, "First reconnect delay in milliseconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--backoff-max-ms", o->backoff_max_ms, "Largest reconnect delay in milliseconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--round-decay", o->round_decay,
                 "Extra error-buffer decay per global round missed, above 0 and at most 1 (1 = off)")
      ->capture_default_str();
  app.add_option("--error-buffer", o->error_buffer,
                 "Element type of the ef and ecq error buffer: fp32 (4 bytes per parameter) or fp16 (2 bytes, "
                 "IEEE binary16); the payload is the same for both")
      ->check(CLI::IsMember({"fp32", "fp16"}))
      ->capture_default_str();
  app.add_option("--log-level", o->log_level, "Least severe log level printed: error, warning, info or debug")
      ->check(CLI::IsMember({"error", "warning", "info", "debug"}))
      ->capture_default_str();
}

// Builds the TLS configuration from the credential options and fills in the
// device id; exits with a message when the options conflict.
bool make_tls_config(Options* o, ecq::transport::TlsConfig* tls) {
  const int modes = (o->pki_directory.empty() ? 0 : 1) + (o->ca_file.empty() && o->certificate_file.empty() ? 0 : 1) +
                    (o->psk_file.empty() ? 0 : 1) + (o->insecure_plaintext ? 1 : 0);
  if (modes != 1) {
    fail("choose exactly one of --pki DIR, --ca/--cert/--key, --psk-file FILE and --insecure-plaintext");
  }
  std::string error;
  if (o->insecure_plaintext) {
    if (o->id.empty()) fail("--insecure-plaintext needs --id ID");
    return false;
  }
  if (!o->pki_directory.empty()) {
    if (o->id.empty()) fail("--pki needs --id ID");
    if (!ecq::pki::device_tls_from_ca_directory(o->pki_directory, o->id, o->server_name, tls, &error)) fail(error);
  } else if (!o->psk_file.empty()) {
    if (o->id.empty()) fail("--psk-file needs --id ID");
    if (!ecq::pki::device_tls_from_psk_file(o->psk_file, o->id, tls, &error)) fail(error);
  } else {
    if (o->ca_file.empty() || o->certificate_file.empty() || o->key_file.empty()) {
      fail("certificate mode with explicit files needs all of --ca, --cert and --key");
    }
    std::string name;
    if (!ecq::pki::device_tls_from_files(o->ca_file, o->certificate_file, o->key_file, o->server_name, tls, &name,
                                         &error)) {
      fail(error);
    }
    if (!o->id.empty() && o->id != name) {
      fail("--id " + o->id + " differs from the certificate's subject CN '" + name + "'; drop --id or fix it");
    }
    o->id = name;
  }
  tls->handshake_timeout_ms = o->handshake_timeout_ms;
  tls->idle_timeout_ms = o->idle_timeout_ms;
  return true;
}

// One connection: TLS over the port socket, or a plain socket stream.
struct Connection {
  std::unique_ptr<ecq::transport::DeviceConnection> tls;
  std::unique_ptr<ecq::transport::SocketStream> plain;

  ecq::transport::Stream& stream() {
    if (tls) return tls->stream();
    return *plain;
  }

  // Waits up to timeout_ms for traffic; returns false when the transport failed.
  bool wait(std::uint32_t timeout_ms, bool want_write) {
    if (tls) return tls->poll(timeout_ms);
    bool readable = false;
    bool writable = false;
    const ecq::port::PortStatus status =
        ecq::port::socket_wait(plain->socket(), true, want_write, timeout_ms, &readable, &writable);
    return status == ecq::port::PortStatus::kOk || status == ecq::port::PortStatus::kTimeout;
  }
};

bool connect_plain(const std::string& host, std::uint16_t port, std::uint32_t timeout_ms, Connection* connection,
                   std::string* error) {
  ecq::port::Socket socket;
  const ecq::port::PortStatus started = ecq::port::socket_connect(host.c_str(), port, &socket);
  if (started == ecq::port::PortStatus::kWouldBlock) {
    bool readable = false;
    bool writable = false;
    if (ecq::port::socket_wait(socket, false, true, timeout_ms, &readable, &writable) != ecq::port::PortStatus::kOk ||
        ecq::port::socket_connect_finish(socket) != ecq::port::PortStatus::kOk) {
      ecq::port::socket_close(&socket);
      *error = "refused, unreachable or timed out";
      return false;
    }
  } else if (started != ecq::port::PortStatus::kOk) {
    *error = ecq::port::port_status_name(started);
    return false;
  }
  connection->plain = std::make_unique<ecq::transport::SocketStream>(socket);
  return true;
}

std::uint64_t verdicts(const ecq::DeviceClient& client) {
  return client.counters().updates_applied + client.counters().updates_not_applied;
}

// The poll loop: connects when the client asks, waits on the socket until
// the client's next wakeup, and stops after --rounds verdicts or a signal.
int drive(ecq::DeviceClient& client, const Options& o, const std::string& host, std::uint16_t port, bool use_tls,
          ecq::transport::TlsContext& tls_context) {
  constexpr std::uint32_t kMaxWaitMs = 200;
  std::unique_ptr<Connection> connection;
  const char* id = o.id.c_str();
  for (;;) {
    std::uint64_t now = ecq::port::monotonic_ms();
    if (g_stop != 0 || (o.rounds != 0 && verdicts(client) >= o.rounds)) {
      client.shut_down(now);
      if (connection) {
        (void)connection->wait(0, true);  // let the goodbye and close_notify out
      }
      ecq::log_message(ecq::LogLevel::kInfo, "device %s: stopped after %llu verdicts (%llu applied)", id,
                       static_cast<unsigned long long>(verdicts(client)),
                       static_cast<unsigned long long>(client.counters().updates_applied));
      return 0;
    }
    // In its last round the device does not check in again, so no offer is
    // on its way when it closes: unread bytes would make the close a reset,
    // which can overtake the goodbye.
    if (o.rounds != 0 && verdicts(client) + 1 >= o.rounds) {
      client.set_available(false);
    }
    if (client.wants_connection(now)) {
      connection = std::make_unique<Connection>();
      std::string error;
      bool connected = false;
      if (use_tls) {
        connection->tls = std::make_unique<ecq::transport::DeviceConnection>();
        connected = connection->tls->connect(host, port, tls_context, &error);
      } else {
        connected = connect_plain(host, port, o.handshake_timeout_ms, connection.get(), &error);
        if (!connected) error = "connecting to " + host + ":" + std::to_string(port) + " failed: " + error;
      }
      now = ecq::port::monotonic_ms();
      if (!connected) {
        ecq::log_message(ecq::LogLevel::kWarning, "device %s: %s", id, error.c_str());
        connection.reset();
        client.on_connect_failed(now);
        continue;
      }
      ecq::log_message(ecq::LogLevel::kInfo, "device %s: connected to %s:%u%s", id, host.c_str(), port,
                       use_tls ? " over TLS" : " in plain text");
      client.on_connected(connection->stream(), now);
    }
    if (!connection) {
      const std::uint64_t wakeup = client.next_wakeup_ms(now);
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::uint64_t>(wakeup - now, kMaxWaitMs)));
      continue;
    }
    client.poll(now);
    if (!client.connected()) {
      (void)connection->wait(0, true);
      connection.reset();
      continue;
    }
    const std::uint64_t wakeup = client.next_wakeup_ms(now);
    const auto timeout = static_cast<std::uint32_t>(std::min<std::uint64_t>(wakeup - now, kMaxWaitMs));
    if (!connection->wait(timeout, client.wants_write())) {
      const char* reason = connection->stream().error_message();
      ecq::log_message(ecq::LogLevel::kWarning, "device %s: the connection failed: %s", id, reason);
      client.on_disconnected(ecq::port::monotonic_ms());
      connection.reset();
    }
  }
}

int run(int argc, char** argv) {
  CLI::App app{"ecq-device: one federated-learning device. Trains the model the coordinator offers on its share of "
               "the data, compresses the update with its error buffer (ECQ-SGD) and uploads it; reconnects with "
               "backoff. Exit status: 0 after --rounds verdicts or a signal, 1 with a one-line error."};
  Options o;
  add_options(app, &o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message; --help exits 0 and every usage error 1, as
    // the help text promises.
    return app.exit(e) == 0 ? 0 : 1;
  }
  // CLI11 has checked the name, so parsing cannot fail here.
  ecq::LogLevel level = ecq::LogLevel::kInfo;
  (void)ecq::parse_log_level(o.log_level.c_str(), &level);
  ecq::set_log_level(level);

  std::string host;
  std::uint16_t port = 0;
  if (!split_host_port(o.coordinator, &host, &port)) {
    fail("--coordinator '" + o.coordinator + "' is not HOST:PORT with a port of 1 to 65535");
  }
  ecq::transport::TlsConfig tls_config;
  const bool use_tls = make_tls_config(&o, &tls_config);
  if (!use_tls) {
    ecq::log_message(ecq::LogLevel::kWarning,
                     "device %s: --insecure-plaintext: the connection is unencrypted and the device id "
                     "unauthenticated; use it for tests only",
                     o.id.c_str());
  }

  ecq::ModelKind kind = ecq::ModelKind::kSoftmax;
  (void)ecq::parse_model_kind(o.model.c_str(), &kind);
  DeviceData data;
  data.kind = kind;
  load_data(o, &data);

  ecq::DeviceConfig config;
  if (o.id.size() > ecq::protocol::kMaxDeviceIdBytes) fail("--id is longer than 64 characters");
  std::strncpy(config.device_id, o.id.c_str(), sizeof config.device_id - 1);
  config.send_device_id = !use_tls;
  config.shape.kind = kind;
  config.shape.inputs = data.inputs;
  config.shape.classes = kind == ecq::ModelKind::kSoftmax || kind == ecq::ModelKind::kMlp ? data.classes : 2;
  config.shape.hidden = kind == ecq::ModelKind::kMlp ? o.hidden : 0;
  config.max_batch = o.max_batch;
  config.methods = 0;
  for (const std::string& name : o.methods) {
    ecq::Method method = ecq::Method::kEcq;
    (void)ecq::parse_method(name.c_str(), &method);  // CLI11 checked the names
    config.methods = static_cast<std::uint8_t>(config.methods | ecq::protocol::method_bit(method));
  }
  config.min_bucket_size = o.min_bucket_size;
  config.max_levels = o.max_levels;
  config.allow_local_steps = !o.no_local_steps;
  config.max_body_size = o.max_body_size;
  config.upload_body_size = o.max_body_size;
  config.heartbeat_interval_ms = o.heartbeat_ms;
  config.idle_timeout_ms = o.idle_timeout_ms;
  config.backoff_min_ms = o.backoff_min_ms;
  config.backoff_max_ms = o.backoff_max_ms;
  config.save_every = o.save_every;
  config.round_decay = o.round_decay;
  // CLI11 has checked the name, so parsing cannot fail here.
  (void)ecq::parse_error_buffer_type(o.error_buffer.c_str(), &config.error_buffer);
  config.jitter_seed = ecq::port::monotonic_ms() ^ (o.seed << 16) ^ o.device_index;
  // Blobs are named after the device, so devices can share a state directory.
  const std::string prefix = o.id.size() <= 31 ? o.id + "-" : std::string("ecq-");
  std::strncpy(config.storage_prefix, prefix.c_str(), sizeof config.storage_prefix - 1);
  if (!o.state_dir.empty()) {
    ecq::port::set_storage_directory(o.state_dir.c_str());
  }
  ecq::ErrorInfo config_error;
  if (ecq::DeviceClient::validate_config(config, &config_error) != ecq::Status::kOk) {
    char text[256];
    ecq::describe_error(config_error, text, sizeof text);
    fail(std::string("invalid device settings: ") + text);
  }

  std::vector<std::uint8_t> arena(ecq::DeviceClient::required_arena_bytes(config));
  ecq::DeviceClient client;
  if (client.init(config, ecq::DataSource{fill_batch, &data}, ecq::Span<std::uint8_t>(arena.data(), arena.size())) !=
      ecq::Status::kOk) {
    fail("initializing the device client failed; see the log above");
  }
  ecq::transport::TlsContext tls_context;
  std::string error;
  if (use_tls && !tls_context.init(tls_config, &error)) {
    fail("TLS setup failed: " + error);
  }
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  return drive(client, o, host, port, use_tls, tls_context);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "ecq-device: " << e.what() << "\n";
    return 1;
  }
}
