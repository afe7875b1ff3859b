#include "text.h"

#include <cfloat>
#include <charconv>
#include <cmath>
#include <system_error>

namespace ecq::data::detail {

bool LineReader::next(std::string_view* line, std::uint64_t* number) {
  if (position_ >= text_.size()) {
    return false;
  }
  std::size_t end = text_.find('\n', position_);
  if (end == std::string_view::npos) {
    end = text_.size();
  }
  std::string_view result = text_.substr(position_, end - position_);
  if (!result.empty() && result.back() == '\r') {
    result.remove_suffix(1);
  }
  position_ = end + 1;
  *line = result;
  *number = ++number_;
  return true;
}

NumberStatus parse_float(std::string_view token, float* value) {
  std::string_view digits = token;
  if (!digits.empty() && digits.front() == '+') {
    digits.remove_prefix(1);
    // from_chars reads the sign itself, so "+-1" would otherwise pass as -1.
    if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) {
      return NumberStatus::kNotANumber;
    }
  }
  if (digits.empty()) {
    return NumberStatus::kNotANumber;
  }
  double parsed = 0.0;
  const char* end = digits.data() + digits.size();
  const std::from_chars_result result = std::from_chars(digits.data(), end, parsed);
  if (result.ptr != end || result.ec == std::errc::invalid_argument) {
    return NumberStatus::kNotANumber;
  }
  if (result.ec == std::errc::result_out_of_range) {
    return NumberStatus::kOutOfDouble;
  }
  if (!std::isfinite(parsed)) {
    return NumberStatus::kNotFinite;
  }
  if (std::fabs(parsed) > static_cast<double>(FLT_MAX)) {
    return NumberStatus::kOutOfFloat;
  }
  *value = static_cast<float>(parsed);
  return NumberStatus::kOk;
}

bool parse_unsigned(std::string_view token, std::uint64_t* value) {
  const char* end = token.data() + token.size();
  const std::from_chars_result result = std::from_chars(token.data(), end, *value);
  return !token.empty() && result.ec == std::errc() && result.ptr == end;
}

std::string location(const std::string& path, std::uint64_t line, std::size_t column) {
  return path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
}

std::string quote(std::string_view token) {
  constexpr std::size_t kMaxShown = 40;
  if (token.size() > kMaxShown) {
    return "'" + std::string(token.substr(0, kMaxShown)) + "...'";
  }
  return "'" + std::string(token) + "'";
}

std::string describe_number_problem(NumberStatus status, std::string_view token, const std::string& subject) {
  switch (status) {
    case NumberStatus::kNotFinite:
      return "expected a finite number as " + subject + ", found " + quote(token) +
             ". Replace it with a finite value or drop the sample";
    case NumberStatus::kOutOfDouble: return subject + " " + quote(token) + " is out of the double range. Fix the value";
    case NumberStatus::kOutOfFloat:
      return subject + " " + quote(token) + " is out of the float range (magnitude at most 3.4e38). Rescale the data";
    case NumberStatus::kNotANumber:
    case NumberStatus::kOk: break;
  }
  return "expected a number as " + subject + ", found " + quote(token) + ". Fix or remove the token";
}

}  // namespace ecq::data::detail
