#include "ecq/pki/psk.h"

#include <mbedtls/platform_util.h>

#include "ecq/pki/files.h"
#include "support.h"

namespace ecq::pki {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

bool generate_psk(std::vector<unsigned char>* key, std::string* error) {
  detail::Random random;
  std::vector<unsigned char> bytes(kPskBytes);
  if (!random.seed(error) || !random.fill(bytes.data(), bytes.size(), error)) {
    return false;
  }
  *key = std::move(bytes);
  return true;
}

std::string format_psk(const std::vector<unsigned char>& key) { return detail::to_hex(key.data(), key.size()) + "\n"; }

bool parse_psk(const std::string& text, std::vector<unsigned char>* key, std::string* error) {
  const std::size_t digits = 2 * kPskBytes;
  const bool has_newline = text.size() == digits + 1 && text.back() == '\n';
  if (text.size() != digits && !has_newline) {
    return detail::fail(error, "expected 64 hex digits (32 bytes) and an optional newline, found " +
                                   std::to_string(text.size()) + " characters");
  }
  std::vector<unsigned char> bytes(kPskBytes);
  for (std::size_t i = 0; i < kPskBytes; ++i) {
    const int high = hex_value(text[2 * i]);
    const int low = hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0) {
      mbedtls_platform_zeroize(bytes.data(), bytes.size());
      return detail::fail(error, "expected 64 hex digits (32 bytes), found a character other than 0-9, a-f and A-F");
    }
    bytes[i] = static_cast<unsigned char>(high * 16 + low);
  }
  *key = std::move(bytes);
  return true;
}

bool write_psk_file(const std::string& path, const std::vector<unsigned char>& key, std::string* error) {
  if (key.size() != kPskBytes) {
    return detail::fail(
        error, "cannot write " + detail::quote(path) + ": a PSK must be 32 bytes, got " + std::to_string(key.size()));
  }
  return write_private_file(path, format_psk(key), error);
}

bool read_psk_file(const std::string& path, std::vector<unsigned char>* key, std::string* error) {
  std::string text;
  if (!read_text_file(path, &text, error)) {
    return false;
  }
  std::string parse_error;
  const bool parsed = parse_psk(text, key, &parse_error);
  mbedtls_platform_zeroize(&text[0], text.size());
  if (!parsed) {
    return detail::fail(error, "invalid PSK file " + detail::quote(path) + ": " + parse_error +
                                   "; make a new PSK with 'ecq-pki make-psk'");
  }
  return true;
}

}  // namespace ecq::pki
