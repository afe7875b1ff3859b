#pragma once
// Validity periods of certificates and their text form, YYYYMMDDhhmmss in UTC
// (the form mbedtls_x509write_crt_set_validity takes).

#include <ctime>
#include <string>

namespace ecq::pki {

/// Maximum validity accepted by validity_for_days(), in days (about 100
/// years).
constexpr int kMaxValidityDays = 36500;

/// How far validity_for_days() moves not-before into the past, in seconds, so
/// that a peer whose clock runs up to an hour behind still accepts a
/// certificate issued just now.
constexpr std::time_t kClockSkewAllowance = 3600;

/// The period in which a certificate is valid, both ends inclusive, as
/// seconds since the Unix epoch (UTC). Certificates store whole seconds.
struct Validity {
  std::time_t not_before = 0;
  std::time_t not_after = 0;
};

/// Returns the period from `now` minus kClockSkewAllowance to `now` plus
/// `days` x 86400 seconds. `days` must be 1 to kMaxValidityDays; check it
/// with check_validity_days() first.
Validity validity_for_days(int days, std::time_t now);

/// Checks that `days` is 1 to kMaxValidityDays. On failure it writes a message
/// that names the value and the range to *error (which may be null).
bool check_validity_days(int days, std::string* error);

/// Checks that not_before is before not_after and that both lie in the years
/// 1970 to 9999, which X.509 time fields can hold. Certificates that are
/// already expired or not yet valid are accepted on purpose, so that tests can
/// make them.
bool check_validity(const Validity& validity, std::string* error);

/// Parses YYYYMMDDhhmmss (UTC, 14 digits) into seconds since the epoch.
/// Fails on other lengths, non-digits, out-of-range fields (month 13, 31
/// February, hour 24, second 60) and years before 1970; the message quotes the
/// text and shows the expected form.
bool parse_utc_time(const std::string& text, std::time_t* time, std::string* error);

/// Formats seconds since the epoch as YYYYMMDDhhmmss in UTC.
std::string format_utc_time(std::time_t time);

}  // namespace ecq::pki
