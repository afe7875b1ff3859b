#pragma once
// Logging hook that every platform port implements. The device runtime formats
// each message into a fixed stack buffer and hands the finished line here.

#include <cstdint>

namespace ecq {

enum class LogLevel : std::uint8_t { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

namespace port {

/// Writes one complete log line (no trailing newline) at `level`. Must not
/// allocate or block for long; it may drop the line if the sink is busy.
void log_write(LogLevel level, const char* message);

}  // namespace port
}  // namespace ecq
