#include "report.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "temp_dir.h"

namespace {

ecq::sim::RunResult make_run(const std::string& compressor, std::uint64_t seed, std::uint64_t uplink,
                             std::initializer_list<double> accuracies) {
  ecq::sim::RunResult run;
  run.compressor = compressor;
  run.seed = seed;
  run.uplink_bytes = uplink;
  run.downlink_bytes = 5000;
  run.rounds_applied = static_cast<std::uint32_t>(accuracies.size()) * 10;
  std::uint32_t round = 0;
  for (const double accuracy : accuracies) {
    round += 10;
    run.rounds.push_back({round, true, 3, 0, uplink * round / 100, 0});
    run.evaluations.push_back({round, accuracy, 1.0 - accuracy, uplink * round / 100, 0});
  }
  return run;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("final accuracy averages the last five evaluations") {
  const ecq::sim::RunResult run = make_run("ecq", 1, 100, {0.1, 0.2, 0.5, 0.6, 0.7, 0.8, 0.9});
  CHECK(ecq::sim::final_accuracy(run) == doctest::Approx((0.5 + 0.6 + 0.7 + 0.8 + 0.9) / 5));
  CHECK(ecq::sim::final_accuracy(make_run("ecq", 1, 100, {0.4, 0.6})) == doctest::Approx(0.5));
  CHECK(ecq::sim::final_accuracy(make_run("ecq", 1, 100, {})) == -1.0);

  ecq::sim::RunResult diverged = run;
  diverged.diverged = true;
  CHECK(ecq::sim::final_accuracy(diverged) == -1.0);
}

TEST_CASE("summary gives ratios against fp32 of the same seed") {
  const std::vector<ecq::sim::RunResult> runs = {
      make_run("fp32", 1, 6400, {0.8}), make_run("ecq", 1, 100, {0.7}),
      make_run("fp32", 2, 3200, {0.6}), make_run("ecq", 2, 100, {0.9}),
  };
  const std::vector<ecq::sim::CompressorSummary> summary = ecq::sim::summarize(runs);
  REQUIRE(summary.size() == 2);
  CHECK(summary[0].compressor == "fp32");
  CHECK(summary[0].compression_ratio == doctest::Approx(1.0));
  CHECK(summary[1].compressor == "ecq");
  CHECK(summary[1].compression_ratio == doctest::Approx((64.0 + 32.0) / 2));
  CHECK(summary[1].final_accuracy == doctest::Approx(0.8));
  CHECK(summary[1].final_accuracy_min == doctest::Approx(0.7));
  CHECK(summary[1].final_accuracy_max == doctest::Approx(0.9));
  CHECK(summary[1].seeds == 2);
}

TEST_CASE("summary without fp32 has no ratio") {
  const std::vector<ecq::sim::CompressorSummary> summary = ecq::sim::summarize({make_run("qsgd", 1, 100, {0.5})});
  REQUIRE(summary.size() == 1);
  CHECK(summary[0].compression_ratio == 0.0);
  const nlohmann::json json = ecq::sim::summary_json({make_run("qsgd", 1, 100, {0.5})}, {}, {});
  CHECK(json["compressors"]["qsgd"]["compression_ratio"].is_null());
}

TEST_CASE("summary json marks divergence without NaN") {
  ecq::sim::RunResult diverged = make_run("ef", 1, 100, {0.3, 0.1});
  diverged.diverged = true;
  diverged.diverged_at_round = 17;
  const nlohmann::json json =
      ecq::sim::summary_json({make_run("fp32", 1, 6400, {0.8}), diverged}, {{"rounds", 20}}, {{"devices", 100}});
  CHECK(json["schema_version"] == ecq::sim::kSummarySchemaVersion);
  CHECK(json["devices"] == 100);
  CHECK(json["settings"]["rounds"] == 20);
  const nlohmann::json& ef = json["compressors"]["ef"];
  CHECK(ef["diverged"] == true);
  CHECK(ef["diverged_at_round"] == 17);
  CHECK(ef["final_accuracy"].is_null());
  CHECK(ef["compression_ratio"].is_null());
  CHECK(json.dump().find("NaN") == std::string::npos);
  CHECK(json.dump().find("nan") == std::string::npos);
  CHECK(json["runs"].size() == 2);
}

TEST_CASE("summary json records error buffer") {
  ecq::sim::RunResult half = make_run("ecq:fp16", 1, 100, {0.7});
  half.error_buffer = "fp16";
  ecq::sim::RunResult full = make_run("ecq", 1, 100, {0.7});
  full.error_buffer = "fp32";
  const nlohmann::json json = ecq::sim::summary_json({make_run("fp32", 1, 6400, {0.8}), full, half}, {}, {});
  CHECK(json["compressors"]["fp32"]["error_buffer"].is_null());
  CHECK(json["compressors"]["ecq"]["error_buffer"] == "fp32");
  CHECK(json["compressors"]["ecq:fp16"]["error_buffer"] == "fp16");
  CHECK(json["compressors"]["ecq:fp16"]["compression_ratio"] == doctest::Approx(64.0));
  REQUIRE(json["runs"].size() == 3);
  CHECK(json["runs"][0]["error_buffer"].is_null());
  CHECK(json["runs"][2]["error_buffer"] == "fp16");
}

TEST_CASE("error buffer range counts fp16 limits") {
  ecq::sim::ErrorBufferRange range;
  for (float value : {0.0f, 1e-9f, -1e-5f, 0.25f, -0.5f, 3.0f, 70000.0f}) {
    range.add(value);
  }
  CHECK(range.elements == 7);
  CHECK(range.zero == 1);
  CHECK(range.below_fp16_subnormal == 1);  // 1e-9
  CHECK(range.below_fp16_normal == 2);     // 1e-9 and 1e-5
  CHECK(range.above_fp16_max == 1);
  CHECK(range.max_abs == 70000.0);
  CHECK(range.min_nonzero_abs == doctest::Approx(1e-9));
  // Exponents of the six nonzero magnitudes: -30, -17, -2, -1, 1, 16.
  CHECK(range.exponent_quantile(0.5) == -2);
  CHECK(range.exponent_quantile(1.0) == 16);
  CHECK(range.exponent_quantile(0.01) == -30);

  const nlohmann::json json = ecq::sim::summary_json({make_run("fp32", 1, 100, {0.5})}, {}, {});
  CHECK(json["runs"][0]["error_buffer_range"].is_null());
}

TEST_CASE("table lists every compressor") {
  ecq::sim::RunResult diverged = make_run("ef", 1, 100, {0.3});
  diverged.diverged = true;
  diverged.diverged_at_round = 4;
  const std::string table =
      ecq::sim::format_table(ecq::sim::summarize({make_run("fp32", 1, 6400, {0.8}), make_run("ecq", 1, 100, {0.79}), diverged}));
  CHECK(table.find("fp32") != std::string::npos);
  CHECK(table.find("0.7900") != std::string::npos);
  CHECK(table.find("64.0x") != std::string::npos);
  CHECK(table.find("diverged at round 4") != std::string::npos);
}

TEST_CASE("metrics csv has a row per round") {
  ecq::test::TempDir dir("ecq-sim-test");
  const std::string path = dir.path("metrics.csv");
  std::string error;
  ecq::sim::RunResult run = make_run("ecq", 3, 100, {0.5, 0.6});
  run.error_buffer = "fp16";
  REQUIRE(ecq::sim::write_metrics_csv(path, {run, make_run("fp32", 3, 100, {0.7})}, &error));
  const std::string text = read_all(path);
  CHECK(text.rfind("compressor,error_buffer,seed,round,applied,updates,dropped,uplink_bytes,downlink_bytes,accuracy,loss\n", 0) == 0);
  CHECK(text.find("ecq,fp16,3,10,1,3,0,10,0,0.500000,0.500000\n") != std::string::npos);
  CHECK(text.find("ecq,fp16,3,20,1,3,0,20,0,0.600000,0.400000\n") != std::string::npos);
  CHECK(text.find("fp32,,3,10,1,3,0,10,0,0.700000,0.300000\n") != std::string::npos);

  CHECK_FALSE(ecq::sim::write_metrics_csv(dir.path("missing/metrics.csv"), {}, &error));
  CHECK(error.find("missing/metrics.csv") != std::string::npos);
}

TEST_CASE("accuracy plot is a png from gnuplot") {
  ecq::test::TempDir dir("ecq-sim-test");
  const std::string path = dir.path("accuracy.png");
  std::string error;
  REQUIRE_MESSAGE(ecq::sim::write_accuracy_plot(
                      path, {make_run("fp32", 1, 6400, {0.5, 0.8}), make_run("ecq", 1, 100, {0.5, 0.79})}, &error),
                  error);
  const std::string png = read_all(path);
  REQUIRE(png.size() > 1000);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);

  const std::string svg_path = dir.path("accuracy.svg");
  REQUIRE_MESSAGE(ecq::sim::write_accuracy_plot(svg_path, {make_run("ecq", 1, 100, {0.5, 0.79})}, &error), error);
  CHECK(read_all(svg_path).find("<svg") != std::string::npos);
}
