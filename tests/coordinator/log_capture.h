#pragma once
// Collects the engine's log lines during a test.

#include <string>
#include <vector>

#include "ecq/runtime/log.h"

namespace ecq::coordinator::test {

class LogCapture {
 public:
  LogCapture() {
    lines().clear();
    set_log_sink(&LogCapture::sink);
  }
  ~LogCapture() { set_log_sink(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  /// True when a captured line contains `text`.
  bool contains(const std::string& text) const {
    for (const std::string& line : lines()) {
      if (line.find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

 private:
  static std::vector<std::string>& lines() {
    static std::vector<std::string> captured;
    return captured;
  }
  static void sink(LogLevel, const char* message) { lines().push_back(message); }
};

}  // namespace ecq::coordinator::test
