// Sessions and messages of the round engine. Rounds, aggregation and
// durability are in rounds.cc.

#include "ecq/coordinator/engine.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "ecq/coordinator/model_file.h"
#include "ecq/runtime/compressor.h"
#include "ecq/runtime/crc32c.h"
#include "ecq/runtime/log.h"
#include "engine_internal.h"

namespace ecq::coordinator {

const char* verdict_reason_name(protocol::VerdictReason reason) {
  switch (reason) {
    case protocol::VerdictReason::kNone:
      return "none";
    case protocol::VerdictReason::kLate:
      return "late";
    case protocol::VerdictReason::kRoundClosed:
      return "round_closed";
    case protocol::VerdictReason::kInvalidPayload:
      return "invalid_payload";
    case protocol::VerdictReason::kNormBoundRejected:
      return "norm_bound_rejected";
    case protocol::VerdictReason::kDuplicate:
      return "duplicate";
    case protocol::VerdictReason::kNotSelected:
      return "not_selected";
    case protocol::VerdictReason::kInternal:
      return "internal";
  }
  return "unknown";
}

Engine::Engine() = default;
Engine::~Engine() = default;

namespace {

std::string validate_config(const EngineConfig& config) {
  ErrorInfo info;
  if (validate_shape(config.offer.shape, &info) != Status::kOk) {
    char text[256];
    describe_error(info, text, sizeof text);
    return std::string("invalid model shape: ") + text;
  }
  protocol::RoundOffer offer = config.offer;
  offer.deadline_ms = std::max<std::uint32_t>(config.round_deadline_ms, 1);
  std::uint8_t body[128];
  std::size_t size = 0;
  if (protocol::encode_round_offer(offer, body, sizeof body, &size, &info) != Status::kOk) {
    return std::string("invalid round setting: ") + (info.subject != nullptr ? info.subject : "unknown field");
  }
  if (config.devices_per_round < 1) {
    return "--devices-per-round must be at least 1";
  }
  if (config.min_updates < 1 || config.min_updates > config.devices_per_round) {
    return "--min-updates " + std::to_string(config.min_updates) + " must be 1 to --devices-per-round (" +
           std::to_string(config.devices_per_round) + ")";
  }
  if (config.round_deadline_ms < 1) {
    return "--round-deadline-ms must be at least 1";
  }
  if (config.snapshot_every < 1) {
    return "--snapshot-every must be at least 1";
  }
  const AggregationConfig& aggregation = config.aggregation;
  if (!std::isfinite(aggregation.server_learning_rate) || aggregation.server_learning_rate <= 0.0f) {
    return "--server-learning-rate " + std::to_string(aggregation.server_learning_rate) + " must be finite and > 0";
  }
  if (!(aggregation.momentum >= 0.0f && aggregation.momentum < 1.0f)) {
    return "--momentum " + std::to_string(aggregation.momentum) + " must be at least 0 and below 1";
  }
  if (!std::isfinite(aggregation.norm_bound) || aggregation.norm_bound < 0.0) {
    return "--norm-bound " + std::to_string(aggregation.norm_bound) + " must be finite and >= 0 (0 = no bound)";
  }
  if (config.max_body_size < protocol::kMaxFixedBodyBytes) {
    return "--max-body-size " + std::to_string(config.max_body_size) + " must be at least " +
           std::to_string(protocol::kMaxFixedBodyBytes);
  }
  if (config.idle_timeout_ms < 3) {
    return "--idle-timeout-ms must be at least 3";
  }
  if (config.resume && (!config.durable || config.state_dir.empty())) {
    return "--resume needs --state-dir and durability (drop --no-durability)";
  }
  return "";
}

std::size_t payload_bound(const EngineConfig& config, std::uint32_t dimension) {
  CompressorConfig compressor;
  compressor.dimension = dimension;
  compressor.method = config.offer.compressor.method;
  compressor.quantizer = config.offer.compressor.quantizer;
  compressor.encoder = config.offer.compressor.encoder;
  compressor.use_default_compensation = config.offer.compressor.use_default_compensation;
  compressor.compensation.alpha = config.offer.compressor.alpha;
  compressor.compensation.beta = config.offer.compressor.beta;
  compressor.compensation.force = true;  // sizing only; the device's compressor checks stability
  return Compressor::max_payload_bytes(compressor);
}

}  // namespace

bool Engine::init(const EngineConfig& config, std::uint64_t now_ms, std::string* error) {
  const std::string problem = validate_config(config);
  if (!problem.empty()) {
    *error = problem;
    return false;
  }
  config_ = config;
  dimension_ = parameter_count(config.offer.shape);
  max_payload_bytes_ = payload_bound(config, dimension_);
  if (max_payload_bytes_ == 0) {
    *error = "the compressor settings are invalid for a model of " + std::to_string(dimension_) + " parameters";
    return false;
  }

  Model model;
  std::vector<std::uint8_t> arena(Model::required_arena_bytes(config.offer.shape, 1));
  if (model.init(config.offer.shape, 1, Span<std::uint8_t>(arena.data(), arena.size())) != Status::kOk) {
    *error = "the model shape is invalid";
    return false;
  }
  state_.model.assign(dimension_, 0.0f);
  state_.velocity.assign(dimension_, 0.0f);
  model.initialize(Span<float>(state_.model.data(), state_.model.size()), config.init_seed);
  aggregator_.init(dimension_);

  if (config.durable && !config.state_dir.empty()) {
    if (!store_.open(config.state_dir, config.resume, error)) {
      return false;
    }
    if (config.resume) {
      RecoveryReport report;
      if (!store_.recover(config.offer.shape, &aggregator_, &state_, &records_, &report, error)) {
        return false;
      }
      next_round_id_ = report.reserved_round_limit;
      reserved_round_limit_ = report.reserved_round_limit;
      log_message(LogLevel::kInfo,
                  "resumed from %s: snapshot at model version %llu, %zu logged rounds replayed, model version %llu, "
                  "model crc32c %08x, next round id %u%s",
                  config.state_dir.c_str(), static_cast<unsigned long long>(report.snapshot_version),
                  report.replayed_rounds, static_cast<unsigned long long>(state_.model_version), model_crc(),
                  next_round_id_, report.dropped_torn_record ? ", torn last record dropped" : "");
    }
  } else {
    log_message(LogLevel::kWarning, "durability is off: applied rounds are not written to disk and a restart "
                                    "loses the model and every verdict record");
  }
  if (config.evaluator != nullptr && !config.evaluator->init(config.offer.shape, error)) {
    return false;
  }
  selection_rng_.seed(config.selection_seed);
  idle_since_ms_ = now_ms;
  initialized_ = true;
  return true;
}

Engine::Session* Engine::find(SessionId id) {
  const auto found = sessions_.find(id);
  return found == sessions_.end() ? nullptr : found->second.get();
}

SessionId Engine::open_session(const std::string& authenticated_id, bool authenticated, SessionOutput* output,
                               std::uint64_t now_ms) {
  const SessionId id = next_session_id_++;
  current_ms_ = now_ms;
  auto session = std::make_unique<Session>();
  session->id = id;
  session->authenticated = authenticated;
  session->device_id = authenticated ? authenticated_id : std::string();
  session->output = output;
  session->last_received_ms = now_ms;
  session->last_sent_ms = now_ms;
  session->frame_buffer.resize(std::size_t{config_.max_body_size} + protocol::kFrameOverheadBytes);
  if (session->reader.init(Span<std::uint8_t>(session->frame_buffer.data(), session->frame_buffer.size()),
                           config_.max_body_size) != Status::kOk) {
    log_message(LogLevel::kError, "session %llu: frame reader setup failed", static_cast<unsigned long long>(id));
  }
  ++counters_.sessions_opened;
  ++(authenticated ? counters_.devices_authenticated : counters_.devices_unauthenticated);
  log_message(LogLevel::kInfo, "session %llu opened: device %s (%s)", static_cast<unsigned long long>(id),
              authenticated ? authenticated_id.c_str() : "id from hello",
              authenticated ? "authenticated" : "unauthenticated");
  sessions_[id] = std::move(session);
  return id;
}

void Engine::receive(SessionId id, const std::uint8_t* data, std::size_t size, std::uint64_t now_ms) {
  current_ms_ = now_ms;
  Session* session = find(id);
  if (session == nullptr) {
    return;
  }
  session->last_received_ms = now_ms;
  std::size_t offset = 0;
  while (offset < size || offset == 0) {
    std::size_t consumed = 0;
    if (session->reader.feed(data + offset, size - offset, &consumed) != Status::kOk) {
      protocol_error(*session, session->reader.last_error(), false);
      return;
    }
    offset += consumed;
    protocol::FrameView frame;
    Status status = Status::kOk;
    while ((status = session->reader.next(&frame)) == Status::kOk) {
      const std::size_t frame_bytes = std::size_t{frame.body_size} + protocol::kFrameOverheadBytes;
      counters_.bytes_in += frame_bytes;
      handle_frame(*session, frame, now_ms);
      session = find(id);
      if (session == nullptr) {
        return;  // the frame ended the session
      }
    }
    if (status != Status::kTruncatedPayload) {
      protocol_error(*session, session->reader.last_error(), false);
      return;
    }
    if (size == 0 || (consumed == 0 && offset < size)) {
      break;  // nothing left, or no room even after draining frames
    }
  }
}

void Engine::handle_frame(Session& session, const protocol::FrameView& frame, std::uint64_t now_ms) {
  ErrorInfo error;
  if (protocol::check_message_type(frame.type, &error) != Status::kOk) {
    protocol_error(session, error, true);
    return;
  }
  const auto type = static_cast<protocol::MessageType>(frame.type);
  if (type == protocol::MessageType::kHello) {
    handle_hello(session, frame);
    return;
  }
  if (!session.hello_done) {
    log_message(LogLevel::kWarning, "session %llu: %s before hello; closing",
                static_cast<unsigned long long>(session.id), protocol::message_type_name(frame.type));
    ++counters_.sessions_closed_protocol_error;
    end_session(session, protocol::GoodbyeReason::kProtocolError, "the first message must be hello",
                "message before hello");
    return;
  }
  switch (type) {
    case protocol::MessageType::kCheckIn: {
      protocol::CheckIn check_in;
      if (protocol::decode_check_in(frame.body, frame.body_size, &check_in, &error) != Status::kOk) {
        protocol_error(session, error, true);
        return;
      }
      session.checked_in = true;
      session.available_until_ms = check_in.available_ms != 0 ? now_ms + check_in.available_ms : 0;
      log_message(LogLevel::kDebug, "device %s checked in (available %u ms)", session.device_id.c_str(),
                  check_in.available_ms);
      maybe_start_round(now_ms);
      return;
    }
    case protocol::MessageType::kUpdateChunk: {
      protocol::UpdateChunk chunk;
      if (protocol::decode_update_chunk(frame.body, frame.body_size, &chunk, &error) != Status::kOk) {
        protocol_error(session, error, true);
        return;
      }
      const auto frame_bytes = static_cast<std::uint32_t>(frame.body_size + protocol::kFrameOverheadBytes);
      handle_update_chunk(session, chunk, frame_bytes, now_ms);
      return;
    }
    case protocol::MessageType::kStatusQuery: {
      protocol::StatusQuery query;
      if (protocol::decode_status_query(frame.body, frame.body_size, &query, &error) != Status::kOk) {
        protocol_error(session, error, true);
        return;
      }
      handle_status_query(session, query);
      return;
    }
    case protocol::MessageType::kHeartbeat: {
      protocol::Heartbeat heartbeat;
      if (protocol::decode_heartbeat(frame.body, frame.body_size, &heartbeat, &error) != Status::kOk) {
        protocol_error(session, error, true);
      }
      return;
    }
    case protocol::MessageType::kGoodbye: {
      protocol::Goodbye goodbye;
      if (protocol::decode_goodbye(frame.body, frame.body_size, &goodbye, &error) != Status::kOk) {
        protocol_error(session, error, true);
        return;
      }
      log_message(LogLevel::kInfo, "device %s sent goodbye (reason %u, %s%s%.*s)", session.device_id.c_str(),
                  static_cast<unsigned>(goodbye.reason), protocol::goodbye_reason_name(goodbye.reason),
                  goodbye.text_size > 0 ? ": " : "", static_cast<int>(goodbye.text_size),
                  goodbye.text != nullptr ? goodbye.text : "");
      const SessionId id = session.id;
      session.output->close();
      forget_session(id, "goodbye from device", now_ms);
      return;
    }
    default:
      break;
  }
  log_message(LogLevel::kWarning, "device %s sent a %s, which only the coordinator sends; closing",
              session.device_id.c_str(), protocol::message_type_name(frame.type));
  ++counters_.sessions_closed_protocol_error;
  end_session(session, protocol::GoodbyeReason::kProtocolError, "unexpected message type from a device",
              "coordinator-only message");
}

void Engine::handle_hello(Session& session, const protocol::FrameView& frame) {
  ErrorInfo error;
  protocol::Hello hello;
  if (protocol::decode_hello(frame.body, frame.body_size, &hello, &error) != Status::kOk) {
    protocol_error(session, error, true);
    return;
  }
  if (session.hello_done) {
    ++counters_.sessions_closed_protocol_error;
    log_message(LogLevel::kWarning, "device %s sent a second hello; closing", session.device_id.c_str());
    end_session(session, protocol::GoodbyeReason::kProtocolError, "second hello on one connection", "second hello");
    return;
  }
  if (!session.authenticated) {
    session.device_id.assign(hello.device_id, hello.device_id_size);
    if (session.device_id.empty()) {
      log_message(LogLevel::kWarning, "session %llu: hello without a device id on an unauthenticated transport",
                  static_cast<unsigned long long>(session.id));
      end_session(session, protocol::GoodbyeReason::kUnauthorized,
                  "this transport takes the device id from hello, and it is empty", "empty device id");
      return;
    }
  }
  const ModelKind kind = config_.offer.shape.kind;
  const Method method = config_.offer.compressor.method;
  if ((hello.model_kinds & protocol::model_kind_bit(kind)) == 0 ||
      (hello.methods & protocol::method_bit(method)) == 0 || hello.max_body_size < protocol::kMaxFixedBodyBytes) {
    char text[200];
    std::snprintf(text, sizeof text, "this run needs model kind %s, method %s and a maximum body of at least %zu",
                  model_kind_name(kind), method_name(method), protocol::kMaxFixedBodyBytes);
    log_message(LogLevel::kInfo, "device %s is incompatible (model kinds 0x%x, methods 0x%x, max body %u); %s",
                session.device_id.c_str(), hello.model_kinds, hello.methods, hello.max_body_size, text);
    end_session(session, protocol::GoodbyeReason::kIncompatible, text, "incompatible device");
    return;
  }
  session.hello_done = true;
  session.max_body_size = std::min(hello.max_body_size, config_.max_body_size);
  const auto previous = session_of_device_.find(session.device_id);
  if (previous != session_of_device_.end() && previous->second != session.id) {
    Session* old = find(previous->second);
    if (old != nullptr) {
      log_message(LogLevel::kInfo, "device %s connected again; closing its older session %llu",
                  session.device_id.c_str(), static_cast<unsigned long long>(old->id));
      end_session(*old, protocol::GoodbyeReason::kNone, "replaced by a newer connection", "replaced");
    }
  }
  session_of_device_[session.device_id] = session.id;
  log_message(LogLevel::kInfo, "device %s (%s) sent hello: runtime %u.%u.%u, max body %u",
              session.device_id.c_str(), session.authenticated ? "authenticated" : "unauthenticated",
              hello.runtime_version >> 16, (hello.runtime_version >> 8) & 0xFFu, hello.runtime_version & 0xFFu,
              hello.max_body_size);
}

void Engine::handle_status_query(Session& session, const protocol::StatusQuery& query) {
  protocol::StatusAnswer answer;
  answer.round_id = query.round_id;
  answer.update_id = query.update_id;
  answer.state = update_state(session.device_id, query.round_id, query.update_id);
  std::uint8_t body[32];
  std::size_t size = 0;
  if (protocol::encode_status_answer(answer, body, sizeof body, &size) == Status::kOk) {
    send_frame(session, protocol::MessageType::kStatusAnswer, body, size);
  }
  log_message(LogLevel::kInfo, "device %s round %u update %llu: status answer sent: %s", session.device_id.c_str(),
              query.round_id, static_cast<unsigned long long>(query.update_id),
              answer.state == protocol::UpdateState::kApplied
                  ? "applied"
                  : (answer.state == protocol::UpdateState::kPending ? "pending" : "not applied"));
}

protocol::UpdateState Engine::update_state(const std::string& device_id, std::uint32_t round_id,
                                           std::uint64_t update_id) const {
  const auto found = records_.find(device_id);
  if (found == records_.end() || found->second.round_id != round_id || found->second.update_id != update_id) {
    return protocol::UpdateState::kNotApplied;
  }
  return found->second.state;
}

std::string Engine::session_device_id(SessionId id) const {
  const auto found = sessions_.find(id);
  return found == sessions_.end() ? std::string() : found->second->device_id;
}

void Engine::protocol_error(Session& session, const ErrorInfo& error, bool goodbye) {
  char text[256];
  describe_error(error, text, sizeof text);
  log_message(LogLevel::kWarning, "device %s (session %llu): %s; closing the connection",
              session.device_id.empty() ? "?" : session.device_id.c_str(),
              static_cast<unsigned long long>(session.id), text);
  ++counters_.sessions_closed_protocol_error;
  if (goodbye) {
    end_session(session, protocol::GoodbyeReason::kProtocolError, text, "protocol error");
  } else {
    // After a frame error the stream position is unknown, so nothing more is sent.
    const SessionId id = session.id;
    session.output->close();
    forget_session(id, "frame error", current_ms_);
  }
}

void Engine::end_session(Session& session, protocol::GoodbyeReason reason, const char* text,
                         const char* log_reason) {
  send_goodbye(session, reason, text);
  const SessionId id = session.id;
  session.output->close();
  forget_session(id, log_reason, current_ms_);
}

void Engine::close_session(SessionId id, const char* reason, std::uint64_t now_ms) {
  current_ms_ = now_ms;
  if (find(id) != nullptr) {
    forget_session(id, reason, now_ms);
  }
}

void Engine::forget_session(SessionId id, const char* reason, std::uint64_t now_ms) {
  const auto found = sessions_.find(id);
  if (found == sessions_.end()) {
    return;
  }
  std::unique_ptr<Session> session = std::move(found->second);
  sessions_.erase(found);
  --(session->authenticated ? counters_.devices_authenticated : counters_.devices_unauthenticated);
  const auto owner = session_of_device_.find(session->device_id);
  if (owner != session_of_device_.end() && owner->second == id) {
    session_of_device_.erase(owner);
  }
  log_message(LogLevel::kInfo, "session %llu of device %s closed: %s", static_cast<unsigned long long>(id),
              session->device_id.empty() ? "?" : session->device_id.c_str(), reason);
  if (round_ && session->hello_done && session_of_device_.count(session->device_id) == 0) {
    mark_selected_gone(session->device_id, now_ms);
  }
}

void Engine::send_frame(Session& session, protocol::MessageType type, const std::uint8_t* body, std::size_t size) {
  frame_scratch_.resize(size + protocol::kFrameOverheadBytes);
  std::size_t frame_size = 0;
  if (protocol::encode_frame(static_cast<std::uint8_t>(type), body, size, frame_scratch_.data(),
                             frame_scratch_.size(), &frame_size) != Status::kOk) {
    log_message(LogLevel::kError, "device %s: encoding a %s frame failed", session.device_id.c_str(),
                protocol::message_type_name(static_cast<std::uint8_t>(type)));
    return;
  }
  counters_.bytes_out += frame_size;
  if (type == protocol::MessageType::kModelChunk) {
    counters_.model_bytes_out += frame_size;
  }
  session.last_sent_ms = current_ms_;
  session.output->send(frame_scratch_.data(), frame_size);
}

void Engine::send_goodbye(Session& session, protocol::GoodbyeReason reason, const char* text) {
  protocol::Goodbye goodbye;
  goodbye.reason = reason;
  goodbye.text = text;
  goodbye.text_size = static_cast<std::uint16_t>(std::min<std::size_t>(std::strlen(text), protocol::kMaxTextBytes));
  std::uint8_t body[protocol::kMaxTextBytes + 8];
  std::size_t size = 0;
  if (protocol::encode_goodbye(goodbye, body, sizeof body, &size) == Status::kOk) {
    send_frame(session, protocol::MessageType::kGoodbye, body, size);
  }
}

void Engine::send_heartbeat(Session& session, std::uint64_t now_ms) {
  protocol::Heartbeat heartbeat;
  heartbeat.monotonic_ms = now_ms;
  std::uint8_t body[16];
  std::size_t size = 0;
  if (protocol::encode_heartbeat(heartbeat, body, sizeof body, &size) == Status::kOk) {
    send_frame(session, protocol::MessageType::kHeartbeat, body, size);
    session.last_sent_ms = now_ms;
  }
}

void Engine::tick(std::uint64_t now_ms) {
  current_ms_ = now_ms;
  if (!initialized_ || stopped_) {
    return;
  }
  std::vector<SessionId> ids;
  ids.reserve(sessions_.size());
  for (const auto& entry : sessions_) {
    ids.push_back(entry.first);
  }
  const std::uint64_t heartbeat_after = config_.idle_timeout_ms / 3;
  for (const SessionId id : ids) {
    Session* session = find(id);
    if (session == nullptr) {
      continue;
    }
    if (now_ms - session->last_received_ms > config_.idle_timeout_ms) {
      log_message(LogLevel::kInfo, "device %s silent for %llu ms; closing", session->device_id.c_str(),
                  static_cast<unsigned long long>(now_ms - session->last_received_ms));
      end_session(*session, protocol::GoodbyeReason::kTimeout, "silent longer than the idle timeout", "idle timeout");
      continue;
    }
    if (now_ms - session->last_sent_ms >= heartbeat_after) {
      send_heartbeat(*session, now_ms);
    }
    if (session->checked_in && session->available_until_ms != 0 && now_ms > session->available_until_ms) {
      session->checked_in = false;
      log_message(LogLevel::kDebug, "device %s left the pool: its available time ran out",
                  session->device_id.c_str());
    }
  }
  if (round_ && now_ms >= round_->deadline_ms) {
    close_round(now_ms);
  }
  maybe_start_round(now_ms);
}

bool Engine::finished() const { return stopped_ || (config_.rounds != 0 && state_.model_version >= config_.rounds); }

std::uint32_t Engine::open_round_id() const { return round_ ? round_->id : 0; }

std::uint32_t Engine::model_crc() const {
  return crc32c(reinterpret_cast<const std::uint8_t*>(state_.model.data()), state_.model.size() * sizeof(float));
}

bool Engine::export_model(const std::string& path, std::string* error) const {
  ModelFile file;
  file.shape = config_.offer.shape;
  file.model_version = state_.model_version;
  file.round_id = state_.last_round_id;
  file.parameters = state_.model;
  return write_model_file(path, file, error);
}

void Engine::shutdown(std::uint64_t now_ms) {
  current_ms_ = now_ms;
  if (!initialized_ || shut_down_) {
    return;
  }
  shut_down_ = true;
  if (round_) {
    discard_round("the coordinator is shutting down", now_ms);
  }
  std::vector<SessionId> ids;
  for (const auto& entry : sessions_) {
    ids.push_back(entry.first);
  }
  for (const SessionId id : ids) {
    Session* session = find(id);
    if (session != nullptr) {
      end_session(*session, protocol::GoodbyeReason::kShutdown, "the coordinator is shutting down", "shutdown");
    }
  }
  std::string error;
  if (store_.is_open() && !failed_) {
    if (store_.write_snapshot(config_.offer.shape, state_, records_, &error)) {
      log_message(LogLevel::kInfo, "final snapshot written at model version %llu",
                  static_cast<unsigned long long>(state_.model_version));
    } else {
      log_message(LogLevel::kError, "final snapshot failed: %s", error.c_str());
    }
  }
  if (!config_.export_path.empty()) {
    if (export_model(config_.export_path, &error)) {
      log_message(LogLevel::kInfo, "model exported to %s", config_.export_path.c_str());
    } else {
      log_message(LogLevel::kError, "model export failed: %s", error.c_str());
    }
  }
  stopped_ = true;
}

}  // namespace ecq::coordinator
