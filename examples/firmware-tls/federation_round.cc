#include "federation_round.h"

#include <cstdio>
#include <cstring>

#include "ecq/port/clock.h"
#include "ecq/port/socket.h"

namespace firmware {
namespace {

// Every buffer of the device client comes from this arena; init() rejects a
// configuration that needs more.
constexpr std::size_t kDeviceArenaBytes = 32 * 1024;
alignas(16) std::uint8_t g_device_arena[kDeviceArenaBytes];

// Synthetic training data: features uniform in [-1, 1) from xorshift32, and
// the label is the index of the largest of the first kRoundClasses features,
// a rule softmax regression can learn.
struct SyntheticData {
  std::uint32_t state = 0x12345678u;

  float next_feature() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return static_cast<float>(state >> 8) * (2.0f / 16777216.0f) - 1.0f;
  }
};
SyntheticData g_data;

ecq::Status fill_synthetic(void* context, std::uint32_t rows, ecq::Span<float> features, ecq::Span<float> targets,
                           ecq::Span<std::int32_t> labels, std::uint32_t* filled) {
  (void)targets;
  auto* data = static_cast<SyntheticData*>(context);
  if (features.size() < static_cast<std::size_t>(rows) * kRoundInputs || labels.size() < rows) {
    return ecq::Status::kInvalidArgument;
  }
  for (std::uint32_t row = 0; row < rows; ++row) {
    float* sample = features.data() + static_cast<std::size_t>(row) * kRoundInputs;
    std::int32_t label = 0;
    for (std::uint32_t i = 0; i < kRoundInputs; ++i) {
      sample[i] = data->next_feature();
      if (i < kRoundClasses && sample[i] > sample[label]) {
        label = static_cast<std::int32_t>(i);
      }
    }
    labels.data()[row] = label;
  }
  *filled = rows;
  return ecq::Status::kOk;
}

std::uint64_t verdicts(const ecq::DeviceClient& client) {
  return client.counters().updates_applied + client.counters().updates_not_applied;
}

}  // namespace

bool run_federation_round(TlsPskClient& tls, ecq::port::Socket socket, const char* identity,
                          std::uint32_t timeout_ms, RoundReport* report, char* error, std::size_t error_capacity) {
  ecq::DeviceConfig config;
  std::snprintf(config.device_id, sizeof config.device_id, "%s", identity);
  config.send_device_id = false;  // the PSK identity names the device
  config.shape.kind = ecq::ModelKind::kSoftmax;
  config.shape.inputs = kRoundInputs;
  config.shape.classes = kRoundClasses;
  config.max_body_size = 4096;
  config.upload_body_size = 4096;
  config.storage_prefix[0] = '\0';  // no flash here: update ids come from entropy

  static ecq::DeviceClient client;
  report->arena_bytes = ecq::DeviceClient::required_arena_bytes(config);
  if (report->arena_bytes == 0 || report->arena_bytes > kDeviceArenaBytes) {
    std::snprintf(error, error_capacity, "the device client needs %u arena bytes, more than the %u of the image",
                  static_cast<unsigned>(report->arena_bytes), static_cast<unsigned>(kDeviceArenaBytes));
    return false;
  }
  ecq::DataSource data;
  data.fill = fill_synthetic;
  data.context = &g_data;
  if (client.init(config, data, ecq::Span<std::uint8_t>(g_device_arena, kDeviceArenaBytes)) != ecq::Status::kOk) {
    std::snprintf(error, error_capacity, "initializing the device client failed");
    return false;
  }

  const std::uint64_t start = ecq::port::monotonic_ms();
  const std::uint64_t deadline = start + timeout_ms;
  client.on_connected(tls, start);
  for (;;) {
    const std::uint64_t now = ecq::port::monotonic_ms();
    if (verdicts(client) >= 1) {
      client.shut_down(now);  // sends goodbye, then close_notify
      break;
    }
    if (now >= deadline) {
      std::snprintf(error, error_capacity, "no verdict within %u ms (device state \"%s\")",
                    static_cast<unsigned>(timeout_ms), ecq::device_state_name(client.state()));
      return false;
    }
    client.poll(now);
    if (!client.connected()) {
      std::snprintf(error, error_capacity, "the session ended before a verdict: %s",
                    tls.error_message()[0] != '\0' ? tls.error_message() : "the coordinator closed it");
      return false;
    }
    if (tls.has_buffered_input()) {
      continue;
    }
    const std::uint64_t wakeup = client.next_wakeup_ms(now);
    const std::uint64_t wait_ms = wakeup > now ? wakeup - now : 0;
    bool readable = false;
    bool writable = false;
    (void)ecq::port::socket_wait(socket, true, client.wants_write(),
                                 static_cast<std::uint32_t>(wait_ms < 100 ? wait_ms : 100), &readable, &writable);
  }
  report->duration_ms = ecq::port::monotonic_ms() - start;
  report->applied = client.counters().updates_applied == 1;
  report->counters = client.counters();
  return true;
}

}  // namespace firmware
