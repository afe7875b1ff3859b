#include "storage_name.h"

#include <cstddef>

namespace ecq::port::detail {
namespace {

constexpr std::size_t kMaxNameLength = 64;

bool is_name_character(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

}  // namespace

bool is_valid_storage_name(const char* name) {
  if (name == nullptr || name[0] == '\0' || name[0] == '.') {
    return false;
  }
  std::size_t length = 0;
  for (; name[length] != '\0'; ++length) {
    if (length == kMaxNameLength || !is_name_character(name[length])) {
      return false;
    }
  }
  return true;
}

}  // namespace ecq::port::detail
