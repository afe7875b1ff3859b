#include "ecq/pki/ca_directory.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <string>
#include <vector>

#include "ecq/pki/files.h"
#include "ecq/pki/psk.h"
#include "test_support.h"

namespace ecq::pki {
namespace {

using testing::contains;
using testing::file_mode;
using testing::ParsedCertificate;
using testing::read_file;
using testing::TempDir;
using testing::verify_flags;

Validity valid_now() { return validity_for_days(30, std::time(nullptr)); }

// A CA directory in a temporary directory, initialized.
struct CaFixture {
  TempDir temp;
  CaDirectory directory{temp.path("ca")};
  Credential ca;

  CaFixture() {
    std::string error;
    REQUIRE_MESSAGE(directory.init("directory test CA", validity_for_days(365, std::time(nullptr)), &ca, &error),
                    error);
  }

  Credential issue(const std::string& id) const {
    Credential device;
    std::string error;
    REQUIRE_MESSAGE(directory.issue_device(id, valid_now(), &device, &error), error);
    return device;
  }

  RevocationList revocations() const {
    RevocationList list;
    std::string error;
    REQUIRE_MESSAGE(directory.load_revocations(&list, &error), error);
    return list;
  }
};

TEST_CASE("init creates CA directory") {
  CaFixture fixture;
  const CaDirectory& directory = fixture.directory;
  CHECK(file_mode(directory.path()) == 0700);
  for (const std::string& path : {directory.ca_certificate_path(), directory.ca_key_path(),
                                  directory.issuance_log_path(), directory.revocation_list_path()}) {
    CAPTURE(path);
    CHECK(file_mode(path) == 0600);
  }
  CHECK(read_file(directory.ca_certificate_path()) == fixture.ca.certificate_pem);
  CHECK(read_file(directory.ca_key_path()) == fixture.ca.key_pem);

  Credential loaded;
  std::string error;
  REQUIRE_MESSAGE(directory.load_ca(&loaded, &error), error);
  CHECK(loaded.serial == fixture.ca.serial);
  CHECK(loaded.common_name == "directory test CA");
  CHECK(loaded.validity.not_after == fixture.ca.validity.not_after);

  std::vector<IssuanceRecord> records;
  REQUIRE_MESSAGE(directory.read_issuance_log(&records, &error), error);
  CHECK(records.empty());
  CHECK(fixture.revocations().entries().empty());
}

TEST_CASE("init refuses existing CA") {
  CaFixture fixture;
  const std::string key_before = read_file(fixture.directory.ca_key_path());
  Credential ca;
  std::string error;
  CHECK_FALSE(fixture.directory.init("second CA", valid_now(), &ca, &error));
  CHECK(contains(error, "already holds a CA"));
  CHECK(contains(error, fixture.directory.ca_key_path()));
  CHECK(read_file(fixture.directory.ca_key_path()) == key_before);
}

TEST_CASE("missing CA directory named") {
  TempDir temp;
  const CaDirectory directory(temp.path("nowhere"));
  Credential device;
  std::string error;
  CHECK_FALSE(directory.issue_device("dev-1", valid_now(), &device, &error));
  CHECK(contains(error, directory.ca_certificate_path()));
  CHECK(contains(error, "init-ca"));
  std::vector<IssuanceRecord> records;
  CHECK_FALSE(directory.read_issuance_log(&records, &error));
  CHECK(contains(error, directory.issuance_log_path()));
}

TEST_CASE("missing CA key named") {
  CaFixture fixture;
  REQUIRE(::unlink(fixture.directory.ca_key_path().c_str()) == 0);
  Credential device;
  std::string error;
  CHECK_FALSE(fixture.directory.issue_device("dev-1", valid_now(), &device, &error));
  CHECK(contains(error, fixture.directory.ca_key_path()));
}

TEST_CASE("issue device writes files and log") {
  CaFixture fixture;
  const Credential device = fixture.issue("dev-1");
  const CaDirectory& directory = fixture.directory;
  CHECK(file_mode(directory.devices_path()) == 0700);
  CHECK(file_mode(directory.device_certificate_path("dev-1")) == 0600);
  CHECK(file_mode(directory.device_key_path("dev-1")) == 0600);
  CHECK(read_file(directory.device_certificate_path("dev-1")) == device.certificate_pem);
  CHECK(read_file(directory.device_key_path("dev-1")) == device.key_pem);
  CHECK(verify_flags(device.certificate_pem, fixture.ca.certificate_pem, "dev-1") == 0);

  std::vector<IssuanceRecord> records;
  std::string error;
  REQUIRE_MESSAGE(directory.read_issuance_log(&records, &error), error);
  REQUIRE(records.size() == 1);
  CHECK(records[0].serial == device.serial);
  CHECK(records[0].device_id == "dev-1");
  CHECK(records[0].not_after == device.validity.not_after);
}

TEST_CASE("coordinator files written") {
  CaFixture fixture;
  Credential coordinator;
  std::string error;
  REQUIRE_MESSAGE(
      fixture.directory.issue_coordinator("ecq coordinator", {"localhost"}, valid_now(), &coordinator, &error), error);
  CHECK(file_mode(fixture.directory.coordinator_certificate_path()) == 0600);
  CHECK(file_mode(fixture.directory.coordinator_key_path()) == 0600);
  CHECK(verify_flags(read_file(fixture.directory.coordinator_certificate_path()), fixture.ca.certificate_pem,
                     "localhost") == 0);
}

TEST_CASE("signed CSR logged") {
  CaFixture fixture;
  std::string key_pem;
  std::string csr_pem;
  std::string error;
  REQUIRE(generate_key(&key_pem, &error));
  REQUIRE(make_csr(key_pem, "dev-csr", &csr_pem, &error));
  Credential device;
  REQUIRE_MESSAGE(fixture.directory.sign_csr(csr_pem, valid_now(), &device, &error), error);
  std::vector<IssuanceRecord> records;
  REQUIRE(fixture.directory.read_issuance_log(&records, &error));
  REQUIRE(records.size() == 1);
  CHECK(records[0].serial == device.serial);
  CHECK(records[0].device_id == "dev-csr");
  CHECK_FALSE(testing::contains(read_file(fixture.directory.issuance_log_path()), "PRIVATE"));
}

TEST_CASE("revoke by serial") {
  CaFixture fixture;
  const Credential first = fixture.issue("dev-1");
  const Credential second = fixture.issue("dev-2");
  std::vector<RevocationEntry> added;
  std::string error;
  // Upper case with ':' groups, as other tools print serials.
  std::string typed;
  for (std::size_t i = 0; i < first.serial.size(); i += 2) {
    typed += (i == 0 ? "" : ":") + first.serial.substr(i, 2);
  }
  for (char& c : typed) {
    c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
  }
  REQUIRE_MESSAGE(fixture.directory.revoke_serial(typed, &added, &error), error);
  REQUIRE(added.size() == 1);
  CHECK(added[0].serial == first.serial);
  CHECK(added[0].device_id == "dev-1");

  const RevocationList list = fixture.revocations();
  CHECK(list.is_revoked(first.serial));
  CHECK(list.is_revoked(typed));
  CHECK_FALSE(list.is_revoked(second.serial));
  ParsedCertificate parsed;
  REQUIRE(parsed.parse(first.certificate_pem) == 0);
  CHECK(list.is_revoked(*parsed.get()));
  CHECK(file_mode(fixture.directory.revocation_list_path()) == 0600);

  REQUIRE(fixture.directory.revoke_serial(first.serial, &added, &error));
  CHECK(added.empty());
  CHECK(fixture.revocations().entries().size() == 1);
}

TEST_CASE("revoke unknown serial fails") {
  CaFixture fixture;
  fixture.issue("dev-1");
  std::vector<RevocationEntry> added;
  std::string error;
  CHECK_FALSE(fixture.directory.revoke_serial("abcdef", &added, &error));
  CHECK(contains(error, "serial abcdef is not in"));
  CHECK(contains(error, fixture.directory.issuance_log_path()));
  CHECK_FALSE(fixture.directory.revoke_serial("not-hex", &added, &error));
  CHECK(contains(error, "'not-hex'"));
  CHECK(fixture.revocations().entries().empty());
}

TEST_CASE("revoke by id revokes earlier certificates") {
  CaFixture fixture;
  const Credential first = fixture.issue("dev-1");
  const Credential second = fixture.issue("dev-1");
  const Credential other = fixture.issue("dev-2");
  std::vector<RevocationEntry> added;
  std::string error;
  REQUIRE_MESSAGE(fixture.directory.revoke_device("dev-1", &added, &error), error);
  CHECK(added.size() == 2);

  RevocationList list = fixture.revocations();
  CHECK(list.is_revoked(first.serial));
  CHECK(list.is_revoked(second.serial));
  CHECK_FALSE(list.is_revoked(other.serial));

  // Re-enrolment: a certificate issued to the same id afterwards is trusted.
  const Credential renewed = fixture.issue("dev-1");
  list = fixture.revocations();
  CHECK_FALSE(list.is_revoked(renewed.serial));
  CHECK(verify_flags(renewed.certificate_pem, fixture.ca.certificate_pem, nullptr) == 0);

  // Revoking again adds only the new certificate.
  REQUIRE_MESSAGE(fixture.directory.revoke_device("dev-1", &added, &error), error);
  REQUIRE(added.size() == 1);
  CHECK(added[0].serial == renewed.serial);
  CHECK(fixture.revocations().entries().size() == 3);
}

TEST_CASE("revoke unknown id fails") {
  CaFixture fixture;
  fixture.issue("dev-1");
  std::vector<RevocationEntry> added;
  std::string error;
  CHECK_FALSE(fixture.directory.revoke_device("dev-9", &added, &error));
  CHECK(contains(error, "no certificate for device id 'dev-9'"));
  CHECK_FALSE(fixture.directory.revoke_device("bad id", &added, &error));
  CHECK(contains(error, "invalid device id"));
}

TEST_CASE("revocation list parses comments") {
  RevocationList list;
  std::string error;
  const std::string text =
      "# revoked by hand\n"
      "\n"
      "  00:AB:cd   dev-1   # lost in transit\r\n"
      "\t1234 dev-2\n"
      "ff dev-3";
  REQUIRE_MESSAGE(list.parse(text, "revoked.txt", &error), error);
  REQUIRE(list.entries().size() == 3);
  CHECK(list.entries()[0].serial == "abcd");
  CHECK(list.entries()[0].device_id == "dev-1");
  CHECK(list.is_revoked("ABCD"));
  CHECK(list.is_revoked("1234"));
  CHECK(list.is_revoked("00ff"));
  CHECK_FALSE(list.is_revoked("abce"));
  CHECK_FALSE(list.is_revoked("not hex"));
}

TEST_CASE("revocation list rejects malformed lines") {
  RevocationList list;
  std::string error;
  REQUIRE(list.parse("abcd dev-1\n", "revoked.txt", &error));
  CHECK_FALSE(list.parse("# header\nabcd\n", "revoked.txt", &error));
  CHECK(contains(error, "revoked.txt:2: expected 2 fields"));
  CHECK_FALSE(list.parse("xyz dev-1\n", "revoked.txt", &error));
  CHECK(contains(error, "revoked.txt:1: invalid serial number 'xyz'"));
  CHECK_FALSE(list.parse("abcd dev/1\n", "revoked.txt", &error));
  CHECK(contains(error, "revoked.txt:1: invalid device id"));
  CHECK_FALSE(list.parse("abcd dev-1 extra\n", "revoked.txt", &error));
  // A failed parse keeps the previous list.
  CHECK(list.is_revoked("abcd"));
}

TEST_CASE("missing revocation list is an error") {
  TempDir temp;
  RevocationList list;
  std::string error;
  CHECK_FALSE(list.load(temp.path("revoked.txt"), &error));
  CHECK(contains(error, temp.path("revoked.txt")));
}

TEST_CASE("damaged issuance log stops issuing") {
  CaFixture fixture;
  fixture.issue("dev-1");
  REQUIRE(write_private_file(fixture.directory.issuance_log_path(), "abcd dev-1 2024\n", nullptr));
  Credential device;
  std::string error;
  CHECK_FALSE(fixture.directory.issue_device("dev-2", valid_now(), &device, &error));
  CHECK(contains(error, fixture.directory.issuance_log_path() + ":1: invalid time '2024'"));
  CHECK_FALSE(testing::contains(read_file(fixture.directory.issuance_log_path()), "dev-2"));
}

TEST_CASE("make PSK writes device file") {
  CaFixture fixture;
  std::string error;
  REQUIRE_MESSAGE(fixture.directory.make_psk("tiny-1", &error), error);
  const std::string path = fixture.directory.psk_path("tiny-1");
  CHECK(file_mode(fixture.directory.psk_directory_path()) == 0700);
  CHECK(file_mode(path) == 0600);
  std::vector<unsigned char> first;
  REQUIRE_MESSAGE(read_psk_file(path, &first, &error), error);
  REQUIRE(fixture.directory.make_psk("tiny-1", &error));
  std::vector<unsigned char> second;
  REQUIRE(read_psk_file(path, &second, &error));
  CHECK(first != second);
  CHECK_FALSE(fixture.directory.make_psk("../x", &error));
  CHECK(contains(error, "invalid device id"));
}

TEST_CASE("all written files are private") {
  CaFixture fixture;
  std::string error;
  Credential credential;
  REQUIRE(fixture.directory.issue_coordinator("ecq coordinator", {"localhost"}, valid_now(), &credential, &error));
  fixture.issue("dev-1");
  fixture.issue("dev-1");
  REQUIRE(fixture.directory.make_psk("dev-2", &error));
  std::vector<RevocationEntry> added;
  REQUIRE(fixture.directory.revoke_device("dev-1", &added, &error));

  const std::vector<std::string> paths = testing::list_tree(fixture.directory.path());
  CHECK(paths.size() == 11);
  for (const std::string& path : paths) {
    CAPTURE(path);
    struct stat status {};
    REQUIRE(::stat(path.c_str(), &status) == 0);
    CHECK((status.st_mode & 07777) == (S_ISDIR(status.st_mode) ? 0700u : 0600u));
    CHECK_FALSE(contains(path, ".tmp-"));
  }
}

}  // namespace
}  // namespace ecq::pki
