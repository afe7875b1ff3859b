#pragma once
// The issuance log of a CA: one line per device certificate it issued, so
// that revoking a device id can find every certificate issued to it. Each
// line has three fields separated by spaces:
//
//   <serial, lowercase hex> <device id> <not-after, YYYYMMDDhhmmss UTC>
//
// '#' starts a comment that runs to the end of the line; blank lines are
// ignored.
//
// Every function returns true on success. On failure it returns false, leaves
// its output unchanged and writes a message to *error (which may be null)
// that names the file and, for a malformed line, its line number.

#include <ctime>
#include <string>
#include <vector>

namespace ecq::pki {

/// One issued device certificate.
struct IssuanceRecord {
  std::string serial;  ///< lowercase hex without leading zeros
  std::string device_id;
  std::time_t not_after = 0;  ///< seconds since the Unix epoch
};

/// Parses log text; `path` is used in messages only.
bool parse_issuance_log(const std::string& text, const std::string& path, std::vector<IssuanceRecord>* records,
                        std::string* error);

/// Reads and parses the log file at `path`.
bool read_issuance_log(const std::string& path, std::vector<IssuanceRecord>* records, std::string* error);

/// Adds one record to the existing log file at `path`, rewriting it
/// atomically. Fails when the file is missing or does not parse, so that a
/// lost or damaged log is noticed before more is written to it.
bool append_issuance_record(const std::string& path, const IssuanceRecord& record, std::string* error);

}  // namespace ecq::pki
