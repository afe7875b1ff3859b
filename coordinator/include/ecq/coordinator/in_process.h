#pragma once
// An in-process transport for the engine: one session over any Stream,
// typically the coordinator's end of a transport::MemoryPipe. The simulator
// and the tests drive many of these from one thread, calling pump() after
// the devices have written and engine.tick() on their clock. Ids are
// unauthenticated (taken from hello) unless the caller says otherwise.

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "ecq/coordinator/engine.h"
#include "ecq/transport/stream.h"

namespace ecq::coordinator {

/// Writes as much of `queue` to `stream` as it takes now and removes what
/// was written. Returns kOk when the queue is empty, else the status that
/// stopped the writing (kWouldBlock, kClosed or kError).
transport::IoStatus write_queued(std::deque<std::uint8_t>* queue, transport::Stream& stream);

/// Passes what `stream` has to `engine` as bytes of `session` until a read
/// moves nothing or `keep_reading()` returns false (the engine may close the
/// session while it handles the bytes). Returns kOk when keep_reading()
/// stopped it, else the status of the last read: kWouldBlock, kClosed or
/// kError. The caller reports a closed or failed stream to the engine.
template <typename KeepReading>
transport::IoStatus read_into_engine(Engine& engine, SessionId session, transport::Stream& stream,
                                     std::uint64_t now_ms, KeepReading keep_reading) {
  std::uint8_t buffer[16384];
  while (keep_reading()) {
    std::size_t done = 0;
    const transport::IoStatus status = stream.read(buffer, sizeof buffer, &done);
    if (status != transport::IoStatus::kOk) {
      return status;
    }
    if (done == 0) {
      return transport::IoStatus::kWouldBlock;
    }
    engine.receive(session, buffer, done, now_ms);
  }
  return transport::IoStatus::kOk;
}

/// Returns the reason a session ended for close_session(): "peer closed" for
/// kClosed, else the stream's error message.
inline const char* end_of_stream_reason(transport::IoStatus status, const transport::Stream& stream) {
  return status == transport::IoStatus::kClosed ? "peer closed" : stream.error_message();
}

class StreamSession final : public SessionOutput {
 public:
  /// `engine` and `stream` must outlive the session.
  StreamSession(Engine& engine, transport::Stream& stream) : engine_(engine), stream_(stream) {}
  StreamSession(const StreamSession&) = delete;
  StreamSession& operator=(const StreamSession&) = delete;
  ~StreamSession() = default;

  /// Opens the engine session.
  void open(std::uint64_t now_ms, const std::string& authenticated_id = "", bool authenticated = false);

  /// Flushes queued output, then feeds everything readable to the engine.
  /// Reports the close to the engine when the stream ends or fails. Returns
  /// false once the session is over.
  bool pump(std::uint64_t now_ms);

  bool closed() const { return closed_; }
  SessionId id() const { return id_; }
  /// Bytes queued for the stream and not yet written.
  std::size_t queued_bytes() const { return queue_.size(); }

  void send(const std::uint8_t* data, std::size_t size) override;
  void close() override;

 private:
  void flush();

  Engine& engine_;
  transport::Stream& stream_;
  SessionId id_ = 0;
  std::deque<std::uint8_t> queue_;
  bool closing_ = false;  // the engine asked to close after the queued bytes
  bool closed_ = false;
};

}  // namespace ecq::coordinator
