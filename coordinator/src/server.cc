#include "ecq/coordinator/server.h"

#include <algorithm>
#include <asio/read_until.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <deque>

#include "ecq/coordinator/in_process.h"
#include "ecq/coordinator/metrics.h"
#include "ecq/port/clock.h"
#include "ecq/runtime/log.h"
#include "ecq/transport/asio_stream.h"

namespace ecq::coordinator {
namespace {

// Largest HTTP request head the metrics responder reads.
constexpr std::size_t kMaxRequestBytes = 8192;
// Maximum time the io_context gets after stop() to flush goodbyes; it stops
// sooner once every connection has closed.
constexpr auto kStopGrace = std::chrono::seconds(3);

// Opens, binds and listens; the message names `what` and the address.
bool open_acceptor(const Endpoint& endpoint, const char* what, asio::ip::tcp::acceptor* acceptor,
                   std::string* error) {
  asio::error_code code;
  const asio::ip::tcp::endpoint where(asio::ip::make_address(endpoint.address, code), endpoint.port);
  if (!code) {
    acceptor->open(where.protocol(), code);
  }
  if (!code) {
    acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true), code);
  }
  if (!code) {
    acceptor->bind(where, code);
  }
  if (!code) {
    acceptor->listen(asio::socket_base::max_listen_connections, code);
  }
  if (code) {
    *error = std::string(what) + " on " + endpoint.address + ":" + std::to_string(endpoint.port) +
             " failed: " + code.message();
    return false;
  }
  return true;
}

}  // namespace

bool parse_endpoint(const std::string& text, const char* flag, Endpoint* endpoint, std::string* error) {
  const std::size_t colon = text.rfind(':');
  std::string address = colon == std::string::npos ? std::string() : text.substr(0, colon);
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  const std::string port_text = colon == std::string::npos ? std::string() : text.substr(colon + 1);
  char* end = nullptr;
  const unsigned long port = std::strtoul(port_text.c_str(), &end, 10);
  asio::error_code code;
  asio::ip::make_address(address, code);
  if (address.empty() || port_text.empty() || *end != '\0' || port > 65535 || code) {
    *error = std::string(flag) + " \"" + text + "\" is not ADDR:PORT with an IP address and a port 0 to 65535, " +
             "e.g. 127.0.0.1:7443 or [::1]:7443";
    return false;
  }
  endpoint->address = address;
  endpoint->port = static_cast<std::uint16_t>(port);
  return true;
}

// A TLS connection's session: moves application bytes between the TLS
// stream and the engine and queues what TLS does not take at once.
struct Server::TlsPeer final : SessionOutput {
  TlsPeer(Engine& owner, transport::AsioTlsConnection& tls_connection) : engine(owner), connection(&tls_connection) {}
  ~TlsPeer() {
    if (opened && !closed) {
      engine.close_session(id, "connection ended", port::monotonic_ms());
    }
  }

  void progress() {
    transport::TlsStream& stream = connection->stream();
    const std::uint64_t now = port::monotonic_ms();
    if (closed) {
      return;
    }
    if (!opened) {
      if (stream.failed()) {
        log_message(LogLevel::kWarning, "TLS handshake with %s failed: %s", connection->remote().c_str(),
                    stream.error_message());
        closed = true;
        return;
      }
      if (!stream.established()) {
        return;
      }
      opened = true;
      log_message(LogLevel::kInfo, "connection from %s: device %s authenticated by TLS (serial %s)",
                  connection->remote().c_str(), stream.peer_id().c_str(),
                  stream.peer_serial().empty() ? "none, PSK" : stream.peer_serial().c_str());
      id = engine.open_session(stream.peer_id(), true, this, now);
    }
    flush();
    const transport::IoStatus status =
        read_into_engine(engine, id, stream, now, [this] { return !closed && !closing; });
    const bool ended = status == transport::IoStatus::kClosed || status == transport::IoStatus::kError ||
                       (status == transport::IoStatus::kWouldBlock && stream.failed());
    if (ended) {
      closed = true;
      engine.close_session(id, end_of_stream_reason(status, stream), now);
      connection->close();
    }
    flush();
  }

  void send(const std::uint8_t* data, std::size_t size) override {
    if (closed || closing) {
      return;
    }
    queue.insert(queue.end(), data, data + size);
    flush();
  }

  void close() override {
    closing = true;
    flush();
  }

  // Bytes TLS does not take at once wait until the socket is writable again,
  // also when another connection's event produced them.
  void flush() {
    if (!closed && connection->stream().established()) {
      (void)write_queued(&queue, connection->stream());
      connection->flush_later();
    }
    if (closing && !closed && queue.empty()) {
      closed = true;
      connection->close();
    }
  }

  Engine& engine;
  transport::AsioTlsConnection* connection;
  SessionId id = 0;
  std::deque<std::uint8_t> queue;
  bool opened = false;
  bool closing = false;
  bool closed = false;
};

// A plain TCP connection's session (--insecure-plaintext).
struct Server::PlainPeer final : SessionOutput, std::enable_shared_from_this<PlainPeer> {
  PlainPeer(Engine& owner, asio::ip::tcp::socket socket) : engine(owner), stream(std::move(socket)) {
    asio::error_code code;
    const asio::ip::tcp::endpoint endpoint = stream.socket().remote_endpoint(code);
    remote = code ? std::string("unknown peer") : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

  void start() {
    log_message(LogLevel::kInfo, "plaintext connection from %s: device id will come from hello, unauthenticated",
                remote.c_str());
    id = engine.open_session("", false, this, port::monotonic_ms());
    wait_readable();
  }

  void wait_readable() {
    std::shared_ptr<PlainPeer> keep = shared_from_this();
    stream.socket().async_wait(asio::ip::tcp::socket::wait_read, [keep](const asio::error_code& code) {
      if (code || keep->finished) {
        return;
      }
      keep->on_readable();
      if (!keep->finished && !keep->closing) {
        keep->wait_readable();
      }
    });
  }

  void on_readable() {
    const std::uint64_t now = port::monotonic_ms();
    const transport::IoStatus status =
        read_into_engine(engine, id, stream, now, [this] { return !finished && !closing; });
    if (status == transport::IoStatus::kClosed || status == transport::IoStatus::kError) {
      engine.close_session(id, end_of_stream_reason(status, stream), now);
      finish();
    }
  }

  void send(const std::uint8_t* data, std::size_t size) override {
    if (finished || closing) {
      return;
    }
    queue.insert(queue.end(), data, data + size);
    flush();
  }

  void close() override {
    closing = true;
    flush();
  }

  void flush() {
    if (finished) {
      return;
    }
    const transport::IoStatus status = write_queued(&queue, stream);
    if (status == transport::IoStatus::kWouldBlock) {
      wait_writable();
      return;
    }
    if (status != transport::IoStatus::kOk) {
      log_message(LogLevel::kWarning, "writing to %s failed: %s", remote.c_str(), stream.error_message());
      engine.close_session(id, "write failed", port::monotonic_ms());
      finish();
      return;
    }
    if (closing && queue.empty()) {
      finish();
    }
  }

  void wait_writable() {
    if (writing) {
      return;
    }
    writing = true;
    std::shared_ptr<PlainPeer> keep = shared_from_this();
    stream.socket().async_wait(asio::ip::tcp::socket::wait_write, [keep](const asio::error_code& code) {
      keep->writing = false;
      if (!code && !keep->finished) {
        keep->flush();
      }
    });
  }

  void finish() {
    if (finished) {
      return;
    }
    finished = true;
    asio::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
  }

  Engine& engine;
  transport::AsioStream stream;
  std::string remote;
  SessionId id = 0;
  std::deque<std::uint8_t> queue;
  bool closing = false;
  bool finished = false;
  bool writing = false;
};

// A minimal HTTP/1.1 responder: GET /metrics returns the counters, anything
// else 404; one request per connection.
class Server::MetricsResponder {
 public:
  MetricsResponder(asio::io_context& io, Engine& engine) : engine_(engine), acceptor_(io) {}

  bool listen(const Endpoint& endpoint, std::string* error) {
    if (!open_acceptor(endpoint, "metrics listener", &acceptor_, error)) {
      *error += "; choose another address with --metrics-listen ADDR:PORT, or turn metrics off with "
                "--metrics-listen \"\"";
      return false;
    }
    accept_next();
    return true;
  }

  std::uint16_t port() const {
    asio::error_code ignored;
    return acceptor_.local_endpoint(ignored).port();
  }

  void stop() {
    asio::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  struct Exchange {
    explicit Exchange(asio::ip::tcp::socket s) : socket(std::move(s)) {}
    asio::ip::tcp::socket socket;
    std::string request;
    std::string response;
  };

  void accept_next() {
    acceptor_.async_accept([this](const asio::error_code& code, asio::ip::tcp::socket socket) {
      if (code == asio::error::operation_aborted) {
        return;
      }
      if (code) {
        log_message(LogLevel::kWarning, "metrics: accepting a connection failed: %s", code.message().c_str());
      } else {
        serve(std::make_shared<Exchange>(std::move(socket)));
      }
      accept_next();
    });
  }

  void serve(const std::shared_ptr<Exchange>& exchange) {
    asio::async_read_until(
        exchange->socket, asio::dynamic_buffer(exchange->request, kMaxRequestBytes), "\r\n\r\n",
        [this, exchange](const asio::error_code& code, std::size_t) {
          if (code) {
            return;  // the client went away or sent more than kMaxRequestBytes of headers
          }
          const bool metrics = exchange->request.compare(0, 13, "GET /metrics ") == 0;
          const std::string body =
              metrics ? render_metrics(engine_.counters(), engine_.model_version(), engine_.open_round_id())
                      : std::string("not found; the metrics are at GET /metrics\n");
          exchange->response = std::string(metrics ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 404 Not Found\r\n") +
                               (metrics ? "Content-Type: text/plain; version=0.0.4\r\n"
                                        : "Content-Type: text/plain\r\n") +
                               "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                               body;
          asio::async_write(exchange->socket, asio::buffer(exchange->response),
                            [exchange](const asio::error_code&, std::size_t) {
                              asio::error_code ignored;
                              exchange->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
                              exchange->socket.close(ignored);
                            });
        });
  }

  Engine& engine_;
  asio::ip::tcp::acceptor acceptor_;
};

Server::Server(asio::io_context& io, Engine& engine)
    : io_(io), engine_(engine), plain_acceptor_(io), tick_timer_(io) {}

Server::~Server() {
  // Close what is still open; pending waits then end with operation_aborted.
  for (const std::shared_ptr<PlainPeer>& peer : plain_peers_) peer->finish();
}

bool Server::start(const ServerConfig& config, pki::CoordinatorTls* tls, pki::CoordinatorTls* psk_tls,
                   std::string* error) {
  config_ = config;
  tls_ = tls;
  if (config.plaintext) {
    log_message(LogLevel::kWarning, "--insecure-plaintext: device traffic on %s:%u is unencrypted and device ids "
                                    "are unauthenticated; use this only on a trusted network or in simulations",
                config.listen.address.c_str(), static_cast<unsigned>(config.listen.port));
    if (!open_acceptor(config.listen, "plaintext listener", &plain_acceptor_, error)) {
      return false;
    }
    accept_plain();
  } else {
    if (tls == nullptr) {
      *error = "TLS credentials are missing: pass --pki DIR or --ca, --cert and --key";
      return false;
    }
    tls_context_ = std::make_unique<transport::TlsContext>();
    if (!tls_context_->init(tls->config(), error)) {
      return false;
    }
    tls_server_ = std::make_unique<transport::AsioTlsServer>(io_, *tls_context_);
    if (!tls_server_->listen(
            config.listen.address, config.listen.port,
            [this](transport::AsioTlsConnection& connection) { return accept_tls(connection); }, error)) {
      return false;
    }
  }
  if (psk_tls != nullptr && !config.psk_listen.address.empty()) {
    psk_context_ = std::make_unique<transport::TlsContext>();
    if (!psk_context_->init(psk_tls->config(), error)) {
      return false;
    }
    psk_server_ = std::make_unique<transport::AsioTlsServer>(io_, *psk_context_);
    if (!psk_server_->listen(
            config.psk_listen.address, config.psk_listen.port,
            [this](transport::AsioTlsConnection& connection) { return accept_tls(connection); }, error)) {
      return false;
    }
  }
  if (!config.metrics.address.empty()) {
    metrics_ = std::make_unique<MetricsResponder>(io_, engine_);
    if (!metrics_->listen(config.metrics, error)) {
      return false;
    }
  }
  log_message(LogLevel::kInfo, "coordinator listening on %s:%u (%s)%s%s", config.listen.address.c_str(),
              static_cast<unsigned>(port()), config.plaintext ? "plaintext" : "TLS",
              psk_server_ ? (", PSK on port " + std::to_string(psk_port())).c_str() : "",
              metrics_ ? (", metrics on port " + std::to_string(metrics_port())).c_str() : "");
  arm_tick();
  return true;
}

transport::AsioTlsConnection::Handler Server::accept_tls(transport::AsioTlsConnection& connection) {
  auto peer = std::make_shared<TlsPeer>(engine_, connection);
  tls_peers_.push_back(peer);
  return [peer](transport::AsioTlsConnection&) { peer->progress(); };
}

void Server::accept_plain() {
  plain_acceptor_.async_accept([this](const asio::error_code& code, asio::ip::tcp::socket socket) {
    if (code == asio::error::operation_aborted) {
      return;
    }
    if (code) {
      log_message(LogLevel::kWarning, "accepting a connection failed: %s", code.message().c_str());
    } else {
      // Finished peers are dropped here; the server holds the live ones.
      plain_peers_.erase(std::remove_if(plain_peers_.begin(), plain_peers_.end(),
                                        [](const std::shared_ptr<PlainPeer>& peer) { return peer->finished; }),
                         plain_peers_.end());
      plain_peers_.push_back(std::make_shared<PlainPeer>(engine_, std::move(socket)));
      plain_peers_.back()->start();
    }
    accept_plain();
  });
}

void Server::arm_tick() {
  tick_timer_.expires_after(std::chrono::milliseconds(config_.tick_ms));
  tick_timer_.async_wait([this](const asio::error_code& code) {
    if (code || stopped_) {
      return;
    }
    engine_.tick(port::monotonic_ms());
    if (engine_.finished() && on_finished) {
      on_finished();
    }
    if (!stopped_) {
      arm_tick();
    }
  });
}

std::uint16_t Server::port() const {
  if (tls_server_) {
    return tls_server_->port();
  }
  asio::error_code ignored;
  return plain_acceptor_.local_endpoint(ignored).port();
}

std::uint16_t Server::psk_port() const { return psk_server_ ? psk_server_->port() : 0; }

std::uint16_t Server::metrics_port() const { return metrics_ ? metrics_->port() : 0; }

int Server::reload_revocations() {
  if (tls_ == nullptr || !tls_server_) {
    return 0;
  }
  std::string error;
  if (!tls_->reload_revocations(&error)) {
    log_message(LogLevel::kError, "reloading the revocation list failed, the old list stays in force: %s",
                error.c_str());
    return -1;
  }
  log_message(LogLevel::kInfo, "revocation list reloaded: %zu entries", tls_->revocations().entries().size());
  const std::size_t closed = tls_server_->close_where([this](transport::AsioTlsConnection& connection) {
    const std::string& serial = connection.stream().peer_serial();
    if (!connection.stream().established() || serial.empty() || !tls_->is_revoked(serial)) {
      return false;
    }
    log_message(LogLevel::kInfo, "device %s: certificate %s is now revoked; closing its connection",
                connection.stream().peer_id().c_str(), serial.c_str());
    for (const std::weak_ptr<TlsPeer>& entry : tls_peers_) {
      const std::shared_ptr<TlsPeer> peer = entry.lock();
      if (peer && peer->connection == &connection && peer->opened && !peer->closed) {
        peer->closed = true;
        engine_.close_session(peer->id, "certificate revoked", port::monotonic_ms());
      }
    }
    return true;
  });
  std::vector<std::weak_ptr<TlsPeer>> alive;
  for (const std::weak_ptr<TlsPeer>& entry : tls_peers_) {
    if (!entry.expired()) {
      alive.push_back(entry);
    }
  }
  tls_peers_.swap(alive);
  return static_cast<int>(closed);
}

void Server::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  engine_.shutdown(port::monotonic_ms());
  if (tls_server_) {
    tls_server_->stop();
  }
  if (psk_server_) {
    psk_server_->stop();
  }
  asio::error_code ignored;
  plain_acceptor_.close(ignored);
  if (metrics_) {
    metrics_->stop();
  }
  wait_for_goodbyes(std::chrono::steady_clock::now() + kStopGrace);
}

// Stops the io_context once every connection has sent its goodbye and closed,
// or at `deadline`.
void Server::wait_for_goodbyes(std::chrono::steady_clock::time_point deadline) {
  tick_timer_.expires_after(std::chrono::milliseconds(20));
  tick_timer_.async_wait([this, deadline](const asio::error_code& code) {
    if (code) {
      return;
    }
    const bool plain_open = std::any_of(plain_peers_.begin(), plain_peers_.end(),
                                        [](const std::shared_ptr<PlainPeer>& peer) { return !peer->finished; });
    const bool tls_open = (tls_server_ && tls_server_->live_connections() > 0) ||
                          (psk_server_ && psk_server_->live_connections() > 0);
    if ((!plain_open && !tls_open) || std::chrono::steady_clock::now() >= deadline) {
      io_.stop();
      return;
    }
    wait_for_goodbyes(deadline);
  });
}

}  // namespace ecq::coordinator
