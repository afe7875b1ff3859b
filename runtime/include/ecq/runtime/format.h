#pragma once
// printf-style formatting that does not depend on the C library's printf.
// newlib-nano, the usual C library of Cortex-M firmware, formats %f, %e and
// %g only with _printf_float linked in, which calls malloc(), and it has no
// z length modifier. The runtime's log lines and error descriptions
// go through this formatter on every target, so they read the same on a
// microcontroller as on Linux.

#include <cstdarg>
#include <cstddef>

namespace ecq {

/// Formats like vsnprintf into buffer[0, capacity), always NUL-terminated
/// when capacity > 0, and returns the length the full text needs. It accepts
/// the conversions d i u o x X c s p f F e E g G and %. Specifications may
/// have the flags - + space # and 0, a width and a precision (also as *),
/// and the length modifiers hh h l ll L z j t. Never allocates. An unknown conversion is copied as text.
/// Floating-point conversions round to nearest, ties to even, with about
/// 106 bits of intermediate precision (double-double arithmetic).
/// NOTE: digits past the 17th significant one print as 0, where glibc prints
/// the exact binary value (%f of 1e30, %.20g).
std::size_t vformat_printf(char* buffer, std::size_t capacity, const char* format, va_list arguments);

/// Formats like snprintf; see vformat_printf().
std::size_t format_printf(char* buffer, std::size_t capacity, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace ecq
