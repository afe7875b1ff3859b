// Key generation and certificate issuance for create_ca, issue_coordinator,
// issue_device and sign_csr (see credentials.h for the three profiles).

#include "certificates.h"

#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>

#include <set>

#include "der.h"
#include "ecq/pki/credentials.h"
#include "ecq/pki/names.h"
#include "support.h"

namespace ecq::pki {
namespace detail {
namespace {

// Room for the PEM text of a P-256 certificate without host names, which
// takes under 1 KiB.
constexpr std::size_t kPemBaseSize = 4096;

constexpr std::size_t kMaxHosts = 64;

// Returns "CN=<name>" for mbedtls_x509write_crt_set_subject_name, whose
// parser ends an attribute at ',' unless a backslash precedes it.
std::string distinguished_name(const std::string& common_name) {
  std::string name = "CN=";
  for (const char c : common_name) {
    if (c == ',') {
      name.push_back('\\');
    }
    name.push_back(c);
  }
  return name;
}

bool set_serial(mbedtls_x509write_cert* writer, Random& random, std::string* error) {
  unsigned char bytes[kSerialBytes];
  if (!random.fill(bytes, sizeof bytes, error)) {
    return false;
  }
  // Bit 7 clear keeps the INTEGER positive; bit 6 set keeps all 16 bytes.
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7F) | 0x40);
  Mpi serial;
  if (!check_mbedtls(mbedtls_mpi_read_binary(serial.get(), bytes, sizeof bytes), "cannot store the serial number",
                     error)) {
    return false;
  }
  return check_mbedtls(mbedtls_x509write_crt_set_serial(writer, serial.get()), "cannot set the serial number", error);
}

bool set_names(mbedtls_x509write_cert* writer, const Profile& profile, const Signer& signer, std::string* error) {
  const std::string not_before = format_utc_time(profile.validity.not_before);
  const std::string not_after = format_utc_time(profile.validity.not_after);
  if (!check_mbedtls(mbedtls_x509write_crt_set_validity(writer, not_before.c_str(), not_after.c_str()),
                     "cannot set the validity " + not_before + " to " + not_after, error)) {
    return false;
  }
  const std::string subject = distinguished_name(profile.common_name);
  if (!check_mbedtls(mbedtls_x509write_crt_set_subject_name(writer, subject.c_str()),
                     "cannot set the subject name " + quote(subject), error)) {
    return false;
  }
  const std::string issuer = distinguished_name(signer.common_name);
  return check_mbedtls(mbedtls_x509write_crt_set_issuer_name(writer, issuer.c_str()),
                       "cannot set the issuer name " + quote(issuer), error);
}

bool set_extension(mbedtls_x509write_cert* writer, const char* oid, std::size_t oid_size, const std::string& value,
                   const std::string& name, std::string* error) {
  const int code = mbedtls_x509write_crt_set_extension(
      writer, oid, oid_size, 0, reinterpret_cast<const unsigned char*>(value.data()), value.size());
  return check_mbedtls(code, "cannot add the " + name + " extension", error);
}

bool set_extensions(mbedtls_x509write_cert* writer, const Profile& profile, std::string* error) {
  // pathlen 0: the fleet CA signs end-entity certificates only.
  if (!check_mbedtls(mbedtls_x509write_crt_set_basic_constraints(writer, profile.is_ca ? 1 : 0, profile.is_ca ? 0 : -1),
                     "cannot add the basicConstraints extension", error) ||
      !check_mbedtls(mbedtls_x509write_crt_set_key_usage(writer, profile.key_usage),
                     "cannot add the keyUsage extension", error) ||
      !check_mbedtls(mbedtls_x509write_crt_set_subject_key_identifier(writer),
                     "cannot add the subjectKeyIdentifier extension", error) ||
      !check_mbedtls(mbedtls_x509write_crt_set_authority_key_identifier(writer),
                     "cannot add the authorityKeyIdentifier extension", error)) {
    return false;
  }
  if (!profile.hosts.empty() &&
      !set_extension(writer, MBEDTLS_OID_SUBJECT_ALT_NAME, MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
                     subject_alt_name_value(profile.hosts), "subjectAltName", error)) {
    return false;
  }
  if (!profile.extended_key_usage_oid.empty() &&
      !set_extension(writer, MBEDTLS_OID_EXTENDED_KEY_USAGE, MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE),
                     extended_key_usage_value(profile.extended_key_usage_oid), "extendedKeyUsage", error)) {
    return false;
  }
  return true;
}

// Parses the new certificate and verifies it against the CA, so that a
// certificate whose issuer name or signature does not match is never
// returned. Expiry is not checked, because callers may ask for expired
// certificates.
bool verify_issued(const std::string& pem, mbedtls_x509_crt* ca_certificate, std::string* serial, std::string* error) {
  X509Certificate issued;
  if (!check_mbedtls(parse_certificate(issued.get(), pem), "cannot parse the certificate just issued", error)) {
    return false;
  }
  std::uint32_t flags = 0;
  mbedtls_x509_crt_verify(issued.get(), ca_certificate, nullptr, nullptr, &flags, nullptr, nullptr);
  flags &= ~static_cast<std::uint32_t>(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
  if (flags != 0) {
    char reasons[512];
    mbedtls_x509_crt_verify_info(reasons, sizeof reasons, "", flags);
    return fail(error, "the certificate just issued does not verify against its CA: " + std::string(reasons));
  }
  *serial = certificate_serial(*issued.get());
  return true;
}

}  // namespace

bool generate_key(mbedtls_pk_context* key, Random& random, std::string* error) {
  if (!check_mbedtls(mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), "cannot set up an EC key",
                     error)) {
    return false;
  }
  return check_mbedtls(
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key), Random::generate, random.state()),
      "cannot generate a P-256 key pair", error);
}

bool write_key_pem(mbedtls_pk_context* key, std::string* key_pem, std::string* error) {
  unsigned char buffer[1024];
  const int code = mbedtls_pk_write_key_pem(key, buffer, sizeof buffer);
  if (code == 0) {
    *key_pem = reinterpret_cast<const char*>(buffer);
  }
  mbedtls_platform_zeroize(buffer, sizeof buffer);
  return check_mbedtls(code, "cannot write the private key as PEM", error);
}

bool load_signer(const Credential& ca, mbedtls_x509_crt* certificate, mbedtls_pk_context* key, std::string* error) {
  if (!check_mbedtls(parse_certificate(certificate, ca.certificate_pem), "cannot parse the CA certificate", error) ||
      !check_mbedtls(parse_private_key(key, ca.key_pem), "cannot parse the CA private key", error)) {
    return false;
  }
  if (certificate->ca_istrue == 0) {
    return fail(error, "the CA certificate has no basicConstraints CA:TRUE; pass the certificate that create_ca made");
  }
  if (certificate->subject.next != nullptr || certificate_common_name(*certificate).empty()) {
    return fail(error, "the CA certificate's subject must be a single CN attribute, as create_ca writes it");
  }
  return check_mbedtls(mbedtls_pk_check_pair(&certificate->pk, key),
                       "the CA private key does not belong to the CA certificate", error);
}

bool sign_certificate(const Profile& profile, const Signer& signer, Random& random, std::string* pem,
                      std::string* error) {
  CertificateWriter writer;
  mbedtls_x509write_crt_set_version(writer.get(), MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(writer.get(), MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(writer.get(), profile.subject_key);
  mbedtls_x509write_crt_set_issuer_key(writer.get(), signer.key);
  if (!set_serial(writer.get(), random, error) || !set_names(writer.get(), profile, signer, error) ||
      !set_extensions(writer.get(), profile, error)) {
    return false;
  }
  // Base64 and line breaks turn each DER byte of a host name (plus its tag and
  // length) into under 2 bytes of PEM text.
  std::size_t buffer_size = kPemBaseSize;
  for (const std::string& host : profile.hosts) {
    buffer_size += 2 * (host.size() + 4);
  }
  std::string buffer(buffer_size, '\0');
  unsigned char* bytes = reinterpret_cast<unsigned char*>(&buffer[0]);
  if (!check_mbedtls(mbedtls_x509write_crt_pem(writer.get(), bytes, buffer.size(), Random::generate, random.state()),
                     "cannot sign the certificate", error)) {
    return false;
  }
  buffer.resize(buffer.find('\0'));
  *pem = buffer;
  return true;
}

bool issue_for_key(const Credential& ca, const Profile& profile, Random& random, Credential* issued,
                   std::string* error) {
  if (!check_validity(profile.validity, error)) {
    return false;
  }
  X509Certificate ca_certificate;
  PkContext ca_key;
  if (!load_signer(ca, ca_certificate.get(), ca_key.get(), error)) {
    return false;
  }
  const Signer signer{ca_key.get(), certificate_common_name(*ca_certificate.get())};
  Credential result;
  if (!sign_certificate(profile, signer, random, &result.certificate_pem, error) ||
      !verify_issued(result.certificate_pem, ca_certificate.get(), &result.serial, error)) {
    return false;
  }
  result.common_name = profile.common_name;
  result.validity = profile.validity;
  *issued = std::move(result);
  return true;
}

// Generates the subject's key, issues its certificate and returns both.
bool issue_with_new_key(const Credential& ca, Profile profile, Credential* issued, std::string* error) {
  Random random;
  PkContext key;
  std::string key_pem;
  if (!random.seed(error) || !generate_key(key.get(), random, error) || !write_key_pem(key.get(), &key_pem, error)) {
    return false;
  }
  profile.subject_key = key.get();
  Credential result;
  if (!issue_for_key(ca, profile, random, &result, error)) {
    return false;
  }
  result.key_pem = std::move(key_pem);
  *issued = std::move(result);
  return true;
}

Profile device_profile(const std::string& device_id, mbedtls_pk_context* key, const Validity& validity) {
  return Profile{device_id,
                 key,
                 validity,
                 false,
                 MBEDTLS_X509_KU_DIGITAL_SIGNATURE,
                 {},
                 std::string(MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH))};
}

}  // namespace detail

using detail::check_mbedtls;
using detail::fail;
using detail::Profile;
using detail::quote;

bool generate_key(std::string* key_pem, std::string* error) {
  detail::Random random;
  detail::PkContext key;
  return random.seed(error) && detail::generate_key(key.get(), random, error) &&
         detail::write_key_pem(key.get(), key_pem, error);
}

bool create_ca(const std::string& common_name, const Validity& validity, Credential* ca, std::string* error) {
  if (!check_common_name(common_name, error) || !check_validity(validity, error)) {
    return false;
  }
  detail::Random random;
  detail::PkContext key;
  Credential result;
  if (!random.seed(error) || !detail::generate_key(key.get(), random, error) ||
      !detail::write_key_pem(key.get(), &result.key_pem, error)) {
    return false;
  }
  const Profile profile{
      common_name, key.get(), validity, true, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN, {}, {}};
  const detail::Signer self{key.get(), common_name};
  if (!detail::sign_certificate(profile, self, random, &result.certificate_pem, error)) {
    return false;
  }
  detail::X509Certificate parsed;
  if (!check_mbedtls(detail::parse_certificate(parsed.get(), result.certificate_pem),
                     "cannot parse the CA certificate just created", error)) {
    return false;
  }
  result.serial = certificate_serial(*parsed.get());
  result.common_name = common_name;
  result.validity = validity;
  *ca = std::move(result);
  return true;
}

bool issue_coordinator(const Credential& ca, const std::string& common_name, const std::vector<std::string>& hosts,
                       const Validity& validity, Credential* coordinator, std::string* error) {
  if (!check_common_name(common_name, error)) {
    return false;
  }
  if (hosts.empty() || hosts.size() > detail::kMaxHosts) {
    return fail(error, "a coordinator certificate needs 1 to 64 host names, got " + std::to_string(hosts.size()));
  }
  std::set<std::string> seen;
  for (const std::string& host : hosts) {
    if (!check_host_name(host, error)) {
      return false;
    }
    if (!seen.insert(host).second) {
      return fail(error, "host name " + quote(host) + " is given twice; list each host name once");
    }
  }
  const Profile profile{common_name,
                        nullptr,
                        validity,
                        false,
                        MBEDTLS_X509_KU_DIGITAL_SIGNATURE,
                        hosts,
                        std::string(MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH))};
  return detail::issue_with_new_key(ca, profile, coordinator, error);
}

bool issue_device(const Credential& ca, const std::string& device_id, const Validity& validity, Credential* device,
                  std::string* error) {
  if (!check_device_id(device_id, error)) {
    return false;
  }
  return detail::issue_with_new_key(ca, detail::device_profile(device_id, nullptr, validity), device, error);
}

}  // namespace ecq::pki
