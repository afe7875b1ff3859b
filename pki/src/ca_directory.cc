#include "ecq/pki/ca_directory.h"

#include <set>

#include "ecq/pki/files.h"
#include "ecq/pki/names.h"
#include "ecq/pki/pem_files.h"
#include "ecq/pki/psk.h"
#include "support.h"

namespace ecq::pki {
namespace {

using detail::fail;
using detail::quote;

const char kIssuanceLogHeader[] =
    "# Device certificates issued by this CA, one per line:\n"
    "# <serial, hex> <device id> <not-after, YYYYMMDDhhmmss UTC>\n";

const char kRevocationListHeader[] =
    "# Revoked certificates, one per line: <serial, hex> <device id>\n"
    "# A certificate whose serial is listed here is rejected. Add lines with 'ecq-pki revoke'.\n";

// Writes the key first, so that a certificate on disk always has its key.
bool write_credential(const Credential& credential, const std::string& certificate_path, const std::string& key_path,
                      std::string* error) {
  return write_private_file(key_path, credential.key_pem, error) &&
         write_private_file(certificate_path, credential.certificate_pem, error);
}

bool log_issued(const CaDirectory& directory, const Credential& certificate, std::string* error) {
  const IssuanceRecord record{certificate.serial, certificate.common_name, certificate.validity.not_after};
  return append_issuance_record(directory.issuance_log_path(), record, error);
}

}  // namespace

bool CaDirectory::init(const std::string& common_name, const Validity& validity, Credential* ca,
                       std::string* error) const {
  if (!make_private_directory(path_, error)) {
    return false;
  }
  for (const std::string& file : {ca_key_path(), ca_certificate_path(), issuance_log_path(), revocation_list_path()}) {
    if (path_exists(file)) {
      return fail(error, quote(path_) + " already holds a CA because " + quote(file) +
                             " exists; pass an empty or new directory, or keep using this CA");
    }
  }
  Credential created;
  if (!create_ca(common_name, validity, &created, error)) {
    return false;
  }
  if (!create_private_file(ca_key_path(), created.key_pem, error) ||
      !create_private_file(ca_certificate_path(), created.certificate_pem, error) ||
      !create_private_file(issuance_log_path(), kIssuanceLogHeader, error) ||
      !create_private_file(revocation_list_path(), kRevocationListHeader, error)) {
    return false;
  }
  *ca = std::move(created);
  return true;
}

bool CaDirectory::load_ca(Credential* ca, std::string* error) const {
  if (!path_exists(ca_certificate_path())) {
    return fail(error, "no CA in " + quote(path_) + ": " + quote(ca_certificate_path()) +
                           " does not exist; create the CA with 'ecq-pki init-ca --dir " + path_ +
                           "' or pass the directory of an existing CA");
  }
  Credential loaded;
  if (!read_certificate_file(ca_certificate_path(), &loaded.certificate_pem, error) ||
      !read_private_key_file(ca_key_path(), &loaded.key_pem, error)) {
    return false;
  }
  detail::X509Certificate certificate;
  if (!detail::check_mbedtls(detail::parse_certificate(certificate.get(), loaded.certificate_pem),
                             quote(ca_certificate_path()) + ": cannot parse the certificate", error)) {
    return false;
  }
  loaded.serial = certificate_serial(*certificate.get());
  loaded.common_name = certificate_common_name(*certificate.get());
  loaded.validity = certificate_validity(*certificate.get());
  *ca = std::move(loaded);
  return true;
}

bool CaDirectory::issue_coordinator(const std::string& common_name, const std::vector<std::string>& hosts,
                                    const Validity& validity, Credential* coordinator, std::string* error) const {
  Credential ca;
  Credential issued;
  if (!load_ca(&ca, error) || !pki::issue_coordinator(ca, common_name, hosts, validity, &issued, error) ||
      !write_credential(issued, coordinator_certificate_path(), coordinator_key_path(), error)) {
    return false;
  }
  *coordinator = std::move(issued);
  return true;
}

bool CaDirectory::issue_device(const std::string& device_id, const Validity& validity, Credential* device,
                               std::string* error) const {
  Credential ca;
  Credential issued;
  if (!check_device_id(device_id, error) || !load_ca(&ca, error) ||
      !pki::issue_device(ca, device_id, validity, &issued, error) || !log_issued(*this, issued, error)) {
    return false;
  }
  if (!make_private_directory(devices_path(), error) ||
      !write_credential(issued, device_certificate_path(device_id), device_key_path(device_id), error)) {
    return false;
  }
  *device = std::move(issued);
  return true;
}

bool CaDirectory::sign_csr(const std::string& csr, const Validity& validity, Credential* device,
                           std::string* error) const {
  Credential ca;
  Credential issued;
  if (!load_ca(&ca, error) || !pki::sign_csr(ca, csr, validity, &issued, error) || !log_issued(*this, issued, error)) {
    return false;
  }
  *device = std::move(issued);
  return true;
}

bool CaDirectory::make_psk(const std::string& device_id, std::string* error) const {
  std::vector<unsigned char> key;
  return check_device_id(device_id, error) && generate_psk(&key, error) &&
         make_private_directory(psk_directory_path(), error) && write_psk_file(psk_path(device_id), key, error);
}

bool CaDirectory::revoke_serial(const std::string& serial, std::vector<RevocationEntry>* added,
                                std::string* error) const {
  std::string normalized;
  std::vector<IssuanceRecord> records;
  if (!parse_serial(serial, &normalized, error) || !read_issuance_log(&records, error)) {
    return false;
  }
  std::vector<IssuanceRecord> matches;
  for (const IssuanceRecord& record : records) {
    if (record.serial == normalized) {
      matches.push_back(record);
    }
  }
  if (matches.empty()) {
    return fail(error, "serial " + normalized + " is not in " + quote(issuance_log_path()) +
                           "; list the issued serials with 'ecq-pki list --dir " + path_ + "'");
  }
  return revoke(matches, added, error);
}

bool CaDirectory::revoke_device(const std::string& device_id, std::vector<RevocationEntry>* added,
                                std::string* error) const {
  std::vector<IssuanceRecord> records;
  if (!check_device_id(device_id, error) || !read_issuance_log(&records, error)) {
    return false;
  }
  std::vector<IssuanceRecord> matches;
  for (const IssuanceRecord& record : records) {
    if (record.device_id == device_id) {
      matches.push_back(record);
    }
  }
  if (matches.empty()) {
    return fail(error, "no certificate for device id " + quote(device_id) + " in " + quote(issuance_log_path()) +
                           "; list the issued certificates with 'ecq-pki list --dir " + path_ + "'");
  }
  return revoke(matches, added, error);
}

bool CaDirectory::read_issuance_log(std::vector<IssuanceRecord>* records, std::string* error) const {
  return pki::read_issuance_log(issuance_log_path(), records, error);
}

bool CaDirectory::load_revocations(RevocationList* revocations, std::string* error) const {
  return revocations->load(revocation_list_path(), error);
}

bool CaDirectory::revoke(const std::vector<IssuanceRecord>& candidates, std::vector<RevocationEntry>* added,
                         std::string* error) const {
  RevocationList revocations;
  if (!load_revocations(&revocations, error)) {
    return false;
  }
  std::vector<RevocationEntry> entries;
  std::set<std::string> serials;
  for (const IssuanceRecord& record : candidates) {
    if (!revocations.is_revoked(record.serial) && serials.insert(record.serial).second) {
      entries.push_back(RevocationEntry{record.serial, record.device_id});
    }
  }
  if (!entries.empty() && !append_revocations(revocation_list_path(), entries, error)) {
    return false;
  }
  *added = std::move(entries);
  return true;
}

}  // namespace ecq::pki
