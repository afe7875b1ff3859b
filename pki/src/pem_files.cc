#include "ecq/pki/pem_files.h"

#include <initializer_list>

#include "ecq/pki/files.h"
#include "support.h"

namespace ecq::pki {
namespace {

using detail::fail;
using detail::quote;

// Returns the label of the first PEM block, such as "CERTIFICATE" for
// "-----BEGIN CERTIFICATE-----", or an empty string when there is none.
std::string first_pem_label(const std::string& text) {
  const std::string begin = "-----BEGIN ";
  const std::size_t start = text.find(begin);
  if (start == std::string::npos) {
    return std::string();
  }
  const std::size_t label_start = start + begin.size();
  const std::size_t end = text.find("-----", label_start);
  return end == std::string::npos ? std::string() : text.substr(label_start, end - label_start);
}

// Reads the file and checks that its first PEM block has one of the labels.
bool read_pem(const std::string& path, std::initializer_list<const char*> labels, const std::string& expected,
              std::string* text, std::string* error) {
  if (!read_text_file(path, text, error)) {
    return false;
  }
  const std::string label = first_pem_label(*text);
  for (const char* accepted : labels) {
    if (label == accepted) {
      return true;
    }
  }
  if (label.empty()) {
    return fail(error, quote(path) + " is not a PEM file (it has no '-----BEGIN' line); expected " + expected);
  }
  return fail(error, quote(path) + " contains a PEM " + label + ", not " + expected + "; check which file you passed");
}

bool parse_certificates(const std::string& path, const std::string& text, mbedtls_x509_crt* chain, std::string* error) {
  const int code = detail::parse_certificate(chain, text);
  if (code > 0) {
    return fail(error, quote(path) + ": " + std::to_string(code) +
                           " of its certificates cannot be parsed; the file is damaged, so issue it again");
  }
  return detail::check_mbedtls(code, quote(path) + ": cannot parse the certificate", error);
}

const std::initializer_list<const char*> kCertificateLabels = {"CERTIFICATE"};
const std::initializer_list<const char*> kKeyLabels = {"EC PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY",
                                                       "ENCRYPTED PRIVATE KEY"};
const std::initializer_list<const char*> kCsrLabels = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"};

}  // namespace

bool read_certificate_file(const std::string& path, std::string* pem, std::string* error) {
  std::string text;
  detail::X509Certificate chain;
  if (!read_pem(path, kCertificateLabels, "a certificate", &text, error) ||
      !parse_certificates(path, text, chain.get(), error)) {
    return false;
  }
  *pem = std::move(text);
  return true;
}

bool read_private_key_file(const std::string& path, std::string* pem, std::string* error) {
  std::string text;
  detail::PkContext key;
  if (!read_pem(path, kKeyLabels, "a private key", &text, error) ||
      !detail::check_mbedtls(detail::parse_private_key(key.get(), text), quote(path) + ": cannot parse the private key",
                             error)) {
    return false;
  }
  *pem = std::move(text);
  return true;
}

bool read_csr_file(const std::string& path, std::string* pem, std::string* error) {
  std::string text;
  detail::X509Csr csr;
  if (!read_pem(path, kCsrLabels, "a certificate signing request", &text, error) ||
      !detail::check_mbedtls(detail::parse_csr(csr.get(), text),
                             quote(path) + ": cannot parse the certificate signing request", error)) {
    return false;
  }
  *pem = std::move(text);
  return true;
}

bool load_certificate_file(const std::string& path, mbedtls_x509_crt* chain, std::string* error) {
  // A file with one bad certificate among good ones would leave the good ones
  // in `chain`, so the whole file is checked before anything is appended.
  std::string text;
  if (!read_certificate_file(path, &text, error)) {
    return false;
  }
  return parse_certificates(path, text, chain, error);
}

bool load_private_key_file(const std::string& path, mbedtls_pk_context* key, std::string* error) {
  std::string text;
  return read_pem(path, kKeyLabels, "a private key", &text, error) &&
         detail::check_mbedtls(detail::parse_private_key(key, text), quote(path) + ": cannot parse the private key",
                               error);
}

}  // namespace ecq::pki
