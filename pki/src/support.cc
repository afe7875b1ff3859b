#include "support.h"

#include <mbedtls/ecp.h>
#include <mbedtls/error.h>

#include <cstdio>

namespace ecq::pki::detail {
namespace {

// Mbed TLS treats a buffer as PEM only when its last byte is the NUL that
// ends the text, so PEM input is passed with that byte counted.
std::size_t parse_length(const std::string& text) {
  const bool is_pem = text.find("-----BEGIN") != std::string::npos;
  return is_pem ? text.size() + 1 : text.size();
}

const unsigned char* parse_bytes(const std::string& text) {
  return reinterpret_cast<const unsigned char*>(text.c_str());
}

}  // namespace

std::string mbedtls_message(int code) {
  char text[200];
  mbedtls_strerror(code, text, sizeof text);
  char hex[32];
  std::snprintf(hex, sizeof hex, "-0x%04X", code < 0 ? -code : code);
  return std::string(text) + " (Mbed TLS error " + hex + ")";
}

bool check_mbedtls(int code, const std::string& failure, std::string* error) {
  if (code >= 0) {
    return true;
  }
  return fail(error, failure + ": " + mbedtls_message(code));
}

Random::Random() {
  mbedtls_entropy_init(&entropy_);
  mbedtls_ctr_drbg_init(&drbg_);
}

Random::~Random() {
  mbedtls_ctr_drbg_free(&drbg_);
  mbedtls_entropy_free(&entropy_);
}

bool Random::seed(std::string* error) {
  static const char kPersonalization[] = "ecq-pki";
  const int code =
      mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
                            reinterpret_cast<const unsigned char*>(kPersonalization), sizeof kPersonalization - 1);
  return check_mbedtls(code, "cannot seed the random generator from the system entropy source", error);
}

bool Random::fill(unsigned char* output, std::size_t size, std::string* error) {
  return check_mbedtls(mbedtls_ctr_drbg_random(&drbg_, output, size), "cannot generate random bytes", error);
}

int Random::generate(void* random, unsigned char* output, std::size_t size) {
  return mbedtls_ctr_drbg_random(random, output, size);
}

int parse_certificate(mbedtls_x509_crt* certificate, const std::string& text) {
  return mbedtls_x509_crt_parse(certificate, parse_bytes(text), parse_length(text));
}

int parse_private_key(mbedtls_pk_context* key, const std::string& text) {
  return mbedtls_pk_parse_key(key, parse_bytes(text), parse_length(text), nullptr, 0);
}

int parse_csr(mbedtls_x509_csr* csr, const std::string& text) {
  return mbedtls_x509_csr_parse(csr, parse_bytes(text), parse_length(text));
}

bool is_p256_key(const mbedtls_pk_context& key) {
  if (mbedtls_pk_get_type(&key) != MBEDTLS_PK_ECKEY) {
    return false;
  }
  const mbedtls_ecp_keypair* keypair = mbedtls_pk_ec(key);
  return keypair != nullptr && keypair->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    hex.push_back(kDigits[bytes[i] >> 4]);
    hex.push_back(kDigits[bytes[i] & 0x0F]);
  }
  return hex;
}

}  // namespace ecq::pki::detail
