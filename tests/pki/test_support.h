#pragma once
// Temporary directories, parsed certificates and subprocess runs for the
// ecq::pki tests.

#include <mbedtls/x509_crt.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace ecq::pki::testing {

/// The shared temporary directory.
class TempDir : public ecq::test::TempDir {
 public:
  TempDir() : ecq::test::TempDir("ecq-pki-test") {}
};

/// A parsed certificate chain that frees itself.
class ParsedCertificate {
 public:
  ParsedCertificate();
  ~ParsedCertificate();
  ParsedCertificate(const ParsedCertificate&) = delete;
  ParsedCertificate& operator=(const ParsedCertificate&) = delete;

  /// Parses PEM text; returns the mbedtls_x509_crt_parse result (0 on success).
  int parse(const std::string& pem);

  mbedtls_x509_crt* get() { return &chain_; }

 private:
  mbedtls_x509_crt chain_;
};

/// Verifies `leaf_pem` against the trust anchor `ca_pem` with
/// mbedtls_x509_crt_verify and returns its MBEDTLS_X509_BADCERT_* flags (0 =
/// trusted). `expected_cn` is the expected host name or CN, or null.
/// Returns 0xFFFFFFFF when either certificate does not parse.
std::uint32_t verify_flags(const std::string& leaf_pem, const std::string& ca_pem, const char* expected_cn);

/// Returns the permission bits of a file or directory, or -1 when stat fails.
int file_mode(const std::string& path);

/// Returns the paths of all entries below `root`, depth first.
std::vector<std::string> list_tree(const std::string& root);

/// Reads a whole file; returns an empty string when it cannot.
std::string read_file(const std::string& path);

/// Exit status, standard output and standard error of a finished command.
struct CommandResult {
  int exit_status = -1;  ///< the exit code, or -1 when the command did not exit normally
  std::string out;
  std::string err;
};

/// Runs the ecq-pki program with `arguments` (each passed as one argument,
/// quoted for the shell) and waits for it. `scratch` contains the files that
/// capture its output.
CommandResult run_pki(const TempDir& scratch, const std::vector<std::string>& arguments);

/// Returns true when `text` contains `part`.
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace ecq::pki::testing
