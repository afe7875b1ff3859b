#pragma once
// Certificate issuance shared by certificates.cc and csr.cc.

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <string>
#include <vector>

#include "ecq/pki/credentials.h"
#include "support.h"

namespace ecq::pki::detail {

/// Everything that differs between the CA, coordinator and device
/// certificates.
struct Profile {
  std::string common_name;                    ///< subject CN
  mbedtls_pk_context* subject_key = nullptr;  ///< its public part goes into the certificate
  Validity validity;
  bool is_ca = false;
  unsigned int key_usage = 0;          ///< MBEDTLS_X509_KU_* bits
  std::vector<std::string> hosts;      ///< dNSName entries; none means no subjectAltName
  std::string extended_key_usage_oid;  ///< OID content bytes; empty means no extendedKeyUsage
};

/// The key that signs and the CN of the issuer name.
struct Signer {
  mbedtls_pk_context* key = nullptr;
  std::string common_name;
};

/// Sets up `key` (initialized, empty) as a new EC P-256 key pair.
bool generate_key(mbedtls_pk_context* key, Random& random, std::string* error);

/// Stores the private key as SEC1 PEM text.
bool write_key_pem(mbedtls_pk_context* key, std::string* key_pem, std::string* error);

/// Builds and signs a certificate for `profile` and stores its PEM text.
bool sign_certificate(const Profile& profile, const Signer& signer, Random& random, std::string* pem,
                      std::string* error);

/// Parses the CA credential and checks that it is a CA certificate with a
/// single-CN subject and that the key belongs to it.
bool load_signer(const Credential& ca, mbedtls_x509_crt* certificate, mbedtls_pk_context* key, std::string* error);

/// Issues a certificate for profile.subject_key, signed by `ca`, and verifies
/// it against the CA before storing it in *issued (key_pem stays empty).
bool issue_for_key(const Credential& ca, const Profile& profile, Random& random, Credential* issued,
                   std::string* error);

/// Returns the device profile: subject CN = device id, keyUsage
/// digitalSignature, extendedKeyUsage clientAuth.
Profile device_profile(const std::string& device_id, mbedtls_pk_context* key, const Validity& validity);

}  // namespace ecq::pki::detail
