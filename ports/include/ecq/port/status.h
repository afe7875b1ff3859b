#pragma once
// Result of a platform port call. The port layer sits below the runtime, so it
// has its own small status type.

#include <cstdint>

namespace ecq::port {

enum class [[nodiscard]] PortStatus : std::int32_t {
  kOk = 0,
  kWouldBlock,  ///< a non-blocking call could not make progress now; wait and retry
  kClosed,      ///< the peer closed the connection (a receive of 0 bytes)
  kTimeout,     ///< a wait ended at its deadline
  kNotFound,    ///< a named blob or host does not exist
  kInvalidArgument,
  kError,       ///< any other failure; the port logs the system error
};

/// Returns a name such as "would block".
const char* port_status_name(PortStatus status);

}  // namespace ecq::port
