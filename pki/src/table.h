#pragma once
// The text format of the issuance log and the revocation list: one record per
// line, fields separated by spaces or tabs, '#' starting a comment that runs
// to the end of the line.

#include <cstddef>
#include <string>
#include <vector>

namespace ecq::pki::detail {

/// The fields of one line that has any, and its 1-based line number.
struct TableRow {
  std::size_t line_number = 0;
  std::vector<std::string> fields;
};

/// Splits `text` into rows at '\n'. Spaces, tabs and '\r' separate fields;
/// comments and lines without fields are dropped.
std::vector<TableRow> parse_table(const std::string& text);

/// Returns "<path>:<line>: ".
std::string table_location(const std::string& path, std::size_t line_number);

/// Appends `lines` to the file at `path` by rewriting it atomically with
/// write_private_file. `lines` must end with '\n'. A last line of the old
/// contents without '\n' gets one first.
bool append_lines(const std::string& path, const std::string& old_contents, const std::string& lines,
                  std::string* error);

}  // namespace ecq::pki::detail
