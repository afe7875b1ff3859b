#pragma once
// Synthetic linear-regression data in the form of the Syn-d experiments of
// J. Wu, W. Huang, J. Huang, T. Zhang, "Error Compensated Quantized SGD and its
// Applications to Large-scale Distributed Optimization", ICML 2018:
//   x ~ N(0, I_d),  w* ~ N(0, I_d),  y = w*^T x + e,  e ~ N(0, sigma^2).

#include <cstdint>
#include <string>
#include <vector>

#include "ecq/data/dense.h"

namespace ecq::data {

struct LinearRegressionOptions {
  std::uint32_t samples = 0;   ///< n, at least 1
  std::uint32_t features = 0;  ///< d, at least 1
  /// sigma, the standard deviation of the label noise e. The default 0.1 is
  /// this library's choice, not a value taken from the paper.
  double noise_stddev = 0.1;
  std::uint64_t seed = 0;
};

/// Draws a data set of options.samples samples into *dataset and the true
/// weights w* (options.features values) into *weights. All draws come from one
/// Rng seeded with options.seed: first w*, then for each sample its x and its
/// e. The targets are computed in double from the float-rounded x and w*, so
/// y - w*^T x over the stored floats is the noise up to float rounding of y.
/// Fails, leaving the outputs unchanged, when samples or features is 0, sigma
/// is negative or not finite, or n x d exceeds the maximum size of a
/// std::vector<float>.
bool make_linear_regression(const LinearRegressionOptions& options, DenseDataset* dataset, std::vector<float>* weights,
                            std::string* error);

}  // namespace ecq::data
