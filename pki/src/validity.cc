#include "ecq/pki/validity.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "support.h"

namespace ecq::pki {
namespace {

using detail::fail;
using detail::quote;

// 9999-12-31 23:59:59 UTC, the last second an X.509 GeneralizedTime holds.
constexpr long long kLatestGeneralizedTime = 253402300799;

// The largest time_t marks a period that validity_for_days() could not
// represent.
constexpr std::time_t kOverflowTime = std::numeric_limits<std::time_t>::max();

// The last accepted second: 9999-12-31 with a 64-bit time_t, or one second
// below kOverflowTime (2038-01-19) with a 32-bit one, as on Debian 12 armhf.
constexpr std::time_t kLatestTime =
    static_cast<std::time_t>(std::min<long long>(kLatestGeneralizedTime, static_cast<long long>(kOverflowTime) - 1));

constexpr std::time_t kSecondsPerDay = 86400;

int digits_value(const std::string& text, std::size_t position, std::size_t count) {
  int value = 0;
  for (std::size_t i = position; i < position + count; ++i) {
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool all_digits(const std::string& text) {
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

}  // namespace

Validity validity_for_days(int days, std::time_t now) {
  Validity validity;
  validity.not_before = now - kClockSkewAllowance;
  const long long not_after = static_cast<long long>(now) + static_cast<long long>(days) * kSecondsPerDay;
  validity.not_after = not_after < static_cast<long long>(kOverflowTime) ? static_cast<std::time_t>(not_after)
                                                                         : kOverflowTime;
  return validity;
}

bool check_validity_days(int days, std::string* error) {
  if (days < 1 || days > kMaxValidityDays) {
    return fail(error, "invalid validity of " + std::to_string(days) + " days: it must be 1 to " +
                           std::to_string(kMaxValidityDays) + " days");
  }
  return true;
}

bool check_validity(const Validity& validity, std::string* error) {
  const std::string period = format_utc_time(validity.not_before) + " to " + format_utc_time(validity.not_after);
  if (validity.not_before < 0 || validity.not_after > kLatestTime) {
    return fail(error, "invalid validity " + period + " (UTC): both ends must lie from 19700101000000 to " +
                           format_utc_time(kLatestTime));
  }
  if (validity.not_before >= validity.not_after) {
    return fail(error, "invalid validity " + period + " (UTC): not-before must be earlier than not-after");
  }
  return true;
}

bool parse_utc_time(const std::string& text, std::time_t* time, std::string* error) {
  const std::string form = "expected YYYYMMDDhhmmss in UTC, such as 20250131235959";
  if (text.size() != 14 || !all_digits(text)) {
    return fail(error, "invalid time " + quote(text) + ": " + form);
  }
  std::tm fields{};
  fields.tm_year = digits_value(text, 0, 4) - 1900;
  fields.tm_mon = digits_value(text, 4, 2) - 1;
  fields.tm_mday = digits_value(text, 6, 2);
  fields.tm_hour = digits_value(text, 8, 2);
  fields.tm_min = digits_value(text, 10, 2);
  fields.tm_sec = digits_value(text, 12, 2);
  const std::time_t parsed = timegm(&fields);
  // timegm normalizes out-of-range fields (31 February becomes 3 March), so
  // the text is valid only when formatting the result gives it back.
  if (parsed < 0 || format_utc_time(parsed) != text) {
    return fail(error, "invalid time " + quote(text) + ": a field is out of range or the year is before 1970; " + form);
  }
  *time = parsed;
  return true;
}

std::string format_utc_time(std::time_t time) {
  std::tm fields{};
  if (gmtime_r(&time, &fields) == nullptr) {
    return "(time out of range)";
  }
  char text[64];
  std::snprintf(text, sizeof text, "%04d%02d%02d%02d%02d%02d", fields.tm_year + 1900, fields.tm_mon + 1, fields.tm_mday,
                fields.tm_hour, fields.tm_min, fields.tm_sec);
  return text;
}

}  // namespace ecq::pki
