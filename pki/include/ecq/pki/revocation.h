#pragma once
// The revocation list of a CA: one line per revoked certificate, with two
// fields separated by spaces:
//
//   <serial, hex> <device id>
//
// '#' starts a comment that runs to the end of the line; blank lines are
// ignored. Serials may be written in either case and grouped with ':'.
//
// Revocation is by serial number. Revoking a device id revokes the serials
// issued to it so far (see CaDirectory::revoke_device), so a certificate
// issued to the same id later, when the device enrolls again, is not revoked.
// The device id on each line is for people reading the file. A listed serial
// is revoked whatever id its line names, because the CA gives each serial to
// one certificate only.
//
// Every function returns true on success. On failure it returns false, leaves
// its output unchanged and writes a message to *error (which may be null)
// that names the file and, for a malformed line, its line number.

#include <mbedtls/x509_crt.h>

#include <set>
#include <string>
#include <vector>

namespace ecq::pki {

/// One revoked certificate.
struct RevocationEntry {
  std::string serial;  ///< lowercase hex without leading zeros
  std::string device_id;
};

/// The revoked serial numbers of a CA, for lookups during the TLS handshake.
class RevocationList {
 public:
  /// Replaces the list with the parsed `text`; `path` is used in messages
  /// only. Fails on a line without exactly two fields, an invalid serial or
  /// an invalid device id.
  bool parse(const std::string& text, const std::string& path, std::string* error);

  /// Replaces the list with the contents of the file at `path`. A missing
  /// file is an error, not an empty list, so that a lost list is noticed.
  bool load(const std::string& path, std::string* error);

  /// Returns true when the serial (any form parse_serial() accepts) is
  /// listed. A serial that does not parse is never listed.
  bool is_revoked(const std::string& serial) const;

  /// Returns true when the certificate's serial is listed.
  bool is_revoked(const mbedtls_x509_crt& certificate) const;

  /// The entries in file order, duplicates included.
  const std::vector<RevocationEntry>& entries() const { return entries_; }

 private:
  std::vector<RevocationEntry> entries_;
  std::set<std::string> serials_;
};

/// Adds entries to the existing revocation list file at `path`, rewriting it
/// atomically. Fails when the file is missing or does not parse.
bool append_revocations(const std::string& path, const std::vector<RevocationEntry>& entries, std::string* error);

}  // namespace ecq::pki
