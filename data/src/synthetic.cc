#include "ecq/data/synthetic.h"

#include <cmath>
#include <cstddef>
#include <utility>

#include "ecq/data/random.h"
#include "fail.h"

namespace ecq::data {
namespace {

bool validate(const LinearRegressionOptions& options, std::string* error) {
  if (options.samples == 0 || options.features == 0) {
    return detail::fail(error, "invalid synthetic data size: expected at least 1 sample and 1 feature, found " +
                                   std::to_string(options.samples) + " samples and " +
                                   std::to_string(options.features) + " features.");
  }
  if (!(options.noise_stddev >= 0.0) || std::isinf(options.noise_stddev)) {
    return detail::fail(error, "invalid noise standard deviation " + std::to_string(options.noise_stddev) +
                                   ": expected a finite value of at least 0.");
  }
  const std::vector<float> probe;
  if (std::uint64_t{options.samples} * options.features > probe.max_size()) {
    return detail::fail(error, std::to_string(options.samples) + " x " + std::to_string(options.features) +
                                   " floats exceed the maximum size of a std::vector. Use fewer samples or "
                                   "features.");
  }
  return true;
}

}  // namespace

bool make_linear_regression(const LinearRegressionOptions& options, DenseDataset* dataset, std::vector<float>* weights,
                            std::string* error) {
  if (!validate(options, error)) {
    return false;
  }
  const std::size_t d = options.features;
  Rng rng(options.seed);
  std::vector<float> w(d);
  for (float& value : w) {
    value = static_cast<float>(rng.normal());
  }
  DenseDataset result;
  result.features = options.features;
  result.x.resize(std::size_t{options.samples} * d);
  result.y.resize(options.samples);
  for (std::size_t i = 0; i < options.samples; ++i) {
    float* x = result.x.data() + i * d;
    double dot = 0.0;
    for (std::size_t j = 0; j < d; ++j) {
      x[j] = static_cast<float>(rng.normal());
      dot += static_cast<double>(w[j]) * static_cast<double>(x[j]);
    }
    result.y[i] = static_cast<float>(dot + options.noise_stddev * rng.normal());
  }
  *dataset = std::move(result);
  *weights = std::move(w);
  return true;
}

}  // namespace ecq::data
