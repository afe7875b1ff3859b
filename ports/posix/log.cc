// POSIX port: log lines go to standard error, one write per line so that lines
// from several threads do not interleave.

#include "ecq/port/log.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace ecq::port {
namespace {

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "log";
}

}  // namespace

void log_write(LogLevel level, const char* message) {
  char line[512];
  const int length = std::snprintf(line, sizeof line, "ecq %s: %s\n", level_name(level), message);
  if (length <= 0) {
    return;
  }
  std::size_t size =
      static_cast<std::size_t>(length) < sizeof line ? static_cast<std::size_t>(length) : sizeof line - 1;
  if (static_cast<std::size_t>(length) >= sizeof line) {
    line[size - 1] = '\n';  // keep a truncated line terminated
  }
  const ssize_t ignored = ::write(STDERR_FILENO, line, size);
  (void)ignored;
}

}  // namespace ecq::port
