#include "ecq/transport/device_connection.h"

#include "ecq/port/clock.h"

namespace ecq::transport {
namespace {

constexpr std::uint32_t kWaitSliceMs = 50;

std::string where(const std::string& host, std::uint16_t port) { return host + ":" + std::to_string(port); }

}  // namespace

bool DeviceConnection::connect(const std::string& host, std::uint16_t port, TlsContext& context, std::string* error) {
  port::Socket socket;
  const port::PortStatus started = port::socket_connect(host.c_str(), port, &socket);
  if (started != port::PortStatus::kOk && started != port::PortStatus::kWouldBlock) {
    *error = "connecting to " + where(host, port) + " failed: " + port::port_status_name(started);
    return false;
  }
  const std::uint64_t deadline = port::monotonic_ms() + context.config().handshake_timeout_ms;
  if (started == port::PortStatus::kWouldBlock) {
    bool readable = false;
    bool writable = false;
    const auto budget = static_cast<std::uint32_t>(context.config().handshake_timeout_ms);
    if (port::socket_wait(socket, false, true, budget, &readable, &writable) != port::PortStatus::kOk ||
        port::socket_connect_finish(socket) != port::PortStatus::kOk) {
      port::socket_close(&socket);
      *error = "connecting to " + where(host, port) + " failed: refused, unreachable or timed out";
      return false;
    }
  }
  socket_.reset(socket);
  if (!tls_.start(context, socket_, port::monotonic_ms(), error)) {
    return false;
  }
  while (!tls_.established() && !tls_.failed() && port::monotonic_ms() < deadline + kWaitSliceMs) {
    (void)poll(kWaitSliceMs);
  }
  if (!tls_.established()) {
    *error = "TLS with " + where(host, port) + " failed: " + tls_.error_message();
    return false;
  }
  return true;
}

bool DeviceConnection::poll(std::uint32_t timeout_ms) {
  if (tls_.failed()) {
    return false;
  }
  bool readable = false;
  bool writable = false;
  const port::PortStatus waited =
      port::socket_wait(socket_.socket(), true, tls_.wants_write(), timeout_ms, &readable, &writable);
  if (waited != port::PortStatus::kOk && waited != port::PortStatus::kTimeout) {
    tls_.close();
  }
  tls_.tick(port::monotonic_ms());
  return !tls_.failed();
}

}  // namespace ecq::transport
