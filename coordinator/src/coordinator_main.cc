// ecq-coordinator: runs federated-learning rounds for a fleet of devices
// over TLS (or plain TCP behind --insecure-plaintext), aggregates their
// compressed updates into the global model and keeps it durable in a state
// directory. docs/coordinator.md describes rounds, flags and files.
//
// Exit status: 0 after a clean stop, 1 on a setup error or when the state
// directory failed during the run, 2 on invalid command-line options.

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "ecq/coordinator/engine.h"
#include "ecq/coordinator/evaluation.h"
#include "ecq/coordinator/server.h"
#include "ecq/pki/coordinator_tls.h"
#include "ecq/port/clock.h"
#include "ecq/runtime/log.h"

namespace {

using ecq::coordinator::EngineConfig;

struct Options {
  std::string listen = "127.0.0.1:7443";
  std::string port_file;
  std::string pki;
  std::string ca;
  std::string cert;
  std::string key;
  std::string revocations;
  std::string psk_dir;
  std::string psk_listen;
  bool plaintext = false;

  std::string model = "softmax";
  std::uint32_t inputs = 0;
  std::uint32_t classes = 0;
  std::uint32_t hidden = 128;
  std::uint64_t init_seed = 1;
  std::uint64_t run_seed = 1;
  std::uint64_t selection_seed = 1;
  std::uint32_t devices_per_round = 10;
  std::uint32_t min_updates = 1;
  std::uint32_t round_deadline_ms = 60000;
  std::uint32_t selection_wait_ms = 10000;
  std::uint64_t rounds = 0;
  std::uint32_t local_steps = 1;
  std::uint32_t batch_size = 32;
  float learning_rate = 0.1f;
  float server_learning_rate = 1.0f;
  float momentum = 0.0f;
  std::string method = "ecq";
  std::uint32_t levels = 8;
  std::uint32_t bucket_size = 256;
  std::string norm = "l2";
  std::string encoder = "auto";
  float alpha = 0.0f;
  float beta = 0.0f;
  std::uint32_t weight_cap = 0;
  double norm_bound = 0.0;
  std::string norm_bound_action = "clip";

  std::string state_dir;
  bool resume = false;
  std::uint32_t snapshot_every = 10;
  bool no_durability = false;

  std::string eval_data;
  std::string eval_idx_images;
  std::string eval_idx_labels;
  std::string eval_libsvm;
  std::uint32_t eval_every = 10;
  std::string export_model;
  std::string summary;
  std::string metrics_listen = "127.0.0.1:9464";
  std::uint32_t max_body_size = 64u * 1024;
  std::uint32_t idle_timeout_ms = 60000;
  std::uint32_t handshake_timeout_ms = 10000;
  std::string log_level = "info";
};

void add_options(CLI::App& app, Options& o, CLI::Option** alpha, CLI::Option** beta, CLI::Option** inputs,
                 CLI::Option** classes) {
  app.set_config("--config", "", "read options from this INI or TOML file (keys are the long option names)");

  const char* net = "Network";
  app.add_option("--listen", o.listen, "device listener ADDR:PORT; port 0 picks a free one")
      ->capture_default_str()->group(net);
  app.add_option("--port-file", o.port_file, "write the bound device port (decimal) to this file")->group(net);
  app.add_option("--pki", o.pki,
                 "ecq-pki CA directory: ca.crt, coordinator.crt, coordinator.key, revoked.txt, psk/")->group(net);
  app.add_option("--ca", o.ca, "fleet CA certificate (PEM); overrides the one in --pki")->group(net);
  app.add_option("--cert", o.cert, "coordinator certificate (PEM); overrides --pki")->group(net);
  app.add_option("--key", o.key, "coordinator private key (PEM); overrides --pki")->group(net);
  app.add_option("--revocations", o.revocations, "revocation list (ecq-pki revoked.txt); reloaded on SIGHUP")
      ->group(net);
  app.add_option("--psk-dir", o.psk_dir, "directory of ID.psk files for PSK devices; overrides --pki")->group(net);
  app.add_option("--psk-listen", o.psk_listen, "PSK-mode TLS listener ADDR:PORT; empty = none")->group(net);
  app.add_flag("--insecure-plaintext", o.plaintext,
               "plain TCP without TLS: traffic is unencrypted and device ids (from hello) are unauthenticated")
      ->group(net);
  app.add_option("--metrics-listen", o.metrics_listen, "Prometheus GET /metrics on ADDR:PORT; empty = off")
      ->capture_default_str()->group(net);
  app.add_option("--max-body-size", o.max_body_size, "largest frame body accepted from a device, bytes; each connection buffers one frame of this size")
      ->capture_default_str()->check(CLI::Range(273u, 1u << 30))->group(net);
  app.add_option("--idle-timeout-ms", o.idle_timeout_ms, "close a device silent this long, milliseconds")
      ->capture_default_str()->check(CLI::Range(3u, 86400000u))->group(net);
  app.add_option("--handshake-timeout-ms", o.handshake_timeout_ms, "TLS handshake deadline, milliseconds")
      ->capture_default_str()->check(CLI::Range(1u, 600000u))->group(net);

  const char* model = "Model";
  app.add_option("--model", o.model, "model kind")
      ->capture_default_str()->check(CLI::IsMember({"softmax", "mlp", "logistic", "linear"}))->group(model);
  *inputs = app.add_option("--inputs", o.inputs, "features per sample; default: from the evaluation data")
                ->group(model);
  *classes = app.add_option("--classes", o.classes, "classes (softmax, mlp); default: from the evaluation data")
                 ->group(model);
  app.add_option("--hidden", o.hidden, "hidden units (mlp)")->capture_default_str()->group(model);
  app.add_option("--init-seed", o.init_seed, "seed of the initial model")->capture_default_str()->group(model);

  const char* rounds = "Rounds";
  app.add_option("--run-seed", o.run_seed, "seed the devices key their random rounding with")
      ->capture_default_str()->group(rounds);
  app.add_option("--selection-seed", o.selection_seed, "seed of the device selection")
      ->capture_default_str()->group(rounds);
  app.add_option("--devices-per-round", o.devices_per_round, "devices selected per round (K)")
      ->capture_default_str()->group(rounds);
  app.add_option("--min-updates", o.min_updates, "a round with fewer updates is discarded")
      ->capture_default_str()->group(rounds);
  app.add_option("--round-deadline-ms", o.round_deadline_ms, "round deadline from the offer, milliseconds")
      ->capture_default_str()->group(rounds);
  app.add_option("--selection-wait-ms", o.selection_wait_ms,
                 "start a round with fewer than K (at least --min-updates) devices after this wait, milliseconds")
      ->capture_default_str()->group(rounds);
  app.add_option("--rounds", o.rounds,
                 "stop once the model has this many applied rounds (model version), counting those before a "
                 "--resume; 0 = run until stopped")
      ->capture_default_str()->group(rounds);

  const char* train = "Device training";
  app.add_option("--local-steps", o.local_steps, "local SGD steps per round; 0 = send one gradient")
      ->capture_default_str()->group(train);
  app.add_option("--batch-size", o.batch_size, "device minibatch size, samples")->capture_default_str()->group(train);
  app.add_option("--learning-rate", o.learning_rate, "device learning rate")->capture_default_str()->group(train);

  const char* server = "Aggregation";
  app.add_option("--server-learning-rate", o.server_learning_rate, "server optimizer learning rate")
      ->capture_default_str()->group(server);
  app.add_option("--momentum", o.momentum, "server optimizer momentum, 0 to below 1")
      ->capture_default_str()->group(server);
  app.add_option("--weight-cap", o.weight_cap, "cap on samples used as an update's weight; 0 = no cap")
      ->capture_default_str()->group(server);
  app.add_option("--norm-bound", o.norm_bound, "l2 bound on each decoded update; 0 = none")
      ->capture_default_str()->group(server);
  app.add_option("--norm-bound-action", o.norm_bound_action, "what happens to an update above the bound")
      ->capture_default_str()->check(CLI::IsMember({"clip", "reject"}))->group(server);

  const char* comp = "Compressor";
  app.add_option("--method", o.method, "compressor method")
      ->capture_default_str()->check(CLI::IsMember({"fp32", "qsgd", "ef", "ecq"}))->group(comp);
  app.add_option("--levels", o.levels, "quantizer levels s, 1 to 127")
      ->capture_default_str()->check(CLI::Range(1u, 127u))->group(comp);
  app.add_option("--bucket-size", o.bucket_size, "quantizer bucket size, elements")
      ->capture_default_str()->check(CLI::Range(1u, 1u << 30))->group(comp);
  app.add_option("--norm", o.norm, "bucket scaling norm")
      ->capture_default_str()->check(CLI::IsMember({"l2", "linf"}))->group(comp);
  app.add_option("--encoder", o.encoder, "payload encoding")
      ->capture_default_str()->check(CLI::IsMember({"auto", "fixed", "entropy"}))->group(comp);
  *alpha = app.add_option("--alpha", o.alpha, "ecq compensation alpha; default: the default compensation rule")
               ->group(comp);
  *beta = app.add_option("--beta", o.beta, "ecq error decay beta; give it together with --alpha")->group(comp);

  const char* durable = "Durability";
  app.add_option("--state-dir", o.state_dir, "state directory: round log, snapshots, reserved round ids")
      ->group(durable);
  app.add_flag("--resume", o.resume, "continue the run recorded in --state-dir")->group(durable);
  app.add_option("--snapshot-every", o.snapshot_every, "applied rounds between model snapshots")
      ->capture_default_str()->check(CLI::Range(1u, 1000000u))->group(durable);
  app.add_flag("--no-durability", o.no_durability,
               "write nothing: a crash or restart loses the model, and devices whose verdict was lost are told "
               "\"not applied\"")
      ->group(durable);

  const char* eval = "Evaluation and output";
  app.add_option("--eval-data", o.eval_data, "held-out data set by name")
      ->check(CLI::IsMember({"fashion-mnist-test"}))->group(eval);
  app.add_option("--eval-idx-images", o.eval_idx_images, "IDX image file for evaluation (with --eval-idx-labels)")
      ->group(eval);
  app.add_option("--eval-idx-labels", o.eval_idx_labels, "IDX label file for evaluation")->group(eval);
  app.add_option("--eval-libsvm", o.eval_libsvm, "LIBSVM file for evaluation")->group(eval);
  app.add_option("--eval-every", o.eval_every, "evaluate after every N applied rounds; 0 = never")
      ->capture_default_str()->group(eval);
  app.add_option("--export-model", o.export_model, "model file written at each evaluation and at exit")->group(eval);
  app.add_option("--summary", o.summary, "JSON run summary written at exit")->group(eval);
  app.add_option("--log-level", o.log_level, "least severe log level printed")
      ->capture_default_str()->check(CLI::IsMember({"error", "warning", "info", "debug"}))->group(eval);
}

bool load_evaluation(const Options& o, ecq::coordinator::Evaluator* evaluator, bool* loaded, std::string* error) {
  const int sources = int(!o.eval_data.empty()) + int(!o.eval_idx_images.empty() || !o.eval_idx_labels.empty()) +
                      int(!o.eval_libsvm.empty());
  if (sources > 1) {
    *error = "give one of --eval-data, --eval-idx-images/--eval-idx-labels and --eval-libsvm";
    return false;
  }
  *loaded = sources == 1;
  if (!o.eval_data.empty()) {
    return evaluator->load_fashion_mnist_test(error);
  }
  if (!o.eval_idx_images.empty() || !o.eval_idx_labels.empty()) {
    if (o.eval_idx_images.empty() || o.eval_idx_labels.empty()) {
      *error = "--eval-idx-images and --eval-idx-labels go together";
      return false;
    }
    return evaluator->load_idx(o.eval_idx_images, o.eval_idx_labels, error);
  }
  if (!o.eval_libsvm.empty()) {
    return evaluator->load_libsvm(o.eval_libsvm, o.inputs, error);
  }
  return true;
}

bool build_engine_config(const Options& o, bool alpha_given, bool beta_given, bool inputs_given, bool classes_given,
                         const ecq::coordinator::Evaluator* evaluator, EngineConfig* config, std::string* error) {
  ecq::protocol::RoundOffer& offer = config->offer;
  ecq::parse_model_kind(o.model.c_str(), &offer.shape.kind);
  offer.shape.inputs = inputs_given || evaluator == nullptr ? o.inputs : evaluator->inputs();
  offer.shape.classes = classes_given || evaluator == nullptr ? o.classes : evaluator->classes();
  offer.shape.hidden = o.hidden;
  offer.shape.bias = true;
  const bool classifier = offer.shape.kind == ecq::ModelKind::kSoftmax || offer.shape.kind == ecq::ModelKind::kMlp;
  if (offer.shape.inputs == 0) {
    *error = "the model's input count is unknown: pass --inputs N or evaluation data (--eval-data ...)";
    return false;
  }
  if (!classifier) {
    offer.shape.classes = 2;
  } else if (offer.shape.classes < 2) {
    *error = "--classes must be at least 2 for --model " + o.model + " (or give evaluation data to take it from)";
    return false;
  }
  offer.learning_rate = o.learning_rate;
  offer.local_steps = o.local_steps;
  offer.batch_size = o.batch_size;
  offer.run_seed = o.run_seed;
  ecq::parse_method(o.method.c_str(), &offer.compressor.method);
  offer.compressor.quantizer.levels = static_cast<std::uint8_t>(o.levels);
  offer.compressor.quantizer.bucket_size = o.bucket_size;
  offer.compressor.quantizer.norm = o.norm == "linf" ? ecq::NormKind::kLinf : ecq::NormKind::kL2;
  offer.compressor.encoder = o.encoder == "fixed"     ? ecq::EncoderChoice::kFixedWidth
                             : o.encoder == "entropy" ? ecq::EncoderChoice::kEntropy
                                                      : ecq::EncoderChoice::kAuto;
  if (alpha_given != beta_given) {
    *error = "--alpha and --beta go together; give both, or neither for the default compensation rule";
    return false;
  }
  offer.compressor.use_default_compensation = !alpha_given;
  offer.compressor.alpha = o.alpha;
  offer.compressor.beta = o.beta;

  config->init_seed = o.init_seed;
  config->selection_seed = o.selection_seed;
  config->devices_per_round = o.devices_per_round;
  config->min_updates = o.min_updates;
  config->round_deadline_ms = o.round_deadline_ms;
  config->selection_wait_ms = o.selection_wait_ms;
  config->rounds = o.rounds;
  config->aggregation.server_learning_rate = o.server_learning_rate;
  config->aggregation.momentum = o.momentum;
  config->aggregation.weight_cap = o.weight_cap;
  config->aggregation.norm_bound = o.norm_bound;
  config->aggregation.norm_bound_action =
      o.norm_bound_action == "reject" ? ecq::coordinator::NormBoundAction::kReject
                                      : ecq::coordinator::NormBoundAction::kClip;
  if (o.no_durability && (o.resume || !o.state_dir.empty())) {
    *error = "--no-durability cannot be combined with --state-dir or --resume";
    return false;
  }
  if (!o.no_durability && o.state_dir.empty()) {
    *error = "pass --state-dir DIR to keep the run durable, or --no-durability for a run that keeps nothing";
    return false;
  }
  config->durable = !o.no_durability;
  config->state_dir = o.state_dir;
  config->resume = o.resume;
  config->snapshot_every = o.snapshot_every;
  config->eval_every = o.eval_every;
  config->export_path = o.export_model;
  config->max_body_size = o.max_body_size;
  config->idle_timeout_ms = o.idle_timeout_ms;
  return true;
}

bool build_tls(const Options& o, ecq::pki::CoordinatorTls* tls, ecq::pki::CoordinatorTls* psk_tls, bool* psk,
               std::string* error) {
  ecq::pki::CoordinatorTlsFiles files;
  if (!o.pki.empty()) {
    files = ecq::pki::coordinator_tls_files(o.pki);
  }
  if (!o.ca.empty()) files.ca_certificate = o.ca;
  if (!o.cert.empty()) files.certificate = o.cert;
  if (!o.key.empty()) files.key = o.key;
  if (!o.revocations.empty()) files.revocations = o.revocations;
  if (!o.psk_dir.empty()) files.psk_directory = o.psk_dir;
  if (files.ca_certificate.empty() || files.certificate.empty() || files.key.empty()) {
    *error = "TLS needs --pki DIR or all of --ca, --cert and --key (or --insecure-plaintext for a trusted network)";
    return false;
  }
  if (!tls->init(files, ecq::transport::TlsMode::kCertificate, error)) {
    return false;
  }
  *psk = !o.psk_listen.empty();
  if (*psk && !psk_tls->init(files, ecq::transport::TlsMode::kPsk, error)) {
    return false;
  }
  tls->config().handshake_timeout_ms = o.handshake_timeout_ms;
  tls->config().idle_timeout_ms = o.idle_timeout_ms;
  psk_tls->config().handshake_timeout_ms = o.handshake_timeout_ms;
  psk_tls->config().idle_timeout_ms = o.idle_timeout_ms;
  return true;
}

bool write_summary(const std::string& path, const ecq::coordinator::Engine& engine, std::string* error) {
  const ecq::coordinator::Counters& c = engine.counters();
  nlohmann::json rejected = nlohmann::json::object();
  for (std::size_t reason = 1; reason < c.updates_rejected.size(); ++reason) {
    rejected[ecq::coordinator::verdict_reason_name(static_cast<ecq::protocol::VerdictReason>(reason))] =
        c.updates_rejected[reason];
  }
  nlohmann::json summary = {{"rounds_applied", c.rounds_applied},
                            {"rounds_discarded", c.rounds_discarded},
                            {"updates_applied", c.updates_applied},
                            {"updates_clipped", c.updates_clipped},
                            {"rounds_non_finite", c.rounds_non_finite},
                            {"updates_rejected", rejected},
                            {"model_version", engine.model_version()},
                            {"model_crc32c", engine.model_crc()}};
  summary["last_evaluation"] = c.evaluated ? nlohmann::json{{"round", c.eval_round},
                                                             {"model_version", c.eval_model_version},
                                                             {"loss", c.eval_loss},
                                                             {"accuracy", c.eval_accuracy}}
                                           : nlohmann::json(nullptr);
  std::ofstream out(path);
  out << summary.dump(2) << "\n";
  if (!out) {
    *error = "writing the summary to " + path + " failed; check that the directory exists and is writable";
    return false;
  }
  return true;
}

int run(const Options& o, bool alpha_given, bool beta_given, bool inputs_given, bool classes_given) {
  // CLI11 has checked the name, so parsing cannot fail here.
  ecq::LogLevel level = ecq::LogLevel::kInfo;
  (void)ecq::parse_log_level(o.log_level.c_str(), &level);
  ecq::set_log_level(level);
  std::string error;
  auto fail = [&](const std::string& message) {
    std::fprintf(stderr, "ecq-coordinator: %s\n", message.c_str());
    return 1;
  };

  ecq::coordinator::Evaluator evaluator;
  bool have_eval = false;
  if (!load_evaluation(o, &evaluator, &have_eval, &error)) {
    return fail(error);
  }
  EngineConfig config;
  if (!build_engine_config(o, alpha_given, beta_given, inputs_given, classes_given, have_eval ? &evaluator : nullptr,
                           &config, &error)) {
    return fail(error);
  }
  config.evaluator = have_eval ? &evaluator : nullptr;

  ecq::coordinator::ServerConfig server_config;
  server_config.plaintext = o.plaintext;
  if (!ecq::coordinator::parse_endpoint(o.listen, "--listen", &server_config.listen, &error) ||
      (!o.metrics_listen.empty() &&
       !ecq::coordinator::parse_endpoint(o.metrics_listen, "--metrics-listen", &server_config.metrics, &error)) ||
      (!o.psk_listen.empty() &&
       !ecq::coordinator::parse_endpoint(o.psk_listen, "--psk-listen", &server_config.psk_listen, &error))) {
    return fail(error);
  }
  ecq::pki::CoordinatorTls tls;
  ecq::pki::CoordinatorTls psk_tls;
  bool psk = false;
  if (!o.plaintext && !build_tls(o, &tls, &psk_tls, &psk, &error)) {
    return fail(error);
  }

  ecq::coordinator::Engine engine;
  if (!engine.init(config, ecq::port::monotonic_ms(), &error)) {
    return fail(error);
  }
  asio::io_context io;
  ecq::coordinator::Server server(io, engine);
  if (!server.start(server_config, o.plaintext ? nullptr : &tls, psk ? &psk_tls : nullptr, &error)) {
    return fail(error);
  }
  if (!o.port_file.empty()) {
    std::ofstream out(o.port_file);
    out << server.port() << "\n";
    if (!out) {
      return fail("writing the port to " + o.port_file + " failed; check the path");
    }
  }
  server.on_finished = [&server] { server.stop(); };

  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const asio::error_code& code, int number) {
      if (code) {
        return;
      }
      if (number == SIGHUP) {
        ecq::log_message(ecq::LogLevel::kInfo, "SIGHUP: reloading the revocation list");
        server.reload_revocations();
        wait_signal();
        return;
      }
      ecq::log_message(ecq::LogLevel::kInfo, "signal %d: stopping", number);
      server.stop();
      signals.cancel();
    });
  };
  wait_signal();
  io.run();
  server.stop();  // no-op after a signal or the last round; covers io.run() returning early

  if (!o.summary.empty() && !write_summary(o.summary, engine, &error)) {
    return fail(error);
  }
  if (engine.failed()) {
    return fail(engine.failure());
  }
  ecq::log_message(ecq::LogLevel::kInfo, "stopped after %llu applied rounds, model version %llu",
                   static_cast<unsigned long long>(engine.counters().rounds_applied),
                   static_cast<unsigned long long>(engine.model_version()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ecq-coordinator: runs federated-learning rounds, aggregates compressed device updates into the "
               "global model and keeps it durable (docs/coordinator.md)"};
  Options options;
  CLI::Option* alpha = nullptr;
  CLI::Option* beta = nullptr;
  CLI::Option* inputs = nullptr;
  CLI::Option* classes = nullptr;
  add_options(app, options, &alpha, &beta, &inputs, &classes);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& parse_error) {
    // CLI11 prints the message; --help exits 0 and every usage error 1.
    return app.exit(parse_error) == 0 ? 0 : 1;
  }
  return run(options, alpha->count() > 0, beta->count() > 0, inputs->count() > 0, classes->count() > 0);
}
