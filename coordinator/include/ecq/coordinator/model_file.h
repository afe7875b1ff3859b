#pragma once
// The exported model file, all integers and floats little-endian:
//
//   offset  size  field
//   0       4     magic "ECQM" (bytes 45 43 51 4D)
//   4       4     format version, 1
//   8       1     model kind: 0 linear, 1 logistic, 2 softmax, 3 mlp
//   9       4     inputs
//   13      4     classes
//   17      4     hidden units
//   21      1     bias, 0 or 1
//   22      8     model version (applied rounds)
//   30      4     id of the last applied round (0 before any)
//   34      4     parameter count n (parameter_count(shape))
//   38      4n    fp32 parameters in the layout of docs/models.md
//   38+4n   4     CRC-32C of every byte before it
//
// Files are written atomically: a temporary file in the same directory,
// fsync, rename over the target, fsync of the directory.

#include <cstdint>
#include <string>
#include <vector>

#include "ecq/runtime/model.h"

namespace ecq::coordinator {

struct ModelFile {
  ModelShape shape;
  std::uint64_t model_version = 0;
  std::uint32_t round_id = 0;
  std::vector<float> parameters;
};

/// Returns the file's bytes.
std::vector<std::uint8_t> encode_model_file(const ModelFile& file);

/// Parses a model file's bytes; fails with a message naming `source` and the
/// bad field on a wrong magic, version, shape, size or checksum.
bool decode_model_file(const std::vector<std::uint8_t>& bytes, const std::string& source, ModelFile* file,
                       std::string* error);

/// Writes the model file atomically.
bool write_model_file(const std::string& path, const ModelFile& file, std::string* error);

/// Reads and parses a model file.
bool read_model_file(const std::string& path, ModelFile* file, std::string* error);

}  // namespace ecq::coordinator
