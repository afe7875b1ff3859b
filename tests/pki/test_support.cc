#include "test_support.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ecq::pki::testing {
namespace {

// Wraps `text` in single quotes for /bin/sh, escaping embedded quotes.
std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted.push_back(c);
    }
  }
  return quoted + "'";
}

}  // namespace

ParsedCertificate::ParsedCertificate() { mbedtls_x509_crt_init(&chain_); }

ParsedCertificate::~ParsedCertificate() { mbedtls_x509_crt_free(&chain_); }

int ParsedCertificate::parse(const std::string& pem) {
  return mbedtls_x509_crt_parse(&chain_, reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1);
}

std::uint32_t verify_flags(const std::string& leaf_pem, const std::string& ca_pem, const char* expected_cn) {
  ParsedCertificate leaf;
  ParsedCertificate ca;
  if (leaf.parse(leaf_pem) != 0 || ca.parse(ca_pem) != 0) {
    return 0xFFFFFFFF;
  }
  std::uint32_t flags = 0;
  mbedtls_x509_crt_verify(leaf.get(), ca.get(), nullptr, expected_cn, &flags, nullptr, nullptr);
  return flags;
}

int file_mode(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    return -1;
  }
  return static_cast<int>(status.st_mode & 07777);
}

std::vector<std::string> list_tree(const std::string& root) {
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    paths.push_back(entry.path().string());
  }
  return paths;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

CommandResult run_pki(const TempDir& scratch, const std::vector<std::string>& arguments) {
  const std::string out_path = scratch.path("command.out");
  const std::string err_path = scratch.path("command.err");
  // ECQ_PKI_EMULATOR is empty, or the emulator's command line in a cross build.
  std::string command = std::string(ECQ_PKI_EMULATOR) + " " + shell_quote(ECQ_PKI_PROGRAM);
  for (const std::string& argument : arguments) {
    command += " " + shell_quote(argument);
  }
  command += " >" + shell_quote(out_path) + " 2>" + shell_quote(err_path);
  const int status = std::system(command.c_str());
  CommandResult result;
  result.exit_status = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

}  // namespace ecq::pki::testing
