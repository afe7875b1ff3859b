#include "ecq/pki/coordinator_tls.h"

#include <cstdio>
#include <cstring>
#include <vector>

#include "ecq/pki/files.h"
#include "ecq/pki/names.h"
#include "ecq/pki/psk.h"

namespace ecq::pki {

CoordinatorTlsFiles coordinator_tls_files(const std::string& ca_directory) {
  CoordinatorTlsFiles files;
  files.ca_certificate = ca_directory + "/ca.crt";
  files.certificate = ca_directory + "/coordinator.crt";
  files.key = ca_directory + "/coordinator.key";
  files.revocations = ca_directory + "/revoked.txt";
  files.psk_directory = ca_directory + "/psk";
  return files;
}

bool CoordinatorTls::init(const CoordinatorTlsFiles& files, transport::TlsMode mode, std::string* error) {
  files_ = files;
  config_ = transport::TlsConfig{};
  config_.role = transport::TlsRole::kServer;
  config_.mode = mode;
  if (mode == transport::TlsMode::kCertificate) {
    if (!read_text_file(files.ca_certificate, &config_.ca_pem, error) ||
        !read_text_file(files.certificate, &config_.certificate_pem, error) ||
        !read_text_file(files.key, &config_.key_pem, error)) {
      return false;
    }
    if (!files.revocations.empty()) {
      if (!revocations_.load(files.revocations, error)) {
        return false;
      }
      config_.revocation_check = &CoordinatorTls::check_revoked;
      config_.revocation_context = this;
    }
  } else {
    if (files.psk_directory.empty() || !path_exists(files.psk_directory)) {
      if (error != nullptr) {
        *error = "PSK directory " + files.psk_directory + " not found; make PSKs with ecq-pki make-psk";
      }
      return false;
    }
    config_.psk_lookup = &CoordinatorTls::find_psk;
    config_.psk_lookup_context = this;
  }
  return true;
}

bool CoordinatorTls::reload_revocations(std::string* error) {
  if (files_.revocations.empty()) {
    return true;
  }
  RevocationList fresh;
  if (!fresh.load(files_.revocations, error)) {
    return false;
  }
  revocations_ = std::move(fresh);
  return true;
}

bool CoordinatorTls::check_revoked(void* context, const std::uint8_t* serial, std::size_t serial_size,
                                   const std::string&) {
  const auto* self = static_cast<const CoordinatorTls*>(context);
  std::string hex;
  for (std::size_t i = 0; i < serial_size; ++i) {
    char digits[3];
    std::snprintf(digits, sizeof digits, "%02x", serial[i]);
    hex += digits;
  }
  return self->revocations_.is_revoked(hex);
}

bool CoordinatorTls::find_psk(void* context, const std::string& identity, std::uint8_t* key, std::size_t* key_size) {
  const auto* self = static_cast<const CoordinatorTls*>(context);
  // The identity becomes part of a path, so only valid device ids are looked up.
  if (!check_device_id(identity, nullptr)) {
    return false;
  }
  std::vector<unsigned char> bytes;
  if (!read_psk_file(self->files_.psk_directory + "/" + identity + ".psk", &bytes, nullptr) ||
      bytes.size() > kPskBytes) {
    return false;
  }
  std::memcpy(key, bytes.data(), bytes.size());
  *key_size = bytes.size();
  return true;
}

}  // namespace ecq::pki
