#pragma once
// A heap profiler for one thread's calls: this program's replacements of
// malloc, calloc, realloc and free record every block allocated while
// metering is on, with its requested size, and keep the live and peak bytes
// of those blocks. Blocks freed at any time, metered or not, leave the count.
// Link heap_meter.cc into a program of its own (it replaces the C library's
// allocation functions there); not thread-safe, and not for sanitizer builds.

#include <cstddef>

namespace ecq::bench {

/// Starts or stops recording new blocks.
void heap_meter_enable(bool on);

/// Bytes of recorded blocks not yet freed.
std::size_t heap_live_bytes();

/// Largest heap_live_bytes() since the last heap_reset_peak().
std::size_t heap_peak_bytes();

/// Sets the peak to the current live bytes.
void heap_reset_peak();

/// True when more blocks were live at once than the meter's table holds, in
/// which case the figures are too small.
bool heap_meter_overflowed();

/// Records the blocks allocated during its lifetime.
class MeteredScope {
 public:
  MeteredScope() { heap_meter_enable(true); }
  ~MeteredScope() { heap_meter_enable(false); }
  MeteredScope(const MeteredScope&) = delete;
  MeteredScope& operator=(const MeteredScope&) = delete;
};

}  // namespace ecq::bench
