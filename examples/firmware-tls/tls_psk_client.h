#pragma once
// TLS 1.2 client with a pre-shared key over an ecq::port socket, built on the
// bare-metal Mbed TLS (ports/baremetal/mbedtls/ecq_mbedtls_config.h):
// TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256 on secp256r1, the suite of the
// coordinator's PSK listener, with records of at most 1024 bytes of
// plaintext. Mbed TLS allocates from the buffer that the application passed
// to mbedtls_memory_buffer_alloc_init() before init(). After the handshake
// it is the transport::Stream that the device client reads and writes.

#include <mbedtls/entropy.h>
#include <mbedtls/hmac_drbg.h>
#include <mbedtls/ssl.h>

#include <cstddef>
#include <cstdint>

#include "ecq/port/socket.h"
#include "ecq/transport/stream.h"

namespace firmware {

class TlsPskClient final : public ecq::transport::Stream {
 public:
  TlsPskClient();
  ~TlsPskClient();
  TlsPskClient(const TlsPskClient&) = delete;
  TlsPskClient& operator=(const TlsPskClient&) = delete;

  /// Seeds the random generator from the port's entropy and sets up a session
  /// with `identity` and key[0..key_size) (1 to 32 bytes) over `socket`.
  /// On failure, writes the reason to error[0..error_capacity).
  [[nodiscard]] bool init(const char* identity, const std::uint8_t* key, std::size_t key_size,
                          ecq::port::Socket socket, char* error, std::size_t error_capacity);

  /// Runs the handshake, waiting on the socket between steps, until it
  /// completes or `timeout_ms` passes.
  [[nodiscard]] bool handshake(std::uint32_t timeout_ms, char* error, std::size_t error_capacity);

  // transport::Stream, once the handshake is done. read() and write() move
  // application bytes; kError also records the reason for error_message().
  ecq::transport::IoStatus read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) override;
  ecq::transport::IoStatus write(const std::uint8_t* data, std::size_t size, std::size_t* done) override;
  /// Sends close_notify without waiting for the socket.
  void close() override;
  const char* error_message() const override { return error_; }

  /// True when Mbed TLS has received bytes that read() returns without new
  /// input from the socket.
  bool has_buffered_input() const;

  /// Returns the negotiated cipher suite, e.g.
  /// "TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256".
  const char* cipher_suite() const;

  /// Returns the maximum plaintext bytes of one outgoing record.
  std::size_t max_record_plaintext() const;

 private:
  // Waits until the socket can make the progress Mbed TLS asked for with
  // `result` (MBEDTLS_ERR_SSL_WANT_READ or _WANT_WRITE) or `deadline_ms`.
  [[nodiscard]] bool wait_for_socket(int result, std::uint64_t deadline_ms);
  // Converts the result of mbedtls_ssl_read() or _write() (a byte count or an
  // error code) to the Stream status, storing the count in *done.
  ecq::transport::IoStatus to_io_status(int result, const char* operation, std::size_t* done);

  mbedtls_entropy_context entropy_;
  mbedtls_hmac_drbg_context random_;
  mbedtls_ssl_config config_;
  mbedtls_ssl_context ssl_;
  ecq::port::Socket socket_;
  char error_[192] = "";
};

}  // namespace firmware
