#pragma once
// The byte-stream interface every transport implements: TCP over the port
// socket (devices), Asio TCP (coordinator), TLS on top of either, and an
// in-process pair for tests.
//
// Semantics, the same for every implementation:
//   - Calls never block. read() and write() move what they can now and
//     report it in *done; moving fewer bytes than asked is normal.
//   - kWouldBlock: nothing could move now (*done == 0). Retry after the
//     underlying transport has progressed (a driver's wait or tick).
//   - kClosed: the peer closed and every byte it sent has been read (read),
//     or the stream can no longer send (write). Sticky.
//   - kError: the stream failed; error_message() says why. Sticky.
//   - A read or write of 0 bytes returns kOk without effect.

#include <cstddef>
#include <cstdint>

namespace ecq::transport {

enum class [[nodiscard]] IoStatus : std::int32_t{kOk = 0, kWouldBlock, kClosed, kError};

/// Returns "ok", "would block", "closed" or "error".
const char* io_status_name(IoStatus status);

class Stream {
 public:
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  /// Reads up to `capacity` bytes into `buffer`; stores the count in *done.
  virtual IoStatus read(std::uint8_t* buffer, std::size_t capacity, std::size_t* done) = 0;

  /// Writes up to `size` bytes from `data`; stores the count in *done.
  virtual IoStatus write(const std::uint8_t* data, std::size_t size, std::size_t* done) = 0;

  /// Closes the sending direction after the bytes already written; reading
  /// may continue until kClosed.
  virtual void close() = 0;

  /// A one-line description of the failure after kError, else "".
  virtual const char* error_message() const = 0;

 protected:
  Stream() = default;
  // Not virtual: streams are never deleted through this interface, so no
  // deleting destructor is pulled into firmware.
  ~Stream() = default;
};

}  // namespace ecq::transport
