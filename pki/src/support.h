#pragma once
// Helpers shared by the ecq::pki sources: error messages, owners for Mbed TLS
// contexts and the random generator.

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include <cstddef>
#include <string>

namespace ecq::pki::detail {

/// Stores `message` in *error when error is not null, and returns false, so
/// that a check can end with `return fail(error, "...");`.
inline bool fail(std::string* error, const std::string& message) {
  if (error != nullptr) {
    *error = message;
  }
  return false;
}

/// Returns "<text> (Mbed TLS error -0xNNNN)" for a negative Mbed TLS return
/// code, with the text from mbedtls_strerror.
std::string mbedtls_message(int code);

/// Returns true when `code` is 0 (or any non-negative value, which the Mbed
/// TLS writers use for lengths). Otherwise stores "<failure>: <Mbed TLS
/// text>" in *error and returns false.
bool check_mbedtls(int code, const std::string& failure, std::string* error);

/// Returns `text` in single quotes for messages.
inline std::string quote(const std::string& text) { return "'" + text + "'"; }

/// Owns one Mbed TLS context: calls its init function on construction and its
/// free function on destruction.
template <typename Context, void (*Init)(Context*), void (*Free)(Context*)>
class Owned {
 public:
  Owned() { Init(&context_); }
  ~Owned() { Free(&context_); }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;

  Context* get() { return &context_; }
  const Context* get() const { return &context_; }

 private:
  Context context_;
};

using PkContext = Owned<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free>;
using X509Certificate = Owned<mbedtls_x509_crt, mbedtls_x509_crt_init, mbedtls_x509_crt_free>;
using X509Csr = Owned<mbedtls_x509_csr, mbedtls_x509_csr_init, mbedtls_x509_csr_free>;
using CertificateWriter = Owned<mbedtls_x509write_cert, mbedtls_x509write_crt_init, mbedtls_x509write_crt_free>;
using CsrWriter = Owned<mbedtls_x509write_csr, mbedtls_x509write_csr_init, mbedtls_x509write_csr_free>;
using Mpi = Owned<mbedtls_mpi, mbedtls_mpi_init, mbedtls_mpi_free>;

/// CTR-DRBG (AES-256 in Debian's Mbed TLS 2.28 build) seeded from
/// mbedtls_entropy, which on Linux reads getrandom(2) or /dev/urandom. Each
/// object is seeded once by seed() and must not be shared between threads.
class Random {
 public:
  Random();
  ~Random();
  Random(const Random&) = delete;
  Random& operator=(const Random&) = delete;

  /// Seeds the generator. Fails when the entropy source fails.
  bool seed(std::string* error);

  /// Fills `size` bytes. Fails when the generator fails (reseed error).
  bool fill(unsigned char* output, std::size_t size, std::string* error);

  /// The f_rng and p_rng arguments of the Mbed TLS functions that need them.
  static int generate(void* random, unsigned char* output, std::size_t size);
  void* state() { return &drbg_; }

 private:
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
};

/// Parses one PEM or DER certificate into `certificate`. PEM text must start
/// with "-----BEGIN"; Mbed TLS needs its terminating NUL counted in the
/// length, which this adds.
int parse_certificate(mbedtls_x509_crt* certificate, const std::string& text);

/// Parses a PEM or DER private key (without password) into `key`.
int parse_private_key(mbedtls_pk_context* key, const std::string& text);

/// Parses a PEM or DER certificate signing request into `csr`.
int parse_csr(mbedtls_x509_csr* csr, const std::string& text);

/// Returns true when `key` is an EC key on the NIST P-256 curve.
bool is_p256_key(const mbedtls_pk_context& key);

/// Returns the value of the first CN attribute in `subject`, or an empty
/// string when it has none.
std::string first_common_name(const mbedtls_x509_name& subject);

/// Returns the lowercase hex form of `size` bytes.
std::string to_hex(const unsigned char* bytes, std::size_t size);

}  // namespace ecq::pki::detail
