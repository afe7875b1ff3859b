// The issuance log and the revocation list, two text tables of the CA
// directory (formats in issuance_log.h and revocation.h).

#include "ecq/pki/revocation.h"

#include "ecq/pki/credentials.h"
#include "ecq/pki/files.h"
#include "ecq/pki/issuance_log.h"
#include "ecq/pki/names.h"
#include "ecq/pki/validity.h"
#include "support.h"
#include "table.h"

namespace ecq::pki {
namespace {

using detail::fail;
using detail::table_location;
using detail::TableRow;

// Checks the serial and device id fields that both tables start with.
bool parse_serial_and_id(const TableRow& row, const std::string& path, std::string* serial, std::string* device_id,
                         std::string* error) {
  std::string field_error;
  if (!parse_serial(row.fields[0], serial, &field_error) || !check_device_id(row.fields[1], &field_error)) {
    return fail(error, table_location(path, row.line_number) + field_error);
  }
  *device_id = row.fields[1];
  return true;
}

bool parse_issuance_row(const TableRow& row, const std::string& path, IssuanceRecord* record, std::string* error) {
  if (row.fields.size() != 3) {
    return fail(error, table_location(path, row.line_number) +
                           "expected 3 fields (serial, device id, not-after), "
                           "found " +
                           std::to_string(row.fields.size()));
  }
  if (!parse_serial_and_id(row, path, &record->serial, &record->device_id, error)) {
    return false;
  }
  std::string time_error;
  if (!parse_utc_time(row.fields[2], &record->not_after, &time_error)) {
    return fail(error, table_location(path, row.line_number) + time_error);
  }
  return true;
}

bool parse_revocation_row(const TableRow& row, const std::string& path, RevocationEntry* entry, std::string* error) {
  if (row.fields.size() != 2) {
    return fail(error, table_location(path, row.line_number) + "expected 2 fields (serial, device id), found " +
                           std::to_string(row.fields.size()));
  }
  return parse_serial_and_id(row, path, &entry->serial, &entry->device_id, error);
}

}  // namespace

bool parse_issuance_log(const std::string& text, const std::string& path, std::vector<IssuanceRecord>* records,
                        std::string* error) {
  std::vector<IssuanceRecord> parsed;
  for (const TableRow& row : detail::parse_table(text)) {
    IssuanceRecord record;
    if (!parse_issuance_row(row, path, &record, error)) {
      return false;
    }
    parsed.push_back(std::move(record));
  }
  *records = std::move(parsed);
  return true;
}

bool read_issuance_log(const std::string& path, std::vector<IssuanceRecord>* records, std::string* error) {
  std::string text;
  return read_text_file(path, &text, error) && parse_issuance_log(text, path, records, error);
}

bool append_issuance_record(const std::string& path, const IssuanceRecord& record, std::string* error) {
  std::string text;
  std::vector<IssuanceRecord> existing;
  if (!read_text_file(path, &text, error) || !parse_issuance_log(text, path, &existing, error)) {
    return false;
  }
  const std::string line = record.serial + " " + record.device_id + " " + format_utc_time(record.not_after) + "\n";
  return detail::append_lines(path, text, line, error);
}

bool RevocationList::parse(const std::string& text, const std::string& path, std::string* error) {
  std::vector<RevocationEntry> parsed;
  for (const TableRow& row : detail::parse_table(text)) {
    RevocationEntry entry;
    if (!parse_revocation_row(row, path, &entry, error)) {
      return false;
    }
    parsed.push_back(std::move(entry));
  }
  entries_ = std::move(parsed);
  serials_.clear();
  for (const RevocationEntry& entry : entries_) {
    serials_.insert(entry.serial);
  }
  return true;
}

bool RevocationList::load(const std::string& path, std::string* error) {
  std::string text;
  return read_text_file(path, &text, error) && parse(text, path, error);
}

bool RevocationList::is_revoked(const std::string& serial) const {
  std::string normalized;
  return parse_serial(serial, &normalized, nullptr) && serials_.count(normalized) != 0;
}

bool RevocationList::is_revoked(const mbedtls_x509_crt& certificate) const {
  return serials_.count(certificate_serial(certificate)) != 0;
}

bool append_revocations(const std::string& path, const std::vector<RevocationEntry>& entries, std::string* error) {
  std::string text;
  RevocationList existing;
  if (!read_text_file(path, &text, error) || !existing.parse(text, path, error)) {
    return false;
  }
  std::string lines;
  for (const RevocationEntry& entry : entries) {
    std::string serial;
    if (!parse_serial(entry.serial, &serial, error) || !check_device_id(entry.device_id, error)) {
      return false;
    }
    lines += serial + " " + entry.device_id + "\n";
  }
  return detail::append_lines(path, text, lines, error);
}

}  // namespace ecq::pki
