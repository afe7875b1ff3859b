#include "stderr_capture.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace ecq::port::testing {

StderrCapture::StderrCapture() {
  int ends[2];
  if (::pipe(ends) != 0) {
    std::perror("pipe");
    return;
  }
  // A non-blocking write end drops output that does not fit instead of
  // blocking the test on its own pipe.
  ::fcntl(ends[1], F_SETFL, O_NONBLOCK);
  std::fflush(stderr);
  saved_stderr_ = ::dup(STDERR_FILENO);
  ::dup2(ends[1], STDERR_FILENO);
  ::close(ends[1]);
  read_end_ = ends[0];
}

StderrCapture::~StderrCapture() { finish(); }

std::string StderrCapture::finish() {
  std::string text;
  if (saved_stderr_ < 0) {
    return text;
  }
  std::fflush(stderr);
  // Restoring fd 2 closes the last write end, so the reads below end.
  ::dup2(saved_stderr_, STDERR_FILENO);
  ::close(saved_stderr_);
  saved_stderr_ = -1;
  char buffer[4096];
  for (;;) {
    const ssize_t result = ::read(read_end_, buffer, sizeof buffer);
    if (result <= 0) {
      break;
    }
    text.append(buffer, static_cast<std::size_t>(result));
  }
  ::close(read_end_);
  read_end_ = -1;
  return text;
}

int count_lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

}  // namespace ecq::port::testing
