#include "der.h"

#include <mbedtls/asn1.h>

namespace ecq::pki::detail {
namespace {

// Definite length: one byte below 128, otherwise 0x80 + the count of
// big-endian length bytes that follow.
std::string der_length(std::size_t length) {
  if (length < 0x80) {
    return std::string(1, static_cast<char>(length));
  }
  std::string bytes;
  for (std::size_t rest = length; rest != 0; rest >>= 8) {
    bytes.insert(bytes.begin(), static_cast<char>(rest & 0xFF));
  }
  return std::string(1, static_cast<char>(0x80 | bytes.size())) + bytes;
}

}  // namespace

std::string der_element(unsigned char tag, const std::string& contents) {
  return std::string(1, static_cast<char>(tag)) + der_length(contents.size()) + contents;
}

std::string subject_alt_name_value(const std::vector<std::string>& hosts) {
  constexpr unsigned char kDnsNameTag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2;
  std::string names;
  for (const std::string& host : hosts) {
    names += der_element(kDnsNameTag, host);
  }
  return der_element(MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE, names);
}

std::string extended_key_usage_value(const std::string& oid) {
  return der_element(MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE, der_element(MBEDTLS_ASN1_OID, oid));
}

}  // namespace ecq::pki::detail
