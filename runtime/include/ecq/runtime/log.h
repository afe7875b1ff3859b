#pragma once
// Levelled logging for device code: printf-style formatting with
// ecq::vformat_printf (format.h, so %g works on newlib-nano too) into a fixed
// stack buffer, then one call to the platform port (ecq::port::log_write).

#include "ecq/port/log.h"

namespace ecq {

/// Receives every finished log line; the default sink is port::log_write.
using LogSink = void (*)(LogLevel level, const char* message);

/// Replaces the sink, or restores the port's sink when `sink` is nullptr.
/// Not thread-safe: set it once at start-up or in tests.
void set_log_sink(LogSink sink);

/// Drops messages less severe than `level` (default kInfo).
void set_log_level(LogLevel level);

/// Parses "error", "warning", "info" or "debug" into *level. Returns false
/// for any other text and leaves *level unchanged.
bool parse_log_level(const char* name, LogLevel* level);

/// Formats a message of at most 255 characters (longer ones are cut) and
/// passes it to the sink.
void log_message(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace ecq
