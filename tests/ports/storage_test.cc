#include "ecq/port/storage.h"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "ecq/port/posix.h"
#include "stderr_capture.h"

namespace ecq::port {
namespace {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR (or /tmp), set as the storage directory.
// The destructor restores the default directory and removes this one.
class StorageDirectory {
 public:
  StorageDirectory() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && base[0] != '\0' ? base : "/tmp") + "/ecq-port-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    root_ = pattern;
    set_storage_directory(root_.c_str());
  }

  ~StorageDirectory() {
    set_storage_directory(nullptr);
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  StorageDirectory(const StorageDirectory&) = delete;
  StorageDirectory& operator=(const StorageDirectory&) = delete;

  const std::string& path() const { return root_; }

  /// Returns the sorted names of the files in `directory` (default: the root).
  std::vector<std::string> entries(const std::string& directory = "") const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory.empty() ? root_ : directory)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string root_;
};

std::vector<std::uint8_t> pattern_bytes(std::size_t size, std::uint8_t seed) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<std::uint8_t>(i * 31 + seed);
  }
  return bytes;
}

PortStatus write_blob(const char* name, const std::vector<std::uint8_t>& data) {
  return storage_write(name, data.data(), data.size());
}

// Reads blob `name` into a 1 MiB buffer and returns its bytes.
std::vector<std::uint8_t> read_blob(const char* name, PortStatus* status) {
  std::vector<std::uint8_t> buffer(std::size_t{1} << 20);
  std::size_t size = 0;
  *status = storage_read(name, buffer.data(), buffer.size(), &size);
  buffer.resize(*status == PortStatus::kOk ? size : 0);
  return buffer;
}

unsigned permissions_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 0777u;
}

// Sets or unsets an environment variable and restores it on destruction.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_value_ = old != nullptr;
    old_value_ = had_value_ ? old : "";
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }

  ~ScopedEnvironment() {
    if (had_value_) {
      ::setenv(name_.c_str(), old_value_.c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::string name_;
  std::string old_value_;
  bool had_value_ = false;
};

TEST_CASE("storage round trip") {
  const StorageDirectory directory;
  const std::vector<std::uint8_t> data = pattern_bytes(1000, 7);
  REQUIRE(write_blob("credentials", data) == PortStatus::kOk);
  PortStatus status = PortStatus::kError;
  const std::vector<std::uint8_t> read = read_blob("credentials", &status);
  CHECK(status == PortStatus::kOk);
  CHECK(read == data);
}

TEST_CASE("storage replaces blob") {
  const StorageDirectory directory;
  REQUIRE(write_blob("state", pattern_bytes(1000, 1)) == PortStatus::kOk);
  const std::vector<std::uint8_t> newer = pattern_bytes(10, 2);
  REQUIRE(write_blob("state", newer) == PortStatus::kOk);
  PortStatus status = PortStatus::kError;
  const std::vector<std::uint8_t> read = read_blob("state", &status);
  CHECK(status == PortStatus::kOk);
  CHECK(read == newer);
}

TEST_CASE("storage empty blob") {
  const StorageDirectory directory;
  REQUIRE(storage_write("empty", nullptr, 0) == PortStatus::kOk);
  std::uint8_t buffer[16];
  std::size_t size = 99;
  CHECK(storage_read("empty", buffer, sizeof buffer, &size) == PortStatus::kOk);
  CHECK(size == 0);
}

TEST_CASE("storage leaves no temporary files") {
  const StorageDirectory directory;
  for (std::uint8_t round = 0; round < 5; ++round) {
    REQUIRE(write_blob("alpha", pattern_bytes(100 + round, round)) == PortStatus::kOk);
    REQUIRE(write_blob("beta", pattern_bytes(200, round)) == PortStatus::kOk);
  }
  REQUIRE(write_blob("gamma", pattern_bytes(5, 0)) == PortStatus::kOk);
  REQUIRE(storage_remove("gamma") == PortStatus::kOk);
  CHECK(directory.entries() == std::vector<std::string>{"alpha", "beta"});
}

TEST_CASE("storage file modes") {
  const StorageDirectory directory;
  const std::string created = directory.path() + "/created";
  set_storage_directory(created.c_str());
  REQUIRE(write_blob("key", pattern_bytes(32, 3)) == PortStatus::kOk);
  CHECK(permissions_of(created) == 0700u);
  CHECK(permissions_of(created + "/key") == 0600u);
}

TEST_CASE("storage replace is atomic for readers") {
  // One thread alternates two contents of different sizes while this thread
  // reads. Every read must return one of them whole, and the blob must never
  // be missing.
  const StorageDirectory directory;
  const std::vector<std::uint8_t> first(64 * 1024, 0xAA);
  const std::vector<std::uint8_t> second(96 * 1024, 0xBB);
  REQUIRE(write_blob("model", first) == PortStatus::kOk);

  std::atomic<bool> writing{true};
  int write_failures = 0;
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) {
      if (write_blob("model", i % 2 == 0 ? second : first) != PortStatus::kOk) {
        ++write_failures;
      }
    }
    writing = false;
  });

  int reads = 0;
  int mixed = 0;
  int failed = 0;
  do {
    PortStatus status = PortStatus::kError;
    const std::vector<std::uint8_t> read = read_blob("model", &status);
    ++reads;
    if (status != PortStatus::kOk) {
      ++failed;
    } else if (read != first && read != second) {
      ++mixed;
    }
  } while (writing);
  writer.join();

  CHECK(write_failures == 0);
  CHECK(reads > 1);
  CHECK(failed == 0);
  CHECK(mixed == 0);
  CHECK(directory.entries() == std::vector<std::string>{"model"});
}

TEST_CASE("storage failed write keeps old content") {
  // Root ignores file permissions, so the write is made to fail with a file
  // size limit: write() returns EFBIG once the temporary file reaches it.
  const StorageDirectory directory;
  const std::vector<std::uint8_t> old_content = pattern_bytes(100, 4);
  REQUIRE(write_blob("errors", old_content) == PortStatus::kOk);

  rlimit saved_limit{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_limit) == 0);
  const auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small_limit = saved_limit;
  small_limit.rlim_cur = 4096;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small_limit) == 0);

  testing::StderrCapture capture;
  const PortStatus write_status = write_blob("errors", pattern_bytes(64 * 1024, 5));
  const std::string log = capture.finish();
  ::setrlimit(RLIMIT_FSIZE, &saved_limit);
  std::signal(SIGXFSZ, saved_handler);

  CHECK(write_status == PortStatus::kError);
  CHECK(testing::count_lines(log) == 1);
  CHECK(log.find("write to ") != std::string::npos);
  PortStatus status = PortStatus::kError;
  const std::vector<std::uint8_t> read = read_blob("errors", &status);
  CHECK(status == PortStatus::kOk);
  CHECK(read == old_content);
  CHECK(directory.entries() == std::vector<std::string>{"errors"});
}

TEST_CASE("storage rejects bad names") {
  const StorageDirectory directory;
  const std::string too_long(65, 'a');
  const char* names[] = {"", too_long.c_str(), "../x", ".hidden", "a/b", "..", ".", "a b", "a\\b", "caf\xC3\xA9", "x*"};
  const std::uint8_t data[] = {1, 2, 3};
  std::uint8_t buffer[8];
  for (const char* name : names) {
    CAPTURE(name);
    std::size_t size = 0;
    CHECK(storage_write(name, data, sizeof data) == PortStatus::kInvalidArgument);
    CHECK(storage_read(name, buffer, sizeof buffer, &size) == PortStatus::kInvalidArgument);
    CHECK(storage_remove(name) == PortStatus::kInvalidArgument);
  }
  CHECK(storage_write(nullptr, data, sizeof data) == PortStatus::kInvalidArgument);
  CHECK(directory.entries().empty());
}

TEST_CASE("storage accepts edge names") {
  const StorageDirectory directory;
  const std::string longest(64, 'z');
  const char* names[] = {longest.c_str(), "a", "-", "A.b_C-9", "x.", "a..b", "0"};
  for (const char* name : names) {
    CAPTURE(name);
    const std::vector<std::uint8_t> data = pattern_bytes(10, static_cast<std::uint8_t>(name[0]));
    CHECK(write_blob(name, data) == PortStatus::kOk);
    PortStatus status = PortStatus::kError;
    CHECK(read_blob(name, &status) == data);
    CHECK(status == PortStatus::kOk);
  }
}

TEST_CASE("storage read of missing blob") {
  const StorageDirectory directory;
  std::uint8_t buffer[8];
  std::size_t size = 99;
  CHECK(storage_read("missing", buffer, sizeof buffer, &size) == PortStatus::kNotFound);
  CHECK(size == 0);
}

TEST_CASE("storage read before first write") {
  const StorageDirectory directory;
  const std::string never_created = directory.path() + "/never-created";
  set_storage_directory(never_created.c_str());
  std::uint8_t buffer[8];
  std::size_t size = 0;
  CHECK(storage_read("missing", buffer, sizeof buffer, &size) == PortStatus::kNotFound);
  CHECK(storage_remove("missing") == PortStatus::kNotFound);
}

TEST_CASE("storage remove") {
  const StorageDirectory directory;
  REQUIRE(write_blob("session", pattern_bytes(10, 0)) == PortStatus::kOk);
  CHECK(storage_remove("session") == PortStatus::kOk);
  PortStatus status = PortStatus::kOk;
  read_blob("session", &status);
  CHECK(status == PortStatus::kNotFound);
  CHECK(storage_remove("session") == PortStatus::kNotFound);
}

TEST_CASE("storage too small buffer") {
  const StorageDirectory directory;
  REQUIRE(write_blob("blob", pattern_bytes(100, 9)) == PortStatus::kOk);
  std::vector<std::uint8_t> buffer(200, 0xEE);
  const std::size_t capacity = 99;
  std::size_t size = 0;
  CHECK(storage_read("blob", buffer.data(), capacity, &size) == PortStatus::kInvalidArgument);
  CHECK(size == 100);
  CHECK(std::all_of(buffer.begin() + capacity, buffer.end(), [](std::uint8_t byte) { return byte == 0xEE; }));
}

TEST_CASE("storage size query") {
  const StorageDirectory directory;
  REQUIRE(write_blob("blob", pattern_bytes(100, 9)) == PortStatus::kOk);
  std::size_t size = 0;
  CHECK(storage_read("blob", nullptr, 0, &size) == PortStatus::kInvalidArgument);
  CHECK(size == 100);
}

TEST_CASE("storage exact buffer") {
  const StorageDirectory directory;
  const std::vector<std::uint8_t> data = pattern_bytes(100, 9);
  REQUIRE(write_blob("blob", data) == PortStatus::kOk);
  std::vector<std::uint8_t> buffer(100);
  std::size_t size = 0;
  CHECK(storage_read("blob", buffer.data(), buffer.size(), &size) == PortStatus::kOk);
  CHECK(size == 100);
  CHECK(buffer == data);
}

TEST_CASE("storage directory from environment") {
  const StorageDirectory directory;
  const std::string from_environment = directory.path() + "/from-environment";
  const ScopedEnvironment environment("ECQ_STORAGE_DIR", from_environment.c_str());
  set_storage_directory(nullptr);
  REQUIRE(write_blob("blob", pattern_bytes(10, 0)) == PortStatus::kOk);
  CHECK(directory.entries(from_environment) == std::vector<std::string>{"blob"});
}

TEST_CASE("storage default directory") {
  const StorageDirectory directory;
  const ScopedEnvironment environment("ECQ_STORAGE_DIR", nullptr);
  set_storage_directory(nullptr);
  const fs::path working_directory = fs::current_path();
  fs::current_path(directory.path());
  const PortStatus status = write_blob("blob", pattern_bytes(10, 0));
  fs::current_path(working_directory);
  CHECK(status == PortStatus::kOk);
  CHECK(directory.entries(directory.path() + "/ecq-storage") == std::vector<std::string>{"blob"});
}

TEST_CASE("storage missing parent directory") {
  const StorageDirectory directory;
  const std::string orphan = directory.path() + "/no/such";
  set_storage_directory(orphan.c_str());
  testing::StderrCapture capture;
  const PortStatus status = write_blob("blob", pattern_bytes(10, 0));
  const std::string log = capture.finish();
  CHECK(status == PortStatus::kError);
  CHECK(log.find(orphan) != std::string::npos);
  CHECK(directory.entries().empty());
}

TEST_CASE("storage directory is a file") {
  const StorageDirectory directory;
  REQUIRE(write_blob("plain", pattern_bytes(10, 0)) == PortStatus::kOk);
  const std::string file = directory.path() + "/plain";
  set_storage_directory(file.c_str());
  testing::StderrCapture capture;
  const PortStatus status = write_blob("blob", pattern_bytes(10, 0));
  const std::string log = capture.finish();
  CHECK(status == PortStatus::kError);
  CHECK(testing::count_lines(log) == 1);
}

TEST_CASE("storage rejects long directory") {
  const StorageDirectory directory;
  const std::string too_long = directory.path() + "/" + std::string(4000, 'd');
  testing::StderrCapture capture;
  set_storage_directory(too_long.c_str());
  const PortStatus write_status = write_blob("blob", pattern_bytes(10, 0));
  std::uint8_t buffer[16];
  std::size_t size = 0;
  const PortStatus read_status = storage_read("blob", buffer, sizeof buffer, &size);
  const std::string log = capture.finish();
  CHECK(write_status == PortStatus::kError);
  CHECK(read_status == PortStatus::kError);
  CHECK(log.find("too long") != std::string::npos);

  set_storage_directory(directory.path().c_str());
  CHECK(write_blob("blob", pattern_bytes(10, 0)) == PortStatus::kOk);
}

}  // namespace
}  // namespace ecq::port
