#include "ecq/data/dense.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ecq/data/synthetic.h"
#include "temp_files.h"

namespace ecq::data {
namespace {

using testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Reads `text` as a LIBSVM file and returns the error message ("" on success).
std::string libsvm_error(const std::string& text, std::uint32_t features = 0) {
  TempDir dir;
  DenseDataset dataset;
  std::string error;
  if (read_libsvm(dir.write("data.libsvm", text), features, &dataset, &error)) {
    return "";
  }
  return error;
}

std::string csv_error(const std::string& text, const CsvOptions& options = CsvOptions()) {
  TempDir dir;
  DenseDataset dataset;
  std::string error;
  if (read_csv(dir.write("data.csv", text), options, &dataset, &error)) {
    return "";
  }
  return error;
}

// --- LIBSVM ---

TEST_CASE("libsvm reads samples") {
  TempDir dir;
  const std::string text =
      "# a comment line\n"
      "+1 1:0.5 3:-2 # trailing comment\r\n"
      "\n"
      "   \t \n"
      "-1\t2:1e-3   4:7\n"
      "2.5\n";
  DenseDataset dataset;
  std::string error;
  REQUIRE_MESSAGE(read_libsvm(dir.write("data", text), 0, &dataset, &error), error);
  CHECK(dataset.features == 4);
  CHECK(dataset.count() == 3);
  CHECK(dataset.y == std::vector<float>{1.0f, -1.0f, 2.5f});
  CHECK(dataset.x == std::vector<float>{0.5f, 0, -2, 0, 0, 1e-3f, 0, 7, 0, 0, 0, 0});
}

TEST_CASE("libsvm given feature count") {
  TempDir dir;
  DenseDataset dataset;
  std::string error;
  REQUIRE(read_libsvm(dir.write("data", "1 2:3\n"), 5, &dataset, &error));
  CHECK(dataset.features == 5);
  CHECK(dataset.x == std::vector<float>{0, 3, 0, 0, 0});
}

TEST_CASE("libsvm gzip file") {
  TempDir dir;
  DenseDataset dataset;
  std::string error;
  REQUIRE(read_libsvm(dir.write_gzip("data.gz", "0 1:1 2:2\n1 2:4\n"), 0, &dataset, &error));
  CHECK(dataset.x == std::vector<float>{1, 2, 0, 4});
  CHECK(dataset.y == std::vector<float>{0, 1});
}

TEST_CASE("libsvm index zero") {
  const std::string error = libsvm_error("1 1:1\n1 0:2 3:1\n");
  INFO(error);
  CHECK(contains(error, "data.libsvm:2:3: index 0 is invalid"));
  CHECK(contains(error, "indices start at 1"));
}

TEST_CASE("libsvm index above feature count") {
  const std::string error = libsvm_error("1 2:1 11:2\n", 10);
  INFO(error);
  CHECK(contains(error, "data.libsvm:1:7: index 11 is above the feature count 10"));
}

TEST_CASE("libsvm index above 32 bits") {
  const std::string error = libsvm_error("1 4294967296:1\n");
  INFO(error);
  CHECK(contains(error, "data.libsvm:1:3: index 4294967296 is above 4294967295"));
}

TEST_CASE("libsvm indices not ascending") {
  struct Case {
    const char* line;
    const char* expected;
  };
  const Case cases[] = {
      {"1 5:1 3:2\n", "data.libsvm:1:7: index 3 is not above the previous index 5"},
      {"1 4:1 4:2\n", "data.libsvm:1:7: index 4 is not above the previous index 4"},
  };
  for (const Case& c : cases) {
    const std::string error = libsvm_error(c.line);
    INFO(error);
    CHECK(contains(error, c.expected));
    CHECK(contains(error, "Sort each line's pairs by index"));
  }
}

TEST_CASE("libsvm non-numeric label") {
  const std::string error = libsvm_error("1 1:1\n\nyes 1:2\n");
  INFO(error);
  CHECK(contains(error, "data.libsvm:3:1: expected a number as the label, found 'yes'"));
}

TEST_CASE("libsvm non-numeric index") {
  const std::string error = libsvm_error("1 1:1 x2:4\n");
  INFO(error);
  CHECK(contains(error, "data.libsvm:1:7: expected a positive integer index before ':', found 'x2'"));
}

TEST_CASE("libsvm negative index") {
  const std::string error = libsvm_error("1 -1:4\n");
  INFO(error);
  CHECK(contains(error, "data.libsvm:1:3: expected a positive integer index before ':', found '-1'"));
}

TEST_CASE("libsvm non-numeric value") {
  struct Case {
    const char* line;
    const char* expected;
  };
  const Case cases[] = {
      {"1 1:abc\n", "data.libsvm:1:5: expected a number as the value, found 'abc'"},
      {"1 1:\n", "data.libsvm:1:5: expected a number as the value, found ''"},
      {"1 1:2.5x\n", "data.libsvm:1:5: expected a number as the value, found '2.5x'"},
      {"1 1:+-2\n", "data.libsvm:1:5: expected a number as the value, found '+-2'"},
  };
  for (const Case& c : cases) {
    const std::string error = libsvm_error(c.line);
    INFO(error);
    CHECK(contains(error, c.expected));
  }
}

TEST_CASE("libsvm nan or inf") {
  struct Case {
    const char* line;
    const char* expected;
  };
  const Case cases[] = {
      {"1 1:nan\n", "data.libsvm:1:5: expected a finite number as the value, found 'nan'"},
      {"1 1:1 2:inf\n", "data.libsvm:1:9: expected a finite number as the value, found 'inf'"},
      {"1 1:-Infinity\n", "data.libsvm:1:5: expected a finite number as the value, found '-Infinity'"},
      {"NaN 1:1\n", "data.libsvm:1:1: expected a finite number as the label, found 'NaN'"},
  };
  for (const Case& c : cases) {
    const std::string error = libsvm_error(c.line);
    INFO(error);
    CHECK(contains(error, c.expected));
  }
}

TEST_CASE("libsvm value out of float range") {
  const std::string error = libsvm_error("1 1:1e39\n");
  INFO(error);
  CHECK(contains(error, "data.libsvm:1:5: the value '1e39' is out of the float range"));
}

TEST_CASE("libsvm token without colon") {
  const std::string error = libsvm_error("1 1:2 3 4:5\n");
  INFO(error);
  CHECK(contains(error, "data.libsvm:1:7: expected index:value, found '3' without ':'"));
}

TEST_CASE("libsvm file without samples") {
  const std::string error = libsvm_error("# only a comment\n\n");
  INFO(error);
  CHECK(contains(error, "no samples"));
}

TEST_CASE("libsvm labels without pairs") {
  CHECK(contains(libsvm_error("1\n2\n"), "feature count cannot be inferred"));
  CHECK(libsvm_error("1\n2\n", 3).empty());
}

TEST_CASE("libsvm missing file") {
  TempDir dir;
  DenseDataset dataset;
  std::string error;
  CHECK_FALSE(read_libsvm(dir.path("absent"), 0, &dataset, &error));
  CHECK(contains(error, "cannot open '" + dir.path("absent") + "': No such file or directory"));
}

// --- CSV ---

TEST_CASE("csv reads samples with header") {
  TempDir dir;
  CsvOptions options;
  options.header = true;
  DenseDataset dataset;
  std::string error;
  REQUIRE_MESSAGE(read_csv(dir.write("data.csv", "a,b,target\n1,2,3\r\n\n 4 , 5e1 ,+6\n"), options, &dataset, &error),
                  error);
  CHECK(dataset.features == 2);
  CHECK(dataset.count() == 2);
  CHECK(dataset.x == std::vector<float>{1, 2, 4, 50});
  CHECK(dataset.y == std::vector<float>{3, 6});
}

TEST_CASE("csv label column and delimiter") {
  struct Case {
    const char* text;
    std::int32_t label_column;
    char delimiter;
    std::vector<float> x;
    std::vector<float> y;
  };
  const Case cases[] = {
      {"9,1,2\n8,3,4\n", 0, ',', {1, 2, 3, 4}, {9, 8}},
      {"1,9,2\n3,8,4\n", 1, ',', {1, 2, 3, 4}, {9, 8}},
      {"1;2;9\n3;4;8\n", -1, ';', {1, 2, 3, 4}, {9, 8}},
      {"1\t2\t9\n3\t4\t8\n", 2, '\t', {1, 2, 3, 4}, {9, 8}},
  };
  TempDir dir;
  for (const Case& c : cases) {
    CAPTURE(c.text);
    CsvOptions options;
    options.label_column = c.label_column;
    options.delimiter = c.delimiter;
    DenseDataset dataset;
    std::string error;
    REQUIRE_MESSAGE(read_csv(dir.write("data.csv", c.text), options, &dataset, &error), error);
    CHECK(dataset.x == c.x);
    CHECK(dataset.y == c.y);
  }
}

TEST_CASE("csv gzip file") {
  TempDir dir;
  DenseDataset dataset;
  std::string error;
  REQUIRE(read_csv(dir.write_gzip("data.csv.gz", "1,2\n3,4\n"), CsvOptions(), &dataset, &error));
  CHECK(dataset.x == std::vector<float>{1, 3});
  CHECK(dataset.y == std::vector<float>{2, 4});
}

TEST_CASE("csv non-numeric field") {
  const std::string error = csv_error("1,2,3\n4,five,6\n");
  INFO(error);
  CHECK(contains(error, "data.csv:2:3: expected a number as field 2, found 'five'"));
}

TEST_CASE("csv empty field") {
  const std::string error = csv_error("1,2,3\n4,,6\n");
  INFO(error);
  CHECK(contains(error, "data.csv:2:3: expected a number as field 2, found ''"));
}

TEST_CASE("csv nan or inf") {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"1,nan,3\n", "data.csv:1:3: expected a finite number as field 2, found 'nan'"},
      {"1,2,-inf\n", "data.csv:1:5: expected a finite number as field 3, found '-inf'"},
  };
  for (const Case& c : cases) {
    const std::string error = csv_error(c.text);
    INFO(error);
    CHECK(contains(error, c.expected));
  }
}

TEST_CASE("csv value out of range") {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"1,1e39\n", "data.csv:1:3: field 2 '1e39' is out of the float range"},
      {"1,1e999\n", "data.csv:1:3: field 2 '1e999' is out of the double range"},
  };
  for (const Case& c : cases) {
    const std::string error = csv_error(c.text);
    INFO(error);
    CHECK(contains(error, c.expected));
  }
}

TEST_CASE("csv too many fields") {
  const std::string error = csv_error("1,2,3\n4,5,6,7\n");
  INFO(error);
  CHECK(contains(error, "data.csv:2:7: expected 3 fields as on line 1, found 4"));
}

TEST_CASE("csv too few fields") {
  CsvOptions options;
  options.header = true;
  const std::string error = csv_error("a,b,c\n1,2,3\n4,5\n", options);
  INFO(error);
  CHECK(contains(error, "data.csv:3:4: expected 3 fields as on line 1, found 2"));
}

TEST_CASE("csv label column out of range") {
  CsvOptions options;
  options.label_column = 3;
  const std::string error = csv_error("1,2,3\n", options);
  INFO(error);
  CHECK(contains(error, "data.csv:1:1: label column 3 is outside rows of 3 fields"));
  CHECK(contains(error, "Pass 0 to 2, or -1 for the last column"));
}

TEST_CASE("csv single column") {
  const std::string error = csv_error("1\n2\n");
  INFO(error);
  CHECK(contains(error, "data.csv:1:1: expected at least 2 fields"));
  CHECK(contains(error, "found 1"));
}

TEST_CASE("csv header without rows") {
  CsvOptions options;
  options.header = true;
  CHECK(contains(csv_error("a,b\n\n", options), "no samples"));
}

TEST_CASE("csv missing file") {
  TempDir dir;
  DenseDataset dataset;
  std::string error;
  CHECK_FALSE(read_csv(dir.path("absent.csv"), CsvOptions(), &dataset, &error));
  CHECK(contains(error, "cannot open '" + dir.path("absent.csv") + "'"));
}

TEST_CASE("csv failure leaves output unchanged") {
  TempDir dir;
  DenseDataset dataset;
  dataset.features = 7;
  std::string error;
  CHECK_FALSE(read_csv(dir.write("data.csv", "1,2\nx,3\n"), CsvOptions(), &dataset, &error));
  CHECK(dataset.features == 7);
  CHECK(dataset.x.empty());
}

// --- synthetic linear regression ---

LinearRegressionOptions small_options(std::uint64_t seed) {
  LinearRegressionOptions options;
  options.samples = 2000;
  options.features = 64;
  options.seed = seed;
  return options;
}

struct Generated {
  DenseDataset dataset;
  std::vector<float> weights;
};

Generated generate(const LinearRegressionOptions& options) {
  Generated generated;
  std::string error;
  REQUIRE_MESSAGE(make_linear_regression(options, &generated.dataset, &generated.weights, &error), error);
  return generated;
}

struct Moments {
  double mean;
  double variance;
};

Moments moments_of(const std::vector<double>& values) {
  double sum = 0.0;
  double sum_squares = 0.0;
  for (const double value : values) {
    sum += value;
    sum_squares += value * value;
  }
  const double mean = sum / values.size();
  return Moments{mean, sum_squares / values.size() - mean * mean};
}

std::vector<double> residuals(const Generated& generated) {
  const DenseDataset& dataset = generated.dataset;
  std::vector<double> result(dataset.count());
  for (std::size_t i = 0; i < dataset.count(); ++i) {
    double prediction = 0.0;
    for (std::size_t j = 0; j < dataset.features; ++j) {
      prediction += static_cast<double>(generated.weights[j]) * dataset.x[i * dataset.features + j];
    }
    result[i] = dataset.y[i] - prediction;
  }
  return result;
}

TEST_CASE("synthetic shape") {
  const Generated generated = generate(small_options(1));
  CHECK(generated.dataset.features == 64);
  CHECK(generated.dataset.count() == 2000);
  CHECK(generated.dataset.x.size() == 2000u * 64);
  CHECK(generated.weights.size() == 64);
}

TEST_CASE("synthetic deterministic per seed") {
  const Generated first = generate(small_options(7));
  const Generated second = generate(small_options(7));
  CHECK(first.weights == second.weights);
  CHECK(first.dataset.x == second.dataset.x);
  CHECK(first.dataset.y == second.dataset.y);
}

TEST_CASE("synthetic seeds differ") {
  const Generated first = generate(small_options(7));
  const Generated second = generate(small_options(8));
  CHECK(first.weights != second.weights);
  CHECK(first.dataset.x != second.dataset.x);
}

TEST_CASE("synthetic feature moments") {
  const Generated generated = generate(small_options(2));
  const Moments moments = moments_of(std::vector<double>(generated.dataset.x.begin(), generated.dataset.x.end()));
  // 128000 standard normal draws: the mean's standard error is 0.0028.
  CHECK(std::fabs(moments.mean) < 0.015);
  CHECK(moments.variance == doctest::Approx(1.0).epsilon(0.02));
}

TEST_CASE("synthetic weight moments") {
  LinearRegressionOptions options = small_options(3);
  options.samples = 1;
  options.features = 20000;
  const Generated generated = generate(options);
  const Moments moments = moments_of(std::vector<double>(generated.weights.begin(), generated.weights.end()));
  CHECK(std::fabs(moments.mean) < 0.04);
  CHECK(moments.variance == doctest::Approx(1.0).epsilon(0.05));
}

TEST_CASE("synthetic residual moments") {
  struct Case {
    double noise_stddev;
  };
  for (const Case c : {Case{0.1}, Case{1.0}, Case{0.01}}) {
    CAPTURE(c.noise_stddev);
    LinearRegressionOptions options = small_options(4);
    options.samples = 20000;
    options.features = 8;
    options.noise_stddev = c.noise_stddev;
    const Moments moments = moments_of(residuals(generate(options)));
    const double variance = c.noise_stddev * c.noise_stddev;
    // The mean's standard error is sigma / sqrt(20000) = 0.0071 sigma.
    CHECK(std::fabs(moments.mean) < 0.04 * c.noise_stddev);
    CHECK(moments.variance == doctest::Approx(variance).epsilon(0.05));
  }
}

TEST_CASE("synthetic without noise") {
  LinearRegressionOptions options = small_options(5);
  options.noise_stddev = 0.0;
  const Generated generated = generate(options);
  const std::vector<double> values = residuals(generated);
  double worst = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    // Only the float rounding of y remains.
    worst = std::fmax(worst, std::fabs(values[i]) / (std::fabs(generated.dataset.y[i]) + 1e-30));
  }
  CHECK(worst <= 0x1.0p-24);
}

TEST_CASE("synthetic rejects invalid options") {
  struct Case {
    std::uint32_t samples;
    std::uint32_t features;
    double noise_stddev;
    const char* expected;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Case cases[] = {
      {0, 4, 0.1, "found 0 samples and 4 features"},
      {4, 0, 0.1, "found 4 samples and 0 features"},
      {4, 4, -1.0, "invalid noise standard deviation"},
      {4, 4, nan, "invalid noise standard deviation"},
  };
  for (const Case& c : cases) {
    LinearRegressionOptions options;
    options.samples = c.samples;
    options.features = c.features;
    options.noise_stddev = c.noise_stddev;
    DenseDataset dataset;
    std::vector<float> weights{1.0f};
    std::string error;
    CHECK_FALSE(make_linear_regression(options, &dataset, &weights, &error));
    INFO(error);
    CHECK(contains(error, c.expected));
    CHECK(weights == std::vector<float>{1.0f});
  }
}

}  // namespace
}  // namespace ecq::data
