#include "scripted_device.h"

#include <cstring>

namespace ecq::coordinator::test {

std::vector<std::uint8_t> fp32_payload(const std::vector<float>& values) {
  CompressorConfig config;
  config.dimension = static_cast<std::uint32_t>(values.size());
  config.method = Method::kFp32;
  std::vector<std::uint8_t> arena(Compressor::required_arena_bytes(config) + 1);
  std::vector<std::uint8_t> payload(Compressor::max_payload_bytes(config));
  Compressor compressor;
  REQUIRE(compressor.init(config, {arena.data(), arena.size()}) == Status::kOk);
  std::size_t size = 0;
  REQUIRE(compressor.compress({values.data(), values.size()}, StreamKey{1, 2, 3}, {payload.data(), payload.size()},
                              &size) == Status::kOk);
  payload.resize(size);
  return payload;
}

std::vector<std::uint8_t> ecq_payload(const std::vector<float>& values, const QuantizerConfig& quantizer,
                                      std::uint32_t round) {
  CompressorConfig config;
  config.dimension = static_cast<std::uint32_t>(values.size());
  config.method = Method::kEcq;
  config.quantizer = quantizer;
  std::vector<std::uint8_t> arena(Compressor::required_arena_bytes(config));
  std::vector<std::uint8_t> payload(Compressor::max_payload_bytes(config));
  Compressor compressor;
  REQUIRE(compressor.init(config, {arena.data(), arena.size()}) == Status::kOk);
  std::size_t size = 0;
  REQUIRE(compressor.compress({values.data(), values.size()}, StreamKey{7, 9, round},
                              {payload.data(), payload.size()}, &size) == Status::kOk);
  payload.resize(size);
  return payload;
}

EngineConfig small_config(std::uint32_t inputs, std::uint32_t devices_per_round) {
  EngineConfig config;
  config.offer.shape.kind = ModelKind::kLinear;
  config.offer.shape.inputs = inputs;
  config.offer.shape.bias = true;
  config.offer.learning_rate = 0.1f;
  config.offer.local_steps = 1;
  config.offer.batch_size = 8;
  config.offer.compressor.method = Method::kFp32;
  config.offer.run_seed = 5;
  config.devices_per_round = devices_per_round;
  config.min_updates = 1;
  config.round_deadline_ms = 1000;
  config.selection_wait_ms = 500;
  config.durable = false;
  config.idle_timeout_ms = 60000;
  config.max_body_size = 64 * 1024;
  return config;
}

ScriptedDevice::ScriptedDevice(Engine& engine, std::string id, std::uint32_t max_body)
    : engine_(engine),
      id_(std::move(id)),
      max_body_(max_body),
      pipe_(std::make_unique<transport::MemoryPipe>(1 << 20)),
      session_(std::make_unique<StreamSession>(engine, pipe_->b())),
      reader_buffer_(std::size_t{max_body} + protocol::kFrameOverheadBytes) {
  REQUIRE(reader_.init({reader_buffer_.data(), reader_buffer_.size()}, max_body) == Status::kOk);
}

void ScriptedDevice::connect(std::uint64_t now_ms, std::uint8_t model_kinds, std::uint8_t methods) {
  session_->open(now_ms);
  protocol::Hello hello;
  hello.runtime_version = protocol::pack_version(0, 1, 0);
  hello.model_kinds = model_kinds;
  hello.methods = methods;
  hello.max_body_size = max_body_;
  std::memcpy(hello.device_id, id_.data(), id_.size());
  hello.device_id_size = static_cast<std::uint8_t>(id_.size());
  std::uint8_t body[128];
  std::size_t size = 0;
  REQUIRE(protocol::encode_hello(hello, body, sizeof body, &size) == Status::kOk);
  send_frame(now_ms, protocol::MessageType::kHello, body, size);
}

void ScriptedDevice::check_in(std::uint64_t now_ms, std::uint32_t available_ms) {
  std::uint8_t body[8];
  std::size_t size = 0;
  REQUIRE(protocol::encode_check_in(protocol::CheckIn{available_ms}, body, sizeof body, &size) == Status::kOk);
  send_frame(now_ms, protocol::MessageType::kCheckIn, body, size);
}

void ScriptedDevice::upload(std::uint64_t now_ms, std::uint32_t round_id, std::uint64_t update_id,
                            std::uint32_t samples, const std::vector<std::uint8_t>& payload, std::size_t chunk_body,
                            std::uint32_t stop_after) {
  const std::uint32_t count = protocol::update_chunk_count(payload.size(), chunk_body);
  REQUIRE(count > 0);
  std::vector<std::uint8_t> body(chunk_body);
  for (std::uint32_t index = 0; index < count && index < stop_after; ++index) {
    protocol::UpdateChunk chunk;
    REQUIRE(protocol::make_update_chunk(round_id, update_id, samples, {payload.data(), payload.size()}, chunk_body,
                                        index, &chunk) == Status::kOk);
    std::size_t size = 0;
    REQUIRE(protocol::encode_update_chunk(chunk, body.data(), body.size(), &size) == Status::kOk);
    send_frame(now_ms, protocol::MessageType::kUpdateChunk, body.data(), size);
  }
}

void ScriptedDevice::query(std::uint64_t now_ms, std::uint32_t round_id, std::uint64_t update_id) {
  std::uint8_t body[16];
  std::size_t size = 0;
  REQUIRE(protocol::encode_status_query(protocol::StatusQuery{round_id, update_id}, body, sizeof body, &size) ==
          Status::kOk);
  send_frame(now_ms, protocol::MessageType::kStatusQuery, body, size);
}

void ScriptedDevice::write_raw(std::uint64_t now_ms, const std::vector<std::uint8_t>& bytes) {
  std::size_t done = 0;
  REQUIRE(pipe_->a().write(bytes.data(), bytes.size(), &done) == transport::IoStatus::kOk);
  REQUIRE(done == bytes.size());
  session_->pump(now_ms);
}

void ScriptedDevice::send_frame(std::uint64_t now_ms, protocol::MessageType type, const std::uint8_t* body,
                                std::size_t size) {
  std::vector<std::uint8_t> frame(size + protocol::kFrameOverheadBytes);
  std::size_t frame_size = 0;
  REQUIRE(protocol::encode_frame(static_cast<std::uint8_t>(type), body, size, frame.data(), frame.size(),
                                 &frame_size) == Status::kOk);
  frame.resize(frame_size);
  write_raw(now_ms, frame);
}

void ScriptedDevice::disconnect(std::uint64_t now_ms) {
  pipe_->a().close();
  session_->pump(now_ms);
}

std::vector<Received> ScriptedDevice::drain(std::uint64_t now_ms) {
  session_->pump(now_ms);
  std::uint8_t buffer[4096];
  for (;;) {
    std::size_t done = 0;
    const transport::IoStatus status = pipe_->a().read(buffer, sizeof buffer, &done);
    if (status == transport::IoStatus::kClosed) {
      peer_closed_ = true;
    }
    if (status != transport::IoStatus::kOk || done == 0) {
      break;
    }
    std::size_t offset = 0;
    while (offset < done) {
      std::size_t consumed = 0;
      REQUIRE(reader_.feed(buffer + offset, done - offset, &consumed) == Status::kOk);
      offset += consumed;
      protocol::FrameView frame;
      Status status_next;
      while ((status_next = reader_.next(&frame)) == Status::kOk) {
        inbox_.push_back(Received{static_cast<protocol::MessageType>(frame.type),
                                  std::vector<std::uint8_t>(frame.body, frame.body + frame.body_size)});
      }
      REQUIRE(status_next == Status::kTruncatedPayload);
    }
  }
  std::vector<Received> out;
  out.swap(inbox_);
  return out;
}

protocol::RoundOffer ScriptedDevice::take_offer(std::uint64_t now_ms, std::vector<float>* model) {
  const std::vector<Received> frames = drain(now_ms);
  protocol::RoundOffer offer;
  bool found = false;
  std::vector<float> parameters;
  for (const Received& frame : frames) {
    if (frame.type == protocol::MessageType::kRoundOffer) {
      REQUIRE(protocol::decode_round_offer(frame.body.data(), frame.body.size(), &offer) == Status::kOk);
      found = true;
      parameters.assign(parameter_count(offer.shape), 0.0f);
    } else if (frame.type == protocol::MessageType::kModelChunk) {
      protocol::ModelChunk chunk;
      REQUIRE(protocol::decode_model_chunk(frame.body.data(), frame.body.size(), &chunk) == Status::kOk);
      REQUIRE(chunk.first_element + chunk.element_count <= parameters.size());
      for (std::uint32_t i = 0; i < chunk.element_count; ++i) {
        parameters[chunk.first_element + i] = protocol::model_chunk_value(chunk, i);
      }
    }
  }
  REQUIRE_MESSAGE(found, "device " << id_ << " received no round offer");
  if (model != nullptr) {
    *model = parameters;
  }
  return offer;
}

protocol::Verdict ScriptedDevice::take_verdict(std::uint64_t now_ms, std::string* text) {
  const std::vector<Received> frames = drain(now_ms);
  static std::vector<std::uint8_t> verdict_body;  // the verdict text points into it
  protocol::Verdict verdict;
  int verdicts = 0;
  for (const Received& frame : frames) {
    if (frame.type == protocol::MessageType::kVerdict) {
      verdict_body = frame.body;
      REQUIRE(protocol::decode_verdict(verdict_body.data(), verdict_body.size(), &verdict) == Status::kOk);
      ++verdicts;
    }
  }
  REQUIRE_MESSAGE(verdicts == 1, "device " << id_ << " received " << verdicts << " verdicts");
  if (text != nullptr) {
    *text = std::string(verdict.text, verdict.text_size);
  }
  return verdict;
}

bool ScriptedDevice::closed_by_engine(std::uint64_t now_ms) {
  drain(now_ms);
  return peer_closed_;
}

}  // namespace ecq::coordinator::test
