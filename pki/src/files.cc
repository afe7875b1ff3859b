#include "ecq/pki/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "support.h"

namespace ecq::pki {
namespace {

using detail::fail;
using detail::quote;

// Returns "<action> '<path>': <strerror>" plus a hint for the common causes.
std::string system_message(const std::string& action, const std::string& path, int code) {
  std::string message = action + " " + quote(path) + ": " + std::strerror(code);
  if (code == ENOENT) {
    message += "; check the path and that the file or its directory exists";
  } else if (code == EACCES || code == EPERM) {
    message += "; check the permissions of the file and its directory";
  } else if (code == ENOSPC) {
    message += "; free some disk space";
  }
  return message;
}

// Writes all bytes and flushes them to disk. Returns 0 or an errno value.
int write_and_sync(int descriptor, const std::string& contents) {
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t count = ::write(descriptor, contents.data() + written, contents.size() - written);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count < 0) {
      return errno;
    }
    written += static_cast<std::size_t>(count);
  }
  return ::fsync(descriptor) == 0 ? 0 : errno;
}

// Sets mode 0600 (the open mode is reduced by the umask), writes, syncs and
// closes. Returns 0 or the first errno value.
int finish_private_file(int descriptor, const std::string& contents) {
  int code = ::fchmod(descriptor, 0600) == 0 ? 0 : errno;
  if (code == 0) {
    code = write_and_sync(descriptor, contents);
  }
  if (::close(descriptor) != 0 && code == 0) {
    code = errno;
  }
  return code;
}

}  // namespace

bool read_text_file(const std::string& path, std::string* text, std::string* error) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) {
    return fail(error, system_message("cannot open", path, errno));
  }
  std::string contents;
  char buffer[4096];
  for (;;) {
    const ssize_t count = ::read(descriptor, buffer, sizeof buffer);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count <= 0) {
      const int code = count < 0 ? errno : 0;
      ::close(descriptor);
      if (code != 0) {
        return fail(error, system_message("cannot read", path, code));
      }
      *text = std::move(contents);
      return true;
    }
    contents.append(buffer, static_cast<std::size_t>(count));
  }
}

bool write_private_file(const std::string& path, const std::string& contents, std::string* error) {
  std::string pattern = path + ".tmp-XXXXXX";
  std::vector<char> temporary(pattern.begin(), pattern.end());
  temporary.push_back('\0');
  // mkostemp opens with O_CREAT | O_EXCL and mode 0600.
  const int descriptor = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (descriptor < 0) {
    return fail(error, system_message("cannot create a temporary file next to", path, errno));
  }
  const int code = finish_private_file(descriptor, contents);
  if (code != 0) {
    ::unlink(temporary.data());
    return fail(error, system_message("cannot write", temporary.data(), code));
  }
  if (::rename(temporary.data(), path.c_str()) != 0) {
    const int rename_code = errno;
    ::unlink(temporary.data());
    return fail(error, system_message("cannot replace", path, rename_code));
  }
  return true;
}

bool create_private_file(const std::string& path, const std::string& contents, std::string* error) {
  const int descriptor = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (descriptor < 0 && errno == EEXIST) {
    return fail(error, "cannot create " + quote(path) +
                           ": the file already exists; move it away or choose "
                           "another path");
  }
  if (descriptor < 0) {
    return fail(error, system_message("cannot create", path, errno));
  }
  const int code = finish_private_file(descriptor, contents);
  if (code != 0) {
    ::unlink(path.c_str());
    return fail(error, system_message("cannot write", path, code));
  }
  return true;
}

bool make_private_directory(const std::string& path, std::string* error) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) {
      return fail(error, system_message("cannot inspect", path, errno));
    }
    if (!S_ISDIR(status.st_mode)) {
      return fail(error, "cannot use " + quote(path) + " as a directory: a file of that name exists");
    }
    if (::chmod(path.c_str(), 0700) != 0) {
      return fail(error, system_message("cannot set mode 0700 on", path, errno));
    }
    return true;
  }
  return fail(error, system_message("cannot create the directory", path, errno));
}

bool path_exists(const std::string& path) {
  struct stat status {};
  return ::lstat(path.c_str(), &status) == 0;
}

}  // namespace ecq::pki
