#include "ecq/pki/credentials.h"

#include <doctest/doctest.h>
#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_csr.h>

#include <ctime>
#include <string>
#include <vector>

#include "ecq/pki/names.h"
#include "ecq/pki/validity.h"
#include "test_support.h"

namespace ecq::pki {
namespace {

using testing::contains;
using testing::ParsedCertificate;
using testing::verify_flags;

constexpr std::time_t kDay = 86400;

Validity valid_now() { return validity_for_days(30, std::time(nullptr)); }

Credential make_ca(const std::string& common_name = "test fleet CA") {
  Credential ca;
  std::string error;
  REQUIRE_MESSAGE(create_ca(common_name, valid_now(), &ca, &error), error);
  return ca;
}

Credential make_device(const Credential& ca, const std::string& id, const Validity& validity) {
  Credential device;
  std::string error;
  REQUIRE_MESSAGE(issue_device(ca, id, validity, &device, &error), error);
  return device;
}

// Owns a parsed private key.
class ParsedKey {
 public:
  ParsedKey() { mbedtls_pk_init(&key_); }
  ~ParsedKey() { mbedtls_pk_free(&key_); }
  ParsedKey(const ParsedKey&) = delete;
  ParsedKey& operator=(const ParsedKey&) = delete;

  int parse(const std::string& pem) {
    return mbedtls_pk_parse_key(&key_, reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1, nullptr, 0);
  }
  mbedtls_pk_context* get() { return &key_; }

 private:
  mbedtls_pk_context key_;
};

std::vector<std::string> dns_names(const mbedtls_x509_crt& certificate) {
  std::vector<std::string> names;
  for (const mbedtls_x509_sequence* entry = &certificate.subject_alt_names; entry != nullptr; entry = entry->next) {
    if (entry->buf.p != nullptr && entry->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)) {
      names.emplace_back(reinterpret_cast<const char*>(entry->buf.p), entry->buf.len);
    }
  }
  return names;
}

// A CSR signed with `key_pem` for an arbitrary subject, bypassing make_csr's
// device id check. Returned as DER.
std::string raw_csr_der(const std::string& key_pem, const std::string& subject) {
  ParsedKey key;
  REQUIRE(key.parse(key_pem) == 0);
  mbedtls_x509write_csr writer;
  mbedtls_x509write_csr_init(&writer);
  mbedtls_x509write_csr_set_md_alg(&writer, MBEDTLS_MD_SHA256);
  mbedtls_x509write_csr_set_key(&writer, key.get());
  REQUIRE(mbedtls_x509write_csr_set_subject_name(&writer, subject.c_str()) == 0);
  unsigned char buffer[2048];
  // ECDSA needs random numbers; a counter is enough for a test signature.
  auto counter = [](void* state, unsigned char* output, std::size_t size) {
    auto* value = static_cast<unsigned char*>(state);
    for (std::size_t i = 0; i < size; ++i) {
      output[i] = ++*value;
    }
    return 0;
  };
  unsigned char state = 7;
  const int length = mbedtls_x509write_csr_der(&writer, buffer, sizeof buffer, counter, &state);
  mbedtls_x509write_csr_free(&writer);
  REQUIRE(length > 0);
  return std::string(reinterpret_cast<const char*>(buffer + sizeof buffer - static_cast<std::size_t>(length)),
                     static_cast<std::size_t>(length));
}

TEST_CASE("generated key is EC P-256") {
  std::string key_pem;
  std::string error;
  REQUIRE_MESSAGE(generate_key(&key_pem, &error), error);
  CHECK(contains(key_pem, "-----BEGIN EC PRIVATE KEY-----"));
  ParsedKey key;
  REQUIRE(key.parse(key_pem) == 0);
  REQUIRE(mbedtls_pk_get_type(key.get()) == MBEDTLS_PK_ECKEY);
  CHECK(mbedtls_pk_ec(*key.get())->grp.id == MBEDTLS_ECP_DP_SECP256R1);
}

TEST_CASE("CA certificate profile") {
  const Credential ca = make_ca("test fleet CA");
  ParsedCertificate parsed;
  REQUIRE(parsed.parse(ca.certificate_pem) == 0);
  CHECK(parsed.get()->version == 3);
  CHECK(parsed.get()->ca_istrue == 1);
  CHECK(mbedtls_x509_crt_check_key_usage(parsed.get(), MBEDTLS_X509_KU_KEY_CERT_SIGN) == 0);
  CHECK(mbedtls_x509_crt_check_key_usage(parsed.get(), MBEDTLS_X509_KU_CRL_SIGN) == 0);
  CHECK(certificate_common_name(*parsed.get()) == "test fleet CA");
  CHECK(certificate_serial(*parsed.get()) == ca.serial);
  CHECK(verify_flags(ca.certificate_pem, ca.certificate_pem, nullptr) == 0);
}

TEST_CASE("serial is 16 positive bytes") {
  const Credential ca = make_ca();
  const Credential first = make_device(ca, "dev-1", valid_now());
  const Credential second = make_device(ca, "dev-1", valid_now());
  ParsedCertificate parsed;
  REQUIRE(parsed.parse(first.certificate_pem) == 0);
  CHECK(parsed.get()->serial.len == kSerialBytes);
  CHECK((parsed.get()->serial.p[0] & 0x80) == 0);
  CHECK(first.serial.size() == 2 * kSerialBytes);
  CHECK(first.serial == certificate_serial(*parsed.get()));
  CHECK(first.serial != second.serial);
}

TEST_CASE("chain verifies for coordinator and device") {
  const Credential ca = make_ca();
  Credential coordinator;
  std::string error;
  REQUIRE_MESSAGE(
      issue_coordinator(ca, "ecq coordinator", {"localhost", "coordinator.example"}, valid_now(), &coordinator, &error),
      error);
  const Credential device = make_device(ca, "sensor-7", valid_now());

  CHECK(verify_flags(coordinator.certificate_pem, ca.certificate_pem, "localhost") == 0);
  CHECK(verify_flags(coordinator.certificate_pem, ca.certificate_pem, "coordinator.example") == 0);
  CHECK(verify_flags(coordinator.certificate_pem, ca.certificate_pem, "other.example") ==
        MBEDTLS_X509_BADCERT_CN_MISMATCH);
  CHECK(verify_flags(device.certificate_pem, ca.certificate_pem, nullptr) == 0);
  CHECK(verify_flags(device.certificate_pem, ca.certificate_pem, "sensor-7") == 0);
}

TEST_CASE("coordinator SAN lists every host") {
  const Credential ca = make_ca();
  const std::vector<std::string> hosts = {"localhost", "coordinator.example", "*.fleet.example"};
  Credential coordinator;
  std::string error;
  REQUIRE_MESSAGE(issue_coordinator(ca, "ecq coordinator", hosts, valid_now(), &coordinator, &error), error);
  ParsedCertificate parsed;
  REQUIRE(parsed.parse(coordinator.certificate_pem) == 0);
  CHECK(dns_names(*parsed.get()) == hosts);
  CHECK(certificate_common_name(*parsed.get()) == "ecq coordinator");
  CHECK(parsed.get()->ca_istrue == 0);
  CHECK(mbedtls_x509_crt_check_key_usage(parsed.get(), MBEDTLS_X509_KU_DIGITAL_SIGNATURE) == 0);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(parsed.get(), MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) == 0);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(parsed.get(), MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0);
}

TEST_CASE("device certificate profile") {
  const Credential ca = make_ca();
  const Credential device = make_device(ca, "A.b_c-9", valid_now());
  CHECK(device.common_name == "A.b_c-9");
  CHECK(contains(device.key_pem, "-----BEGIN EC PRIVATE KEY-----"));
  ParsedCertificate parsed;
  REQUIRE(parsed.parse(device.certificate_pem) == 0);
  CHECK(certificate_common_name(*parsed.get()) == "A.b_c-9");
  CHECK(parsed.get()->ca_istrue == 0);
  CHECK(mbedtls_x509_crt_check_key_usage(parsed.get(), MBEDTLS_X509_KU_DIGITAL_SIGNATURE) == 0);
  CHECK(mbedtls_x509_crt_check_key_usage(parsed.get(), MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(parsed.get(), MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) == 0);
  ParsedKey key;
  REQUIRE(key.parse(device.key_pem) == 0);
  CHECK(mbedtls_pk_check_pair(&parsed.get()->pk, key.get()) == 0);
}

TEST_CASE("certificate from another CA fails") {
  const Credential ca = make_ca("test fleet CA");
  const Credential impostor = make_ca("test fleet CA");
  const Credential device = make_device(impostor, "dev-1", valid_now());
  CHECK(verify_flags(device.certificate_pem, impostor.certificate_pem, nullptr) == 0);
  CHECK((verify_flags(device.certificate_pem, ca.certificate_pem, nullptr) & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0);
}

TEST_CASE("expired certificate fails verification") {
  const Credential ca = make_ca();
  const std::time_t now = std::time(nullptr);
  const Credential device = make_device(ca, "dev-old", Validity{now - 10 * kDay, now - kDay});
  CHECK(device.validity.not_after == now - kDay);
  CHECK(verify_flags(device.certificate_pem, ca.certificate_pem, nullptr) == MBEDTLS_X509_BADCERT_EXPIRED);
  ParsedCertificate parsed;
  REQUIRE(parsed.parse(device.certificate_pem) == 0);
  CHECK(certificate_validity(*parsed.get()).not_after == now - kDay);
  CHECK(certificate_validity(*parsed.get()).not_before == now - 10 * kDay);
}

TEST_CASE("future certificate fails verification") {
  const Credential ca = make_ca();
  const std::time_t now = std::time(nullptr);
  const Credential device = make_device(ca, "dev-new", Validity{now + kDay, now + 10 * kDay});
  CHECK(verify_flags(device.certificate_pem, ca.certificate_pem, nullptr) == MBEDTLS_X509_BADCERT_FUTURE);
}

TEST_CASE("CSR round trip keeps key on device") {
  const Credential ca = make_ca();
  std::string device_key_pem;
  std::string csr_pem;
  std::string error;
  REQUIRE_MESSAGE(generate_key(&device_key_pem, &error), error);
  REQUIRE_MESSAGE(make_csr(device_key_pem, "dev-csr", &csr_pem, &error), error);
  CHECK(contains(csr_pem, "-----BEGIN CERTIFICATE REQUEST-----"));

  Credential device;
  REQUIRE_MESSAGE(sign_csr(ca, csr_pem, valid_now(), &device, &error), error);
  CHECK(device.key_pem.empty());
  CHECK(device.common_name == "dev-csr");
  CHECK(!contains(device.certificate_pem, "PRIVATE KEY"));
  CHECK(verify_flags(device.certificate_pem, ca.certificate_pem, nullptr) == 0);

  ParsedCertificate parsed;
  REQUIRE(parsed.parse(device.certificate_pem) == 0);
  CHECK(certificate_common_name(*parsed.get()) == "dev-csr");
  ParsedKey device_key;
  REQUIRE(device_key.parse(device_key_pem) == 0);
  CHECK(mbedtls_pk_check_pair(&parsed.get()->pk, device_key.get()) == 0);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(parsed.get(), MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) == 0);
}

TEST_CASE("CSR in DER is accepted") {
  const Credential ca = make_ca();
  std::string key_pem;
  std::string error;
  REQUIRE(generate_key(&key_pem, &error));
  Credential device;
  REQUIRE_MESSAGE(sign_csr(ca, raw_csr_der(key_pem, "CN=dev-der"), valid_now(), &device, &error), error);
  CHECK(device.common_name == "dev-der");
}

TEST_CASE("CSR with altered signature rejected") {
  const Credential ca = make_ca();
  std::string key_pem;
  std::string error;
  REQUIRE(generate_key(&key_pem, &error));
  std::string der = raw_csr_der(key_pem, "CN=dev-1");
  // The DER ends with the last byte of the ECDSA signature's s value.
  der.back() = static_cast<char>(der.back() ^ 0x01);
  Credential device;
  CHECK_FALSE(sign_csr(ca, der, valid_now(), &device, &error));
  CHECK(contains(error, "signature does not verify"));
  CHECK(device.certificate_pem.empty());
}

TEST_CASE("CSR with invalid device id rejected") {
  const Credential ca = make_ca();
  std::string key_pem;
  std::string error;
  REQUIRE(generate_key(&key_pem, &error));
  Credential device;
  CHECK_FALSE(sign_csr(ca, raw_csr_der(key_pem, "CN=bad id"), valid_now(), &device, &error));
  CHECK(contains(error, "'bad id'"));
  CHECK_FALSE(sign_csr(ca, raw_csr_der(key_pem, "O=ecq"), valid_now(), &device, &error));
  CHECK(contains(error, "subject CN is not a device id"));
}

TEST_CASE("garbage CSR rejected") {
  const Credential ca = make_ca();
  Credential device;
  std::string error;
  CHECK_FALSE(sign_csr(ca, "not a CSR", valid_now(), &device, &error));
  CHECK(contains(error, "cannot parse the CSR"));
  CHECK(contains(error, "Mbed TLS error"));
}

TEST_CASE("make_csr rejects bad key and id") {
  std::string key_pem;
  std::string csr_pem;
  std::string error;
  REQUIRE(generate_key(&key_pem, &error));
  CHECK_FALSE(make_csr(key_pem, "a/b", &csr_pem, &error));
  CHECK(contains(error, "'a/b'"));
  CHECK_FALSE(
      make_csr("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "dev-1", &csr_pem, &error));
  CHECK(contains(error, "cannot parse the device's private key"));
  CHECK(csr_pem.empty());
}

TEST_CASE("device ids validated") {
  const std::vector<std::string> valid = {"a", "dev-01", "A.b_c-9", std::string(64, 'x'), "..."};
  for (const std::string& id : valid) {
    CAPTURE(id);
    CHECK(check_device_id(id, nullptr));
  }
  const std::vector<std::string> invalid = {"",       std::string(65, 'x'), "a b", "a/b", "a,b", "CN=x",
                                            "dev\n1", "d\xc3\xa9v"};
  const Credential ca = make_ca();
  for (const std::string& id : invalid) {
    CAPTURE(id);
    std::string error;
    CHECK_FALSE(check_device_id(id, &error));
    CHECK(contains(error, "1 to 64 characters"));
    Credential device;
    CHECK_FALSE(issue_device(ca, id, valid_now(), &device, &error));
    CHECK(device.certificate_pem.empty());
  }
}

TEST_CASE("host names validated") {
  const std::vector<std::string> valid = {"localhost", "coordinator.example", "*.fleet.example", "a-b.c1"};
  for (const std::string& host : valid) {
    CAPTURE(host);
    CHECK(check_host_name(host, nullptr));
  }
  const std::vector<std::string> invalid = {
      "", "bad host", "a..b", "-a.example", "a-.example", "*", "a.*.b", "127.0.0.1", std::string(64, 'a') + ".example"};
  for (const std::string& host : invalid) {
    CAPTURE(host);
    std::string error;
    CHECK_FALSE(check_host_name(host, &error));
    CHECK(contains(error, "'" + host + "'"));
  }
  std::string error;
  CHECK_FALSE(check_host_name("10.0.0.1", &error));
  CHECK(contains(error, "localhost"));
}

TEST_CASE("coordinator with 64 long hosts") {
  const Credential ca = make_ca();
  std::vector<std::string> hosts;
  for (int i = 0; i < 64; ++i) {
    // 3 labels of 63 characters plus a short one: 200 characters or more.
    const std::string label(63, static_cast<char>('a' + i % 26));
    hosts.push_back("h" + std::to_string(i) + "." + label + "." + label + "." + label + ".example");
  }
  Credential coordinator;
  std::string error;
  REQUIRE_MESSAGE(issue_coordinator(ca, "ecq coordinator", hosts, valid_now(), &coordinator, &error), error);
  ParsedCertificate parsed;
  REQUIRE(parsed.parse(coordinator.certificate_pem) == 0);
  CHECK(dns_names(*parsed.get()) == hosts);
  CHECK(verify_flags(coordinator.certificate_pem, ca.certificate_pem, hosts.back().c_str()) == 0);
  hosts.push_back("one-too-many.example");
  CHECK_FALSE(issue_coordinator(ca, "ecq coordinator", hosts, valid_now(), &coordinator, &error));
  CHECK(contains(error, "got 65"));
}

TEST_CASE("coordinator host list validated") {
  const Credential ca = make_ca();
  Credential coordinator;
  std::string error;
  CHECK_FALSE(issue_coordinator(ca, "ecq coordinator", {}, valid_now(), &coordinator, &error));
  CHECK(contains(error, "1 to 64 host names"));
  CHECK_FALSE(issue_coordinator(ca, "ecq coordinator", {"localhost", "localhost"}, valid_now(), &coordinator, &error));
  CHECK(contains(error, "given twice"));
  CHECK_FALSE(issue_coordinator(ca, "ecq coordinator", {"127.0.0.1"}, valid_now(), &coordinator, &error));
  CHECK(coordinator.certificate_pem.empty());
}

TEST_CASE("common name with comma kept") {
  const Credential ca = make_ca("Fleet, Inc. CA");
  ParsedCertificate parsed;
  REQUIRE(parsed.parse(ca.certificate_pem) == 0);
  CHECK(certificate_common_name(*parsed.get()) == "Fleet, Inc. CA");
  const Credential device = make_device(ca, "dev-1", valid_now());
  CHECK(verify_flags(device.certificate_pem, ca.certificate_pem, nullptr) == 0);
}

TEST_CASE("common names validated") {
  CHECK(check_common_name("ecq fleet CA", nullptr));
  std::string error;
  CHECK_FALSE(check_common_name("", &error));
  CHECK_FALSE(check_common_name(std::string(65, 'c'), &error));
  CHECK_FALSE(check_common_name("back\\slash", &error));
  CHECK_FALSE(check_common_name("tab\there", &error));
  Credential ca;
  CHECK_FALSE(create_ca("back\\slash", valid_now(), &ca, &error));
  CHECK(contains(error, "invalid common name"));
}

TEST_CASE("validity checked") {
  const std::time_t now = std::time(nullptr);
  const Credential ca = make_ca();
  Credential device;
  std::string error;
  CHECK_FALSE(issue_device(ca, "dev-1", Validity{now, now}, &device, &error));
  CHECK(contains(error, "not-before must be earlier than not-after"));
  CHECK_FALSE(issue_device(ca, "dev-1", Validity{now, now - kDay}, &device, &error));
  CHECK_FALSE(create_ca("ca", Validity{-kDay, now}, &device, &error));
  CHECK(contains(error, "from 19700101000000 to"));
  CHECK(check_validity_days(1, nullptr));
  CHECK(check_validity_days(kMaxValidityDays, nullptr));
  CHECK_FALSE(check_validity_days(0, &error));
  CHECK(contains(error, "1 to 36500 days"));
  CHECK_FALSE(check_validity_days(kMaxValidityDays + 1, nullptr));
}

TEST_CASE("validity for days") {
  const Validity validity = validity_for_days(365, 1700000000);
  CHECK(validity.not_before == 1700000000 - kClockSkewAllowance);
  CHECK(validity.not_after == 1700000000 + 365 * kDay);
}

TEST_CASE("validity past time_t range rejected") {
  const std::time_t now = 1700000000;
  const Validity validity = validity_for_days(kMaxValidityDays, now);
  std::string error;
  if (sizeof(std::time_t) >= 8) {
    CHECK(static_cast<long long>(validity.not_after) == 1700000000LL + kMaxValidityDays * 86400LL);
    CHECK(check_validity(validity, &error));
  } else {
    // 100 years from 2023 do not fit a 32-bit time_t (Debian 12 armhf).
    CHECK(validity.not_after > now);
    CHECK_FALSE(check_validity(validity, &error));
    CHECK(contains(error, "to 20380119031406"));
  }
}

TEST_CASE("UTC time parses and formats") {
  std::time_t time = 0;
  std::string error;
  REQUIRE_MESSAGE(parse_utc_time("20240229235959", &time, &error), error);
  CHECK(time == 1709251199);
  CHECK(format_utc_time(time) == "20240229235959");
  CHECK(parse_utc_time("19700101000000", &time, nullptr));
  CHECK(time == 0);
  for (const char* text : {"", "2024022923595", "202402292359590", "2024-02-29T23", "20230229000000", "20241301000000",
                           "20240101240000", "20240101235960", "19691231235959"}) {
    CAPTURE(text);
    CHECK_FALSE(parse_utc_time(text, &time, &error));
    CHECK(contains(error, "YYYYMMDDhhmmss"));
  }
}

TEST_CASE("serial numbers normalized") {
  std::string serial;
  std::string error;
  REQUIRE(parse_serial("00:4F:1a", &serial, &error));
  CHECK(serial == "4f1a");
  REQUIRE(parse_serial("0000", &serial, &error));
  CHECK(serial == "0");
  CHECK(parse_serial(std::string(40, 'f'), &serial, nullptr));
  CHECK_FALSE(parse_serial(std::string(41, 'f'), &serial, &error));
  CHECK(contains(error, "20 bytes"));
  CHECK_FALSE(parse_serial("xyz", &serial, &error));
  CHECK(contains(error, "'xyz'"));
  CHECK_FALSE(parse_serial(":", &serial, &error));
}

TEST_CASE("mismatched CA key rejected") {
  Credential ca = make_ca();
  const Credential other = make_ca();
  ca.key_pem = other.key_pem;
  Credential device;
  std::string error;
  CHECK_FALSE(issue_device(ca, "dev-1", valid_now(), &device, &error));
  CHECK(contains(error, "does not belong to the CA certificate"));
}

TEST_CASE("non-CA certificate cannot sign") {
  const Credential ca = make_ca();
  const Credential device = make_device(ca, "dev-1", valid_now());
  Credential issued;
  std::string error;
  CHECK_FALSE(issue_device(device, "dev-2", valid_now(), &issued, &error));
  CHECK(contains(error, "CA:TRUE"));
}

}  // namespace
}  // namespace ecq::pki
