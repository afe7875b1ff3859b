#pragma once
// The linear-regression experiment of J. Wu, W. Huang, J. Huang, T. Zhang,
// "Error Compensated Quantized SGD and its Applications to Large-scale
// Distributed Optimization", ICML 2018: synthetic data Syn-d, P workers with
// equal shards, each computing a minibatch gradient per iteration that is
// compressed, decoded and averaged before one SGD step.

#include <cstdint>
#include <string>
#include <vector>

#include "ecq/runtime/compressor.h"

namespace ecq::repro {

struct LinearRegressionConfig {
  std::vector<std::uint32_t> dimensions = {256, 512, 1024};  ///< Syn-d for each d
  std::uint32_t samples = 10000;
  std::uint32_t workers = 8;
  std::uint32_t batch = 256;  ///< rows per worker and iteration
  std::uint32_t iterations = 2000;
  float learning_rate = 0.02f;
  std::uint32_t levels = 4;  ///< s; one l2-scaled bucket per vector
  std::vector<Method> methods = {Method::kFp32, Method::kQsgd, Method::kEcq};
  double noise_stddev = 0.1;
  std::uint64_t seed = 1;
  std::uint32_t loss_every = 10;  ///< iterations between points of the loss curve
  /// ecq's (alpha, beta); unset (negative) takes default_compensation().
  float alpha = -1.0f;
  float beta = -1.0f;
};

struct LossPoint {
  std::uint32_t iteration = 0;
  double loss = 0.0;
};

struct MethodResult {
  Method method = Method::kFp32;
  float alpha = 0.0f;  ///< compensation in use (0 for fp32 and qsgd)
  float beta = 0.0f;
  double final_loss = 0.0;                 ///< (1 / 2n) ||X w - y||^2 over all samples
  double distance_to_optimum = 0.0;        ///< ||w - w_ls||, w_ls the least-squares optimum of the data
  double bits_per_element = 0.0;           ///< payload bits / d, averaged over all payloads
  double payload_compression_ratio = 0.0;  ///< 32 d / payload bits, averaged over all payloads
  std::vector<LossPoint> curve;
};

struct DatasetResult {
  std::string name;  ///< "syn-256", ...
  std::uint32_t dimension = 0;
  double optimum_loss = 0.0;  ///< loss at w_ls
  std::vector<MethodResult> methods;
};

/// Runs the experiment for every dimension and method. Returns false and
/// fills *error when a component fails (which names the component and why).
bool run_linear_regression(const LinearRegressionConfig& config, std::vector<DatasetResult>* results,
                           std::string* error);

/// Returns (ecq distance - fp32 distance) / (qsgd distance - fp32 distance),
/// or a negative value when a method is missing.
double excess_distance_ratio(const DatasetResult& result);

/// Returns the result of `method`, or nullptr.
const MethodResult* find_method(const DatasetResult& result, Method method);

}  // namespace ecq::repro
