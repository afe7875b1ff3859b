#include "gz_file.h"

#include <cerrno>
#include <cstring>

#include "fail.h"

namespace ecq::data::detail {

GzFile::~GzFile() {
  if (file_ != nullptr) {
    gzclose(file_);
  }
}

bool GzFile::open(const std::string& path, std::string* error) {
  path_ = path;
  offset_ = 0;
  errno = 0;
  file_ = gzopen(path.c_str(), "rb");
  if (file_ != nullptr) {
    return true;
  }
  const int saved_errno = errno;
  std::string message = "cannot open '" + path + "': ";
  message += saved_errno != 0 ? std::strerror(saved_errno) : "zlib could not allocate its state";
  if (saved_errno == ENOENT) {
    message += ". Check the path and that the file exists";
  } else if (saved_errno == EACCES) {
    message += ". Check the file's read permission";
  }
  return fail(error, message + ".");
}

bool GzFile::read(void* buffer, std::size_t bytes, std::size_t* count, std::string* error) {
  // gzread takes an unsigned length, so large reads go in 1 GiB steps.
  constexpr std::size_t kMaxStep = std::size_t{1} << 30;
  auto* out = static_cast<unsigned char*>(buffer);
  std::size_t total = 0;

  while (total < bytes) {
    const std::size_t step = bytes - total < kMaxStep ? bytes - total : kMaxStep;
    const int got = gzread(file_, out + total, static_cast<unsigned>(step));
    if (got < 0) {
      int code = Z_OK;
      const char* reason = gzerror(file_, &code);
      return fail(error, "cannot read '" + path_ + "' at byte offset " + std::to_string(offset_ + total) + ": " +
                             reason + ". The file is damaged or cut short; restore or re-download it.");
    }
    total += static_cast<std::size_t>(got);
    if (static_cast<std::size_t>(got) < step) {
      break;
    }
  }

  // zlib reports a gzip stream that stops before its trailer as a short read
  // with Z_BUF_ERROR set, not as -1.
  int code = Z_OK;
  gzerror(file_, &code);
  if (total < bytes && code == Z_BUF_ERROR) {
    return fail(error, "cannot read '" + path_ + "': the gzip stream ends without its trailer after " +
                           std::to_string(offset_ + total) +
                           " bytes of decompressed data. The file is cut short; restore or re-download it.");
  }

  offset_ += total;
  *count = total;
  return true;
}

bool GzFile::read_all(std::string* contents, std::string* error) {
  char chunk[1 << 16];
  for (;;) {
    std::size_t count = 0;
    if (!read(chunk, sizeof chunk, &count, error)) {
      return false;
    }
    contents->append(chunk, count);
    if (count < sizeof chunk) {
      return true;
    }
  }
}

bool read_text_file(const std::string& path, std::string* contents, std::string* error) {
  GzFile file;
  if (!file.open(path, error)) {
    return false;
  }
  contents->clear();
  return file.read_all(contents, error);
}

}  // namespace ecq::data::detail
