#include "ecq/transport/memory_pipe.h"

#include <doctest/doctest.h>

#include <memory>

#include "stream_suite.h"

namespace ecq::transport {
namespace {

TEST_CASE("memory pipe stream semantics") {
  std::unique_ptr<MemoryPipe> pipe;
  test::check_stream_semantics([&pipe] {
    pipe = std::make_unique<MemoryPipe>(4096);
    return test::StreamPair{&pipe->a(), &pipe->b()};
  });
}

TEST_CASE("byte queue wraps around") {
  ByteQueue queue(8);
  const std::uint8_t first[6] = {1, 2, 3, 4, 5, 6};
  CHECK(queue.push(first, 6) == 6);
  std::uint8_t out[8];
  CHECK(queue.pop(out, 4) == 4);
  const std::uint8_t second[6] = {7, 8, 9, 10, 11, 12};
  CHECK(queue.push(second, 6) == 6);
  CHECK(queue.push(second, 1) == 0);  // full
  CHECK(queue.pop(out, 8) == 8);
  const std::uint8_t expected[8] = {5, 6, 7, 8, 9, 10, 11, 12};
  CHECK(std::equal(out, out + 8, expected));
}

}  // namespace
}  // namespace ecq::transport
