#pragma once
// Reader for image data sets in the IDX format of MNIST and Fashion-MNIST,
// gzip-compressed or plain. An IDX file is a big-endian header followed by
// raw data:
//   images: magic 0x00000803, count, rows, cols, then count x rows x cols bytes
//   labels: magic 0x00000801, count, then count bytes
// The magic's third byte is the element type (0x08 = unsigned byte) and its
// fourth the number of dimensions.
//
// Every function returns true on success. On failure it returns false, leaves
// its output unchanged and writes a message to *error (which may be null). The
// message names the file, the byte offset in the decompressed data, what was
// expected and what was found, and what to do. Memory exhaustion is the only
// failure reported by exception (std::bad_alloc).

#include <cstdint>
#include <string>
#include <vector>

namespace ecq::data {

constexpr std::uint32_t kIdxImageMagic = 0x00000803;
constexpr std::uint32_t kIdxLabelMagic = 0x00000801;

/// Grayscale images and their class labels, kept as bytes until a batch is
/// formed (see batch.h).
struct ImageDataset {
  std::uint32_t count = 0;  ///< number of images
  std::uint32_t rows = 0;   ///< pixel rows per image
  std::uint32_t cols = 0;   ///< pixel columns per image
  /// count x rows x cols bytes, image after image, each row-major.
  std::vector<std::uint8_t> pixels;
  /// count class labels, or empty when only images were read.
  std::vector<std::uint8_t> labels;

  /// Pixels per image, rows x cols.
  std::uint64_t image_size() const { return std::uint64_t{rows} * cols; }
};

/// Reads an IDX image file into *images: count, rows, cols and pixels, with
/// labels cleared. Fails on a missing or unreadable file, a header shorter than
/// 16 bytes, a magic other than 0x00000803, zero rows or columns, fewer data
/// bytes than the header declares, and data beyond them.
bool read_idx_images(const std::string& path, ImageDataset* images, std::string* error);

/// Reads an IDX label file into *labels. Fails like read_idx_images() on the
/// file and its 8-byte header (magic 0x00000801), and on a label that is not
/// below `classes`. `classes` must be 1 to 256.
bool read_idx_labels(const std::string& path, std::uint32_t classes, std::vector<std::uint8_t>* labels,
                     std::string* error);

/// Reads an image file and its label file into *dataset. Fails as the two
/// readers do, and when the image and label counts differ (the message names
/// both files and both counts).
bool read_idx_dataset(const std::string& images_path, const std::string& labels_path, std::uint32_t classes,
                      ImageDataset* dataset, std::string* error);

/// Number of Fashion-MNIST classes; labels are 0 to 9.
constexpr std::uint32_t kFashionMnistClasses = 10;

/// The two parts of Fashion-MNIST: 60000 training and 10000 test images of
/// 28 x 28 pixels.
enum class Split { kTrain, kTest };

/// Finds the directory of Debian's dataset-fashion-mnist package by running
/// `dpkg -L dataset-fashion-mnist` and taking the directory of its
/// train-images-idx3-ubyte.gz (/usr/share/datasets/fashion-mnist in the
/// Debian 12 package). Fails when dpkg cannot be run, the package is not
/// installed, or the listed file is not readable. The message then suggests
/// `apt-get install dataset-fashion-mnist` or passing a directory to
/// load_fashion_mnist().
bool locate_fashion_mnist(std::string* directory, std::string* error);

/// Reads one split of Fashion-MNIST from `directory`, which must contain
/// {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz as the original
/// distribution names them. Labels are checked against kFashionMnistClasses.
bool load_fashion_mnist(const std::string& directory, Split split, ImageDataset* dataset, std::string* error);

/// Returns the name of a Fashion-MNIST class ("T-shirt/top" for 0 up to
/// "Ankle boot" for 9), or "unknown" for a label above 9.
const char* fashion_mnist_class_name(std::uint32_t label);

}  // namespace ecq::data
