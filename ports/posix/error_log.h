#pragma once
// Error reporting shared by the POSIX port's sources.

#include <cstddef>

namespace ecq::port::detail {

/// Returns the message for errno value `error`. The text may be written into
/// buffer[0..capacity), so it lives as long as the buffer.
const char* error_text(int error, char* buffer, std::size_t capacity);

/// Formats a message printf-style (at most 255 characters; longer ones are
/// cut) and writes it with log_write() at level kError.
void log_error(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace ecq::port::detail
