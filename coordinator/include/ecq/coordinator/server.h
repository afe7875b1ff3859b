#pragma once
// The coordinator's network side on one Asio io_context thread: TLS device
// connections (transport::AsioTlsServer), plain TCP behind
// --insecure-plaintext, the engine's tick timer, the revocation reload and
// the Prometheus metrics responder. The engine is driven from the
// io_context's thread only.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ecq/coordinator/engine.h"
#include "ecq/pki/coordinator_tls.h"
#include "ecq/transport/asio_tls.h"

namespace ecq::coordinator {

struct Endpoint {
  std::string address;
  std::uint16_t port = 0;
};

/// Parses "ADDR:PORT" ("[::1]:PORT" for IPv6). Returns false with a message
/// naming `flag` and the text.
bool parse_endpoint(const std::string& text, const char* flag, Endpoint* endpoint, std::string* error);

struct ServerConfig {
  Endpoint listen{"127.0.0.1", 7443};
  /// Plain TCP: ids come from hello and are unauthenticated.
  bool plaintext = false;
  /// A second TLS listener in PSK mode; unused when `psk_tls` is null.
  Endpoint psk_listen;
  /// Metrics responder; off when the address is empty.
  Endpoint metrics;
  std::uint32_t tick_ms = 50;  ///< engine tick interval
};

class Server {
 public:
  Server(asio::io_context& io, Engine& engine);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Starts listening. `tls` (certificate mode) is required unless
  /// config.plaintext; `psk_tls` adds the PSK listener. Both must outlive
  /// the server. Returns false with a message naming the address.
  bool start(const ServerConfig& config, pki::CoordinatorTls* tls, pki::CoordinatorTls* psk_tls,
             std::string* error);

  /// The bound device port (the TLS or plain listener).
  std::uint16_t port() const;
  std::uint16_t psk_port() const;
  std::uint16_t metrics_port() const;

  /// Reloads the revocation list and closes live connections whose
  /// certificate it now contains. Returns how many it closed, or -1 when the
  /// list could not be read (the old list stays in force; logged).
  int reload_revocations();

  /// Shuts the engine down (goodbye to every device, final snapshot), stops
  /// accepting and stops the timers. The io_context returns once the last
  /// connections have closed.
  void stop();

  /// Called on the io_context thread after a tick when the engine finished
  /// (its --rounds are done or its state directory failed).
  std::function<void()> on_finished;

  struct TlsPeer;
  struct PlainPeer;
  class MetricsResponder;

 private:
  transport::AsioTlsConnection::Handler accept_tls(transport::AsioTlsConnection& connection);
  void accept_plain();
  void wait_for_goodbyes(std::chrono::steady_clock::time_point deadline);
  void arm_tick();

  asio::io_context& io_;
  Engine& engine_;
  ServerConfig config_;
  pki::CoordinatorTls* tls_ = nullptr;
  std::unique_ptr<transport::TlsContext> tls_context_;
  std::unique_ptr<transport::AsioTlsServer> tls_server_;
  std::unique_ptr<transport::TlsContext> psk_context_;
  std::unique_ptr<transport::AsioTlsServer> psk_server_;
  asio::ip::tcp::acceptor plain_acceptor_;
  std::unique_ptr<MetricsResponder> metrics_;
  asio::steady_timer tick_timer_;
  std::vector<std::weak_ptr<TlsPeer>> tls_peers_;
  /// Live plaintext peers; the server owns them, so none outlives it.
  std::vector<std::shared_ptr<PlainPeer>> plain_peers_;
  bool stopped_ = false;
};

}  // namespace ecq::coordinator
