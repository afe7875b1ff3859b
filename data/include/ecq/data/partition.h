#pragma once
// Seeded partitions of a data set's samples across simulated devices, from
// identically distributed (IID) to strongly label-skewed.
//
// Each function returns true and fills *partition, or returns false, leaves
// *partition unchanged and writes the reason to *error (which may be null).
// Every sample index 0 to n - 1 lands on exactly one device, and the same
// inputs and seed give the same partition on every platform (see random.h).

#include <cstdint>
#include <string>
#include <vector>

namespace ecq::data {

/// Sample indices per device.
struct Partition {
  /// devices[d] lists the sample indices of device d; its order is described
  /// by each partitioner.
  std::vector<std::vector<std::uint32_t>> devices;
  /// Devices that received no sample, ascending. A simulation must skip them
  /// or give them a fallback, since they cannot form a batch.
  std::vector<std::uint32_t> empty_devices;
};

/// Shuffles 0 to samples - 1 and cuts the result into `devices` consecutive
/// parts whose sizes differ by at most 1; the first samples % devices devices
/// get the larger size. Each device's indices are in shuffled order. With
/// fewer samples than devices, the last devices are empty. Fails when
/// devices is 0.
bool partition_iid(std::uint32_t samples, std::uint32_t devices, std::uint64_t seed, Partition* partition,
                   std::string* error);

/// Splits each class across the devices in proportions drawn from a symmetric
/// Dirichlet(alpha) distribution, one draw per class (the label skew of Q. Li,
/// Y. Diao, Q. Chen, B. He, "Federated learning on non-IID data silos: an
/// experimental study", ICDE 2022). Small alpha (0.1) gives most devices few
/// classes and large alpha (100) near-uniform class mixes, and device sizes
/// differ. Classes are split in ascending label order. The n_c samples of a
/// class are shuffled, and device d receives those from position
/// round(n_c * P_(d-1)) up to round(n_c * P_d). P_d is the cumulative
/// proportion of devices 0 to d, with P_(devices-1) taken as exactly 1. Each
/// device's indices are grouped by class in ascending label order. Fails when
/// devices is 0, alpha is not finite and positive, or there are 2^32 or more
/// labels.
bool partition_dirichlet(const std::vector<std::uint8_t>& labels, std::uint32_t devices, double alpha,
                         std::uint64_t seed, Partition* partition, std::string* error);

/// Sorts the samples by label (ties in a seeded random order), cuts the sorted
/// list into devices x shards_per_device shards whose sizes differ by at most
/// 1, and gives each device shards_per_device shards chosen at random (the
/// scheme of H. B. McMahan et al., "Communication-efficient learning of deep
/// networks from decentralized data", AISTATS 2017, with 2 shards per device).
/// A shard spans at most 2 labels when no class is smaller than a shard, so a
/// device then gets at most 2 x shards_per_device classes. Each device's
/// indices are its shards in the order drawn. Fails when devices or
/// shards_per_device is 0, their product exceeds 2^32 - 1, or there are 2^32
/// or more labels.
bool partition_shards(const std::vector<std::uint8_t>& labels, std::uint32_t devices, std::uint32_t shards_per_device,
                      std::uint64_t seed, Partition* partition, std::string* error);

}  // namespace ecq::data
