#pragma once
// Dense numeric data sets and their text readers: LIBSVM and CSV, gzip-
// compressed or plain.
//
// Each reader returns true on success. On failure it returns false, leaves
// *dataset unchanged and writes a message to *error (which may be null) in
// the form "<file>:<line>:<column>: <what was expected and found>. <what to
// do>." Lines and columns are 1-based and columns count bytes. Memory
// exhaustion is reported by exception (std::bad_alloc), except for the dense
// matrix of read_libsvm(), whose size a single large index sets.

#include <cstdint>
#include <string>
#include <vector>

namespace ecq::data {

/// Samples with `features` float features and one float target each.
struct DenseDataset {
  std::uint32_t features = 0;
  /// count() x features values, sample after sample.
  std::vector<float> x;
  /// One target (a regression value or a class label) per sample.
  std::vector<float> y;

  /// Number of samples.
  std::uint32_t count() const { return static_cast<std::uint32_t>(y.size()); }
};

/// Reads a LIBSVM file: one sample per line, "label index:value index:value
/// ...", with 1-based indices in strictly ascending order and absent indices
/// meaning 0. Text from '#' to the end of a line is ignored, and so are blank
/// lines. `features` fixes the feature count, or 0 infers it from the largest
/// index. Fails, with line and column, on any of:
///   - a label, index or value that is not a number;
///   - a NaN or infinite label or value, or one outside the float range;
///   - a token without ':';
///   - index 0, an index above `features`, or an index not above the one
///     before it on its line.
/// Also fails on a file without samples.
bool read_libsvm(const std::string& path, std::uint32_t features, DenseDataset* dataset, std::string* error);

struct CsvOptions {
  /// Skip the first non-blank line, which names the columns.
  bool header = false;
  /// 0-based index of the column that contains the target, or -1 for the last.
  std::int32_t label_column = -1;
  char delimiter = ',';
};

/// Reads a CSV file of numbers: one sample per line, every other column a
/// feature in file order. Fields may have spaces or tabs around them, blank
/// lines are skipped and a CR before the line feed is ignored. Quoted fields
/// are not supported. Fails, with line and column, on any of:
///   - a field that is not a number, an empty field included;
///   - a NaN or infinite value, or one outside the float range;
///   - a row whose field count differs from that of the first row (the header
///     when options.header is set);
///   - a label column outside the row, or fewer than 2 columns.
/// Also fails on a file without samples.
bool read_csv(const std::string& path, const CsvOptions& options, DenseDataset* dataset, std::string* error);

}  // namespace ecq::data
