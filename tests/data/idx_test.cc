#include "ecq/data/idx.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <array>
#include <string>
#include <vector>

#include "temp_files.h"

namespace ecq::data {
namespace {

using testing::big_endian;
using testing::idx_images;
using testing::idx_labels;
using testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Writes the file plain or gzip-compressed, with a matching name.
std::string write_file(const TempDir& dir, const std::string& name, const std::string& bytes, bool gzip) {
  return gzip ? dir.write_gzip(name + ".gz", bytes) : dir.write(name, bytes);
}

// Two 2 x 3 images with pixels 0 to 11.
std::string two_images() {
  std::string pixels;
  for (char value = 0; value < 12; ++value) {
    pixels.push_back(value);
  }
  return idx_images(2, 2, 3, pixels);
}

// Sets PATH for the life of the object, for the dpkg lookups.
class ScopedPath {
 public:
  explicit ScopedPath(const std::string& path) {
    const char* old = getenv("PATH");
    had_old_ = old != nullptr;
    old_ = had_old_ ? old : "";
    setenv("PATH", path.c_str(), 1);
  }
  ~ScopedPath() {
    if (had_old_) {
      setenv("PATH", old_.c_str(), 1);
    } else {
      unsetenv("PATH");
    }
  }
  ScopedPath(const ScopedPath&) = delete;
  ScopedPath& operator=(const ScopedPath&) = delete;

 private:
  bool had_old_ = false;
  std::string old_;
};

TEST_CASE("idx images round trip") {
  TempDir dir;
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    ImageDataset images;
    images.labels = {1, 2};
    std::string error;
    REQUIRE(read_idx_images(write_file(dir, "images", two_images(), gzip), &images, &error));
    CHECK(images.count == 2);
    CHECK(images.rows == 2);
    CHECK(images.cols == 3);
    CHECK(images.image_size() == 6);
    REQUIRE(images.pixels.size() == 12);
    CHECK(images.pixels[0] == 0);
    CHECK(images.pixels[11] == 11);
    CHECK(images.labels.empty());
  }
}

TEST_CASE("idx labels round trip") {
  TempDir dir;
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    std::vector<std::uint8_t> labels;
    std::string error;
    REQUIRE(read_idx_labels(write_file(dir, "labels", idx_labels(3, std::string("\x00\x09\x04", 3)), gzip), 10, &labels,
                            &error));
    CHECK(labels == std::vector<std::uint8_t>{0, 9, 4});
  }
}

TEST_CASE("idx dataset pairs images and labels") {
  TempDir dir;
  ImageDataset dataset;
  std::string error;
  REQUIRE(read_idx_dataset(dir.write("images", two_images()), dir.write("labels", idx_labels(2, "\x03\x07")), 10,
                           &dataset, &error));
  CHECK(dataset.count == 2);
  CHECK(dataset.pixels.size() == 12);
  CHECK(dataset.labels == std::vector<std::uint8_t>{3, 7});
}

TEST_CASE("idx zero image count") {
  TempDir dir;
  ImageDataset images;
  std::string error;
  REQUIRE(read_idx_images(dir.write("images", idx_images(0, 28, 28, "")), &images, &error));
  CHECK(images.count == 0);
  CHECK(images.pixels.empty());
}

TEST_CASE("idx missing file") {
  TempDir dir;
  const std::string path = dir.path("absent-images-idx3-ubyte.gz");
  ImageDataset images;
  std::string error;
  CHECK_FALSE(read_idx_images(path, &images, &error));
  INFO(error);
  CHECK(contains(error, "cannot open '" + path + "'"));
  CHECK(contains(error, "No such file or directory"));
  CHECK(contains(error, "Check the path"));
}

TEST_CASE("idx wrong magic in image file") {
  TempDir dir;
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    const std::string path = write_file(dir, "labels", idx_labels(2, "\x01\x02"), gzip);
    ImageDataset images;
    std::string error;
    CHECK_FALSE(read_idx_images(path, &images, &error));
    INFO(error);
    CHECK(contains(error, path));
    CHECK(contains(error, "byte offset 0"));
    CHECK(contains(error, "expected 0x00000803"));
    CHECK(contains(error, "found 0x00000801 (an IDX label file)"));
    CHECK(contains(error, "Pass an image file"));
  }
}

TEST_CASE("idx wrong magic in label file") {
  TempDir dir;
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    // A float IDX file (type 0x0D) with 1 dimension.
    const std::string path = write_file(dir, "floats", big_endian(0x00000D01) + big_endian(1) + "abcd", gzip);
    std::vector<std::uint8_t> labels;
    std::string error;
    CHECK_FALSE(read_idx_labels(path, 10, &labels, &error));
    INFO(error);
    CHECK(contains(error, "expected 0x00000801"));
    CHECK(contains(error, "found 0x00000D01 (an IDX file of element type 0x0D with 1 dimensions)"));
    CHECK(contains(error, "Pass a label file"));
  }
}

TEST_CASE("idx magic of a text file") {
  TempDir dir;
  ImageDataset images;
  std::string error;
  CHECK_FALSE(read_idx_images(dir.write("notes.txt", "hello, world, not IDX"), &images, &error));
  INFO(error);
  CHECK(contains(error, "found 0x68656C6C (not an IDX file)"));
}

TEST_CASE("idx truncated image header") {
  TempDir dir;
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    const std::string path = write_file(dir, "images", two_images().substr(0, 7), gzip);
    ImageDataset images;
    std::string error;
    CHECK_FALSE(read_idx_images(path, &images, &error));
    INFO(error);
    CHECK(contains(error, path));
    CHECK(contains(error, "truncated IDX header"));
    CHECK(contains(error, "expected 16 bytes (magic, count, rows, cols), found 7 bytes"));
  }
}

TEST_CASE("idx truncated label header") {
  TempDir dir;
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    const std::string path = write_file(dir, "labels", big_endian(0x00000801), gzip);
    std::vector<std::uint8_t> labels;
    std::string error;
    CHECK_FALSE(read_idx_labels(path, 10, &labels, &error));
    INFO(error);
    CHECK(contains(error, "expected 8 bytes (magic, count), found 4 bytes"));
  }
}

TEST_CASE("idx truncated image data") {
  TempDir dir;
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    // The header declares 3 images of 2 x 2 = 12 bytes, but 10 follow.
    const std::string path = write_file(dir, "images", idx_images(3, 2, 2, std::string(10, '\x7f')), gzip);
    ImageDataset images;
    std::string error;
    CHECK_FALSE(read_idx_images(path, &images, &error));
    INFO(error);
    CHECK(contains(error, path));
    CHECK(contains(error, "data ends at byte offset 26"));
    CHECK(contains(error, "3 images of 2 x 2 pixels = 12 bytes from byte offset 16 to byte offset 28"));
  }
}

TEST_CASE("idx truncated label data") {
  TempDir dir;
  std::vector<std::uint8_t> labels;
  std::string error;
  CHECK_FALSE(read_idx_labels(dir.write("labels", idx_labels(5, "\x01\x02")), 10, &labels, &error));
  INFO(error);
  CHECK(contains(error, "data ends at byte offset 10"));
  CHECK(contains(error, "5 labels = 5 bytes"));
}

TEST_CASE("idx trailing data") {
  TempDir dir;
  ImageDataset images;
  std::string error;
  CHECK_FALSE(read_idx_images(dir.write("images", two_images() + "xyz"), &images, &error));
  INFO(error);
  CHECK(contains(error, "unexpected data at byte offset 28"));
  CHECK(contains(error, "after the 2 images of 2 x 3 pixels"));
}

TEST_CASE("idx zero rows") {
  TempDir dir;
  ImageDataset images;
  std::string error;
  CHECK_FALSE(read_idx_images(dir.write("images", idx_images(2, 0, 3, "")), &images, &error));
  INFO(error);
  CHECK(contains(error, "expected at least 1 row and 1 column"));
  CHECK(contains(error, "found 0 rows and 3 columns"));
}

TEST_CASE("idx oversized header") {
  TempDir dir;
  ImageDataset images;
  std::string error;
  CHECK_FALSE(
      read_idx_images(dir.write("images", idx_images(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, "")), &images, &error));
  INFO(error);
  CHECK(contains(error, "more bytes than a std::vector can hold"));
}

TEST_CASE("idx label above class count") {
  TempDir dir;
  struct Case {
    std::uint32_t classes;
    std::string data;
    std::string expected;
  };
  const Case cases[] = {
      {10, std::string("\x00\x09\x0A", 3), "label 10 of sample 2 at byte offset 10 is above 9"},
      {3, std::string("\x05\x00", 2), "label 5 of sample 0 at byte offset 8 is above 2"},
  };
  for (const Case& c : cases) {
    for (const bool gzip : {false, true}) {
      CAPTURE(gzip);
      const auto count = static_cast<std::uint32_t>(c.data.size());
      const std::string path = write_file(dir, "labels", idx_labels(count, c.data), gzip);
      std::vector<std::uint8_t> labels;
      std::string error;
      CHECK_FALSE(read_idx_labels(path, c.classes, &labels, &error));
      INFO(error);
      CHECK(contains(error, path));
      CHECK(contains(error, c.expected));
    }
  }
}

TEST_CASE("idx invalid class count") {
  TempDir dir;
  const std::string path = dir.write("labels", idx_labels(1, "\x01"));
  for (const std::uint32_t classes : {0u, 257u}) {
    CAPTURE(classes);
    std::vector<std::uint8_t> labels;
    std::string error;
    CHECK_FALSE(read_idx_labels(path, classes, &labels, &error));
    INFO(error);
    CHECK(contains(error, "invalid class count " + std::to_string(classes)));
  }
}

TEST_CASE("idx label count differs from image count") {
  TempDir dir;
  for (const bool gzip : {false, true}) {
    CAPTURE(gzip);
    const std::string images_path = write_file(dir, "images", two_images(), gzip);
    const std::string labels_path = write_file(dir, "labels", idx_labels(3, "\x01\x02\x03"), gzip);
    ImageDataset dataset;
    std::string error;
    CHECK_FALSE(read_idx_dataset(images_path, labels_path, 10, &dataset, &error));
    INFO(error);
    CHECK(contains(error, "image count 2 in '" + images_path + "'"));
    CHECK(contains(error, "label count 3 in '" + labels_path + "'"));
  }
}

TEST_CASE("idx cut gzip stream") {
  TempDir dir;
  const std::string full = dir.write_gzip("full.gz", idx_images(4, 16, 16, std::string(1024, '\x42')));
  FILE* file = std::fopen(full.c_str(), "rb");
  REQUIRE(file != nullptr);
  std::string compressed(4096, '\0');
  compressed.resize(std::fread(&compressed[0], 1, compressed.size(), file));
  std::fclose(file);
  // Dropping the 8-byte trailer and some data leaves a stream without its end.
  const std::string path = dir.write("cut.gz", compressed.substr(0, compressed.size() - 12));
  ImageDataset images;
  std::string error;
  CHECK_FALSE(read_idx_images(path, &images, &error));
  INFO(error);
  CHECK(contains(error, path));
  CHECK(contains(error, "the gzip stream ends without its trailer"));
}

TEST_CASE("idx corrupt gzip stream") {
  TempDir dir;
  // A gzip header followed by bytes that are not a deflate stream.
  const std::string bytes = std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10) + std::string(64, '\xff');
  const std::string path = dir.write("corrupt.gz", bytes);
  ImageDataset images;
  std::string error;
  CHECK_FALSE(read_idx_images(path, &images, &error));
  INFO(error);
  CHECK(contains(error, "cannot read '" + path + "' at byte offset 0"));
}

TEST_CASE("idx failure leaves output unchanged") {
  TempDir dir;
  ImageDataset images;
  images.count = 5;
  images.pixels = {9};
  std::string error;
  CHECK_FALSE(read_idx_images(dir.write("images", idx_images(3, 2, 2, "ab")), &images, &error));
  CHECK(images.count == 5);
  CHECK(images.pixels == std::vector<std::uint8_t>{9});
}

TEST_CASE("idx null error pointer") {
  TempDir dir;
  ImageDataset images;
  CHECK_FALSE(read_idx_images(dir.path("absent"), &images, nullptr));
}

TEST_CASE("fashion mnist class names") {
  CHECK(std::string(fashion_mnist_class_name(0)) == "T-shirt/top");
  CHECK(std::string(fashion_mnist_class_name(9)) == "Ankle boot");
  CHECK(std::string(fashion_mnist_class_name(10)) == "unknown");
}

TEST_CASE("fashion mnist locate without dpkg") {
  TempDir dir;
  const ScopedPath path(dir.path("empty"));
  std::string directory = "unchanged";
  std::string error;
  CHECK_FALSE(locate_fashion_mnist(&directory, &error));
  INFO(error);
  CHECK(directory == "unchanged");
  CHECK(contains(error, "dpkg was not found"));
  CHECK(contains(error, "apt-get install dataset-fashion-mnist"));
  CHECK(contains(error, "pass the directory"));
}

TEST_CASE("fashion mnist locate without package") {
  // A stand-in dpkg that behaves like dpkg -L for a package not installed.
  TempDir dir;
  const std::string fake =
      dir.write("dpkg", "#!/bin/sh\necho \"dpkg-query: package '$2' is not installed\" >&2\nexit 1\n");
  REQUIRE(chmod(fake.c_str(), 0755) == 0);
  const ScopedPath path(dir.path(""));
  std::string directory;
  std::string error;
  CHECK_FALSE(locate_fashion_mnist(&directory, &error));
  INFO(error);
  CHECK(contains(error, "exited with status 1"));
  CHECK(contains(error, "apt-get install dataset-fashion-mnist"));
}

TEST_CASE("fashion mnist locate from listing") {
  // A stand-in dpkg that lists a directory containing a training image file.
  TempDir dir;
  dir.write("train-images-idx3-ubyte.gz", "");
  const std::string fake = dir.write(
      "dpkg", "#!/bin/sh\necho /.\necho " + dir.path("") + "\necho " + dir.path("train-images-idx3-ubyte.gz") + "\n");
  REQUIRE(chmod(fake.c_str(), 0755) == 0);
  const ScopedPath path(dir.path(""));
  std::string directory;
  std::string error;
  CHECK(locate_fashion_mnist(&directory, &error));
  CHECK(directory + "/" == dir.path(""));
}

// Returns the installed package's directory, or "" after printing why the
// calling test is skipped.
std::string installed_fashion_mnist() {
  std::string directory;
  std::string error;
  if (!locate_fashion_mnist(&directory, &error)) {
    MESSAGE("skipped, Fashion-MNIST is not installed: " << error);
    return "";
  }
  return directory;
}

std::array<int, 10> label_histogram(const std::vector<std::uint8_t>& labels) {
  std::array<int, 10> histogram{};
  for (const std::uint8_t label : labels) {
    histogram[label] += 1;
  }
  return histogram;
}

TEST_CASE("fashion mnist train split") {
  const std::string directory = installed_fashion_mnist();
  if (directory.empty()) {
    return;
  }
  ImageDataset train;
  std::string error;
  REQUIRE_MESSAGE(load_fashion_mnist(directory, Split::kTrain, &train, &error), error);
  CHECK(train.count == 60000);
  CHECK(train.rows == 28);
  CHECK(train.cols == 28);
  CHECK(train.pixels.size() == 60000u * 28 * 28);
  REQUIRE(train.labels.size() == 60000);
  for (const int count : label_histogram(train.labels)) {
    CHECK(count == 6000);
  }
}

TEST_CASE("fashion mnist test split") {
  const std::string directory = installed_fashion_mnist();
  if (directory.empty()) {
    return;
  }
  ImageDataset test;
  std::string error;
  REQUIRE_MESSAGE(load_fashion_mnist(directory, Split::kTest, &test, &error), error);
  CHECK(test.count == 10000);
  CHECK(test.rows == 28);
  CHECK(test.cols == 28);
  REQUIRE(test.labels.size() == 10000);
  for (const int count : label_histogram(test.labels)) {
    CHECK(count == 1000);
  }
}

TEST_CASE("fashion mnist load from wrong directory") {
  TempDir dir;
  ImageDataset dataset;
  std::string error;
  CHECK_FALSE(load_fashion_mnist(dir.path("nowhere"), Split::kTrain, &dataset, &error));
  INFO(error);
  CHECK(contains(error, dir.path("nowhere/train-images-idx3-ubyte.gz")));
}

}  // namespace
}  // namespace ecq::data
