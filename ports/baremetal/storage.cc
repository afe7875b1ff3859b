// Bare-metal port template: named blobs in a flash region. storage_write()
// must be atomic (ecq/port/storage.h), so the region needs room for two
// copies of each blob. Write the new copy to the free slot with a sequence
// number and a CRC, then mark it current. After a power loss the reader then
// finds either the old or the new copy complete. Until the flash driver is
// filled in, every call returns kError.

#include "ecq/port/storage.h"
#include "storage_name.h"
#include "unfilled_hook.h"

namespace ecq::port {
namespace {

bool g_logged = false;

PortStatus report_missing_flash() {
  return detail::report_unfilled_hook(
      &g_logged, "storage: no flash region; fill in the flash driver in ports/baremetal/storage.cc");
}

}  // namespace

[[gnu::weak]] PortStatus storage_write(const char* name, const std::uint8_t* data, std::size_t size) {
  if (!detail::is_valid_storage_name(name) || (data == nullptr && size > 0)) {
    return PortStatus::kInvalidArgument;
  }
  // FILL IN: erase the free slot of `name`, program the header (name,
  // sequence number, size, CRC-32C) and data[0..size), verify by reading
  // back, then program the commit marker.
  return report_missing_flash();
}

[[gnu::weak]] PortStatus storage_read(const char* name, std::uint8_t* buffer, std::size_t capacity,
                                      std::size_t* size) {
  if (!detail::is_valid_storage_name(name) || size == nullptr || (buffer == nullptr && capacity > 0)) {
    return PortStatus::kInvalidArgument;
  }
  *size = 0;
  // FILL IN: find the committed copy of `name` with the highest sequence
  // number and a matching CRC; kNotFound when there is none, and
  // kInvalidArgument with *size set when it exceeds `capacity`.
  return report_missing_flash();
}

[[gnu::weak]] PortStatus storage_remove(const char* name) {
  if (!detail::is_valid_storage_name(name)) {
    return PortStatus::kInvalidArgument;
  }
  // FILL IN: erase both slots of `name` (or program a removal marker).
  return report_missing_flash();
}

}  // namespace ecq::port
