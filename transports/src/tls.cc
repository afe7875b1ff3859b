#include "ecq/transport/tls.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>

#include <cstdio>
#include <cstring>

#include "ecq/port/entropy.h"

namespace ecq::transport {
namespace {

constexpr std::size_t kMaxPskBytes = 32;
const int kCertificateSuites[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0};
const int kPskSuites[] = {MBEDTLS_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, 0};
const mbedtls_ecp_group_id kCurves[] = {MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_NONE};

std::string mbedtls_text(int code) {
  char text[160];
  mbedtls_strerror(code, text, sizeof text);
  return std::string(text) + " (-0x" + [code] {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%04X", static_cast<unsigned>(-code));
    return std::string(hex);
  }() + ")";
}

// Feeds Mbed TLS's entropy pool from the platform port.
int port_entropy(void*, unsigned char* output, std::size_t size, std::size_t* produced) {
  if (port::entropy_fill(output, size) != port::PortStatus::kOk) {
    return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
  }
  *produced = size;
  return 0;
}

// Returns the subject CN of a certificate, or "".
std::string common_name(const mbedtls_x509_crt* certificate) {
  for (const mbedtls_x509_name* name = &certificate->subject; name != nullptr; name = name->next) {
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0) {
      return std::string(reinterpret_cast<const char*>(name->val.p), name->val.len);
    }
  }
  return "";
}

// Returns big-endian serial bytes as lowercase hex without leading zeros.
std::string serial_hex(const unsigned char* serial, std::size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (std::size_t i = 0; i < size; ++i) {
    hex.push_back(kDigits[serial[i] >> 4]);
    hex.push_back(kDigits[serial[i] & 0xF]);
  }
  const std::size_t first = hex.find_first_not_of('0');
  return first == std::string::npos ? "0" : hex.substr(first);
}

// Explains the certificate verification flags in one line.
std::string verify_text(std::uint32_t flags) {
  char text[512];
  const int length = mbedtls_x509_crt_verify_info(text, sizeof text, "", flags);
  std::string result = length > 0 ? std::string(text, static_cast<std::size_t>(length)) : "unknown reason";
  for (char& c : result) {
    c = c == '\n' ? ';' : c;
  }
  while (!result.empty() && (result.back() == ';' || result.back() == ' ')) {
    result.pop_back();
  }
  return result;
}

}  // namespace

struct TlsContext::Impl {
  Impl() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&random);
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&certificate);
    mbedtls_pk_init(&key);
  }
  ~Impl() {
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&certificate);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ssl_config_free(&conf);
    mbedtls_ctr_drbg_free(&random);
    mbedtls_entropy_free(&entropy);
  }
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context random;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt certificate;
  mbedtls_pk_context key;
};

struct TlsStream::Impl {
  Impl() { mbedtls_ssl_init(&ssl); }
  ~Impl() { mbedtls_ssl_free(&ssl); }
  mbedtls_ssl_context ssl;
  TlsStream* owner = nullptr;
  std::string psk_identity;  // what the client claimed, server side
};

namespace {

// Server, certificate mode: marks revoked device certificates.
int verify_callback(void* context, mbedtls_x509_crt* certificate, int depth, std::uint32_t* flags) {
  const auto* tls = static_cast<const TlsContext*>(context);
  const TlsConfig& config = tls->config();
  if (depth == 0 && config.revocation_check != nullptr &&
      config.revocation_check(config.revocation_context, certificate->serial.p, certificate->serial.len,
                              common_name(certificate))) {
    *flags |= MBEDTLS_X509_BADCERT_REVOKED;
  }
  return 0;
}

// Server, PSK mode: looks up the key of the identity the client sent.
int psk_callback(void* context, mbedtls_ssl_context* ssl, const unsigned char* identity, std::size_t identity_size) {
  const auto* tls = static_cast<const TlsContext*>(context);
  const TlsConfig& config = tls->config();
  auto* session = static_cast<TlsStream::Impl*>(ssl->p_bio);
  session->psk_identity.assign(reinterpret_cast<const char*>(identity), identity_size);
  std::uint8_t key[kMaxPskBytes];
  std::size_t key_size = 0;
  if (config.psk_lookup == nullptr ||
      !config.psk_lookup(config.psk_lookup_context, session->psk_identity, key, &key_size) || key_size == 0 ||
      key_size > kMaxPskBytes) {
    return -1;  // Mbed TLS then sends an unknown_psk_identity alert
  }
  const int result = mbedtls_ssl_set_hs_psk(ssl, key, key_size);
  mbedtls_platform_zeroize(key, sizeof key);
  return result;
}

}  // namespace

TlsContext::TlsContext() : impl_(new Impl) {}
TlsContext::~TlsContext() = default;

bool TlsContext::init(const TlsConfig& config, std::string* error) {
  config_ = config;
  Impl& m = *impl_;
  const bool server = config.role == TlsRole::kServer;
  int result = mbedtls_entropy_add_source(&m.entropy, port_entropy, nullptr, 32, MBEDTLS_ENTROPY_SOURCE_STRONG);
  if (result == 0) {
    static const char kPersonalization[] = "ecq transport";
    result = mbedtls_ctr_drbg_seed(&m.random, mbedtls_entropy_func, &m.entropy,
                                   reinterpret_cast<const unsigned char*>(kPersonalization), sizeof kPersonalization);
  }
  if (result != 0) {
    *error = "seeding the random generator failed: " + mbedtls_text(result);
    return false;
  }
  result = mbedtls_ssl_config_defaults(&m.conf, server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                       MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (result != 0) {
    *error = "TLS configuration failed: " + mbedtls_text(result);
    return false;
  }
  mbedtls_ssl_conf_min_version(&m.conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&m.conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_rng(&m.conf, mbedtls_ctr_drbg_random, &m.random);
  mbedtls_ssl_conf_curves(&m.conf, kCurves);
  return config.mode == TlsMode::kCertificate ? init_certificates(error) : init_psk(error);
}

bool TlsContext::init_certificates(std::string* error) {
  Impl& m = *impl_;
  const TlsConfig& config = config_;
  mbedtls_ssl_conf_ciphersuites(&m.conf, kCertificateSuites);
  auto parse = [error](mbedtls_x509_crt* out, const std::string& pem, const char* what) {
    const int result = mbedtls_x509_crt_parse(out, reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1);
    if (result != 0) {
      *error = std::string("parsing the ") + what + " certificate failed: " + mbedtls_text(result) +
               "; pass PEM text as ecq-pki writes it";
    }
    return result == 0;
  };
  if (!parse(&m.ca, config.ca_pem, "CA")) {
    return false;
  }
  // A device without credentials still connects, so that the coordinator can
  // name the problem; the coordinator always needs its own.
  const bool anonymous = config.role == TlsRole::kClient && config.certificate_pem.empty() && config.key_pem.empty();
  if (!anonymous && !init_own_certificate(error)) {
    return false;
  }
  mbedtls_ssl_conf_ca_chain(&m.conf, &m.ca, nullptr);
  mbedtls_ssl_conf_authmode(&m.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  if (config.role == TlsRole::kServer) {
    mbedtls_ssl_conf_verify(&m.conf, verify_callback, this);
  } else if (config.server_name.empty()) {
    *error = "server_name is empty: a device must name the coordinator host its certificate is checked against";
    return false;
  }
  return true;
}

bool TlsContext::init_own_certificate(std::string* error) {
  Impl& m = *impl_;
  const TlsConfig& config = config_;
  int result =
      mbedtls_x509_crt_parse(&m.certificate, reinterpret_cast<const unsigned char*>(config.certificate_pem.c_str()),
                             config.certificate_pem.size() + 1);
  if (result != 0) {
    *error = "parsing the own certificate failed: " + mbedtls_text(result) + "; pass PEM text as ecq-pki writes it";
    return false;
  }
  result = mbedtls_pk_parse_key(&m.key, reinterpret_cast<const unsigned char*>(config.key_pem.c_str()),
                                config.key_pem.size() + 1, nullptr, 0);
  if (result == 0) {
    result = mbedtls_ssl_conf_own_cert(&m.conf, &m.certificate, &m.key);
  }
  if (result != 0) {
    *error = "loading the private key failed: " + mbedtls_text(result) + "; pass the PEM key matching the certificate";
    return false;
  }
  return true;
}

bool TlsContext::init_psk(std::string* error) {
  Impl& m = *impl_;
  const TlsConfig& config = config_;
  mbedtls_ssl_conf_ciphersuites(&m.conf, kPskSuites);
  if (config.role == TlsRole::kServer) {
    if (config.psk_lookup == nullptr) {
      *error = "psk_lookup is not set: a PSK server needs it to find each device's key";
      return false;
    }
    mbedtls_ssl_conf_psk_cb(&m.conf, psk_callback, this);
    return true;
  }
  if (config.psk.empty() || config.psk.size() > kMaxPskBytes || config.psk_identity.empty()) {
    *error = "a PSK device needs a key of 1 to 32 bytes (found " + std::to_string(config.psk.size()) +
             ") and a non-empty identity";
    return false;
  }
  const int result = mbedtls_ssl_conf_psk(
      &m.conf, reinterpret_cast<const unsigned char*>(config.psk.data()), config.psk.size(),
      reinterpret_cast<const unsigned char*>(config.psk_identity.data()), config.psk_identity.size());
  if (result != 0) {
    *error = "setting the PSK failed: " + mbedtls_text(result);
    return false;
  }
  return true;
}

int TlsStream::send_callback(void* context, const unsigned char* data, std::size_t size) {
  return static_cast<TlsStream::Impl*>(context)->owner->lower_send(data, size);
}

int TlsStream::receive_callback(void* context, unsigned char* buffer, std::size_t capacity) {
  return static_cast<TlsStream::Impl*>(context)->owner->lower_receive(buffer, capacity);
}

TlsStream::TlsStream() : impl_(new Impl) { impl_->owner = this; }
TlsStream::~TlsStream() = default;

int TlsStream::lower_send(const std::uint8_t* data, std::size_t size) {
  std::size_t done = 0;
  switch (lower_->write(data, size, &done)) {
    case IoStatus::kOk: return static_cast<int>(done);
    case IoStatus::kWouldBlock: return MBEDTLS_ERR_SSL_WANT_WRITE;
    case IoStatus::kClosed: return MBEDTLS_ERR_NET_CONN_RESET;
    case IoStatus::kError: break;
  }
  return MBEDTLS_ERR_NET_SEND_FAILED;
}

int TlsStream::lower_receive(std::uint8_t* buffer, std::size_t capacity) {
  std::size_t done = 0;
  switch (lower_->read(buffer, capacity, &done)) {
    case IoStatus::kOk: last_received_ms_ = now_ms_; return static_cast<int>(done);
    case IoStatus::kWouldBlock: return MBEDTLS_ERR_SSL_WANT_READ;
    case IoStatus::kClosed: return 0;
    case IoStatus::kError: break;
  }
  return MBEDTLS_ERR_NET_RECV_FAILED;
}

bool TlsStream::start(TlsContext& context, Stream& lower, std::uint64_t now_ms, std::string* error) {
  context_ = &context;
  lower_ = &lower;
  now_ms_ = started_ms_ = last_received_ms_ = now_ms;
  int result = mbedtls_ssl_setup(&impl_->ssl, &context.impl_->conf);
  const TlsConfig& config = context.config();
  if (result == 0 && config.role == TlsRole::kClient && config.mode == TlsMode::kCertificate) {
    result = mbedtls_ssl_set_hostname(&impl_->ssl, config.server_name.c_str());
  }
  if (result != 0) {
    *error = "starting the TLS session failed: " + mbedtls_text(result);
    state_ = State::kFailed;
    error_ = *error;
    return false;
  }
  mbedtls_ssl_set_bio(&impl_->ssl, impl_.get(), send_callback, receive_callback, nullptr);
  state_ = State::kHandshaking;
  handshake_step();
  return true;
}

void TlsStream::fail(const std::string& message) {
  if (state_ == State::kFailed) {
    return;
  }
  state_ = State::kFailed;
  error_ = message;
  lower_->close();
}

std::string TlsStream::describe_handshake_failure(int code) const {
  const TlsConfig& config = context_->config();
  const bool server = config.role == TlsRole::kServer;
  const std::uint32_t flags = mbedtls_ssl_get_verify_result(&impl_->ssl);
  if (code == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0) {
    return std::string(server ? "the device certificate" : "the coordinator certificate") +
           " was rejected: " + verify_text(flags);
  }
  switch (code) {
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
      return "the device presented no certificate; the coordinator requires one signed by the fleet CA";
    case MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY:
      return "unknown PSK identity \"" + impl_->psk_identity + "\"; enroll the device with ecq-pki make-psk";
    case MBEDTLS_ERR_SSL_INVALID_MAC:
    case MBEDTLS_ERR_SSL_BAD_HS_FINISHED:
      return config.mode == TlsMode::kPsk ? "the handshake could not be verified: the device and the coordinator hold "
                                            "different PSKs for this identity"
                                          : "the handshake could not be verified: " + mbedtls_text(code);
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
      return std::string("the ") + (server ? "device" : "coordinator") +
             " rejected the handshake with a fatal alert; its log names the reason";
    case MBEDTLS_ERR_SSL_CONN_EOF:
    case MBEDTLS_ERR_NET_CONN_RESET:
    case 0:
      return std::string("the ") + (server ? "device" : "coordinator") + " closed the connection during the handshake";
    default: return "the handshake failed: " + mbedtls_text(code);
  }
}

void TlsStream::handshake_step() {
  if (state_ != State::kHandshaking) {
    return;
  }
  const int result = mbedtls_ssl_handshake(&impl_->ssl);
  if (result == MBEDTLS_ERR_SSL_WANT_READ || result == MBEDTLS_ERR_SSL_WANT_WRITE) {
    return;
  }
  if (result != 0) {
    fail(describe_handshake_failure(result));
    return;
  }
  const TlsConfig& config = context_->config();
  if (config.mode == TlsMode::kPsk) {
    peer_id_ = config.role == TlsRole::kServer ? impl_->psk_identity : std::string();
  } else if (const mbedtls_x509_crt* peer = mbedtls_ssl_get_peer_cert(&impl_->ssl); peer != nullptr) {
    peer_id_ = common_name(peer);
    peer_serial_ = serial_hex(peer->serial.p, peer->serial.len);
  }
  state_ = State::kEstablished;
  last_received_ms_ = now_ms_;
}

bool TlsStream::wants_write() const { return impl_->ssl.out_left > 0; }

void TlsStream::tick(std::uint64_t now_ms) {
  now_ms_ = now_ms;
  if (context_ == nullptr) {
    return;
  }
  handshake_step();
  const TlsConfig& config = context_->config();
  if (state_ == State::kHandshaking && now_ms - started_ms_ >= config.handshake_timeout_ms) {
    fail("the handshake timed out after " + std::to_string(config.handshake_timeout_ms) +
         " ms; the peer sent nothing or stopped answering");
  } else if (state_ == State::kEstablished && now_ms - last_received_ms_ >= config.idle_timeout_ms) {
    fail("the connection was idle for " + std::to_string(config.idle_timeout_ms) +
         " ms (no bytes received); closed at the idle deadline");
  }
}

IoStatus TlsStream::ready(bool sending) {
  handshake_step();
  if (state_ == State::kFailed) {
    return IoStatus::kError;
  }
  if (sending ? local_closed_ : peer_closed_) {
    return IoStatus::kClosed;
  }
  return state_ == State::kEstablished ? IoStatus::kOk : IoStatus::kWouldBlock;
}

IoStatus TlsStream::read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) {
  *done = 0;
  const IoStatus status = ready(false);
  if (status != IoStatus::kOk || capacity == 0) {
    return status;
  }
  const int result = mbedtls_ssl_read(&impl_->ssl, buffer, capacity);
  if (result > 0) {
    *done = static_cast<std::size_t>(result);
    return IoStatus::kOk;
  }
  if (result == MBEDTLS_ERR_SSL_WANT_READ || result == MBEDTLS_ERR_SSL_WANT_WRITE) {
    return IoStatus::kWouldBlock;
  }
  if (result == 0 || result == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
    peer_closed_ = true;
    return IoStatus::kClosed;
  }
  fail("receiving failed: " + mbedtls_text(result));
  return IoStatus::kError;
}

IoStatus TlsStream::write(const std::uint8_t* data, std::size_t size, std::size_t* done) {
  *done = 0;
  const IoStatus status = ready(true);
  if (status != IoStatus::kOk || size == 0) {
    return status;
  }
  const int result = mbedtls_ssl_write(&impl_->ssl, data, size);
  if (result > 0) {
    *done = static_cast<std::size_t>(result);
    return IoStatus::kOk;
  }
  if (result == MBEDTLS_ERR_SSL_WANT_READ || result == MBEDTLS_ERR_SSL_WANT_WRITE) {
    return IoStatus::kWouldBlock;
  }
  fail("sending failed: " + mbedtls_text(result));
  return IoStatus::kError;
}

void TlsStream::close() {
  if (local_closed_) {
    return;
  }
  local_closed_ = true;
  if (state_ == State::kEstablished) {
    (void)mbedtls_ssl_close_notify(&impl_->ssl);
  }
  if (lower_ != nullptr) {
    lower_->close();
  }
}

}  // namespace ecq::transport
