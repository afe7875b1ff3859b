#pragma once
// Temporary files for the loader tests.

#include <cstdint>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace ecq::data::testing {

/// The shared temporary directory plus gzip'd files.
class TempDir : public ecq::test::TempDir {
 public:
  TempDir() : ecq::test::TempDir("ecq-data-test") {}

  /// Writes `bytes` gzip-compressed to `name` and returns the file's path.
  std::string write_gzip(const std::string& name, const std::string& bytes) const;
};

/// Returns value as 4 big-endian bytes, the IDX header word format.
std::string big_endian(std::uint32_t value);

/// Returns an IDX image file: header for count x rows x cols and `data`.
std::string idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, const std::string& data);

/// Returns an IDX label file: header for `count` and `data`.
std::string idx_labels(std::uint32_t count, const std::string& data);

}  // namespace ecq::data::testing
