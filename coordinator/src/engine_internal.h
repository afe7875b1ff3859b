#pragma once
// The engine's per-session and per-round records, shared by engine.cc and
// rounds.cc.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ecq/coordinator/engine.h"

namespace ecq::coordinator {

/// An update being received. Updates the engine can accept are reassembled
/// by `assembler`; any other update is only followed chunk by chunk until its
/// end so that it gets its verdict (`verdict_reason`) without being stored.
struct Upload {
  bool active = false;
  bool stored = false;
  std::uint32_t round_id = 0;
  std::uint64_t update_id = 0;
  std::uint16_t chunk_count = 0;
  std::uint16_t next_index = 0;
  std::uint32_t payload_size = 0;
  std::uint64_t received = 0;
  protocol::VerdictReason verdict_reason = protocol::VerdictReason::kNone;
  std::string verdict_text;
};

struct Engine::Session {
  SessionId id = 0;
  std::string device_id;
  bool authenticated = false;
  bool hello_done = false;
  SessionOutput* output = nullptr;
  std::vector<std::uint8_t> frame_buffer;
  protocol::FrameReader reader;
  std::uint64_t last_received_ms = 0;
  std::uint64_t last_sent_ms = 0;
  std::uint32_t max_body_size = 0;  ///< min(device's, coordinator's maximum body size)
  bool checked_in = false;
  std::uint64_t available_until_ms = 0;  ///< 0 = no limit
  Upload upload;
  /// Reassembly buffer, allocated only while the device may upload to the open round.
  std::vector<std::uint8_t> payload_buffer;
  std::unique_ptr<protocol::UpdateAssembler> assembler;
};

enum class SelectedState : std::uint8_t { kWaiting, kSent, kGone };

struct SelectedDevice {
  std::string device_id;
  SelectedState state = SelectedState::kWaiting;
};

struct Engine::Round {
  std::uint32_t id = 0;
  std::uint64_t started_ms = 0;
  std::uint64_t deadline_ms = 0;
  std::vector<SelectedDevice> selected;
  std::vector<AcceptedUpdate> updates;  ///< in arrival order
};

}  // namespace ecq::coordinator
