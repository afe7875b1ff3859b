#include "ecq/port/status.h"

namespace ecq::port {

const char* port_status_name(PortStatus status) {
  switch (status) {
    case PortStatus::kOk: return "ok";
    case PortStatus::kWouldBlock: return "would block";
    case PortStatus::kClosed: return "closed";
    case PortStatus::kTimeout: return "timed out";
    case PortStatus::kNotFound: return "not found";
    case PortStatus::kInvalidArgument: return "invalid argument";
    case PortStatus::kError: return "error";
  }
  return "unknown status";
}

}  // namespace ecq::port
