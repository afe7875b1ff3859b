// The device client against a scripted coordinator over an in-process pipe:
// real models, real compressor payloads and real frames.

#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "device_rig.h"
#include "ecq/port/posix.h"
#include "ecq/port/storage.h"
#include "ecq/runtime/crc32c.h"
#include "ecq/runtime/philox.h"
#include "ecq/runtime/trainer.h"
#include "temp_dir.h"

namespace ecq {
namespace {

using protocol::MessageType;
using protocol::VerdictReason;
using test::DeviceRig;
using test::kModelBodyBytes;
using test::small_config;
using test::small_model;
using test::small_offer;

// Gradient of the softmax model at `model` on `batch`, computed apart from
// the device.
std::vector<float> reference_gradient(const ModelShape& shape, const std::vector<float>& model, const Batch& batch) {
  std::vector<std::uint8_t> arena(Model::required_arena_bytes(shape, batch.rows));
  Model math;
  REQUIRE(math.init(shape, batch.rows, Span<std::uint8_t>(arena.data(), arena.size())) == Status::kOk);
  std::vector<float> gradient(model.size());
  REQUIRE(math.gradient(Span<const float>(model.data(), model.size()), batch,
                        Span<float>(gradient.data(), gradient.size())) == Status::kOk);
  return gradient;
}

// Largest quantization step of a bucketed l2 quantizer on `values`: a decoded
// element lies within one step of the compensated input.
float max_step(const std::vector<float>& values, std::uint32_t bucket, std::uint32_t levels) {
  float largest = 0.0f;
  for (std::size_t begin = 0; begin < values.size(); begin += bucket) {
    double sum = 0.0;
    for (std::size_t i = begin; i < values.size() && i < begin + bucket; ++i) {
      sum += static_cast<double>(values[i]) * values[i];
    }
    largest = std::max(largest, static_cast<float>(std::sqrt(sum) / levels));
  }
  return largest;
}

// Runs one round up to the device's upload and returns the update's payload.
std::vector<std::uint8_t> upload_round(DeviceRig& rig, const protocol::RoundOffer& offer,
                                       const std::vector<float>& model, protocol::UpdateChunk* first) {
  rig.coordinator->send_round(offer, model, kModelBodyBytes);
  std::vector<std::uint8_t> payload;
  REQUIRE(rig.run_until_update(&payload, first));
  return payload;
}

TEST_CASE("device_stream_id matches FNV-1a 64") {
  // Reference values of the FNV-1a 64-bit hash (offset basis
  // 0xcbf29ce484222325, prime 0x100000001b3), computed with a separate
  // Python implementation.
  CHECK(device_stream_id("", 0) == 0xcbf29ce484222325ull);
  CHECK(device_stream_id("a", 1) == 0xaf63dc4c8601ec8cull);
  CHECK(device_stream_id("foobar", 6) == 0x85944171f73967e8ull);
  CHECK(device_stream_id("device-7", 8) == 0x275fcf4507d5cf97ull);
}

TEST_CASE("device config validation") {
  DeviceConfig config = small_config();
  CHECK(DeviceClient::validate_config(config) == Status::kOk);
  CHECK(DeviceClient::required_arena_bytes(config) > 0);

  DeviceConfig bad_id = config;
  std::strcpy(bad_id.device_id, "bad id");
  CHECK(DeviceClient::validate_config(bad_id) == Status::kInvalidArgument);
  CHECK(DeviceClient::required_arena_bytes(bad_id) == 0);

  DeviceConfig small_body = config;
  small_body.max_body_size = 100;
  ErrorInfo error;
  CHECK(DeviceClient::validate_config(small_body, &error) == Status::kInvalidArgument);
  CHECK(error.limit == doctest::Approx(273));

  DeviceConfig bad_backoff = config;
  bad_backoff.backoff_max_ms = 10;
  CHECK(DeviceClient::validate_config(bad_backoff) == Status::kInvalidArgument);

  DeviceConfig bad_decay = config;
  bad_decay.round_decay = 1.5f;
  CHECK(DeviceClient::validate_config(bad_decay) == Status::kInvalidArgument);
}

TEST_CASE("device footprint accounts every buffer") {
  DeviceRig rig(small_config());
  const DeviceFootprint f = rig.client.footprint();
  CHECK(f.model >= 21 * sizeof(float));
  CHECK(f.working_model >= 21 * sizeof(float));
  CHECK(f.gradient >= DeviceClient::error_blob_bytes(21));
  CHECK(f.compressor >= 21 * sizeof(float));
  CHECK(f.payload >= raw_payload_bytes(21));
  CHECK(f.batch >= 8 * 6 * sizeof(float));
  CHECK(f.receive_frame >= 273 + protocol::kFrameOverheadBytes);
  CHECK(f.send_frame >= 40 + protocol::kFrameOverheadBytes);
  const std::size_t parts = f.model + f.working_model + f.gradient + f.model_scratch + f.compressor + f.payload +
                            f.batch + f.receive_frame + f.send_frame;
  CHECK(parts <= f.total);
  CHECK(f.total == DeviceClient::required_arena_bytes(rig.config));
}

TEST_CASE("device without local steps or fp32 is smaller") {
  DeviceConfig lean = small_config();
  lean.allow_local_steps = false;
  lean.methods = protocol::method_bit(Method::kEcq);
  const DeviceConfig full = small_config();
  DeviceRig rig(lean);
  const DeviceFootprint f = rig.client.footprint();
  CHECK(f.working_model == 0);
  // At 784 x 10 (7850 parameters) the working model (4 bytes per parameter)
  // goes, and the payload shrinks from raw floats to 2 bytes per parameter
  // (one bucket scale per 4 elements and 8-bit symbols at 127 levels).
  DeviceConfig wide_lean = lean;
  DeviceConfig wide_full = full;
  wide_lean.shape.inputs = wide_full.shape.inputs = 784;
  wide_lean.shape.classes = wide_full.shape.classes = 10;
  const std::size_t saved =
      DeviceClient::required_arena_bytes(wide_full) - DeviceClient::required_arena_bytes(wide_lean);
  CHECK(saved >= 6 * 7850);

  test::CyclicData replay(6, 40, 7);
  rig.connect();
  rig.coordinator->send_round(small_offer(5, 4), small_model(1), kModelBodyBytes);
  rig.run(2, 100);
  CHECK(rig.client.state() == DeviceState::kIdle);
  CHECK(rig.client.counters().offers_declined == 1);

  rig.run(1, 2000);
  protocol::RoundOffer offer = small_offer(6);
  protocol::UpdateChunk first;
  const std::vector<std::uint8_t> payload = upload_round(rig, offer, small_model(1), &first);
  PayloadView view;
  REQUIRE(validate_payload(Span<const std::uint8_t>(payload.data(), payload.size()), DecodeLimits{}, &view) ==
          Status::kOk);
  CHECK(view.dimension() == 21);
}

TEST_CASE("device sends hello then check-in") {
  DeviceRig rig(small_config());
  rig.connect();
  auto& frames = rig.coordinator->frames();
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].type == MessageType::kHello);
  CHECK(frames[1].type == MessageType::kCheckIn);
  protocol::Hello hello;
  REQUIRE(protocol::decode_hello(frames[0].body.data(), frames[0].body.size(), &hello) == Status::kOk);
  CHECK(std::string(hello.device_id) == "device-7");
  CHECK(hello.max_body_size == 273);
  CHECK(hello.model_kinds == protocol::model_kind_bit(ModelKind::kSoftmax));
  CHECK(rig.client.state() == DeviceState::kAwaitOffer);
}

TEST_CASE("device gradient round fp32 sends the exact gradient") {
  DeviceRig rig(small_config());
  test::CyclicData replay(6, 40, 7);
  rig.connect();
  protocol::RoundOffer offer = small_offer(3);
  offer.compressor.method = Method::kFp32;
  const std::vector<float> model = small_model(1);
  protocol::UpdateChunk first;
  const std::vector<std::uint8_t> payload = upload_round(rig, offer, model, &first);

  const std::vector<float> expected = reference_gradient(rig.config.shape, model, replay.next(5));
  CHECK(test::decode(payload) == expected);
  CHECK(first.round_id == 3);
  CHECK(first.samples_used == 5);
  CHECK(first.chunk_count > 1);
  CHECK(rig.client.counters().rounds_trained == 1);
  CHECK(rig.client.counters().updates_sent == 1);
  CHECK(rig.client.counters().update_bytes_sent > payload.size());
  CHECK(rig.client.counters().model_bytes_received > 21 * sizeof(float));
}

TEST_CASE("device gradient round ecq is within quantization") {
  DeviceRig rig(small_config());
  test::CyclicData replay(6, 40, 7);
  rig.connect();
  const protocol::RoundOffer offer = small_offer(4);
  const std::vector<float> model = small_model(2);
  protocol::UpdateChunk first;
  const std::vector<std::uint8_t> payload = upload_round(rig, offer, model, &first);

  const std::vector<float> gradient = reference_gradient(rig.config.shape, model, replay.next(5));
  const std::vector<float> decoded = test::decode(payload);
  REQUIRE(decoded.size() == gradient.size());
  const float step = max_step(gradient, 4, 4);
  for (std::size_t i = 0; i < gradient.size(); ++i) {
    CHECK(std::fabs(decoded[i] - gradient[i]) <= step * 1.0001f);
  }
  // With h = 0 before the round, the error buffer is g - q.
  const std::vector<float> h = rig.error_buffer();
  for (std::size_t i = 0; i < gradient.size(); ++i) {
    CHECK(h[i] == doctest::Approx(gradient[i] - decoded[i]).epsilon(1e-5));
  }
}

TEST_CASE("device local steps send w_start minus w_end") {
  DeviceRig rig(small_config());
  test::CyclicData replay(6, 40, 7);
  rig.connect();
  protocol::RoundOffer offer = small_offer(5, 4);
  offer.compressor.method = Method::kFp32;
  const std::vector<float> model = small_model(3);
  protocol::UpdateChunk first;
  const std::vector<std::uint8_t> payload = upload_round(rig, offer, model, &first);

  // The same four batches through LocalTrainer::train_local.
  LocalTrainer trainer;
  std::vector<std::uint8_t> arena(LocalTrainer::required_arena_bytes(rig.config.shape, 5));
  REQUIRE(trainer.init(rig.config.shape, 5, Span<std::uint8_t>(arena.data(), arena.size())) == Status::kOk);
  struct Context {
    test::CyclicData* data;
  } context{&replay};
  BatchSource source;
  source.context = &context;
  source.next = [](void* c, Batch* batch) {
    *batch = static_cast<Context*>(c)->data->next(5);
    return Status::kOk;
  };
  std::vector<float> delta(model.size());
  REQUIRE(trainer.train_local(Span<const float>(model.data(), model.size()), 4, 0.1f, source,
                              Span<float>(delta.data(), delta.size())) == Status::kOk);
  const std::vector<float> decoded = test::decode(payload);
  CHECK(decoded == delta);
  CHECK(first.samples_used == 20);

  // Sign: one step from w_start moves against the gradient, so the delta of a
  // single step is +lr * g.
  DeviceRig one(small_config());
  test::CyclicData replay_one(6, 40, 7);
  one.connect();
  protocol::RoundOffer single = small_offer(6, 1);
  single.compressor.method = Method::kFp32;
  const std::vector<std::uint8_t> step_payload = upload_round(one, single, model, &first);
  const std::vector<float> gradient = reference_gradient(one.config.shape, model, replay_one.next(5));
  const std::vector<float> step = test::decode(step_payload);
  for (std::size_t i = 0; i < gradient.size(); ++i) {
    CHECK(step[i] == doctest::Approx(0.1f * gradient[i]).epsilon(1e-4));
  }
}

TEST_CASE("device commits on applied and checks in") {
  DeviceRig rig(small_config());
  rig.connect();
  const protocol::RoundOffer offer = small_offer(8);
  protocol::UpdateChunk first;
  (void)upload_round(rig, offer, small_model(4), &first);
  const std::vector<float> h = rig.error_buffer();
  const std::size_t check_ins = rig.coordinator->count(MessageType::kCheckIn);

  rig.coordinator->verdict(8, first.update_id, true, VerdictReason::kNone);
  rig.run();
  CHECK(rig.client.counters().updates_applied == 1);
  CHECK(rig.client.counters().updates_not_applied == 0);
  CHECK_FALSE(rig.client.update_pending());
  CHECK(rig.error_buffer() == h);
  CHECK(rig.coordinator->count(MessageType::kCheckIn) == check_ins + 1);
  CHECK(rig.client.state() == DeviceState::kAwaitOffer);
}

TEST_CASE("device rolls back on not applied") {
  DeviceRig rig(small_config());
  test::CyclicData replay(6, 40, 7);
  rig.connect();
  protocol::UpdateChunk first;
  // Round 1 is applied, so h is non-zero before round 2.
  const std::vector<float> model1 = small_model(5);
  (void)upload_round(rig, small_offer(1), model1, &first);
  (void)replay.next(5);
  rig.coordinator->verdict(1, first.update_id, true, VerdictReason::kNone);
  rig.run();
  const std::vector<float> h1 = rig.error_buffer();
  const float beta = rig.client.compressor().compensation().beta;
  REQUIRE(beta > 0.0f);

  rig.coordinator->frames().clear();
  const std::vector<float> model2 = small_model(6);
  (void)upload_round(rig, small_offer(2), model2, &first);
  const std::vector<float> g2 = reference_gradient(rig.config.shape, model2, replay.next(5));
  rig.coordinator->verdict(2, first.update_id, false, VerdictReason::kRoundClosed);
  rig.run();
  const std::vector<float> h2 = rig.error_buffer();
  for (std::size_t i = 0; i < h2.size(); ++i) {
    CHECK(h2[i] == doctest::Approx(beta * h1[i] + g2[i]).epsilon(1e-4));
  }
  CHECK(rig.client.counters().updates_not_applied == 1);
  CHECK(rig.client.counters().not_applied_by_reason[2] == 1);
  CHECK(rig.client.state() == DeviceState::kAwaitOffer);
}

TEST_CASE("device late and invalid verdicts roll back") {
  for (VerdictReason reason : {VerdictReason::kLate, VerdictReason::kInvalidPayload, VerdictReason::kDuplicate}) {
    DeviceRig rig(small_config());
    test::CyclicData replay(6, 40, 7);
    rig.connect();
    protocol::UpdateChunk first;
    const std::vector<float> model = small_model(7);
    (void)upload_round(rig, small_offer(4), model, &first);
    const std::vector<float> g = reference_gradient(rig.config.shape, model, replay.next(5));
    rig.coordinator->verdict(4, first.update_id, false, reason);
    rig.run();
    CAPTURE(static_cast<int>(reason));
    CHECK(rig.client.counters().not_applied_by_reason[static_cast<int>(reason)] == 1);
    // From h = 0 a rollback leaves the whole gradient as error.
    const std::vector<float> h = rig.error_buffer();
    for (std::size_t i = 0; i < h.size(); ++i) {
      CHECK(h[i] == doctest::Approx(g[i]).epsilon(1e-5));
    }
  }
}

TEST_CASE("device ignores a verdict for another update") {
  DeviceRig rig(small_config());
  rig.connect();
  protocol::UpdateChunk first;
  (void)upload_round(rig, small_offer(4), small_model(1), &first);
  rig.coordinator->verdict(4, first.update_id + 1, true, VerdictReason::kNone);
  rig.run();
  CHECK(rig.client.update_pending());
  CHECK(rig.client.counters().updates_applied == 0);
  CHECK(rig.client.state() == DeviceState::kAwaitVerdict);
  CHECK(rig.client.connected());
}

// Uploads an update, then loses the connection before the verdict and
// reconnects once the backoff allows.
std::uint64_t lose_verdict(DeviceRig& rig, std::uint32_t round) {
  rig.connect();
  protocol::UpdateChunk first;
  (void)upload_round(rig, small_offer(round), small_model(round), &first);
  rig.pipe->b().close();
  rig.run();
  REQUIRE_FALSE(rig.client.connected());
  REQUIRE(rig.client.update_pending());
  rig.now = rig.client.next_attempt_ms();
  rig.connect();
  return first.update_id;
}

TEST_CASE("device asks for status after reconnect") {
  DeviceRig rig(small_config());
  const std::uint64_t update = lose_verdict(rig, 9);
  auto& frames = rig.coordinator->frames();
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].type == MessageType::kHello);
  REQUIRE(frames[1].type == MessageType::kStatusQuery);
  protocol::StatusQuery query;
  REQUIRE(protocol::decode_status_query(frames[1].body.data(), frames[1].body.size(), &query) == Status::kOk);
  CHECK(query.round_id == 9);
  CHECK(query.update_id == update);
  CHECK(rig.client.state() == DeviceState::kAwaitStatus);
  CHECK(rig.client.counters().status_queries == 1);
}

TEST_CASE("device status applied commits once") {
  DeviceRig rig(small_config());
  const std::uint64_t update = lose_verdict(rig, 9);
  const std::vector<float> h = rig.error_buffer();
  rig.coordinator->send(MessageType::kStatusAnswer, protocol::StatusAnswer{9, update, protocol::UpdateState::kApplied},
                        protocol::encode_status_answer);
  rig.run();
  CHECK(rig.client.counters().updates_applied == 1);
  CHECK(rig.coordinator->count(MessageType::kCheckIn) == 1);
  // A verdict that arrives after the answer is a repeat: neither counted nor
  // rolled back.
  rig.coordinator->verdict(9, update, false, VerdictReason::kLate);
  rig.coordinator->verdict(9, update, true, VerdictReason::kNone);
  rig.run();
  CHECK(rig.client.counters().updates_applied == 1);
  CHECK(rig.client.counters().updates_not_applied == 0);
  CHECK(rig.error_buffer() == h);
  CHECK(rig.client.connected());
}

TEST_CASE("device status not applied rolls back once") {
  DeviceRig rig(small_config());
  test::CyclicData replay(6, 40, 7);
  const std::uint64_t update = lose_verdict(rig, 9);
  const std::vector<float> g = reference_gradient(rig.config.shape, small_model(9), replay.next(5));
  rig.coordinator->send(MessageType::kStatusAnswer,
                        protocol::StatusAnswer{9, update, protocol::UpdateState::kNotApplied},
                        protocol::encode_status_answer);
  rig.run();
  CHECK(rig.client.counters().updates_not_applied == 1);
  CHECK(rig.client.counters().not_applied_by_reason[0] == 1);
  const std::vector<float> h = rig.error_buffer();
  for (std::size_t i = 0; i < h.size(); ++i) {
    CHECK(h[i] == doctest::Approx(g[i]).epsilon(1e-5));
  }
  rig.coordinator->verdict(9, update, false, VerdictReason::kRoundClosed);
  rig.run();
  CHECK(rig.client.counters().updates_not_applied == 1);
  CHECK(rig.coordinator->count(MessageType::kCheckIn) == 1);
}

TEST_CASE("device status pending waits for the verdict") {
  DeviceRig rig(small_config());
  const std::uint64_t update = lose_verdict(rig, 9);
  rig.coordinator->send(MessageType::kStatusAnswer, protocol::StatusAnswer{9, update, protocol::UpdateState::kPending},
                        protocol::encode_status_answer);
  rig.run(3, 10);
  CHECK(rig.client.state() == DeviceState::kAwaitVerdict);
  CHECK(rig.coordinator->count(MessageType::kCheckIn) == 0);
  CHECK(rig.client.update_pending());
  rig.coordinator->verdict(9, update, true, VerdictReason::kNone);
  rig.run();
  CHECK(rig.client.counters().updates_applied == 1);
  CHECK(rig.coordinator->count(MessageType::kCheckIn) == 1);
}

TEST_CASE("device lost verdict never doubles across reconnects") {
  DeviceRig rig(small_config());
  const std::uint64_t update = lose_verdict(rig, 9);
  // The connection drops again before the answer: the next one asks again.
  rig.pipe->b().close();
  rig.run();
  REQUIRE_FALSE(rig.client.connected());
  rig.now = rig.client.next_attempt_ms();
  rig.connect();
  CHECK(rig.coordinator->count(MessageType::kStatusQuery) == 1);
  rig.coordinator->send(MessageType::kStatusAnswer, protocol::StatusAnswer{9, update, protocol::UpdateState::kApplied},
                        protocol::encode_status_answer);
  rig.coordinator->send(MessageType::kStatusAnswer, protocol::StatusAnswer{9, update, protocol::UpdateState::kApplied},
                        protocol::encode_status_answer);
  rig.run();
  CHECK(rig.client.counters().updates_applied == 1);
  CHECK(rig.client.counters().status_queries == 2);
  CHECK(rig.client.counters().rounds_trained == 1);
}

TEST_CASE("device declines offers it cannot take") {
  struct Case {
    const char* name;
    void (*change)(protocol::RoundOffer*);
  };
  const Case cases[] = {
      {"other shape", [](protocol::RoundOffer* o) { o->shape.inputs = 7; }},
      {"batch above max", [](protocol::RoundOffer* o) { o->batch_size = 9; }},
      {"bucket below minimum", [](protocol::RoundOffer* o) { o->compressor.quantizer.bucket_size = 2; }},
      {"unstable compensation",
       [](protocol::RoundOffer* o) {
         o->compressor.use_default_compensation = false;
         o->compressor.alpha = 3.0f;
         o->compressor.beta = 3.0f;
       }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    DeviceRig rig(small_config());
    rig.connect();
    protocol::RoundOffer offer = small_offer(12);
    c.change(&offer);
    // The model keeps the device's size, so only the offer differs.
    std::vector<float> model = small_model(1);
    if (offer.shape.inputs == 7) {
      model.resize(24);
      offer.model_chunk_count = protocol::model_chunk_count(24, kModelBodyBytes);
    }
    rig.coordinator->send_round(offer, model, kModelBodyBytes);
    rig.run(2, 100);
    CHECK(rig.client.state() == DeviceState::kIdle);
    CHECK(rig.client.connected());
    CHECK(rig.client.counters().offers_declined == 1);
    CHECK(rig.client.counters().rounds_trained == 0);
    CHECK(rig.coordinator->count(MessageType::kCheckIn) == 1);
    // Back in the pool once the offer's deadline (2000 ms) has passed.
    rig.run(1, 1900);
    CHECK(rig.coordinator->count(MessageType::kCheckIn) == 2);
    CHECK(rig.client.state() == DeviceState::kAwaitOffer);
  }
}

TEST_CASE("device closes on a model chunk of another round") {
  DeviceRig rig(small_config());
  rig.connect();
  rig.coordinator->send(MessageType::kRoundOffer, small_offer(3), protocol::encode_round_offer);
  const std::vector<float> model = small_model(1);
  protocol::ModelChunk chunk;
  REQUIRE(protocol::make_model_chunk(4, Span<const float>(model.data(), model.size()), kModelBodyBytes, 0, &chunk) ==
          Status::kOk);
  rig.coordinator->send(MessageType::kModelChunk, chunk, protocol::encode_model_chunk);
  rig.run();
  CHECK_FALSE(rig.client.connected());
  CHECK(rig.coordinator->closed());
  CHECK(rig.client.counters().protocol_errors == 1);
  REQUIRE(rig.coordinator->frames().back().type == MessageType::kGoodbye);
  protocol::Goodbye goodbye;
  const auto& body = rig.coordinator->frames().back().body;
  REQUIRE(protocol::decode_goodbye(body.data(), body.size(), &goodbye) == Status::kOk);
  CHECK(goodbye.reason == protocol::GoodbyeReason::kProtocolError);
}

TEST_CASE("device closes on an out-of-order model chunk") {
  DeviceRig rig(small_config());
  rig.connect();
  rig.coordinator->send(MessageType::kRoundOffer, small_offer(3), protocol::encode_round_offer);
  const std::vector<float> model = small_model(1);
  protocol::ModelChunk chunk;
  REQUIRE(protocol::make_model_chunk(3, Span<const float>(model.data(), model.size()), kModelBodyBytes, 1, &chunk) ==
          Status::kOk);
  rig.coordinator->send(MessageType::kModelChunk, chunk, protocol::encode_model_chunk);
  rig.run();
  CHECK_FALSE(rig.client.connected());
  CHECK(rig.client.counters().protocol_errors == 1);
  CHECK(rig.coordinator->frames().back().type == MessageType::kGoodbye);
}

TEST_CASE("device closes on a malformed frame") {
  test::captured_log().clear();
  set_log_sink(test::capture_log);
  DeviceRig rig(small_config());
  rig.connect();
  std::vector<std::uint8_t> frame(protocol::kFrameOverheadBytes + 8);
  std::size_t size = 0;
  const std::uint8_t body[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  REQUIRE(protocol::encode_frame(9, body, sizeof body, frame.data(), frame.size(), &size) == Status::kOk);
  frame[size - 1] ^= 0xFF;  // break the CRC-32C
  rig.coordinator->send_raw(frame);
  rig.run();
  set_log_sink(nullptr);
  CHECK_FALSE(rig.client.connected());
  CHECK(rig.coordinator->closed());
  CHECK(rig.client.counters().protocol_errors == 1);
  CHECK(rig.coordinator->frames().back().type == MessageType::kGoodbye);
  CHECK(test::log_contains("device-7"));
  CHECK(test::log_contains("CRC"));
}

TEST_CASE("device closes on a message the coordinator never sends") {
  DeviceRig rig(small_config());
  rig.connect();
  rig.coordinator->send(MessageType::kCheckIn, protocol::CheckIn{0}, protocol::encode_check_in);
  rig.run();
  CHECK_FALSE(rig.client.connected());
  CHECK(rig.client.counters().protocol_errors == 1);
}

TEST_CASE("device logs a goodbye and reconnects later") {
  test::captured_log().clear();
  set_log_sink(test::capture_log);
  DeviceRig rig(small_config());
  rig.connect();
  protocol::Goodbye goodbye;
  goodbye.reason = protocol::GoodbyeReason::kIncompatible;
  goodbye.text = "no common method";
  goodbye.text_size = 16;
  rig.coordinator->send(MessageType::kGoodbye, goodbye, protocol::encode_goodbye);
  rig.run();
  set_log_sink(nullptr);
  CHECK_FALSE(rig.client.connected());
  CHECK(rig.client.counters().goodbyes_received == 1);
  CHECK(test::log_contains("no common method"));
  CHECK(test::log_contains("incompatible"));
  CHECK(rig.client.next_attempt_ms() > rig.now);
  CHECK_FALSE(rig.client.wants_connection(rig.now));
  CHECK(rig.client.wants_connection(rig.client.next_attempt_ms()));
}

TEST_CASE("device sends heartbeats during long local training") {
  DeviceConfig config = small_config();
  config.heartbeat_interval_ms = 100;
  config.idle_timeout_ms = 100000;
  DeviceRig rig(config);
  rig.connect();
  protocol::RoundOffer offer = small_offer(2, 40);
  offer.deadline_ms = 100000;
  rig.coordinator->send_round(offer, small_model(1), kModelBodyBytes);
  rig.run();
  // Each poll runs one step and 60 ms pass: about one heartbeat per two steps.
  while (rig.client.state() == DeviceState::kTrain) {
    rig.run(1, 60);
  }
  std::size_t heartbeats_before_update = 0;
  for (const test::Frame& frame : rig.coordinator->frames()) {
    if (frame.type == MessageType::kUpdateChunk) {
      break;
    }
    heartbeats_before_update += frame.type == MessageType::kHeartbeat ? 1 : 0;
  }
  CHECK(heartbeats_before_update >= 15);
  CHECK(rig.client.counters().heartbeats_sent == heartbeats_before_update);
  CHECK(rig.client.connected());
}

TEST_CASE("device closes after the idle timeout") {
  DeviceRig rig(small_config());
  rig.connect();
  rig.run(1, 4000);
  CHECK(rig.client.connected());
  CHECK(rig.coordinator->count(MessageType::kHeartbeat) == 1);
  rig.run(1, 1000);
  CHECK_FALSE(rig.client.connected());
  CHECK(rig.client.counters().idle_timeouts == 1);
  protocol::Goodbye goodbye;
  const auto& body = rig.coordinator->frames().back().body;
  REQUIRE(protocol::decode_goodbye(body.data(), body.size(), &goodbye) == Status::kOk);
  CHECK(goodbye.reason == protocol::GoodbyeReason::kTimeout);
}

TEST_CASE("device backoff grows within bounds with jitter") {
  auto delays = [](std::uint64_t seed) {
    DeviceConfig config = small_config();
    config.jitter_seed = seed;
    DeviceRig rig(config);
    std::vector<std::uint64_t> out;
    for (int attempt = 0; attempt < 12; ++attempt) {
      rig.client.on_connect_failed(rig.now);
      out.push_back(rig.client.next_attempt_ms() - rig.now);
      rig.now = rig.client.next_attempt_ms();
    }
    return out;
  };
  const std::vector<std::uint64_t> first = delays(1);
  for (std::size_t k = 0; k < first.size(); ++k) {
    const std::uint64_t base = std::min<std::uint64_t>(5000, std::uint64_t{100} << k);
    CAPTURE(k);
    CHECK(first[k] >= std::max<std::uint64_t>(100, base / 2));
    CHECK(first[k] <= base);
  }
  CHECK(first.back() >= 2500);
  CHECK(delays(1) == first);
  CHECK(delays(2) != first);
}

TEST_CASE("device update ids stay unique across restarts") {
  test::TempDir directory("ecq-device-test");
  port::set_storage_directory(directory.path("storage").c_str());
  DeviceConfig config = small_config();
  std::strcpy(config.storage_prefix, "ids-");
  std::set<std::uint64_t> ids;
  for (int restart = 0; restart < 3; ++restart) {
    DeviceRig rig(config);
    rig.connect();
    for (std::uint32_t round = 1; round <= 2; ++round) {
      protocol::UpdateChunk first;
      rig.coordinator->frames().clear();
      (void)upload_round(rig, small_offer(round), small_model(round), &first);
      CHECK(ids.insert(first.update_id).second);
      rig.coordinator->verdict(round, first.update_id, true, VerdictReason::kNone);
      rig.run();
    }
  }
  port::set_storage_directory(nullptr);
  CHECK(ids.size() == 6);
}

TEST_CASE("device saves and restores the error buffer") {
  test::TempDir directory("ecq-device-test");
  port::set_storage_directory(directory.path("storage").c_str());
  DeviceConfig config = small_config();
  std::strcpy(config.storage_prefix, "persist-");
  config.save_every = 2;
  std::vector<float> saved;
  {
    DeviceRig rig(config);
    rig.connect();
    protocol::UpdateChunk first;
    (void)upload_round(rig, small_offer(1), small_model(1), &first);
    rig.coordinator->verdict(1, first.update_id, true, VerdictReason::kNone);
    rig.run();
    CHECK(rig.client.counters().error_buffer_saves == 0);  // one commit of two
    rig.coordinator->frames().clear();
    (void)upload_round(rig, small_offer(2), small_model(2), &first);
    rig.coordinator->verdict(2, first.update_id, true, VerdictReason::kNone);
    rig.run();
    CHECK(rig.client.counters().error_buffer_saves == 1);
    saved = rig.error_buffer();
  }
  bool nonzero = false;
  for (float value : saved) {
    nonzero = nonzero || value != 0.0f;
  }
  REQUIRE(nonzero);

  SUBCASE("matching settings restore it") {
    DeviceRig rig(config);
    rig.connect();
    rig.coordinator->send(MessageType::kRoundOffer, small_offer(3), protocol::encode_round_offer);
    rig.run();  // the offer configures the compressor and loads the blob
    REQUIRE(rig.client.state() == DeviceState::kDownload);
    CHECK(rig.error_buffer() == saved);
  }
  SUBCASE("other compressor settings discard it") {
    test::captured_log().clear();
    set_log_sink(test::capture_log);
    DeviceRig rig(config);
    rig.connect();
    protocol::RoundOffer offer = small_offer(3);
    offer.compressor.quantizer.levels = 8;
    rig.coordinator->send(MessageType::kRoundOffer, offer, protocol::encode_round_offer);
    rig.run();
    set_log_sink(nullptr);
    REQUIRE(rig.client.state() == DeviceState::kDownload);
    for (float value : rig.error_buffer()) {
      CHECK(value == 0.0f);
    }
    CHECK(test::log_contains("discarded the saved error buffer"));
  }
  SUBCASE("another model shape discards it at start") {
    test::captured_log().clear();
    set_log_sink(test::capture_log);
    DeviceConfig other = config;
    other.shape.classes = 4;
    DeviceRig rig(other);
    set_log_sink(nullptr);
    CHECK(test::log_contains("another model shape"));
  }
  SUBCASE("a corrupt blob is discarded") {
    std::vector<std::uint8_t> blob(DeviceClient::error_blob_bytes(21));
    std::size_t size = 0;
    REQUIRE(port::storage_read("persist-error-buffer", blob.data(), blob.size(), &size) == port::PortStatus::kOk);
    blob[50] ^= 0x01;
    REQUIRE(port::storage_write("persist-error-buffer", blob.data(), size) == port::PortStatus::kOk);
    test::captured_log().clear();
    set_log_sink(test::capture_log);
    DeviceRig rig(config);
    set_log_sink(nullptr);
    CHECK(test::log_contains("CRC-32C"));
  }
  port::set_storage_directory(nullptr);
}

// Runs two committed rounds with save_every = 2, so the device saves its
// error buffer once, and returns the buffer it saved.
std::vector<float> save_two_rounds(const DeviceConfig& config) {
  DeviceRig rig(config);
  rig.connect();
  protocol::UpdateChunk first;
  for (std::uint32_t round = 1; round <= 2; ++round) {
    rig.coordinator->frames().clear();
    (void)upload_round(rig, small_offer(round), small_model(round), &first);
    rig.coordinator->verdict(round, first.update_id, true, VerdictReason::kNone);
    rig.run();
  }
  CHECK(rig.client.counters().error_buffer_saves == 1);
  return rig.error_buffer();
}

// Starts a device with `config` on the saved blob and returns its error
// buffer after the first offer loaded (or discarded) the blob.
std::vector<float> restore_on_offer(const DeviceConfig& config) {
  DeviceRig rig(config);
  rig.connect();
  rig.coordinator->send(MessageType::kRoundOffer, small_offer(3), protocol::encode_round_offer);
  rig.run();
  CHECK(rig.client.state() == DeviceState::kDownload);
  return rig.error_buffer();
}

bool all_zero(const std::vector<float>& values) {
  for (float value : values) {
    if (value != 0.0f) return false;
  }
  return !values.empty();
}

TEST_CASE("device fp16 error buffer persists") {
  test::TempDir directory("ecq-device-test");
  port::set_storage_directory(directory.path("storage").c_str());
  DeviceConfig full = small_config();
  std::strcpy(full.storage_prefix, "persist-");
  full.save_every = 2;
  DeviceConfig half = full;
  half.error_buffer = ErrorBufferType::kFp16;

  SUBCASE("fp16 blob restores exactly") {
    const std::vector<float> saved = save_two_rounds(half);
    REQUIRE_FALSE(all_zero(saved));
    std::size_t size = 0;
    std::vector<std::uint8_t> blob(DeviceClient::error_blob_bytes(21));
    REQUIRE(port::storage_read("persist-error-buffer", blob.data(), blob.size(), &size) == port::PortStatus::kOk);
    CHECK(size == DeviceClient::error_blob_bytes(21, ErrorBufferType::kFp16));
    CHECK(size == 48 + 2 * 21 + 4);
    CHECK(blob[4] == 2);   // format version
    CHECK(blob[44] == 1);  // element type fp16
    CHECK(restore_on_offer(half) == saved);
  }
  SUBCASE("other element type is discarded") {
    struct Case {
      const DeviceConfig* saving;
      const DeviceConfig* restoring;
      const char* reason;
    };
    const Case cases[] = {
        {&half, &full, "it stores elements other than fp32 (fp16, or an unknown type) but this device keeps an fp32"},
        {&full, &half, "it stores fp32 elements but this device keeps an fp16 error buffer"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.reason);
      (void)save_two_rounds(*c.saving);
      test::captured_log().clear();
      set_log_sink(test::capture_log);
      const std::vector<float> restored = restore_on_offer(*c.restoring);
      set_log_sink(nullptr);
      CHECK(all_zero(restored));
      CHECK(test::log_contains("discarded the saved error buffer"));
      CHECK(test::log_contains(c.reason));
    }
  }
  SUBCASE("version 1 blob restores as fp32") {
    const std::vector<float> saved = save_two_rounds(full);
    std::size_t size = 0;
    std::vector<std::uint8_t> blob(DeviceClient::error_blob_bytes(21));
    REQUIRE(port::storage_read("persist-error-buffer", blob.data(), blob.size(), &size) == port::PortStatus::kOk);
    REQUIRE(size == 48 + 4 * 21 + 4);
    // Version 1: no element type, the floats start at offset 44.
    std::vector<std::uint8_t> old(blob.begin(), blob.begin() + 44);
    old.insert(old.end(), blob.begin() + 48, blob.begin() + static_cast<std::ptrdiff_t>(size) - 4);
    old[4] = 1;
    const std::uint32_t crc = crc32c(old.data(), old.size());
    for (int shift = 0; shift < 32; shift += 8) {
      old.push_back(static_cast<std::uint8_t>(crc >> shift));
    }
    REQUIRE(port::storage_write("persist-error-buffer", old.data(), old.size()) == port::PortStatus::kOk);
    CHECK(restore_on_offer(full) == saved);
    test::captured_log().clear();
    set_log_sink(test::capture_log);
    CHECK(all_zero(restore_on_offer(half)));
    set_log_sink(nullptr);
    CHECK(test::log_contains("format version 1"));
  }
  port::set_storage_directory(nullptr);
}

TEST_CASE("device fp16 footprint is smaller") {
  DeviceConfig half_config = small_config();
  half_config.error_buffer = ErrorBufferType::kFp16;
  DeviceRig full(small_config());
  DeviceRig half(half_config);
  // 21 parameters: 84 bytes of fp32 error buffer against 42 of fp16, each
  // rounded up to the 64-byte alignment of the arena.
  CHECK(half.client.footprint().compressor < full.client.footprint().compressor);
  CHECK(half.client.footprint().total < full.client.footprint().total);
  CHECK(half.client.footprint().payload == full.client.footprint().payload);

  DeviceConfig bad = small_config();
  bad.error_buffer = static_cast<ErrorBufferType>(5);
  CHECK(DeviceClient::validate_config(bad) == Status::kInvalidArgument);
}

TEST_CASE("device encoder change keeps h") {
  DeviceRig rig(small_config());
  test::CyclicData replay(6, 40, 7);
  rig.connect();
  protocol::UpdateChunk first;
  (void)upload_round(rig, small_offer(4), small_model(2), &first);
  (void)replay.next(5);
  rig.coordinator->verdict(4, first.update_id, true, VerdictReason::kNone);
  rig.run();
  const std::vector<float> h1 = rig.error_buffer();
  REQUIRE_FALSE(all_zero(h1));
  const float beta = rig.client.compressor().compensation().beta;

  // The same settings with fixed-width encoding: h carries over, so after
  // the round h = beta * h1 + g - q rather than g - q.
  protocol::RoundOffer offer = small_offer(5);
  offer.compressor.encoder = EncoderChoice::kFixedWidth;
  rig.coordinator->frames().clear();
  const std::vector<std::uint8_t> payload = upload_round(rig, offer, small_model(3), &first);
  const std::vector<float> gradient = reference_gradient(rig.config.shape, small_model(3), replay.next(5));
  const std::vector<float> decoded = test::decode(payload);
  REQUIRE(decoded.size() == gradient.size());
  CHECK(rig.client.counters().error_buffer_resets == 0);
  CHECK(rig.client.compressor().config().encoder == EncoderChoice::kFixedWidth);
  const std::vector<float> h = rig.error_buffer();
  REQUIRE(h.size() == h1.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    CHECK(h[i] == doctest::Approx(beta * h1[i] + gradient[i] - decoded[i]).epsilon(1e-4).scale(1e-4));
  }
}

TEST_CASE("device fp16 round decay and rollback") {
  DeviceConfig config = small_config();
  config.error_buffer = ErrorBufferType::kFp16;
  config.round_decay = 0.5f;
  DeviceRig rig(config);
  test::CyclicData replay(6, 40, 7);
  rig.connect();
  protocol::UpdateChunk first;
  (void)upload_round(rig, small_offer(10), small_model(1), &first);
  (void)replay.next(5);
  rig.coordinator->verdict(10, first.update_id, true, VerdictReason::kNone);
  rig.run();
  const std::vector<float> h1 = rig.error_buffer();
  REQUIRE_FALSE(all_zero(h1));
  const float beta = rig.client.compressor().compensation().beta;

  // Round 13 after round 10 scales h by 0.25 first. The rollback then leaves
  // beta * 0.25 * h1 + g, with each step rounded to binary16 (relative error
  // 2^-11 per rounding).
  rig.coordinator->frames().clear();
  (void)upload_round(rig, small_offer(13), small_model(2), &first);
  const std::vector<float> g = reference_gradient(config.shape, small_model(2), replay.next(5));
  rig.coordinator->verdict(13, first.update_id, false, VerdictReason::kRoundClosed);
  rig.run();
  CHECK(rig.client.counters().updates_not_applied == 1);
  const std::vector<float> h = rig.error_buffer();
  REQUIRE(h.size() == h1.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    const float expected = beta * 0.25f * h1[i] + g[i];
    CHECK(h[i] == doctest::Approx(expected).epsilon(2e-3).scale(1e-3));
  }
}

TEST_CASE("device round decay scales the error buffer") {
  DeviceConfig config = small_config();
  config.round_decay = 0.5f;
  DeviceRig rig(config);
  test::CyclicData replay(6, 40, 7);
  rig.connect();
  protocol::UpdateChunk first;
  (void)upload_round(rig, small_offer(10), small_model(1), &first);
  (void)replay.next(5);
  rig.coordinator->verdict(10, first.update_id, true, VerdictReason::kNone);
  rig.run();
  const std::vector<float> h1 = rig.error_buffer();
  const float beta = rig.client.compressor().compensation().beta;

  // Round 13 after round 10: two rounds missed, so h is scaled by 0.25 first.
  rig.coordinator->frames().clear();
  (void)upload_round(rig, small_offer(13), small_model(2), &first);
  const std::vector<float> g = reference_gradient(config.shape, small_model(2), replay.next(5));
  rig.coordinator->verdict(13, first.update_id, false, VerdictReason::kRoundClosed);
  rig.run();
  const std::vector<float> h = rig.error_buffer();
  for (std::size_t i = 0; i < h.size(); ++i) {
    CHECK(h[i] == doctest::Approx(beta * 0.25f * h1[i] + g[i]).epsilon(1e-4));
  }

  // The next round follows at once (round 14 after 13): no extra decay.
  DeviceRig plain(small_config());
  DeviceRig decayed(config);
  for (DeviceRig* r : {&plain, &decayed}) {
    r->connect();
    (void)upload_round(*r, small_offer(1), small_model(1), &first);
    r->coordinator->verdict(1, first.update_id, true, VerdictReason::kNone);
    r->run();
    r->coordinator->frames().clear();
    (void)upload_round(*r, small_offer(2), small_model(2), &first);
  }
  CHECK(plain.error_buffer() == decayed.error_buffer());
}

TEST_CASE("device abandons a round when the data source fails") {
  DeviceRig rig(small_config());
  rig.connect();
  rig.data.fail = true;
  rig.coordinator->send_round(small_offer(5), small_model(1), kModelBodyBytes);
  rig.run(2);
  CHECK(rig.client.state() == DeviceState::kIdle);
  CHECK(rig.client.counters().rounds_abandoned == 1);
  CHECK_FALSE(rig.client.update_pending());
}

TEST_CASE("device shut down sends goodbye") {
  DeviceRig rig(small_config());
  rig.connect();
  rig.client.shut_down(rig.now);
  rig.coordinator->pump();
  CHECK_FALSE(rig.client.connected());
  CHECK_FALSE(rig.client.wants_connection(rig.now + 1000000));
  protocol::Goodbye goodbye;
  const auto& body = rig.coordinator->frames().back().body;
  REQUIRE(protocol::decode_goodbye(body.data(), body.size(), &goodbye) == Status::kOk);
  CHECK(goodbye.reason == protocol::GoodbyeReason::kShutdown);
}

}  // namespace
}  // namespace ecq
