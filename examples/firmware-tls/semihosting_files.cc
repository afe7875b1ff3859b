#include "semihosting_files.h"

#include <cstdint>
#include <cstring>

#include "semihosting.h"

namespace firmware {
namespace {

constexpr std::uint32_t kSysOpen = 0x01;
constexpr std::uint32_t kSysClose = 0x02;
constexpr std::uint32_t kSysRead = 0x06;
constexpr std::uint32_t kSysGetCommandLine = 0x15;
// SYS_OPEN mode 1 is fopen()'s "rb".
constexpr std::uint32_t kModeReadBinary = 1;

std::uint32_t address_of(const void* pointer) {
  return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(pointer));
}

}  // namespace

bool semihosting_command_line(char* out, std::size_t capacity) {
  if (out == nullptr || capacity < 2) {
    return false;
  }
  // The host stores the length without the NUL into the second word.
  std::uint32_t block[2] = {address_of(out), static_cast<std::uint32_t>(capacity)};
  if (semihosting_call(kSysGetCommandLine, address_of(block)) != 0 || block[1] >= capacity) {
    return false;
  }
  out[block[1]] = '\0';
  return true;
}

bool semihosting_read_file(const char* path, unsigned char* out, std::size_t capacity, std::size_t* size) {
  *size = 0;
  const std::uint32_t open_block[3] = {address_of(path), kModeReadBinary,
                                       static_cast<std::uint32_t>(std::strlen(path))};
  const std::uint32_t handle = semihosting_call(kSysOpen, address_of(open_block));
  if (handle == UINT32_MAX) {
    return false;
  }
  // SYS_READ returns the number of bytes it did not read.
  const std::uint32_t read_block[3] = {handle, address_of(out), static_cast<std::uint32_t>(capacity)};
  const std::uint32_t unread = semihosting_call(kSysRead, address_of(read_block));
  const std::uint32_t close_block[1] = {handle};
  const bool closed = semihosting_call(kSysClose, address_of(close_block)) == 0;
  if (unread > capacity || !closed) {
    return false;
  }
  *size = capacity - unread;
  return true;
}

}  // namespace firmware
