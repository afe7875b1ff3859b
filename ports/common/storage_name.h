#pragma once
// Rule for storage blob names that every port checks (see ecq/port/storage.h).

namespace ecq::port::detail {

/// Returns true when `name` has 1 to 64 characters from [A-Za-z0-9._-] and
/// does not start with '.'.
bool is_valid_storage_name(const char* name);

}  // namespace ecq::port::detail
