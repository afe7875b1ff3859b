// ecq-footprint: the RAM a device needs for one model, from the device
// runtime's own accounting (DeviceClient::footprint()) and, for Mbed TLS,
// from a heap profiler of the device side of real TLS handshakes.
//
// Mbed TLS 2.28 as Debian builds it calls calloc() and free() directly, with
// no platform memory hooks. So heap_meter.cc replaces those functions in this
// program and records what the device's TLS calls allocate. The coordinator's
// side of each handshake runs in the same thread with metering off.
// docs/footprint.md explains every figure.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ecq/pki/credentials.h"
#include "ecq/pki/validity.h"
#include "ecq/protocol/messages.h"
#include "ecq/runtime/device_client.h"
#include "ecq/runtime/log.h"
#include "ecq/transport/memory_pipe.h"
#include "ecq/transport/tls.h"
#include "heap_meter.h"

namespace {

using ecq::DeviceClient;
using ecq::DeviceConfig;
using ecq::DeviceFootprint;
using ecq::Method;
using Json = nlohmann::ordered_json;

constexpr int kSchemaVersion = 1;
// Targets for the device runtime's RAM (docs/footprint.md).
constexpr double kEcqBytesPerParameterTarget = 13.0;
constexpr double kFedAvgBytesPerParameterTarget = 17.0;
constexpr std::size_t kFixedOverheadTarget = 96 * 1024;

struct Options {
  std::uint32_t inputs = 784;
  std::uint32_t classes = 10;
  std::uint32_t levels = 2;
  std::uint32_t bucket_size = 1024;
  std::uint32_t batch = 32;
  std::uint32_t body_size = 16 * 1024;
  std::string json_path;
};

struct DeviceFigures {
  std::string name;
  std::string description;
  DeviceFootprint footprint;
  std::uint32_t parameters = 0;
  std::size_t per_parameter_bytes = 0;  // model, working model, gradient, error buffer, payload
  std::size_t batch_bytes = 0;          // batch and model scratch
  std::size_t frame_bytes = 0;          // receive and send frames
};

struct TlsFigures {
  std::string mode;
  std::size_t context_bytes = 0;      // TlsContext after init(): credentials, configuration, random generator
  std::size_t handshake_peak_bytes = 0;  // context and session, largest during the handshake
  std::size_t established_bytes = 0;  // context and session after the handshake
  std::size_t after_transfer_bytes = 0;
  std::size_t transfer_peak_bytes = 0;
};

ecq::Status fill_nothing(void*, std::uint32_t, ecq::Span<float>, ecq::Span<float>, ecq::Span<std::int32_t>,
                         std::uint32_t*) {
  return ecq::Status::kNotInitialized;  // never called: no round is trained here
}

DeviceConfig base_config(const Options& options) {
  DeviceConfig config;
  std::snprintf(config.device_id, sizeof config.device_id, "footprint-1");
  config.shape.kind = ecq::ModelKind::kSoftmax;
  config.shape.inputs = options.inputs;
  config.shape.classes = options.classes;
  config.max_batch = options.batch;
  config.max_body_size = options.body_size;
  config.upload_body_size = options.body_size;
  config.storage_prefix[0] = '\0';
  return config;
}

bool measure_device(const std::string& name, const std::string& description, const DeviceConfig& config,
                    DeviceFigures* figures) {
  const std::size_t bytes = DeviceClient::required_arena_bytes(config);
  if (bytes == 0) {
    ecq::ErrorInfo error;
    (void)DeviceClient::validate_config(config, &error);
    char text[256];
    ecq::describe_error(error, text, sizeof text);
    std::cerr << "ecq-footprint: the " << name << " device configuration is invalid: " << text << "\n";
    return false;
  }
  std::vector<std::uint8_t> arena(bytes);
  DeviceClient client;
  ecq::DataSource data;
  data.fill = fill_nothing;
  if (client.init(config, data, ecq::Span<std::uint8_t>(arena.data(), arena.size())) != ecq::Status::kOk) {
    std::cerr << "ecq-footprint: DeviceClient::init failed for the " << name << " configuration\n";
    return false;
  }
  const DeviceFootprint& f = client.footprint();
  figures->name = name;
  figures->description = description;
  figures->footprint = f;
  figures->parameters = ecq::parameter_count(config.shape);
  figures->per_parameter_bytes = f.model + f.working_model + f.gradient + f.compressor + f.payload;
  figures->batch_bytes = f.batch + f.model_scratch;
  figures->frame_bytes = f.receive_frame + f.send_frame;
  return true;
}

struct Fleet {
  ecq::pki::Credential ca;
  ecq::pki::Credential coordinator;
  ecq::pki::Credential device;
};

bool make_fleet(Fleet* fleet, std::string* error) {
  const ecq::pki::Validity year = ecq::pki::validity_for_days(365, std::time(nullptr));
  return ecq::pki::create_ca("ecq footprint fleet", year, &fleet->ca, error) &&
         ecq::pki::issue_coordinator(fleet->ca, "coordinator", {"localhost"}, year, &fleet->coordinator, error) &&
         ecq::pki::issue_device(fleet->ca, "footprint-1", year, &fleet->device, error);
}

const std::string& psk_key() {
  static const std::string key(32, '\x5a');
  return key;
}

bool find_psk(void*, const std::string& identity, std::uint8_t* key, std::size_t* key_size) {
  if (identity != "footprint-1") {
    return false;
  }
  for (std::size_t i = 0; i < psk_key().size(); ++i) {
    key[i] = static_cast<std::uint8_t>(psk_key()[i]);
  }
  *key_size = psk_key().size();
  return true;
}

// Moves `size` bytes from the device to the coordinator and back, metering
// the device's calls only.
bool exchange(ecq::transport::TlsStream& device, ecq::transport::TlsStream& server, std::size_t size) {
  std::vector<std::uint8_t> data(size, 0x42);
  std::vector<std::uint8_t> buffer(4096);
  std::size_t sent = 0;
  std::size_t received = 0;
  for (int step = 0; step < 100000 && received < size; ++step) {
    std::size_t done = 0;
    {
      ecq::bench::MeteredScope metered;
      if (sent < size && device.write(data.data() + sent, size - sent, &done) == ecq::transport::IoStatus::kOk) {
        sent += done;
      }
      device.tick(0);
    }
    server.tick(0);
    while (server.read(buffer.data(), buffer.size(), &done) == ecq::transport::IoStatus::kOk && done > 0) {
      received += done;
      std::size_t echoed = 0;
      (void)server.write(buffer.data(), done, &echoed);
    }
    ecq::bench::MeteredScope metered;
    while (device.read(buffer.data(), buffer.size(), &done) == ecq::transport::IoStatus::kOk && done > 0) {
    }
  }
  return received == size;
}

bool measure_tls(ecq::transport::TlsMode mode, const Fleet& fleet, TlsFigures* figures, std::string* error) {
  using ecq::transport::TlsConfig;
  using ecq::transport::TlsContext;
  using ecq::transport::TlsStream;
  const bool psk = mode == ecq::transport::TlsMode::kPsk;
  figures->mode = psk ? "psk" : "certificate";

  TlsConfig server_config;
  server_config.role = ecq::transport::TlsRole::kServer;
  server_config.mode = mode;
  server_config.ca_pem = fleet.ca.certificate_pem;
  server_config.certificate_pem = fleet.coordinator.certificate_pem;
  server_config.key_pem = fleet.coordinator.key_pem;
  server_config.psk_lookup = find_psk;
  TlsContext server_context;
  if (!server_context.init(server_config, error)) {
    return false;
  }
  TlsConfig device_config;
  device_config.role = ecq::transport::TlsRole::kClient;
  device_config.mode = mode;
  if (psk) {
    device_config.psk_identity = "footprint-1";
    device_config.psk = psk_key();
  } else {
    device_config.ca_pem = fleet.ca.certificate_pem;
    device_config.certificate_pem = fleet.device.certificate_pem;
    device_config.key_pem = fleet.device.key_pem;
    device_config.server_name = "localhost";
  }
  ecq::transport::MemoryPipe pipe(1 << 16);
  TlsStream server;
  if (!server.start(server_context, pipe.a(), 0, error)) {
    return false;
  }

  const std::size_t baseline = ecq::bench::heap_live_bytes();
  ecq::bench::heap_reset_peak();
  bool established = false;
  {
    TlsContext device_context;
    {
      ecq::bench::MeteredScope metered;
      if (!device_context.init(device_config, error)) {
        return false;
      }
    }
    figures->context_bytes = ecq::bench::heap_live_bytes() - baseline;
    TlsStream device;
    {
      ecq::bench::MeteredScope metered;
      if (!device.start(device_context, pipe.b(), 0, error)) {
        return false;
      }
    }
    for (int step = 0; step < 1000 && !(server.established() && device.established()); ++step) {
      server.tick(0);
      ecq::bench::MeteredScope metered;
      device.tick(0);
    }
    established = device.established() && server.established();
    if (!established) {
      *error = std::string("the handshake failed: ") + device.error_message() + " / " + server.error_message();
      return false;
    }
    figures->handshake_peak_bytes = ecq::bench::heap_peak_bytes() - baseline;
    figures->established_bytes = ecq::bench::heap_live_bytes() - baseline;
    ecq::bench::heap_reset_peak();
    if (!exchange(device, server, 256 * 1024)) {
      *error = "the 256 KiB exchange over the established session did not complete";
      return false;
    }
    figures->after_transfer_bytes = ecq::bench::heap_live_bytes() - baseline;
    figures->transfer_peak_bytes = ecq::bench::heap_peak_bytes() - baseline;
  }
  return true;
}

std::string kib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  return text;
}

void print_device(const DeviceFigures& d) {
  const DeviceFootprint& f = d.footprint;
  std::printf("%-11s %8zu %8zu %8zu %8zu %8zu %10zu %7.2f %9zu %9zu %9zu\n", d.name.c_str(), f.model,
              f.working_model, f.gradient, f.compressor, f.payload, d.per_parameter_bytes,
              static_cast<double>(d.per_parameter_bytes) / d.parameters, d.batch_bytes, d.frame_bytes, f.total);
}

Json device_json(const DeviceFigures& d) {
  const DeviceFootprint& f = d.footprint;
  return Json{{"configuration", d.name},
              {"description", d.description},
              {"parameters", d.parameters},
              {"model_bytes", f.model},
              {"working_model_bytes", f.working_model},
              {"gradient_bytes", f.gradient},
              {"error_buffer_bytes", f.compressor},
              {"payload_bytes", f.payload},
              {"per_parameter_part_bytes", d.per_parameter_bytes},
              {"bytes_per_parameter", static_cast<double>(d.per_parameter_bytes) / d.parameters},
              {"batch_bytes", f.batch},
              {"model_scratch_bytes", f.model_scratch},
              {"receive_frame_bytes", f.receive_frame},
              {"send_frame_bytes", f.send_frame},
              {"arena_bytes", f.total}};
}

Json tls_json(const TlsFigures& t) {
  return Json{{"mode", t.mode},
              {"context_bytes", t.context_bytes},
              {"handshake_peak_bytes", t.handshake_peak_bytes},
              {"established_bytes", t.established_bytes},
              {"after_transfer_bytes", t.after_transfer_bytes},
              {"transfer_peak_bytes", t.transfer_peak_bytes}};
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"Prints the RAM one device needs: the device runtime's buffers for a softmax model and the heap "
               "that Mbed TLS allocates on the device side of a handshake (docs/footprint.md)."};
  app.add_option("--inputs", options.inputs, "softmax model inputs")->check(CLI::Range(1u, 1u << 20));
  app.add_option("--classes", options.classes, "softmax model classes")->check(CLI::Range(2u, 1u << 16));
  app.add_option("--levels,-s", options.levels, "largest quantization levels s the device accepts")
      ->check(CLI::Range(1u, 127u));
  app.add_option("--bucket-size", options.bucket_size, "smallest quantization bucket the device accepts")
      ->check(CLI::Range(1u, 1u << 30));
  app.add_option("--batch", options.batch, "largest batch, in samples")->check(CLI::Range(1u, 1u << 16));
  app.add_option("--body-size", options.body_size, "largest frame body each way, in bytes")
      ->check(CLI::Range(273u, 1u << 24));
  app.add_option("--json", options.json_path, "also write the figures to this JSON file");
  CLI11_PARSE(app, argc, argv);
  ecq::set_log_level(ecq::LogLevel::kWarning);

  DeviceConfig ecq_sgd = base_config(options);
  ecq_sgd.allow_local_steps = false;
  ecq_sgd.methods = ecq::protocol::method_bit(Method::kEcq);
  ecq_sgd.min_bucket_size = options.bucket_size;
  ecq_sgd.max_levels = options.levels;
  DeviceConfig ecq_sgd_fp16 = ecq_sgd;
  ecq_sgd_fp16.error_buffer = ecq::ErrorBufferType::kFp16;
  DeviceConfig fedavg = ecq_sgd;
  fedavg.allow_local_steps = true;
  DeviceConfig fedavg_fp16 = fedavg;
  fedavg_fp16.error_buffer = ecq::ErrorBufferType::kFp16;
  DeviceConfig defaults = base_config(options);

  std::vector<DeviceFigures> devices(5);
  if (!measure_device("ecq-sgd", "one gradient per round, ECQ-SGD only", ecq_sgd, &devices[0]) ||
      !measure_device("fedavg", "local steps (FedAvg), ECQ-SGD only", fedavg, &devices[1]) ||
      !measure_device("ecq-fp16", "as ecq-sgd, error buffer in fp16", ecq_sgd_fp16, &devices[2]) ||
      !measure_device("fedavg-fp16", "as fedavg, error buffer in fp16", fedavg_fp16, &devices[3]) ||
      !measure_device("defaults", "DeviceConfig defaults: every method, local steps, bucket >= 64, s <= 127",
                      defaults, &devices[4])) {
    return 1;
  }

  Fleet fleet;
  std::string error;
  if (!make_fleet(&fleet, &error)) {
    std::cerr << "ecq-footprint: making throwaway credentials failed: " << error << "\n";
    return 1;
  }
  std::vector<TlsFigures> tls(2);
  if (!measure_tls(ecq::transport::TlsMode::kPsk, fleet, &tls[0], &error) ||
      !measure_tls(ecq::transport::TlsMode::kCertificate, fleet, &tls[1], &error)) {
    std::cerr << "ecq-footprint: measuring Mbed TLS failed: " << error << "\n";
    return 1;
  }
  if (ecq::bench::heap_meter_overflowed()) {
    std::cerr << "ecq-footprint: the heap meter's table overflowed, so the TLS figures are incomplete\n";
    return 1;
  }

  const std::uint32_t parameters = devices[0].parameters;
  std::printf("Device runtime buffers, softmax %u x %u (%u parameters), s <= %u, bucket >= %u, batch %u, "
              "frame bodies %u bytes (bytes, 64-byte alignment included):\n",
              options.inputs, options.classes, parameters, options.levels, options.bucket_size, options.batch,
              options.body_size);
  std::printf("%-11s %8s %8s %8s %8s %8s %10s %7s %9s %9s %9s\n", "config", "model", "working", "gradient", "error",
              "payload", "per-param", "B/param", "batch", "frames", "arena");
  for (const DeviceFigures& d : devices) {
    print_device(d);
  }
  std::printf("\nMbed TLS heap on the device side (bytes, from the heap profiler):\n");
  std::printf("%-12s %9s %15s %12s %15s\n", "mode", "context", "handshake peak", "established", "transfer peak");
  for (const TlsFigures& t : tls) {
    std::printf("%-12s %9zu %15zu %12zu %15zu\n", t.mode.c_str(), t.context_bytes, t.handshake_peak_bytes,
                t.established_bytes, t.transfer_peak_bytes);
  }

  const std::size_t tls_peak = std::max(tls[0].handshake_peak_bytes, tls[1].handshake_peak_bytes);
  const std::size_t fixed = devices[0].frame_bytes + tls_peak;
  const double ecq_per_parameter = static_cast<double>(devices[0].per_parameter_bytes) / parameters;
  const double fedavg_per_parameter = static_cast<double>(devices[1].per_parameter_bytes) / parameters;
  std::printf("\nTargets:\n");
  std::printf("  ECQ-SGD mode: %.2f bytes per parameter (target <= %.0f): %s\n", ecq_per_parameter,
              kEcqBytesPerParameterTarget, ecq_per_parameter <= kEcqBytesPerParameterTarget ? "met" : "MISSED");
  std::printf("  FedAvg mode:  %.2f bytes per parameter (target <= %.0f): %s\n", fedavg_per_parameter,
              kFedAvgBytesPerParameterTarget,
              fedavg_per_parameter <= kFedAvgBytesPerParameterTarget ? "met" : "MISSED");
  std::printf("  fixed overhead: frames %s + TLS handshake peak %s = %s (target <= %s): %s\n",
              kib(devices[0].frame_bytes).c_str(), kib(tls_peak).c_str(), kib(fixed).c_str(),
              kib(kFixedOverheadTarget).c_str(), fixed <= kFixedOverheadTarget ? "met" : "MISSED");
  std::printf("  batch buffers, apart: %s (batch %u x %u floats, labels, model scratch)\n",
              kib(devices[0].batch_bytes).c_str(), options.batch, options.inputs);

  if (!options.json_path.empty()) {
    Json json{{"schema_version", kSchemaVersion},
              {"model", {{"kind", "softmax"}, {"inputs", options.inputs}, {"classes", options.classes},
                         {"parameters", parameters}}},
              {"limits", {{"levels", options.levels}, {"bucket_size", options.bucket_size},
                          {"batch", options.batch}, {"body_size", options.body_size}}},
              {"devices", Json::array()},
              {"tls", Json::array()},
              {"targets",
               {{"ecq_bytes_per_parameter", ecq_per_parameter},
                {"ecq_bytes_per_parameter_target", kEcqBytesPerParameterTarget},
                {"fedavg_bytes_per_parameter", fedavg_per_parameter},
                {"fedavg_bytes_per_parameter_target", kFedAvgBytesPerParameterTarget},
                {"fixed_overhead_bytes", fixed},
                {"fixed_overhead_target_bytes", kFixedOverheadTarget}}}};
    for (const DeviceFigures& d : devices) {
      json["devices"].push_back(device_json(d));
    }
    for (const TlsFigures& t : tls) {
      json["tls"].push_back(tls_json(t));
    }
    std::ofstream out(options.json_path);
    out << json.dump(2) << "\n";
    if (!out) {
      std::cerr << "ecq-footprint: writing " << options.json_path << " failed\n";
      return 1;
    }
  }
  return 0;
}
