#include "ecq/data/partition.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace ecq::data {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// `per_class` samples of each of `classes` labels, interleaved 0, 1, 2, ...
std::vector<std::uint8_t> interleaved_labels(std::uint32_t classes, std::uint32_t per_class) {
  std::vector<std::uint8_t> labels(classes * per_class);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    labels[i] = static_cast<std::uint8_t>(i % classes);
  }
  return labels;
}

// Returns how often each sample index 0 to samples - 1 occurs; indices out of
// range are counted at position `samples`.
std::vector<int> occurrences(const Partition& partition, std::size_t samples) {
  std::vector<int> counts(samples + 1, 0);
  for (const std::vector<std::uint32_t>& device : partition.devices) {
    for (const std::uint32_t index : device) {
      counts[std::min<std::size_t>(index, samples)] += 1;
    }
  }
  return counts;
}

void check_each_sample_once(const Partition& partition, std::size_t samples) {
  const std::vector<int> counts = occurrences(partition, samples);
  CHECK(counts[samples] == 0);
  CHECK(std::count(counts.begin(), counts.end() - 1, 1) == static_cast<std::ptrdiff_t>(samples));
}

std::vector<int> class_counts(const std::vector<std::uint32_t>& device, const std::vector<std::uint8_t>& labels,
                              std::uint32_t classes) {
  std::vector<int> counts(classes, 0);
  for (const std::uint32_t index : device) {
    counts[labels[index]] += 1;
  }
  return counts;
}

int classes_present(const std::vector<int>& counts) {
  return static_cast<int>(std::count_if(counts.begin(), counts.end(), [](int count) { return count > 0; }));
}

// Number of classes that make up at least 5% of a device's samples.
int major_classes(const std::vector<int>& counts) {
  int total = 0;
  for (const int count : counts) {
    total += count;
  }
  return static_cast<int>(
      std::count_if(counts.begin(), counts.end(), [total](int count) { return count > 0 && 20 * count >= total; }));
}

Partition iid(std::uint32_t samples, std::uint32_t devices, std::uint64_t seed) {
  Partition partition;
  std::string error;
  REQUIRE_MESSAGE(partition_iid(samples, devices, seed, &partition, &error), error);
  return partition;
}

Partition dirichlet(const std::vector<std::uint8_t>& labels, std::uint32_t devices, double alpha, std::uint64_t seed) {
  Partition partition;
  std::string error;
  REQUIRE_MESSAGE(partition_dirichlet(labels, devices, alpha, seed, &partition, &error), error);
  return partition;
}

Partition shards(const std::vector<std::uint8_t>& labels, std::uint32_t devices, std::uint64_t seed) {
  Partition partition;
  std::string error;
  REQUIRE_MESSAGE(partition_shards(labels, devices, 2, seed, &partition, &error), error);
  return partition;
}

TEST_CASE("partition iid covers each sample once") {
  const Partition partition = iid(1003, 10, 1);
  CHECK(partition.devices.size() == 10);
  check_each_sample_once(partition, 1003);
  CHECK(partition.empty_devices.empty());
}

TEST_CASE("partition iid sizes near equal") {
  const Partition partition = iid(103, 10, 2);
  for (std::size_t d = 0; d < 10; ++d) {
    CAPTURE(d);
    CHECK(partition.devices[d].size() == (d < 3 ? 11u : 10u));
  }
}

TEST_CASE("partition iid deterministic per seed") {
  CHECK(iid(500, 7, 3).devices == iid(500, 7, 3).devices);
  CHECK(iid(500, 7, 3).devices != iid(500, 7, 4).devices);
}

TEST_CASE("partition iid reports empty devices") {
  const Partition partition = iid(10, 20, 5);
  check_each_sample_once(partition, 10);
  std::vector<std::uint32_t> expected;
  for (std::uint32_t d = 10; d < 20; ++d) {
    expected.push_back(d);
  }
  CHECK(partition.empty_devices == expected);
}

TEST_CASE("partition rejects zero devices") {
  const std::vector<std::uint8_t> labels = interleaved_labels(2, 5);
  Partition partition;
  std::string iid_error;
  std::string dirichlet_error;
  std::string shards_error;
  CHECK_FALSE(partition_iid(10, 0, 1, &partition, &iid_error));
  CHECK_FALSE(partition_dirichlet(labels, 0, 1.0, 1, &partition, &dirichlet_error));
  CHECK_FALSE(partition_shards(labels, 0, 2, 1, &partition, &shards_error));
  CHECK(contains(iid_error, "invalid device count 0"));
  CHECK(contains(dirichlet_error, "invalid device count 0"));
  CHECK(contains(shards_error, "invalid device count 0"));
}

TEST_CASE("partition dirichlet covers each sample once") {
  const std::vector<std::uint8_t> labels = interleaved_labels(10, 500);
  for (const double alpha : {0.01, 0.1, 1.0, 100.0}) {
    CAPTURE(alpha);
    const Partition partition = dirichlet(labels, 20, alpha, 6);
    CHECK(partition.devices.size() == 20);
    check_each_sample_once(partition, labels.size());
  }
}

TEST_CASE("partition dirichlet deterministic per seed") {
  const std::vector<std::uint8_t> labels = interleaved_labels(10, 100);
  CHECK(dirichlet(labels, 10, 0.5, 7).devices == dirichlet(labels, 10, 0.5, 7).devices);
  CHECK(dirichlet(labels, 10, 0.5, 7).devices != dirichlet(labels, 10, 0.5, 8).devices);
}

TEST_CASE("partition dirichlet small alpha skews classes") {
  const std::vector<std::uint8_t> labels = interleaved_labels(10, 600);
  const Partition partition = dirichlet(labels, 20, 0.1, 9);
  int few_classes = 0;
  std::size_t smallest = labels.size();
  std::size_t largest = 0;
  for (const std::vector<std::uint32_t>& device : partition.devices) {
    few_classes += major_classes(class_counts(device, labels, 10)) <= 4 ? 1 : 0;
    smallest = std::min(smallest, device.size());
    largest = std::max(largest, device.size());
  }
  CHECK(few_classes >= 14);
  // Device sizes differ widely.
  CHECK(largest > 4 * (smallest + 1));
}

TEST_CASE("partition dirichlet large alpha mixes classes") {
  const std::vector<std::uint8_t> labels = interleaved_labels(10, 600);
  const Partition partition = dirichlet(labels, 20, 100.0, 10);
  double worst_share = 0.0;
  for (const std::vector<std::uint32_t>& device : partition.devices) {
    const std::vector<int> counts = class_counts(device, labels, 10);
    CHECK(major_classes(counts) == 10);
    for (const int count : counts) {
      worst_share = std::max(worst_share, std::fabs(static_cast<double>(count) / device.size() - 0.1));
    }
  }
  // Each class share is 0.1 up to about +-0.035 at 30 samples per class.
  CHECK(worst_share < 0.06);
}

TEST_CASE("partition dirichlet rejects invalid alpha") {
  const std::vector<std::uint8_t> labels = interleaved_labels(2, 5);
  for (const double alpha :
       {0.0, -1.0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    CAPTURE(alpha);
    Partition partition;
    std::string error;
    CHECK_FALSE(partition_dirichlet(labels, 4, alpha, 1, &partition, &error));
    CHECK(contains(error, "invalid Dirichlet concentration"));
  }
}

TEST_CASE("partition dirichlet of no samples") {
  const Partition partition = dirichlet({}, 3, 1.0, 1);
  CHECK(partition.devices.size() == 3);
  CHECK(partition.empty_devices == std::vector<std::uint32_t>{0, 1, 2});
}

TEST_CASE("partition shards covers each sample once") {
  const std::vector<std::uint8_t> labels = interleaved_labels(10, 600);
  const Partition partition = shards(labels, 100, 11);
  CHECK(partition.devices.size() == 100);
  check_each_sample_once(partition, labels.size());
  for (const std::vector<std::uint32_t>& device : partition.devices) {
    CHECK(device.size() == 60);
  }
}

TEST_CASE("partition shards limit classes per device") {
  // 200 shards of 30 samples, each class 600 samples: a shard spans at most
  // 2 labels, so a device has at most 4 classes.
  const std::vector<std::uint8_t> labels = interleaved_labels(10, 600);
  const Partition partition = shards(labels, 100, 12);
  int most = 0;
  for (const std::vector<std::uint32_t>& device : partition.devices) {
    most = std::max(most, classes_present(class_counts(device, labels, 10)));
  }
  CHECK(most <= 4);
}

TEST_CASE("partition shards uneven sizes") {
  // 1001 samples in 20 shards: sizes 50 or 51, so devices get 100 to 102.
  const std::vector<std::uint8_t> labels(1001, 3);
  const Partition partition = shards(labels, 10, 13);
  check_each_sample_once(partition, 1001);
  for (const std::vector<std::uint32_t>& device : partition.devices) {
    CHECK(device.size() >= 100);
    CHECK(device.size() <= 102);
  }
}

TEST_CASE("partition shards deterministic per seed") {
  const std::vector<std::uint8_t> labels = interleaved_labels(10, 50);
  CHECK(shards(labels, 10, 14).devices == shards(labels, 10, 14).devices);
  CHECK(shards(labels, 10, 14).devices != shards(labels, 10, 15).devices);
}

TEST_CASE("partition shards reports empty devices") {
  // 3 samples in 8 shards leave 5 shards empty, so some devices get nothing.
  const std::vector<std::uint8_t> labels = {0, 1, 2};
  const Partition partition = shards(labels, 4, 16);
  check_each_sample_once(partition, 3);
  std::set<std::uint32_t> empty;
  for (std::uint32_t d = 0; d < 4; ++d) {
    if (partition.devices[d].empty()) {
      empty.insert(d);
    }
  }
  CHECK(!empty.empty());
  CHECK(std::vector<std::uint32_t>(empty.begin(), empty.end()) == partition.empty_devices);
}

TEST_CASE("partition shards rejects zero shards") {
  Partition partition;
  std::string error;
  CHECK_FALSE(partition_shards(interleaved_labels(2, 5), 4, 0, 1, &partition, &error));
  CHECK(contains(error, "invalid shard count"));
}

}  // namespace
}  // namespace ecq::data
