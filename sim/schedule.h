#pragma once
// The seeded availability schedule of a simulated fleet. For each round it
// decides which devices are available (each with probability p), which of
// them take part (up to K, drawn from the available ones), and which of the
// participants drop their connection in the middle of the upload (each with
// probability q). The draws depend only on the seed, the device and the
// round, so every compressor of a comparison sees the same schedule.

#include <cstdint>
#include <vector>

namespace ecq::sim {

struct ScheduleOptions {
  std::uint32_t devices = 0;
  double check_in_probability = 1.0;  ///< p, 0 to 1
  double drop_probability = 0.0;      ///< q, 0 to 1
  std::uint32_t devices_per_round = 1;  ///< K >= 1
  std::uint64_t seed = 0;
};

struct RoundPlan {
  /// Devices that take part, in ascending order.
  std::vector<std::uint32_t> participants;
  /// drops[i] is true when participants[i] drops its connection mid-upload.
  std::vector<bool> drops;
  /// Devices available this round, participants included.
  std::uint32_t available = 0;
};

class Schedule {
 public:
  explicit Schedule(const ScheduleOptions& options) : options_(options) {}

  /// Returns the plan of `round` (0-based). Calls with the same round return
  /// the same plan.
  RoundPlan plan(std::uint32_t round) const;

  const ScheduleOptions& options() const { return options_; }

 private:
  // Returns a uniform double in [0, 1) for (stream, device, round).
  double draw(std::uint64_t stream, std::uint32_t device, std::uint32_t round) const;

  ScheduleOptions options_;
};

}  // namespace ecq::sim
