#pragma once
// TLS 1.2 over any Stream, with Mbed TLS 2.28.
//
// Two modes, both with ephemeral ECDH (forward secrecy):
//   - certificate: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 with P-256
//     certificates from the fleet CA, mutual. The device id is the subject CN
//     of the device's verified certificate; the device checks the
//     coordinator's certificate against `server_name` (a dNSName entry of its
//     subjectAltName: Mbed TLS 2.28 checks dNSName entries only, so tests on
//     127.0.0.1 use "localhost").
//   - PSK: TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 for devices too small
//     for certificates (2.28 has no ECDHE-PSK suite with GCM). Keys have at
//     most 32 bytes, and the device id is the PSK identity.
// TLS 1.0 and 1.1, which Debian's build also enables, are turned off.
//
// TlsStream is sans-I/O: it touches only the lower Stream it is given and the
// time passed to tick(). Drivers move bytes between a socket and a
// MemoryPipe (or hand it a socket Stream) and call tick() on timer events.
//
// Memory: Mbed TLS 2.28 as Debian builds it allocates from the heap during
// handshakes (it has no platform memory hooks there), so the runtime's
// no-allocation rule holds for established sessions, not for (re)handshakes.
//
// Time: Mbed TLS reads the wall clock with time() to check certificate
// validity. A board without a clock cannot check expiry; PSK mode has no
// certificates, and there a compromised key is revoked by deleting it.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "ecq/transport/stream.h"

namespace ecq::transport {

enum class TlsRole : std::uint8_t { kClient, kServer };
enum class TlsMode : std::uint8_t { kCertificate, kPsk };

/// Server side, PSK mode: stores the key for `identity` in key[0..*key_size)
/// (capacity 32 bytes) and returns true, or returns false for an unknown
/// identity.
using PskLookup = bool (*)(void* context, const std::string& identity, std::uint8_t* key, std::size_t* key_size);

/// Server side, certificate mode: returns true when the certificate with this
/// serial number (big-endian bytes) issued to `device_id` is revoked.
using RevocationCheck = bool (*)(void* context, const std::uint8_t* serial, std::size_t serial_size,
                                 const std::string& device_id);

struct TlsConfig {
  TlsRole role = TlsRole::kClient;
  TlsMode mode = TlsMode::kCertificate;

  // Certificate mode: PEM text of the fleet CA, this side's certificate and
  // its private key. A client may leave both empty; the coordinator then
  // rejects it for presenting no certificate.
  std::string ca_pem;
  std::string certificate_pem;
  std::string key_pem;
  /// Client: the coordinator's host name, checked against its certificate.
  std::string server_name;
  /// Server: rejects revoked device certificates (optional).
  RevocationCheck revocation_check = nullptr;
  void* revocation_context = nullptr;

  // PSK mode. Client: its identity (the device id) and key.
  std::string psk_identity;
  std::string psk;  ///< raw key bytes, 1 to 32
  /// Server: finds a device's key by identity.
  PskLookup psk_lookup = nullptr;
  void* psk_lookup_context = nullptr;

  /// A session whose handshake has not finished this long after start() fails.
  std::uint32_t handshake_timeout_ms = 10000;
  /// An established session that receives no byte for this long fails.
  /// The protocol above sends heartbeats to keep quiet sessions open.
  std::uint32_t idle_timeout_ms = 60000;
};

/// The shared part of many sessions of one role: parsed certificates, keys,
/// the random generator and Mbed TLS's configuration. Safe to share between
/// sessions on several threads (Debian's Mbed TLS has MBEDTLS_THREADING_C).
class TlsContext {
 public:
  TlsContext();
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  /// Parses the credentials and sets up the configuration. Returns false and
  /// stores a message naming the failing item in *error.
  bool init(const TlsConfig& config, std::string* error);

  const TlsConfig& config() const { return config_; }

  struct Impl;  ///< Mbed TLS state; opaque

 private:
  friend class TlsStream;
  bool init_certificates(std::string* error);
  bool init_own_certificate(std::string* error);
  bool init_psk(std::string* error);

  std::unique_ptr<Impl> impl_;
  TlsConfig config_;
};

/// One TLS session over a lower stream.
class TlsStream final : public Stream {
 public:
  TlsStream();
  ~TlsStream();

  /// Starts a session of `context`'s role over `lower`, both of which must
  /// outlive this object. `now_ms` is the monotonic time (for timeouts).
  bool start(TlsContext& context, Stream& lower, std::uint64_t now_ms, std::string* error);

  /// Advances the handshake and enforces the deadlines. Call it when bytes
  /// may have arrived and on a timer (every second or so).
  void tick(std::uint64_t now_ms);

  /// True once the handshake has completed.
  bool established() const { return state_ == State::kEstablished; }
  /// True after a failure or a timeout; error_message() describes it.
  bool failed() const { return state_ == State::kFailed; }

  /// True while encrypted bytes wait for the lower stream to accept them;
  /// drivers then wait for the socket to become writable.
  bool wants_write() const;

  /// Monotonic time of the last byte received, for heartbeat scheduling.
  std::uint64_t last_received_ms() const { return last_received_ms_; }

  /// The authenticated peer id after the handshake: the device certificate's
  /// CN or the PSK identity on the server, the coordinator's CN on a client.
  const std::string& peer_id() const { return peer_id_; }

  /// The serial number of the peer's certificate in lowercase hex without
  /// leading zeros (the form of ecq-pki's revocation list); empty in PSK mode.
  const std::string& peer_serial() const { return peer_serial_; }

  IoStatus read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) override;
  IoStatus write(const std::uint8_t* data, std::size_t size, std::size_t* done) override;
  /// Sends a close_notify alert, then closes the lower stream. Reading may go
  /// on until the peer's close arrives.
  void close() override;
  const char* error_message() const override { return error_.c_str(); }

  struct Impl;  ///< Mbed TLS state; opaque

 private:
  enum class State : std::uint8_t { kIdle, kHandshaking, kEstablished, kFailed };
  static int send_callback(void* context, const unsigned char* data, std::size_t size);
  static int receive_callback(void* context, unsigned char* buffer, std::size_t capacity);
  int lower_send(const std::uint8_t* data, std::size_t size);
  int lower_receive(std::uint8_t* buffer, std::size_t capacity);
  void fail(const std::string& message);
  void handshake_step();
  // Returns kOk when a read (or, when `sending`, a write) can go ahead, or the
  // status to report instead.
  IoStatus ready(bool sending);
  std::string describe_handshake_failure(int code) const;

  std::unique_ptr<Impl> impl_;
  TlsContext* context_ = nullptr;
  Stream* lower_ = nullptr;
  State state_ = State::kIdle;
  bool local_closed_ = false;  // close() was called
  bool peer_closed_ = false;   // the peer's close_notify or end of stream arrived
  std::uint64_t now_ms_ = 0;
  std::uint64_t started_ms_ = 0;
  std::uint64_t last_received_ms_ = 0;
  std::string peer_id_;
  std::string peer_serial_;
  std::string error_;
};

}  // namespace ecq::transport
