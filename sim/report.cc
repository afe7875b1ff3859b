#include "report.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/wait.h>

namespace ecq::sim {

namespace {

const RunResult* find_run(const std::vector<RunResult>& runs, const std::string& compressor, std::uint64_t seed) {
  for (const RunResult& run : runs) {
    if (run.compressor == compressor && run.seed == seed) return &run;
  }
  return nullptr;
}

std::vector<std::string> compressors_in_order(const std::vector<RunResult>& runs) {
  std::vector<std::string> names;
  for (const RunResult& run : runs) {
    if (std::find(names.begin(), names.end(), run.compressor) == names.end()) names.push_back(run.compressor);
  }
  return names;
}

// A JSON number, or null for the -1 that marks "no value".
nlohmann::json number_or_null(double value) { return value < 0.0 ? nlohmann::json() : nlohmann::json(value); }

// Null when nothing was sampled; fractions are of all sampled elements.
nlohmann::json range_json(const ErrorBufferRange& range) {
  if (range.elements == 0) return nlohmann::json();
  const auto fraction = [&range](std::uint64_t count) {
    return static_cast<double>(count) / static_cast<double>(range.elements);
  };
  return {{"elements", range.elements},
          {"max_abs", range.max_abs},
          {"min_nonzero_abs", range.min_nonzero_abs},
          {"zero_fraction", fraction(range.zero)},
          {"below_fp16_normal_fraction", fraction(range.below_fp16_normal)},
          {"fp16_zero_fraction", fraction(range.below_fp16_subnormal)},
          {"above_fp16_max_fraction", fraction(range.above_fp16_max)},
          {"log2_abs_p01", range.exponent_quantile(0.01)},
          {"log2_abs_p50", range.exponent_quantile(0.5)},
          {"log2_abs_p99", range.exponent_quantile(0.99)}};
}

std::string format_bytes(double bytes) {
  static const char* const kUnits[] = {"B", "KB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000.0 && unit < 4) {
    bytes /= 1000.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
  return text;
}

// Quotes a string for a gnuplot script.
std::string gnuplot_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'') {
      quoted += "''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// A fixed color per compressor, so plots of different runs read alike.
std::string curve_color(const std::string& compressor, std::size_t index) {
  if (compressor == "fp32") return "#404040";
  if (compressor == "qsgd") return "#e69f00";
  if (compressor == "ef") return "#d55e00";
  if (compressor == "ecq") return "#0072b2";
  static const char* const kOthers[] = {"#009e73", "#cc79a7", "#56b4e9", "#f0e442"};
  return kOthers[index % 4];
}

}  // namespace

double final_accuracy(const RunResult& run) {
  if (run.diverged || run.evaluations.empty()) return -1.0;
  const std::size_t count = std::min(kFinalEvaluations, run.evaluations.size());
  double sum = 0.0;
  for (std::size_t i = run.evaluations.size() - count; i < run.evaluations.size(); ++i) {
    sum += run.evaluations[i].accuracy;
  }
  return sum / static_cast<double>(count);
}

void ErrorBufferRange::add(float value) {
  ++elements;
  const double magnitude = std::fabs(static_cast<double>(value));
  if (magnitude == 0.0) {
    ++zero;
    return;
  }
  if (magnitude < 0x1p-14) ++below_fp16_normal;
  if (magnitude <= 0x1p-25) ++below_fp16_subnormal;
  if (magnitude > 65504.0) ++above_fp16_max;
  max_abs = std::max(max_abs, magnitude);
  min_nonzero_abs = min_nonzero_abs == 0.0 ? magnitude : std::min(min_nonzero_abs, magnitude);
  if (exponents.empty()) exponents.assign(2 * kExponentOffset, 0);
  const int exponent = std::ilogb(magnitude) + kExponentOffset;
  ++exponents[static_cast<std::size_t>(std::clamp(exponent, 0, 2 * kExponentOffset - 1))];
}

int ErrorBufferRange::exponent_quantile(double fraction) const {
  const std::uint64_t nonzero = elements - zero;
  if (nonzero == 0 || exponents.empty()) return 0;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < exponents.size(); ++i) {
    seen += exponents[i];
    if (static_cast<double>(seen) >= fraction * static_cast<double>(nonzero)) {
      return static_cast<int>(i) - kExponentOffset;
    }
  }
  return static_cast<int>(exponents.size()) - 1 - kExponentOffset;
}

std::vector<CompressorSummary> summarize(const std::vector<RunResult>& runs) {
  std::vector<CompressorSummary> summaries;
  for (const std::string& name : compressors_in_order(runs)) {
    CompressorSummary summary;
    summary.compressor = name;
    double accuracy_sum = 0.0;
    std::uint32_t accuracy_count = 0;
    double ratio_sum = 0.0;
    std::uint32_t ratio_count = 0;
    for (const RunResult& run : runs) {
      if (run.compressor != name) continue;
      summary.error_buffer = run.error_buffer;
      ++summary.seeds;
      summary.uplink_bytes += static_cast<double>(run.uplink_bytes);
      summary.downlink_bytes += static_cast<double>(run.downlink_bytes);
      summary.rounds += run.rounds_applied;
      summary.devices_dropped += static_cast<double>(run.devices_dropped);
      if (run.diverged) {
        ++summary.seeds_diverged;
        if (summary.diverged_at_round == 0 || run.diverged_at_round < summary.diverged_at_round) {
          summary.diverged_at_round = run.diverged_at_round;
        }
      }
      const double accuracy = final_accuracy(run);
      if (accuracy >= 0.0) {
        accuracy_sum += accuracy;
        ++accuracy_count;
        summary.final_accuracy_min =
            summary.final_accuracy_min < 0.0 ? accuracy : std::min(summary.final_accuracy_min, accuracy);
        summary.final_accuracy_max = std::max(summary.final_accuracy_max, accuracy);
      }
      // A diverged run stopped early, so its bytes cover fewer rounds than
      // the baseline's and a ratio would flatter it.
      const RunResult* baseline = find_run(runs, "fp32", run.seed);
      if (baseline != nullptr && !baseline->diverged && !run.diverged && run.uplink_bytes > 0) {
        ratio_sum += static_cast<double>(baseline->uplink_bytes) / static_cast<double>(run.uplink_bytes);
        ++ratio_count;
      }
    }
    const double seeds = summary.seeds;
    summary.uplink_bytes /= seeds;
    summary.downlink_bytes /= seeds;
    summary.rounds /= seeds;
    summary.devices_dropped /= seeds;
    if (accuracy_count > 0) summary.final_accuracy = accuracy_sum / accuracy_count;
    if (ratio_count > 0) summary.compression_ratio = ratio_sum / ratio_count;
    summaries.push_back(summary);
  }
  return summaries;
}

std::string format_table(const std::vector<CompressorSummary>& summary) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof(line), "%-10s %-22s %12s %12s %11s %8s %8s  %s\n", "compressor", "final accuracy",
                "uplink", "downlink", "compression", "rounds", "dropped", "status");
  out << line;
  for (const CompressorSummary& row : summary) {
    char accuracy[64];
    if (row.final_accuracy < 0.0) {
      std::snprintf(accuracy, sizeof(accuracy), "-");
    } else if (row.seeds - row.seeds_diverged > 1) {
      std::snprintf(accuracy, sizeof(accuracy), "%.4f [%.4f, %.4f]", row.final_accuracy, row.final_accuracy_min,
                    row.final_accuracy_max);
    } else {
      std::snprintf(accuracy, sizeof(accuracy), "%.4f", row.final_accuracy);
    }
    char ratio[32];
    if (row.compression_ratio > 0.0) {
      std::snprintf(ratio, sizeof(ratio), "%.1fx", row.compression_ratio);
    } else {
      std::snprintf(ratio, sizeof(ratio), "-");
    }
    char status[64];
    if (row.seeds_diverged > 0) {
      std::snprintf(status, sizeof(status), "diverged at round %u (%u of %u seeds)", row.diverged_at_round,
                    row.seeds_diverged, row.seeds);
    } else {
      std::snprintf(status, sizeof(status), "ok");
    }
    std::snprintf(line, sizeof(line), "%-10s %-22s %12s %12s %11s %8.0f %8.0f  %s\n", row.compressor.c_str(), accuracy,
                  format_bytes(row.uplink_bytes).c_str(), format_bytes(row.downlink_bytes).c_str(), ratio, row.rounds,
                  row.devices_dropped, status);
    out << line;
  }
  return out.str();
}

nlohmann::json summary_json(const std::vector<RunResult>& runs, const nlohmann::json& settings,
                            const nlohmann::json& run_facts) {
  nlohmann::json root;
  root["schema_version"] = kSummarySchemaVersion;
  for (auto it = run_facts.begin(); it != run_facts.end(); ++it) root[it.key()] = it.value();
  root["settings"] = settings;

  nlohmann::json compressors = nlohmann::json::object();
  for (const CompressorSummary& row : summarize(runs)) {
    nlohmann::json entry;
    entry["seeds"] = row.seeds;
    entry["error_buffer"] = row.error_buffer.empty() ? nlohmann::json() : nlohmann::json(row.error_buffer);
    entry["final_accuracy"] = number_or_null(row.final_accuracy);
    entry["final_accuracy_spread"] = {number_or_null(row.final_accuracy_min), number_or_null(row.final_accuracy_max)};
    entry["uplink_bytes"] = row.uplink_bytes;
    entry["downlink_bytes"] = row.downlink_bytes;
    entry["compression_ratio"] = row.compression_ratio > 0.0 ? nlohmann::json(row.compression_ratio) : nlohmann::json();
    entry["rounds"] = row.rounds;
    entry["devices_dropped"] = row.devices_dropped;
    entry["diverged"] = row.seeds_diverged > 0;
    entry["seeds_diverged"] = row.seeds_diverged;
    entry["diverged_at_round"] = row.seeds_diverged > 0 ? nlohmann::json(row.diverged_at_round) : nlohmann::json();
    compressors[row.compressor] = entry;
  }
  root["compressors"] = compressors;

  nlohmann::json per_run = nlohmann::json::array();
  for (const RunResult& run : runs) {
    nlohmann::json entry;
    entry["compressor"] = run.compressor;
    entry["error_buffer"] = run.error_buffer.empty() ? nlohmann::json() : nlohmann::json(run.error_buffer);
    entry["seed"] = run.seed;
    entry["final_accuracy"] = number_or_null(final_accuracy(run));
    entry["uplink_bytes"] = run.uplink_bytes;
    entry["downlink_bytes"] = run.downlink_bytes;
    entry["rounds"] = run.rounds_applied;
    entry["devices_dropped"] = run.devices_dropped;
    entry["diverged"] = run.diverged;
    entry["diverged_at_round"] = run.diverged ? nlohmann::json(run.diverged_at_round) : nlohmann::json();
    entry["wall_seconds"] = run.wall_seconds;
    entry["peak_device_bytes"] = run.peak_device_bytes;
    entry["error_buffer_range"] = range_json(run.error_buffer_range);
    nlohmann::json evaluations = nlohmann::json::array();
    for (const EvaluationRecord& evaluation : run.evaluations) {
      evaluations.push_back({{"round", evaluation.round},
                             {"accuracy", evaluation.accuracy},
                             {"loss", evaluation.loss},
                             {"uplink_bytes", evaluation.uplink_bytes},
                             {"downlink_bytes", evaluation.downlink_bytes}});
    }
    entry["evaluations"] = evaluations;
    per_run.push_back(entry);
  }
  root["runs"] = per_run;
  return root;
}

bool write_metrics_csv(const std::string& path, const std::vector<RunResult>& runs, std::string* error) {
  std::ofstream out(path);
  if (!out) {
    *error = "cannot create " + path + ": " + std::strerror(errno);
    return false;
  }
  out << "compressor,error_buffer,seed,round,applied,updates,dropped,uplink_bytes,downlink_bytes,accuracy,loss\n";
  for (const RunResult& run : runs) {
    std::map<std::uint32_t, const EvaluationRecord*> evaluations;
    for (const EvaluationRecord& evaluation : run.evaluations) evaluations[evaluation.round] = &evaluation;
    for (const RoundRecord& round : run.rounds) {
      out << run.compressor << ',' << run.error_buffer << ',' << run.seed << ',' << round.round << ',' << (round.applied ? 1 : 0) << ','
          << round.updates << ',' << round.dropped << ',' << round.uplink_bytes << ',' << round.downlink_bytes << ',';
      const auto found = evaluations.find(round.round);
      if (found != evaluations.end()) {
        char values[64];
        std::snprintf(values, sizeof(values), "%.6f,%.6f", found->second->accuracy, found->second->loss);
        out << values;
      } else {
        out << ',';
      }
      out << '\n';
    }
  }
  out.close();
  if (!out) {
    *error = "writing " + path + " failed: " + std::strerror(errno);
    return false;
  }
  return true;
}

bool write_accuracy_plot(const std::string& path, const std::vector<RunResult>& runs, std::string* error) {
  const bool svg = path.size() >= 4 && path.compare(path.size() - 4, 4, ".svg") == 0;
  const std::string data_path = path + ".dat";
  const std::string script_path = path + ".gp";

  // One data block per compressor (its first seed), separated by two blank
  // lines so gnuplot's `index` picks them apart.
  std::ofstream data(data_path);
  std::vector<std::string> names;
  std::vector<const RunResult*> firsts;
  for (const RunResult& run : runs) {
    const bool seen = std::any_of(firsts.begin(), firsts.end(),
                                  [&](const RunResult* other) { return other->compressor == run.compressor; });
    if (!seen) firsts.push_back(&run);
  }
  for (const RunResult* first : firsts) {
    std::size_t points = 0;
    for (const EvaluationRecord& evaluation : first->evaluations) {
      if (evaluation.uplink_bytes == 0) continue;  // no point on a log axis
      data << evaluation.uplink_bytes << ' ' << evaluation.accuracy << '\n';
      ++points;
    }
    if (points == 0) continue;
    data << "\n\n";
    names.push_back(first->compressor);
  }
  data.close();
  if (!data) {
    *error = "writing " + data_path + " failed: " + std::strerror(errno);
    return false;
  }
  if (names.empty()) {
    *error = "no evaluation with uplink bytes to plot";
    return false;
  }

  std::ofstream script(script_path);
  script << (svg ? "set terminal svg size 900,560 dynamic font 'sans,12'\n"
                 : "set terminal pngcairo size 900,560 font 'sans,11'\n");
  script << "set output " << gnuplot_quote(path) << "\n";
  script << "set logscale x 10\nset format x '10^{%L}'\n";
  script << "set xlabel 'cumulative uplink bytes (update frames, log scale)'\n";
  script << "set ylabel 'test accuracy'\nset key bottom right\nset grid\n";
  script << "plot ";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) script << ", \\\n     ";
    script << gnuplot_quote(data_path) << " index " << i << " using 1:2 with linespoints pointsize 0.5 linewidth 1.5"
           << " linecolor rgb " << gnuplot_quote(curve_color(names[i], i)) << " title " << gnuplot_quote(names[i]);
  }
  script << "\n";
  script.close();
  if (!script) {
    *error = "writing " + script_path + " failed: " + std::strerror(errno);
    return false;
  }

  const std::string command = "gnuplot " + gnuplot_quote(script_path) + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *error = std::string("running gnuplot failed: ") + std::strerror(errno);
    return false;
  }
  std::string output;
  char buffer[256];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int status = ::pclose(pipe);
  if (status != 0) {
    const bool missing = WIFEXITED(status) && WEXITSTATUS(status) == 127;
    *error = missing ? std::string("gnuplot was not found; install it with `apt-get install -y gnuplot-nox` (scripts/install-deps does)")
                     : "gnuplot failed on " + script_path + ": " + output;
    return false;
  }
  return true;
}

}  // namespace ecq::sim
