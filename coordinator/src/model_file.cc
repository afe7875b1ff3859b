#include "ecq/coordinator/model_file.h"

#include "ecq/runtime/crc32c.h"
#include "file_io.h"

namespace ecq::coordinator {
namespace {

constexpr std::uint32_t kModelFileMagic = 0x4D514345;  // "ECQM" read as a little-endian u32
constexpr std::uint32_t kModelFileVersion = 1;
constexpr std::size_t kModelFileHeaderBytes = 38;

}  // namespace

std::vector<std::uint8_t> encode_model_file(const ModelFile& file) {
  ByteWriter writer;
  writer.u32(kModelFileMagic);
  writer.u32(kModelFileVersion);
  writer.u8(static_cast<std::uint8_t>(file.shape.kind));
  writer.u32(file.shape.inputs);
  writer.u32(file.shape.classes);
  writer.u32(file.shape.hidden);
  writer.u8(file.shape.bias ? 1 : 0);
  writer.u64(file.model_version);
  writer.u32(file.round_id);
  writer.u32(static_cast<std::uint32_t>(file.parameters.size()));
  for (const float value : file.parameters) {
    writer.f32(value);
  }
  writer.checksum();
  return std::move(writer.bytes());
}

bool decode_model_file(const std::vector<std::uint8_t>& bytes, const std::string& source, ModelFile* file,
                       std::string* error) {
  if (bytes.size() < kModelFileHeaderBytes + 4) {
    *error = source + ": not a model file: " + std::to_string(bytes.size()) + " bytes is shorter than the header";
    return false;
  }
  const std::uint32_t stored_crc = ByteReader(bytes.data() + bytes.size() - 4, 4).u32();
  if (crc32c(bytes.data(), bytes.size() - 4) != stored_crc) {
    *error = source + ": CRC-32C mismatch; the file is damaged, export it again";
    return false;
  }
  ByteReader reader(bytes.data(), bytes.size() - 4);
  if (reader.u32() != kModelFileMagic) {
    *error = source + ": not a model file (magic is not \"ECQM\")";
    return false;
  }
  const std::uint32_t version = reader.u32();
  if (version != kModelFileVersion) {
    *error = source + ": model file version " + std::to_string(version) + " is not supported (this build reads 1)";
    return false;
  }
  ModelFile parsed;
  const std::uint8_t kind = reader.u8();
  parsed.shape.kind = static_cast<ModelKind>(kind);
  parsed.shape.inputs = reader.u32();
  parsed.shape.classes = reader.u32();
  parsed.shape.hidden = reader.u32();
  parsed.shape.bias = reader.u8() != 0;
  parsed.model_version = reader.u64();
  parsed.round_id = reader.u32();
  const std::uint32_t count = reader.u32();
  if (kind > 3 || validate_shape(parsed.shape) != Status::kOk || parameter_count(parsed.shape) != count) {
    *error = source + ": invalid model shape or parameter count " + std::to_string(count);
    return false;
  }
  if (reader.remaining() != std::size_t{count} * 4) {
    *error = source + ": expected " + std::to_string(std::size_t{count} * 4) + " parameter bytes, found " +
             std::to_string(reader.remaining());
    return false;
  }
  parsed.parameters.resize(count);
  for (float& value : parsed.parameters) {
    value = reader.f32();
  }
  *file = std::move(parsed);
  return true;
}

bool write_model_file(const std::string& path, const ModelFile& file, std::string* error) {
  return write_file_atomically(path, encode_model_file(file), error);
}

bool read_model_file(const std::string& path, ModelFile* file, std::string* error) {
  std::vector<std::uint8_t> bytes;
  return read_whole_file(path, &bytes, error) && decode_model_file(bytes, path, file, error);
}

}  // namespace ecq::coordinator
