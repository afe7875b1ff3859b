#pragma once
// Host files and the command line through Arm semihosting (SYS_OPEN,
// SYS_READ, SYS_CLOSE, SYS_GET_CMDLINE), as qemu-system-arm carries them out
// with -semihosting-config enable=on,target=native. A debug channel: only
// for images that run under an emulator or a debugger.

#include <cstddef>

namespace firmware {

/// Copies the command line (QEMU: the arg= values of -semihosting-config,
/// separated by spaces) into out[0..capacity), NUL-terminated. Returns false
/// when the host has none or it does not fit.
bool semihosting_command_line(char* out, std::size_t capacity);

/// Reads up to `capacity` bytes of the host file `path` into `out` and stores
/// the count in *size. Returns false when the file cannot be opened or read.
bool semihosting_read_file(const char* path, unsigned char* out, std::size_t capacity, std::size_t* size);

}  // namespace firmware
