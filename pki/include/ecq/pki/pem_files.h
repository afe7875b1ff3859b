#pragma once
// Reading certificates, private keys and certificate signing requests back
// from PEM files, as text or straight into Mbed TLS contexts.
//
// Every function returns true on success. On failure it returns false, leaves
// its output unchanged and writes a message to *error (which may be null)
// that names the file. For a missing or unreadable file the message gives the
// system's reason. For wrong content it gives the PEM type the file contains
// instead, or Mbed TLS's parse error.

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <string>

namespace ecq::pki {

/// Reads a file that contains one or more PEM certificates into *pem and checks
/// that each of them parses.
bool read_certificate_file(const std::string& path, std::string* pem, std::string* error);

/// Reads a file that contains an unencrypted PEM private key into *pem and
/// checks that it parses.
bool read_private_key_file(const std::string& path, std::string* pem, std::string* error);

/// Reads a file that contains a PEM certificate signing request into *pem and
/// checks that it parses. The signature is checked by sign_csr, not here.
bool read_csr_file(const std::string& path, std::string* pem, std::string* error);

/// Parses the certificates in a PEM file and appends them to `chain`, which
/// the caller has initialized with mbedtls_x509_crt_init and frees.
bool load_certificate_file(const std::string& path, mbedtls_x509_crt* chain, std::string* error);

/// Parses an unencrypted PEM private key into `key`, which the caller has
/// initialized with mbedtls_pk_init (and not set up) and frees.
bool load_private_key_file(const std::string& path, mbedtls_pk_context* key, std::string* error);

}  // namespace ecq::pki
