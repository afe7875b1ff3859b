#include "ecq/data/batch.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "ecq/data/partition.h"

namespace ecq::data {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Three 2 x 2 images; image i has pixels 100 i + {0, 1, 2, 255 - i} and label
// 7 - i.
ImageDataset three_images() {
  ImageDataset dataset;
  dataset.count = 3;
  dataset.rows = 2;
  dataset.cols = 2;
  for (std::uint8_t i = 0; i < 3; ++i) {
    const auto base = static_cast<std::uint8_t>(100 * i);
    dataset.pixels.insert(dataset.pixels.end(),
                          {base, static_cast<std::uint8_t>(base + 1), static_cast<std::uint8_t>(base + 2),
                           static_cast<std::uint8_t>(255 - i)});
    dataset.labels.push_back(static_cast<std::uint8_t>(7 - i));
  }
  return dataset;
}

DenseDataset three_rows() {
  DenseDataset dataset;
  dataset.features = 2;
  dataset.x = {1, 2, 3, 4, 5, 6};
  dataset.y = {10, 20, 30};
  return dataset;
}

TEST_CASE("gather images scales pixels") {
  const ImageDataset dataset = three_images();
  const std::vector<std::uint32_t> indices{2, 0};
  std::vector<float> pixels(8, -1.0f);
  std::vector<std::int32_t> labels(2, -1);
  std::string error;
  REQUIRE_MESSAGE(gather_images(dataset, {indices.data(), indices.size()}, {pixels.data(), pixels.size()},
                                {labels.data(), labels.size()}, &error),
                  error);
  CHECK(pixels ==
        std::vector<float>{200 / 255.0f, 201 / 255.0f, 202 / 255.0f, 253 / 255.0f, 0.0f, 1 / 255.0f, 2 / 255.0f, 1.0f});
  CHECK(labels == std::vector<std::int32_t>{5, 7});
}

TEST_CASE("gather images into a larger buffer") {
  const ImageDataset dataset = three_images();
  const std::vector<std::uint32_t> indices{1};
  std::vector<float> pixels(12, -1.0f);
  std::string error;
  REQUIRE(gather_images(dataset, {indices.data(), indices.size()}, {pixels.data(), pixels.size()}, {}, &error));
  CHECK(pixels[0] == 100 / 255.0f);
  CHECK(pixels[4] == -1.0f);
}

TEST_CASE("gather images without labels") {
  ImageDataset dataset = three_images();
  dataset.labels.clear();
  const std::vector<std::uint32_t> indices{1};
  std::vector<float> pixels(4);
  std::vector<std::int32_t> labels(1);
  std::string error;
  CHECK(gather_images(dataset, {indices.data(), indices.size()}, {pixels.data(), pixels.size()}, {}, &error));
  CHECK_FALSE(gather_images(dataset, {indices.data(), indices.size()}, {pixels.data(), pixels.size()},
                            {labels.data(), labels.size()}, &error));
  INFO(error);
  CHECK(contains(error, "labels requested, but the image data set contains 0 labels for 3 images"));
}

TEST_CASE("gather images index out of range") {
  const ImageDataset dataset = three_images();
  const std::vector<std::uint32_t> indices{0, 3};
  std::vector<float> pixels(8, -1.0f);
  std::vector<std::int32_t> labels(2, -1);
  std::string error;
  CHECK_FALSE(gather_images(dataset, {indices.data(), indices.size()}, {pixels.data(), pixels.size()},
                            {labels.data(), labels.size()}, &error));
  INFO(error);
  CHECK(contains(error, "sample index 3 at batch position 1 is out of range for a data set of 3 samples"));
  // Nothing was written.
  CHECK(pixels == std::vector<float>(8, -1.0f));
  CHECK(labels == std::vector<std::int32_t>(2, -1));
}

TEST_CASE("gather images small buffers") {
  const ImageDataset dataset = three_images();
  const std::vector<std::uint32_t> indices{0, 1};
  std::vector<float> pixels(8);
  std::vector<std::int32_t> labels(2);
  std::string error;
  CHECK_FALSE(gather_images(dataset, {indices.data(), indices.size()}, {pixels.data(), 7},
                            {labels.data(), labels.size()}, &error));
  CHECK(contains(error, "pixel buffer has 7 elements, but 2 images of 2 x 2 need 8"));
  CHECK_FALSE(gather_images(dataset, {indices.data(), indices.size()}, {pixels.data(), pixels.size()},
                            {labels.data(), 1}, &error));
  CHECK(contains(error, "label buffer has 1 elements, but 2 images of 2 x 2 need 2"));
}

TEST_CASE("gather images inconsistent data set") {
  ImageDataset dataset = three_images();
  dataset.pixels.resize(11);
  const std::vector<std::uint32_t> indices{0};
  std::vector<float> pixels(4);
  std::string error;
  CHECK_FALSE(gather_images(dataset, {indices.data(), indices.size()}, {pixels.data(), pixels.size()}, {}, &error));
  CHECK(contains(error, "contains 11 pixel bytes, but 3 images of 2 x 2 need 12"));
}

TEST_CASE("gather dense copies rows") {
  const DenseDataset dataset = three_rows();
  const std::vector<std::uint32_t> indices{2, 0, 2};
  std::vector<float> features(6);
  std::vector<float> targets(3);
  std::string error;
  REQUIRE_MESSAGE(gather_dense(dataset, {indices.data(), indices.size()}, {features.data(), features.size()},
                               {targets.data(), targets.size()}, &error),
                  error);
  CHECK(features == std::vector<float>{5, 6, 1, 2, 5, 6});
  CHECK(targets == std::vector<float>{30, 10, 30});
}

TEST_CASE("gather dense errors") {
  const DenseDataset dataset = three_rows();
  const std::vector<std::uint32_t> bad_index{5};
  const std::vector<std::uint32_t> two{0, 1};
  std::vector<float> features(4);
  std::vector<float> targets(2);
  std::string error;
  CHECK_FALSE(gather_dense(dataset, {bad_index.data(), bad_index.size()}, {features.data(), features.size()},
                           {targets.data(), targets.size()}, &error));
  CHECK(contains(error, "sample index 5 at batch position 0 is out of range for a data set of 3 samples"));
  CHECK_FALSE(gather_dense(dataset, {two.data(), two.size()}, {features.data(), 3}, {}, &error));
  CHECK(contains(error, "feature buffer has 3 elements, but 2 samples of 2 features need 4"));
  CHECK_FALSE(
      gather_dense(dataset, {two.data(), two.size()}, {features.data(), features.size()}, {targets.data(), 1}, &error));
  CHECK(contains(error, "target buffer has 1 elements"));
}

std::vector<std::uint32_t> to_vector(Span<const std::uint32_t> batch) {
  return std::vector<std::uint32_t>(batch.begin(), batch.end());
}

TEST_CASE("sampler covers each sample per epoch") {
  const std::vector<std::uint32_t> indices{10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  BatchSampler sampler(indices, 3, 1);
  CHECK(sampler.batches_per_epoch() == 4);
  CHECK(sampler.epochs_started() == 0);
  for (std::uint64_t epoch = 1; epoch <= 3; ++epoch) {
    CAPTURE(epoch);
    std::vector<std::uint32_t> seen;
    std::vector<std::size_t> sizes;
    for (int b = 0; b < 4; ++b) {
      const std::vector<std::uint32_t> batch = to_vector(sampler.next());
      sizes.push_back(batch.size());
      seen.insert(seen.end(), batch.begin(), batch.end());
    }
    CHECK(sampler.epochs_started() == epoch);
    CHECK(sizes == std::vector<std::size_t>{3, 3, 3, 1});
    std::sort(seen.begin(), seen.end());
    CHECK(seen == indices);
  }
}

TEST_CASE("sampler deterministic per seed") {
  const std::vector<std::uint32_t> indices{0, 1, 2, 3, 4, 5, 6, 7};
  BatchSampler first(indices, 4, 9);
  BatchSampler second(indices, 4, 9);
  BatchSampler other(indices, 4, 10);
  std::vector<std::uint32_t> first_stream;
  std::vector<std::uint32_t> second_stream;
  std::vector<std::uint32_t> other_stream;
  for (int b = 0; b < 6; ++b) {
    for (const std::uint32_t index : first.next()) {
      first_stream.push_back(index);
    }
    for (const std::uint32_t index : second.next()) {
      second_stream.push_back(index);
    }
    for (const std::uint32_t index : other.next()) {
      other_stream.push_back(index);
    }
  }
  CHECK(first_stream == second_stream);
  CHECK(first_stream != other_stream);
}

TEST_CASE("sampler reshuffles each epoch") {
  std::vector<std::uint32_t> indices(32);
  for (std::uint32_t i = 0; i < 32; ++i) {
    indices[i] = i;
  }
  BatchSampler sampler(indices, 32, 2);
  const std::vector<std::uint32_t> first = to_vector(sampler.next());
  const std::vector<std::uint32_t> second = to_vector(sampler.next());
  CHECK(first != second);
  CHECK(sampler.epochs_started() == 2);
}

TEST_CASE("sampler small device yields all") {
  BatchSampler sampler({4, 9}, 5, 3);
  CHECK(sampler.batches_per_epoch() == 1);
  for (int b = 0; b < 3; ++b) {
    std::vector<std::uint32_t> batch = to_vector(sampler.next());
    std::sort(batch.begin(), batch.end());
    CHECK(batch == std::vector<std::uint32_t>{4, 9});
  }
  CHECK(sampler.epochs_started() == 3);
}

TEST_CASE("sampler empty device") {
  BatchSampler sampler({}, 4, 3);
  CHECK(sampler.batches_per_epoch() == 0);
  CHECK(sampler.next().empty());
  CHECK(sampler.next().empty());
  CHECK(sampler.epochs_started() == 0);
}

TEST_CASE("sampler zero batch size") {
  BatchSampler sampler({1, 2, 3}, 0, 3);
  CHECK(sampler.batches_per_epoch() == 0);
  CHECK(sampler.next().empty());
}

TEST_CASE("sampler feeds gather from a partition") {
  const ImageDataset dataset = three_images();
  Partition partition;
  std::string error;
  REQUIRE(partition_iid(dataset.count, 2, 4, &partition, &error));
  std::set<std::int32_t> labels_seen;
  for (std::uint32_t device = 0; device < 2; ++device) {
    BatchSampler sampler(partition.devices[device], 2, device);
    const Span<const std::uint32_t> batch = sampler.next();
    std::vector<float> pixels(batch.size() * 4);
    std::vector<std::int32_t> labels(batch.size());
    REQUIRE_MESSAGE(
        gather_images(dataset, batch, {pixels.data(), pixels.size()}, {labels.data(), labels.size()}, &error), error);
    labels_seen.insert(labels.begin(), labels.end());
  }
  CHECK(labels_seen == std::set<std::int32_t>{5, 6, 7});
}

}  // namespace
}  // namespace ecq::data
