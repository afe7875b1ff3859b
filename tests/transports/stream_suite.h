#pragma once
// The stream-semantics checks every Stream implementation must pass
// (documented in ecq/transport/stream.h). A test supplies a connected pair
// and a function that lets the transport below make progress.

#include <doctest/doctest.h>

#include <functional>
#include <vector>

#include "ecq/transport/stream.h"

namespace ecq::transport::test {

struct StreamPair {
  Stream* left = nullptr;
  Stream* right = nullptr;
  /// Moves bytes underneath (ticks, pumps); called between attempts.
  std::function<void()> progress = [] {};
};

/// Writes all of `data` to `to` while draining `from`, pumping in between;
/// returns what arrived. Fails the test after `max_rounds` rounds.
inline std::vector<std::uint8_t> transfer(StreamPair& pair, Stream& to, Stream& from,
                                          const std::vector<std::uint8_t>& data, int max_rounds = 200000) {
  std::vector<std::uint8_t> received;
  std::size_t sent = 0;
  std::uint8_t buffer[4096];
  for (int round = 0; round < max_rounds && received.size() < data.size(); ++round) {
    if (sent < data.size()) {
      std::size_t done = 0;
      const IoStatus status = to.write(data.data() + sent, data.size() - sent, &done);
      REQUIRE((status == IoStatus::kOk || status == IoStatus::kWouldBlock));
      sent += done;
    }
    pair.progress();
    std::size_t done = 0;
    const IoStatus status = from.read(buffer, sizeof buffer, &done);
    REQUIRE((status == IoStatus::kOk || status == IoStatus::kWouldBlock));
    received.insert(received.end(), buffer, buffer + done);
  }
  return received;
}

inline std::vector<std::uint8_t> pattern(std::size_t size, unsigned seed) {
  std::vector<std::uint8_t> data(size);
  for (std::size_t i = 0; i < size; ++i) {
    data[i] = static_cast<std::uint8_t>((i * 131 + seed * 7) >> 3);
  }
  return data;
}

/// Runs the whole suite on a freshly made pair; `make` is called per case.
inline void check_stream_semantics(const std::function<StreamPair()>& make) {
  SUBCASE("bytes arrive in order both ways") {
    StreamPair pair = make();
    const std::vector<std::uint8_t> forward = pattern(1000, 1);
    const std::vector<std::uint8_t> backward = pattern(777, 2);
    CHECK(transfer(pair, *pair.left, *pair.right, forward) == forward);
    CHECK(transfer(pair, *pair.right, *pair.left, backward) == backward);
  }
  SUBCASE("read with nothing pending would block") {
    StreamPair pair = make();
    std::uint8_t buffer[16];
    std::size_t done = 99;
    CHECK(pair.right->read(buffer, sizeof buffer, &done) == IoStatus::kWouldBlock);
    CHECK(done == 0);
  }
  SUBCASE("zero-size calls do nothing") {
    StreamPair pair = make();
    std::uint8_t buffer[1] = {7};
    std::size_t done = 99;
    CHECK(pair.left->write(buffer, 0, &done) == IoStatus::kOk);
    CHECK(done == 0);
    CHECK(pair.right->read(buffer, 0, &done) == IoStatus::kOk);
    CHECK(done == 0);
  }
  SUBCASE("large transfer survives partial writes") {
    StreamPair pair = make();
    const std::vector<std::uint8_t> data = pattern(3 << 20, 3);
    CHECK(transfer(pair, *pair.left, *pair.right, data) == data);
  }
  SUBCASE("close delivers pending bytes then closed") {
    StreamPair pair = make();
    const std::vector<std::uint8_t> data = pattern(100, 4);
    std::size_t done = 0;
    REQUIRE(pair.left->write(data.data(), data.size(), &done) == IoStatus::kOk);
    REQUIRE(done == data.size());
    pair.progress();
    pair.left->close();
    std::vector<std::uint8_t> received;
    IoStatus status = IoStatus::kWouldBlock;
    std::uint8_t buffer[64];
    for (int round = 0; round < 10000 && status != IoStatus::kClosed; ++round) {
      pair.progress();
      status = pair.right->read(buffer, sizeof buffer, &done);
      received.insert(received.end(), buffer, buffer + done);
    }
    CHECK(received == data);
    CHECK(status == IoStatus::kClosed);
    CHECK(pair.right->read(buffer, sizeof buffer, &done) == IoStatus::kClosed);
  }
  SUBCASE("write after close is closed") {
    StreamPair pair = make();
    pair.left->close();
    std::uint8_t byte = 1;
    std::size_t done = 99;
    CHECK(pair.left->write(&byte, 1, &done) == IoStatus::kClosed);
    CHECK(done == 0);
  }
}

}  // namespace ecq::transport::test
