// ecq-repro-linreg: the linear-regression experiment of J. Wu et al.,
// "Error Compensated Quantized SGD and its Applications to Large-scale
// Distributed Optimization", ICML 2018, on Syn-256, Syn-512 and Syn-1024.
// Prints a table per dataset, writes the loss curves as CSV and, with
// --json, the summary figures.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "repro_linreg.h"

namespace {

using ecq::Method;
using ecq::repro::DatasetResult;
using ecq::repro::MethodResult;
using Json = nlohmann::ordered_json;

constexpr int kSchemaVersion = 1;
constexpr double kExcessRatioTarget = 0.5;

// True when ECQ-SGD's final loss is below QSGD's and its excess distance is
// at most kExcessRatioTarget of QSGD's.
bool ordering_holds(const DatasetResult& dataset) {
  const MethodResult* fp32 = ecq::repro::find_method(dataset, Method::kFp32);
  const MethodResult* qsgd = ecq::repro::find_method(dataset, Method::kQsgd);
  const MethodResult* ecq = ecq::repro::find_method(dataset, Method::kEcq);
  if (fp32 == nullptr || qsgd == nullptr || ecq == nullptr) {
    return false;
  }
  const double ecq_excess = ecq->distance_to_optimum - fp32->distance_to_optimum;
  const double qsgd_excess = qsgd->distance_to_optimum - fp32->distance_to_optimum;
  return ecq->final_loss < qsgd->final_loss && ecq_excess <= kExcessRatioTarget * qsgd_excess;
}

void print_table(const DatasetResult& dataset) {
  std::printf("\n%s: least-squares optimum loss %.6f\n", dataset.name.c_str(), dataset.optimum_loss);
  std::printf("  %-6s %6s %6s %14s %14s %10s %12s\n", "method", "alpha", "beta", "final_loss", "distance", "bits/el",
              "compression");
  for (const MethodResult& result : dataset.methods) {
    std::printf("  %-6s %6.3f %6.3f %14.6f %14.6f %10.3f %11.1fx\n", ecq::method_name(result.method),
                static_cast<double>(result.alpha), static_cast<double>(result.beta), result.final_loss,
                result.distance_to_optimum, result.bits_per_element, result.payload_compression_ratio);
  }
  const MethodResult* qsgd = ecq::repro::find_method(dataset, Method::kQsgd);
  const MethodResult* ecq = ecq::repro::find_method(dataset, Method::kEcq);
  if (qsgd == nullptr || ecq == nullptr || ecq::repro::find_method(dataset, Method::kFp32) == nullptr) {
    std::printf("  ordering not checked: it needs fp32, qsgd and ecq\n");
    return;
  }
  std::printf("  excess distance ecq / qsgd = %.3f (target <= %.1f); ecq loss below qsgd: %s -> %s\n",
              ecq::repro::excess_distance_ratio(dataset), kExcessRatioTarget,
              ecq->final_loss < qsgd->final_loss ? "yes" : "no", ordering_holds(dataset) ? "holds" : "DOES NOT HOLD");
}

Json to_json(const std::vector<DatasetResult>& results, const ecq::repro::LinearRegressionConfig& config) {
  Json report;
  report["schema_version"] = kSchemaVersion;
  report["setting"] = {{"samples", config.samples},
                       {"workers", config.workers},
                       {"batch", config.batch},
                       {"iterations", config.iterations},
                       {"learning_rate", config.learning_rate},
                       {"levels", config.levels},
                       {"norm", "l2"},
                       {"bucket", "one per vector"},
                       {"noise_stddev", config.noise_stddev},
                       {"seed", config.seed}};
  for (const DatasetResult& dataset : results) {
    Json entry;
    entry["dimension"] = dataset.dimension;
    entry["optimum_loss"] = dataset.optimum_loss;
    for (const MethodResult& result : dataset.methods) {
      entry[ecq::method_name(result.method)] = {{"final_loss", result.final_loss},
                                                {"distance_to_optimum", result.distance_to_optimum},
                                                {"bits_per_element", result.bits_per_element},
                                                {"payload_compression_ratio", result.payload_compression_ratio},
                                                {"alpha", result.alpha},
                                                {"beta", result.beta}};
    }
    entry["excess_distance_ratio"] = ecq::repro::excess_distance_ratio(dataset);
    entry["ordering_holds"] = ordering_holds(dataset);
    report[dataset.name] = entry;
  }
  return report;
}

// Opens `path` for writing, creating its directory when missing.
std::ofstream open_output(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ignored;
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ignored);
  }
  return std::ofstream(path);
}

bool write_curves(const std::string& path, const std::vector<DatasetResult>& results) {
  std::ofstream file = open_output(path);
  if (!file) {
    return false;
  }
  file << "dataset,method,iteration,loss\n";
  for (const DatasetResult& dataset : results) {
    for (const MethodResult& result : dataset.methods) {
      for (const ecq::repro::LossPoint& point : result.curve) {
        file << dataset.name << ',' << ecq::method_name(result.method) << ',' << point.iteration << ',' << point.loss
             << '\n';
      }
    }
  }
  return static_cast<bool>(file);
}

}  // namespace

int main(int argc, char** argv) {
  ecq::repro::LinearRegressionConfig config;
  std::string json_path;
  std::string csv_path = "results/repro-linreg/loss_curves.csv";
  bool check = false;
  CLI::App app{"ecq-repro-linreg: the ECQ-SGD paper's linear regression on Syn-256, Syn-512 and Syn-1024"};
  app.add_option("--dimensions", config.dimensions, "Syn-d datasets to run, by d")->capture_default_str();
  app.add_option("--iterations", config.iterations, "SGD iterations")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--seed", config.seed, "seed of the data, the minibatches and the quantizer")->capture_default_str();
  app.add_option("--csv", csv_path, "loss curves: dataset,method,iteration,loss")->capture_default_str();
  app.add_option("--json", json_path, "also write the summary figures to this JSON file");
  CLI::Option* alpha = app.add_option("--alpha", config.alpha, "ecq's alpha; with --beta, replaces the default rule")
                           ->check(CLI::Range(0.0f, 1.0f));
  CLI::Option* beta = app.add_option("--beta", config.beta, "ecq's beta; with --alpha, replaces the default rule")
                          ->check(CLI::Range(0.0f, 1.0f));
  alpha->needs(beta);
  beta->needs(alpha);
  app.add_flag("--check", check, "exit with status 1 unless the ordering holds on every dataset");
  CLI11_PARSE(app, argc, argv);

  std::vector<DatasetResult> results;
  std::string error;
  if (!ecq::repro::run_linear_regression(config, &results, &error)) {
    std::fprintf(stderr, "ecq-repro-linreg: %s\n", error.c_str());
    return 1;
  }
  std::printf("P = %u workers, batch %u each, %u iterations, learning rate %g, s = %u, l2, one bucket per vector\n",
              config.workers, config.batch, config.iterations, static_cast<double>(config.learning_rate),
              config.levels);
  bool all_hold = true;
  for (const DatasetResult& dataset : results) {
    print_table(dataset);
    all_hold = all_hold && ordering_holds(dataset);
  }
  if (!write_curves(csv_path, results)) {
    std::fprintf(stderr, "ecq-repro-linreg: cannot write %s; check that the directory is writable\n", csv_path.c_str());
    return 1;
  }
  std::printf("\nwrote %s\n", csv_path.c_str());
  if (!json_path.empty()) {
    std::ofstream file = open_output(json_path);
    file << to_json(results, config).dump(2) << '\n';
    file.flush();
    if (!file) {
      std::fprintf(stderr, "ecq-repro-linreg: writing %s failed; check that the path is a writable file\n",
                   json_path.c_str());
      return 1;
    }
    std::printf("wrote %s\n", json_path.c_str());
  }
  if (check && !all_hold) {
    std::fprintf(stderr, "ecq-repro-linreg: the ordering does not hold on every dataset (see the tables above)\n");
    return 1;
  }
  return 0;
}
