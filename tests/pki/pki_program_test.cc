// End-to-end tests of the ecq-pki program, run as a subprocess.

#include <doctest/doctest.h>

#include <ctime>
#include <string>
#include <vector>

#include "ecq/pki/ca_directory.h"
#include "ecq/pki/credentials.h"
#include "ecq/pki/psk.h"
#include "test_support.h"

namespace ecq::pki {
namespace {

using testing::CommandResult;
using testing::contains;
using testing::file_mode;
using testing::ParsedCertificate;
using testing::read_file;
using testing::run_pki;
using testing::TempDir;
using testing::verify_flags;

// Runs ecq-pki and requires success.
std::string run_ok(const TempDir& scratch, const std::vector<std::string>& arguments) {
  const CommandResult result = run_pki(scratch, arguments);
  INFO("stderr: " << result.err);
  REQUIRE(result.exit_status == 0);
  CHECK(result.err.empty());
  return result.out;
}

// Runs ecq-pki, requires exit status 1 and one line on stderr, and returns it.
std::string run_failing(const TempDir& scratch, const std::vector<std::string>& arguments) {
  const CommandResult result = run_pki(scratch, arguments);
  INFO("stdout: " << result.out << "stderr: " << result.err);
  CHECK(result.exit_status == 1);
  REQUIRE_FALSE(result.err.empty());
  CHECK(result.err.find('\n') == result.err.size() - 1);
  return result.err;
}

// The serials of an ecq-pki list output whose state column is `state`.
std::vector<std::string> listed_serials(const std::string& output, const std::string& state) {
  std::vector<std::string> serials;
  std::size_t start = 0;
  while (start < output.size()) {
    const std::size_t end = output.find('\n', start);
    const std::string line = output.substr(start, end - start);
    if (line.size() > state.size() && line.compare(line.size() - state.size(), state.size(), state) == 0) {
      serials.push_back(line.substr(0, line.find(' ')));
    }
    start = end == std::string::npos ? output.size() : end + 1;
  }
  return serials;
}

TEST_CASE("ecq-pki help documents options") {
  TempDir scratch;
  const std::string help = run_ok(scratch, {"--help"});
  for (const char* part :
       {"init-ca", "issue-coordinator", "issue-device", "make-csr", "sign-csr", "make-psk", "revoke", "list",
        "DIR/ca.key", "DIR/devices/ID.crt", "DIR/psk/ID.psk", "DIR/issued.txt", "DIR/revoked.txt", "YYYYMMDDhhmmss"}) {
    CAPTURE(part);
    CHECK(contains(help, part));
  }
  const std::string device_help = run_ok(scratch, {"issue-device", "--help"});
  for (const char* part : {"--dir", "--id", "--days", "validity in days", "--not-before", "--not-after", "UTC"}) {
    CAPTURE(part);
    CHECK(contains(device_help, part));
  }
  CHECK(contains(run_ok(scratch, {"revoke", "--help"}), "--serial"));
  CHECK(contains(run_ok(scratch, {"issue-coordinator", "--help"}), "--host"));
  CHECK(contains(run_ok(scratch, {"make-csr", "--help"}), "--key"));
}

TEST_CASE("ecq-pki end to end") {
  TempDir temp;
  TempDir scratch;
  const std::string dir = temp.path("ca");
  const CaDirectory directory(dir);

  CHECK(contains(run_ok(scratch, {"init-ca", "--dir", dir, "--cn", "e2e CA", "--days", "30"}), "created CA 'e2e CA'"));
  const std::string ca_pem = read_file(directory.ca_certificate_path());
  CHECK(file_mode(dir) == 0700);

  run_ok(scratch, {"issue-coordinator", "--dir", dir, "--host", "localhost", "--host", "coordinator.example"});
  const std::string coordinator_pem = read_file(directory.coordinator_certificate_path());
  CHECK(verify_flags(coordinator_pem, ca_pem, "localhost") == 0);
  CHECK(verify_flags(coordinator_pem, ca_pem, "coordinator.example") == 0);

  run_ok(scratch, {"issue-device", "--dir", dir, "--id", "dev-1"});
  CHECK(verify_flags(read_file(directory.device_certificate_path("dev-1")), ca_pem, "dev-1") == 0);

  run_ok(scratch, {"issue-device", "--dir", dir, "--id", "dev-old", "--not-before", "20200101000000", "--not-after",
                   "20200201000000"});
  CHECK(verify_flags(read_file(directory.device_certificate_path("dev-old")), ca_pem, nullptr) ==
        MBEDTLS_X509_BADCERT_EXPIRED);

  const std::string key_path = temp.path("device-2.key");
  const std::string csr_path = temp.path("device-2.csr");
  const std::string certificate_path = temp.path("device-2.crt");
  CHECK(contains(run_ok(scratch, {"make-csr", "--key", key_path, "--id", "dev-2", "--out", csr_path}), "created key"));
  const std::string key_pem = read_file(key_path);
  CHECK(contains(run_ok(scratch, {"make-csr", "--key", key_path, "--id", "dev-2", "--out", csr_path}), "used key"));
  CHECK(read_file(key_path) == key_pem);
  run_ok(scratch, {"sign-csr", "--dir", dir, "--csr", csr_path, "--out", certificate_path, "--days", "7"});
  const std::string device_2_pem = read_file(certificate_path);
  CHECK(verify_flags(device_2_pem, ca_pem, "dev-2") == 0);
  CHECK_FALSE(contains(read_file(directory.issuance_log_path()), "PRIVATE"));

  run_ok(scratch, {"make-psk", "--dir", dir, "--id", "tiny-1"});
  std::vector<unsigned char> psk;
  std::string error;
  CHECK_MESSAGE(read_psk_file(directory.psk_path("tiny-1"), &psk, &error), error);
  CHECK(read_file(directory.psk_path("tiny-1")).size() == 65);

  for (const std::string& path : testing::list_tree(temp.path(""))) {
    CAPTURE(path);
    CHECK(file_mode(path) ==
          (path == dir || path == directory.devices_path() || path == directory.psk_directory_path() ? 0700 : 0600));
  }
}

TEST_CASE("ecq-pki revoke and re-enrol") {
  TempDir temp;
  TempDir scratch;
  const std::string dir = temp.path("ca");
  run_ok(scratch, {"init-ca", "--dir", dir});
  run_ok(scratch, {"issue-device", "--dir", dir, "--id", "dev-1"});
  run_ok(scratch, {"issue-device", "--dir", dir, "--id", "dev-2"});
  const std::vector<std::string> before = listed_serials(run_ok(scratch, {"list", "--dir", dir}), "valid");
  REQUIRE(before.size() == 2);

  CHECK(contains(run_ok(scratch, {"revoke", "--dir", dir, "--id", "dev-1"}), "revoked serial " + before[0]));
  CHECK(contains(run_ok(scratch, {"revoke", "--dir", dir, "--id", "dev-1"}), "already revoked"));
  CHECK(contains(run_ok(scratch, {"revoke", "--dir", dir, "--serial", before[1]}), "of device dev-2"));
  std::string listing = run_ok(scratch, {"list", "--dir", dir});
  CHECK(listed_serials(listing, "revoked") == before);
  CHECK(listed_serials(listing, "valid").empty());

  run_ok(scratch, {"issue-device", "--dir", dir, "--id", "dev-1"});
  listing = run_ok(scratch, {"list", "--dir", dir});
  const std::vector<std::string> renewed = listed_serials(listing, "valid");
  REQUIRE(renewed.size() == 1);
  ParsedCertificate parsed;
  REQUIRE(parsed.parse(read_file(CaDirectory(dir).device_certificate_path("dev-1"))) == 0);
  CHECK(certificate_serial(*parsed.get()) == renewed[0]);

  RevocationList list;
  std::string error;
  REQUIRE_MESSAGE(list.load(CaDirectory(dir).revocation_list_path(), &error), error);
  CHECK_FALSE(list.is_revoked(*parsed.get()));
  CHECK(list.is_revoked(before[0]));
}

TEST_CASE("ecq-pki list marks expired") {
  TempDir temp;
  TempDir scratch;
  const std::string dir = temp.path("ca");
  run_ok(scratch, {"init-ca", "--dir", dir});
  run_ok(scratch, {"issue-device", "--dir", dir, "--id", "dev-old", "--not-before", "20200101000000", "--not-after",
                   "20200201000000"});
  const std::string listing = run_ok(scratch, {"list", "--dir", dir});
  CHECK(listed_serials(listing, "expired").size() == 1);
  CHECK(contains(listing, "20200201000000"));
}

TEST_CASE("ecq-pki errors are one line") {
  TempDir temp;
  TempDir scratch;
  const std::string dir = temp.path("ca");
  CHECK(contains(run_failing(scratch, {}), "subcommand is required"));
  CHECK(contains(run_failing(scratch, {"frobnicate"}), "frobnicate"));
  CHECK(contains(run_failing(scratch, {"init-ca"}), "--dir"));
  CHECK(contains(run_failing(scratch, {"init-ca", "--dir", dir, "--days", "0"}), "--days"));
  CHECK(contains(run_failing(scratch, {"issue-device", "--dir", dir, "--id", "dev-1"}), dir + "/ca.crt"));

  run_ok(scratch, {"init-ca", "--dir", dir});
  CHECK(contains(run_failing(scratch, {"init-ca", "--dir", dir}), "already holds a CA"));
  CHECK(contains(run_failing(scratch, {"issue-device", "--dir", dir, "--id", "bad id"}), "invalid device id 'bad id'"));
  CHECK(contains(run_failing(scratch, {"issue-device", "--dir", dir, "--id", "dev-1", "--not-after", "2020"}),
                 "--not-after: invalid time '2020'"));
  CHECK(contains(run_failing(scratch, {"issue-device", "--dir", dir, "--id", "dev-1", "--days", "5", "--not-after",
                                       "20990101000000"}),
                 "excludes"));
  CHECK(contains(run_failing(scratch, {"issue-coordinator", "--dir", dir, "--host", "127.0.0.1"}), "localhost"));
  CHECK(contains(run_failing(scratch, {"revoke", "--dir", dir}), "--serial"));
  CHECK(contains(run_failing(scratch, {"revoke", "--dir", dir, "--serial", "ab", "--id", "dev-1"}), "2 were given"));
  CHECK(contains(run_failing(scratch, {"revoke", "--dir", dir, "--serial", "abcdef"}), "not in"));
  CHECK(contains(
      run_failing(scratch, {"sign-csr", "--dir", dir, "--csr", temp.path("none.csr"), "--out", temp.path("none.crt")}),
      temp.path("none.csr")));
  CHECK(contains(run_failing(scratch, {"sign-csr", "--dir", dir, "--csr", CaDirectory(dir).ca_certificate_path(),
                                       "--out", temp.path("none.crt")}),
                 "not a certificate signing request"));
  CHECK(contains(run_failing(scratch, {"make-csr", "--key", CaDirectory(dir).ca_certificate_path(), "--id", "dev-1",
                                       "--out", temp.path("x.csr")}),
                 "not a private key"));
}

}  // namespace
}  // namespace ecq::pki
