#pragma once
// Persistent storage of named blobs: the error buffer, credentials, state.
// A name is 1 to 64 characters from [A-Za-z0-9._-] and never starts with '.'.

#include <cstddef>
#include <cstdint>

#include "ecq/port/status.h"

namespace ecq::port {

/// Replaces blob `name` with data[0..size) atomically: after a crash or power
/// loss the blob contains either the old or the new content, never a mix.
/// Returns kInvalidArgument for a bad name.
PortStatus storage_write(const char* name, const std::uint8_t* data, std::size_t size);

/// Reads blob `name` into buffer[0..capacity) and stores its size in *size.
/// Returns kNotFound when it does not exist and kInvalidArgument (with *size
/// set to the blob's size) when capacity is too small.
PortStatus storage_read(const char* name, std::uint8_t* buffer, std::size_t capacity, std::size_t* size);

/// Removes blob `name`; kNotFound when it does not exist.
PortStatus storage_remove(const char* name);

}  // namespace ecq::port
