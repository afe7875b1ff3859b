#pragma once
// A temporary directory for tests that write files.

#include <string>

namespace ecq::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
/// destruction. Throws std::runtime_error when it cannot be made.
class TempDir {
 public:
  /// `prefix` starts the directory's name, e.g. "ecq-data-test".
  explicit TempDir(const std::string& prefix = "ecq-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// Returns the path of `name` inside the directory.
  std::string path(const std::string& name) const { return path_ + "/" + name; }

  /// Writes `bytes` to `name` as they are (mode 0644) and returns the path.
  /// Throws std::runtime_error when the write fails.
  std::string write(const std::string& name, const std::string& bytes) const;

 private:
  std::string path_;
};

}  // namespace ecq::test
