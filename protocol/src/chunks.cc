#include "ecq/protocol/chunks.h"

#include <cstring>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "model chunks expose the parameter floats as their wire bytes");

namespace ecq::protocol {
namespace {

Status reject(ErrorInfo* error, Status status, std::uint64_t position, double found, double limit,
              const char* subject) {
  if (error != nullptr) {
    *error = ErrorInfo{status, position, found, limit, subject, false, "message"};
  }
  return status;
}

}  // namespace

std::uint32_t update_chunk_count(std::size_t payload_size, std::size_t max_body_size) {
  if (max_body_size <= kUpdateChunkHeaderBytes || payload_size == 0) {
    return 0;
  }
  const std::size_t per_chunk = max_body_size - kUpdateChunkHeaderBytes;
  const std::size_t count = (payload_size + per_chunk - 1) / per_chunk;
  return count > 0xFFFF ? 0 : static_cast<std::uint32_t>(count);
}

Status make_update_chunk(std::uint32_t round_id, std::uint64_t update_id, std::uint32_t samples_used,
                         Span<const std::uint8_t> payload, std::size_t max_body_size, std::uint32_t index,
                         UpdateChunk* chunk) {
  const std::uint32_t count = update_chunk_count(payload.size(), max_body_size);
  if (count == 0 || index >= count || chunk == nullptr || payload.size() > UINT32_MAX) {
    return Status::kInvalidArgument;
  }
  const std::size_t per_chunk = max_body_size - kUpdateChunkHeaderBytes;
  const std::size_t offset = static_cast<std::size_t>(index) * per_chunk;
  const std::size_t size = payload.size() - offset < per_chunk ? payload.size() - offset : per_chunk;
  *chunk = UpdateChunk{round_id,
                       update_id,
                       samples_used,
                       static_cast<std::uint16_t>(index),
                       static_cast<std::uint16_t>(count),
                       static_cast<std::uint32_t>(payload.size()),
                       payload.data() + offset,
                       static_cast<std::uint32_t>(size)};
  return Status::kOk;
}

Status UpdateAssembler::add(const UpdateChunk& chunk, bool* complete, ErrorInfo* error) {
  *complete = false;
  if (chunk.chunk_index == 0) {
    reset();
    if (chunk.payload_size > buffer_.size()) {
      return reject(error, Status::kOversizedPayload, 0, chunk.payload_size, static_cast<double>(buffer_.size()),
                    "update chunk: payload size must fit the receiver's payload buffer");
    }
    current_ = chunk;
    active_ = true;
  } else if (!active_ || chunk.chunk_index != next_index_ || chunk.round_id != current_.round_id ||
             chunk.update_id != current_.update_id || chunk.samples_used != current_.samples_used ||
             chunk.chunk_count != current_.chunk_count || chunk.payload_size != current_.payload_size) {
    const double expected = active_ ? next_index_ : 0;
    reset();
    return reject(error, Status::kBadHeaderField, 0, chunk.chunk_index, expected,
                  "update chunk: must continue the current update with the next chunk index");
  }
  if (chunk.size > current_.payload_size - filled_) {
    reset();
    return reject(error, Status::kBadHeaderField, 0, chunk.size, static_cast<double>(current_.payload_size),
                  "update chunk: chunks must not carry more bytes than the payload size");
  }
  std::memcpy(buffer_.data() + filled_, chunk.bytes, chunk.size);
  filled_ += chunk.size;
  ++next_index_;
  if (next_index_ < current_.chunk_count) {
    return Status::kOk;
  }
  active_ = false;
  if (filled_ != current_.payload_size) {
    const double received = static_cast<double>(filled_);
    reset();
    return reject(error, Status::kTruncatedPayload, 0, received, current_.payload_size,
                  "update chunk: the chunks must add up to the payload size");
  }
  *complete = true;
  return Status::kOk;
}

std::uint32_t model_chunk_count(std::size_t parameters, std::size_t max_body_size) {
  if (max_body_size < kModelChunkHeaderBytes + sizeof(float) || parameters == 0 || parameters > UINT32_MAX) {
    return 0;
  }
  const std::size_t per_chunk = (max_body_size - kModelChunkHeaderBytes) / sizeof(float);
  const std::size_t count = (parameters + per_chunk - 1) / per_chunk;
  return count > UINT32_MAX ? 0 : static_cast<std::uint32_t>(count);
}

Status make_model_chunk(std::uint32_t round_id, Span<const float> parameters, std::size_t max_body_size,
                        std::uint32_t index, ModelChunk* chunk) {
  const std::uint32_t count = model_chunk_count(parameters.size(), max_body_size);
  if (count == 0 || index >= count || chunk == nullptr) {
    return Status::kInvalidArgument;
  }
  const std::size_t per_chunk = (max_body_size - kModelChunkHeaderBytes) / sizeof(float);
  const std::size_t first = static_cast<std::size_t>(index) * per_chunk;
  const std::size_t size = parameters.size() - first < per_chunk ? parameters.size() - first : per_chunk;
  *chunk = ModelChunk{round_id,
                      index,
                      count,
                      static_cast<std::uint32_t>(first),
                      static_cast<std::uint32_t>(size),
                      reinterpret_cast<const std::uint8_t*>(parameters.data() + first)};
  return Status::kOk;
}

void ModelAssembler::start(std::uint32_t round_id, std::uint32_t chunk_count) {
  round_id_ = round_id;
  chunk_count_ = chunk_count;
  next_index_ = 0;
  filled_ = 0;
  active_ = chunk_count > 0;
}

Status ModelAssembler::add(const ModelChunk& chunk, bool* complete, ErrorInfo* error) {
  *complete = false;
  if (!active_ || chunk.round_id != round_id_ || chunk.chunk_count != chunk_count_ ||
      chunk.chunk_index != next_index_ || chunk.first_element != filled_) {
    const double expected = static_cast<double>(filled_);
    active_ = false;
    return reject(error, Status::kBadHeaderField, 0, chunk.first_element, expected,
                  "model chunk: must continue the offered round's model with the next index and first element");
  }
  if (chunk.element_count > parameters_.size() - filled_) {
    active_ = false;
    return reject(error, Status::kDimensionMismatch, 0, static_cast<double>(filled_) + chunk.element_count,
                  static_cast<double>(parameters_.size()), "model chunk: the chunks overrun the model's parameters");
  }
  const Status copied = copy_model_chunk_values(chunk, parameters_.subspan(filled_, chunk.element_count));
  if (copied != Status::kOk) {
    active_ = false;
    return copied;
  }
  filled_ += chunk.element_count;
  ++next_index_;
  if (next_index_ < chunk_count_) {
    return Status::kOk;
  }
  active_ = false;
  if (filled_ != parameters_.size()) {
    return reject(error, Status::kDimensionMismatch, 0, static_cast<double>(filled_),
                  static_cast<double>(parameters_.size()), "model chunk: the chunks must cover every parameter");
  }
  *complete = true;
  return Status::kOk;
}

}  // namespace ecq::protocol
