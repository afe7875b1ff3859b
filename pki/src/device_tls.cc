#include "ecq/pki/device_tls.h"

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include <cstring>
#include <vector>

#include "ecq/pki/ca_directory.h"
#include "ecq/pki/pem_files.h"
#include "ecq/pki/psk.h"

namespace ecq::pki {
namespace {

// Reads the subject CN of the first certificate in `pem`.
bool subject_common_name(const std::string& pem, const std::string& path, std::string* name, std::string* error) {
  mbedtls_x509_crt certificate;
  mbedtls_x509_crt_init(&certificate);
  const int parsed = mbedtls_x509_crt_parse(&certificate, reinterpret_cast<const unsigned char*>(pem.c_str()),
                                            pem.size() + 1);
  bool found = false;
  if (parsed == 0) {
    for (const mbedtls_x509_name* entry = &certificate.subject; entry != nullptr; entry = entry->next) {
      if (entry->oid.p != nullptr && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &entry->oid) == 0) {
        name->assign(reinterpret_cast<const char*>(entry->val.p), entry->val.len);
        found = true;
      }
    }
  }
  mbedtls_x509_crt_free(&certificate);
  if (!found && error != nullptr) {
    *error = path + ": the certificate has no subject CN; issue device certificates with ecq-pki issue-device";
  }
  return found;
}

}  // namespace

bool device_tls_from_files(const std::string& ca_path, const std::string& certificate_path,
                           const std::string& key_path, const std::string& server_name,
                           transport::TlsConfig* config, std::string* device_id, std::string* error) {
  transport::TlsConfig result;
  result.role = transport::TlsRole::kClient;
  result.mode = transport::TlsMode::kCertificate;
  result.server_name = server_name;
  std::string name;
  if (!read_certificate_file(ca_path, &result.ca_pem, error) ||
      !read_certificate_file(certificate_path, &result.certificate_pem, error) ||
      !read_private_key_file(key_path, &result.key_pem, error) ||
      !subject_common_name(result.certificate_pem, certificate_path, &name, error)) {
    return false;
  }
  *config = result;
  *device_id = name;
  return true;
}

bool device_tls_from_ca_directory(const std::string& directory, const std::string& device_id,
                                  const std::string& server_name, transport::TlsConfig* config, std::string* error) {
  const CaDirectory ca(directory);
  std::string name;
  transport::TlsConfig result;
  if (!device_tls_from_files(ca.ca_certificate_path(), ca.device_certificate_path(device_id),
                             ca.device_key_path(device_id), server_name, &result, &name, error)) {
    return false;
  }
  if (name != device_id) {
    if (error != nullptr) {
      *error = ca.device_certificate_path(device_id) + ": the certificate is issued to '" + name + "', not '" +
               device_id + "'; reissue it with ecq-pki issue-device " + device_id;
    }
    return false;
  }
  *config = result;
  return true;
}

bool device_tls_from_psk_file(const std::string& psk_path, const std::string& device_id,
                              transport::TlsConfig* config, std::string* error) {
  std::vector<unsigned char> key;
  if (!read_psk_file(psk_path, &key, error)) {
    return false;
  }
  transport::TlsConfig result;
  result.role = transport::TlsRole::kClient;
  result.mode = transport::TlsMode::kPsk;
  result.psk_identity = device_id;
  result.psk.assign(key.begin(), key.end());
  *config = result;
  return true;
}

}  // namespace ecq::pki
