#pragma once
// Results of simulated federations and their reports: the summary table, the
// per-round CSV, the JSON summary and the accuracy-against-uplink plot.
//
// Definitions (the JSON uses these names):
//   final_accuracy     mean of the last 5 evaluations of a run (0 to 1); over
//                      several seeds the mean over seeds that did not diverge,
//                      with final_accuracy_spread = [min, max]
//   uplink_bytes       application bytes of every update frame devices sent,
//                      frame headers and checksums included, TLS records not
//   downlink_bytes     the same for model frames
//   compression_ratio  the fp32 run's uplink_bytes over this run's, same seed
//                      and schedule; absent when fp32 was not run or either
//                      run diverged
//   error_buffer       "fp32" or "fp16", the element type of the devices'
//                      error buffer; null for fp32 and qsgd, which keep none

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ecq::sim {

/// Version of the JSON summary's layout.
constexpr int kSummarySchemaVersion = 1;
/// Evaluations averaged into final_accuracy.
constexpr std::size_t kFinalEvaluations = 5;

struct RoundRecord {
  std::uint32_t round = 0;  ///< 1-based position in the run
  bool applied = false;
  std::uint32_t updates = 0;  ///< updates the coordinator applied
  std::uint32_t dropped = 0;  ///< participants that dropped mid-upload
  std::uint64_t uplink_bytes = 0;    ///< cumulative
  std::uint64_t downlink_bytes = 0;  ///< cumulative
};

struct EvaluationRecord {
  std::uint32_t round = 0;
  double accuracy = 0.0;
  double loss = 0.0;
  std::uint64_t uplink_bytes = 0;  ///< cumulative when evaluated
  std::uint64_t downlink_bytes = 0;
};

/// Magnitudes of the devices' error-buffer elements, sampled at every
/// evaluation, against the ranges of binary16: normal from 2^-14, subnormal
/// down to 2^-24, and 0 at or below 2^-25.
struct ErrorBufferRange {
  std::uint64_t elements = 0;            ///< elements sampled, over devices and evaluations
  std::uint64_t zero = 0;                ///< elements equal to 0
  std::uint64_t below_fp16_normal = 0;   ///< 0 < |h| < 2^-14
  std::uint64_t below_fp16_subnormal = 0;///< 0 < |h| <= 2^-25, which fp16 rounds to 0
  std::uint64_t above_fp16_max = 0;      ///< |h| > 65504
  double max_abs = 0.0;
  double min_nonzero_abs = 0.0;          ///< 0 when every element was 0
  /// Nonzero elements by binary exponent floor(log2 |h|), offset by
  /// kExponentOffset.
  std::vector<std::uint64_t> exponents;
  static constexpr int kExponentOffset = 160;

  /// Adds one element.
  void add(float value);
  /// Returns the exponent e such that at least `fraction` of the nonzero
  /// elements have |h| < 2^(e + 1), or 0 without nonzero elements.
  int exponent_quantile(double fraction) const;
};

/// One compressor on one seed.
struct RunResult {
  std::string compressor;
  /// Element type of the devices' error buffer, "fp32" or "fp16"; empty for
  /// methods that keep none (fp32, qsgd).
  std::string error_buffer;
  std::uint64_t seed = 0;
  std::vector<RoundRecord> rounds;
  std::vector<EvaluationRecord> evaluations;
  std::uint64_t uplink_bytes = 0;
  std::uint64_t downlink_bytes = 0;
  std::uint32_t rounds_applied = 0;
  std::uint64_t devices_dropped = 0;
  bool diverged = false;
  std::uint32_t diverged_at_round = 0;
  double wall_seconds = 0.0;
  std::uint64_t peak_device_bytes = 0;
  std::uint64_t peak_coordinator_rss_bytes = 0;
  /// Filled by the inproc transport for methods with an error buffer.
  ErrorBufferRange error_buffer_range;
};

/// Returns the mean accuracy of the last kFinalEvaluations evaluations (all
/// of them when there are fewer), or -1 when there are none or the run
/// diverged.
double final_accuracy(const RunResult& run);

/// One compressor over all seeds.
struct CompressorSummary {
  std::string compressor;
  std::string error_buffer;  ///< as in RunResult
  std::uint32_t seeds = 0;
  std::uint32_t seeds_diverged = 0;
  double final_accuracy = -1.0;  ///< -1 when every seed diverged
  double final_accuracy_min = -1.0;
  double final_accuracy_max = -1.0;
  double uplink_bytes = 0.0;  ///< mean over seeds
  double downlink_bytes = 0.0;
  double compression_ratio = 0.0;  ///< mean over seeds; 0 when fp32 was not run
  double rounds = 0.0;             ///< applied rounds, mean over seeds
  double devices_dropped = 0.0;
  std::uint32_t diverged_at_round = 0;  ///< earliest over seeds, 0 if none
};

/// Groups runs by compressor, in the order the compressors first appear.
std::vector<CompressorSummary> summarize(const std::vector<RunResult>& runs);

/// Formats the summary as an aligned text table.
std::string format_table(const std::vector<CompressorSummary>& summary);

/// Builds the JSON summary. `settings` is stored as given under "settings";
/// `run_facts` (devices, rounds_per_minute, peak memory) is merged at the top.
nlohmann::json summary_json(const std::vector<RunResult>& runs, const nlohmann::json& settings,
                            const nlohmann::json& run_facts);

/// Writes one CSV row per round of every run. Returns false with a message.
bool write_metrics_csv(const std::string& path, const std::vector<RunResult>& runs, std::string* error);

/// Writes `path` (PNG or SVG by its extension) with gnuplot: test accuracy
/// against cumulative uplink bytes on a log scale, one curve per compressor
/// (the first seed of each). Returns false with a message when gnuplot is
/// missing or fails.
bool write_accuracy_plot(const std::string& path, const std::vector<RunResult>& runs, std::string* error);

}  // namespace ecq::sim
