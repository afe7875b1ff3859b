#pragma once
// The CA directory: the fleet CA's key and certificate together with
// everything it issued. ecq-pki works on one such directory. Layout:
//
//   DIR/                  mode 0700
//     ca.crt              CA certificate: the trust anchor for the
//                         coordinator and every device
//     ca.key              CA private key; keep it on this machine only
//     coordinator.crt     coordinator certificate (TLS server)
//     coordinator.key     coordinator private key
//     devices/            mode 0700
//       ID.crt            device certificate made by issue_device
//       ID.key            device private key made by issue_device
//     psk/                mode 0700
//       ID.psk            device PSK, 64 hex digits; PSK identity = ID
//     issued.txt          issuance log (see issuance_log.h)
//     revoked.txt         revocation list (see revocation.h)
//
// ID is a device id. Every file has mode 0600. Files that are replaced
// (re-issued certificates and keys, new PSKs, the two lists) are replaced
// atomically. A certificate signed from a CSR goes to a path of the caller's
// choice, and its key stays on the device. Its serial is logged like any
// other. Coordinator certificates are not logged, so they cannot be revoked
// by serial or id.
//
// NOTE: Concurrent writers are not locked out. Two processes that issue or
// revoke in the same directory at once can lose one of their lines in
// issued.txt or revoked.txt, so run one ecq-pki at a time per directory.
//
// Every function returns true on success. On failure it returns false and
// writes a message to *error (which may be null) that names the file and
// the next step, such as running init-ca first.

#include <string>
#include <vector>

#include "ecq/pki/credentials.h"
#include "ecq/pki/issuance_log.h"
#include "ecq/pki/revocation.h"
#include "ecq/pki/validity.h"

namespace ecq::pki {

/// One CA directory, named by its path. The object only stores the path;
/// each function reads what it needs from disk.
class CaDirectory {
 public:
  explicit CaDirectory(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string ca_certificate_path() const { return path_ + "/ca.crt"; }
  std::string ca_key_path() const { return path_ + "/ca.key"; }
  std::string coordinator_certificate_path() const { return path_ + "/coordinator.crt"; }
  std::string coordinator_key_path() const { return path_ + "/coordinator.key"; }
  std::string devices_path() const { return path_ + "/devices"; }
  std::string device_certificate_path(const std::string& id) const { return devices_path() + "/" + id + ".crt"; }
  std::string device_key_path(const std::string& id) const { return devices_path() + "/" + id + ".key"; }
  std::string psk_directory_path() const { return path_ + "/psk"; }
  std::string psk_path(const std::string& id) const { return psk_directory_path() + "/" + id + ".psk"; }
  std::string issuance_log_path() const { return path_ + "/issued.txt"; }
  std::string revocation_list_path() const { return path_ + "/revoked.txt"; }

  /// Creates the directory (its parent must exist) or reuses an existing one,
  /// sets mode 0700, and writes a new CA with `common_name` and `validity`
  /// plus an empty issuance log and revocation list. Fails without changing
  /// anything when the directory already contains ca.key, ca.crt, issued.txt
  /// or revoked.txt.
  bool init(const std::string& common_name, const Validity& validity, Credential* ca, std::string* error) const;

  /// Reads ca.crt and ca.key. Fails with a hint to run init when ca.crt is
  /// missing.
  bool load_ca(Credential* ca, std::string* error) const;

  /// Issues a coordinator certificate (see pki::issue_coordinator) and writes
  /// coordinator.crt and coordinator.key, replacing earlier ones.
  bool issue_coordinator(const std::string& common_name, const std::vector<std::string>& hosts,
                         const Validity& validity, Credential* coordinator, std::string* error) const;

  /// Issues a device certificate (see pki::issue_device), logs its serial in
  /// issued.txt and writes devices/ID.crt and devices/ID.key, replacing
  /// earlier ones. The serial is logged before the files are written, so a
  /// certificate on disk is always in the log.
  bool issue_device(const std::string& device_id, const Validity& validity, Credential* device,
                    std::string* error) const;

  /// Signs a CSR (see pki::sign_csr) and logs its serial in issued.txt. The
  /// caller writes device->certificate_pem where the device can fetch it.
  bool sign_csr(const std::string& csr, const Validity& validity, Credential* device, std::string* error) const;

  /// Generates a new PSK for the device and writes psk/ID.psk, replacing an
  /// earlier one.
  bool make_psk(const std::string& device_id, std::string* error) const;

  /// Adds the serial to revoked.txt with the device id that issued.txt logs
  /// for it. Fails when the serial is not in issued.txt. *added receives the
  /// new entry, or nothing when the serial was already revoked.
  bool revoke_serial(const std::string& serial, std::vector<RevocationEntry>* added, std::string* error) const;

  /// Adds every serial that issued.txt logs for the device id and that is
  /// not yet revoked to revoked.txt. Certificates issued to the id later are
  /// not affected. Fails when issued.txt has no certificate for the id.
  /// *added receives the new entries, none when all were already revoked.
  bool revoke_device(const std::string& device_id, std::vector<RevocationEntry>* added, std::string* error) const;

  /// Reads issued.txt.
  bool read_issuance_log(std::vector<IssuanceRecord>* records, std::string* error) const;

  /// Reads revoked.txt.
  bool load_revocations(RevocationList* revocations, std::string* error) const;

 private:
  bool revoke(const std::vector<IssuanceRecord>& candidates, std::vector<RevocationEntry>* added,
              std::string* error) const;

  std::string path_;
};

}  // namespace ecq::pki
