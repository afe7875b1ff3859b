#include "ecq/data/partition.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <utility>

#include "ecq/data/random.h"
#include "fail.h"

namespace ecq::data {
namespace {

using detail::fail;

constexpr std::uint64_t kMaxSamples = std::numeric_limits<std::uint32_t>::max();

bool check_sizes(std::uint64_t samples, std::uint32_t devices, std::string* error) {
  if (devices == 0) {
    return fail(error, "invalid device count 0: a partition needs at least 1 device.");
  }
  if (samples > kMaxSamples) {
    return fail(error, std::to_string(samples) + " samples exceed the 2^32 - 1 that 32-bit sample indices allow.");
  }
  return true;
}

std::vector<std::uint32_t> identity_order(std::size_t count) {
  std::vector<std::uint32_t> order(count);
  std::iota(order.begin(), order.end(), 0u);
  return order;
}

// Lists the devices that received no sample.
void collect_empty_devices(Partition* partition) {
  partition->empty_devices.clear();
  for (std::size_t d = 0; d < partition->devices.size(); ++d) {
    if (partition->devices[d].empty()) {
      partition->empty_devices.push_back(static_cast<std::uint32_t>(d));
    }
  }
}

void sort_by_label(const std::vector<std::uint8_t>& labels, std::vector<std::uint32_t>* order) {
  std::stable_sort(order->begin(), order->end(),
                   [&labels](std::uint32_t a, std::uint32_t b) { return labels[a] < labels[b]; });
}

// Appends class_samples to the devices in consecutive runs whose lengths
// follow the cumulative proportions, the last device taking the rest.
void assign_by_proportions(const std::uint32_t* class_samples, std::size_t count,
                           const std::vector<double>& proportions, Partition* partition) {
  const std::size_t devices = partition->devices.size();
  double cumulative = 0.0;
  std::size_t begin = 0;
  for (std::size_t d = 0; d < devices; ++d) {
    cumulative += proportions[d];
    std::size_t end = count;
    if (d + 1 < devices) {
      const double rounded = std::floor(static_cast<double>(count) * cumulative + 0.5);
      end = std::clamp(static_cast<std::size_t>(rounded), begin, count);
    }
    std::vector<std::uint32_t>& device = partition->devices[d];
    device.insert(device.end(), class_samples + begin, class_samples + end);
    begin = end;
  }
}

// Runs the Dirichlet split class by class in ascending label order: shuffle
// the class's samples, draw its proportions, hand out consecutive runs.
void split_classes(const std::vector<std::uint8_t>& labels, double alpha, Rng* rng, Partition* partition) {
  const auto devices = static_cast<std::uint32_t>(partition->devices.size());
  std::vector<std::uint32_t> order = identity_order(labels.size());
  sort_by_label(labels, &order);
  std::size_t begin = 0;
  while (begin < order.size()) {
    std::size_t end = begin;
    while (end < order.size() && labels[order[end]] == labels[order[begin]]) {
      ++end;
    }
    shuffle(order.data() + begin, end - begin, rng);
    assign_by_proportions(order.data() + begin, end - begin, rng->dirichlet(alpha, devices), partition);
    begin = end;
  }
}

}  // namespace

bool partition_iid(std::uint32_t samples, std::uint32_t devices, std::uint64_t seed, Partition* partition,
                   std::string* error) {
  if (!check_sizes(samples, devices, error)) {
    return false;
  }
  Rng rng(seed);
  std::vector<std::uint32_t> order = identity_order(samples);
  shuffle(&order, &rng);
  Partition result;
  result.devices.resize(devices);
  const std::uint32_t base = samples / devices;
  const std::uint32_t larger = samples % devices;
  std::size_t begin = 0;
  for (std::uint32_t d = 0; d < devices; ++d) {
    const std::size_t end = begin + base + (d < larger ? 1 : 0);
    result.devices[d].assign(order.begin() + static_cast<std::ptrdiff_t>(begin),
                             order.begin() + static_cast<std::ptrdiff_t>(end));
    begin = end;
  }
  collect_empty_devices(&result);
  *partition = std::move(result);
  return true;
}

bool partition_dirichlet(const std::vector<std::uint8_t>& labels, std::uint32_t devices, double alpha,
                         std::uint64_t seed, Partition* partition, std::string* error) {
  if (!check_sizes(labels.size(), devices, error)) {
    return false;
  }
  if (!(alpha > 0.0) || std::isinf(alpha)) {
    return fail(error, "invalid Dirichlet concentration " + std::to_string(alpha) +
                           ": expected a finite value above 0 (0.1 for strong label skew, 100 for near-IID).");
  }
  Rng rng(seed);
  Partition result;
  result.devices.resize(devices);
  split_classes(labels, alpha, &rng, &result);
  collect_empty_devices(&result);
  *partition = std::move(result);
  return true;
}

bool partition_shards(const std::vector<std::uint8_t>& labels, std::uint32_t devices, std::uint32_t shards_per_device,
                      std::uint64_t seed, Partition* partition, std::string* error) {
  if (!check_sizes(labels.size(), devices, error)) {
    return false;
  }
  const std::uint64_t shards = std::uint64_t{devices} * shards_per_device;
  if (shards_per_device == 0 || shards > kMaxSamples) {
    return fail(error, "invalid shard count: " + std::to_string(devices) + " devices x " +
                           std::to_string(shards_per_device) + " shards per device must be 1 to 2^32 - 1.");
  }
  Rng rng(seed);
  std::vector<std::uint32_t> order = identity_order(labels.size());
  shuffle(&order, &rng);
  sort_by_label(labels, &order);
  std::vector<std::uint32_t> shard_order = identity_order(static_cast<std::size_t>(shards));
  shuffle(&shard_order, &rng);
  Partition result;
  result.devices.resize(devices);
  const std::uint64_t n = order.size();
  for (std::size_t i = 0; i < shard_order.size(); ++i) {
    const std::uint64_t shard = shard_order[i];
    const auto begin = static_cast<std::ptrdiff_t>(shard * n / shards);
    const auto end = static_cast<std::ptrdiff_t>((shard + 1) * n / shards);
    std::vector<std::uint32_t>& device = result.devices[i / shards_per_device];
    device.insert(device.end(), order.begin() + begin, order.begin() + end);
  }
  collect_empty_devices(&result);
  *partition = std::move(result);
  return true;
}

}  // namespace ecq::data
