// Bare-metal port template: TCP sockets. With lwIP's socket API
// (LWIP_SOCKET=1), each function maps onto the BSD call of the POSIX port
// (ports/posix/socket.cc): lwip_socket() and lwip_fcntl(O_NONBLOCK) then
// lwip_connect() in socket_connect(), lwip_getsockopt(SO_ERROR) in
// socket_connect_finish(), lwip_send() and lwip_recv() with EWOULDBLOCK as
// kWouldBlock, lwip_select() or lwip_poll() in socket_wait(), and
// lwip_close(). Names resolve with lwip_getaddrinfo() (LWIP_DNS=1).
// Until that is filled in, every call returns kError.

#include "ecq/port/socket.h"
#include "unfilled_hook.h"

namespace ecq::port {
namespace {

bool g_logged = false;

PortStatus report_missing_stack() {
  return detail::report_unfilled_hook(
      &g_logged, "socket: no TCP/IP stack; fill in the socket functions in ports/baremetal/socket.cc (e.g. with lwIP)");
}

}  // namespace

[[gnu::weak]] PortStatus socket_connect(const char* host, std::uint16_t port, Socket* socket) {
  if (host == nullptr || socket == nullptr || port == 0) {
    return PortStatus::kInvalidArgument;
  }
  // FILL IN: resolve `host`, create a non-blocking TCP socket, connect, and
  // store its descriptor in socket->handle.
  return report_missing_stack();
}

[[gnu::weak]] PortStatus socket_connect_finish(Socket socket) {
  (void)socket;
  // FILL IN: read SO_ERROR of the connecting socket.
  return report_missing_stack();
}

[[gnu::weak]] PortStatus socket_send(Socket socket, const std::uint8_t* data, std::size_t size, std::size_t* sent) {
  if ((data == nullptr && size > 0) || sent == nullptr) {
    return PortStatus::kInvalidArgument;
  }
  *sent = 0;
  (void)socket;
  // FILL IN: lwip_send(); EWOULDBLOCK is kWouldBlock.
  return report_missing_stack();
}

[[gnu::weak]] PortStatus socket_receive(Socket socket, std::uint8_t* buffer, std::size_t capacity,
                                        std::size_t* received) {
  if ((buffer == nullptr && capacity > 0) || received == nullptr) {
    return PortStatus::kInvalidArgument;
  }
  *received = 0;
  (void)socket;
  // FILL IN: lwip_recv(); 0 bytes is kClosed and EWOULDBLOCK is kWouldBlock.
  return report_missing_stack();
}

[[gnu::weak]] PortStatus socket_wait(Socket socket, bool want_read, bool want_write, std::uint32_t timeout_ms,
                                     bool* readable, bool* writable) {
  if (readable == nullptr || writable == nullptr) {
    return PortStatus::kInvalidArgument;
  }
  *readable = false;
  *writable = false;
  (void)socket;
  (void)want_read;
  (void)want_write;
  (void)timeout_ms;
  // FILL IN: lwip_select() on the descriptor with the timeout.
  return report_missing_stack();
}

[[gnu::weak]] void socket_close(Socket* socket) {
  if (socket == nullptr) {
    return;
  }
  // FILL IN: lwip_close(socket->handle) when it is not -1.
  socket->handle = -1;
}

}  // namespace ecq::port
