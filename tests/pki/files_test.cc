#include "ecq/pki/files.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <ctime>
#include <string>
#include <vector>

#include "ecq/pki/credentials.h"
#include "ecq/pki/pem_files.h"
#include "ecq/pki/psk.h"
#include "test_support.h"

namespace ecq::pki {
namespace {

using testing::contains;
using testing::file_mode;
using testing::read_file;
using testing::TempDir;

// Sets the process umask for the life of the object.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t old_;
};

Credential make_ca() {
  Credential ca;
  std::string error;
  REQUIRE_MESSAGE(create_ca("files test CA", validity_for_days(30, std::time(nullptr)), &ca, &error), error);
  return ca;
}

TEST_CASE("private file written with mode 0600") {
  TempDir dir;
  const ScopedUmask permissive(0);
  std::string error;
  const std::string path = dir.path("secret");
  REQUIRE_MESSAGE(write_private_file(path, "first", &error), error);
  CHECK(file_mode(path) == 0600);
  CHECK(read_file(path) == "first");
}

TEST_CASE("private file replaces wider mode file") {
  TempDir dir;
  const std::string path = dir.write("existing", "old contents");
  REQUIRE(file_mode(path) == 0644);
  std::string error;
  REQUIRE_MESSAGE(write_private_file(path, "new", &error), error);
  CHECK(read_file(path) == "new");
  CHECK(file_mode(path) == 0600);
  // Only the file itself remains: the temporary file was renamed over it.
  CHECK(testing::list_tree(dir.path("")).size() == 1);
}

TEST_CASE("private file write failure names path") {
  TempDir dir;
  std::string error;
  const std::string path = dir.path("missing-directory/file");
  CHECK_FALSE(write_private_file(path, "x", &error));
  CHECK(contains(error, path));
  CHECK(contains(error, "No such file or directory"));
}

TEST_CASE("create private file keeps existing file") {
  TempDir dir;
  const ScopedUmask permissive(0);
  std::string error;
  const std::string path = dir.path("key");
  REQUIRE_MESSAGE(create_private_file(path, "original", &error), error);
  CHECK(file_mode(path) == 0600);
  CHECK_FALSE(create_private_file(path, "replacement", &error));
  CHECK(contains(error, path));
  CHECK(contains(error, "already exists"));
  CHECK(read_file(path) == "original");
}

TEST_CASE("private directory gets mode 0700") {
  TempDir dir;
  const ScopedUmask permissive(0);
  std::string error;
  const std::string path = dir.path("ca");
  REQUIRE_MESSAGE(make_private_directory(path, &error), error);
  CHECK(file_mode(path) == 0700);
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
  REQUIRE_MESSAGE(make_private_directory(path, &error), error);
  CHECK(file_mode(path) == 0700);
  const std::string file = dir.write("plain", "x");
  CHECK_FALSE(make_private_directory(file, &error));
  CHECK(contains(error, "a file of that name exists"));
}

TEST_CASE("missing files give errors naming path") {
  TempDir dir;
  const std::string path = dir.path("absent.pem");
  std::string pem;
  std::string error;
  CHECK_FALSE(read_text_file(path, &pem, &error));
  CHECK(contains(error, "'" + path + "'"));
  CHECK(contains(error, "No such file or directory"));
  error.clear();
  CHECK_FALSE(read_certificate_file(path, &pem, &error));
  CHECK(contains(error, "'" + path + "'"));
  error.clear();
  CHECK_FALSE(read_private_key_file(path, &pem, &error));
  CHECK(contains(error, "'" + path + "'"));
  error.clear();
  CHECK_FALSE(read_csr_file(path, &pem, &error));
  CHECK(contains(error, "'" + path + "'"));
  error.clear();
  std::vector<unsigned char> key;
  CHECK_FALSE(read_psk_file(path, &key, &error));
  CHECK(contains(error, "'" + path + "'"));
  CHECK(pem.empty());
}

TEST_CASE("PEM files read back") {
  TempDir dir;
  const Credential ca = make_ca();
  std::string key_pem;
  std::string csr_pem;
  std::string error;
  REQUIRE(generate_key(&key_pem, &error));
  REQUIRE(make_csr(key_pem, "dev-1", &csr_pem, &error));
  std::string text;
  REQUIRE_MESSAGE(read_certificate_file(dir.write("ca.crt", ca.certificate_pem), &text, &error), error);
  CHECK(text == ca.certificate_pem);
  REQUIRE_MESSAGE(read_private_key_file(dir.write("ca.key", ca.key_pem), &text, &error), error);
  CHECK(text == ca.key_pem);
  REQUIRE_MESSAGE(read_csr_file(dir.write("dev.csr", csr_pem), &text, &error), error);
  CHECK(text == csr_pem);
}

TEST_CASE("PEM files loaded into Mbed TLS") {
  TempDir dir;
  const Credential ca = make_ca();
  std::string error;
  mbedtls_x509_crt chain;
  mbedtls_x509_crt_init(&chain);
  CHECK_MESSAGE(load_certificate_file(dir.write("ca.crt", ca.certificate_pem), &chain, &error), error);
  CHECK(certificate_serial(chain) == ca.serial);
  mbedtls_x509_crt_free(&chain);

  mbedtls_pk_context key;
  mbedtls_pk_init(&key);
  CHECK_MESSAGE(load_private_key_file(dir.write("ca.key", ca.key_pem), &key, &error), error);
  CHECK(mbedtls_pk_get_type(&key) == MBEDTLS_PK_ECKEY);
  mbedtls_pk_free(&key);
}

TEST_CASE("wrong PEM content named") {
  TempDir dir;
  const Credential ca = make_ca();
  std::string text;
  std::string error;
  const std::string key_path = dir.write("ca.key", ca.key_pem);
  CHECK_FALSE(read_certificate_file(key_path, &text, &error));
  CHECK(contains(error, "'" + key_path + "'"));
  CHECK(contains(error, "contains a PEM EC PRIVATE KEY, not a certificate"));

  const std::string certificate_path = dir.write("ca.crt", ca.certificate_pem);
  CHECK_FALSE(read_private_key_file(certificate_path, &text, &error));
  CHECK(contains(error, "contains a PEM CERTIFICATE, not a private key"));
  CHECK_FALSE(read_csr_file(certificate_path, &text, &error));
  CHECK(contains(error, "not a certificate signing request"));

  const std::string plain_path = dir.write("notes.txt", "hello\n");
  CHECK_FALSE(read_certificate_file(plain_path, &text, &error));
  CHECK(contains(error, "is not a PEM file"));
  CHECK(text.empty());
}

TEST_CASE("damaged PEM gives Mbed TLS error") {
  TempDir dir;
  const std::string path = dir.write("bad.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  std::string text;
  std::string error;
  CHECK_FALSE(read_certificate_file(path, &text, &error));
  CHECK(contains(error, "'" + path + "'"));
  CHECK(contains(error, "Mbed TLS error"));
  mbedtls_x509_crt chain;
  mbedtls_x509_crt_init(&chain);
  CHECK_FALSE(load_certificate_file(path, &chain, &error));
  CHECK(chain.raw.p == nullptr);
  mbedtls_x509_crt_free(&chain);
}

TEST_CASE("PSK is 32 random bytes") {
  std::vector<unsigned char> first;
  std::vector<unsigned char> second;
  std::string error;
  REQUIRE_MESSAGE(generate_psk(&first, &error), error);
  REQUIRE_MESSAGE(generate_psk(&second, &error), error);
  CHECK(first.size() == kPskBytes);
  CHECK(second.size() == kPskBytes);
  CHECK(first != second);
}

TEST_CASE("PSK file is 64 hex digits") {
  TempDir dir;
  const ScopedUmask permissive(0);
  std::vector<unsigned char> key;
  std::string error;
  REQUIRE(generate_psk(&key, &error));
  const std::string path = dir.path("dev-1.psk");
  REQUIRE_MESSAGE(write_psk_file(path, key, &error), error);
  CHECK(file_mode(path) == 0600);
  const std::string text = read_file(path);
  REQUIRE(text.size() == 65);
  CHECK(text.back() == '\n');
  CHECK(text.find_first_not_of("0123456789abcdef") == 64);
  std::vector<unsigned char> read_back;
  REQUIRE_MESSAGE(read_psk_file(path, &read_back, &error), error);
  CHECK(read_back == key);
}

TEST_CASE("PSK parse rejects bad content") {
  std::vector<unsigned char> key;
  std::string error;
  CHECK(parse_psk(std::string(64, 'A'), &key, &error));
  CHECK(key == std::vector<unsigned char>(kPskBytes, 0xAA));
  CHECK_FALSE(parse_psk(std::string(62, 'a'), &key, &error));
  CHECK(contains(error, "found 62 characters"));
  CHECK_FALSE(parse_psk(std::string(63, 'a') + "g", &key, &error));
  CHECK(contains(error, "other than 0-9"));
  CHECK_FALSE(parse_psk(std::string(64, 'a') + "\n\n", &key, &error));
  std::vector<unsigned char> short_key(16);
  CHECK_FALSE(write_psk_file("/nonexistent/x.psk", short_key, &error));
  CHECK(contains(error, "must be 32 bytes"));
}

}  // namespace
}  // namespace ecq::pki
