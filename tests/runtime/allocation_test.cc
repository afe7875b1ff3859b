// Proves that the compress, rollback and decode paths and the models allocate
// nothing after init(). This executable links the counting allocator, which
// replaces malloc, calloc, realloc and the global operator new.

#include <doctest/doctest.h>

#include <cstdlib>
#include <initializer_list>
#include <new>
#include <vector>

#include "counting_allocator.h"
#include "ecq/runtime/compressor.h"
#include "ecq/runtime/model.h"
#include "ecq/runtime/payload.h"
#include "ecq/runtime/trainer.h"
#include "test_support.h"

using ecq::test::allocation_count;

namespace ecq {
namespace {

using test::make_config;

// Volatile, so that the compiler cannot elide the allocations below.
void* volatile g_escape = nullptr;

TEST_CASE("allocation counter sees allocations") {
  const long before = allocation_count();
  void* pointer = std::malloc(16);
  g_escape = pointer;
  auto* object = new int(3);
  g_escape = object;
  const long counted = allocation_count() - before;
  delete object;
  std::free(pointer);
  CHECK(counted == 2);
}

TEST_CASE("compress path allocates nothing") {
  for (Method method : {Method::kFp32, Method::kQsgd, Method::kEf, Method::kEcq}) {
    for (EncoderChoice encoder : {EncoderChoice::kFixedWidth, EncoderChoice::kAuto, EncoderChoice::kEntropy}) {
      for (ErrorBufferType error_buffer : {ErrorBufferType::kFp32, ErrorBufferType::kFp16}) {
        CompressorConfig config = make_config(50000, method, 512, 2, NormKind::kL2, encoder);
        config.error_buffer = error_buffer;
        std::vector<std::uint8_t> arena(Compressor::required_arena_bytes(config));
        std::vector<std::uint8_t> payload(Compressor::max_payload_bytes(config));
        std::vector<float> gradient = test::gaussian_vector(config.dimension, 1);
        std::vector<float> sum(config.dimension, 0.0f);
        Compressor compressor;
        REQUIRE(compressor.init(config, Span<std::uint8_t>(arena.data(), arena.size())) == Status::kOk);

        const long before = allocation_count();
        std::size_t size = 0;
        Status status = Status::kOk;
        for (std::uint32_t round = 0; round < 3 && status == Status::kOk; ++round) {
          status = compressor.compress(Span<const float>(gradient.data(), gradient.size()), StreamKey{1, 2, round},
                                       Span<std::uint8_t>(payload.data(), payload.size()), &size);
        }
        const Span<const std::uint8_t> bytes(payload.data(), size);
        PayloadView view;
        const Status validated = validate_payload(bytes, DecodeLimits{}, &view);
        const Status accumulated = accumulate_payload(view, 0.25f, Span<float>(sum.data(), sum.size()));
        const Status decoded = decode_payload(view, Span<float>(sum.data(), sum.size()));
        const Status rolled_back = compressor.rollback(bytes);
        gradient[7] = -gradient[7] * 0.0f / 0.0f;  // NaN: the rejection path must not allocate either
        const Status rejected = compressor.compress(Span<const float>(gradient.data(), gradient.size()), StreamKey{},
                                                    Span<std::uint8_t>(payload.data(), payload.size()), &size);
        const long allocations = allocation_count() - before;

        CAPTURE(method_name(method));
        CAPTURE(static_cast<int>(encoder));
        CAPTURE(error_buffer_type_name(error_buffer));
        CHECK(status == Status::kOk);
        CHECK(validated == Status::kOk);
        CHECK(accumulated == Status::kOk);
        CHECK(decoded == Status::kOk);
        CHECK(rolled_back == Status::kOk);
        CHECK(rejected == Status::kNonFiniteInput);
        CHECK(allocations == 0);
      }
    }
  }
}

TEST_CASE("model gradient allocates nothing") {
  // Fashion-MNIST shapes at the batch sizes a simulation uses.
  const ModelShape shapes[] = {{ModelKind::kLinear, 1024, 0, 0, false},
                               {ModelKind::kLogistic, 784, 0, 0, true},
                               {ModelKind::kSoftmax, 784, 10, 0, true},
                               {ModelKind::kMlp, 784, 10, 128, true}};
  for (const ModelShape& shape : shapes) {
    const std::uint32_t rows = 256;
    std::vector<std::uint8_t> arena(LocalTrainer::required_arena_bytes(shape, rows));
    LocalTrainer trainer;
    REQUIRE(trainer.init(shape, rows, Span<std::uint8_t>(arena.data(), arena.size())) == Status::kOk);
    std::vector<float> parameters(trainer.model().size());
    trainer.model().initialize(Span<float>(parameters.data(), parameters.size()), 3);
    std::vector<float> gradient(parameters.size());
    std::vector<float> features = test::gaussian_vector(static_cast<std::size_t>(rows) * shape.inputs, 4);
    std::vector<float> targets(rows, 1.0f);
    std::vector<std::int32_t> labels(rows, 3);
    const Batch batch{features.data(), targets.data(), labels.data(), rows};

    const long before = allocation_count();
    double loss = 0.0;
    const Status status = trainer.compute_gradient(Span<const float>(parameters.data(), parameters.size()), batch,
                                                   Span<float>(gradient.data(), gradient.size()), &loss);
    Evaluation evaluation;
    const Status evaluated =
        trainer.model().evaluate(Span<const float>(parameters.data(), parameters.size()), batch, &evaluation);
    const long allocations = allocation_count() - before;

    CAPTURE(model_kind_name(shape.kind));
    CHECK(status == Status::kOk);
    CHECK(evaluated == Status::kOk);
    CHECK(allocations == 0);
  }
}

}  // namespace
}  // namespace ecq
