#pragma once
// DER encodings of the extensions that Mbed TLS 2.28 has no setter for:
// subjectAltName and extendedKeyUsage (RFC 5280, sections 4.2.1.6 and
// 4.2.1.12).

#include <string>
#include <vector>

namespace ecq::pki::detail {

/// Returns the DER of a tag-length-value element with the given contents.
std::string der_element(unsigned char tag, const std::string& contents);

/// Returns the value of a subjectAltName extension that lists each host name
/// as a dNSName: SEQUENCE OF [2] IMPLICIT IA5String.
std::string subject_alt_name_value(const std::vector<std::string>& hosts);

/// Returns the value of an extendedKeyUsage extension with one purpose:
/// SEQUENCE OF OBJECT IDENTIFIER. `oid` contains the OID's content bytes, as
/// the MBEDTLS_OID_* macros spell them.
std::string extended_key_usage_value(const std::string& oid);

}  // namespace ecq::pki::detail
