// Replacements of the C allocation functions that forward to glibc's and
// record metered blocks in a fixed open-addressing table, so recording
// allocates nothing. C++'s operator new reaches them through malloc().

#include "heap_meter.h"

#include <cstdint>
#include <cstdlib>

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* pointer, std::size_t size);
void __libc_free(void* pointer);
}

namespace {

constexpr std::size_t kSlots = std::size_t{1} << 16;  // a power of two
void* const kTombstone = reinterpret_cast<void*>(std::uintptr_t{1});

struct Slot {
  void* pointer;
  std::size_t size;
};

Slot g_slots[kSlots];
bool g_enabled = false;
bool g_overflowed = false;
std::size_t g_live = 0;
std::size_t g_peak = 0;
std::size_t g_used = 0;  // slots holding a block or a tombstone
std::size_t g_blocks = 0;  // recorded blocks not yet freed

std::size_t home_slot(const void* pointer) {
  const auto value = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(pointer));
  return static_cast<std::size_t>((value >> 4) * 0x9E3779B97F4A7C15ull >> 48) & (kSlots - 1);
}

void record(void* pointer, std::size_t size) {
  if (pointer == nullptr) {
    return;
  }
  // Half full counts as full, so probes stay short and always end.
  if (g_used >= kSlots / 2) {
    g_overflowed = true;
    return;
  }
  for (std::size_t i = home_slot(pointer);; i = (i + 1) & (kSlots - 1)) {
    if (g_slots[i].pointer == nullptr || g_slots[i].pointer == kTombstone) {
      if (g_slots[i].pointer == nullptr) {
        ++g_used;
      }
      g_slots[i] = Slot{pointer, size};
      break;
    }
  }
  ++g_blocks;
  g_live += size;
  if (g_live > g_peak) {
    g_peak = g_live;
  }
}

// Removes a recorded block; returns false for a block never recorded.
bool forget(void* pointer, std::size_t* size) {
  if (pointer == nullptr || g_used == 0) {
    return false;
  }
  for (std::size_t i = home_slot(pointer);; i = (i + 1) & (kSlots - 1)) {
    if (g_slots[i].pointer == nullptr) {
      return false;
    }
    if (g_slots[i].pointer == pointer) {
      *size = g_slots[i].size;
      g_slots[i].pointer = kTombstone;
      g_live -= *size;
      --g_blocks;
      if (g_blocks == 0) {
        // No recorded block is left, so the tombstones can go.
        for (Slot& slot : g_slots) {
          slot.pointer = nullptr;
        }
        g_used = 0;
      }
      return true;
    }
  }
}

}  // namespace

namespace ecq::bench {

void heap_meter_enable(bool on) { g_enabled = on; }
std::size_t heap_live_bytes() { return g_live; }
std::size_t heap_peak_bytes() { return g_peak; }
void heap_reset_peak() { g_peak = g_live; }
bool heap_meter_overflowed() { return g_overflowed; }

}  // namespace ecq::bench

extern "C" void* malloc(std::size_t size) {
  void* pointer = __libc_malloc(size);
  if (g_enabled) {
    record(pointer, size);
  }
  return pointer;
}

extern "C" void* calloc(std::size_t count, std::size_t size) {
  void* pointer = __libc_calloc(count, size);
  if (g_enabled) {
    record(pointer, count * size);
  }
  return pointer;
}

extern "C" void* realloc(void* pointer, std::size_t size) {
  std::size_t old_size = 0;
  const bool was_recorded = forget(pointer, &old_size);
  void* moved = __libc_realloc(pointer, size);
  if (moved == nullptr && size != 0 && was_recorded) {
    record(pointer, old_size);  // the old block is still allocated
  } else if (g_enabled || was_recorded) {
    record(moved, size);
  }
  return moved;
}

extern "C" void free(void* pointer) {
  std::size_t size = 0;
  (void)forget(pointer, &size);
  __libc_free(pointer);
}
