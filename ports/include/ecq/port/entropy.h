#pragma once
// Entropy for seeding Mbed TLS's CTR-DRBG.

#include <cstddef>
#include <cstdint>

#include "ecq/port/status.h"

namespace ecq::port {

/// Fills out[0..size) with bytes from a cryptographic entropy source (the
/// kernel's getrandom() on POSIX, a hardware RNG on a board). Returns kError
/// when the source fails; callers must not fall back to a weak source.
PortStatus entropy_fill(std::uint8_t* out, std::size_t size);

}  // namespace ecq::port
