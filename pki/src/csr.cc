// Certificate signing requests: made on the device with its own key, signed
// by the CA, so that the device's private key never leaves it.

#include <mbedtls/md.h>

#include "certificates.h"
#include "ecq/pki/credentials.h"
#include "ecq/pki/names.h"
#include "support.h"

namespace ecq::pki {
namespace {

using detail::check_mbedtls;
using detail::fail;

bool is_accepted_digest(mbedtls_md_type_t digest) {
  return digest == MBEDTLS_MD_SHA256 || digest == MBEDTLS_MD_SHA384 || digest == MBEDTLS_MD_SHA512;
}

// mbedtls_x509_csr_parse checks the structure only, so the signature over
// the CertificationRequestInfo is checked here with the CSR's own key.
bool verify_csr_signature(mbedtls_x509_csr* csr, std::string* error) {
  if (!is_accepted_digest(csr->sig_md)) {
    return fail(error,
                "the CSR is signed with a digest other than SHA-256, SHA-384 or SHA-512; "
                "make it again with make_csr or 'ecq-pki make-csr'");
  }
  const mbedtls_md_info_t* digest = mbedtls_md_info_from_type(csr->sig_md);
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  if (!check_mbedtls(mbedtls_md(digest, csr->cri.p, csr->cri.len, hash), "cannot hash the CSR", error)) {
    return false;
  }
  const int code = mbedtls_pk_verify_ext(csr->sig_pk, csr->sig_opts, &csr->pk, csr->sig_md, hash,
                                         mbedtls_md_get_size(digest), csr->sig.p, csr->sig.len);
  return check_mbedtls(code,
                       "the CSR's signature does not verify with its public key, so the CSR was altered "
                       "or damaged; make it again on the device",
                       error);
}

}  // namespace

bool make_csr(const std::string& key_pem, const std::string& device_id, std::string* csr_pem, std::string* error) {
  if (!check_device_id(device_id, error)) {
    return false;
  }

  detail::PkContext key;
  if (!check_mbedtls(detail::parse_private_key(key.get(), key_pem), "cannot parse the device's private key", error)) {
    return false;
  }
  if (!detail::is_p256_key(*key.get())) {
    return fail(error, "the device's private key is not an EC P-256 key; generate one with generate_key");
  }
  detail::Random random;
  if (!random.seed(error)) {
    return false;
  }

  detail::CsrWriter writer;
  mbedtls_x509write_csr_set_md_alg(writer.get(), MBEDTLS_MD_SHA256);
  mbedtls_x509write_csr_set_key(writer.get(), key.get());
  const std::string subject = "CN=" + device_id;
  if (!check_mbedtls(mbedtls_x509write_csr_set_subject_name(writer.get(), subject.c_str()),
                     "cannot set the CSR subject " + detail::quote(subject), error)) {
    return false;
  }

  unsigned char buffer[4096];
  if (!check_mbedtls(
          mbedtls_x509write_csr_pem(writer.get(), buffer, sizeof buffer, detail::Random::generate, random.state()),
          "cannot sign the CSR", error)) {
    return false;
  }
  *csr_pem = reinterpret_cast<const char*>(buffer);
  return true;
}

bool sign_csr(const Credential& ca, const std::string& csr, const Validity& validity, Credential* device,
              std::string* error) {
  detail::X509Csr request;
  if (!check_mbedtls(detail::parse_csr(request.get(), csr), "cannot parse the CSR", error) ||
      !verify_csr_signature(request.get(), error)) {
    return false;
  }
  if (!detail::is_p256_key(request.get()->pk)) {
    return fail(error, "the CSR's public key is not an EC P-256 key; the fleet uses P-256 keys only");
  }
  const std::string device_id = detail::first_common_name(request.get()->subject);
  std::string id_error;
  if (!check_device_id(device_id, &id_error)) {
    return fail(error, "the CSR's subject CN is not a device id: " + id_error);
  }
  detail::Random random;
  if (!random.seed(error)) {
    return false;
  }
  const detail::Profile profile = detail::device_profile(device_id, &request.get()->pk, validity);
  return detail::issue_for_key(ca, profile, random, device, error);
}

}  // namespace ecq::pki
