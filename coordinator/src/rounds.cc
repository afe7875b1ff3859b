// Rounds of the engine: selection, offers, updates, verdicts, aggregation
// and durability.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ecq/coordinator/engine.h"
#include "ecq/runtime/log.h"
#include "ecq/runtime/payload.h"
#include "engine_internal.h"

namespace ecq::coordinator {
namespace {

// Round ids are reserved on disk this many at a time, so most rounds start
// without a write.
constexpr std::uint32_t kRoundIdBlock = 16;

const char* method_encoding_text(const protocol::CompressorOffer& offer) {
  return offer.method == Method::kFp32 ? "raw fp32" : "quantized";
}

}  // namespace

SelectedDevice* Engine::selected_entry(const std::string& device_id) {
  if (!round_) {
    return nullptr;
  }
  for (SelectedDevice& entry : round_->selected) {
    if (entry.device_id == device_id) {
      return &entry;
    }
  }
  return nullptr;
}

void Engine::handle_update_chunk(Session& session, const protocol::UpdateChunk& chunk, std::uint32_t frame_bytes,
                                 std::uint64_t now_ms) {
  counters_.update_bytes_in += frame_bytes;
  Upload& upload = session.upload;
  if (!upload.active) {
    if (chunk.chunk_index != 0) {
      log_message(LogLevel::kWarning, "device %s round %u update %llu: chunk %u arrived without chunk 0; closing",
                  session.device_id.c_str(), chunk.round_id, static_cast<unsigned long long>(chunk.update_id),
                  chunk.chunk_index);
      ++counters_.sessions_closed_protocol_error;
      end_session(session, protocol::GoodbyeReason::kProtocolError, "update chunks must start at index 0",
                  "update chunk out of order");
      return;
    }
    begin_upload(session, chunk);
  }
  if (upload.stored) {
    bool complete = false;
    ErrorInfo error;
    if (session.assembler->add(chunk, &complete, &error) != Status::kOk) {
      error.context = "update chunk";
      protocol_error(session, error, true);
      return;
    }
    upload.received += chunk.size;
    if (complete) {
      finish_upload(session, now_ms);
    }
    return;
  }
  const bool continues = chunk.round_id == upload.round_id && chunk.update_id == upload.update_id &&
                         chunk.chunk_index == upload.next_index && chunk.chunk_count == upload.chunk_count &&
                         chunk.payload_size == upload.payload_size &&
                         upload.received + chunk.size <= upload.payload_size;
  if (!continues) {
    log_message(LogLevel::kWarning, "device %s round %u update %llu: chunk %u does not continue the update; closing",
                session.device_id.c_str(), chunk.round_id, static_cast<unsigned long long>(chunk.update_id),
                chunk.chunk_index);
    ++counters_.sessions_closed_protocol_error;
    end_session(session, protocol::GoodbyeReason::kProtocolError, "update chunk does not continue the update",
                "update chunk out of order");
    return;
  }
  ++upload.next_index;
  upload.received += chunk.size;
  if (upload.next_index < upload.chunk_count) {
    return;
  }
  if (upload.received != upload.payload_size) {
    log_message(LogLevel::kWarning, "device %s round %u update %llu: chunks end after %llu of %u bytes; closing",
                session.device_id.c_str(), upload.round_id, static_cast<unsigned long long>(upload.update_id),
                static_cast<unsigned long long>(upload.received), upload.payload_size);
    ++counters_.sessions_closed_protocol_error;
    end_session(session, protocol::GoodbyeReason::kProtocolError, "update chunks end before the payload size",
                "short update");
    return;
  }
  const Upload finished = upload;
  upload = Upload{};
  send_verdict(session.device_id, finished.round_id, finished.update_id, finished.verdict_reason,
               finished.verdict_text);
}

void Engine::begin_upload(Session& session, const protocol::UpdateChunk& chunk) {
  Upload& upload = session.upload;
  upload = Upload{};
  upload.active = true;
  upload.round_id = chunk.round_id;
  upload.update_id = chunk.update_id;
  upload.chunk_count = chunk.chunk_count;
  upload.payload_size = chunk.payload_size;
  const std::string round_text = "round " + std::to_string(chunk.round_id);
  if (round_ && chunk.round_id == round_->id) {
    const SelectedDevice* selected = selected_entry(session.device_id);
    if (selected == nullptr) {
      upload.verdict_reason = protocol::VerdictReason::kNotSelected;
      upload.verdict_text = round_text + " was not offered to this device";
    } else if (selected->state == SelectedState::kSent) {
      upload.verdict_reason = protocol::VerdictReason::kDuplicate;
      upload.verdict_text = "this device already sent an update for " + round_text;
    } else if (chunk.payload_size > max_payload_bytes_) {
      upload.verdict_reason = protocol::VerdictReason::kInvalidPayload;
      upload.verdict_text = "payload of " + std::to_string(chunk.payload_size) +
                            " bytes is larger than this round's settings allow (" +
                            std::to_string(max_payload_bytes_) + " bytes)";
    } else {
      upload.stored = true;
    }
  } else if (chunk.round_id != 0 && chunk.round_id < next_round_id_) {
    upload.verdict_reason = protocol::VerdictReason::kLate;
    upload.verdict_text = round_text + " closed before the update arrived";
  } else {
    upload.verdict_reason = protocol::VerdictReason::kNotSelected;
    upload.verdict_text = round_text + " was not offered to this device";
  }
  if (upload.stored) {
    session.payload_buffer.resize(max_payload_bytes_);
    session.assembler = std::make_unique<protocol::UpdateAssembler>(
        Span<std::uint8_t>(session.payload_buffer.data(), session.payload_buffer.size()));
  }
}

void Engine::finish_upload(Session& session, std::uint64_t now_ms) {
  const Upload upload = session.upload;
  session.upload = Upload{};
  std::unique_ptr<protocol::UpdateAssembler> assembler = std::move(session.assembler);
  std::vector<std::uint8_t> buffer = std::move(session.payload_buffer);
  session.payload_buffer = std::vector<std::uint8_t>();
  accept_update(session, upload.round_id, upload.update_id, assembler->samples_used(), assembler->payload(), now_ms);
}

void Engine::accept_update(Session& session, std::uint32_t round_id, std::uint64_t update_id, std::uint32_t samples,
                           Span<const std::uint8_t> payload, std::uint64_t now_ms) {
  const std::string& device = session.device_id;
  if (!round_ || round_->id != round_id) {
    send_verdict(device, round_id, update_id, protocol::VerdictReason::kLate,
                 "round " + std::to_string(round_id) + " closed while the update was arriving");
    return;
  }
  SelectedDevice* selected = selected_entry(device);
  if (selected == nullptr || selected->state == SelectedState::kSent) {
    send_verdict(device, round_id, update_id,
                 selected == nullptr ? protocol::VerdictReason::kNotSelected : protocol::VerdictReason::kDuplicate,
                 selected == nullptr ? "round was not offered to this device"
                                     : "this device already sent an update for this round");
    return;
  }
  DecodeLimits limits;
  limits.expected_dimension = dimension_;
  limits.max_payload_bytes = max_payload_bytes_;
  PayloadView view;
  ErrorInfo error;
  if (validate_payload(payload, limits, &view, &error) != Status::kOk) {
    char text[256];
    describe_error(error, text, sizeof text);
    send_verdict(device, round_id, update_id, protocol::VerdictReason::kInvalidPayload, text);
    return;
  }
  const protocol::CompressorOffer& offer = config_.offer.compressor;
  const bool raw = view.encoding() == Encoding::kRawFp32;
  const bool matches = offer.method == Method::kFp32
                           ? raw
                           : !raw && view.levels() == offer.quantizer.levels &&
                                 view.bucket_size() == offer.quantizer.bucket_size &&
                                 view.norm() == offer.quantizer.norm;
  if (!matches) {
    char text[200];
    std::snprintf(text, sizeof text,
                  "payload has encoding %s, %u levels, bucket size %u, but the round offered %s with %u levels and "
                  "bucket size %u",
                  encoding_name(view.encoding()), view.levels(), view.bucket_size(), method_encoding_text(offer),
                  static_cast<unsigned>(offer.quantizer.levels), offer.quantizer.bucket_size);
    send_verdict(device, round_id, update_id, protocol::VerdictReason::kInvalidPayload, text);
    return;
  }
  float scale = 1.0f;
  const AggregationConfig& aggregation = config_.aggregation;
  if (aggregation.norm_bound > 0.0) {
    const double norm = aggregator_.decoded_norm(payload);
    if (norm > aggregation.norm_bound) {
      if (aggregation.norm_bound_action == NormBoundAction::kReject) {
        char text[128];
        std::snprintf(text, sizeof text, "update l2 norm %.6g exceeds the norm bound %.6g", norm,
                      aggregation.norm_bound);
        send_verdict(device, round_id, update_id, protocol::VerdictReason::kNormBoundRejected, text);
        return;
      }
      scale = static_cast<float>(aggregation.norm_bound / norm);
      ++counters_.updates_clipped;
      log_message(LogLevel::kInfo, "device %s round %u update %llu: l2 norm %.6g clipped to the bound %.6g",
                  device.c_str(), round_id, static_cast<unsigned long long>(update_id), norm,
                  aggregation.norm_bound);
    }
  }
  AcceptedUpdate accepted;
  accepted.device_id = device;
  accepted.update_id = update_id;
  accepted.samples_used = samples;
  accepted.weight = update_weight(samples, aggregation.weight_cap);
  accepted.scale = scale;
  accepted.payload.assign(payload.data(), payload.data() + payload.size());
  round_->updates.push_back(std::move(accepted));
  selected->state = SelectedState::kSent;
  records_[device] = DeviceRecord{round_id, update_id, protocol::UpdateState::kPending};
  log_message(LogLevel::kInfo, "device %s round %u update %llu: accepted (%zu bytes, %u samples), pending",
              device.c_str(), round_id, static_cast<unsigned long long>(update_id), payload.size(), samples);
  check_round_complete(now_ms);
}

void Engine::send_verdict(const std::string& device_id, std::uint32_t round_id, std::uint64_t update_id,
                          protocol::VerdictReason reason, const std::string& text) {
  const bool applied = reason == protocol::VerdictReason::kNone;
  if (applied) {
    ++counters_.updates_applied;
    log_message(LogLevel::kInfo, "device %s round %u update %llu: applied", device_id.c_str(), round_id,
                static_cast<unsigned long long>(update_id));
  } else {
    ++counters_.updates_rejected[static_cast<std::size_t>(reason)];
    log_message(LogLevel::kInfo, "device %s round %u update %llu: not applied (%s): %s", device_id.c_str(), round_id,
                static_cast<unsigned long long>(update_id), verdict_reason_name(reason), text.c_str());
  }
  const auto owner = session_of_device_.find(device_id);
  Session* session = owner == session_of_device_.end() ? nullptr : find(owner->second);
  if (session == nullptr) {
    log_message(LogLevel::kInfo, "device %s round %u update %llu: verdict not sent, the device is not connected",
                device_id.c_str(), round_id, static_cast<unsigned long long>(update_id));
    return;
  }
  send_verdict_to(*session, round_id, update_id, reason, text);
}

void Engine::send_verdict_to(Session& session, std::uint32_t round_id, std::uint64_t update_id,
                             protocol::VerdictReason reason, const std::string& text) {
  protocol::Verdict verdict;
  verdict.round_id = round_id;
  verdict.update_id = update_id;
  verdict.applied = reason == protocol::VerdictReason::kNone;
  verdict.reason = reason;
  verdict.text = text.data();
  verdict.text_size = static_cast<std::uint16_t>(std::min(text.size(), protocol::kMaxTextBytes));
  std::uint8_t body[protocol::kMaxFixedBodyBytes];
  std::size_t size = 0;
  if (protocol::encode_verdict(verdict, body, sizeof body, &size) == Status::kOk) {
    send_frame(session, protocol::MessageType::kVerdict, body, size);
  }
}

void Engine::maybe_start_round(std::uint64_t now_ms) {
  if (!initialized_ || round_ || stopped_ || shut_down_ || failed_ || finished()) {
    return;
  }
  std::vector<Session*> candidates;
  for (const auto& entry : sessions_) {
    Session& session = *entry.second;
    if (session.hello_done && session.checked_in &&
        (session.available_until_ms == 0 || now_ms <= session.available_until_ms)) {
      candidates.push_back(&session);
    }
  }
  const bool full = candidates.size() >= config_.devices_per_round;
  const bool waited = now_ms - idle_since_ms_ >= config_.selection_wait_ms && candidates.size() >= config_.min_updates;
  if (full || waited) {
    start_round(std::move(candidates), now_ms);
  }
}

void Engine::start_round(std::vector<Session*> candidates, std::uint64_t now_ms) {
  // Sorting first makes the selection depend only on the seed and the pool,
  // not on the order of a hash map.
  std::sort(candidates.begin(), candidates.end(),
            [](const Session* a, const Session* b) { return a->device_id < b->device_id; });
  const std::size_t count = std::min<std::size_t>(config_.devices_per_round, candidates.size());
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(selection_rng_() % (candidates.size() - i));
    std::swap(candidates[i], candidates[j]);
  }
  const std::uint32_t round_id = next_round_id_;
  std::string error;
  if (!reserve_round_id(round_id, &error)) {
    fail("reserving round id " + std::to_string(round_id) + " failed: " + error);
    return;
  }
  ++next_round_id_;
  round_ = std::make_unique<Round>();
  round_->id = round_id;
  round_->started_ms = now_ms;
  round_->deadline_ms = now_ms + config_.round_deadline_ms;
  ++counters_.rounds_started;
  std::string names;
  for (std::size_t i = 0; i < count; ++i) {
    names += (i == 0 ? "" : ", ") + candidates[i]->device_id;
  }
  log_message(LogLevel::kInfo, "round %u started at model version %llu with %zu of %zu devices (deadline %u ms): %s",
              round_id, static_cast<unsigned long long>(state_.model_version), count, candidates.size(),
              config_.round_deadline_ms, names.c_str());
  for (std::size_t i = 0; i < count; ++i) {
    Session& session = *candidates[i];
    session.checked_in = false;
    round_->selected.push_back(SelectedDevice{session.device_id, SelectedState::kWaiting});
  }
  for (std::size_t i = 0; i < count; ++i) {
    offer_round(*candidates[i], now_ms);
  }
}

void Engine::offer_round(Session& session, std::uint64_t now_ms) {
  protocol::RoundOffer offer = config_.offer;
  offer.round_id = round_->id;
  offer.model_version = state_.model_version;
  offer.deadline_ms = config_.round_deadline_ms;
  offer.model_chunk_count = protocol::model_chunk_count(dimension_, session.max_body_size);
  std::uint8_t offer_body[128];
  std::size_t size = 0;
  if (offer.model_chunk_count == 0 ||
      protocol::encode_round_offer(offer, offer_body, sizeof offer_body, &size) != Status::kOk) {
    log_message(LogLevel::kError, "device %s round %u: the offer cannot be encoded", session.device_id.c_str(),
                round_->id);
    mark_selected_gone(session.device_id, now_ms);
    return;
  }
  send_frame(session, protocol::MessageType::kRoundOffer, offer_body, size);
  body_scratch_.resize(session.max_body_size);
  const Span<const float> parameters(state_.model.data(), state_.model.size());
  for (std::uint32_t index = 0; index < offer.model_chunk_count; ++index) {
    protocol::ModelChunk chunk;
    std::size_t body_size = 0;
    if (protocol::make_model_chunk(round_->id, parameters, session.max_body_size, index, &chunk) != Status::kOk ||
        protocol::encode_model_chunk(chunk, body_scratch_.data(), body_scratch_.size(), &body_size) != Status::kOk) {
      log_message(LogLevel::kError, "device %s round %u: model chunk %u cannot be encoded",
                  session.device_id.c_str(), round_->id, index);
      return;
    }
    send_frame(session, protocol::MessageType::kModelChunk, body_scratch_.data(), body_size);
  }
}

void Engine::mark_selected_gone(const std::string& device_id, std::uint64_t now_ms) {
  SelectedDevice* selected = selected_entry(device_id);
  if (selected != nullptr && selected->state == SelectedState::kWaiting) {
    selected->state = SelectedState::kGone;
    log_message(LogLevel::kInfo, "device %s round %u: disconnected before sending its update", device_id.c_str(),
                round_->id);
    check_round_complete(now_ms);
  }
}

void Engine::check_round_complete(std::uint64_t now_ms) {
  if (!round_) {
    return;
  }
  for (const SelectedDevice& entry : round_->selected) {
    if (entry.state == SelectedState::kWaiting) {
      return;
    }
  }
  close_round(now_ms);
}

void Engine::close_round(std::uint64_t now_ms) {
  const std::size_t count = round_->updates.size();
  if (count < config_.min_updates) {
    const std::string why = "round " + std::to_string(round_->id) + " closed with " + std::to_string(count) +
                            " updates, below the minimum of " + std::to_string(config_.min_updates);
    discard_round(why.c_str(), now_ms);
    maybe_start_round(now_ms);
    return;
  }
  std::string error;
  bool non_finite = false;
  if (!apply_round(&error, &non_finite) && non_finite) {
    // The updates are valid one by one, but their sum has left the float
    // range: the training diverges. The model stays as it was.
    ++counters_.rounds_non_finite;
    log_message(LogLevel::kError, "round %u: the aggregated model would contain NaN or Inf; discarding the round",
                round_->id);
    discard_round("the aggregated model would contain NaN or Inf (training diverges); the round is discarded", now_ms,
                  protocol::VerdictReason::kInternal);
    maybe_start_round(now_ms);
    return;
  }
  if (!error.empty()) {
    fail("applying round " + std::to_string(round_->id) + " failed: " + error);
    for (const AcceptedUpdate& update : round_->updates) {
      records_[update.device_id] = DeviceRecord{round_->id, update.update_id, protocol::UpdateState::kNotApplied};
      send_verdict(update.device_id, round_->id, update.update_id, protocol::VerdictReason::kInternal,
                   "the coordinator could not store the round");
    }
    round_.reset();
    return;
  }
  finish_round(now_ms);
}

bool Engine::apply_round(std::string* error, bool* non_finite) {
  ModelState next = state_;
  if (!aggregator_.apply(round_->updates, config_.aggregation.server_learning_rate, config_.aggregation.momentum,
                         &next, error)) {
    return false;
  }
  const auto finite = [](float value) { return std::isfinite(value); };
  if (!std::all_of(next.model.begin(), next.model.end(), finite) ||
      !std::all_of(next.velocity.begin(), next.velocity.end(), finite)) {
    *non_finite = true;
    return false;
  }
  next.last_round_id = round_->id;
  if (store_.is_open()) {
    RoundRecord record;
    record.round_id = round_->id;
    record.model_version = next.model_version;
    record.server_learning_rate = config_.aggregation.server_learning_rate;
    record.momentum = config_.aggregation.momentum;
    record.updates = std::move(round_->updates);
    const bool stored = store_.append_round(record, error);
    round_->updates = std::move(record.updates);
    // NOTE: when the write succeeded but fdatasync failed, the record may
    // still reach the disk, and a resumed run would apply a round whose
    // devices were told "not applied".
    if (!stored) {
      return false;
    }
  }
  state_ = std::move(next);
  return true;
}

// Sends the applied verdicts of a round that apply_round() made durable,
// then snapshots, evaluates and starts the next round as configured.
void Engine::finish_round(std::uint64_t now_ms) {
  const std::unique_ptr<Round> round = std::move(round_);
  ++counters_.rounds_applied;
  log_message(LogLevel::kInfo, "round %u closed: %zu updates applied, model version %llu, model crc32c %08x",
              round->id, round->updates.size(), static_cast<unsigned long long>(state_.model_version), model_crc());
  for (const AcceptedUpdate& update : round->updates) {
    records_[update.device_id] = DeviceRecord{round->id, update.update_id, protocol::UpdateState::kApplied};
    send_verdict(update.device_id, round->id, update.update_id, protocol::VerdictReason::kNone, "");
  }
  idle_since_ms_ = now_ms;
  if (store_.is_open() && state_.model_version % config_.snapshot_every == 0) {
    std::string error;
    if (!store_.write_snapshot(config_.offer.shape, state_, records_, &error)) {
      fail("writing the snapshot failed: " + error);
      return;
    }
  }
  evaluate_and_export();
  maybe_start_round(now_ms);
}

void Engine::discard_round(const char* why, std::uint64_t now_ms, protocol::VerdictReason reason) {
  const std::unique_ptr<Round> round = std::move(round_);
  ++counters_.rounds_discarded;
  log_message(LogLevel::kInfo, "round %u discarded: %s", round->id, why);
  for (const AcceptedUpdate& update : round->updates) {
    records_[update.device_id] = DeviceRecord{round->id, update.update_id, protocol::UpdateState::kNotApplied};
    send_verdict(update.device_id, round->id, update.update_id, reason, why);
  }
  idle_since_ms_ = now_ms;
}

void Engine::evaluate_and_export() {
  if (config_.eval_every == 0 || state_.model_version % config_.eval_every != 0) {
    return;
  }
  std::string error;
  if (config_.evaluator != nullptr) {
    EvalResult result;
    if (config_.evaluator->evaluate(Span<const float>(state_.model.data(), state_.model.size()), &result, &error)) {
      counters_.evaluated = true;
      counters_.eval_round = state_.last_round_id;
      counters_.eval_model_version = state_.model_version;
      counters_.eval_loss = result.loss;
      counters_.eval_accuracy = result.accuracy;
      log_message(LogLevel::kInfo, "evaluation after round %u (model version %llu): loss %.6f, accuracy %.4f on %u "
                                   "samples",
                  state_.last_round_id, static_cast<unsigned long long>(state_.model_version), result.loss,
                  result.accuracy, result.rows);
    } else {
      log_message(LogLevel::kError, "evaluation after round %u failed: %s", state_.last_round_id, error.c_str());
    }
  }
  if (!config_.export_path.empty()) {
    if (!export_model(config_.export_path, &error)) {
      log_message(LogLevel::kError, "model export to %s failed: %s", config_.export_path.c_str(), error.c_str());
    }
  }
}

bool Engine::reserve_round_id(std::uint32_t round_id, std::string* error) {
  if (!store_.is_open() || round_id < reserved_round_limit_) {
    return true;
  }
  const std::uint32_t limit = round_id + kRoundIdBlock;
  if (!store_.reserve_round_ids(limit, error)) {
    return false;
  }
  reserved_round_limit_ = limit;
  return true;
}

void Engine::fail(const std::string& message) {
  failed_ = true;
  failure_ = message;
  log_message(LogLevel::kError, "stopping: %s", message.c_str());
}

}  // namespace ecq::coordinator
