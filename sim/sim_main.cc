// ecq-sim: runs a federation of simulated devices on Fashion-MNIST and reports
// test accuracy against uplink bytes for one or more compressors.

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ecq/data/idx.h"
#include "ecq/data/partition.h"
#include "ecq/runtime/compressor.h"
#include "ecq/runtime/log.h"
#include "federation.h"
#include "progress.h"
#include "report.h"

namespace {

struct Options {
  std::uint32_t devices = 100;
  std::string transport = "tls";
  std::uint32_t threads = 2;
  std::string model = "softmax";
  std::uint32_t hidden = 128;
  std::string partition = "dirichlet";
  double dirichlet_alpha = 0.5;
  std::uint32_t shards_per_device = 2;
  double check_in_probability = 0.8;
  double drop_probability = 0.05;
  std::uint32_t devices_per_round = 20;
  std::uint32_t min_updates = 1;
  std::uint32_t batch_size = 32;
  std::uint32_t local_steps = 0;
  float learning_rate = 0.1f;
  float server_learning_rate = 0.1f;
  float momentum = 0.0f;
  std::uint32_t rounds = 3000;
  std::uint32_t eval_every = 100;
  std::string compare = "ecq";
  std::uint32_t levels = 2;
  std::uint32_t bucket_size = 1024;
  std::string norm = "l2";
  std::string encoder = "auto";
  float alpha = -1.0f;
  float beta = -1.0f;
  double divergence_loss_factor = 100.0;
  float round_decay = 1.0f;
  std::string error_buffer = "fp32";
  std::uint32_t seeds = 1;
  std::uint64_t seed = 1;
  std::string out = "results/sim";
  std::string json_path;
  std::string csv_path;
  std::string plot_path;
  std::string data_dir;
  std::string log_level = "error";
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

bool make_shape(const Options& options, const ecq::data::ImageDataset& train, ecq::ModelShape* shape,
                std::string* error) {
  if (!ecq::parse_model_kind(options.model.c_str(), &shape->kind) ||
      (shape->kind != ecq::ModelKind::kSoftmax && shape->kind != ecq::ModelKind::kMlp)) {
    *error = "--model '" + options.model + "' must be softmax or mlp (Fashion-MNIST has 10 classes)";
    return false;
  }
  shape->inputs = static_cast<std::uint32_t>(train.image_size());
  shape->classes = 10;
  shape->hidden = options.hidden;
  shape->bias = true;
  return true;
}

// Parses a --compare entry, METHOD or METHOD:TYPE (ef:fp16, ecq:fp32), into
// the offer and the devices' error buffer type; TYPE defaults to
// --error-buffer.
bool make_compressor(const Options& options, const std::string& name, ecq::protocol::CompressorOffer* offer,
                     ecq::ErrorBufferType* error_buffer, std::string* error) {
  const std::size_t colon = name.find(':');
  const std::string method = name.substr(0, colon);
  const std::string type = colon == std::string::npos ? options.error_buffer : name.substr(colon + 1);
  if (!ecq::parse_method(method.c_str(), &offer->method)) {
    *error = "--compare entry '" + name + "' must be fp32, qsgd, ef or ecq, optionally with :fp32 or :fp16";
    return false;
  }
  if (!ecq::parse_error_buffer_type(type.c_str(), error_buffer)) {
    *error = "--compare entry '" + name + "' has the error buffer type '" + type + "'; use fp32 or fp16";
    return false;
  }
  if (colon != std::string::npos && offer->method != ecq::Method::kEf && offer->method != ecq::Method::kEcq) {
    *error = "--compare entry '" + name + "': only ef and ecq keep an error buffer, so only they take :" + type;
    return false;
  }
  offer->quantizer.levels = options.levels;
  offer->quantizer.bucket_size = options.bucket_size;
  if (options.norm == "l2") {
    offer->quantizer.norm = ecq::NormKind::kL2;
  } else if (options.norm == "linf") {
    offer->quantizer.norm = ecq::NormKind::kLinf;
  } else {
    *error = "--norm '" + options.norm + "' must be l2 or linf";
    return false;
  }
  if (options.encoder == "auto") {
    offer->encoder = ecq::EncoderChoice::kAuto;
  } else if (options.encoder == "fixed") {
    offer->encoder = ecq::EncoderChoice::kFixedWidth;
  } else if (options.encoder == "entropy") {
    offer->encoder = ecq::EncoderChoice::kEntropy;
  } else {
    *error = "--encoder '" + options.encoder + "' must be auto, fixed or entropy";
    return false;
  }
  if ((options.alpha >= 0.0f) != (options.beta >= 0.0f)) {
    *error = "--alpha and --beta go together: give both or neither";
    return false;
  }
  offer->use_default_compensation = options.alpha < 0.0f;
  if (!offer->use_default_compensation) {
    offer->alpha = options.alpha;
    offer->beta = options.beta;
  }
  return true;
}

bool make_partition(const Options& options, const ecq::data::ImageDataset& train, std::uint64_t seed,
                    ecq::data::Partition* partition, std::string* error) {
  bool ok = false;
  if (options.partition == "iid") {
    ok = ecq::data::partition_iid(train.count, options.devices, seed, partition, error);
  } else if (options.partition == "dirichlet") {
    ok = ecq::data::partition_dirichlet(train.labels, options.devices, options.dirichlet_alpha, seed, partition, error);
  } else if (options.partition == "shards") {
    ok = ecq::data::partition_shards(train.labels, options.devices, options.shards_per_device, seed, partition, error);
  } else {
    *error = "--partition '" + options.partition + "' must be iid, dirichlet or shards";
    return false;
  }
  if (ok && !partition->empty_devices.empty()) {
    *error = std::to_string(partition->empty_devices.size()) + " of " + std::to_string(options.devices) +
             " devices received no sample; use fewer devices or a larger --dirichlet-alpha";
    return false;
  }
  return ok;
}

// Returns the path of `name` in the directory of this program.
std::string sibling_program(const char* argv0, const char* name) {
  char path[4096];
  const ssize_t size = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  std::string self = size > 0 ? std::string(path, static_cast<std::size_t>(size)) : std::string(argv0);
  const std::size_t slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/" + name;
}

std::uint64_t peak_rss_bytes() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024u;  // Linux reports KiB
}

nlohmann::json settings_json(const Options& options) {
  return {{"transport", options.transport},
          {"model", options.model},
          {"hidden", options.model == "mlp" ? nlohmann::json(options.hidden) : nlohmann::json()},
          {"partition", options.partition},
          {"dirichlet_alpha", options.dirichlet_alpha},
          {"check_in_probability", options.check_in_probability},
          {"drop_probability", options.drop_probability},
          {"devices_per_round", options.devices_per_round},
          {"min_updates", options.min_updates},
          {"batch_size", options.batch_size},
          {"local_steps", options.local_steps},
          {"learning_rate", options.learning_rate},
          {"server_learning_rate", options.server_learning_rate},
          {"momentum", options.momentum},
          {"rounds", options.rounds},
          {"eval_every", options.eval_every},
          {"levels", options.levels},
          {"bucket_size", options.bucket_size},
          {"norm", options.norm},
          {"encoder", options.encoder},
          {"alpha", options.alpha < 0.0f ? nlohmann::json("default") : nlohmann::json(options.alpha)},
          {"beta", options.beta < 0.0f ? nlohmann::json("default") : nlohmann::json(options.beta)},
          {"divergence_loss_factor", options.divergence_loss_factor},
          {"round_decay", options.round_decay},
          {"error_buffer", options.error_buffer},
          {"seeds", options.seeds},
          {"first_seed", options.seed}};
}

void add_options(CLI::App& app, Options& options) {
  // A later occurrence of an option overrides an earlier one, so wrapper
  // scripts can pass defaults and let their callers override them.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)->always_capture_default();
  app.add_option("--devices", options.devices, "number of simulated devices")->check(CLI::Range(1u, 1000000u));
  app.add_option("--transport", options.transport,
                 "tls: ecq-coordinator in its own process and the devices here, over mutual TLS on 127.0.0.1; "
                 "inproc: coordinator and devices in this process, no sockets")
      ->check(CLI::IsMember({"tls", "inproc"}));
  app.add_option("--threads", options.threads, "threads that drive the devices (tls)")->check(CLI::Range(1u, 256u));
  app.add_option("--model", options.model, "softmax or mlp");
  app.add_option("--hidden", options.hidden, "hidden units of the mlp")->check(CLI::Range(1u, 100000u));
  app.add_option("--partition", options.partition, "iid, dirichlet (label skew) or shards (label shards)");
  app.add_option("--dirichlet-alpha", options.dirichlet_alpha, "concentration of the Dirichlet label split, > 0");
  app.add_option("--shards-per-device", options.shards_per_device, "label shards per device for --partition shards");
  app.add_option("--check-in-probability,-p", options.check_in_probability,
                 "probability that a device is available for a round, 0 to 1")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--drop-probability,-q", options.drop_probability,
                 "probability that a participant drops its connection mid-upload, 0 to 1")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--devices-per-round,-K", options.devices_per_round, "devices selected per round (K)")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--min-updates", options.min_updates, "a round with fewer updates is discarded")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--batch-size", options.batch_size, "samples per local batch")->check(CLI::Range(1u, 65536u));
  app.add_option("--local-steps", options.local_steps, "0: one gradient per round; E: E local steps, then the delta");
  app.add_option("--learning-rate", options.learning_rate, "device learning rate of local steps");
  app.add_option("--server-learning-rate", options.server_learning_rate, "coordinator learning rate");
  app.add_option("--momentum", options.momentum, "coordinator momentum, 0 to < 1");
  app.add_option("--rounds", options.rounds, "rounds per run")->check(CLI::Range(1u, 10000000u));
  app.add_option("--eval-every", options.eval_every, "rounds between test-set evaluations")
      ->check(CLI::Range(1u, 10000000u));
  app.add_option("--compare", options.compare,
                 "comma-separated compressors to run on the same schedule: fp32, qsgd, ef, ecq; ef and ecq take an "
                 "error buffer type as ecq:fp16 or ecq:fp32");
  app.add_option("--error-buffer", options.error_buffer,
                 "element type of the devices' ef and ecq error buffer where a --compare entry names none: fp32 "
                 "(4 bytes per parameter) or fp16 (2 bytes, IEEE binary16)")
      ->check(CLI::IsMember({"fp32", "fp16"}));
  app.add_option("--levels,-s", options.levels, "quantization levels s, 1 to 127")->check(CLI::Range(1u, 127u));
  app.add_option("--bucket-size", options.bucket_size, "elements per quantization bucket")
      ->check(CLI::Range(1u, 1u << 30));
  app.add_option("--norm", options.norm, "bucket norm: l2 or linf");
  app.add_option("--encoder", options.encoder, "payload encoding: auto, fixed or entropy");
  app.add_option("--alpha", options.alpha,
                 "ecq compensation alpha, with --beta; default: alpha = min(1, 0.5 / sqrt(gamma)) "
                 "(docs/compressor.md)")
      ->default_str("rule");
  app.add_option("--beta", options.beta,
                 "ecq error decay beta, with --alpha; default: beta = min(0.98, alpha + sqrt(0.9 - alpha^2 gamma))")
      ->default_str("rule");
  app.add_option("--divergence-loss-factor", options.divergence_loss_factor,
                 "a run has diverged when its test loss exceeds this many times the initial model's loss "
                 "(or its model turns NaN or Inf); it then stops and is reported as diverged")
      ->check(CLI::Range(1.0, 1e300));
  app.add_option("--round-decay", options.round_decay,
                 "extra decay of each device's error buffer per global round it missed, above 0 and at most 1 "
                 "(1 = off)")
      ->check(CLI::Range(1e-6, 1.0));
  app.add_option("--seeds", options.seeds, "repeat every run over this many seeds")->check(CLI::Range(1u, 1000u));
  app.add_option("--seed", options.seed, "first seed; runs use seed, seed + 1, ...");
  app.add_option("--out", options.out, "directory for summary.json, metrics.csv and accuracy.png");
  app.add_option("--json", options.json_path, "JSON summary path (default OUT/summary.json)");
  app.add_option("--csv", options.csv_path, "per-round CSV path (default OUT/metrics.csv)");
  app.add_option("--plot", options.plot_path, "plot path, .png or .svg (default OUT/accuracy.png)");
  app.add_option("--data-dir", options.data_dir,
                 "directory with Fashion-MNIST's gzip'd IDX files (default: Debian's dataset-fashion-mnist)");
  app.add_option("--log-level", options.log_level, "error, warning, info or debug")
      ->check(CLI::IsMember({"error", "warning", "info", "debug"}));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Simulates a federation of devices training on Fashion-MNIST and compares compressors."};
  Options options;
  add_options(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& parse_error) {
    // CLI11 prints the message; --help exits 0 and every usage error 2, like
    // the other invalid settings below.
    return app.exit(parse_error) == 0 ? 0 : 2;
  }
  // CLI11 has checked the name, so parsing cannot fail here.
  ecq::LogLevel level = ecq::LogLevel::kError;
  (void)ecq::parse_log_level(options.log_level.c_str(), &level);
  ecq::set_log_level(level);

  std::string error;
  const std::vector<std::string> compressors = split_list(options.compare);
  if (compressors.empty()) {
    std::fprintf(stderr, "ecq-sim: --compare needs at least one compressor\n");
    return 2;
  }
  std::vector<ecq::protocol::CompressorOffer> offers(compressors.size());
  std::vector<ecq::ErrorBufferType> error_buffers(compressors.size());
  for (std::size_t i = 0; i < compressors.size(); ++i) {
    if (!make_compressor(options, compressors[i], &offers[i], &error_buffers[i], &error)) {
      std::fprintf(stderr, "ecq-sim: %s\n", error.c_str());
      return 2;
    }
  }

  std::string directory = options.data_dir;
  if (directory.empty() && !ecq::data::locate_fashion_mnist(&directory, &error)) {
    std::fprintf(stderr, "ecq-sim: %s\n", error.c_str());
    return 1;
  }
  ecq::data::ImageDataset train;
  ecq::data::ImageDataset test;
  if (!ecq::data::load_fashion_mnist(directory, ecq::data::Split::kTrain, &train, &error) ||
      !ecq::data::load_fashion_mnist(directory, ecq::data::Split::kTest, &test, &error)) {
    std::fprintf(stderr, "ecq-sim: %s\n", error.c_str());
    return 1;
  }
  ecq::ModelShape shape;
  if (!make_shape(options, train, &shape, &error)) {
    std::fprintf(stderr, "ecq-sim: %s\n", error.c_str());
    return 2;
  }

  std::fprintf(stderr, "ecq-sim: %u devices (%s), %s model, %s partition, p = %.2f, q = %.2f, K = %u, %u rounds\n",
               options.devices, options.transport.c_str(), options.model.c_str(), options.partition.c_str(),
               options.check_in_probability, options.drop_probability, options.devices_per_round, options.rounds);

  std::error_code directory_error;
  std::filesystem::create_directories(options.out, directory_error);
  if (directory_error) {
    std::fprintf(stderr, "ecq-sim: cannot create the output directory %s: %s; pass a writable --out\n",
                 options.out.c_str(), directory_error.message().c_str());
    return 1;
  }
  const std::string coordinator_program = sibling_program(argv[0], "ecq-coordinator");
  if (options.transport == "tls" && ::access(coordinator_program.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "ecq-sim: %s is missing; build it (scripts/build) or use --transport inproc\n",
                 coordinator_program.c_str());
    return 1;
  }

  std::vector<ecq::sim::RunResult> runs;
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t total_rounds = 0;
  for (std::uint32_t seed_index = 0; seed_index < options.seeds; ++seed_index) {
    const std::uint64_t seed = options.seed + seed_index;
    ecq::data::Partition partition;
    if (!make_partition(options, train, seed, &partition, &error)) {
      std::fprintf(stderr, "ecq-sim: %s\n", error.c_str());
      return 2;
    }
    for (std::size_t i = 0; i < compressors.size(); ++i) {
      ecq::sim::FederationOptions federation;
      federation.shape = shape;
      federation.seed = seed;
      federation.schedule.devices = options.devices;
      federation.schedule.check_in_probability = options.check_in_probability;
      federation.schedule.drop_probability = options.drop_probability;
      federation.schedule.devices_per_round = options.devices_per_round;
      federation.schedule.seed = seed;
      federation.rounds = options.rounds;
      federation.eval_every = options.eval_every;
      federation.min_updates = options.min_updates;
      federation.batch_size = options.batch_size;
      federation.local_steps = options.local_steps;
      federation.device_learning_rate = options.learning_rate;
      federation.server_learning_rate = options.server_learning_rate;
      federation.momentum = options.momentum;
      federation.compressor = offers[i];
      federation.divergence_loss_factor = options.divergence_loss_factor;
      federation.round_decay = options.round_decay;
      federation.error_buffer = error_buffers[i];

      ecq::sim::RunResult result;
      result.compressor = compressors[i];
      if (offers[i].method == ecq::Method::kEf || offers[i].method == ecq::Method::kEcq) {
        result.error_buffer = ecq::error_buffer_type_name(error_buffers[i]);
      }
      result.seed = seed;
      ecq::sim::Progress progress(compressors[i] + " seed " + std::to_string(seed), options.rounds);
      bool ok = false;
      if (options.transport == "tls") {
        ecq::sim::TlsRunOptions tls;
        tls.coordinator_program = coordinator_program;
        tls.work_dir = options.out + "/tls";
        tls.threads = options.threads;
        std::string label = compressors[i];
        std::replace(label.begin(), label.end(), ':', '-');
        tls.log_name = "coordinator-" + label + "-seed" + std::to_string(seed) + ".log";
        ok = ecq::sim::run_tls_federation(federation, tls, train, test, partition, &progress, &result, &error);
      } else {
        ok = ecq::sim::run_federation(federation, train, test, partition, &progress, &result, &error);
      }
      if (!ok) {
        std::fprintf(stderr, "ecq-sim: %s run with seed %llu failed: %s\n", compressors[i].c_str(),
                     static_cast<unsigned long long>(seed), error.c_str());
        return 1;
      }
      if (result.diverged) {
        std::fprintf(stderr,
                     "ecq-sim: %s diverged at round %u (seed %llu): its model turned NaN or Inf or its test loss "
                     "exceeded %g times the initial loss\n",
                     compressors[i].c_str(), result.diverged_at_round, static_cast<unsigned long long>(seed),
                     options.divergence_loss_factor);
      }
      total_rounds += result.rounds.size();
      runs.push_back(std::move(result));
    }
  }
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() / 60.0;

  std::uint64_t peak_device_bytes = 0;
  for (const ecq::sim::RunResult& run : runs) peak_device_bytes = std::max(peak_device_bytes, run.peak_device_bytes);
  const bool separate = options.transport == "tls";
  std::uint64_t peak_rss = 0;
  if (separate) {
    for (const ecq::sim::RunResult& run : runs) peak_rss = std::max(peak_rss, run.peak_coordinator_rss_bytes);
  } else {
    peak_rss = peak_rss_bytes();
  }
  const nlohmann::json facts = {{"devices", options.devices},
                                {"transport", options.transport},
                                {"rounds_per_minute", minutes > 0.0 ? static_cast<double>(total_rounds) / minutes : 0.0},
                                {"peak_coordinator_rss_bytes", peak_rss},
                                {"peak_coordinator_rss_scope", separate ? "the ecq-coordinator process alone"
                                                                        : "whole process: coordinator and devices"},
                                {"peak_device_bytes", peak_device_bytes},
                                {"wall_seconds", minutes * 60.0}};

  std::printf("\n%s", ecq::sim::format_table(ecq::sim::summarize(runs)).c_str());
  std::printf("\n%u devices over %s, %.0f rounds per minute, peak RSS %.1f MB (%s), %.1f KB of device buffers "
              "per device\n",
              options.devices, separate ? "mutual TLS" : "in-process streams", facts["rounds_per_minute"].get<double>(),
              static_cast<double>(peak_rss) / 1e6,
              separate ? "coordinator process" : "coordinator and devices in one process",
              static_cast<double>(peak_device_bytes) / 1e3);

  const std::string json_path = options.json_path.empty() ? options.out + "/summary.json" : options.json_path;
  const std::string csv_path = options.csv_path.empty() ? options.out + "/metrics.csv" : options.csv_path;
  const std::string plot_path = options.plot_path.empty() ? options.out + "/accuracy.png" : options.plot_path;
  std::ofstream json_file(json_path);
  json_file << ecq::sim::summary_json(runs, settings_json(options), facts).dump(2) << "\n";
  json_file.close();
  if (!json_file) {
    std::fprintf(stderr, "ecq-sim: writing %s failed\n", json_path.c_str());
    return 1;
  }
  if (!ecq::sim::write_metrics_csv(csv_path, runs, &error)) {
    std::fprintf(stderr, "ecq-sim: %s\n", error.c_str());
    return 1;
  }
  if (!ecq::sim::write_accuracy_plot(plot_path, runs, &error)) {
    std::fprintf(stderr, "ecq-sim: %s\n", error.c_str());
    return 1;
  }
  std::printf("summary: %s\nper-round metrics: %s\nplot: %s\n", json_path.c_str(), csv_path.c_str(),
              plot_path.c_str());
  return 0;
}
