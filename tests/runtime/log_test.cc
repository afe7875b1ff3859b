#include "ecq/runtime/log.h"

#include <doctest/doctest.h>

TEST_CASE("log level names parse") {
  ecq::LogLevel level = ecq::LogLevel::kInfo;
  CHECK(ecq::parse_log_level("error", &level));
  CHECK(level == ecq::LogLevel::kError);
  CHECK(ecq::parse_log_level("warning", &level));
  CHECK(level == ecq::LogLevel::kWarning);
  CHECK(ecq::parse_log_level("debug", &level));
  CHECK(level == ecq::LogLevel::kDebug);
  CHECK(ecq::parse_log_level("info", &level));
  CHECK(level == ecq::LogLevel::kInfo);
}

TEST_CASE("log level unknown name rejected") {
  ecq::LogLevel level = ecq::LogLevel::kDebug;
  CHECK_FALSE(ecq::parse_log_level("verbose", &level));
  CHECK_FALSE(ecq::parse_log_level("", &level));
  CHECK_FALSE(ecq::parse_log_level("Error", &level));
  CHECK(level == ecq::LogLevel::kDebug);
}
