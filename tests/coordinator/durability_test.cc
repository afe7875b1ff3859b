// The state directory: recovery after a crash, torn log records, round ids
// after a resume, and the model file.

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "ecq/coordinator/engine.h"
#include "ecq/coordinator/model_file.h"
#include "scripted_device.h"
#include "temp_dir.h"

namespace ecq::coordinator {
namespace {

using protocol::UpdateState;
using test::fp32_payload;
using test::ScriptedDevice;

constexpr std::uint32_t kInputs = 3;

EngineConfig durable_config(const std::string& directory, bool resume, std::uint32_t snapshot_every) {
  EngineConfig config = test::small_config(kInputs, 2);
  config.durable = true;
  config.state_dir = directory;
  config.resume = resume;
  config.snapshot_every = snapshot_every;
  config.aggregation.momentum = 0.9f;
  return config;
}

std::vector<float> update_values(std::uint32_t round, int device) {
  return {0.1f * round, -0.2f * device, 0.3f, 0.01f * round * device};
}

// Runs `rounds` applied rounds with two devices; returns the model after each.
std::vector<std::vector<float>> run_rounds(Engine& engine, std::vector<std::unique_ptr<ScriptedDevice>>& devices,
                                           std::uint32_t first_round, std::uint32_t rounds) {
  std::vector<std::vector<float>> models;
  for (std::uint32_t round = first_round; round < first_round + rounds; ++round) {
    const std::uint64_t now = round * 10;
    for (auto& device : devices) {
      device->check_in(now);
    }
    REQUIRE(engine.open_round_id() == round);
    for (int i = 0; i < 2; ++i) {
      devices[i]->upload(now, round, round * 100 + i, 4 + i, fp32_payload(update_values(round, i)));
    }
    for (auto& device : devices) {
      REQUIRE(device->take_verdict(now).applied);
    }
    models.push_back(engine.model());
  }
  return models;
}

std::vector<std::unique_ptr<ScriptedDevice>> connect_two(Engine& engine, std::uint64_t now) {
  std::vector<std::unique_ptr<ScriptedDevice>> devices;
  for (int i = 0; i < 2; ++i) {
    devices.push_back(std::make_unique<ScriptedDevice>(engine, "dev" + std::to_string(i)));
    devices.back()->connect(now);
  }
  return devices;
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE("crash mid-round and resume restores model and status") {
  ecq::test::TempDir dir("ecq-coordinator-test");
  const std::string state = dir.path("state");
  std::vector<float> before_crash;
  std::uint32_t open_round = 0;
  {
    auto engine = std::make_unique<Engine>();
    std::string error;
    REQUIRE_MESSAGE(engine->init(durable_config(state, false, 2), 0, &error), error);
    auto devices = connect_two(*engine, 0);
    run_rounds(*engine, devices, 1, 3);  // snapshot after round 2, round 3 only in the log
    before_crash = engine->model();
    for (auto& device : devices) {
      device->check_in(100);
    }
    open_round = engine->open_round_id();
    REQUIRE(open_round == 4);
    devices[0]->upload(100, 4, 400, 4, fp32_payload(update_values(4, 0)));
    CHECK(engine->update_state("dev0", 4, 400) == UpdateState::kPending);
    engine.reset();  // no shutdown: as if the process died here
  }
  Engine resumed;
  std::string error;
  REQUIRE_MESSAGE(resumed.init(durable_config(state, true, 2), 0, &error), error);
  CHECK(resumed.model() == before_crash);
  CHECK(resumed.model_version() == 3);
  CHECK(resumed.update_state("dev0", 3, 300) == UpdateState::kApplied);
  CHECK(resumed.update_state("dev1", 3, 301) == UpdateState::kApplied);
  CHECK(resumed.update_state("dev0", 4, 400) == UpdateState::kNotApplied);
  CHECK(resumed.next_round_id() > open_round);

  // The resumed run goes on like the original would have, momentum included.
  auto devices = connect_two(resumed, 1000);
  const std::uint32_t next = resumed.next_round_id();
  run_rounds(resumed, devices, next, 1);
  Engine reference;
  REQUIRE(reference.init(durable_config(dir.path("reference"), false, 100), 0, &error));
  auto reference_devices = connect_two(reference, 0);
  const std::vector<std::vector<float>> models = run_rounds(reference, reference_devices, 1, 3);
  CHECK(models.back() == before_crash);
}

TEST_CASE("torn last log record is dropped") {
  ecq::test::TempDir dir("ecq-coordinator-test");
  const std::string state = dir.path("state");
  std::vector<std::vector<float>> models;
  {
    Engine engine;
    std::string error;
    REQUIRE(engine.init(durable_config(state, false, 100), 0, &error));
    auto devices = connect_two(engine, 0);
    models = run_rounds(engine, devices, 1, 2);
  }
  const std::string log = state + "/rounds.log";
  const std::vector<char> bytes = read_bytes(log);
  REQUIRE(bytes.size() > 40);

  SUBCASE("garbage after the last record") {
    {
      std::ofstream out(log, std::ios::binary | std::ios::app);
      const char partial[] = {'E', 'C', 'Q', 'L', 100, 0, 0, 0, 1, 2, 3};
      out.write(partial, sizeof partial);
    }
    Engine resumed;
    std::string error;
    REQUIRE_MESSAGE(resumed.init(durable_config(state, true, 100), 0, &error), error);
    CHECK(resumed.model() == models[1]);
    CHECK(read_bytes(log).size() == bytes.size());
  }
  SUBCASE("last record cut in the middle") {
    {
      std::ofstream out(log, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 7));
    }
    Engine resumed;
    std::string error;
    REQUIRE_MESSAGE(resumed.init(durable_config(state, true, 100), 0, &error), error);
    CHECK(resumed.model() == models[0]);
    CHECK(resumed.model_version() == 1);
    CHECK(resumed.update_state("dev0", 2, 200) == UpdateState::kNotApplied);
    CHECK(resumed.update_state("dev0", 1, 100) == UpdateState::kApplied);
    // Round 2 was offered before the crash, so its id is not used again.
    CHECK(resumed.next_round_id() > 2);
  }
}

TEST_CASE("resume never reuses an offered round id") {
  ecq::test::TempDir dir("ecq-coordinator-test");
  const std::string state = dir.path("state");
  std::uint32_t highest = 0;
  for (int restart = 0; restart < 3; ++restart) {
    Engine engine;
    std::string error;
    REQUIRE_MESSAGE(engine.init(durable_config(state, restart > 0, 2), 0, &error), error);
    CHECK(engine.next_round_id() > highest);
    auto devices = connect_two(engine, 0);
    for (auto& device : devices) {
      device->check_in(0);
    }
    highest = engine.open_round_id();
    REQUIRE(highest != 0);
  }
}

TEST_CASE("state directory mistakes are reported") {
  ecq::test::TempDir dir("ecq-coordinator-test");
  Engine engine;
  std::string error;
  CHECK_FALSE(engine.init(durable_config(dir.path("empty"), true, 2), 0, &error));
  CHECK(error.find("contains no run") != std::string::npos);
  {
    Engine first;
    REQUIRE(first.init(durable_config(dir.path("used"), false, 2), 0, &error));
  }
  Engine second;
  CHECK_FALSE(second.init(durable_config(dir.path("used"), false, 2), 0, &error));
  CHECK(error.find("--resume") != std::string::npos);
}

TEST_CASE("model file round trip") {
  ecq::test::TempDir dir("ecq-coordinator-test");
  Engine engine;
  std::string error;
  EngineConfig config = test::small_config(kInputs, 2);
  config.export_path = dir.path("model.ecqm");
  REQUIRE(engine.init(config, 0, &error));
  auto devices = connect_two(engine, 0);
  run_rounds(engine, devices, 1, 1);
  REQUIRE_MESSAGE(engine.export_model(config.export_path, &error), error);
  ModelFile file;
  REQUIRE_MESSAGE(read_model_file(config.export_path, &file, &error), error);
  CHECK(file.shape.kind == ModelKind::kLinear);
  CHECK(file.shape.inputs == kInputs);
  CHECK(file.model_version == 1);
  CHECK(file.round_id == 1);
  CHECK(file.parameters == engine.model());

  std::vector<std::uint8_t> bytes = encode_model_file(file);
  CHECK(bytes.size() == 38 + 4 * file.parameters.size() + 4);
  bytes[40] ^= 1;
  ModelFile damaged;
  CHECK_FALSE(decode_model_file(bytes, "model.ecqm", &damaged, &error));
  CHECK(error.find("CRC-32C") != std::string::npos);
}

}  // namespace
}  // namespace ecq::coordinator
