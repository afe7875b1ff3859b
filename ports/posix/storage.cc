// POSIX port: each blob is a file in the storage directory (see posix.h).
// A write goes to a temporary file in the same directory, which is synced and
// then renamed over the blob. rename() replaces the directory entry
// atomically, so readers and a crash see either the old or the new file.

#include "ecq/port/storage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "ecq/port/posix.h"
#include "error_log.h"
#include "storage_name.h"

namespace ecq::port {
namespace {

constexpr std::size_t kMaxDirectoryLength = 3968;
// Room for the directory, '/', '.', the name and the ".tmp-XXXXXX" suffix,
// within PATH_MAX (4096 on Linux).
constexpr std::size_t kPathCapacity = kMaxDirectoryLength + 128;
constexpr const char* kDefaultDirectory = "./ecq-storage";
constexpr const char* kDirectoryVariable = "ECQ_STORAGE_DIR";

std::mutex g_directory_mutex;
char g_directory[kMaxDirectoryLength + 1] = "";  // "" selects the default
bool g_directory_rejected = false;

// Copies the storage directory in effect into directory[0..kMaxDirectoryLength].
// Returns false, after logging why, when no usable directory is set.
bool copy_storage_directory(char* directory) {
  const std::lock_guard<std::mutex> lock(g_directory_mutex);
  if (g_directory_rejected) {
    detail::log_error("storage directory is unusable: the last set_storage_directory() path was too long");
    return false;
  }
  const char* source = g_directory;
  if (source[0] == '\0') {
    const char* variable = std::getenv(kDirectoryVariable);
    source = variable != nullptr && variable[0] != '\0' ? variable : kDefaultDirectory;
  }
  const std::size_t length = std::strlen(source);
  if (length > kMaxDirectoryLength) {
    detail::log_error("storage directory from %s is too long: %zu characters, the maximum is %zu", kDirectoryVariable,
                      length, kMaxDirectoryLength);
    return false;
  }
  std::memcpy(directory, source, length + 1);
  return true;
}

// Flushes the entries of `directory` (new, renamed or removed files) to disk.
bool sync_directory(const char* directory) {
  char text[128];
  const int fd = ::open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    detail::log_error("open of storage directory %s failed: %s", directory,
                      detail::error_text(errno, text, sizeof text));
    return false;
  }
  // Some file systems reject fsync() on a directory with EINVAL. They offer
  // no other way to flush it, so that counts as done.
  const int error = ::fsync(fd) == 0 ? 0 : errno;
  const bool synced = error == 0 || error == EINVAL;
  if (!synced) {
    detail::log_error("fsync of storage directory %s failed: %s", directory,
                      detail::error_text(error, text, sizeof text));
  }
  ::close(fd);
  return synced;
}

// Creates the storage directory with mode 0700 and syncs its parent, so the
// new directory survives a power loss together with the first blob.
bool create_directory(const char* directory) {
  char text[128];
  if (::mkdir(directory, 0700) != 0) {
    if (errno == EEXIST) {
      return true;  // another thread or process created it first
    }
    detail::log_error(
        "mkdir of storage directory %s failed: %s (its parent must exist; set %s or call "
        "set_storage_directory() to choose another)",
        directory, detail::error_text(errno, text, sizeof text), kDirectoryVariable);
    return false;
  }

  char parent[kPathCapacity];
  std::snprintf(parent, sizeof parent, "%s", directory);
  std::size_t length = std::strlen(parent);
  while (length > 1 && parent[length - 1] == '/') {
    parent[--length] = '\0';
  }
  char* slash = std::strrchr(parent, '/');
  if (slash == nullptr) {
    std::snprintf(parent, sizeof parent, ".");
  } else if (slash == parent) {
    parent[1] = '\0';
  } else {
    *slash = '\0';
  }
  return sync_directory(parent);
}

// Creates a new temporary file for blob `name`, creating the directory when
// it is missing. Stores its path in temporary[0..kPathCapacity) and returns
// the descriptor, or -1 after logging the failure.
int create_temporary_file(const char* directory, const char* name, char* temporary) {
  // The leading '.' keeps temporary files apart from blobs, whose names
  // never start with '.'.
  std::snprintf(temporary, kPathCapacity, "%s/.%s.tmp-XXXXXX", directory, name);
  int fd = ::mkostemp(temporary, O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (!create_directory(directory)) {
      return -1;
    }
    // mkostemp() overwrites the X characters even when it fails.
    std::snprintf(temporary, kPathCapacity, "%s/.%s.tmp-XXXXXX", directory, name);
    fd = ::mkostemp(temporary, O_CLOEXEC);
  }
  if (fd < 0) {
    char text[128];
    detail::log_error("creating a temporary file in storage directory %s failed: %s", directory,
                      detail::error_text(errno, text, sizeof text));
  }
  return fd;
}

bool write_all(int fd, const std::uint8_t* data, std::size_t size, const char* path) {
  std::size_t written = 0;
  while (written < size) {
    const ssize_t result = ::write(fd, data + written, size - written);
    if (result < 0) {
      if (errno == EINTR) {
        continue;
      }
      char text[128];
      detail::log_error("write to %s failed after %zu of %zu bytes: %s", path, written, size,
                        detail::error_text(errno, text, sizeof text));
      return false;
    }
    written += static_cast<std::size_t>(result);
  }
  return true;
}

// Writes, syncs and closes the temporary file; always closes `fd`.
bool finish_temporary_file(int fd, const std::uint8_t* data, std::size_t size, const char* temporary) {
  char text[128];
  bool ok = write_all(fd, data, size, temporary);
  if (ok && ::fsync(fd) != 0) {
    detail::log_error("fsync of %s failed: %s", temporary, detail::error_text(errno, text, sizeof text));
    ok = false;
  }
  // A failed close() may report a lost write, and the descriptor is released
  // even then, so it is not retried.
  if (::close(fd) != 0 && ok) {
    detail::log_error("close of %s failed: %s", temporary, detail::error_text(errno, text, sizeof text));
    ok = false;
  }
  return ok;
}

bool read_all(int fd, std::uint8_t* buffer, std::size_t size, const char* path) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t result = ::read(fd, buffer + done, size - done);
    if (result < 0 && errno == EINTR) {
      continue;
    }
    if (result <= 0) {
      char text[128];
      detail::log_error("read of %s failed after %zu of %zu bytes: %s", path, done, size,
                        result == 0 ? "the file ended early" : detail::error_text(errno, text, sizeof text));
      return false;
    }
    done += static_cast<std::size_t>(result);
  }
  return true;
}

}  // namespace

void set_storage_directory(const char* path) {
  const std::lock_guard<std::mutex> lock(g_directory_mutex);
  const std::size_t length = path != nullptr ? std::strlen(path) : 0;
  g_directory_rejected = length > kMaxDirectoryLength;
  if (g_directory_rejected) {
    detail::log_error("storage directory path is too long: %zu characters, the maximum is %zu", length,
                      kMaxDirectoryLength);
    g_directory[0] = '\0';
    return;
  }
  std::memcpy(g_directory, path != nullptr ? path : "", length + 1);
}

namespace {

// Copies the storage directory into `directory` and writes the path of blob
// `name` into `path`; false when no directory can be determined.
bool blob_path(const char* name, char (&directory)[kMaxDirectoryLength + 1], char (&path)[kPathCapacity]) {
  if (!copy_storage_directory(directory)) {
    return false;
  }
  std::snprintf(path, sizeof path, "%s/%s", directory, name);
  return true;
}

}  // namespace

PortStatus storage_write(const char* name, const std::uint8_t* data, std::size_t size) {
  if (!detail::is_valid_storage_name(name) || (data == nullptr && size > 0)) {
    return PortStatus::kInvalidArgument;
  }
  char directory[kMaxDirectoryLength + 1];
  char target[kPathCapacity];
  if (!blob_path(name, directory, target)) {
    return PortStatus::kError;
  }

  char temporary[kPathCapacity];
  const int fd = create_temporary_file(directory, name, temporary);
  if (fd < 0) {
    return PortStatus::kError;
  }
  bool ok = finish_temporary_file(fd, data, size, temporary);
  if (ok && ::rename(temporary, target) != 0) {
    char text[128];
    detail::log_error("rename of %s to %s failed: %s", temporary, target, detail::error_text(errno, text, sizeof text));
    ok = false;
  }
  if (!ok) {
    ::unlink(temporary);
    return PortStatus::kError;
  }

  // The blob already contains the new content here, but without the directory
  // sync a power loss could bring back the old one.
  return sync_directory(directory) ? PortStatus::kOk : PortStatus::kError;
}

PortStatus storage_read(const char* name, std::uint8_t* buffer, std::size_t capacity, std::size_t* size) {
  if (!detail::is_valid_storage_name(name) || size == nullptr || (buffer == nullptr && capacity > 0)) {
    return PortStatus::kInvalidArgument;
  }
  *size = 0;
  char directory[kMaxDirectoryLength + 1];
  char path[kPathCapacity];
  if (!blob_path(name, directory, path)) {
    return PortStatus::kError;
  }

  char text[128];
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return PortStatus::kNotFound;
    }
    detail::log_error("open of %s failed: %s", path, detail::error_text(errno, text, sizeof text));
    return PortStatus::kError;
  }

  PortStatus status = PortStatus::kOk;
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    detail::log_error("fstat of %s failed: %s", path, detail::error_text(errno, text, sizeof text));
    status = PortStatus::kError;
  } else if (!S_ISREG(info.st_mode)) {
    detail::log_error("storage blob %s is not a regular file", path);
    status = PortStatus::kError;
  } else if (static_cast<std::uint64_t>(info.st_size) > capacity) {
    *size = static_cast<std::size_t>(info.st_size);
    status = PortStatus::kInvalidArgument;
  } else if (read_all(fd, buffer, static_cast<std::size_t>(info.st_size), path)) {
    // Writes replace the file instead of changing it, so the size from
    // fstat() stays valid while the descriptor is open.
    *size = static_cast<std::size_t>(info.st_size);
  } else {
    status = PortStatus::kError;
  }
  ::close(fd);
  return status;
}

PortStatus storage_remove(const char* name) {
  if (!detail::is_valid_storage_name(name)) {
    return PortStatus::kInvalidArgument;
  }
  char directory[kMaxDirectoryLength + 1];
  char path[kPathCapacity];
  if (!blob_path(name, directory, path)) {
    return PortStatus::kError;
  }

  if (::unlink(path) != 0) {
    if (errno == ENOENT) {
      return PortStatus::kNotFound;
    }
    char text[128];
    detail::log_error("unlink of %s failed: %s", path, detail::error_text(errno, text, sizeof text));
    return PortStatus::kError;
  }
  return sync_directory(directory) ? PortStatus::kOk : PortStatus::kError;
}

}  // namespace ecq::port
