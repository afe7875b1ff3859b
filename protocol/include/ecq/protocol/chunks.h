#pragma once
// Splitting an update's payload into update chunks and putting it back
// together. Chunks travel in order, 0 to chunk_count - 1, on one connection;
// a receiver rejects any other order rather than buffering out of order.

#include <cstddef>
#include <cstdint>

#include "ecq/protocol/messages.h"
#include "ecq/runtime/span.h"
#include "ecq/runtime/status.h"

namespace ecq::protocol {

/// Returns the number of chunks a payload of `payload_size` bytes needs when
/// each frame body may carry at most `max_body_size` bytes, or 0 when no
/// chunk fits (max_body_size <= kUpdateChunkHeaderBytes) or more than 65535
/// chunks would be needed.
std::uint32_t update_chunk_count(std::size_t payload_size, std::size_t max_body_size);

/// Fills `chunk` with chunk `index` of `payload` (which must outlive it),
/// cut for bodies of at most `max_body_size` bytes. Fails with
/// kInvalidArgument for an index at or beyond update_chunk_count().
[[nodiscard]] Status make_update_chunk(std::uint32_t round_id, std::uint64_t update_id, std::uint32_t samples_used,
                                       Span<const std::uint8_t> payload, std::size_t max_body_size, std::uint32_t index,
                                       UpdateChunk* chunk);

/// Reassembles one update at a time into a caller-given buffer.
class UpdateAssembler {
 public:
  /// `buffer` receives the payload and bounds its size; it must outlive the
  /// assembler.
  explicit UpdateAssembler(Span<std::uint8_t> buffer) : buffer_(buffer) {}

  /// Adds the next chunk. The first chunk (index 0) starts an update, and
  /// each later one must continue it with the next index and the same round,
  /// update id, samples, chunk count and payload size. Sets *complete when
  /// the last chunk has filled the payload exactly. Errors drop the update:
  /// kOversizedPayload when the payload does not fit the buffer,
  /// kBadHeaderField for a chunk that does not continue the update or would
  /// overrun the payload size, kTruncatedPayload when the chunks end short.
  [[nodiscard]] Status add(const UpdateChunk& chunk, bool* complete, ErrorInfo* error = nullptr);

  /// The assembled payload after `add` reported completion.
  Span<const std::uint8_t> payload() const { return Span<const std::uint8_t>(buffer_.data(), filled_); }
  std::uint32_t round_id() const { return current_.round_id; }
  std::uint64_t update_id() const { return current_.update_id; }
  std::uint32_t samples_used() const { return current_.samples_used; }

  /// Drops a partial update, e.g. when its connection closed.
  void reset() {
    active_ = false;
    filled_ = 0;
    next_index_ = 0;
  }

 private:
  Span<std::uint8_t> buffer_;
  UpdateChunk current_;
  bool active_ = false;
  std::size_t filled_ = 0;
  std::uint32_t next_index_ = 0;
};

/// Returns the number of model chunks that carry `parameters` floats in bodies
/// of at most `max_body_size` bytes, or 0 when no value fits or there are no
/// parameters.
std::uint32_t model_chunk_count(std::size_t parameters, std::size_t max_body_size);

/// Fills `chunk` with chunk `index` of the model `parameters`, which must
/// outlive it. The values are read as little-endian fp32, the host layout on
/// every supported target. Fails with kInvalidArgument for an index at or
/// beyond model_chunk_count().
[[nodiscard]] Status make_model_chunk(std::uint32_t round_id, Span<const float> parameters, std::size_t max_body_size,
                                      std::uint32_t index, ModelChunk* chunk);

/// Collects the chunks of one round's model into a caller-given parameter
/// vector, on the device. Chunks arrive in index order and must cover the
/// vector exactly.
class ModelAssembler {
 public:
  /// `parameters` receives the model; it must outlive the assembler.
  explicit ModelAssembler(Span<float> parameters) : parameters_(parameters) {}

  /// Starts collecting the model of `round_id`, announced with `chunk_count`
  /// chunks in the round offer.
  void start(std::uint32_t round_id, std::uint32_t chunk_count);

  /// Adds the next chunk and sets *complete once the last one has arrived
  /// and the chunks covered every parameter exactly once. Errors (the model
  /// is then dropped): kBadHeaderField for another round, an out-of-order
  /// index or a gap or overlap, kDimensionMismatch when the chunks do not end
  /// at the vector's end.
  [[nodiscard]] Status add(const ModelChunk& chunk, bool* complete, ErrorInfo* error = nullptr);

 private:
  Span<float> parameters_;
  std::uint32_t round_id_ = 0;
  std::uint32_t chunk_count_ = 0;
  std::uint32_t next_index_ = 0;
  std::size_t filled_ = 0;
  bool active_ = false;
};

}  // namespace ecq::protocol
