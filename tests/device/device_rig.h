#pragma once
// A device client over an in-process pipe, facing a scripted coordinator that
// the test drives message by message with the ecq::protocol encoders.

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ecq/port/posix.h"
#include "ecq/protocol/chunks.h"
#include "ecq/protocol/frame.h"
#include "ecq/protocol/messages.h"
#include "ecq/runtime/device_client.h"
#include "ecq/runtime/log.h"
#include "ecq/runtime/model.h"
#include "ecq/runtime/payload.h"
#include "ecq/transport/memory_pipe.h"

namespace ecq::test {

/// A small softmax problem: `count` samples of `inputs` features, 3 classes,
/// handed out cyclically. Two sources with the same seed give the same batches.
struct CyclicData {
  CyclicData(std::uint32_t inputs_, std::uint32_t count, std::uint32_t seed) : inputs(inputs_) {
    std::uint32_t state = seed * 2654435761u + 1u;
    for (std::uint32_t i = 0; i < count * inputs; ++i) {
      state = state * 1664525u + 1013904223u;
      features.push_back(static_cast<float>(state >> 8) / 16777216.0f - 0.5f);
    }
    for (std::uint32_t i = 0; i < count; ++i) {
      labels.push_back(static_cast<std::int32_t>(i % 3));
      targets.push_back(static_cast<float>(i % 2));
    }
  }

  static Status fill(void* context, std::uint32_t rows, Span<float> x, Span<float> y, Span<std::int32_t> z,
                     std::uint32_t* filled) {
    auto* self = static_cast<CyclicData*>(context);
    if (self->fail) {
      return Status::kInvalidArgument;
    }
    const std::uint32_t count = static_cast<std::uint32_t>(self->labels.size());
    for (std::uint32_t r = 0; r < rows; ++r) {
      const std::uint32_t i = self->cursor++ % count;
      std::memcpy(x.data() + std::size_t{r} * self->inputs, self->features.data() + std::size_t{i} * self->inputs,
                  sizeof(float) * self->inputs);
      y[r] = self->targets[i];
      z[r] = self->labels[i];
    }
    *filled = rows;
    return Status::kOk;
  }

  /// The next batch as the device would see it, in vectors owned here.
  Batch next(std::uint32_t rows) {
    batch_x.assign(std::size_t{rows} * inputs, 0.0f);
    batch_y.assign(rows, 0.0f);
    batch_z.assign(rows, 0);
    std::uint32_t filled = 0;
    (void)fill(this, rows, Span<float>(batch_x.data(), batch_x.size()), Span<float>(batch_y.data(), rows),
               Span<std::int32_t>(batch_z.data(), rows), &filled);
    return Batch{batch_x.data(), batch_y.data(), batch_z.data(), rows};
  }

  DataSource source() { return DataSource{fill, this}; }

  std::uint32_t inputs;
  std::vector<float> features;
  std::vector<float> targets;
  std::vector<std::int32_t> labels;
  std::uint32_t cursor = 0;
  bool fail = false;
  std::vector<float> batch_x;
  std::vector<float> batch_y;
  std::vector<std::int32_t> batch_z;
};

/// One received frame, copied out of the reader.
struct Frame {
  protocol::MessageType type{};
  std::vector<std::uint8_t> body;
};

/// The coordinator's end of the pipe: sends encoded messages, collects frames.
class ScriptedCoordinator {
 public:
  explicit ScriptedCoordinator(transport::PipeEnd* end) : end_(end), buffer_(1 << 20) {
    REQUIRE(reader_.init(Span<std::uint8_t>(buffer_.data(), buffer_.size()), 1 << 19) == Status::kOk);
  }

  void send_frame(protocol::MessageType type, const std::vector<std::uint8_t>& body) {
    std::vector<std::uint8_t> frame(body.size() + protocol::kFrameOverheadBytes);
    std::size_t size = 0;
    REQUIRE(protocol::encode_frame(static_cast<std::uint8_t>(type), body.data(), body.size(), frame.data(),
                                   frame.size(), &size) == Status::kOk);
    send_raw(frame);
  }

  void send_raw(const std::vector<std::uint8_t>& bytes) {
    std::size_t done = 0;
    REQUIRE(end_->write(bytes.data(), bytes.size(), &done) == transport::IoStatus::kOk);
    REQUIRE(done == bytes.size());
  }

  template <typename Message, typename Encoder>
  void send(protocol::MessageType type, const Message& message, Encoder encode) {
    std::vector<std::uint8_t> body(1 << 16);
    std::size_t size = 0;
    REQUIRE(encode(message, body.data(), body.size(), &size, nullptr) == Status::kOk);
    body.resize(size);
    send_frame(type, body);
  }

  /// Sends the offer and every model chunk, cut for `max_body_size`.
  void send_round(const protocol::RoundOffer& offer, const std::vector<float>& model, std::size_t max_body_size) {
    send(protocol::MessageType::kRoundOffer, offer, protocol::encode_round_offer);
    const Span<const float> parameters(model.data(), model.size());
    const std::uint32_t count = protocol::model_chunk_count(model.size(), max_body_size);
    for (std::uint32_t i = 0; i < count; ++i) {
      protocol::ModelChunk chunk;
      REQUIRE(protocol::make_model_chunk(offer.round_id, parameters, max_body_size, i, &chunk) == Status::kOk);
      send(protocol::MessageType::kModelChunk, chunk, protocol::encode_model_chunk);
    }
  }

  void verdict(std::uint32_t round, std::uint64_t update, bool applied, protocol::VerdictReason reason) {
    protocol::Verdict message;
    message.round_id = round;
    message.update_id = update;
    message.applied = applied;
    message.reason = reason;
    send(protocol::MessageType::kVerdict, message, protocol::encode_verdict);
  }

  /// Reads everything the device sent so far into frames().
  void pump() {
    for (;;) {
      std::uint8_t chunk[4096];
      std::size_t done = 0;
      const transport::IoStatus status = end_->read(chunk, sizeof chunk, &done);
      if (status == transport::IoStatus::kClosed) {
        closed_ = true;
        return;
      }
      if (status != transport::IoStatus::kOk) {
        return;
      }
      std::size_t consumed = 0;
      REQUIRE(reader_.feed(chunk, done, &consumed) == Status::kOk);
      REQUIRE(consumed == done);
      protocol::FrameView view;
      Status status_next;
      while ((status_next = reader_.next(&view)) == Status::kOk) {
        frames_.push_back(Frame{static_cast<protocol::MessageType>(view.type),
                                std::vector<std::uint8_t>(view.body, view.body + view.body_size)});
      }
      REQUIRE(status_next == Status::kTruncatedPayload);
    }
  }

  std::vector<Frame>& frames() { return frames_; }
  bool closed() const { return closed_; }

  /// Returns how many received frames have `type`.
  std::size_t count(protocol::MessageType type) const {
    std::size_t n = 0;
    for (const Frame& frame : frames_) {
      n += frame.type == type ? 1 : 0;
    }
    return n;
  }

  /// Reassembles the update chunks received so far into one payload.
  bool update(std::vector<std::uint8_t>* payload, protocol::UpdateChunk* first) {
    std::vector<std::uint8_t> buffer(1 << 20);
    protocol::UpdateAssembler assembler(Span<std::uint8_t>(buffer.data(), buffer.size()));
    bool complete = false;
    for (const Frame& frame : frames_) {
      if (frame.type != protocol::MessageType::kUpdateChunk) {
        continue;
      }
      protocol::UpdateChunk chunk;
      REQUIRE(protocol::decode_update_chunk(frame.body.data(), frame.body.size(), &chunk) == Status::kOk);
      if (chunk.chunk_index == 0) {
        *first = chunk;
      }
      REQUIRE(assembler.add(chunk, &complete) == Status::kOk);
    }
    if (!complete) {
      return false;
    }
    payload->assign(assembler.payload().begin(), assembler.payload().end());
    return true;
  }

 private:
  transport::PipeEnd* end_;
  std::vector<std::uint8_t> buffer_;
  protocol::FrameReader reader_;
  std::vector<Frame> frames_;
  bool closed_ = false;
};

inline std::vector<float> decode(const std::vector<std::uint8_t>& payload) {
  PayloadView view;
  REQUIRE(validate_payload(Span<const std::uint8_t>(payload.data(), payload.size()), DecodeLimits{}, &view) ==
          Status::kOk);
  std::vector<float> out(view.dimension());
  REQUIRE(decode_payload(view, Span<float>(out.data(), out.size())) == Status::kOk);
  return out;
}

/// Collects log lines for checks on what the device reported.
inline std::vector<std::string>& captured_log() {
  static std::vector<std::string> lines;
  return lines;
}

inline void capture_log(LogLevel, const char* message) { captured_log().push_back(message); }

inline bool log_contains(const std::string& text) {
  for (const std::string& line : captured_log()) {
    if (line.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

/// A client with its arena, data and the current pipe to a scripted coordinator.
struct DeviceRig {
  explicit DeviceRig(const DeviceConfig& config_, std::uint32_t data_seed = 7)
      : config(config_), data(config_.shape.inputs, 40, data_seed) {
    arena.resize(DeviceClient::required_arena_bytes(config));
    REQUIRE(!arena.empty());
    REQUIRE(client.init(config, data.source(), Span<std::uint8_t>(arena.data(), arena.size())) == Status::kOk);
  }

  /// Connects over a fresh pipe (a closed pipe stays closed).
  void connect() {
    pipe = std::make_unique<transport::MemoryPipe>(1 << 20);
    coordinator = std::make_unique<ScriptedCoordinator>(&pipe->b());
    REQUIRE(client.wants_connection(now));
    client.on_connected(pipe->a(), now);
    coordinator->pump();
  }

  /// Polls the device `times` times, `advance_ms` apart, collecting its frames.
  void run(int times = 1, std::uint64_t advance_ms = 0) {
    for (int i = 0; i < times; ++i) {
      now += advance_ms;
      client.poll(now);
      coordinator->pump();
    }
  }

  /// Runs until the device has sent a complete update or `limit` polls passed.
  bool run_until_update(std::vector<std::uint8_t>* payload, protocol::UpdateChunk* first, int limit = 1000) {
    for (int i = 0; i < limit; ++i) {
      run();
      if (client.state() == DeviceState::kAwaitVerdict) {
        return coordinator->update(payload, first);
      }
    }
    return false;
  }

  /// The error buffer as floats, fp32 or fp16; empty when there is none.
  std::vector<float> error_buffer() const {
    const Compressor& compressor = client.compressor();
    std::vector<float> values;
    if (compressor.keeps_error_buffer()) {
      for (std::size_t i = 0; i < compressor.dimension(); ++i) {
        values.push_back(compressor.error_value(i));
      }
    }
    return values;
  }

  DeviceConfig config;
  CyclicData data;
  std::vector<std::uint8_t> arena;
  DeviceClient client;
  std::unique_ptr<transport::MemoryPipe> pipe;
  std::unique_ptr<ScriptedCoordinator> coordinator;
  std::uint64_t now = 1000;
};

/// A softmax device with 6 inputs and 3 classes (21 parameters), small frame
/// bodies so models and updates take several chunks, and storage off.
inline DeviceConfig small_config() {
  DeviceConfig config;
  std::strcpy(config.device_id, "device-7");
  config.shape.kind = ModelKind::kSoftmax;
  config.shape.inputs = 6;
  config.shape.classes = 3;
  config.max_batch = 8;
  config.min_bucket_size = 4;
  config.max_levels = 127;
  config.max_body_size = 273;
  config.upload_body_size = 40;
  config.heartbeat_interval_ms = 1000;
  config.idle_timeout_ms = 5000;
  config.backoff_min_ms = 100;
  config.backoff_max_ms = 5000;
  config.storage_prefix[0] = '\0';
  return config;
}

/// Body size the scripted coordinator cuts models for: 10 values a chunk.
constexpr std::size_t kModelBodyBytes = 60;

/// An offer matching small_config(): gradient mode, ecq, bucket 4, s = 4.
inline protocol::RoundOffer small_offer(std::uint32_t round, std::uint32_t local_steps = 0) {
  protocol::RoundOffer offer;
  offer.round_id = round;
  offer.model_version = round;
  offer.shape.kind = ModelKind::kSoftmax;
  offer.shape.inputs = 6;
  offer.shape.classes = 3;
  offer.learning_rate = 0.1f;
  offer.local_steps = local_steps;
  offer.batch_size = 5;
  offer.compressor.method = Method::kEcq;
  offer.compressor.quantizer = QuantizerConfig{4, 4, NormKind::kL2};
  offer.compressor.encoder = EncoderChoice::kAuto;
  offer.compressor.use_default_compensation = true;
  offer.run_seed = 99;
  offer.deadline_ms = 2000;
  offer.model_chunk_count = protocol::model_chunk_count(21, kModelBodyBytes);
  return offer;
}

inline std::vector<float> small_model(std::uint32_t seed) {
  std::vector<float> model(21);
  for (std::size_t i = 0; i < model.size(); ++i) {
    model[i] = 0.05f * static_cast<float>((i * 7 + seed) % 11) - 0.25f;
  }
  return model;
}

}  // namespace ecq::test
