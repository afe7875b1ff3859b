#include "ecq/port/status.h"

#include <doctest/doctest.h>

#include <cstring>
#include <set>
#include <string>

namespace ecq::port {
namespace {

TEST_CASE("port status names") {
  CHECK(std::strcmp(port_status_name(PortStatus::kWouldBlock), "would block") == 0);
  CHECK(std::strcmp(port_status_name(PortStatus::kNotFound), "not found") == 0);
}

TEST_CASE("port status names are distinct") {
  const PortStatus statuses[] = {PortStatus::kOk,       PortStatus::kWouldBlock,      PortStatus::kClosed,
                                 PortStatus::kTimeout,  PortStatus::kNotFound,        PortStatus::kInvalidArgument,
                                 PortStatus::kError};
  std::set<std::string> names;
  for (const PortStatus status : statuses) {
    const std::string name = port_status_name(status);
    CAPTURE(name);
    CHECK_FALSE(name.empty());
    CHECK(name != "unknown status");
    names.insert(name);
  }
  CHECK(names.size() == sizeof statuses / sizeof statuses[0]);
}

}  // namespace
}  // namespace ecq::port
