#include "temp_files.h"

#include <stdlib.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace ecq::data::testing {

std::string TempDir::write_gzip(const std::string& name, const std::string& bytes) const {
  const std::string file = path(name);
  gzFile out = gzopen(file.c_str(), "wb");
  if (out == nullptr || (!bytes.empty() && gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())) !=
                                               static_cast<int>(bytes.size()))) {
    throw std::runtime_error("cannot write " + file);
  }
  gzclose(out);
  return file;
}

std::string big_endian(std::uint32_t value) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<char>((value >> (24 - 8 * i)) & 0xFF);
  }
  return bytes;
}

std::string idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, const std::string& data) {
  return big_endian(0x00000803) + big_endian(count) + big_endian(rows) + big_endian(cols) + data;
}

std::string idx_labels(std::uint32_t count, const std::string& data) {
  return big_endian(0x00000801) + big_endian(count) + data;
}

}  // namespace ecq::data::testing
