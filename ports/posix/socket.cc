// POSIX port: non-blocking TCP sockets. It relies on SOCK_NONBLOCK,
// SOCK_CLOEXEC and MSG_NOSIGNAL, which Linux and the BSDs have but macOS
// lacks.
//
// Host names are resolved with getaddrinfo(), which blocks until the resolver
// replies or times out, and which allocates from the heap. Callers that must not block pass a
// numeric address.

#include "ecq/port/socket.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "ecq/port/clock.h"
#include "error_log.h"

namespace ecq::port {
namespace {

// "host:port" of each socket that socket_connect() opened, kept until
// socket_close() so that log lines name the peer. A failed connection has no
// peer address that getpeername() could return, so the table is the only
// source then. When it is full, log lines fall back to getpeername().
constexpr std::size_t kEndpointCapacity = 280;
constexpr std::size_t kMaxEndpoints = 64;

struct Endpoint {
  int fd = -1;
  char text[kEndpointCapacity] = "";
};

std::mutex g_endpoints_mutex;
Endpoint g_endpoints[kMaxEndpoints];

void remember_endpoint(int fd, const char* text) {
  const std::lock_guard<std::mutex> lock(g_endpoints_mutex);
  Endpoint* slot = nullptr;
  for (Endpoint& endpoint : g_endpoints) {
    if (endpoint.fd == fd) {
      slot = &endpoint;  // left behind by a descriptor closed without socket_close()
      break;
    }
    if (endpoint.fd < 0 && slot == nullptr) {
      slot = &endpoint;
    }
  }
  if (slot != nullptr) {
    slot->fd = fd;
    std::snprintf(slot->text, sizeof slot->text, "%s", text);
  }
}

void forget_endpoint(int fd) {
  const std::lock_guard<std::mutex> lock(g_endpoints_mutex);
  for (Endpoint& endpoint : g_endpoints) {
    if (endpoint.fd == fd) {
      endpoint.fd = -1;
    }
  }
}

// Writes "host:port", with an IPv6 address in brackets, into text.
void format_endpoint(const char* host, const char* port, char* text, std::size_t capacity) {
  const char* format = std::strchr(host, ':') != nullptr ? "[%s]:%s" : "%s:%s";
  std::snprintf(text, capacity, format, host, port);
}

// Writes a description of the peer of `fd` into text[0..kEndpointCapacity).
void describe_peer(int fd, char* text) {
  {
    const std::lock_guard<std::mutex> lock(g_endpoints_mutex);
    for (const Endpoint& endpoint : g_endpoints) {
      if (endpoint.fd == fd) {
        std::snprintf(text, kEndpointCapacity, "%s", endpoint.text);
        return;
      }
    }
  }
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0 &&
      ::getnameinfo(reinterpret_cast<sockaddr*>(&peer), length, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    format_endpoint(host, port, text, kEndpointCapacity);
    return;
  }
  std::snprintf(text, kEndpointCapacity, "socket %d", fd);
}

// Logs "<call> failed for <peer>: <error text>" at level kError.
void log_socket_error(const char* call, int fd, int error) {
  char peer[kEndpointCapacity];
  describe_peer(fd, peer);
  char text[128];
  detail::log_error("%s failed for %s: %s", call, peer, detail::error_text(error, text, sizeof text));
}

bool is_valid_handle(Socket socket) { return socket.handle >= 0 && socket.handle <= INT_MAX; }

int descriptor(Socket socket) { return static_cast<int>(socket.handle); }

bool equals_ignoring_case(const char* text, const char* lowercase, std::size_t length) {
  for (std::size_t i = 0; i < length; ++i) {
    const char c = text[i] >= 'A' && text[i] <= 'Z' ? static_cast<char>(text[i] - 'A' + 'a') : text[i];
    if (c != lowercase[i]) {
      return false;
    }
  }
  return true;
}

// RFC 6761, section 6.4, reserves the domain "invalid." and every name under
// it, so they never exist, and lets applications treat them as special.
// glibc sends a DNS query for them, and this check avoids that query.
bool is_in_invalid_domain(const char* host) {
  std::size_t length = std::strlen(host);
  if (length > 0 && host[length - 1] == '.') {
    --length;
  }
  constexpr std::size_t kLabelLength = 7;  // "invalid"
  if (length < kLabelLength || !equals_ignoring_case(host + length - kLabelLength, "invalid", kLabelLength)) {
    return false;
  }
  return length == kLabelLength || host[length - kLabelLength - 1] == '.';
}

bool is_name_not_found(int result) {
  switch (result) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
      return true;
    default:
      return false;
  }
}

// Checks without waiting whether a connection in progress has already
// failed. Returns 0 when it has not (yet), or the errno value.
int take_early_connect_error(int fd) {
  pollfd entry{fd, POLLOUT, 0};
  if (::poll(&entry, 1, 0) != 1) {
    return 0;
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
    return errno;
  }
  return error;
}

// Opens a non-blocking socket for `address` and starts connecting. Returns
// the descriptor with *status kOk or kWouldBlock, or -1 with the failing call
// and errno value in *failed_call and *error. With `more_addresses`, a
// refusal that has already arrived counts as an immediate failure, so the
// caller can go on to the next address.
int start_connect(const addrinfo& address, bool more_addresses, PortStatus* status, const char** failed_call,
                  int* error) {
  const int fd = ::socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address.ai_protocol);
  if (fd < 0) {
    *failed_call = "socket";
    *error = errno;
    return -1;
  }
  // Messages are small and latency matters more than packet count, so
  // Nagle's algorithm is off.
  const int enable = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &enable, sizeof enable) != 0) {
    *failed_call = "setsockopt(TCP_NODELAY)";
    *error = errno;
    ::close(fd);
    return -1;
  }
  if (::connect(fd, address.ai_addr, address.ai_addrlen) == 0) {
    *status = PortStatus::kOk;
    return fd;
  }
  // After EINTR the connection goes on in the background like after
  // EINPROGRESS, and calling connect() again would fail with EALREADY.
  *error = errno;
  if (*error == EINPROGRESS || *error == EINTR) {
    // Linux usually handles a loopback peer's reply before connect()
    // returns, so a refusal from a local port is already pending here.
    *error = more_addresses ? take_early_connect_error(fd) : 0;
    if (*error == 0) {
      *status = PortStatus::kWouldBlock;
      return fd;
    }
  }
  *failed_call = "connect";
  ::close(fd);
  return -1;
}

}  // namespace

PortStatus socket_connect(const char* host, std::uint16_t port, Socket* socket) {
  if (host == nullptr || host[0] == '\0' || port == 0 || socket == nullptr) {
    return PortStatus::kInvalidArgument;
  }
  socket->handle = -1;
  if (is_in_invalid_domain(host)) {
    return PortStatus::kNotFound;
  }
  char service[8];
  std::snprintf(service, sizeof service, "%u", static_cast<unsigned>(port));
  char endpoint[kEndpointCapacity];
  format_endpoint(host, service, endpoint, sizeof endpoint);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const int result = ::getaddrinfo(host, service, &hints, &addresses);
  if (result != 0) {
    if (is_name_not_found(result)) {
      return PortStatus::kNotFound;
    }
    char text[128];
    detail::log_error("getaddrinfo failed for %s: %s", endpoint,
                      result == EAI_SYSTEM ? detail::error_text(errno, text, sizeof text) : gai_strerror(result));
    return PortStatus::kError;
  }

  // NOTE: addresses are tried in the order getaddrinfo() returns them, but
  // only while an attempt fails at once. Once a connection is in progress the
  // other addresses are dropped, because socket_connect_finish() has no way
  // to report a retry. So a name whose first address is a remote host that
  // refuses fails, even when a later address would accept the connection.
  PortStatus status = PortStatus::kError;
  const char* failed_call = "connect";
  int error = 0;
  int tried = 0;
  for (const addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
    ++tried;
    const int fd = start_connect(*address, address->ai_next != nullptr, &status, &failed_call, &error);
    if (fd >= 0) {
      socket->handle = fd;
      remember_endpoint(fd, endpoint);
      break;
    }
  }
  ::freeaddrinfo(addresses);

  if (socket->handle < 0) {
    char text[128];
    char attempts[48] = "";
    if (tried > 1) {
      std::snprintf(attempts, sizeof attempts, " (the last of %d addresses)", tried);
    }
    detail::log_error("%s failed for %s%s: %s", failed_call, endpoint, attempts,
                      detail::error_text(error, text, sizeof text));
    return PortStatus::kError;
  }
  return status;
}

PortStatus socket_connect_finish(Socket socket) {
  if (!is_valid_handle(socket)) {
    return PortStatus::kInvalidArgument;
  }
  const int fd = descriptor(socket);
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
    log_socket_error("getsockopt(SO_ERROR)", fd, errno);
    return PortStatus::kError;
  }
  if (error != 0) {
    log_socket_error("connect", fd, error);
    return PortStatus::kError;
  }

  sockaddr_storage peer{};
  socklen_t peer_length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) == 0) {
    return PortStatus::kOk;
  }
  if (errno != ENOTCONN) {
    log_socket_error("getpeername", fd, errno);
    return PortStatus::kError;
  }
  // Not connected and no pending error: either the call came before the
  // socket became writable (the connection is still in progress), or an
  // earlier call already took and reported the error.
  pollfd entry{fd, POLLOUT, 0};
  if (::poll(&entry, 1, 0) == 0) {
    return PortStatus::kWouldBlock;
  }
  char peer_text[kEndpointCapacity];
  describe_peer(fd, peer_text);
  detail::log_error("connect failed for %s: the connection failed and socket_connect_finish() was called again",
                    peer_text);
  return PortStatus::kError;
}

namespace {

// Maps the errno of a failed send() or recv() (other than EINTR, which the
// callers retry) to a port status, logging unexpected errors.
PortStatus transfer_status(int error, const char* call, int fd) {
  switch (error) {
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EAGAIN: return PortStatus::kWouldBlock;
    case ECONNRESET:
    case EPIPE: return PortStatus::kClosed;
    default: log_socket_error(call, fd, error); return PortStatus::kError;
  }
}

}  // namespace

PortStatus socket_send(Socket socket, const std::uint8_t* data, std::size_t size, std::size_t* sent) {
  if (!is_valid_handle(socket) || sent == nullptr || (data == nullptr && size > 0)) {
    return PortStatus::kInvalidArgument;
  }
  *sent = 0;
  if (size == 0) {
    return PortStatus::kOk;
  }
  const int fd = descriptor(socket);
  for (;;) {
    // MSG_NOSIGNAL turns SIGPIPE on a closed connection into EPIPE.
    const ssize_t result = ::send(fd, data, size, MSG_NOSIGNAL);
    if (result >= 0) {
      *sent = static_cast<std::size_t>(result);
      return PortStatus::kOk;
    }
    if (errno != EINTR) {
      return transfer_status(errno, "send", fd);
    }
  }
}

PortStatus socket_receive(Socket socket, std::uint8_t* buffer, std::size_t capacity, std::size_t* received) {
  // A receive into no room would return 0 bytes, which reads as a close, so
  // capacity 0 is rejected.
  if (!is_valid_handle(socket) || buffer == nullptr || capacity == 0 || received == nullptr) {
    return PortStatus::kInvalidArgument;
  }
  *received = 0;
  const int fd = descriptor(socket);
  for (;;) {
    const ssize_t result = ::recv(fd, buffer, capacity, 0);
    if (result > 0) {
      *received = static_cast<std::size_t>(result);
      return PortStatus::kOk;
    }
    if (result == 0) {
      return PortStatus::kClosed;
    }
    if (errno != EINTR) {
      return transfer_status(errno, "recv", fd);
    }
  }
}

PortStatus socket_wait(Socket socket, bool want_read, bool want_write, std::uint32_t timeout_ms, bool* readable,
                       bool* writable) {
  if (readable != nullptr) {
    *readable = false;
  }
  if (writable != nullptr) {
    *writable = false;
  }
  if (!is_valid_handle(socket) || (!want_read && !want_write)) {
    return PortStatus::kInvalidArgument;
  }
  const int fd = descriptor(socket);
  pollfd entry{};
  entry.fd = fd;
  entry.events = static_cast<short>((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0));

  const std::uint64_t deadline = monotonic_ms() + timeout_ms;
  std::uint64_t remaining = timeout_ms;
  for (;;) {
    const int slice = remaining > INT_MAX ? INT_MAX : static_cast<int>(remaining);
    const int result = ::poll(&entry, 1, slice);
    if (result > 0) {
      break;
    }
    if (result == 0 && static_cast<std::uint64_t>(slice) == remaining) {
      return PortStatus::kTimeout;
    }
    if (result < 0 && errno != EINTR) {
      log_socket_error("poll", fd, errno);
      return PortStatus::kError;
    }
    // Interrupted by a signal, or one INT_MAX slice of a longer wait is over.
    const std::uint64_t now = monotonic_ms();
    if (now >= deadline) {
      return PortStatus::kTimeout;
    }
    remaining = deadline - now;
  }

  if ((entry.revents & POLLNVAL) != 0) {
    log_socket_error("poll", fd, EBADF);
    return PortStatus::kError;
  }
  // On an error or a hang-up the socket counts as ready for whatever was
  // requested, so that the next send or receive reports what happened.
  const bool failed = (entry.revents & (POLLERR | POLLHUP)) != 0;
  if (readable != nullptr) {
    *readable = want_read && (failed || (entry.revents & POLLIN) != 0);
  }
  if (writable != nullptr) {
    *writable = want_write && (failed || (entry.revents & POLLOUT) != 0);
  }
  return PortStatus::kOk;
}

void socket_close(Socket* socket) {
  if (socket == nullptr) {
    return;
  }
  if (!is_valid_handle(*socket)) {
    socket->handle = -1;
    return;
  }
  const int fd = descriptor(*socket);
  // The entry goes first: once close() returns, another thread may get the
  // same descriptor number from socket_connect().
  forget_endpoint(fd);
  // Linux releases the descriptor even when close() fails, so there is
  // nothing to retry.
  ::close(fd);
  socket->handle = -1;
}

}  // namespace ecq::port
