#pragma once
// Capture of the port's log lines, which the POSIX port writes to standard
// error.

#include <string>

namespace ecq::port::testing {

/// Redirects file descriptor 2 into a pipe from construction until finish()
/// or destruction. Output beyond the pipe's capacity (64 KiB on Linux) is
/// dropped.
class StderrCapture {
 public:
  StderrCapture();
  ~StderrCapture();
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  /// Restores standard error and returns everything written since the start.
  std::string finish();

 private:
  int saved_stderr_ = -1;
  int read_end_ = -1;
};

/// Returns how many '\n'-terminated lines `text` contains.
int count_lines(const std::string& text);

}  // namespace ecq::port::testing
