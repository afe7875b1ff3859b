#include "error_log.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "ecq/port/log.h"

namespace ecq::port::detail {
namespace {

// glibc declares the GNU strerror_r, which returns the text; the XSI version
// returns 0 and fills the buffer. One overload accepts each result type.
[[maybe_unused]] const char* strerror_result(const char* text, const char*) { return text; }

[[maybe_unused]] const char* strerror_result(int result, const char* buffer) {
  return result == 0 ? buffer : "unknown error";
}

}  // namespace

const char* error_text(int error, char* buffer, std::size_t capacity) {
  buffer[0] = '\0';
  return strerror_result(strerror_r(error, buffer, capacity), buffer);
}

void log_error(const char* format, ...) {
  char message[256];
  va_list arguments;
  va_start(arguments, format);
  std::vsnprintf(message, sizeof message, format, arguments);
  va_end(arguments);
  log_write(LogLevel::kError, message);
}

}  // namespace ecq::port::detail
