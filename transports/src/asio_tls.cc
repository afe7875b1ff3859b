#include "ecq/transport/asio_tls.h"

#include <algorithm>
#include <chrono>

#include "ecq/port/clock.h"
#include "ecq/port/log.h"

namespace ecq::transport {
namespace {

constexpr auto kTickInterval = std::chrono::seconds(1);
constexpr auto kLingerTime = std::chrono::seconds(2);

std::string describe_endpoint(const asio::ip::tcp::socket& socket) {
  asio::error_code error;
  const asio::ip::tcp::endpoint endpoint = socket.remote_endpoint(error);
  return error ? std::string("unknown peer") : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

AsioTlsConnection::AsioTlsConnection(asio::ip::tcp::socket socket, TlsContext& context)
    : lower_(std::move(socket)),
      context_(context),
      timer_(static_cast<asio::io_context&>(lower_.socket().get_executor().context())),
      remote_(describe_endpoint(lower_.socket())) {}

void AsioTlsConnection::start(Handler handler) {
  handler_ = std::move(handler);
  std::string error;
  if (!tls_.start(context_, lower_, port::monotonic_ms(), &error)) {
    port::log_write(LogLevel::kError, ("TLS start for " + remote_ + " failed: " + error).c_str());
    return;
  }
  wait_readable();
  arm_timer();
  advance();
}

bool AsioTlsConnection::finished() const { return stopped_ || tls_.failed(); }

void AsioTlsConnection::wait_readable() {
  auto self = shared_from_this();
  lower_.socket().async_wait(asio::ip::tcp::socket::wait_read, [self](const asio::error_code& error) {
    if (error == asio::error::operation_aborted || self->finished()) {
      return;
    }
    self->advance();
    if (!self->finished()) {
      self->wait_readable();
    }
  });
}

void AsioTlsConnection::wait_writable() {
  if (writing_) {
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  lower_.socket().async_wait(asio::ip::tcp::socket::wait_write, [self](const asio::error_code& error) {
    self->writing_ = false;
    if (error != asio::error::operation_aborted && !self->finished()) {
      self->advance();
    }
  });
}

void AsioTlsConnection::arm_timer() {
  auto self = shared_from_this();
  timer_.expires_after(kTickInterval);
  timer_.async_wait([self](const asio::error_code& error) {
    if (error == asio::error::operation_aborted || self->finished()) {
      return;
    }
    self->advance();
    if (!self->finished()) {
      self->arm_timer();
    }
  });
}

void AsioTlsConnection::advance() {
  tls_.tick(port::monotonic_ms());
  if (handler_) {
    handler_(*this);
  }
  if (tls_.failed()) {
    linger();
    return;
  }
  if (tls_.wants_write()) {
    wait_writable();
  }
}

// Ends a failed session without losing its alert: closing a socket whose
// receive buffer still contains bytes sends a reset, which can overtake the
// alert. So the connection shuts down its sending side, discards what the
// peer still sends until the peer closes or kLingerTime passes, then closes.
void AsioTlsConnection::linger() {
  stopped_ = true;
  timer_.cancel();
  asio::error_code ignored;
  lower_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  auto self = shared_from_this();
  timer_.expires_after(kLingerTime);
  timer_.async_wait([self](const asio::error_code& error) {
    if (error != asio::error::operation_aborted) {
      asio::error_code ignored_close;
      self->lower_.socket().close(ignored_close);
    }
  });
  discard_until_closed();
}

void AsioTlsConnection::discard_until_closed() {
  auto self = shared_from_this();
  lower_.socket().async_wait(asio::ip::tcp::socket::wait_read, [self](const asio::error_code& error) {
    if (error) {
      return;
    }
    std::uint8_t scratch[512];
    asio::error_code read_error;
    while (self->lower_.socket().read_some(asio::buffer(scratch), read_error) > 0) {
    }
    if (read_error == asio::error::would_block || read_error == asio::error::try_again) {
      self->discard_until_closed();
      return;
    }
    asio::error_code ignored;
    self->timer_.cancel();
    self->lower_.socket().close(ignored);
  });
}

void AsioTlsConnection::flush_later() {
  if (!finished() && tls_.wants_write()) {
    wait_writable();
  }
}

void AsioTlsConnection::close() {
  tls_.close();
  linger();
}

bool AsioTlsServer::listen(const std::string& address, std::uint16_t port, Accepted accepted, std::string* error) {
  asio::error_code code;
  const asio::ip::address ip = asio::ip::make_address(address, code);
  const asio::ip::tcp::endpoint endpoint(ip, port);
  if (!code) {
    acceptor_.open(endpoint.protocol(), code);
  }
  if (!code) {
    acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), code);
  }
  if (!code) {
    acceptor_.bind(endpoint, code);
  }
  if (!code) {
    acceptor_.listen(asio::socket_base::max_listen_connections, code);
  }
  if (code) {
    *error = "listening on " + address + ":" + std::to_string(port) + " failed: " + code.message();
    return false;
  }
  accepted_ = std::move(accepted);
  accept_next();
  return true;
}

std::uint16_t AsioTlsServer::port() const {
  asio::error_code ignored;
  return acceptor_.local_endpoint(ignored).port();
}

void AsioTlsServer::stop() {
  asio::error_code ignored;
  acceptor_.close(ignored);
}

std::size_t AsioTlsServer::close_where(const std::function<bool(AsioTlsConnection&)>& predicate) {
  std::size_t closed = 0;
  std::vector<std::weak_ptr<AsioTlsConnection>> alive;
  for (const std::weak_ptr<AsioTlsConnection>& entry : connections_) {
    const std::shared_ptr<AsioTlsConnection> connection = entry.lock();
    if (!connection) {
      continue;
    }
    if (predicate(*connection)) {
      port::log_write(LogLevel::kInfo, ("closing connection of " + connection->stream().peer_id() + " from " +
                                        connection->remote() + " (serial " + connection->stream().peer_serial() + ")")
                                           .c_str());
      connection->close();
      ++closed;
    } else {
      alive.push_back(entry);
    }
  }
  connections_.swap(alive);
  return closed;
}

std::size_t AsioTlsServer::live_connections() const {
  return static_cast<std::size_t>(
      std::count_if(connections_.begin(), connections_.end(),
                    [](const std::weak_ptr<AsioTlsConnection>& entry) { return !entry.expired(); }));
}

void AsioTlsServer::accept_next() {
  acceptor_.async_accept([this](const asio::error_code& error, asio::ip::tcp::socket socket) {
    if (error == asio::error::operation_aborted) {
      return;
    }
    if (error) {
      port::log_write(LogLevel::kWarning, ("accepting a connection failed: " + error.message()).c_str());
    } else {
      auto connection = std::make_shared<AsioTlsConnection>(std::move(socket), context_);
      connections_.push_back(connection);
      AsioTlsConnection::Handler handler = accepted_ ? accepted_(*connection) : AsioTlsConnection::Handler{};
      connection->start(std::move(handler));
    }
    accept_next();
  });
}

}  // namespace ecq::transport
