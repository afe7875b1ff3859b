#pragma once
// Client TLS configurations for a device, built from credential files: an
// ecq-pki CA directory, explicit PEM files, or a PSK file.
//
// Every function returns true on success. On failure it returns false, leaves
// *config unchanged and writes a message to *error that names the file and
// what to do.

#include <string>

#include "ecq/transport/tls.h"

namespace ecq::pki {

/// Certificate mode from explicit files: the fleet CA certificate, the
/// device certificate and its unencrypted private key. `server_name` is the
/// coordinator host name checked against its certificate. Stores the
/// certificate's subject CN, the device id, in *device_id.
bool device_tls_from_files(const std::string& ca_path, const std::string& certificate_path,
                           const std::string& key_path, const std::string& server_name,
                           transport::TlsConfig* config, std::string* device_id, std::string* error);

/// Certificate mode from an ecq-pki CA directory: DIR/ca.crt,
/// DIR/devices/ID.crt and DIR/devices/ID.key. Fails when the certificate's
/// subject CN is not `device_id`.
bool device_tls_from_ca_directory(const std::string& directory, const std::string& device_id,
                                  const std::string& server_name, transport::TlsConfig* config, std::string* error);

/// PSK mode: the key from a PSK file (64 hex digits), identity `device_id`.
bool device_tls_from_psk_file(const std::string& psk_path, const std::string& device_id,
                              transport::TlsConfig* config, std::string* error);

}  // namespace ecq::pki
