#pragma once
// The coordinator-side driver: TLS connections on an Asio io_context. Each
// connection waits for readability (and writability while TLS has bytes to
// flush) and ticks once a second for the deadlines. Errors arrive as
// asio::error_code, never as exceptions. Many connections share a few
// threads, which is also how one process simulates thousands of devices.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ecq/transport/asio_stream.h"
#include "ecq/transport/tls.h"

namespace ecq::transport {

class AsioTlsConnection : public std::enable_shared_from_this<AsioTlsConnection> {
 public:
  /// Called on the io_context's thread whenever the session may have made
  /// progress: after bytes arrive, after the handshake, and on every tick.
  /// Check stream().established() and stream().failed() there.
  using Handler = std::function<void(AsioTlsConnection&)>;

  /// Takes a connected socket; `context` must outlive the connection.
  AsioTlsConnection(asio::ip::tcp::socket socket, TlsContext& context);

  /// Starts the handshake and the waits. Keeps itself alive (shared_ptr)
  /// until the session fails or closes.
  void start(Handler handler);

  /// Closes the session (close_notify, then the socket's sending side).
  void close();

  /// Waits for the socket to become writable when TLS holds bytes it could
  /// not send yet, then runs the handler. Call it after writing to stream()
  /// outside the handler, e.g. when another connection's event produced the
  /// bytes; the handler's own writes are covered already.
  void flush_later();

  TlsStream& stream() { return tls_; }
  /// The peer's address, for logs.
  const std::string& remote() const { return remote_; }

 private:
  void wait_readable();
  void wait_writable();
  void arm_timer();
  void advance();
  void linger();
  void discard_until_closed();
  bool finished() const;

  AsioStream lower_;
  TlsContext& context_;
  TlsStream tls_;
  asio::steady_timer timer_;
  Handler handler_;
  std::string remote_;
  bool writing_ = false;
  bool stopped_ = false;
};

/// Accepts TCP connections and runs each as an AsioTlsConnection.
class AsioTlsServer {
 public:
  /// Called for each accepted connection before it starts, to set its handler.
  using Accepted = std::function<AsioTlsConnection::Handler(AsioTlsConnection&)>;

  AsioTlsServer(asio::io_context& io, TlsContext& context) : io_(io), context_(context), acceptor_(io) {}

  /// Listens on address:port (port 0 picks one; see port()). Returns false
  /// with a message naming the address on failure.
  bool listen(const std::string& address, std::uint16_t port, Accepted accepted, std::string* error);

  std::uint16_t port() const;
  void stop();

  /// Closes every live connection for which `predicate` returns true, e.g.
  /// those whose peer_serial() a reloaded revocation list now contains.
  /// Runs on the io_context's thread; returns how many it closed.
  std::size_t close_where(const std::function<bool(AsioTlsConnection&)>& predicate);

  /// Returns how many accepted connections are still open, lingering ones
  /// (closed, waiting for the peer's close) included.
  std::size_t live_connections() const;

 private:
  void accept_next();

  std::vector<std::weak_ptr<AsioTlsConnection>> connections_;
  asio::io_context& io_;
  TlsContext& context_;
  asio::ip::tcp::acceptor acceptor_;
  Accepted accepted_;
};

}  // namespace ecq::transport
