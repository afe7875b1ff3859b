// Proves that an established device client allocates nothing: many rounds
// over an in-process pipe after the first, counting only inside the client's
// poll() calls (the scripted coordinator allocates freely between them).

#include <doctest/doctest.h>

#include "counting_allocator.h"
#include "device_rig.h"

namespace ecq {
namespace {

using protocol::VerdictReason;

TEST_CASE("device client steady state allocates nothing") {
  for (ErrorBufferType error_buffer : {ErrorBufferType::kFp32, ErrorBufferType::kFp16}) {
    CAPTURE(error_buffer_type_name(error_buffer));
    DeviceConfig config = test::small_config();
    config.error_buffer = error_buffer;
    test::DeviceRig rig(config);
    rig.connect();
    long allocations = 0;
    auto measured_poll = [&rig, &allocations](std::uint64_t advance_ms) {
      rig.now += advance_ms;
      const long before = test::allocation_count();
      rig.client.poll(rig.now);
      allocations += test::allocation_count() - before;
      rig.coordinator->pump();
    };

    for (std::uint32_t round = 1; round <= 30; ++round) {
      rig.coordinator->frames().clear();
      const std::uint32_t steps = round % 3 == 0 ? 3 : 0;  // gradient and local-steps rounds
      rig.coordinator->send_round(test::small_offer(round, steps), test::small_model(round), test::kModelBodyBytes);
      int polls = 0;
      while (rig.client.state() != DeviceState::kAwaitVerdict && polls < 100) {
        measured_poll(400);  // long enough apart that heartbeats go out too
        ++polls;
      }
      REQUIRE(rig.client.state() == DeviceState::kAwaitVerdict);
      std::vector<std::uint8_t> payload;
      protocol::UpdateChunk first;
      REQUIRE(rig.coordinator->update(&payload, &first));
      // Every fourth update is not applied, so rollbacks are measured too.
      const bool applied = round % 4 != 0;
      rig.coordinator->verdict(round, first.update_id, applied, applied ? VerdictReason::kNone : VerdictReason::kLate);
      measured_poll(10);
      REQUIRE(rig.client.state() == DeviceState::kAwaitOffer);
      measured_poll(1500);  // quiet for longer than the heartbeat interval
      if (round == 1) {
        allocations = 0;  // the first round may set things up
      }
    }
    CHECK(rig.client.counters().rounds_trained == 30);
    CHECK(rig.client.counters().updates_not_applied == 7);
    CHECK(rig.client.counters().heartbeats_sent > 0);
    CHECK(allocations == 0);
  }
}

}  // namespace
}  // namespace ecq
