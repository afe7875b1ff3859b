#pragma once
// Helpers shared by the text readers: line splitting, number parsing that
// does not depend on the C locale, and the "<file>:<line>:<column>: " prefix of
// their messages.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ecq::data::detail {

/// Splits text into lines at '\n', dropping one '\r' before it. A last line
/// without '\n' is returned too; an empty text has no lines.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}

  /// Stores the next line and its 1-based number. Returns false at the end.
  bool next(std::string_view* line, std::uint64_t* number);

 private:
  std::string_view text_;
  std::size_t position_ = 0;
  std::uint64_t number_ = 0;
};

enum class NumberStatus {
  kOk,
  kNotANumber,   ///< not a decimal number, or trailing characters after one
  kNotFinite,    ///< NaN or infinity, which the text spells as a literal
  kOutOfDouble,  ///< a decimal number beyond the double range
  kOutOfFloat,   ///< a finite double of magnitude above FLT_MAX
};

/// Parses a whole token as a decimal floating-point number (with an optional
/// leading '+') and rounds it to float. Values below the float range round to
/// 0 or a subnormal without error.
NumberStatus parse_float(std::string_view token, float* value);

/// Parses a whole token as an unsigned decimal integer without sign.
bool parse_unsigned(std::string_view token, std::uint64_t* value);

/// Returns "<path>:<line>:<column>: ".
std::string location(const std::string& path, std::uint64_t line, std::size_t column);

/// Returns the token in single quotes, cut to 40 bytes plus "..." when longer.
std::string quote(std::string_view token);

/// Returns the message fragment for a token that parse_float() rejected, e.g.
/// "expected a number as the label, found 'abc'".
std::string describe_number_problem(NumberStatus status, std::string_view token, const std::string& subject);

}  // namespace ecq::data::detail
