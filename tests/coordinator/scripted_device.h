#pragma once
// A scripted device for engine tests: it writes protocol frames into one end
// of a MemoryPipe, whose other end a StreamSession feeds to the engine, and
// decodes what the engine sends back.

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ecq/coordinator/engine.h"
#include "ecq/coordinator/in_process.h"
#include "ecq/protocol/chunks.h"
#include "ecq/protocol/frame.h"
#include "ecq/protocol/messages.h"
#include "ecq/runtime/compressor.h"
#include "ecq/transport/memory_pipe.h"

namespace ecq::coordinator::test {

/// One frame the engine sent, with a copy of its body.
struct Received {
  protocol::MessageType type;
  std::vector<std::uint8_t> body;
};

/// Returns a raw fp32 payload (Method::kFp32) carrying `values` exactly.
std::vector<std::uint8_t> fp32_payload(const std::vector<float>& values);

/// Returns an ECQ payload of `values` made by a fresh compressor.
std::vector<std::uint8_t> ecq_payload(const std::vector<float>& values, const QuantizerConfig& quantizer,
                                      std::uint32_t round);

/// An engine configuration for a linear model with `inputs` inputs and a
/// bias, fp32 updates, K devices and no durability.
EngineConfig small_config(std::uint32_t inputs, std::uint32_t devices_per_round);

class ScriptedDevice {
 public:
  ScriptedDevice(Engine& engine, std::string id, std::uint32_t max_body = 4096);

  /// Opens the session and sends hello.
  void connect(std::uint64_t now_ms, std::uint8_t model_kinds = 0x0F, std::uint8_t methods = 0x0F);
  void check_in(std::uint64_t now_ms, std::uint32_t available_ms = 0);
  /// Sends `payload` in chunks of at most `chunk_body` body bytes; with
  /// `stop_after` below the chunk count, sends only that many chunks.
  void upload(std::uint64_t now_ms, std::uint32_t round_id, std::uint64_t update_id, std::uint32_t samples,
              const std::vector<std::uint8_t>& payload, std::size_t chunk_body = 1024,
              std::uint32_t stop_after = 0xFFFFFFFFu);
  void query(std::uint64_t now_ms, std::uint32_t round_id, std::uint64_t update_id);
  /// Writes raw bytes, e.g. a malformed frame.
  void write_raw(std::uint64_t now_ms, const std::vector<std::uint8_t>& bytes);
  void send_frame(std::uint64_t now_ms, protocol::MessageType type, const std::uint8_t* body, std::size_t size);
  /// Closes the device's end, as a dropped connection does.
  void disconnect(std::uint64_t now_ms);

  /// Moves pending bytes and returns every frame received since the last call.
  std::vector<Received> drain(std::uint64_t now_ms);
  /// Pumps and returns the offered round, or fails the test.
  protocol::RoundOffer take_offer(std::uint64_t now_ms, std::vector<float>* model = nullptr);
  /// Pumps and returns the one verdict received, or fails the test.
  protocol::Verdict take_verdict(std::uint64_t now_ms, std::string* text = nullptr);
  /// True when the engine closed this session (its end saw kClosed).
  bool closed_by_engine(std::uint64_t now_ms);

  const std::string& id() const { return id_; }
  StreamSession& session() { return *session_; }

 private:
  Engine& engine_;
  std::string id_;
  std::uint32_t max_body_;
  std::unique_ptr<transport::MemoryPipe> pipe_;
  std::unique_ptr<StreamSession> session_;
  std::vector<std::uint8_t> reader_buffer_;
  protocol::FrameReader reader_;
  std::vector<Received> inbox_;
  bool peer_closed_ = false;
};

}  // namespace ecq::coordinator::test
