#pragma once
// Keys, certificates and certificate signing requests for the fleet, made in
// memory as PEM text. All keys are EC keys on NIST P-256, all signatures are
// ECDSA with SHA-256, and all random numbers come from a CTR-DRBG seeded from
// mbedtls_entropy. The CA, coordinator and device certificates are X.509 v3:
//
//   CA           subject CN given, basicConstraints CA:TRUE with pathlen 0
//                (critical), keyUsage keyCertSign and cRLSign (critical)
//   coordinator  subject CN given, basicConstraints CA:FALSE, keyUsage
//                digitalSignature, extendedKeyUsage serverAuth, and a
//                subjectAltName with one dNSName per host name
//   device       subject CN = device id, basicConstraints CA:FALSE, keyUsage
//                digitalSignature, extendedKeyUsage clientAuth
//
// Every certificate has a random positive 16-byte serial number and the
// subjectKeyIdentifier and authorityKeyIdentifier extensions (the CA's own
// authorityKeyIdentifier names its own key). Mbed TLS 2.28 checks a server's name only against
// dNSName entries when a subjectAltName is present, so a coordinator reached
// at 127.0.0.1 needs the host name "localhost" in its certificate.
//
// Every function returns true on success. On failure it returns false, leaves
// its outputs unchanged and writes a message to *error (which may be null),
// including Mbed TLS's error text where an Mbed TLS call failed. Memory
// exhaustion is reported by exception (std::bad_alloc).

#include <mbedtls/x509_crt.h>

#include <string>
#include <vector>

#include "ecq/pki/validity.h"

namespace ecq::pki {

/// Size of a certificate serial number, in bytes. The first byte is below
/// 0x80, so the DER INTEGER is positive and needs no leading zero byte.
constexpr std::size_t kSerialBytes = 16;

/// A certificate and, where this library generated it, its private key.
struct Credential {
  std::string certificate_pem;  ///< "-----BEGIN CERTIFICATE-----" text
  /// SEC1 "-----BEGIN EC PRIVATE KEY-----" text, unencrypted; empty for a
  /// certificate signed from a CSR, whose key stays with the device.
  std::string key_pem;
  std::string serial;       ///< serial number in lowercase hex without leading zeros
  std::string common_name;  ///< the subject CN (the device id for a device)
  Validity validity;
};

/// Generates an EC P-256 key pair and stores it as SEC1 PEM text in *key_pem.
bool generate_key(std::string* key_pem, std::string* error);

/// Creates a self-signed CA certificate with a new key. `common_name` must
/// pass check_common_name(); `validity` must pass check_validity().
bool create_ca(const std::string& common_name, const Validity& validity, Credential* ca, std::string* error);

/// Issues a coordinator certificate with a new key, signed by `ca` (which
/// needs certificate_pem and key_pem). `hosts` must contain 1 to 64 distinct
/// names that pass check_host_name(); they become the dNSName entries in the
/// given order.
bool issue_coordinator(const Credential& ca, const std::string& common_name, const std::vector<std::string>& hosts,
                       const Validity& validity, Credential* coordinator, std::string* error);

/// Issues a device certificate with a new key, signed by `ca`. `device_id`
/// must pass check_device_id() and becomes the subject CN.
bool issue_device(const Credential& ca, const std::string& device_id, const Validity& validity, Credential* device,
                  std::string* error);

/// Makes a PEM certificate signing request with subject CN = `device_id`,
/// signed with `key_pem` (an unencrypted P-256 private key in PEM or DER), so
/// that the private key can stay on the device.
bool make_csr(const std::string& key_pem, const std::string& device_id, std::string* csr_pem, std::string* error);

/// Signs a certificate signing request (PEM or DER) with `ca` and stores the
/// device certificate in *device, with key_pem empty. Fails when the CSR's
/// signature does not verify, its key is not EC P-256, or its subject has no
/// CN that passes check_device_id(). Other subject attributes and requested
/// extensions are ignored: the certificate gets the device profile.
bool sign_csr(const Credential& ca, const std::string& csr, const Validity& validity, Credential* device,
              std::string* error);

/// Returns the serial number of a parsed certificate in lowercase hex without
/// leading zeros, the form Credential::serial and the revocation list use.
std::string certificate_serial(const mbedtls_x509_crt& certificate);

/// Returns the value of the first CN attribute of the certificate's subject,
/// or an empty string when it has none.
std::string certificate_common_name(const mbedtls_x509_crt& certificate);

/// Returns the certificate's notBefore and notAfter times.
Validity certificate_validity(const mbedtls_x509_crt& certificate);

/// Normalizes a serial number typed by a person or read from a file: accepts
/// hex digits in either case, optionally grouped with ':', and stores the
/// lowercase form without leading zeros in *serial. Fails on other characters
/// and on more than 20 bytes (40 digits), the RFC 5280 limit.
bool parse_serial(const std::string& text, std::string* serial, std::string* error);

}  // namespace ecq::pki
