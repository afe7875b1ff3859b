#pragma once
// Pre-shared keys for devices too small for certificates (TLS 1.2
// ECDHE-PSK). The PSK identity is the device id. A PSK file contains the key as
// 64 lowercase hex digits followed by a newline, and nothing else.
//
// Every function returns true on success. On failure it returns false, leaves
// its output unchanged and writes a message to *error (which may be null).

#include <cstddef>
#include <string>
#include <vector>

namespace ecq::pki {

/// Length of a PSK, in bytes.
constexpr std::size_t kPskBytes = 32;

/// Generates kPskBytes random bytes from a CTR-DRBG seeded from
/// mbedtls_entropy.
bool generate_psk(std::vector<unsigned char>* key, std::string* error);

/// Returns the PSK file contents for `key`: lowercase hex and a newline.
std::string format_psk(const std::vector<unsigned char>& key);

/// Parses PSK file contents: exactly 64 hex digits (either case), optionally
/// followed by one newline. The message quotes no key material.
bool parse_psk(const std::string& text, std::vector<unsigned char>* key, std::string* error);

/// Writes `key` to `path` with mode 0600, replacing the file atomically.
bool write_psk_file(const std::string& path, const std::vector<unsigned char>& key, std::string* error);

/// Reads and parses a PSK file; the message names the path.
bool read_psk_file(const std::string& path, std::vector<unsigned char>* key, std::string* error);

}  // namespace ecq::pki
