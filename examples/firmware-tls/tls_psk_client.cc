#include "tls_psk_client.h"

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl_ciphersuites.h>

#include <cstdio>
#include <cstring>

#include "ecq/port/clock.h"

namespace firmware {
namespace {

constexpr std::size_t kMaxKeyBytes = 32;
const int kCipherSuites[] = {MBEDTLS_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, 0};

// Writes "<operation> failed: <Mbed TLS text> (-0xCODE)" into error.
void describe(const char* operation, int code, char* error, std::size_t error_capacity) {
  char text[96];
  mbedtls_strerror(code, text, sizeof text);
  std::snprintf(error, error_capacity, "%s failed: %s (-0x%04X)", operation, text, static_cast<unsigned>(-code));
}

int send_callback(void* context, const unsigned char* data, std::size_t size) {
  std::size_t sent = 0;
  switch (ecq::port::socket_send(*static_cast<ecq::port::Socket*>(context), data, size, &sent)) {
    case ecq::port::PortStatus::kOk: return static_cast<int>(sent);
    case ecq::port::PortStatus::kWouldBlock: return MBEDTLS_ERR_SSL_WANT_WRITE;
    case ecq::port::PortStatus::kClosed: return MBEDTLS_ERR_NET_CONN_RESET;
    default: return MBEDTLS_ERR_NET_SEND_FAILED;
  }
}

int receive_callback(void* context, unsigned char* buffer, std::size_t capacity) {
  std::size_t received = 0;
  switch (ecq::port::socket_receive(*static_cast<ecq::port::Socket*>(context), buffer, capacity, &received)) {
    case ecq::port::PortStatus::kOk: return static_cast<int>(received);
    case ecq::port::PortStatus::kWouldBlock: return MBEDTLS_ERR_SSL_WANT_READ;
    case ecq::port::PortStatus::kClosed: return 0;
    default: return MBEDTLS_ERR_NET_RECV_FAILED;
  }
}

}  // namespace

TlsPskClient::TlsPskClient() {
  mbedtls_entropy_init(&entropy_);
  mbedtls_hmac_drbg_init(&random_);
  mbedtls_ssl_config_init(&config_);
  mbedtls_ssl_init(&ssl_);
}

TlsPskClient::~TlsPskClient() {
  mbedtls_ssl_free(&ssl_);
  mbedtls_ssl_config_free(&config_);
  mbedtls_hmac_drbg_free(&random_);
  mbedtls_entropy_free(&entropy_);
}

bool TlsPskClient::init(const char* identity, const std::uint8_t* key, std::size_t key_size,
                        ecq::port::Socket socket, char* error, std::size_t error_capacity) {
  if (identity == nullptr || identity[0] == '\0' || key == nullptr || key_size == 0 || key_size > kMaxKeyBytes) {
    std::snprintf(error, error_capacity, "a PSK client needs a non-empty identity and a key of 1 to 32 bytes (found %u)",
                  static_cast<unsigned>(key_size));
    return false;
  }
  socket_ = socket;
  static const char kPersonalization[] = "ecq firmware tls";
  int result = mbedtls_hmac_drbg_seed(&random_, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), mbedtls_entropy_func,
                                      &entropy_, reinterpret_cast<const unsigned char*>(kPersonalization),
                                      sizeof kPersonalization);
  if (result != 0) {
    describe("seeding the random generator from the port's entropy", result, error, error_capacity);
    return false;
  }
  result = mbedtls_ssl_config_defaults(&config_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT);
  if (result != 0) {
    describe("the TLS configuration", result, error, error_capacity);
    return false;
  }
  mbedtls_ssl_conf_min_version(&config_, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&config_, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(&config_, kCipherSuites);
  mbedtls_ssl_conf_rng(&config_, mbedtls_hmac_drbg_random, &random_);
  // The buffers hold 1024 bytes of plaintext (MBEDTLS_SSL_IN_CONTENT_LEN), so
  // the server must not send longer records.
  result = mbedtls_ssl_conf_max_frag_len(&config_, MBEDTLS_SSL_MAX_FRAG_LEN_1024);
  if (result == 0) {
    result = mbedtls_ssl_conf_psk(&config_, key, key_size, reinterpret_cast<const unsigned char*>(identity),
                                  std::strlen(identity));
  }
  if (result == 0) {
    result = mbedtls_ssl_setup(&ssl_, &config_);
  }
  if (result != 0) {
    describe("setting up the TLS session", result, error, error_capacity);
    return false;
  }
  mbedtls_ssl_set_bio(&ssl_, &socket_, send_callback, receive_callback, nullptr);
  return true;
}

bool TlsPskClient::wait_for_socket(int result, std::uint64_t deadline_ms) {
  const std::uint64_t now = ecq::port::monotonic_ms();
  if (now >= deadline_ms) {
    return false;
  }
  bool readable = false;
  bool writable = false;
  const ecq::port::PortStatus status =
      ecq::port::socket_wait(socket_, result == MBEDTLS_ERR_SSL_WANT_READ, result == MBEDTLS_ERR_SSL_WANT_WRITE,
                             static_cast<std::uint32_t>(deadline_ms - now), &readable, &writable);
  return status == ecq::port::PortStatus::kOk;
}

bool TlsPskClient::handshake(std::uint32_t timeout_ms, char* error, std::size_t error_capacity) {
  const std::uint64_t deadline = ecq::port::monotonic_ms() + timeout_ms;
  for (;;) {
    const int result = mbedtls_ssl_handshake(&ssl_);
    if (result == 0) {
      return true;
    }
    if (result != MBEDTLS_ERR_SSL_WANT_READ && result != MBEDTLS_ERR_SSL_WANT_WRITE) {
      describe("the TLS handshake", result, error, error_capacity);
      return false;
    }
    if (!wait_for_socket(result, deadline)) {
      std::snprintf(error, error_capacity, "the TLS handshake timed out after %u ms in state %d; check that the "
                    "coordinator's PSK listener is reachable", static_cast<unsigned>(timeout_ms), ssl_.state);
      return false;
    }
  }
}

ecq::transport::IoStatus TlsPskClient::read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) {
  *done = 0;
  if (capacity == 0) {
    return ecq::transport::IoStatus::kOk;
  }
  const int result = mbedtls_ssl_read(&ssl_, buffer, capacity);
  if (result == 0 || result == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
    return ecq::transport::IoStatus::kClosed;
  }
  return to_io_status(result, "reading from the TLS session", done);
}

ecq::transport::IoStatus TlsPskClient::write(const std::uint8_t* data, std::size_t size, std::size_t* done) {
  *done = 0;
  if (size == 0) {
    return ecq::transport::IoStatus::kOk;
  }
  // Mbed TLS takes at most one record (1024 bytes) per call.
  return to_io_status(mbedtls_ssl_write(&ssl_, data, size), "writing to the TLS session", done);
}

ecq::transport::IoStatus TlsPskClient::to_io_status(int result, const char* operation, std::size_t* done) {
  if (result > 0) {
    *done = static_cast<std::size_t>(result);
    return ecq::transport::IoStatus::kOk;
  }
  if (result == MBEDTLS_ERR_SSL_WANT_READ || result == MBEDTLS_ERR_SSL_WANT_WRITE) {
    return ecq::transport::IoStatus::kWouldBlock;
  }
  describe(operation, result, error_, sizeof error_);
  return ecq::transport::IoStatus::kError;
}

void TlsPskClient::close() { (void)mbedtls_ssl_close_notify(&ssl_); }

bool TlsPskClient::has_buffered_input() const { return mbedtls_ssl_check_pending(&ssl_) != 0; }

const char* TlsPskClient::cipher_suite() const { return mbedtls_ssl_get_ciphersuite(&ssl_); }

std::size_t TlsPskClient::max_record_plaintext() const { return mbedtls_ssl_get_output_max_frag_len(&ssl_); }

}  // namespace firmware
