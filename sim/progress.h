#pragma once
// A one-line progress display on stderr: round, accuracy, uplink bytes so far
// and the estimated time left. On a terminal it redraws one line; otherwise
// it prints a line at every tenth of the work, so logs stay short.

#include <chrono>
#include <cstdint>
#include <string>

namespace ecq::sim {

class Progress {
 public:
  /// `label` names the run, such as "ecq seed 1"; `total_rounds` >= 1.
  Progress(std::string label, std::uint32_t total_rounds);

  /// Shows the state after `round` rounds. `accuracy` < 0 means none yet.
  void update(std::uint32_t round, double accuracy, std::uint64_t uplink_bytes);

  /// Ends the line with a final state.
  void finish(std::uint32_t round, double accuracy, std::uint64_t uplink_bytes);

 private:
  std::string format(std::uint32_t round, double accuracy, std::uint64_t uplink_bytes) const;

  std::string label_;
  std::uint32_t total_ = 1;
  bool terminal_ = false;
  std::uint32_t last_tenth_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace ecq::sim
