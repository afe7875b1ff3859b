#pragma once
// Reading of gzip-compressed or plain files through zlib's gz* interface,
// which detects the format itself. Offsets count bytes of the decompressed
// data, which is what error messages report.

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ecq::data::detail {

class GzFile {
 public:
  GzFile() = default;
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  ~GzFile();

  /// Opens `path` for reading. On failure writes "cannot open '<path>': <reason>"
  /// with the next step to *error and returns false.
  bool open(const std::string& path, std::string* error);

  /// Reads up to `bytes` bytes into `buffer` and stores the count in *count,
  /// which is below `bytes` only at the end of the data. Returns false with a
  /// message naming the file and offset when zlib reports an error, such as a
  /// damaged or cut-off gzip stream.
  bool read(void* buffer, std::size_t bytes, std::size_t* count, std::string* error);

  /// Appends every remaining byte to *contents.
  bool read_all(std::string* contents, std::string* error);

  /// Bytes of decompressed data read so far.
  std::uint64_t offset() const { return offset_; }
  const std::string& path() const { return path_; }

 private:
  gzFile file_ = nullptr;
  std::string path_;
  std::uint64_t offset_ = 0;
};

/// Reads the whole decompressed contents of `path`.
bool read_text_file(const std::string& path, std::string* contents, std::string* error);

}  // namespace ecq::data::detail
