#pragma once
// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the
// checksum of iSCSI (RFC 3720) and ext4. Check value: "123456789" -> 0xE3069283.

#include <cstddef>
#include <cstdint>

namespace ecq {

/// Extends `crc` (0 for a new checksum) over data[0..size) and returns the
/// result. Uses the SSE4.2 CRC32 instruction when the CPU has it and an
/// 8-byte table-driven loop elsewhere; both give the same value.
std::uint32_t crc32c(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0);

/// The portable table-driven implementation, exposed so tests can compare it
/// with the hardware path.
std::uint32_t crc32c_portable(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0);

}  // namespace ecq
