#pragma once
// One federation round over an established TLS session: the device client
// (ecq::DeviceClient) sends hello, checks in, downloads the offered model,
// trains it on synthetic data, uploads one compressed update and waits for
// the coordinator's verdict.

#include <cstddef>
#include <cstdint>

#include "ecq/runtime/device_client.h"
#include "tls_psk_client.h"

namespace firmware {

/// Model the image trains; the coordinator must offer the same shape
/// (ecq-coordinator --model softmax --inputs 64 --classes 4).
constexpr std::uint32_t kRoundInputs = 64;
constexpr std::uint32_t kRoundClasses = 4;

struct RoundReport {
  bool applied = false;             ///< the coordinator applied the update
  std::uint64_t duration_ms = 0;    ///< from hello to the verdict
  std::size_t arena_bytes = 0;      ///< DeviceClient::required_arena_bytes()
  ecq::DeviceCounters counters;
};

/// Runs the device client on `tls` (handshake done) over `socket` until it
/// has a verdict, the session fails or `timeout_ms` passes. Returns false
/// with the reason in error[0..error_capacity) unless a verdict came.
[[nodiscard]] bool run_federation_round(TlsPskClient& tls, ecq::port::Socket socket, const char* identity,
                                        std::uint32_t timeout_ms, RoundReport* report, char* error,
                                        std::size_t error_capacity);

}  // namespace firmware
