#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "ecq/data/idx.h"
#include "fail.h"

namespace ecq::data {
namespace {

using detail::fail;

constexpr const char* kPackage = "dataset-fashion-mnist";
constexpr const char* kTrainImagesFile = "train-images-idx3-ubyte.gz";
constexpr const char* kInstallHint =
    " Run `apt-get install dataset-fashion-mnist` as root, or pass the directory that contains "
    "train-images-idx3-ubyte.gz to load_fashion_mnist().";

// Runs `command` through the shell and stores its standard output. *status is
// pclose()'s wait status.
bool run_command(const std::string& command, std::string* output, int* status, std::string* error) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return fail(error, "cannot run '" + command + "': " + std::strerror(errno) + "." + kInstallHint);
  }
  char chunk[4096];
  std::size_t count = 0;
  while ((count = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) {
    output->append(chunk, count);
  }
  *status = pclose(pipe);
  return true;
}

// Returns the directory of the first listed path that ends in /<file_name>,
// or an empty string.
std::string find_listed_directory(const std::string& listing, const std::string& file_name) {
  const std::string suffix = "/" + file_name;
  std::size_t begin = 0;
  while (begin < listing.size()) {
    std::size_t end = listing.find('\n', begin);
    if (end == std::string::npos) {
      end = listing.size();
    }
    const std::string line = listing.substr(begin, end - begin);
    if (line.size() > suffix.size() && line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return line.substr(0, line.size() - suffix.size());
    }
    begin = end + 1;
  }
  return std::string();
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == 127) {
      return "dpkg was not found (exit status 127): this is not a Debian-based system or dpkg is not on PATH.";
    }
    return std::string("dpkg -L ") + kPackage + " exited with status " + std::to_string(code) +
           ", so the package is not installed.";
  }
  return std::string("dpkg -L ") + kPackage + " did not exit normally (wait status " + std::to_string(status) + ").";
}

}  // namespace

bool locate_fashion_mnist(std::string* directory, std::string* error) {
  std::string listing;
  int status = 0;
  if (!run_command(std::string("dpkg -L ") + kPackage + " 2>/dev/null", &listing, &status, error)) {
    return false;
  }
  const std::string found = find_listed_directory(listing, kTrainImagesFile);
  if (found.empty()) {
    if (status == 0) {
      return fail(error, std::string("dpkg -L ") + kPackage + " lists no " + kTrainImagesFile + "." + kInstallHint);
    }
    return fail(error, describe_exit(status) + kInstallHint);
  }
  const std::string path = found + "/" + kTrainImagesFile;
  if (access(path.c_str(), R_OK) != 0) {
    return fail(error, "dpkg lists '" + path + "', but it cannot be read: " + std::strerror(errno) +
                           ". Run `apt-get install --reinstall dataset-fashion-mnist` as root.");
  }
  *directory = found;
  return true;
}

bool load_fashion_mnist(const std::string& directory, Split split, ImageDataset* dataset, std::string* error) {
  const std::string prefix = directory + "/" + (split == Split::kTrain ? "train" : "t10k");
  return read_idx_dataset(prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz", kFashionMnistClasses,
                          dataset, error);
}

const char* fashion_mnist_class_name(std::uint32_t label) {
  // Class names as the Fashion-MNIST README (Zalando Research) lists them.
  static const char* const kNames[kFashionMnistClasses] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return label < kFashionMnistClasses ? kNames[label] : "unknown";
}

}  // namespace ecq::data
