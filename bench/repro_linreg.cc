#include "repro_linreg.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <numeric>

#include "ecq/data/random.h"
#include "ecq/data/synthetic.h"
#include "ecq/runtime/model.h"
#include "ecq/runtime/payload.h"

namespace ecq::repro {
namespace {

using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The problem shared by every method: data, shards and the optimum.
struct Problem {
  std::uint32_t dimension = 0;
  std::uint32_t samples = 0;
  std::vector<float> x;  // samples x dimension, row-major
  std::vector<float> y;
  Eigen::VectorXd optimum;
  double optimum_loss = 0.0;
};

double full_loss(const Problem& problem, const float* w) {
  const Eigen::Map<const MatrixRM> x(problem.x.data(), problem.samples, problem.dimension);
  const Eigen::Map<const Eigen::VectorXf> weights(w, problem.dimension);
  const Eigen::Map<const Eigen::VectorXf> y(problem.y.data(), problem.samples);
  return 0.5 * (x * weights - y).cast<double>().squaredNorm() / problem.samples;
}

bool make_problem(const LinearRegressionConfig& config, std::uint32_t dimension, Problem* problem, std::string* error) {
  data::LinearRegressionOptions options;
  options.samples = config.samples;
  options.features = dimension;
  options.noise_stddev = config.noise_stddev;
  options.seed = config.seed * 1000003u + dimension;
  data::DenseDataset dataset;
  std::vector<float> truth;
  if (!data::make_linear_regression(options, &dataset, &truth, error)) {
    return false;
  }
  problem->dimension = dimension;
  problem->samples = config.samples;
  problem->x = std::move(dataset.x);
  problem->y = std::move(dataset.y);

  // w_ls solves X^T X w = X^T y, in double.
  const Eigen::Map<const MatrixRM> x(problem->x.data(), config.samples, dimension);
  const Eigen::MatrixXd xd = x.cast<double>();
  const Eigen::VectorXd yd = Eigen::Map<const Eigen::VectorXf>(problem->y.data(), config.samples).cast<double>();
  const Eigen::MatrixXd gram = xd.transpose() * xd;
  problem->optimum = gram.ldlt().solve(xd.transpose() * yd);
  problem->optimum_loss = 0.5 * (xd * problem->optimum - yd).squaredNorm() / config.samples;
  return true;
}

// One worker: its shard, its minibatch sampler and its compressor.
struct Worker {
  std::vector<std::uint32_t> order;  // shard rows, reshuffled every epoch
  std::size_t next = 0;
  data::Rng rng{0};
  std::vector<std::uint8_t> arena;
  Compressor compressor;
};

bool fail(std::string* error, const char* component, const ErrorInfo& info) {
  char message[320];
  describe_error(info, message, sizeof message);
  *error = std::string(component) + " failed: " + message;
  return false;
}

// Copies the worker's next `batch` rows into the batch buffers.
void next_batch(const Problem& problem, std::uint32_t batch, Worker* worker, float* features, float* targets) {
  for (std::uint32_t r = 0; r < batch; ++r) {
    if (worker->next == worker->order.size()) {
      data::shuffle(&worker->order, &worker->rng);
      worker->next = 0;
    }
    const std::uint32_t row = worker->order[worker->next++];
    std::copy_n(problem.x.data() + static_cast<std::size_t>(row) * problem.dimension, problem.dimension,
                features + static_cast<std::size_t>(r) * problem.dimension);
    targets[r] = problem.y[row];
  }
}

bool run_method(const LinearRegressionConfig& config, const Problem& problem, Method method, MethodResult* result,
                std::string* error) {
  const std::uint32_t d = problem.dimension;
  const ModelShape shape{ModelKind::kLinear, d, 0, 0, false};
  std::vector<std::uint8_t> model_arena(Model::required_arena_bytes(shape, config.batch));
  Model model;
  if (model.init(shape, config.batch, Span<std::uint8_t>(model_arena.data(), model_arena.size())) != Status::kOk) {
    return fail(error, "model init", model.last_error());
  }

  CompressorConfig compressor_config;
  compressor_config.dimension = d;
  compressor_config.method = method;
  compressor_config.quantizer = QuantizerConfig{d, config.levels, NormKind::kL2};
  if (config.alpha >= 0.0f && config.beta >= 0.0f) {
    compressor_config.use_default_compensation = false;
    compressor_config.compensation = Compensation{config.alpha, config.beta, false};
  }
  std::vector<Worker> workers(config.workers);
  const std::uint32_t shard = config.samples / config.workers;
  for (std::uint32_t p = 0; p < config.workers; ++p) {
    Worker& worker = workers[p];
    worker.order.resize(shard);
    std::iota(worker.order.begin(), worker.order.end(), p * shard);
    worker.rng = data::Rng(config.seed * 7919u + p);
    worker.next = shard;  // shuffle before the first batch
    worker.arena.resize(Compressor::required_arena_bytes(compressor_config));
    if (worker.compressor.init(compressor_config, Span<std::uint8_t>(worker.arena.data(), worker.arena.size())) !=
        Status::kOk) {
      return fail(error, "compressor init", worker.compressor.last_error());
    }
  }
  result->method = method;
  result->alpha = workers[0].compressor.compensation().alpha;
  result->beta = workers[0].compressor.compensation().beta;

  std::vector<float> w(d, 0.0f);
  std::vector<float> average(d);
  std::vector<float> gradient(d);
  std::vector<float> features(static_cast<std::size_t>(config.batch) * d);
  std::vector<float> targets(config.batch);
  std::vector<std::uint8_t> payload(Compressor::max_payload_bytes(compressor_config));
  double bits = 0.0;
  double ratio = 0.0;
  DecodeLimits limits;
  limits.expected_dimension = d;
  const float share = 1.0f / static_cast<float>(config.workers);

  for (std::uint32_t t = 0; t < config.iterations; ++t) {
    if (t % config.loss_every == 0) {
      result->curve.push_back(LossPoint{t, full_loss(problem, w.data())});
    }
    std::fill(average.begin(), average.end(), 0.0f);
    for (std::uint32_t p = 0; p < config.workers; ++p) {
      next_batch(problem, config.batch, &workers[p], features.data(), targets.data());
      const Batch batch{features.data(), targets.data(), nullptr, config.batch};
      if (model.gradient(Span<const float>(w.data(), d), batch, Span<float>(gradient.data(), d)) != Status::kOk) {
        return fail(error, "gradient", model.last_error());
      }
      std::size_t size = 0;
      if (workers[p].compressor.compress(Span<const float>(gradient.data(), d), StreamKey{config.seed, p, t},
                                         Span<std::uint8_t>(payload.data(), payload.size()), &size) != Status::kOk) {
        return fail(error, "compress", workers[p].compressor.last_error());
      }
      PayloadView view;
      ErrorInfo info;
      if (validate_payload(Span<const std::uint8_t>(payload.data(), size), limits, &view, &info) != Status::kOk) {
        return fail(error, "validate", info);
      }
      (void)accumulate_payload(view, share, Span<float>(average.data(), d));
      bits += 8.0 * static_cast<double>(size);
      ratio += 32.0 * d / (8.0 * static_cast<double>(size));
    }
    for (std::uint32_t i = 0; i < d; ++i) {
      w[i] -= config.learning_rate * average[i];
    }
  }

  const double payloads = static_cast<double>(config.iterations) * config.workers;
  result->final_loss = full_loss(problem, w.data());
  result->curve.push_back(LossPoint{config.iterations, result->final_loss});
  result->distance_to_optimum =
      (Eigen::Map<const Eigen::VectorXf>(w.data(), d).cast<double>() - problem.optimum).norm();
  result->bits_per_element = bits / payloads / d;
  result->payload_compression_ratio = ratio / payloads;
  return true;
}

}  // namespace

bool run_linear_regression(const LinearRegressionConfig& config, std::vector<DatasetResult>* results,
                           std::string* error) {
  if (config.workers == 0 || config.samples < config.workers || config.batch == 0 || config.iterations == 0 ||
      config.loss_every == 0) {
    *error =
        "invalid configuration: workers, batch, iterations and loss interval must be at least 1, and samples "
        "at least the worker count";
    return false;
  }
  results->clear();
  for (std::uint32_t dimension : config.dimensions) {
    Problem problem;
    if (!make_problem(config, dimension, &problem, error)) {
      return false;
    }
    DatasetResult dataset;
    dataset.name = "syn-" + std::to_string(dimension);
    dataset.dimension = dimension;
    dataset.optimum_loss = problem.optimum_loss;
    for (Method method : config.methods) {
      MethodResult result;
      if (!run_method(config, problem, method, &result, error)) {
        *error = dataset.name + ", " + method_name(method) + ": " + *error;
        return false;
      }
      dataset.methods.push_back(std::move(result));
    }
    results->push_back(std::move(dataset));
  }
  return true;
}

const MethodResult* find_method(const DatasetResult& result, Method method) {
  for (const MethodResult& candidate : result.methods) {
    if (candidate.method == method) {
      return &candidate;
    }
  }
  return nullptr;
}

double excess_distance_ratio(const DatasetResult& result) {
  const MethodResult* fp32 = find_method(result, Method::kFp32);
  const MethodResult* qsgd = find_method(result, Method::kQsgd);
  const MethodResult* ecq = find_method(result, Method::kEcq);
  if (fp32 == nullptr || qsgd == nullptr || ecq == nullptr) {
    return -1.0;
  }
  return (ecq->distance_to_optimum - fp32->distance_to_optimum) /
         (qsgd->distance_to_optimum - fp32->distance_to_optimum);
}

}  // namespace ecq::repro
