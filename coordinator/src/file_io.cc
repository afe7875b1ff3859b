#include "file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "ecq/runtime/crc32c.h"

namespace ecq::coordinator {

void ByteWriter::checksum() { u32(crc32c(bytes_.data(), bytes_.size())); }

std::string system_error(const char* what, const std::string& path) {
  return std::string(what) + " " + path + " failed: " + std::strerror(errno);
}

bool file_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

namespace {

bool write_all(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

std::string parent_directory(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

bool sync_parent_directory(const std::string& path, std::string* error) {
  const std::string directory = parent_directory(path);
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    *error = system_error("opening directory", directory);
    return false;
  }
  const bool ok = ::fsync(fd) == 0;
  if (!ok) {
    *error = system_error("fsync of directory", directory);
  }
  ::close(fd);
  return ok;
}

bool write_file_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes, std::string* error) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = system_error("creating", temporary) + "; check that the directory exists and is writable";
    return false;
  }
  if (!write_all(fd, bytes.data(), bytes.size()) || ::fsync(fd) != 0) {
    *error = system_error("writing", temporary) + "; check the free space";
    ::close(fd);
    ::unlink(temporary.c_str());
    return false;
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    *error = system_error("renaming to", path);
    ::unlink(temporary.c_str());
    return false;
  }
  return sync_parent_directory(path, error);
}

bool read_whole_file(const std::string& path, std::vector<std::uint8_t>* bytes, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = system_error("opening", path);
    return false;
  }
  bytes->clear();
  std::uint8_t buffer[65536];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      *error = system_error("reading", path);
      ::close(fd);
      return false;
    }
    if (got == 0) {
      break;
    }
    bytes->insert(bytes->end(), buffer, buffer + got);
  }
  ::close(fd);
  return true;
}

}  // namespace ecq::coordinator
