#include "ecq/pki/names.h"

#include <vector>

#include "support.h"

namespace ecq::pki {
namespace {

using detail::fail;
using detail::quote;

bool is_letter_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool is_device_id_character(char c) { return is_letter_or_digit(c) || c == '.' || c == '_' || c == '-'; }

std::vector<std::string> split_labels(const std::string& host) {
  std::vector<std::string> labels;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = host.find('.', start);
    labels.push_back(host.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) {
      return labels;
    }
    start = dot + 1;
  }
}

bool is_valid_label(const std::string& label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
    return false;
  }
  for (const char c : label) {
    if (!is_letter_or_digit(c) && c != '-') {
      return false;
    }
  }
  return true;
}

bool is_all_digits(const std::string& label) {
  for (const char c : label) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool check_device_id(const std::string& id, std::string* error) {
  const std::string rule = "a device id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'";
  if (id.empty() || id.size() > kMaxNameLength) {
    return fail(error, "invalid device id " + quote(id) + " of " + std::to_string(id.size()) + " characters: " + rule);
  }
  for (const char c : id) {
    if (!is_device_id_character(c)) {
      return fail(error, "invalid device id " + quote(id) + ": " + rule);
    }
  }
  return true;
}

bool check_common_name(const std::string& name, std::string* error) {
  const std::string rule = "a common name must be 1 to 64 printable ASCII characters other than '\\'";
  if (name.empty() || name.size() > kMaxNameLength) {
    return fail(error,
                "invalid common name " + quote(name) + " of " + std::to_string(name.size()) + " characters: " + rule);
  }
  for (const char c : name) {
    if (c < ' ' || c > '~' || c == '\\') {
      return fail(error, "invalid common name " + quote(name) + ": " + rule);
    }
  }
  return true;
}

bool check_host_name(const std::string& host, std::string* error) {
  const std::string rule =
      "a host name must be 1 to 253 characters in dot-separated labels of 1 to 63 letters, digits and "
      "hyphens, not starting or ending with a hyphen (a first label of '*' is a wildcard)";
  if (host.empty() || host.size() > 253) {
    return fail(error, "invalid host name " + quote(host) + ": " + rule);
  }
  const std::vector<std::string> labels = split_labels(host);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const bool is_wildcard = i == 0 && labels.size() > 1 && labels[i] == "*";
    if (!is_wildcard && !is_valid_label(labels[i])) {
      return fail(error, "invalid host name " + quote(host) + ": " + rule);
    }
  }
  if (is_all_digits(labels.back())) {
    return fail(error, "invalid host name " + quote(host) +
                           ": an IP address cannot be a dNSName, and Mbed TLS 2.28 checks no other "
                           "subjectAltName type; use a name that resolves to the address, such as localhost");
  }
  return true;
}

}  // namespace ecq::pki
