#pragma once
// Inner loops of the compressor and the payload decoder, each in a scalar
// reference form and an explicit-SIMD form (GCC vector extensions over 16
// lanes) that produces the same bits: both use only IEEE fp32 operations that
// round identically, in the same order, with no fused multiply-add.
//
// The SIMD forms are compiled several times (kernels.cc) for the instruction
// sets the CPU may have, and select_kernels() picks one at run time.

#include <cstddef>
#include <cstdint>

#include "ecq/runtime/philox.h"

namespace ecq::detail {

/// Elements per random-number group: one 16-lane Philox evaluation yields 64
/// words. Element i of the stream uses word (i % 64) / 16 of Philox block
/// (i / 64) * 16 + i % 16, so lane j of the vector serves elements 16w + j.
constexpr std::uint32_t kGroupElements = 64;

/// Calls visit(group, first, count) for each group of kGroupElements
/// consecutive elements of a vector; the last group may be shorter.
template <typename Visit>
void for_each_group(std::uint32_t dimension, Visit visit) {
  for (std::uint32_t group = 0, first = 0; first < dimension; ++group, first += kGroupElements) {
    visit(group, first, dimension - first < kGroupElements ? dimension - first : kGroupElements);
  }
}

/// Splits elements [first, first + count) where bucket boundaries cut them
/// and calls visit(bucket_index, begin, end) for each piece in order.
template <typename Visit>
void for_each_bucket_piece(std::uint32_t first, std::uint32_t count, std::uint32_t bucket_size, std::uint32_t dimension,
                           Visit visit) {
  for (std::uint32_t i = first; i < first + count;) {
    const std::uint32_t k = i / bucket_size;
    const std::uint32_t bucket_end = bucket_size > dimension - k * bucket_size ? dimension : (k + 1) * bucket_size;
    const std::uint32_t end = bucket_end < first + count ? bucket_end : first + count;
    visit(k, i, end);
    i = end;
  }
}

/// Sums and maxima of one bucket that the scan pass collects.
struct BucketScan {
  double lanes[8];        ///< sum of v^2 for elements j with j % 8 == lane
  float max_abs;          ///< max |v|
  float max_error_bound;  ///< max |g| + beta |h|
  bool non_finite;        ///< some g, h or v was NaN or Inf
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
  /// Scans n elements of a bucket (h may be null: treated as zeros).
  void (*scan)(const float* g, const float* h, std::uint32_t n, float alpha, float beta, BucketScan* out);
  /// Fills out[0..64) with the uniforms of group `group` of the stream.
  void (*group_uniforms)(const StreamKey& key, std::uint32_t group, float* out);
  /// Quantizes n elements: writes codes (level + s) and, when h is not null,
  /// updates h in place. `uniforms` holds one draw per element.
  void (*quantize)(const float* g, float* h, std::uint32_t n, const float* uniforms, const SegmentParams& params,
                   std::uint8_t* codes);
  const char* name;
};

/// Returns the fastest kernels this CPU runs, or the scalar reference when
/// `scalar_only`.
const Kernels& select_kernels(bool scalar_only = false);

/// The scalar reference kernels.
const Kernels& scalar_kernels();

/// Stores every SIMD variant this CPU can run (at most 3) into `out` and
/// returns how many, so tests can hold each one against the reference.
std::size_t supported_simd_kernels(const Kernels** out);

/// Packs `count` codes (count <= 64) of `bits` bits into the little-endian
/// bit stream at `out`, which starts byte-aligned at the group's first
/// element. Writes exactly ceil(count * bits / 8) bytes, padding with zeros.
void pack_group(const std::uint8_t* codes, std::uint32_t count, std::uint32_t bits, std::uint8_t* out);

/// Unpacks `count` codes (count <= 64) of `bits` bits from a byte-aligned
/// group; reads exactly ceil(count * bits / 8) bytes.
void unpack_group(const std::uint8_t* in, std::uint32_t count, std::uint32_t bits, std::uint8_t* codes);

}  // namespace ecq::detail
