#pragma once
// Inner loops of the compressor and the payload decoder. Each has a scalar
// reference and SIMD forms for several instruction sets (kernels_simd.inc).
// All of them use the same IEEE fp32 operations in the same order, with no
// fused multiply-add, so they produce the same payload bits.
//
// The SIMD forms are compiled once per instruction set (kernels.cc), and
// select_kernels() picks one at run time.

#include <cstddef>
#include <cstdint>

#include "ecq/runtime/philox.h"

namespace ecq::detail {

/// Elements per random-number group: 16 Philox blocks of 4 words. Element i
/// of the stream uses word (i % 64) / 16 of block (i / 64) * 16 + i % 16, so
/// a SIMD register of blocks yields the draws of consecutive elements.
constexpr std::uint32_t kGroupElements = 64;

/// Calls visit(group, first, count) for each group of kGroupElements
/// consecutive elements of a vector, from group `first_group` on; the last
/// group may be shorter.
template <typename Visit>
void for_each_group(std::uint32_t dimension, Visit visit, std::uint32_t first_group = 0) {
  for (std::uint32_t group = first_group, first = first_group * kGroupElements; first < dimension;
       ++group, first += kGroupElements) {
    visit(group, first, dimension - first < kGroupElements ? dimension - first : kGroupElements);
  }
}

/// Walks the buckets of a vector alongside its groups, without a division per
/// group: pieces() splits elements [first, first + count), which must follow
/// the previous call's elements, where bucket boundaries cut them and calls
/// visit(bucket_index, begin, end) for each piece in order.
class BucketCursor {
 public:
  /// Starts at bucket `first_bucket`, which must exist.
  BucketCursor(std::uint32_t bucket_size, std::uint32_t dimension, std::uint32_t first_bucket = 0)
      : bucket_size_(bucket_size),
        dimension_(dimension),
        index_(first_bucket),
        end_(bucket_size < dimension - first_bucket * bucket_size ? (first_bucket + 1) * bucket_size : dimension) {}

  template <typename Visit>
  void pieces(std::uint32_t first, std::uint32_t count, Visit visit) {
    const std::uint32_t stop = first + count;
    for (std::uint32_t i = first; i < stop;) {
      if (i == end_) {
        ++index_;
        end_ = bucket_size_ < dimension_ - end_ ? end_ + bucket_size_ : dimension_;
      }
      const std::uint32_t end = end_ < stop ? end_ : stop;
      visit(index_, i, end);
      i = end;
    }
  }

 private:
  std::uint32_t bucket_size_;
  std::uint32_t dimension_;
  std::uint32_t index_;
  std::uint32_t end_;
};

/// Sums and maxima of one bucket that the scan pass collects.
struct BucketScan {
  double lanes[8] = {};          ///< sum of v^2 for elements j with j % 8 == lane
  float max_abs = 0.0f;          ///< max |v|
  float max_error_bound = 0.0f;  ///< max |g| + beta |h|
  bool non_finite = false;       ///< some g, h or v was NaN or Inf
};

/// Parameters of one bucket segment for the quantizer.
struct SegmentParams {
  float alpha;
  float beta;
  float ratio;  ///< s / scale, or 0 for a zero bucket
  float step;   ///< scale / s, flushed
  float top;    ///< s as a float
  std::uint32_t levels;
};

struct Kernels {
  /// Scans n elements of a bucket (h may be null: treated as zeros) and
  /// merges them into *out. *out must contain the scan of the bucket's
  /// earlier elements, or be a zero BucketScan at the bucket's start. Element
  /// j of the call adds to lane j % 8, so a bucket scanned in pieces whose
  /// sizes are multiples of 8 gives the same sums, in the same order, as one
  /// call.
  void (*scan)(const float* g, const float* h, std::uint32_t n, float alpha, float beta, BucketScan* out);
  /// Fills out[0..64) with the uniforms of group `group` of the stream.
  void (*group_uniforms)(const StreamKey& key, std::uint32_t group, float* out);
  /// Quantizes n elements: writes codes (level + s) and, when h is not null,
  /// updates h in place. `uniforms` contains one draw per element.
  void (*quantize)(const float* g, float* h, std::uint32_t n, const float* uniforms, const SegmentParams& params,
                   std::uint8_t* codes);
  /// Adds factor * (code - offset) to out[0..64 * groups) for `groups` whole
  /// groups of fixed-width codes of `bits` bits starting at `packed`.
  void (*accumulate_groups)(const std::uint8_t* packed, std::uint32_t groups, std::uint32_t bits, float factor,
                            float offset, float* out);
  const char* name;
  /// The SIMD kernels leave subnormal flushing to the FPU (x86 FTZ and DAZ)
  /// and must run inside a FlushToZeroScope. Their values equal the scalar
  /// reference's, except that a flushed result may be -0 where the reference
  /// gives +0. That never changes a payload byte, because the sign of a zero
  /// reaches neither a norm, a level nor the sign of a level.
  bool hardware_flush;
};

/// Sets the x86 MXCSR flush-to-zero and denormals-are-zero bits for its
/// lifetime when `kernels` needs them, and restores the previous mode. Inside
/// the scope, subnormal float and double inputs and results count as zero.
class FlushToZeroScope {
 public:
  explicit FlushToZeroScope(const Kernels& kernels);
  ~FlushToZeroScope();
  FlushToZeroScope(const FlushToZeroScope&) = delete;
  FlushToZeroScope& operator=(const FlushToZeroScope&) = delete;

 private:
  bool active_;
  unsigned saved_ = 0;
};

/// Returns the fastest kernels this CPU runs, or the scalar reference when
/// `scalar_only`.
const Kernels& select_kernels(bool scalar_only = false);

/// The scalar reference kernels.
const Kernels& scalar_kernels();

/// Stores every SIMD variant this CPU can run (at most 3) into `out` and
/// returns how many, so tests can hold each one against the reference.
/// Returns 0 on Cortex-M, where the build has no SIMD kernels.
std::size_t supported_simd_kernels(const Kernels** out);

/// Packs `count` codes (count <= 64) of `bits` bits into the little-endian
/// bit stream at `out`, which starts byte-aligned at the group's first
/// element. Writes exactly ceil(count * bits / 8) bytes, padding with zeros.
void pack_group(const std::uint8_t* codes, std::uint32_t count, std::uint32_t bits, std::uint8_t* out);

/// Unpacks `count` codes (count <= 64) of `bits` bits from a byte-aligned
/// group; reads exactly ceil(count * bits / 8) bytes.
void unpack_group(const std::uint8_t* in, std::uint32_t count, std::uint32_t bits, std::uint8_t* codes);

}  // namespace ecq::detail
