// ecq::format_printf against the C library's snprintf (glibc on the hosts
// that run these tests), which formats every case below the way C99 defines.

#include "ecq/runtime/format.h"

#include <doctest/doctest.h>

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

namespace ecq {
namespace {

// Formats with both and checks that ecq::format_printf wrote the same text
// and returned the same length as snprintf.
#define CHECK_LIKE_SNPRINTF(...)                                                       \
  do {                                                                                 \
    char expected[512];                                                                \
    char actual[512];                                                                  \
    const int expected_size = std::snprintf(expected, sizeof expected, __VA_ARGS__);   \
    const std::size_t actual_size = format_printf(actual, sizeof actual, __VA_ARGS__); \
    CAPTURE(expected);                                                                 \
    CHECK(std::string(actual) == std::string(expected));                               \
    CHECK(actual_size == static_cast<std::size_t>(expected_size));                     \
  } while (false)

TEST_CASE("format_printf integers like snprintf") {
  CHECK_LIKE_SNPRINTF("%d %i %u", 42, -7, 4000000000u);
  CHECK_LIKE_SNPRINTF("%lld %llu", static_cast<long long>(INT64_MIN), static_cast<unsigned long long>(UINT64_MAX));
  CHECK_LIKE_SNPRINTF("%ld %lu %zu %td %jd", -123456789L, 123456789UL, static_cast<std::size_t>(SIZE_MAX),
                      static_cast<std::ptrdiff_t>(-5), static_cast<std::intmax_t>(INT64_MAX));
  CHECK_LIKE_SNPRINTF("%hhd %hhu %hd %hu", 300, 300, 70000, 70000);
  CHECK_LIKE_SNPRINTF("%x %X %o %#x %#X %#o %#o", 0xBEEFu, 0xBEEFu, 8u, 255u, 255u, 8u, 0u);
  CHECK_LIKE_SNPRINTF("[%5d] [%-5d] [%05d] [%+d] [% d] [%+05d]", 42, 42, -42, 42, 42, 42);
  CHECK_LIKE_SNPRINTF("[%.3d] [%.0d] [%8.3d]", 7, 0, -7);
  // GCC's -Wformat warns about these flags, which C99 defines as ignored.
  const char* ignored_zero_flags = "[%08.3d] [%-08d]";
  CHECK_LIKE_SNPRINTF(ignored_zero_flags, 7, 7);
  CHECK_LIKE_SNPRINTF("[%*d] [%-*d] [%.*d]", 6, 1, 6, 2, 4, 3);
  CHECK_LIKE_SNPRINTF("[%*d]", -6, 1);
  CHECK_LIKE_SNPRINTF("0x%08llX", 0x1234ABCDull);
}

TEST_CASE("format_printf text like snprintf") {
  CHECK_LIKE_SNPRINTF("[%s] [%10s] [%-10s] [%.3s] [%.*s]", "abc", "abc", "abc", "abcdef", 2, "abcdef");
  CHECK_LIKE_SNPRINTF("[%c] [%3c] [%-3c] 100%%", 'x', 'y', 'z');
  int object = 0;
  CHECK_LIKE_SNPRINTF("%p %p", static_cast<void*>(nullptr), static_cast<void*>(&object));
}

TEST_CASE("format_printf floats like snprintf") {
  const double values[] = {
      0.0,      -0.0,      1.0,        -1.0,        0.5,       1.5,       2.5,        0.125,      0.375,  9.5,    99.5,
      999999.5, 9999995.0, 0.1,        1e-5,        1.5e-5,    1e-4,      123456.0,   1234567.0,  1e15,   1e16,   1e21,
      1e22,     1e23,      3.14159265, 2.718281828, 1.0 / 3.0, 2.0 / 3.0, DBL_MAX,    DBL_MIN,    5e-324, 1e-300, 1e300,
      0.3,      0.29,      1.0000005,  0.0000995,   0.00001,   99999.95,  0.99999999, 9.9999999e9};
  for (const double value : values) {
    CAPTURE(value);
    CHECK_LIKE_SNPRINTF("%g %e %G %E", value, value, value, value);
    CHECK_LIKE_SNPRINTF("%.9g %.1g %.0g %#.3g %.15g", value, value, value, value, value);
    if (value != 999999.5) {
      CHECK_LIKE_SNPRINTF("%#g", value);
    }
    CHECK_LIKE_SNPRINTF("%.0e %.3e %#.0e %.12E", value, value, value, value);
    CHECK_LIKE_SNPRINTF("[%12.4g] [%-12.4g] [%012.4g] [%+g] [% g] [%+012.3e]", value, value, value, value, value,
                        value);
    if (std::fabs(value) < 1e15) {
      CHECK_LIKE_SNPRINTF("%f %.0f %.2f %#.0f %.10f %F", value, value, value, value, value, value);
    }
  }
}

TEST_CASE("format_printf keeps zeros of %#g after a carry") {
  // C99 keeps trailing zeros with #, also when rounding carries into the
  // exponent. glibc 2.36 prints "1.e+06" here.
  char buffer[32];
  format_printf(buffer, sizeof buffer, "%#g", 999999.5);
  CHECK(std::string(buffer) == "1.00000e+06");
}

TEST_CASE("format_printf infinity and nan") {
  const double infinity = HUGE_VAL;
  const double nan = std::nan("");
  CHECK_LIKE_SNPRINTF("%g %e %f %G %E %F", infinity, -infinity, infinity, infinity, -infinity, infinity);
  CHECK_LIKE_SNPRINTF("[%8g] [%-8g] [%08g] [%+g]", infinity, infinity, -infinity, infinity);
  CHECK_LIKE_SNPRINTF("%g %G %f", nan, nan, nan);
}

TEST_CASE("format_printf random doubles like snprintf") {
  std::mt19937_64 engine(11);
  std::uniform_real_distribution<double> mantissa(1.0, 10.0);
  std::uniform_int_distribution<int> exponent(-320, 300);
  for (int i = 0; i < 20000; ++i) {
    const double value = mantissa(engine) * std::pow(10.0, exponent(engine)) * (i % 2 == 0 ? 1.0 : -1.0);
    char expected[128];
    char actual[128];
    // %.6f of values from 1e11 on needs more than 17 significant digits,
    // which format.h documents as printed as zeros.
    const char* formats[] = {"%g", "%.9g", "%.3e", "%.15g", "%.17g", std::fabs(value) < 1e10 ? "%.6f" : "%.6e"};
    for (const char* format : formats) {
      std::snprintf(expected, sizeof expected, format, value);
      format_printf(actual, sizeof actual, format, value);
      if (std::strcmp(expected, actual) != 0) {
        CAPTURE(format);
        CAPTURE(value);
        CHECK(std::string(actual) == std::string(expected));
      }
    }
  }
}

TEST_CASE("format_printf truncates like snprintf") {
  char buffer[8];
  CHECK(format_printf(buffer, sizeof buffer, "%s=%g", "alpha", 0.25) == 10);
  CHECK(std::string(buffer) == "alpha=0");
  CHECK(format_printf(nullptr, 0, "%d", 12345) == 5);
  char one[1] = {'x'};
  CHECK(format_printf(one, 1, "%d", 7) == 1);
  CHECK(one[0] == '\0');
}

TEST_CASE("format_printf copies unknown conversions") {
  char buffer[32];
  const char* format = "a %y b %";
  CHECK(format_printf(buffer, sizeof buffer, format) == 8);
  CHECK(std::string(buffer) == "a %y b %");
}

}  // namespace
}  // namespace ecq
