#pragma once
// Test credentials (a fleet made once with ecq::pki) and TLS configurations
// for both sides.

#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <string>

#include "ecq/pki/credentials.h"
#include "ecq/transport/tls.h"

namespace ecq::transport::test {

// One fleet's credentials, made once for the whole test program.
struct Fleet {
  pki::Credential ca;
  pki::Credential coordinator;
  pki::Credential device;
  pki::Credential expired_device;
  pki::Credential revoked_device;
  pki::Credential wrong_host_coordinator;
  pki::Credential other_ca;
  pki::Credential impostor;  // same subject as `device`, signed by other_ca
};

inline const Fleet& fleet() {
  static const Fleet instance = [] {
    Fleet f;
    std::string error;
    const std::time_t now = std::time(nullptr);
    const pki::Validity year = pki::validity_for_days(365, now);
    const pki::Validity expired{now - 10 * 86400, now - 86400};
    bool ok =
        pki::create_ca("ecq test fleet", year, &f.ca, &error) &&
        pki::issue_coordinator(f.ca, "coordinator", {"localhost"}, year, &f.coordinator, &error) &&
        pki::issue_device(f.ca, "device-7", year, &f.device, &error) &&
        pki::issue_device(f.ca, "device-8", expired, &f.expired_device, &error) &&
        pki::issue_device(f.ca, "device-9", year, &f.revoked_device, &error) &&
        pki::issue_coordinator(f.ca, "coordinator", {"coordinator.example"}, year, &f.wrong_host_coordinator, &error) &&
        pki::create_ca("ecq test fleet", year, &f.other_ca, &error) &&
        pki::issue_device(f.other_ca, "device-7", year, &f.impostor, &error);
    if (!ok) {
      FAIL("making test credentials failed: " << error);
    }
    return f;
  }();
  return instance;
}

// Revokes device-9's certificate by serial number.
// Returns big-endian serial bytes in ecq-pki's form: lowercase hex without
// leading zeros.
inline std::string serial_hex(const std::uint8_t* serial, std::size_t size) {
  std::string hex;
  for (std::size_t i = 0; i < size; ++i) {
    char digits[3];
    std::snprintf(digits, sizeof digits, "%02x", serial[i]);
    hex += digits;
  }
  hex.erase(0, hex.find_first_not_of('0'));
  return hex;
}

inline bool revoked(void* context, const std::uint8_t* serial, std::size_t serial_size, const std::string&) {
  const auto* serials = static_cast<const std::set<std::string>*>(context);
  return serials->count(serial_hex(serial, serial_size)) != 0;
}

inline const std::map<std::string, std::string>& psk_table() {
  static const std::map<std::string, std::string> table = {{"tiny-1", std::string(32, '\x5a')},
                                                           {"tiny-2", std::string(16, '\x33')}};
  return table;
}

inline bool find_psk(void*, const std::string& identity, std::uint8_t* key, std::size_t* key_size) {
  const auto found = psk_table().find(identity);
  if (found == psk_table().end()) {
    return false;
  }
  std::memcpy(key, found->second.data(), found->second.size());
  *key_size = found->second.size();
  return true;
}

inline TlsConfig server_config(TlsMode mode = TlsMode::kCertificate) {
  static std::set<std::string> revoked_serials = {fleet().revoked_device.serial};
  TlsConfig config;
  config.role = TlsRole::kServer;
  config.mode = mode;
  config.ca_pem = fleet().ca.certificate_pem;
  config.certificate_pem = fleet().coordinator.certificate_pem;
  config.key_pem = fleet().coordinator.key_pem;
  config.revocation_check = revoked;
  config.revocation_context = &revoked_serials;
  config.psk_lookup = find_psk;
  config.handshake_timeout_ms = 2000;
  config.idle_timeout_ms = 2000;
  return config;
}

inline TlsConfig device_config(const pki::Credential& device) {
  TlsConfig config;
  config.role = TlsRole::kClient;
  config.ca_pem = fleet().ca.certificate_pem;
  config.certificate_pem = device.certificate_pem;
  config.key_pem = device.key_pem;
  config.server_name = "localhost";
  config.handshake_timeout_ms = 2000;
  config.idle_timeout_ms = 2000;
  return config;
}

inline TlsConfig psk_device_config(const std::string& identity, const std::string& key) {
  TlsConfig config;
  config.role = TlsRole::kClient;
  config.mode = TlsMode::kPsk;
  config.psk_identity = identity;
  config.psk = key;
  return config;
}

}  // namespace ecq::transport::test
