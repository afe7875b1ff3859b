// Serial numbers and subject names of parsed certificates.

#include <mbedtls/oid.h>

#include <cstring>
#include <ctime>

#include "ecq/pki/credentials.h"
#include "support.h"

namespace ecq::pki {
namespace {

// RFC 5280, section 4.1.2.2: at most 20 octets.
constexpr std::size_t kMaxSerialDigits = 40;

std::string without_leading_zeros(const std::string& hex) {
  const std::size_t first = hex.find_first_not_of('0');
  return first == std::string::npos ? std::string("0") : hex.substr(first);
}

std::time_t to_time(const mbedtls_x509_time& time) {
  std::tm fields{};
  fields.tm_year = time.year - 1900;
  fields.tm_mon = time.mon - 1;
  fields.tm_mday = time.day;
  fields.tm_hour = time.hour;
  fields.tm_min = time.min;
  fields.tm_sec = time.sec;
  return timegm(&fields);
}

}  // namespace

bool parse_serial(const std::string& text, std::string* serial, std::string* error) {
  std::string digits;
  for (const char c : text) {
    if (c == ':') {
      continue;
    }
    const bool is_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!is_hex) {
      return detail::fail(error, "invalid serial number " + detail::quote(text) +
                                     ": expected hex digits, optionally grouped with ':', such as 4f1a09");
    }
    digits.push_back(c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (digits.empty()) {
    return detail::fail(error, "invalid serial number " + detail::quote(text) + ": it has no hex digits");
  }
  digits = without_leading_zeros(digits);
  if (digits.size() > kMaxSerialDigits) {
    return detail::fail(error, "invalid serial number " + detail::quote(text) +
                                   ": it is longer than 20 bytes (40 hex digits), the RFC 5280 limit");
  }
  *serial = digits;
  return true;
}

std::string certificate_serial(const mbedtls_x509_crt& certificate) {
  return without_leading_zeros(detail::to_hex(certificate.serial.p, certificate.serial.len));
}

Validity certificate_validity(const mbedtls_x509_crt& certificate) {
  Validity validity;
  validity.not_before = to_time(certificate.valid_from);
  validity.not_after = to_time(certificate.valid_to);
  return validity;
}

std::string certificate_common_name(const mbedtls_x509_crt& certificate) {
  return detail::first_common_name(certificate.subject);
}

namespace detail {

std::string first_common_name(const mbedtls_x509_name& subject) {
  for (const mbedtls_x509_name* name = &subject; name != nullptr; name = name->next) {
    if (name->oid.p != nullptr && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0) {
      return std::string(reinterpret_cast<const char*>(name->val.p), name->val.len);
    }
  }
  return std::string();
}

}  // namespace detail

}  // namespace ecq::pki
