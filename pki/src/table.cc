#include "table.h"

#include "ecq/pki/files.h"

namespace ecq::pki::detail {
namespace {

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t position = 0;
  for (;;) {
    const std::size_t start = line.find_first_not_of(" \t\r", position);
    if (start == std::string::npos) {
      return fields;
    }
    const std::size_t end = line.find_first_of(" \t\r", start);
    fields.push_back(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) {
      return fields;
    }
    position = end;
  }
}

}  // namespace

std::vector<TableRow> parse_table(const std::string& text) {
  std::vector<TableRow> rows;
  std::size_t start = 0;
  for (std::size_t number = 1; start < text.size(); ++number) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    std::string line = text.substr(start, end - start);
    line = line.substr(0, line.find('#'));
    std::vector<std::string> fields = split_fields(line);
    if (!fields.empty()) {
      rows.push_back(TableRow{number, std::move(fields)});
    }
    start = end + 1;
  }
  return rows;
}

std::string table_location(const std::string& path, std::size_t line_number) {
  return path + ":" + std::to_string(line_number) + ": ";
}

bool append_lines(const std::string& path, const std::string& old_contents, const std::string& lines,
                  std::string* error) {
  std::string contents = old_contents;
  if (!contents.empty() && contents.back() != '\n') {
    contents.push_back('\n');
  }
  contents += lines;
  return write_private_file(path, contents, error);
}

}  // namespace ecq::pki::detail
