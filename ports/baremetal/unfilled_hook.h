#pragma once
// Error path of the template's functions whose driver is not filled in yet.

#include "ecq/port/log.h"
#include "ecq/port/status.h"

namespace ecq::port::detail {

/// Logs `message` on the first call for this hook (tracked in *logged) and
/// returns kError.
inline PortStatus report_unfilled_hook(bool* logged, const char* message) {
  if (!*logged) {
    *logged = true;
    log_write(LogLevel::kError, message);
  }
  return PortStatus::kError;
}

}  // namespace ecq::port::detail
