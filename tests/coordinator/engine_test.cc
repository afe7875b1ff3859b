// The round engine driven by scripted devices over in-process pipes.

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "ecq/coordinator/engine.h"
#include "ecq/runtime/log.h"
#include "log_capture.h"
#include "scripted_device.h"

namespace ecq::coordinator {
namespace {

using protocol::MessageType;
using protocol::UpdateState;
using protocol::VerdictReason;
using test::fp32_payload;
using test::ScriptedDevice;
using test::small_config;

// Linear model with 5 inputs and a bias: 6 parameters.
constexpr std::uint32_t kInputs = 5;
constexpr std::uint32_t kDimension = kInputs + 1;

std::vector<float> pattern(float base) {
  std::vector<float> values(kDimension);
  for (std::uint32_t i = 0; i < kDimension; ++i) {
    values[i] = base * static_cast<float>(i + 1) - 0.25f * static_cast<float>(i);
  }
  return values;
}

struct Fixture {
  explicit Fixture(const EngineConfig& config) {
    std::string error;
    REQUIRE_MESSAGE(engine.init(config, 0, &error), error);
  }
  Engine engine;
};

// Connects and checks in `count` devices named d0, d1, ...
std::vector<std::unique_ptr<ScriptedDevice>> join(Engine& engine, int count, std::uint64_t now_ms,
                                                  const std::string& prefix = "d") {
  std::vector<std::unique_ptr<ScriptedDevice>> devices;
  for (int i = 0; i < count; ++i) {
    devices.push_back(std::make_unique<ScriptedDevice>(engine, prefix + std::to_string(i)));
    devices.back()->connect(now_ms);
    devices.back()->check_in(now_ms);
  }
  return devices;
}

// The aggregation rule written out on its own: weights min(samples, cap),
// clipping to the bound, weighted mean, momentum step.
struct Reference {
  std::vector<double> model = std::vector<double>(kDimension, 0.0);
  std::vector<double> velocity = std::vector<double>(kDimension, 0.0);

  void round(const std::vector<std::vector<float>>& updates, const std::vector<std::uint32_t>& samples,
             std::uint32_t cap, double bound, double lr, double momentum) {
    std::vector<double> sum(kDimension, 0.0);
    double total = 0.0;
    for (std::size_t k = 0; k < updates.size(); ++k) {
      double norm = 0.0;
      for (const float v : updates[k]) {
        norm += double(v) * double(v);
      }
      norm = std::sqrt(norm);
      const double scale = bound > 0.0 && norm > bound ? bound / norm : 1.0;
      const double weight = cap != 0 && samples[k] > cap ? cap : samples[k];
      for (std::uint32_t i = 0; i < kDimension; ++i) {
        sum[i] += weight * scale * updates[k][i];
      }
      total += weight;
    }
    for (std::uint32_t i = 0; i < kDimension; ++i) {
      velocity[i] = momentum * velocity[i] + sum[i] / total;
      model[i] -= lr * velocity[i];
    }
  }

  void check(const std::vector<float>& actual) const {
    REQUIRE(actual.size() == kDimension);
    for (std::uint32_t i = 0; i < kDimension; ++i) {
      INFO("parameter " << i);
      CHECK(actual[i] == doctest::Approx(model[i]).epsilon(1e-5));
    }
  }
};

TEST_CASE("full round applies every update") {
  Fixture fixture(small_config(kInputs, 3));
  auto devices = join(fixture.engine, 3, 10);
  CHECK(fixture.engine.counters().rounds_started == 1);
  std::vector<float> offered;
  const protocol::RoundOffer offer = devices[0]->take_offer(10, &offered);
  CHECK(offer.round_id == 1);
  CHECK(offer.model_version == 0);
  CHECK(offer.shape.inputs == kInputs);
  CHECK(offer.deadline_ms == 1000);
  CHECK(offered == std::vector<float>(kDimension, 0.0f));
  for (int i = 1; i < 3; ++i) {
    CHECK(devices[i]->take_offer(10).round_id == 1);
  }
  std::vector<std::vector<float>> updates;
  for (int i = 0; i < 3; ++i) {
    updates.push_back(pattern(0.5f * float(i + 1)));
    devices[i]->upload(20, 1, 100 + i, 10, fp32_payload(updates.back()));
  }
  for (int i = 0; i < 3; ++i) {
    const protocol::Verdict verdict = devices[i]->take_verdict(20);
    CHECK(verdict.applied);
    CHECK(verdict.round_id == 1);
    CHECK(verdict.update_id == 100u + i);
  }
  Reference reference;
  reference.round(updates, {10, 10, 10}, 0, 0.0, 1.0, 0.0);
  reference.check(fixture.engine.model());
  CHECK(fixture.engine.model_version() == 1);
  CHECK(fixture.engine.counters().rounds_applied == 1);
  CHECK(fixture.engine.counters().updates_applied == 3);
  CHECK(fixture.engine.counters().model_bytes_out > 0);
  CHECK(fixture.engine.counters().update_bytes_in > 0);
  CHECK(fixture.engine.counters().devices_unauthenticated == 3);
}

TEST_CASE("round whose model would overflow is discarded") {
  EngineConfig config = small_config(kInputs, 2);
  config.aggregation.server_learning_rate = 4.0f;  // 4 x 3e38 is above the float range
  Fixture fixture(config);
  auto devices = join(fixture.engine, 2, 10);
  for (int i = 0; i < 2; ++i) {
    (void)devices[i]->take_offer(10);
    devices[i]->upload(20, 1, 300 + i, 10, fp32_payload(std::vector<float>(kDimension, 3e38f)));
  }
  for (int i = 0; i < 2; ++i) {
    const protocol::Verdict verdict = devices[i]->take_verdict(20);
    CHECK_FALSE(verdict.applied);
    CHECK(verdict.reason == VerdictReason::kInternal);
  }
  CHECK(fixture.engine.model() == std::vector<float>(kDimension, 0.0f));
  CHECK(fixture.engine.model_version() == 0);
  CHECK(fixture.engine.counters().rounds_non_finite == 1);
  CHECK(fixture.engine.counters().rounds_discarded == 1);
  CHECK_FALSE(fixture.engine.failed());
}

TEST_CASE("aggregation with weight cap, momentum and clipping") {
  EngineConfig config = small_config(kInputs, 3);
  config.aggregation.weight_cap = 20;
  config.aggregation.momentum = 0.5f;
  config.aggregation.server_learning_rate = 0.75f;
  config.aggregation.norm_bound = 6.0;
  config.aggregation.norm_bound_action = NormBoundAction::kClip;
  Fixture fixture(config);
  auto devices = join(fixture.engine, 3, 0);
  Reference reference;
  const std::vector<std::uint32_t> samples = {5, 50, 12};
  for (std::uint32_t round = 1; round <= 2; ++round) {
    std::vector<std::vector<float>> updates;
    for (int i = 0; i < 3; ++i) {
      REQUIRE(devices[i]->take_offer(round * 100).round_id == round);
    }
    for (int i = 0; i < 3; ++i) {
      // Device 1's update has norm well above 6 and is clipped.
      updates.push_back(pattern(i == 1 ? 3.0f : 0.2f * float(round + i)));
      devices[i]->upload(round * 100, round, round * 10 + i, samples[i], fp32_payload(updates.back()));
    }
    for (int i = 0; i < 3; ++i) {
      CHECK(devices[i]->take_verdict(round * 100).applied);
      devices[i]->check_in(round * 100);
    }
    reference.round(updates, samples, 20, 6.0, 0.75, 0.5);
  }
  reference.check(fixture.engine.model());
  CHECK(fixture.engine.counters().updates_clipped == 2);
}

TEST_CASE("norm bound reject gives only that device a verdict") {
  EngineConfig config = small_config(kInputs, 2);
  config.aggregation.norm_bound = 6.0;
  config.aggregation.norm_bound_action = NormBoundAction::kReject;
  Fixture fixture(config);
  auto devices = join(fixture.engine, 2, 0);
  devices[0]->upload(1, 1, 1, 4, fp32_payload(pattern(3.0f)));
  std::string text;
  const protocol::Verdict rejected = devices[0]->take_verdict(1, &text);
  CHECK_FALSE(rejected.applied);
  CHECK(rejected.reason == VerdictReason::kNormBoundRejected);
  CHECK(text.find("norm bound") != std::string::npos);
  CHECK(fixture.engine.open_round_id() == 1);
  devices[1]->upload(2, 1, 2, 4, fp32_payload(pattern(0.1f)));
  CHECK(fixture.engine.open_round_id() == 1);  // d0 may still send an update within the bound
  fixture.engine.tick(1000);
  CHECK(devices[1]->take_verdict(1000).applied);
  Reference reference;
  reference.round({pattern(0.1f)}, {4}, 0, 0.0, 1.0, 0.0);
  reference.check(fixture.engine.model());
  CHECK(fixture.engine.counters().updates_rejected[size_t(VerdictReason::kNormBoundRejected)] == 1);
}

TEST_CASE("round below min updates is discarded at its deadline") {
  EngineConfig config = small_config(kInputs, 3);
  config.min_updates = 2;
  Fixture fixture(config);
  auto devices = join(fixture.engine, 3, 0);
  devices[0]->upload(5, 1, 7, 3, fp32_payload(pattern(1.0f)));
  CHECK(fixture.engine.update_state("d0", 1, 7) == UpdateState::kPending);
  fixture.engine.tick(999);
  CHECK(fixture.engine.open_round_id() == 1);
  fixture.engine.tick(1000);
  std::string text;
  const protocol::Verdict verdict = devices[0]->take_verdict(1000, &text);
  CHECK_FALSE(verdict.applied);
  CHECK(verdict.reason == VerdictReason::kRoundClosed);
  CHECK(text.find("1 updates") != std::string::npos);
  CHECK(text.find("minimum of 2") != std::string::npos);
  CHECK(fixture.engine.counters().rounds_discarded == 1);
  CHECK(fixture.engine.model() == std::vector<float>(kDimension, 0.0f));
  CHECK(fixture.engine.update_state("d0", 1, 7) == UpdateState::kNotApplied);
  // A new round gets a new id once devices check in again.
  for (auto& device : devices) {
    device->check_in(1001);
  }
  CHECK(fixture.engine.open_round_id() == 2);
}

TEST_CASE("deadline closes a round with enough updates") {
  Fixture fixture(small_config(kInputs, 3));
  auto devices = join(fixture.engine, 3, 0);
  devices[2]->upload(5, 1, 9, 3, fp32_payload(pattern(1.0f)));
  fixture.engine.tick(500);
  CHECK(fixture.engine.open_round_id() == 1);
  fixture.engine.tick(1000);
  CHECK(fixture.engine.open_round_id() == 0);
  CHECK(devices[2]->take_verdict(1000).applied);
  CHECK(fixture.engine.model_version() == 1);
}

TEST_CASE("round closes when every device sent or disconnected") {
  Fixture fixture(small_config(kInputs, 3));
  auto devices = join(fixture.engine, 3, 0);
  devices[0]->upload(5, 1, 1, 3, fp32_payload(pattern(1.0f)));
  devices[1]->disconnect(6);
  CHECK(fixture.engine.open_round_id() == 1);
  devices[2]->upload(7, 1, 2, 3, fp32_payload(pattern(2.0f)));
  CHECK(fixture.engine.open_round_id() == 0);
  CHECK(devices[0]->take_verdict(7).applied);
  CHECK(devices[2]->take_verdict(7).applied);
}

TEST_CASE("disconnect mid-upload applies nothing partial") {
  Fixture fixture(small_config(kInputs, 2));
  auto devices = join(fixture.engine, 2, 0);
  const std::vector<std::uint8_t> payload = fp32_payload(pattern(5.0f));
  devices[0]->upload(5, 1, 1, 3, payload, 30, 1);  // first of several chunks only
  devices[0]->disconnect(6);
  devices[1]->upload(7, 1, 2, 3, fp32_payload(pattern(1.0f)));
  CHECK(fixture.engine.open_round_id() == 0);
  CHECK(devices[1]->take_verdict(7).applied);
  Reference reference;
  reference.round({pattern(1.0f)}, {3}, 0, 0.0, 1.0, 0.0);
  reference.check(fixture.engine.model());
  CHECK(fixture.engine.counters().updates_applied == 1);
}

TEST_CASE("update for a closed round is late") {
  Fixture fixture(small_config(kInputs, 2));
  auto devices = join(fixture.engine, 2, 0);
  devices[0]->upload(5, 1, 1, 3, fp32_payload(pattern(1.0f)));
  fixture.engine.tick(1000);
  CHECK(devices[0]->take_verdict(1000).applied);
  devices[1]->upload(1001, 1, 2, 3, fp32_payload(pattern(1.0f)));
  const protocol::Verdict verdict = devices[1]->take_verdict(1001);
  CHECK_FALSE(verdict.applied);
  CHECK(verdict.reason == VerdictReason::kLate);
  CHECK(fixture.engine.counters().updates_rejected[size_t(VerdictReason::kLate)] == 1);
  CHECK(fixture.engine.model_version() == 1);
}

TEST_CASE("duplicate update is rejected and the first applied once") {
  Fixture fixture(small_config(kInputs, 2));
  auto devices = join(fixture.engine, 2, 0);
  devices[0]->upload(5, 1, 1, 3, fp32_payload(pattern(1.0f)));
  devices[0]->upload(6, 1, 2, 3, fp32_payload(pattern(9.0f)));
  const protocol::Verdict duplicate = devices[0]->take_verdict(6);
  CHECK(duplicate.update_id == 2);
  CHECK(duplicate.reason == VerdictReason::kDuplicate);
  CHECK(fixture.engine.update_state("d0", 1, 1) == UpdateState::kPending);
  devices[1]->upload(7, 1, 3, 3, fp32_payload(pattern(2.0f)));
  const protocol::Verdict applied = devices[0]->take_verdict(7);
  CHECK(applied.update_id == 1);
  CHECK(applied.applied);
  Reference reference;
  reference.round({pattern(1.0f), pattern(2.0f)}, {3, 3}, 0, 0.0, 1.0, 0.0);
  reference.check(fixture.engine.model());
}

TEST_CASE("invalid payloads get verdicts without disturbing others") {
  Fixture fixture(small_config(kInputs, 3));
  auto devices = join(fixture.engine, 3, 0);
  std::vector<std::uint8_t> flipped = fp32_payload(pattern(1.0f));
  flipped[25] ^= 0x40;
  devices[0]->upload(5, 1, 1, 3, flipped);
  std::string text;
  protocol::Verdict verdict = devices[0]->take_verdict(5, &text);
  CHECK(verdict.reason == VerdictReason::kInvalidPayload);
  CHECK(text.find("CRC") != std::string::npos);

  std::vector<float> shorter = pattern(1.0f);
  shorter.pop_back();
  devices[1]->upload(6, 1, 2, 3, fp32_payload(shorter));
  verdict = devices[1]->take_verdict(6, &text);
  CHECK(verdict.reason == VerdictReason::kInvalidPayload);
  CHECK(text.find("dimension") != std::string::npos);

  devices[2]->upload(7, 1, 3, 3, fp32_payload(pattern(2.0f)));
  CHECK(fixture.engine.open_round_id() == 1);  // d0 and d1 may still send a valid update
  fixture.engine.tick(1000);
  CHECK(devices[2]->take_verdict(1000).applied);
  CHECK(devices[0]->drain(1000).empty());
  CHECK(fixture.engine.counters().updates_rejected[size_t(VerdictReason::kInvalidPayload)] == 2);
  Reference reference;
  reference.round({pattern(2.0f)}, {3}, 0, 0.0, 1.0, 0.0);
  reference.check(fixture.engine.model());
}

TEST_CASE("bad frames close only their session") {
  test::LogCapture logs;
  Fixture fixture(small_config(kInputs, 4));
  auto devices = join(fixture.engine, 3, 0);
  ScriptedDevice healthy(fixture.engine, "healthy");
  healthy.connect(0);

  std::vector<std::uint8_t> bad_magic = {'X', 'C', 'Q', 'F', 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  devices[0]->write_raw(1, bad_magic);
  CHECK(devices[0]->closed_by_engine(1));
  CHECK(logs.contains("d0"));
  CHECK(logs.contains("magic"));

  std::vector<std::uint8_t> oversized = {'E', 'C', 'Q', 'F', 1, 9, 0, 0, 0xFF, 0xFF, 0xFF, 0x00};
  devices[1]->write_raw(2, oversized);
  CHECK(devices[1]->closed_by_engine(2));

  std::vector<std::uint8_t> version = {'E', 'C', 'Q', 'F', 2, 9, 0, 0, 8, 0, 0, 0};
  devices[2]->write_raw(3, version);
  CHECK(devices[2]->closed_by_engine(3));
  CHECK(logs.contains("version"));

  CHECK(fixture.engine.counters().sessions_closed_protocol_error == 3);
  CHECK_FALSE(healthy.closed_by_engine(4));
  healthy.check_in(4);
  healthy.query(4, 1, 1);
  const std::vector<test::Received> frames = healthy.drain(4);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == MessageType::kStatusAnswer);
}

TEST_CASE("message error sends goodbye protocol error") {
  Fixture fixture(small_config(kInputs, 2));
  ScriptedDevice device(fixture.engine, "d0");
  device.connect(0);
  const std::uint8_t short_body[2] = {1, 2};
  device.send_frame(1, MessageType::kCheckIn, short_body, sizeof short_body);
  const std::vector<test::Received> frames = device.drain(1);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == MessageType::kGoodbye);
  protocol::Goodbye goodbye;
  REQUIRE(protocol::decode_goodbye(frames[0].body.data(), frames[0].body.size(), &goodbye) == Status::kOk);
  CHECK(goodbye.reason == protocol::GoodbyeReason::kProtocolError);
  CHECK(device.closed_by_engine(1));
}

TEST_CASE("incompatible device gets goodbye incompatible") {
  EngineConfig config = small_config(kInputs, 2);
  Fixture fixture(config);
  ScriptedDevice device(fixture.engine, "d0");
  device.connect(0, protocol::model_kind_bit(ModelKind::kSoftmax), 0x0F);
  const std::vector<test::Received> frames = device.drain(0);
  REQUIRE(frames.size() == 1);
  protocol::Goodbye goodbye;
  REQUIRE(protocol::decode_goodbye(frames[0].body.data(), frames[0].body.size(), &goodbye) == Status::kOk);
  CHECK(goodbye.reason == protocol::GoodbyeReason::kIncompatible);
}

TEST_CASE("status queries answer applied, not applied, pending, unknown") {
  EngineConfig config = small_config(kInputs, 2);
  config.min_updates = 2;
  Fixture fixture(config);
  auto devices = join(fixture.engine, 2, 0);
  devices[0]->upload(1, 1, 11, 3, fp32_payload(pattern(1.0f)));
  auto answer = [&](ScriptedDevice& device, std::uint32_t round, std::uint64_t update, std::uint64_t now) {
    device.query(now, round, update);
    std::vector<test::Received> answers;
    for (const test::Received& frame : device.drain(now)) {
      if (frame.type == MessageType::kStatusAnswer) {
        answers.push_back(frame);
      }
    }
    REQUIRE(answers.size() == 1);
    protocol::StatusAnswer decoded;
    REQUIRE(protocol::decode_status_answer(answers[0].body.data(), answers[0].body.size(), &decoded) ==
            Status::kOk);
    CHECK(decoded.round_id == round);
    CHECK(decoded.update_id == update);
    return decoded.state;
  };
  CHECK(answer(*devices[0], 1, 11, 2) == UpdateState::kPending);
  CHECK(answer(*devices[0], 1, 99, 2) == UpdateState::kNotApplied);
  CHECK(answer(*devices[1], 7, 1, 2) == UpdateState::kNotApplied);
  fixture.engine.tick(1000);  // one update, minimum 2: discarded
  CHECK(devices[0]->take_verdict(1000).reason == VerdictReason::kRoundClosed);
  CHECK(answer(*devices[0], 1, 11, 1001) == UpdateState::kNotApplied);

  for (auto& device : devices) {
    device->check_in(1002);
  }
  REQUIRE(fixture.engine.open_round_id() == 2);
  devices[0]->upload(1003, 2, 12, 3, fp32_payload(pattern(1.0f)));
  devices[1]->upload(1003, 2, 13, 3, fp32_payload(pattern(1.0f)));
  CHECK(devices[0]->take_verdict(1003).applied);
  CHECK(answer(*devices[0], 2, 12, 1004) == UpdateState::kApplied);
  CHECK(answer(*devices[1], 2, 13, 1004) == UpdateState::kApplied);
}

TEST_CASE("lost verdict is applied once and reported on reconnect") {
  Fixture fixture(small_config(kInputs, 2));
  auto devices = join(fixture.engine, 2, 0);
  devices[0]->upload(1, 1, 21, 3, fp32_payload(pattern(1.0f)));
  devices[0]->disconnect(2);  // the verdict will have nowhere to go
  devices[1]->upload(3, 1, 22, 3, fp32_payload(pattern(2.0f)));
  CHECK(devices[1]->take_verdict(3).applied);
  CHECK(fixture.engine.counters().updates_applied == 2);

  ScriptedDevice again(fixture.engine, "d0");
  again.connect(4);
  again.query(4, 1, 21);
  const std::vector<test::Received> frames = again.drain(4);
  REQUIRE(frames.size() == 1);
  protocol::StatusAnswer answer;
  REQUIRE(protocol::decode_status_answer(frames[0].body.data(), frames[0].body.size(), &answer) == Status::kOk);
  CHECK(answer.state == UpdateState::kApplied);
  // Sending the same update again after the round closed does not apply it twice.
  again.upload(5, 1, 21, 3, fp32_payload(pattern(1.0f)));
  CHECK(again.take_verdict(5).reason == VerdictReason::kLate);
  CHECK(fixture.engine.counters().updates_applied == 2);
  CHECK(fixture.engine.model_version() == 1);
}

TEST_CASE("pending verdict follows the device to its new connection") {
  Fixture fixture(small_config(kInputs, 2));
  auto devices = join(fixture.engine, 2, 0);
  devices[0]->upload(1, 1, 31, 3, fp32_payload(pattern(1.0f)));
  devices[0]->disconnect(2);
  ScriptedDevice again(fixture.engine, "d0");
  again.connect(3);
  devices[1]->upload(4, 1, 32, 3, fp32_payload(pattern(1.0f)));
  const protocol::Verdict verdict = again.take_verdict(4);
  CHECK(verdict.applied);
  CHECK(verdict.update_id == 31);
}

TEST_CASE("selection picks K devices and others get not selected") {
  EngineConfig config = small_config(kInputs, 2);
  Fixture fixture(config);
  auto devices = join(fixture.engine, 2, 0);
  ScriptedDevice extra(fixture.engine, "z-extra");
  extra.connect(1);
  extra.check_in(1);
  CHECK(extra.drain(1).empty());  // the round was already full
  extra.upload(2, 1, 1, 3, fp32_payload(pattern(1.0f)));
  CHECK(extra.take_verdict(2).reason == VerdictReason::kNotSelected);
}

TEST_CASE("selection wait starts a round with fewer than K") {
  EngineConfig config = small_config(kInputs, 5);
  config.min_updates = 2;
  config.selection_wait_ms = 300;
  Fixture fixture(config);
  auto devices = join(fixture.engine, 2, 0);
  fixture.engine.tick(299);
  CHECK(fixture.engine.open_round_id() == 0);
  fixture.engine.tick(300);
  CHECK(fixture.engine.open_round_id() == 1);
  CHECK(devices[0]->take_offer(300).round_id == 1);
}

TEST_CASE("selection is reproducible from the seed") {
  // Round 1 takes d0 to d2; d3 to d7 wait in the pool, and round 2 picks 3 of
  // them with the seeded generator.
  auto selected = [](std::uint64_t seed) {
    EngineConfig config = small_config(kInputs, 3);
    config.selection_seed = seed;
    Engine engine;
    std::string error;
    REQUIRE(engine.init(config, 0, &error));
    std::vector<std::unique_ptr<ScriptedDevice>> devices;
    for (int i = 0; i < 8; ++i) {
      devices.push_back(std::make_unique<ScriptedDevice>(engine, "d" + std::to_string(i)));
      devices.back()->connect(0);
      devices.back()->check_in(0);
    }
    for (auto& device : devices) {
      device->drain(0);
    }
    REQUIRE(engine.open_round_id() == 1);
    engine.tick(1000);
    REQUIRE(engine.open_round_id() == 2);
    std::string names;
    for (auto& device : devices) {
      for (const test::Received& frame : device->drain(1000)) {
        if (frame.type == MessageType::kRoundOffer) {
          names += device->id() + " ";
        }
      }
    }
    return names;
  };
  CHECK(selected(11) == selected(11));
  std::set<std::string> distinct;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const std::string names = selected(seed);
    CHECK(names.find("d0") == std::string::npos);
    distinct.insert(names);
  }
  CHECK(distinct.size() > 1);
}

TEST_CASE("idle sessions get heartbeats and then close") {
  EngineConfig config = small_config(kInputs, 2);
  config.idle_timeout_ms = 300;
  Fixture fixture(config);
  ScriptedDevice device(fixture.engine, "d0");
  device.connect(0);
  fixture.engine.tick(100);
  const std::vector<test::Received> frames = device.drain(100);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == MessageType::kHeartbeat);
  fixture.engine.tick(301);
  CHECK(device.closed_by_engine(301));
  CHECK(fixture.engine.counters().devices_unauthenticated == 0);
}

TEST_CASE("quantized ecq updates aggregate") {
  EngineConfig config = small_config(kInputs, 2);
  config.offer.compressor.method = Method::kEcq;
  config.offer.compressor.quantizer = QuantizerConfig{4, 8, NormKind::kL2};
  Fixture fixture(config);
  auto devices = join(fixture.engine, 2, 0);
  for (int i = 0; i < 2; ++i) {
    devices[i]->upload(1, 1, i + 1, 3, test::ecq_payload(pattern(float(i + 1)), config.offer.compressor.quantizer, 1));
  }
  CHECK(devices[0]->take_verdict(1).applied);
  CHECK(devices[1]->take_verdict(1).applied);
  CHECK(fixture.engine.model() != std::vector<float>(kDimension, 0.0f));
  // A raw fp32 payload does not match this round's quantized settings.
  for (auto& device : devices) {
    device->check_in(2);
  }
  devices[0]->upload(3, 2, 9, 3, fp32_payload(pattern(1.0f)));
  CHECK(devices[0]->take_verdict(3).reason == VerdictReason::kInvalidPayload);
}

TEST_CASE("invalid configuration is rejected with the value") {
  EngineConfig config = small_config(kInputs, 2);
  config.min_updates = 3;
  Engine engine;
  std::string error;
  CHECK_FALSE(engine.init(config, 0, &error));
  CHECK(error.find("--min-updates 3") != std::string::npos);
  config = small_config(kInputs, 2);
  config.aggregation.momentum = 1.5f;
  CHECK_FALSE(engine.init(config, 0, &error));
  CHECK(error.find("--momentum") != std::string::npos);
}

}  // namespace
}  // namespace ecq::coordinator
