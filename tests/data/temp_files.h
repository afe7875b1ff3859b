#pragma once
// Temporary files for the loader tests.

#include <cstdint>
#include <string>
#include <vector>

namespace ecq::data::testing {

/// A fresh directory under $TMPDIR (or /tmp), removed with its files on
/// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// Returns the path of `name` inside the directory.
  std::string path(const std::string& name) const { return path_ + "/" + name; }

  /// Writes `bytes` to `name` as they are and returns the file's path.
  std::string write(const std::string& name, const std::string& bytes) const;

  /// Writes `bytes` gzip-compressed to `name` and returns the file's path.
  std::string write_gzip(const std::string& name, const std::string& bytes) const;

 private:
  std::string path_;
};

/// Returns value as 4 big-endian bytes, the IDX header word format.
std::string big_endian(std::uint32_t value);

/// Returns an IDX image file: header for count x rows x cols and `data`.
std::string idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, const std::string& data);

/// Returns an IDX label file: header for `count` and `data`.
std::string idx_labels(std::uint32_t count, const std::string& data);

}  // namespace ecq::data::testing
