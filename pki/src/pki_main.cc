// ecq-pki: makes the credentials of an ecq fleet. It keeps a fleet CA in a
// CA directory and issues the coordinator's TLS server certificate and the
// device certificates. A device certificate gets a key made here, or is
// signed from the device's CSR so that the key stays on the device. It also
// makes PSKs for devices that use ECDHE-PSK, revokes certificates by serial
// or device id, and lists what it issued.
//
// CA directory layout (see ecq/pki/ca_directory.h):
//
//   DIR/                  mode 0700
//     ca.crt, ca.key      fleet CA certificate and private key
//     coordinator.crt     coordinator certificate and key
//     coordinator.key
//     devices/ID.crt      device certificate and key from issue-device
//     devices/ID.key
//     psk/ID.psk          device PSK: 64 hex digits; PSK identity = ID
//     issued.txt          issued device certificates: serial, id, not-after
//     revoked.txt         revoked certificates: serial, id
//
// Every file is written with mode 0600. Exit status: 0 on success, 1 with a
// one-line message on stderr otherwise.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ecq/pki/ca_directory.h"
#include "ecq/pki/credentials.h"
#include "ecq/pki/files.h"
#include "ecq/pki/pem_files.h"
#include "ecq/pki/validity.h"

namespace {

using ecq::pki::CaDirectory;
using ecq::pki::Credential;
using ecq::pki::Validity;

constexpr int kDefaultCaDays = 3650;
constexpr int kDefaultCoordinatorDays = 365;
constexpr int kDefaultDeviceDays = 365;
constexpr std::time_t kSecondsPerDay = 86400;

const char kLayout[] =
    "CA directory layout (all files mode 0600, directories 0700):\n"
    "  DIR/ca.crt, DIR/ca.key                    fleet CA certificate and private key\n"
    "  DIR/coordinator.crt, DIR/coordinator.key  coordinator certificate and key\n"
    "  DIR/devices/ID.crt, DIR/devices/ID.key    device certificate and key (issue-device)\n"
    "  DIR/psk/ID.psk                            device PSK, 64 hex digits; PSK identity = ID\n"
    "  DIR/issued.txt                            issued device certificates: serial, id, not-after\n"
    "  DIR/revoked.txt                           revoked certificates: serial, id\n"
    "ID is a device id: 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'.\n"
    "TIME is YYYYMMDDhhmmss in UTC, such as 20250131235959.\n"
    "Exit status: 0 on success, 1 with a one-line error on stderr.";

/// Runs one subcommand after parsing; returns false with a message on failure.
using Action = std::function<bool(std::string* error)>;
using Actions = std::vector<std::pair<CLI::App*, Action>>;

/// The validity options of the commands that issue certificates.
struct ValidityOptions {
  int days = 0;
  std::string not_before;  ///< TIME, or empty for now minus one hour
  std::string not_after;   ///< TIME, or empty for `days` after not-before (if given) or now
};

// Adds --days and, when `with_times` is set, --not-before and --not-after.
void add_validity_options(CLI::App* command, ValidityOptions* options, bool with_times) {
  const char* description = with_times ? "validity in days from now, or from --not-before if given; 1 to 36500"
                                       : "validity in days from now, 1 to 36500";
  CLI::Option* days = command->add_option("--days", options->days, description)
                          ->check(CLI::Range(1, ecq::pki::kMaxValidityDays))
                          ->capture_default_str();
  if (!with_times) {
    return;
  }
  command->add_option("--not-before", options->not_before,
                      "start of validity, TIME in UTC (default: now minus one hour)");
  command
      ->add_option("--not-after", options->not_after,
                   "end of validity, TIME in UTC (default: --days after --not-before if given, else after now)")
      ->excludes(days);
}

bool resolve_validity(const ValidityOptions& options, Validity* validity, std::string* error) {
  Validity result = ecq::pki::validity_for_days(options.days, std::time(nullptr));
  if (!options.not_before.empty()) {
    if (!ecq::pki::parse_utc_time(options.not_before, &result.not_before, error)) {
      *error = "--not-before: " + *error;
      return false;
    }
    result.not_after = result.not_before + static_cast<std::time_t>(options.days) * kSecondsPerDay;
  }
  if (!options.not_after.empty() && !ecq::pki::parse_utc_time(options.not_after, &result.not_after, error)) {
    *error = "--not-after: " + *error;
    return false;
  }
  if (!ecq::pki::check_validity(result, error)) {
    return false;
  }
  *validity = result;
  return true;
}

std::string describe(const Credential& credential) {
  return "serial " + credential.serial + ", valid " + ecq::pki::format_utc_time(credential.validity.not_before) +
         " to " + ecq::pki::format_utc_time(credential.validity.not_after) + " UTC";
}

CLI::App* add_command(CLI::App& app, const char* name, const char* description, const char* footer) {
  CLI::App* command = app.add_subcommand(name, description);
  command->footer(footer);
  return command;
}

void add_init_ca(CLI::App& app, Actions* actions) {
  struct Options {
    std::string dir;
    std::string common_name = "ecq fleet CA";
    ValidityOptions validity{kDefaultCaDays, {}, {}};
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = add_command(app, "init-ca", "Create a CA directory with a new fleet CA",
                                  "Writes DIR/ca.crt, DIR/ca.key, DIR/issued.txt and DIR/revoked.txt. Fails when DIR "
                                  "already contains any of them.");
  command->add_option("--dir", options->dir, "CA directory; created if missing (its parent must exist)")->required();
  command->add_option("--cn", options->common_name, "subject CN of the CA certificate")->capture_default_str();
  add_validity_options(command, &options->validity, false);
  actions->emplace_back(command, [options](std::string* error) {
    Validity validity;
    Credential ca;
    if (!resolve_validity(options->validity, &validity, error) ||
        !CaDirectory(options->dir).init(options->common_name, validity, &ca, error)) {
      return false;
    }
    std::printf("created CA '%s' in %s (%s)\n", ca.common_name.c_str(), options->dir.c_str(), describe(ca).c_str());
    return true;
  });
}

void add_issue_coordinator(CLI::App& app, Actions* actions) {
  struct Options {
    std::string dir;
    std::vector<std::string> hosts;
    std::string common_name = "ecq coordinator";
    ValidityOptions validity{kDefaultCoordinatorDays, {}, {}};
  };
  auto options = std::make_shared<Options>();
  CLI::App* command =
      add_command(app, "issue-coordinator", "Issue the coordinator's TLS server certificate and key",
                  "Writes DIR/coordinator.crt and DIR/coordinator.key, replacing earlier ones. Mbed TLS 2.28 "
                  "checks only dNSName entries, so a coordinator reached at 127.0.0.1 needs --host localhost.");
  command->add_option("--dir", options->dir, "CA directory made by init-ca")->required();
  command->add_option("--host", options->hosts, "host name for the subjectAltName (dNSName); repeat for more")
      ->required()
      ->allow_extra_args(false);
  command->add_option("--cn", options->common_name, "subject CN of the certificate")->capture_default_str();
  add_validity_options(command, &options->validity, false);
  actions->emplace_back(command, [options](std::string* error) {
    Validity validity;
    Credential coordinator;
    const CaDirectory directory(options->dir);
    if (!resolve_validity(options->validity, &validity, error) ||
        !directory.issue_coordinator(options->common_name, options->hosts, validity, &coordinator, error)) {
      return false;
    }
    std::printf("issued coordinator certificate %s and key %s (%s)\n", directory.coordinator_certificate_path().c_str(),
                directory.coordinator_key_path().c_str(), describe(coordinator).c_str());
    return true;
  });
}

void add_issue_device(CLI::App& app, Actions* actions) {
  struct Options {
    std::string dir;
    std::string id;
    ValidityOptions validity{kDefaultDeviceDays, {}, {}};
  };
  auto options = std::make_shared<Options>();
  CLI::App* command =
      add_command(app, "issue-device", "Issue a device certificate and key (subject CN = device id)",
                  "Writes DIR/devices/ID.crt and DIR/devices/ID.key, replacing earlier ones, and logs the serial in "
                  "DIR/issued.txt. Give --not-before and --not-after in the past to make an expired certificate.");
  command->add_option("--dir", options->dir, "CA directory made by init-ca")->required();
  command->add_option("--id", options->id, "device id, the subject CN")->required();
  add_validity_options(command, &options->validity, true);
  actions->emplace_back(command, [options](std::string* error) {
    Validity validity;
    Credential device;
    const CaDirectory directory(options->dir);
    if (!resolve_validity(options->validity, &validity, error) ||
        !directory.issue_device(options->id, validity, &device, error)) {
      return false;
    }
    std::printf("issued device certificate %s and key %s (%s)\n",
                directory.device_certificate_path(options->id).c_str(), directory.device_key_path(options->id).c_str(),
                describe(device).c_str());
    return true;
  });
}

bool make_csr_file(const std::string& key_path, const std::string& device_id, const std::string& out_path,
                   std::string* error) {
  std::string key_pem;
  const bool create_key = !ecq::pki::path_exists(key_path);
  if (create_key) {
    if (!ecq::pki::generate_key(&key_pem, error) || !ecq::pki::create_private_file(key_path, key_pem, error)) {
      return false;
    }
  } else if (!ecq::pki::read_private_key_file(key_path, &key_pem, error)) {
    return false;
  }
  std::string csr_pem;
  if (!ecq::pki::make_csr(key_pem, device_id, &csr_pem, error) ||
      !ecq::pki::write_private_file(out_path, csr_pem, error)) {
    return false;
  }
  std::printf("%s key %s; wrote CSR %s for device %s\n", create_key ? "created" : "used", key_path.c_str(),
              out_path.c_str(), device_id.c_str());
  return true;
}

void add_make_csr(CLI::App& app, Actions* actions) {
  struct Options {
    std::string key;
    std::string id;
    std::string out;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command =
      add_command(app, "make-csr", "Make a certificate signing request on the device, with the device's own key",
                  "Creates the key file (EC P-256, mode 0600) when it does not exist. Send the CSR to the CA "
                  "(sign-csr); the key never leaves the device.");
  command->add_option("--key", options->key, "device private key file (PEM); created if missing")->required();
  command->add_option("--id", options->id, "device id, the subject CN")->required();
  command->add_option("--out", options->out, "CSR file to write (PEM)")->required();
  actions->emplace_back(
      command, [options](std::string* error) { return make_csr_file(options->key, options->id, options->out, error); });
}

void add_sign_csr(CLI::App& app, Actions* actions) {
  struct Options {
    std::string dir;
    std::string csr;
    std::string out;
    ValidityOptions validity{kDefaultDeviceDays, {}, {}};
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = add_command(app, "sign-csr", "Sign a device's CSR with the CA",
                                  "Checks the CSR's signature, takes its public key and subject CN (the device id), "
                                  "writes the certificate to --out and logs the serial in DIR/issued.txt.");
  command->add_option("--dir", options->dir, "CA directory made by init-ca")->required();
  command->add_option("--csr", options->csr, "CSR file (PEM) made by make-csr")->required();
  command->add_option("--out", options->out, "certificate file to write (PEM)")->required();
  add_validity_options(command, &options->validity, false);
  actions->emplace_back(command, [options](std::string* error) {
    Validity validity;
    std::string csr_pem;
    Credential device;
    if (!resolve_validity(options->validity, &validity, error) ||
        !ecq::pki::read_csr_file(options->csr, &csr_pem, error) ||
        !CaDirectory(options->dir).sign_csr(csr_pem, validity, &device, error) ||
        !ecq::pki::write_private_file(options->out, device.certificate_pem, error)) {
      return false;
    }
    std::printf("signed certificate %s for device %s (%s)\n", options->out.c_str(), device.common_name.c_str(),
                describe(device).c_str());
    return true;
  });
}

void add_make_psk(CLI::App& app, Actions* actions) {
  struct Options {
    std::string dir;
    std::string id;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = add_command(app, "make-psk", "Make a new 32-byte PSK for a device (PSK identity = device id)",
                                  "Writes DIR/psk/ID.psk as 64 lowercase hex digits, replacing an earlier PSK.");
  command->add_option("--dir", options->dir, "CA directory made by init-ca")->required();
  command->add_option("--id", options->id, "device id, the PSK identity")->required();
  actions->emplace_back(command, [options](std::string* error) {
    const CaDirectory directory(options->dir);
    if (!directory.make_psk(options->id, error)) {
      return false;
    }
    std::printf("wrote PSK %s for device %s\n", directory.psk_path(options->id).c_str(), options->id.c_str());
    return true;
  });
}

void print_revoked(const std::vector<ecq::pki::RevocationEntry>& added, const std::string& subject) {
  if (added.empty()) {
    std::printf("%s: already revoked, nothing added\n", subject.c_str());
  }
  for (const ecq::pki::RevocationEntry& entry : added) {
    std::printf("revoked serial %s of device %s\n", entry.serial.c_str(), entry.device_id.c_str());
  }
}

void add_revoke(CLI::App& app, Actions* actions) {
  struct Options {
    std::string dir;
    std::string serial;
    std::string id;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command =
      add_command(app, "revoke", "Revoke one certificate by serial, or every certificate issued to a device id so far",
                  "Adds lines to DIR/revoked.txt. --id revokes the serials DIR/issued.txt logs for the id; a "
                  "certificate issued to the id afterwards (re-enrolment) is not revoked.");
  command->add_option("--dir", options->dir, "CA directory made by init-ca")->required();
  CLI::Option_group* target = command->add_option_group("target", "what to revoke (exactly one)");
  target->add_option("--serial", options->serial, "serial number in hex, as 'list' prints it");
  target->add_option("--id", options->id, "device id");
  target->require_option(1);
  actions->emplace_back(command, [options](std::string* error) {
    const CaDirectory directory(options->dir);
    std::vector<ecq::pki::RevocationEntry> added;
    const bool by_serial = !options->serial.empty();
    if (by_serial ? !directory.revoke_serial(options->serial, &added, error)
                  : !directory.revoke_device(options->id, &added, error)) {
      return false;
    }
    print_revoked(added, by_serial ? "serial " + options->serial : "device " + options->id);
    return true;
  });
}

bool list_issued(const std::string& dir, std::string* error) {
  const CaDirectory directory(dir);
  std::vector<ecq::pki::IssuanceRecord> records;
  ecq::pki::RevocationList revocations;
  if (!directory.read_issuance_log(&records, error) || !directory.load_revocations(&revocations, error)) {
    return false;
  }
  const std::time_t now = std::time(nullptr);
  std::printf("%-32s  %-24s  %-14s  %s\n", "SERIAL", "DEVICE ID", "NOT AFTER(UTC)", "STATE");
  for (const ecq::pki::IssuanceRecord& record : records) {
    const char* state = "valid";
    if (revocations.is_revoked(record.serial)) {
      state = "revoked";
    } else if (record.not_after < now) {
      state = "expired";
    }
    std::printf("%-32s  %-24s  %-14s  %s\n", record.serial.c_str(), record.device_id.c_str(),
                ecq::pki::format_utc_time(record.not_after).c_str(), state);
  }
  return true;
}

void add_list(CLI::App& app, Actions* actions) {
  auto dir = std::make_shared<std::string>();
  CLI::App* command = add_command(app, "list", "List the issued device certificates with serial, id, expiry and state",
                                  "Reads DIR/issued.txt and DIR/revoked.txt. STATE is revoked, expired or valid. "
                                  "Coordinator certificates are not logged and not listed.");
  command->add_option("--dir", *dir, "CA directory made by init-ca")->required();
  actions->emplace_back(command, [dir](std::string* error) { return list_issued(*dir, error); });
}

int run(int argc, char** argv) {
  CLI::App app{
      "Make and manage the credentials of an ecq fleet: CA, coordinator and device certificates, PSKs, "
      "revocations.",
      "ecq-pki"};
  // At most one subcommand; its absence is reported after parsing, so that an
  // unknown name is reported as unexpected rather than as a missing subcommand.
  app.require_subcommand(0, 1);
  app.footer(kLayout);
  Actions actions;
  add_init_ca(app, &actions);
  add_issue_coordinator(app, &actions);
  add_issue_device(app, &actions);
  add_make_csr(app, &actions);
  add_sign_csr(app, &actions);
  add_make_psk(app, &actions);
  add_revoke(app, &actions);
  add_list(app, &actions);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --help-all end parsing with exit code 0 and print the help.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      return app.exit(e);
    }
    std::cerr << "ecq-pki: " << e.what() << "; run 'ecq-pki --help' for the usage\n";
    return 1;
  }

  for (const auto& [command, action] : actions) {
    if (command->parsed()) {
      std::string error;
      if (!action(&error)) {
        std::cerr << "ecq-pki " << command->get_name() << ": " << error << "\n";
        return 1;
      }
      return 0;
    }
  }
  std::cerr << "ecq-pki: a subcommand is required; run 'ecq-pki --help' for the list\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "ecq-pki: " << e.what() << "\n";
    return 1;
  }
}
