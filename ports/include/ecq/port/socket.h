#pragma once
// Non-blocking TCP sockets for devices. Every call returns at once: partial
// sends and receives are normal, kWouldBlock means "wait with socket_wait()
// and retry", and kClosed means the peer closed the connection.

#include <cstddef>
#include <cstdint>

#include "ecq/port/status.h"

namespace ecq::port {

struct Socket {
  std::intptr_t handle = -1;  ///< file descriptor on POSIX; -1 when closed
};

/// Starts connecting to host:port (a name or a numeric IPv4/IPv6 address).
/// Returns kOk when connected at once, kWouldBlock while the connection is in
/// progress (wait for writable, then call socket_connect_finish()),
/// kNotFound when the name does not resolve, or kError.
PortStatus socket_connect(const char* host, std::uint16_t port, Socket* socket);

/// Completes a connection that socket_connect() left in progress, once the
/// socket is writable: kOk, or kError (refused, unreachable).
PortStatus socket_connect_finish(Socket socket);

/// Sends up to `size` bytes and stores how many were taken in *sent.
PortStatus socket_send(Socket socket, const std::uint8_t* data, std::size_t size, std::size_t* sent);

/// Receives up to `capacity` bytes and stores how many arrived in *received.
/// Returns kClosed (with *received = 0) when the peer has closed.
PortStatus socket_receive(Socket socket, std::uint8_t* buffer, std::size_t capacity, std::size_t* received);

/// Waits until the socket is readable (when `want_read`) or writable (when
/// `want_write`), or `timeout_ms` passes. Returns kOk with *readable and
/// *writable set, or kTimeout.
PortStatus socket_wait(Socket socket, bool want_read, bool want_write, std::uint32_t timeout_ms, bool* readable,
                       bool* writable);

/// Closes the socket and sets its handle to -1. Safe on a closed socket.
void socket_close(Socket* socket);

}  // namespace ecq::port
