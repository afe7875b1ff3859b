#pragma once

#include <string>

namespace ecq::data::detail {

/// Stores `message` in *error when error is not null, and returns false, so
/// that a check can end with `return fail(error, "...");`.
inline bool fail(std::string* error, const std::string& message) {
  if (error != nullptr) {
    *error = message;
  }
  return false;
}

}  // namespace ecq::data::detail
