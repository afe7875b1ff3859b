// ecq-bench: speed and size figures of the ECQ-SGD compressor, and the
// speed of the models' gradients.
//
// Every ratio compares two loops measured in the same run, interleaved, each
// figure the median of --repeats runs, so machine noise cancels out as far as
// it can. See docs/benchmarks.md for what each figure means and its target.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if ECQ_BENCH_HAVE_DATA
#include "ecq/data/batch.h"
#include "ecq/data/idx.h"
#endif
#include "ecq/runtime/compressor.h"
#include "ecq/runtime/model.h"
#include "ecq/runtime/payload.h"
#include "kernels.h"

namespace {

using ecq::Compressor;
using ecq::CompressorConfig;
using ecq::EncoderChoice;
using ecq::NormKind;
using ecq::Span;
using ecq::Status;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

constexpr int kSchemaVersion = 1;
constexpr double kRatioTarget = 0.5;
constexpr double kEntropyOverheadTarget = 1.02;

struct Options {
  std::uint32_t elements = 16u << 20;
  std::uint32_t entropy_elements = 1u << 20;
  int repeats = 7;
  std::string json_path;
};

std::vector<float> gaussian(std::size_t size, std::uint32_t seed) {
  std::mt19937 engine(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(size);
  for (float& value : values) {
    value = normal(engine);
  }
  return values;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Runs `first` and `second` alternately `repeats` times and returns the median
// seconds of each, so that both see the same machine state.
std::pair<double, double> time_pair(int repeats, const std::function<void()>& first,
                                    const std::function<void()>& second) {
  std::vector<double> first_times;
  std::vector<double> second_times;
  first();  // warm caches, page in buffers
  second();
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    first();
    first_times.push_back(seconds_since(start));
    start = Clock::now();
    second();
    second_times.push_back(seconds_since(start));
  }
  return {median(first_times), median(second_times)};
}

void check(Status status, const char* operation) {
  if (status != Status::kOk) {
    std::fprintf(stderr, "ecq-bench: %s failed: %s\n", operation, ecq::status_name(status));
    std::exit(1);
  }
}

CompressorConfig bench_config(std::uint32_t elements, ecq::Method method, std::uint32_t levels, NormKind norm,
                              EncoderChoice encoder) {
  CompressorConfig config;
  config.dimension = elements;
  config.method = method;
  config.quantizer.bucket_size = 512;
  config.quantizer.levels = levels;
  config.quantizer.norm = norm;
  config.encoder = encoder;
  return config;
}

// A compressor with its own arena and payload buffer.
struct Bench {
  explicit Bench(const CompressorConfig& config)
      : arena(Compressor::required_arena_bytes(config)), payload(Compressor::max_payload_bytes(config)) {
    check(compressor.init(config, Span<std::uint8_t>(arena.data(), arena.size())), "init");
  }
  void step(const std::vector<float>& gradient, std::uint32_t round) {
    check(compressor.compress(Span<const float>(gradient.data(), gradient.size()), ecq::StreamKey{1, 2, round},
                              Span<std::uint8_t>(payload.data(), payload.size()), &size),
          "compress");
  }
  ecq::PayloadView view() const {
    ecq::PayloadView result;
    ecq::DecodeLimits limits;
    limits.max_dimension = UINT32_MAX;
    limits.max_payload_bytes = SIZE_MAX;
    check(ecq::validate_payload(Span<const std::uint8_t>(payload.data(), size), limits, &result), "validate");
    return result;
  }
  std::vector<std::uint8_t> arena;
  std::vector<std::uint8_t> payload;
  Compressor compressor;
  std::size_t size = 0;
};

Json bench_compress(const Options& options) {
  const std::uint32_t n = options.elements;
  const std::vector<float> gradient = gaussian(n, 1);
  Bench fixed(bench_config(n, ecq::Method::kEcq, 4, NormKind::kL2, EncoderChoice::kFixedWidth));
  Bench entropy(bench_config(n, ecq::Method::kEcq, 4, NormKind::kL2, EncoderChoice::kAuto));
  const float beta = fixed.compressor.compensation().beta;
  // The floor: h = beta * h + g over arrays of the same size, the least any
  // step that updates h in place must do.
  std::vector<float> floor_error(n, 0.5f);
  std::uint32_t round = 0;
  const auto [compress_s, floor_s] = time_pair(
      options.repeats, [&] { fixed.step(gradient, round++); },
      [&] {
        float* h = floor_error.data();
        const float* g = gradient.data();
        for (std::uint32_t i = 0; i < n; ++i) {
          h[i] = beta * h[i] + g[i];
        }
      });
  const auto [entropy_s, unused] = time_pair(
      options.repeats, [&] { entropy.step(gradient, round++); }, [] {});
  (void)unused;
  // The same fixed-width step with the error buffer in fp16, timed against
  // the fp32 buffer in the same run.
  CompressorConfig fp16_config = bench_config(n, ecq::Method::kEcq, 4, NormKind::kL2, EncoderChoice::kFixedWidth);
  fp16_config.error_buffer = ecq::ErrorBufferType::kFp16;
  Bench fp16(fp16_config);
  const auto [fp16_s, fp32_s] = time_pair(
      options.repeats, [&] { fp16.step(gradient, round++); }, [&] { fixed.step(gradient, round++); });

  Json result;
  result["elements"] = n;
  result["bucket_size"] = 512;
  result["levels"] = 4;
  result["norm"] = "l2";
  result["compress_elements_per_s"] = n / compress_s;
  result["floor_elements_per_s"] = n / floor_s;
  result["compress_ratio_to_floor"] = floor_s / compress_s;
  result["compress_ratio_target"] = kRatioTarget;
  result["compress_entropy_elements_per_s"] = n / entropy_s;
  result["compress_fp16_error_buffer_elements_per_s"] = n / fp16_s;
  result["compress_fp16_to_fp32_error_buffer_speed"] = fp32_s / fp16_s;
  result["bits_per_element_fixed_width"] = 8.0 * static_cast<double>(fixed.size) / n;
  result["bits_per_element_entropy"] = 8.0 * static_cast<double>(entropy.size) / n;
  result["entropy_encoding"] = ecq::encoding_name(entropy.view().encoding());
  return result;
}

// Nanoseconds per element of each compress stage on cache-resident data
// (64 Ki elements), to show where the time of bench_compress() goes.
Json bench_stages(const Options& options) {
  namespace detail = ecq::detail;
  const std::uint32_t n = 1u << 16;
  const std::vector<float> gradient = gaussian(n, 4);
  std::vector<float> error(n, 0.01f);
  std::vector<std::uint8_t> symbols(n);
  const detail::Kernels& kernels = detail::select_kernels();
  const detail::FlushToZeroScope flush_mode(kernels);
  const int rounds = 50;
  auto per_element = [&](const std::function<void()>& stage) {
    const auto [seconds, unused] = time_pair(
        options.repeats,
        [&] {
          for (int r = 0; r < rounds; ++r) {
            stage();
          }
        },
        [] {});
    (void)unused;
    return seconds * 1e9 / (static_cast<double>(n) * rounds);
  };
  detail::BucketScan scan;
  float uniforms[detail::kGroupElements];
  std::uint8_t codes[detail::kGroupElements] = {};
  const detail::SegmentParams params{0.3f, 0.95f, 4.0f / 22.6f, 22.6f / 4.0f, 4.0f, 4};
  Json result;
  result["kernels"] = kernels.name;
  result["scan_ns"] = per_element([&] {
    for (std::uint32_t b = 0; b < n; b += 512) {
      scan = detail::BucketScan{};
      kernels.scan(gradient.data() + b, error.data() + b, 512, 0.3f, 0.95f, &scan);
    }
  });
  result["random_draws_ns"] = per_element([&] {
    for (std::uint32_t group = 0; group < n / detail::kGroupElements; ++group) {
      kernels.group_uniforms(ecq::StreamKey{1, 2, 3}, group, uniforms);
    }
  });
  result["quantize_and_update_ns"] = per_element([&] {
    for (std::uint32_t i = 0; i < n; i += detail::kGroupElements) {
      kernels.quantize(gradient.data() + i, error.data() + i, detail::kGroupElements, uniforms, params, codes);
    }
  });
  result["pack_ns"] = per_element([&] {
    for (std::uint32_t i = 0; i < n; i += detail::kGroupElements) {
      detail::pack_group(codes, detail::kGroupElements, 4, symbols.data() + i / 2);
    }
  });
  return result;
}

Json bench_decode(const Options& options) {
  const std::uint32_t n = options.elements;
  const std::vector<float> gradient = gaussian(n, 2);
  Bench fixed(bench_config(n, ecq::Method::kEcq, 4, NormKind::kL2, EncoderChoice::kFixedWidth));
  fixed.step(gradient, 0);
  const ecq::PayloadView view = fixed.view();
  std::vector<float> sum(n, 0.0f);
  std::vector<float> floor_sum(n, 1.0f);
  const auto [decode_s, floor_s] = time_pair(
      options.repeats,
      [&] { check(ecq::accumulate_payload(view, 0.125f, Span<float>(sum.data(), sum.size())), "accumulate"); },
      [&] {
        float* acc = floor_sum.data();
        for (std::uint32_t i = 0; i < n; ++i) {
          acc[i] = 0.999f * acc[i];
        }
      });
  const auto [validate_s, unused] = time_pair(
      options.repeats, [&] { (void)fixed.view(); }, [] {});
  (void)unused;

  Json result;
  result["elements"] = n;
  result["decode_elements_per_s"] = n / decode_s;
  result["floor_elements_per_s"] = n / floor_s;
  result["decode_ratio_to_floor"] = floor_s / decode_s;
  result["decode_ratio_target"] = kRatioTarget;
  result["validate_elements_per_s"] = n / validate_s;
  result["validate_and_decode_ratio_to_floor"] = floor_s / (decode_s + validate_s);
  return result;
}

// Order-0 entropy of the symbols in a fixed-width payload, in bits.
double symbol_entropy_bits(const Bench& fixed, std::uint32_t levels, std::uint32_t dimension) {
  const ecq::PayloadView view = fixed.view();
  const std::uint32_t bits = ecq::bits_per_symbol(levels);
  std::vector<double> counts(2 * levels + 1, 0.0);
  const std::uint8_t* body = view.body();
  for (std::uint64_t i = 0; i < dimension; ++i) {
    const std::uint64_t bit = i * bits;
    std::uint32_t word = body[bit / 8];
    if (bit / 8 + 1 < view.body_bytes()) {
      word |= static_cast<std::uint32_t>(body[bit / 8 + 1]) << 8;
    }
    counts[(word >> (bit % 8)) & ((1u << bits) - 1u)] += 1.0;
  }
  double entropy = 0.0;
  for (double count : counts) {
    if (count > 0.0) {
      entropy += count * std::log2(dimension / count);
    }
  }
  return entropy;
}

const char* verdict(bool met) { return met ? "met" : "MISSED"; }

// Returns the JSON key of the Gaussian input: gaussian_1m for 2^20 elements.
std::string gaussian_key(std::uint32_t elements) {
  return elements == (1u << 20) ? "gaussian_1m" : "gaussian_" + std::to_string(elements);
}

// Entropy figures of one input vector for both norms and s in {1, 2, 4, 8, 16}.
Json entropy_rows(const std::vector<float>& gradient, double* worst_overhead) {
  const auto n = static_cast<std::uint32_t>(gradient.size());
  Json by_norm;
  for (NormKind norm : {NormKind::kL2, NormKind::kLinf}) {
    Json by_levels;
    for (std::uint32_t levels : {1u, 2u, 4u, 8u, 16u}) {
      Bench fixed(bench_config(n, ecq::Method::kQsgd, levels, norm, EncoderChoice::kFixedWidth));
      Bench entropy(bench_config(n, ecq::Method::kQsgd, levels, norm, EncoderChoice::kEntropy));
      fixed.step(gradient, 0);
      entropy.step(gradient, 0);
      const ecq::PayloadView view = entropy.view();
      const double entropy_bits = symbol_entropy_bits(fixed, levels, n);
      const double coded_bits = 8.0 * static_cast<double>(view.body_bytes() - view.table_bytes());
      const double overhead = coded_bits / entropy_bits;
      *worst_overhead = std::max(*worst_overhead, overhead);
      Json row;
      row["encoding"] = ecq::encoding_name(view.encoding());
      row["entropy_overhead"] = overhead;
      row["entropy_bits_per_element"] = entropy_bits / n;
      row["coded_bits_per_element"] = coded_bits / n;
      row["table_bytes"] = view.table_bytes();
      row["bits_per_element"] = 8.0 * static_cast<double>(entropy.size) / n;
      row["bits_per_element_fixed_width"] = 8.0 * static_cast<double>(fixed.size) / n;
      by_levels["s" + std::to_string(levels)] = row;
    }
    by_norm[norm == NormKind::kL2 ? "l2" : "linf"] = by_levels;
  }
  return by_norm;
}

#if ECQ_BENCH_HAVE_DATA
// A real gradient of the 784-128-10 MLP on Fashion-MNIST: He-initialized,
// trained for 100 SGD steps (batch 64, learning rate 0.1), then the gradient
// of the next batch of 256. Returns false with a reason when the data set is
// not installed.
bool mlp_gradient(std::vector<float>* gradient, std::string* reason) {
  std::string directory;
  ecq::data::ImageDataset train;
  if (!ecq::data::locate_fashion_mnist(&directory, reason) ||
      !ecq::data::load_fashion_mnist(directory, ecq::data::Split::kTrain, &train, reason)) {
    return false;
  }
  const ecq::ModelShape shape{ecq::ModelKind::kMlp, 784, 10, 128, true};
  const std::uint32_t rows = 256;
  std::vector<std::uint8_t> arena(ecq::Model::required_arena_bytes(shape, rows));
  ecq::Model model;
  check(model.init(shape, rows, Span<std::uint8_t>(arena.data(), arena.size())), "model init");
  std::vector<float> parameters(model.size());
  model.initialize(Span<float>(parameters.data(), parameters.size()), 7);
  gradient->assign(model.size(), 0.0f);
  std::vector<std::uint32_t> all(train.count);
  std::iota(all.begin(), all.end(), 0u);
  ecq::data::BatchSampler small(all, 64, 11);
  ecq::data::BatchSampler large(all, rows, 13);
  std::vector<float> pixels(static_cast<std::size_t>(rows) * 784);
  std::vector<std::int32_t> labels(rows);
  auto step = [&](ecq::data::BatchSampler& sampler) {
    const Span<const std::uint32_t> indices = sampler.next();
    if (!ecq::data::gather_images(train, indices, Span<float>(pixels.data(), pixels.size()),
                                  Span<std::int32_t>(labels.data(), labels.size()), reason)) {
      std::fprintf(stderr, "ecq-bench: %s\n", reason->c_str());
      std::exit(1);
    }
    const ecq::Batch batch{pixels.data(), nullptr, labels.data(), static_cast<std::uint32_t>(indices.size())};
    check(model.gradient(Span<const float>(parameters.data(), parameters.size()), batch,
                         Span<float>(gradient->data(), gradient->size())),
          "mlp gradient");
  };
  for (int i = 0; i < 100; ++i) {
    step(small);
    for (std::size_t j = 0; j < parameters.size(); ++j) {
      parameters[j] -= 0.1f * (*gradient)[j];
    }
  }
  step(large);
  return true;
}
#else
bool mlp_gradient(std::vector<float>*, std::string* reason) {
  *reason = "this build has no data library (configured with ECQ_BUILD_HOST_TOOLS=OFF)";
  return false;
}
#endif

Json bench_entropy(const Options& options, double* worst_overhead) {
  Json result;
  result["elements"] = options.entropy_elements;
  result[gaussian_key(options.entropy_elements)] = entropy_rows(gaussian(options.entropy_elements, 3), worst_overhead);
  std::vector<float> gradient;
  std::string reason;
  if (mlp_gradient(&gradient, &reason)) {
    result["mlp_gradient"] = entropy_rows(gradient, worst_overhead);
  } else {
    std::fprintf(stderr, "ecq-bench: skipping mlp_gradient: %s\n", reason.c_str());
    result["mlp_gradient_skipped"] = reason;
  }
  return result;
}

// Microseconds per Model::gradient() call on random inputs, the median of
// --repeats runs of enough calls to take about 50 ms each.
Json bench_models(const Options& options) {
  struct Case {
    const char* name;
    ecq::ModelKind kind;
    std::uint32_t hidden;
    std::uint32_t rows;
  };
  const Case cases[] = {
      {"mlp_784_128_10_rows_8", ecq::ModelKind::kMlp, 128, 8},
      {"mlp_784_128_10_rows_64", ecq::ModelKind::kMlp, 128, 64},
      {"mlp_784_128_10_rows_256", ecq::ModelKind::kMlp, 128, 256},
      {"softmax_784_10_rows_8", ecq::ModelKind::kSoftmax, 0, 8},
      {"softmax_784_10_rows_64", ecq::ModelKind::kSoftmax, 0, 64},
      {"softmax_784_10_rows_256", ecq::ModelKind::kSoftmax, 0, 256},
      {"logistic_784_rows_64", ecq::ModelKind::kLogistic, 0, 64},
      {"logistic_784_rows_256", ecq::ModelKind::kLogistic, 0, 256},
  };
  Json result;
  for (const Case& c : cases) {
    ecq::ModelShape shape;
    shape.kind = c.kind;
    shape.inputs = 784;
    shape.classes = c.kind == ecq::ModelKind::kLogistic ? 0 : 10;
    shape.hidden = c.hidden;
    std::vector<std::uint8_t> arena(ecq::Model::required_arena_bytes(shape, c.rows));
    ecq::Model model;
    check(model.init(shape, c.rows, Span<std::uint8_t>(arena.data(), arena.size())), "model init");
    std::vector<float> parameters = gaussian(model.size(), 5);
    std::vector<float> gradient(model.size());
    const std::vector<float> features = gaussian(std::size_t{c.rows} * shape.inputs, 6);
    std::vector<float> targets(c.rows);
    std::vector<std::int32_t> labels(c.rows);
    for (std::uint32_t i = 0; i < c.rows; ++i) {
      targets[i] = static_cast<float>(i % 2);
      labels[i] = static_cast<std::int32_t>(i % 10);
    }
    const ecq::Batch batch{features.data(), targets.data(), labels.data(), c.rows};
    const auto step = [&] {
      check(model.gradient(Span<const float>(parameters.data(), parameters.size()), batch,
                           Span<float>(gradient.data(), gradient.size())),
            "model gradient");
    };
    const auto start = Clock::now();
    step();
    const double once = std::max(seconds_since(start), 1e-7);
    const int calls = std::max(1, static_cast<int>(0.05 / once));
    const auto [seconds, unused] = time_pair(
        options.repeats,
        [&] {
          for (int i = 0; i < calls; ++i) {
            step();
          }
        },
        [] {});
    (void)unused;
    result[c.name] = seconds / calls * 1e6;
  }
  return result;
}

void print_report(const Json& report) {
  const Json& compress = report["compress"];
  const Json& decode = report["decode"];
  std::printf("ecq-bench: %u elements, bucket 512, s = 4, l2, median of %d runs\n",
              compress["elements"].get<unsigned>(), report["repeats"].get<int>());
  std::printf("  %-40s %14s %10s\n", "figure", "value", "target");
  std::printf("  %-40s %14.3f %10s %s\n", "compress_ratio_to_floor", compress["compress_ratio_to_floor"].get<double>(),
              ">= 0.5", verdict(compress["compress_ratio_to_floor"].get<double>() >= kRatioTarget));
  std::printf("  %-40s %14.3e\n", "compress_elements_per_s", compress["compress_elements_per_s"].get<double>());
  std::printf("  %-40s %14.3e\n", "floor_elements_per_s (h = beta*h + g)",
              compress["floor_elements_per_s"].get<double>());
  std::printf("  %-40s %14.3e\n", "compress_entropy_elements_per_s",
              compress["compress_entropy_elements_per_s"].get<double>());
  std::printf("  %-40s %14.3e\n", "compress_fp16_error_buffer_elements_per_s",
              compress["compress_fp16_error_buffer_elements_per_s"].get<double>());
  std::printf("  %-40s %14.3f\n", "compress_fp16_to_fp32_error_buffer_speed",
              compress["compress_fp16_to_fp32_error_buffer_speed"].get<double>());
  std::printf("  %-40s %14.3f\n", "bits_per_element_fixed_width",
              compress["bits_per_element_fixed_width"].get<double>());
  std::printf("  %-40s %14.3f\n", "bits_per_element_entropy", compress["bits_per_element_entropy"].get<double>());
  std::printf("  %-40s %14.3f %10s %s\n", "decode_ratio_to_floor", decode["decode_ratio_to_floor"].get<double>(),
              ">= 0.5", verdict(decode["decode_ratio_to_floor"].get<double>() >= kRatioTarget));
  std::printf("  %-40s %14.3e\n", "decode_elements_per_s", decode["decode_elements_per_s"].get<double>());
  std::printf("  %-40s %14.3e\n", "floor_elements_per_s (acc = c*acc)", decode["floor_elements_per_s"].get<double>());
  std::printf("  %-40s %14.3e\n", "validate_elements_per_s", decode["validate_elements_per_s"].get<double>());
  const Json& stages = report["compress_stages"];
  std::printf("\n  compress stages, cache-resident, %s kernels (ns per element)\n",
              stages["kernels"].get<std::string>().c_str());
  for (const char* stage : {"scan_ns", "random_draws_ns", "quantize_and_update_ns", "pack_ns"}) {
    std::printf("  %-40s %14.3f\n", stage, stages[stage].get<double>());
  }
  const std::string floor_label =
      "floor loop (h = beta*h + g), " + std::to_string(compress["elements"].get<unsigned>());
  std::printf("  %-40s %14.3f\n", floor_label.c_str(), 1e9 / compress["floor_elements_per_s"].get<double>());
  const Json& entropy = report["entropy_overhead"];
  const std::string key = gaussian_key(entropy["elements"].get<std::uint32_t>());
  std::printf("\n  entropy_overhead, bucket 512 (target <= 1.02, largest row %.4f): %s\n",
              report["entropy_overhead_max"].get<double>(),
              verdict(report["entropy_overhead_max"].get<double>() <= kEntropyOverheadTarget));
  std::printf("  %-5s %-4s %10s %14s %14s %12s %14s\n", "norm", "s", "overhead", "entropy b/el", "coded b/el",
              "table bytes", "payload b/el");
  for (const std::string& input : {key, std::string("mlp_gradient")}) {
    if (!entropy.contains(input)) {
      continue;
    }
    std::printf("  %s\n", input.c_str());
    for (const auto& [norm, by_levels] : entropy[input].items()) {
      for (const auto& [levels, row] : by_levels.items()) {
        std::printf("  %-5s %-4s %10.4f %14.4f %14.4f %12u %14.4f\n", norm.c_str(), levels.c_str(),
                    row["entropy_overhead"].get<double>(), row["entropy_bits_per_element"].get<double>(),
                    row["coded_bits_per_element"].get<double>(), row["table_bytes"].get<unsigned>(),
                    row["bits_per_element"].get<double>());
      }
    }
  }
  std::printf("\n  model gradients, 784 inputs, random batch (microseconds per Model::gradient() call)\n");
  for (const auto& [name, microseconds] : report["model_gradient_us"].items()) {
    std::printf("  %-40s %14.1f\n", name.c_str(), microseconds.get<double>());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"ecq-bench: compressor throughput against memory-bound floors, and payload sizes"};
  app.add_option("--elements", options.elements,
                 "gradient elements for the throughput figures; below 4M the arrays fit in cache and the ratios "
                 "no longer compare against memory speed")
      ->check(CLI::Range(1024u, 1u << 30))
      ->capture_default_str();
  app.add_option("--entropy-elements", options.entropy_elements, "elements of the Gaussian input for entropy_overhead")
      ->check(CLI::Range(1024u, 1u << 28))
      ->capture_default_str();
  app.add_option("--repeats", options.repeats, "timed runs per figure; the median is reported")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--json", options.json_path, "also write every figure to this JSON file");
  CLI11_PARSE(app, argc, argv);

  std::ofstream json_file;
  if (!options.json_path.empty()) {
    json_file.open(options.json_path);
    if (!json_file) {
      std::fprintf(stderr, "ecq-bench: cannot open %s for writing; check that the directory exists\n",
                   options.json_path.c_str());
      return 1;
    }
  }
  if (options.elements < (4u << 20)) {
    std::fprintf(stderr,
                 "ecq-bench: warning: %u elements fit in the CPU caches, so the *_ratio_to_floor figures compare "
                 "against cache speed, not memory speed\n",
                 options.elements);
  }

  Json report;
  report["schema_version"] = kSchemaVersion;
  report["repeats"] = options.repeats;
  report["hardware_threads"] = std::thread::hardware_concurrency();
  report["compress"] = bench_compress(options);
  report["compress_stages"] = bench_stages(options);
  report["decode"] = bench_decode(options);
  double worst_overhead = 0.0;
  report["entropy_overhead"] = bench_entropy(options, &worst_overhead);
  report["entropy_overhead_max"] = worst_overhead;
  report["entropy_overhead_target"] = kEntropyOverheadTarget;
  report["model_gradient_us"] = bench_models(options);
  print_report(report);

  if (json_file.is_open()) {
    json_file << report.dump(2) << '\n';
    json_file.flush();
    if (!json_file) {
      std::fprintf(stderr, "ecq-bench: writing %s failed (disk full or not a regular file?)\n",
                   options.json_path.c_str());
      return 1;
    }
    std::printf("\nwrote %s\n", options.json_path.c_str());
  }
  return 0;
}
