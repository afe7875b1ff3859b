#pragma once
// Time sources. Timeouts use the monotonic clock; certificate validity needs
// the wall clock, which a board without a real-time clock may lack.

#include <cstdint>

namespace ecq::port {

/// Returns milliseconds from an unspecified start; never goes backwards.
std::uint64_t monotonic_ms();

/// Stores seconds since 1970-01-01 UTC in *seconds and returns true, or
/// returns false when the platform has no trustworthy wall clock.
bool wall_clock_seconds(std::int64_t* seconds);

}  // namespace ecq::port
