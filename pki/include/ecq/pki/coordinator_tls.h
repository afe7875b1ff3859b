#pragma once
// The coordinator's TLS server configuration, built from a CA directory
// (ca_directory.h) or from explicit files, with the revocation check wired
// to a revocation list that can be reloaded while the server runs.

#include <string>

#include "ecq/pki/revocation.h"
#include "ecq/transport/tls.h"

namespace ecq::pki {

/// Files the coordinator's TLS server reads. Empty paths are unused.
struct CoordinatorTlsFiles {
  std::string ca_certificate;
  std::string certificate;
  std::string key;
  std::string revocations;  ///< ecq-pki's revoked.txt; empty = no revocation check
  std::string psk_directory;  ///< directory of ID.psk files for PSK mode
};

/// Returns the paths of a CA directory: ca.crt, coordinator.crt,
/// coordinator.key, revoked.txt and psk/.
CoordinatorTlsFiles coordinator_tls_files(const std::string& ca_directory);

/// A server TlsConfig whose callbacks point into this object, so it must
/// outlive every TlsContext made from config(). Used from one thread (the
/// coordinator's io_context thread); reload_revocations() must not run
/// while a handshake is in progress on another thread.
class CoordinatorTls {
 public:
  CoordinatorTls() = default;
  CoordinatorTls(const CoordinatorTls&) = delete;
  CoordinatorTls& operator=(const CoordinatorTls&) = delete;

  /// Reads the PEM files (certificate mode) or checks the PSK directory (PSK
  /// mode) and loads the revocation list. Returns false with a message naming
  /// the file.
  bool init(const CoordinatorTlsFiles& files, transport::TlsMode mode, std::string* error);

  const transport::TlsConfig& config() const { return config_; }
  transport::TlsConfig& config() { return config_; }

  /// Reads the revocation list again. On failure the old list stays in force.
  bool reload_revocations(std::string* error);

  /// True when `serial` (lowercase hex, as TlsStream::peer_serial() gives it)
  /// is on the current list.
  bool is_revoked(const std::string& serial) const { return revocations_.is_revoked(serial); }
  const RevocationList& revocations() const { return revocations_; }

 private:
  static bool check_revoked(void* context, const std::uint8_t* serial, std::size_t serial_size,
                            const std::string& device_id);
  static bool find_psk(void* context, const std::string& identity, std::uint8_t* key, std::size_t* key_size);

  CoordinatorTlsFiles files_;
  RevocationList revocations_;
  transport::TlsConfig config_;
};

}  // namespace ecq::pki
