#include "ecq/runtime/log.h"

#include <cstdarg>
#include <cstring>

#include "ecq/runtime/format.h"

namespace ecq {
namespace {

LogSink g_sink = nullptr;
LogLevel g_level = LogLevel::kInfo;

}  // namespace

void set_log_sink(LogSink sink) { g_sink = sink; }

void set_log_level(LogLevel level) { g_level = level; }

bool parse_log_level(const char* name, LogLevel* level) {
  static const struct {
    const char* name;
    LogLevel level;
  } kLevels[] = {{"error", LogLevel::kError},
                 {"warning", LogLevel::kWarning},
                 {"info", LogLevel::kInfo},
                 {"debug", LogLevel::kDebug}};
  for (const auto& entry : kLevels) {
    if (std::strcmp(name, entry.name) == 0) {
      *level = entry.level;
      return true;
    }
  }
  return false;
}

void log_message(LogLevel level, const char* format, ...) {
  if (static_cast<int>(level) > static_cast<int>(g_level)) {
    return;
  }
  char message[256];
  va_list arguments;
  va_start(arguments, format);
  vformat_printf(message, sizeof message, format, arguments);
  va_end(arguments);
  if (g_sink != nullptr) {
    g_sink(level, message);
  } else {
    port::log_write(level, message);
  }
}

}  // namespace ecq
