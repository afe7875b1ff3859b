#include "schedule.h"

#include <algorithm>


namespace ecq::sim {

namespace {

// Draw streams, so the availability, selection and drop decisions of one
// device and round are independent of each other.
constexpr std::uint64_t kAvailabilityStream = 1;
constexpr std::uint64_t kSelectionStream = 2;
constexpr std::uint64_t kDropStream = 3;

// The SplitMix64 finalizer: a bijection on 64-bit words that scatters nearby
// inputs over the whole range.
std::uint64_t mix(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

double Schedule::draw(std::uint64_t stream, std::uint32_t device, std::uint32_t round) const {
  std::uint64_t hash = mix(options_.seed + 0x9E3779B97F4A7C15ull);
  hash = mix(hash ^ stream);
  hash = mix(hash ^ round);
  hash = mix(hash ^ device);
  return static_cast<double>(hash >> 11) * 0x1.0p-53;
}

RoundPlan Schedule::plan(std::uint32_t round) const {
  // Each available device gets a selection key; the K smallest keys take
  // part. That is a uniform K-subset of the available devices.
  std::vector<std::pair<double, std::uint32_t>> available;
  for (std::uint32_t device = 0; device < options_.devices; ++device) {
    if (draw(kAvailabilityStream, device, round) < options_.check_in_probability) {
      available.emplace_back(draw(kSelectionStream, device, round), device);
    }
  }
  RoundPlan plan;
  plan.available = static_cast<std::uint32_t>(available.size());
  const std::size_t take = std::min<std::size_t>(available.size(), options_.devices_per_round);
  std::partial_sort(available.begin(), available.begin() + static_cast<std::ptrdiff_t>(take), available.end());
  for (std::size_t i = 0; i < take; ++i) plan.participants.push_back(available[i].second);
  std::sort(plan.participants.begin(), plan.participants.end());
  for (const std::uint32_t device : plan.participants) {
    plan.drops.push_back(draw(kDropStream, device, round) < options_.drop_probability);
  }
  return plan;
}

}  // namespace ecq::sim
