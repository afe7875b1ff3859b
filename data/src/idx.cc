#include "ecq/data/idx.h"

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <utility>

#include "fail.h"
#include "gz_file.h"

namespace ecq::data {
namespace {

using detail::fail;
using detail::GzFile;

constexpr std::size_t kWordBytes = 4;
constexpr std::size_t kImageHeaderBytes = 16;
constexpr std::size_t kLabelHeaderBytes = 8;

std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08" PRIX32, value);
  return text;
}

std::string hex8(std::uint32_t value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02" PRIX32, value & 0xFFu);
  return text;
}

// Names what a magic number identifies, so that a mixed-up file is
// recognized in the error message.
std::string describe_magic(std::uint32_t magic) {
  if (magic == kIdxImageMagic) {
    return "an IDX image file";
  }
  if (magic == kIdxLabelMagic) {
    return "an IDX label file";
  }
  if ((magic >> 16) == 0) {
    return "an IDX file of element type " + hex8(magic >> 8) + " with " + std::to_string(magic & 0xFF) + " dimensions";
  }
  return "not an IDX file";
}

std::uint32_t read_big_endian(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

// Reads `words` big-endian 32-bit header fields starting at field `first`,
// reporting a short read against the full header of `total_words` fields.
bool read_words(GzFile* file, std::size_t first, std::size_t words, std::size_t total_words, const char* layout,
                std::uint32_t* fields, std::string* error) {
  unsigned char bytes[kImageHeaderBytes];
  std::size_t count = 0;
  if (!file->read(bytes, words * kWordBytes, &count, error)) {
    return false;
  }
  if (count < words * kWordBytes) {
    return fail(error, "'" + file->path() + "': truncated IDX header: expected " +
                           std::to_string(total_words * kWordBytes) + " bytes (" + layout + "), found " +
                           std::to_string(first * kWordBytes + count) +
                           " bytes before the end of the data. The file is cut short or not an IDX file; restore "
                           "or re-download it.");
  }
  for (std::size_t i = 0; i < words; ++i) {
    fields[first + i] = read_big_endian(bytes + i * kWordBytes);
  }
  return true;
}

// Reads the header's `words` fields, the first being the magic number, which
// must equal `magic`. The magic is checked before the rest is read, so that a
// short file of the other kind is reported as such.
bool read_header(GzFile* file, std::uint32_t magic, const char* layout, std::uint32_t* fields, std::size_t words,
                 std::string* error) {
  if (!read_words(file, 0, 1, words, layout, fields, error)) {
    return false;
  }
  if (fields[0] != magic) {
    const char* wanted =
        magic == kIdxImageMagic ? "an image file (*-images-idx3-ubyte)" : "a label file (*-labels-idx1-ubyte)";
    return fail(error, "'" + file->path() + "': wrong magic number at byte offset 0: expected " + hex32(magic) +
                           ", found " + hex32(fields[0]) + " (" + describe_magic(fields[0]) + "). Pass " + wanted +
                           " here.");
  }
  return read_words(file, 1, words - 1, words, layout, fields, error);
}

// Reads exactly `bytes` bytes of data that follow the header into *data,
// growing it step by step so that a header declaring too much data costs
// no more memory than the file contains.
bool read_data(GzFile* file, std::uint64_t bytes, const std::string& declared, std::vector<std::uint8_t>* data,
               std::string* error) {
  constexpr std::uint64_t kStep = std::uint64_t{1} << 24;
  const std::uint64_t start = file->offset();
  data->clear();
  while (data->size() < bytes) {
    const std::size_t old_size = data->size();
    const auto step = static_cast<std::size_t>(bytes - old_size < kStep ? bytes - old_size : kStep);
    data->resize(old_size + step);
    std::size_t count = 0;
    if (!file->read(data->data() + old_size, step, &count, error)) {
      return false;
    }
    if (count < step) {
      return fail(error, "'" + file->path() + "': data ends at byte offset " + std::to_string(file->offset()) +
                             ", but the header declares " + declared + " = " + std::to_string(bytes) +
                             " bytes from byte offset " + std::to_string(start) + " to byte offset " +
                             std::to_string(start + bytes) +
                             ". The file is cut short or its header is wrong; restore or re-download it.");
    }
  }
  return true;
}

// Fails when any byte follows the declared data.
bool check_end(GzFile* file, const std::string& declared, std::string* error) {
  unsigned char extra = 0;
  std::size_t count = 0;
  const std::uint64_t end = file->offset();
  if (!file->read(&extra, 1, &count, error)) {
    return false;
  }
  if (count != 0) {
    return fail(error, "'" + file->path() + "': unexpected data at byte offset " + std::to_string(end) +
                           ", after the " + declared +
                           " the header declares. The header count is wrong or two files were joined; restore or "
                           "re-download the file.");
  }
  return true;
}

bool check_labels(const std::string& path, const std::vector<std::uint8_t>& labels, std::uint32_t classes,
                  std::string* error) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes) {
      return fail(error, "'" + path + "': label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                             " at byte offset " + std::to_string(kLabelHeaderBytes + i) + " is above " +
                             std::to_string(classes - 1) + ", the largest label for " + std::to_string(classes) +
                             " classes. Pass the data set's class count, or check that this is its label file.");
    }
  }
  return true;
}

std::string describe_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
  return std::to_string(count) + " images of " + std::to_string(rows) + " x " + std::to_string(cols) + " pixels";
}

// Fails on zero rows or columns, and on more pixel bytes than one
// std::vector can hold.
bool check_image_shape(const std::string& path, std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                       std::string* error) {
  if (rows == 0 || cols == 0) {
    return fail(error, "'" + path +
                           "': invalid IDX header: expected at least 1 row and 1 column per image at byte "
                           "offsets 8 and 12, found " +
                           std::to_string(rows) + " rows and " + std::to_string(cols) +
                           " columns. The header is damaged; restore or re-download the file.");
  }
  // count x rows x cols can reach 2^96, so the limit is divided instead.
  const std::uint64_t image_bytes = std::uint64_t{rows} * cols;
  const auto max_bytes = static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max());
  if (count != 0 && image_bytes > max_bytes / count) {
    return fail(error, "'" + path + "': the header declares " + describe_images(count, rows, cols) +
                           ", more bytes than a std::vector can hold. The header is damaged; restore or "
                           "re-download the file.");
  }
  return true;
}

}  // namespace

bool read_idx_images(const std::string& path, ImageDataset* images, std::string* error) {
  GzFile file;
  std::uint32_t header[4] = {};
  if (!file.open(path, error) || !read_header(&file, kIdxImageMagic, "magic, count, rows, cols", header, 4, error) ||
      !check_image_shape(path, header[1], header[2], header[3], error)) {
    return false;
  }

  ImageDataset result;
  result.count = header[1];
  result.rows = header[2];
  result.cols = header[3];
  const std::string declared = describe_images(result.count, result.rows, result.cols);
  if (!read_data(&file, result.count * result.image_size(), declared, &result.pixels, error) ||
      !check_end(&file, declared, error)) {
    return false;
  }
  *images = std::move(result);
  return true;
}

bool read_idx_labels(const std::string& path, std::uint32_t classes, std::vector<std::uint8_t>* labels,
                     std::string* error) {
  if (classes == 0 || classes > 256) {
    return fail(error, "invalid class count " + std::to_string(classes) + " for '" + path +
                           "': byte labels allow 1 to 256 classes.");
  }
  GzFile file;
  std::uint32_t header[2] = {};
  if (!file.open(path, error) || !read_header(&file, kIdxLabelMagic, "magic, count", header, 2, error)) {
    return false;
  }
  const std::string declared = std::to_string(header[1]) + " labels";
  std::vector<std::uint8_t> result;
  if (!read_data(&file, header[1], declared, &result, error) || !check_end(&file, declared, error) ||
      !check_labels(path, result, classes, error)) {
    return false;
  }
  *labels = std::move(result);
  return true;
}

bool read_idx_dataset(const std::string& images_path, const std::string& labels_path, std::uint32_t classes,
                      ImageDataset* dataset, std::string* error) {
  ImageDataset result;
  if (!read_idx_images(images_path, &result, error) || !read_idx_labels(labels_path, classes, &result.labels, error)) {
    return false;
  }
  if (result.labels.size() != result.count) {
    return fail(error, "image count " + std::to_string(result.count) + " in '" + images_path +
                           "' differs from label count " + std::to_string(result.labels.size()) + " in '" +
                           labels_path +
                           "'. Pair the image and label files of the same split (train-* with "
                           "train-*, t10k-* with t10k-*).");
  }
  *dataset = std::move(result);
  return true;
}

}  // namespace ecq::data
