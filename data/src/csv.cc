#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "ecq/data/dense.h"
#include "fail.h"
#include "gz_file.h"
#include "text.h"

namespace ecq::data {
namespace {

using detail::fail;
using detail::location;
using detail::NumberStatus;

struct Field {
  std::string_view text;  // without the blanks around it
  std::size_t column;     // 1-based column of the text, or of the field start when empty
};

bool is_padding(char c, char delimiter) { return c != delimiter && (c == ' ' || c == '\t'); }

std::vector<Field> split_fields(std::string_view line, char delimiter) {
  std::vector<Field> fields;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = line.find(delimiter, start);
    if (end == std::string_view::npos) {
      end = line.size();
    }
    std::size_t first = start;
    std::size_t last = end;
    while (first < last && is_padding(line[first], delimiter)) {
      ++first;
    }
    while (last > first && is_padding(line[last - 1], delimiter)) {
      --last;
    }
    fields.push_back(Field{line.substr(first, last - first), first + 1});
    if (end == line.size()) {
      return fields;
    }
    start = end + 1;
  }
}

bool is_blank_line(std::string_view line) {
  for (const char c : line) {
    if (c != ' ' && c != '\t') {
      return false;
    }
  }
  return true;
}

// The row shape every line must match, fixed by the header or first row.
struct Layout {
  std::size_t columns = 0;
  std::uint64_t line = 0;  // the line that fixed `columns`
  std::size_t label = 0;   // 0-based label column
};

bool fix_layout(const std::string& path, const CsvOptions& options, std::size_t columns, std::uint64_t line,
                Layout* layout, std::string* error) {
  const std::string where = location(path, line, 1);
  if (columns < 2) {
    return fail(error, where + "expected at least 2 fields (features and a label), found " + std::to_string(columns) +
                           ". Check the delimiter, '" + options.delimiter + "'.");
  }
  const std::int64_t label = options.label_column == -1 ? static_cast<std::int64_t>(columns) - 1 : options.label_column;
  if (label < 0 || label >= static_cast<std::int64_t>(columns)) {
    return fail(error, where + "label column " + std::to_string(options.label_column) + " is outside rows of " +
                           std::to_string(columns) + " fields. Pass 0 to " + std::to_string(columns - 1) +
                           ", or -1 for the last column.");
  }
  *layout = Layout{columns, line, static_cast<std::size_t>(label)};
  return true;
}

bool check_field_count(const std::string& path, std::string_view line, std::uint64_t number,
                       const std::vector<Field>& fields, const Layout& layout, std::string* error) {
  if (fields.size() == layout.columns) {
    return true;
  }
  // Point at the first extra field, or at the end of a short row.
  const std::size_t column = fields.size() > layout.columns ? fields[layout.columns].column : line.size() + 1;
  return fail(error, location(path, number, column) + "expected " + std::to_string(layout.columns) +
                         " fields as on line " + std::to_string(layout.line) + ", found " +
                         std::to_string(fields.size()) + ". Give every row the same number of fields.");
}

bool parse_row(const std::string& path, std::uint64_t number, const std::vector<Field>& fields, const Layout& layout,
               DenseDataset* dataset, std::string* error) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    float value = 0.0f;
    const NumberStatus status = detail::parse_float(fields[i].text, &value);
    if (status != NumberStatus::kOk) {
      const std::string field_name = "field " + std::to_string(i + 1);
      return fail(error, location(path, number, fields[i].column) +
                             detail::describe_number_problem(status, fields[i].text, field_name) + ".");
    }
    if (i == layout.label) {
      dataset->y.push_back(value);
    } else {
      dataset->x.push_back(value);
    }
  }
  return true;
}

// Reads one non-blank line: the header, or a data row appended to *dataset.
// The first line read fixes the layout.
bool read_line(const std::string& path, const CsvOptions& options, std::string_view line, std::uint64_t number,
               Layout* layout, DenseDataset* dataset, std::string* error) {
  const std::vector<Field> fields = split_fields(line, options.delimiter);
  const bool first = layout->columns == 0;
  if (first && !fix_layout(path, options, fields.size(), number, layout, error)) {
    return false;
  }
  if (first && options.header) {
    return true;
  }
  return check_field_count(path, line, number, fields, *layout, error) &&
         parse_row(path, number, fields, *layout, dataset, error);
}

}  // namespace

bool read_csv(const std::string& path, const CsvOptions& options, DenseDataset* dataset, std::string* error) {
  std::string text;
  if (!detail::read_text_file(path, &text, error)) {
    return false;
  }
  DenseDataset result;
  Layout layout;
  detail::LineReader lines(text);
  std::string_view line;
  std::uint64_t number = 0;
  while (lines.next(&line, &number)) {
    if (is_blank_line(line)) {
      continue;
    }
    if (!read_line(path, options, line, number, &layout, &result, error)) {
      return false;
    }
    if (result.y.size() > std::numeric_limits<std::uint32_t>::max()) {
      return fail(error, location(path, number, 1) + "more than 2^32 - 1 samples. Split the file.");
    }
  }
  if (result.y.empty()) {
    return fail(error, "'" + path + "': no samples: the file has no data rows. Check the file and the header option.");
  }
  result.features = static_cast<std::uint32_t>(layout.columns - 1);
  *dataset = std::move(result);
  return true;
}

}  // namespace ecq::data
