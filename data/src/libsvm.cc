#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "ecq/data/dense.h"
#include "fail.h"
#include "gz_file.h"
#include "text.h"

namespace ecq::data {
namespace {

using detail::describe_number_problem;
using detail::fail;
using detail::location;
using detail::NumberStatus;
using detail::quote;

struct SparseEntry {
  std::uint32_t row;
  std::uint32_t index;  // 1-based
  float value;
};

// A LIBSVM file as read, before the feature count is known.
struct SparseSamples {
  std::vector<float> labels;
  std::vector<SparseEntry> entries;
  std::uint32_t max_index = 0;
  std::uint64_t max_index_line = 0;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Finds the next blank-separated token of `line` at or after *position.
// Returns false when only blanks remain.
bool next_token(std::string_view line, std::size_t* position, std::string_view* token, std::size_t* column) {
  std::size_t begin = *position;
  while (begin < line.size() && is_blank(line[begin])) {
    ++begin;
  }
  if (begin == line.size()) {
    return false;
  }
  std::size_t end = begin;
  while (end < line.size() && !is_blank(line[end])) {
    ++end;
  }
  *token = line.substr(begin, end - begin);
  *column = begin + 1;
  *position = end;
  return true;
}

// Parses one "index:value" token. `previous` is the line's last index so far,
// 0 before the first pair.
class PairParser {
 public:
  PairParser(const std::string& path, std::uint32_t features, std::uint64_t line)
      : path_(path), features_(features), line_(line) {}

  bool parse(std::string_view token, std::size_t column, std::uint32_t previous, SparseEntry* entry,
             std::string* error) const {
    const std::size_t colon = token.find(':');
    if (colon == std::string_view::npos) {
      return fail(error, location(path_, line_, column) + "expected index:value, found " + quote(token) +
                             " without ':'. Write each feature as index:value, separated by spaces.");
    }
    return parse_index(token.substr(0, colon), column, previous, &entry->index, error) &&
           parse_value(token.substr(colon + 1), column + colon + 1, &entry->value, error);
  }

 private:
  bool parse_index(std::string_view text, std::size_t column, std::uint32_t previous, std::uint32_t* index,
                   std::string* error) const {
    const std::string where = location(path_, line_, column);
    std::uint64_t value = 0;
    if (!detail::parse_unsigned(text, &value)) {
      return fail(error, where + "expected a positive integer index before ':', found " + quote(text) +
                             ". Fix or remove the pair.");
    }
    if (value == 0) {
      return fail(error, where +
                             "index 0 is invalid: LIBSVM indices start at 1. Add 1 to every index of a "
                             "0-based file.");
    }
    if (features_ != 0 && value > features_) {
      return fail(error, where + "index " + std::to_string(value) + " is above the feature count " +
                             std::to_string(features_) + ". Pass the right feature count, or 0 to infer it.");
    }
    if (value > std::numeric_limits<std::uint32_t>::max()) {
      return fail(error, where + "index " + std::to_string(value) +
                             " is above 4294967295, the largest index this reader supports. Renumber the features.");
    }
    if (value <= previous) {
      return fail(error, where + "index " + std::to_string(value) + " is not above the previous index " +
                             std::to_string(previous) +
                             " on this line. Sort each line's pairs by index and "
                             "merge repeated indices.");
    }
    *index = static_cast<std::uint32_t>(value);
    return true;
  }

  bool parse_value(std::string_view text, std::size_t column, float* value, std::string* error) const {
    const NumberStatus status = detail::parse_float(text, value);
    if (status != NumberStatus::kOk) {
      return fail(error, location(path_, line_, column) + describe_number_problem(status, text, "the value") + ".");
    }
    return true;
  }

  const std::string& path_;
  std::uint32_t features_;
  std::uint64_t line_;
};

// Parses a line's label and pairs into *samples. A line with no token
// (blank or comment only) adds nothing.
bool parse_line(const std::string& path, std::uint32_t features, std::string_view line, std::uint64_t number,
                SparseSamples* samples, std::string* error) {
  line = line.substr(0, line.find('#'));
  std::size_t position = 0;
  std::string_view token;
  std::size_t column = 0;
  if (!next_token(line, &position, &token, &column)) {
    return true;
  }
  float label = 0.0f;
  const NumberStatus status = detail::parse_float(token, &label);
  if (status != NumberStatus::kOk) {
    return fail(error, location(path, number, column) + describe_number_problem(status, token, "the label") +
                           ". Each line starts with the label, then index:value pairs.");
  }
  const auto row = static_cast<std::uint32_t>(samples->labels.size());
  samples->labels.push_back(label);
  const PairParser pairs(path, features, number);
  std::uint32_t previous = 0;
  while (next_token(line, &position, &token, &column)) {
    SparseEntry entry{row, 0, 0.0f};
    if (!pairs.parse(token, column, previous, &entry, error)) {
      return false;
    }
    previous = entry.index;
    samples->entries.push_back(entry);
    if (entry.index > samples->max_index) {
      samples->max_index = entry.index;
      samples->max_index_line = number;
    }
  }
  return true;
}

// Fills the dense matrix, catching the allocation failure that one large
// index in a file without a given feature count can cause.
bool densify(const std::string& path, const SparseSamples& samples, std::uint32_t features, DenseDataset* dataset,
             std::string* error) {
  const std::uint64_t count = samples.labels.size();
  const std::uint64_t elements = count * features;
  try {
    dataset->x.assign(static_cast<std::size_t>(elements), 0.0f);
  } catch (const std::bad_alloc&) {
    return fail(error, "'" + path + "': cannot allocate " + std::to_string(count) + " x " + std::to_string(features) +
                           " floats for the dense matrix. The largest index, " + std::to_string(samples.max_index) +
                           ", is on line " + std::to_string(samples.max_index_line) +
                           "; fix it or pass the feature count.");
  } catch (const std::length_error&) {
    return fail(error, "'" + path + "': " + std::to_string(count) + " x " + std::to_string(features) +
                           " floats exceed the maximum size of a std::vector. The largest index, " +
                           std::to_string(samples.max_index) + ", is on line " +
                           std::to_string(samples.max_index_line) + "; fix it or pass the feature count.");
  }
  for (const SparseEntry& entry : samples.entries) {
    dataset->x[std::size_t{entry.row} * features + entry.index - 1] = entry.value;
  }
  dataset->y = samples.labels;
  dataset->features = features;
  return true;
}

}  // namespace

bool read_libsvm(const std::string& path, std::uint32_t features, DenseDataset* dataset, std::string* error) {
  std::string text;
  if (!detail::read_text_file(path, &text, error)) {
    return false;
  }

  SparseSamples samples;
  detail::LineReader lines(text);
  std::string_view line;
  std::uint64_t number = 0;
  while (lines.next(&line, &number)) {
    if (!parse_line(path, features, line, number, &samples, error)) {
      return false;
    }
    if (samples.labels.size() > std::numeric_limits<std::uint32_t>::max()) {
      return fail(error, location(path, number, 1) + "more than 2^32 - 1 samples. Split the file.");
    }
  }

  if (samples.labels.empty()) {
    return fail(error, "'" + path + "': no samples: every line is blank or a comment. Check the file.");
  }
  const std::uint32_t width = features != 0 ? features : samples.max_index;
  if (width == 0) {
    return fail(error, "'" + path +
                           "': no index:value pair in any sample, so the feature count cannot be "
                           "inferred. Pass the feature count.");
  }

  DenseDataset result;
  if (!densify(path, samples, width, &result, error)) {
    return false;
  }
  *dataset = std::move(result);
  return true;
}

}  // namespace ecq::data
