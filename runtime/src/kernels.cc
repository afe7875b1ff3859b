#include "kernels.h"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "bits.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

// The 64-byte vector helpers below are always inlined, so the calling
// convention GCC warns about for them never applies.
#pragma GCC diagnostic ignored "-Wpsabi"
// GCC 12's _mm512_set1_epi64 reads an uninitialized dummy register.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the kernels load and store little-endian words directly");

namespace ecq::detail {
namespace {

// ---------------------------------------------------------------------------
// Scalar reference
// ---------------------------------------------------------------------------

void scan_scalar(const float* g, const float* h, std::uint32_t n, float alpha, float beta, BucketScan* out) {
  BucketScan result = *out;
  for (std::uint32_t j = 0; j < n; ++j) {
    const float raw_g = g[j];
    const float raw_h = h != nullptr ? h[j] : 0.0f;
    const float gf = flush(raw_g);
    const float hf = flush(raw_h);
    const float v = flush(gf + flush(alpha * hf));
    result.non_finite |= non_finite(raw_g) | non_finite(raw_h) | non_finite(v);
    const auto vd = static_cast<double>(v);
    result.lanes[j % 8] += vd * vd;
    const float magnitude = std::fabs(v);
    result.max_abs = magnitude > result.max_abs ? magnitude : result.max_abs;
    const float bound = std::fabs(gf) + beta * std::fabs(hf);
    result.max_error_bound = bound > result.max_error_bound ? bound : result.max_error_bound;
  }
  *out = result;
}

void group_uniforms_scalar(const StreamKey& key, std::uint32_t group, float* out) {
  const auto key0 = static_cast<std::uint32_t>(key.seed);
  const auto key1 = static_cast<std::uint32_t>(key.seed >> 32);
  for (std::uint32_t lane = 0; lane < 16; ++lane) {
    const PhiloxBlock counter{{group * 16 + lane, key.round, static_cast<std::uint32_t>(key.device_id),
                               static_cast<std::uint32_t>(key.device_id >> 32)}};
    const PhiloxBlock block = philox4x32(counter, key0, key1);
    for (std::uint32_t word = 0; word < 4; ++word) {
      out[word * 16 + lane] = uniform_from_bits(block.word[word]);
    }
  }
}

void quantize_scalar(const float* g, float* h, std::uint32_t n, const float* uniforms, const SegmentParams& p,
                     std::uint8_t* codes) {
  for (std::uint32_t j = 0; j < n; ++j) {
    const float gf = flush(g[j]);
    const float hf = h != nullptr ? flush(h[j]) : 0.0f;
    const float v = flush(gf + flush(p.alpha * hf));
    const float a = std::fabs(v) * p.ratio;
    const float floor = std::floor(a);
    // Rounding can push a slightly past s; the clamp keeps the level at s.
    float level = uniforms[j] < a - floor ? floor + 1.0f : floor;
    level = level < p.top ? level : p.top;
    const float signed_level = v < 0.0f ? -level : level;
    codes[j] = static_cast<std::uint8_t>(static_cast<std::int32_t>(signed_level) + static_cast<std::int32_t>(p.levels));
    if (h != nullptr) {
      h[j] = flush(flush(p.beta * hf) + flush(gf - signed_level * p.step));
    }
  }
}

// Fixed-width packing works on 8 codes at a time: 8 codes of r bits are
// exactly r bytes. The codes sit one per byte of a 64-bit word; three
// shift-and-mask steps fold neighbours together (bytes -> 16-bit halves ->
// 32-bit halves -> whole word), and unfolding reverses them. Every code is
// below 2^r, so no step lets bits of one code reach another.
template <std::uint32_t kBits>
constexpr std::uint64_t repeat_mask(std::uint32_t field_bits, std::uint32_t stride) {
  std::uint64_t mask = 0;
  for (std::uint32_t at = 0; at < 64; at += stride) {
    mask |= ((std::uint64_t{1} << field_bits) - 1) << at;
  }
  return mask;
}

template <std::uint32_t kBits, typename Word>
inline Word fold(Word x) {
  x = (x & repeat_mask<kBits>(kBits, 16)) | ((x >> (8 - kBits)) & repeat_mask<kBits>(kBits, 16) << kBits);
  x = (x & repeat_mask<kBits>(2 * kBits, 32)) |
      ((x >> (16 - 2 * kBits)) & repeat_mask<kBits>(2 * kBits, 32) << (2 * kBits));
  return (x & ((std::uint64_t{1} << (4 * kBits)) - 1)) |
         ((x >> (32 - 4 * kBits)) & (((std::uint64_t{1} << (4 * kBits)) - 1) << (4 * kBits)));
}

template <std::uint32_t kBits, typename Word>
inline Word unfold(Word x) {
  x = (x & ((std::uint64_t{1} << (4 * kBits)) - 1)) |
      ((x << (32 - 4 * kBits)) & (((std::uint64_t{1} << (4 * kBits)) - 1) << 32));
  x = (x & repeat_mask<kBits>(2 * kBits, 32)) | ((x << (16 - 2 * kBits)) & (repeat_mask<kBits>(2 * kBits, 32) << 16));
  return (x & repeat_mask<kBits>(kBits, 16)) | ((x << (8 - kBits)) & (repeat_mask<kBits>(kBits, 16) << 8));
}

template <std::uint32_t kBits>
void pack_fixed(const std::uint8_t* codes, std::uint32_t count, std::uint8_t* out) {
  std::uint32_t i = 0;
  for (; i + 8 <= count; i += 8, out += kBits) {
    std::uint64_t word;
    std::memcpy(&word, codes + i, 8);
    word = fold<kBits>(word);
    std::memcpy(out, &word, kBits);
  }
  if (i < count) {
    std::uint64_t word = 0;
    std::memcpy(&word, codes + i, count - i);
    word = fold<kBits>(word);
    std::memcpy(out, &word, ((count - i) * kBits + 7) / 8);
  }
}

template <std::uint32_t kBits>
void unpack_fixed(const std::uint8_t* in, std::uint32_t count, std::uint8_t* codes) {
  std::uint32_t i = 0;
  for (; i + 8 <= count; i += 8, in += kBits) {
    std::uint64_t word = 0;
    std::memcpy(&word, in, kBits);
    word = unfold<kBits>(word);
    std::memcpy(codes + i, &word, 8);
  }
  if (i < count) {
    std::uint64_t word = 0;
    std::memcpy(&word, in, ((count - i) * kBits + 7) / 8);
    word = unfold<kBits>(word);
    std::memcpy(codes + i, &word, count - i);
  }
}

#define ECQ_KERNEL inline __attribute__((always_inline))

// One copy of the SIMD kernels per instruction set; the baseline is the
// build's own target (SSE2 on x86-64, NEON on AArch64).
#if defined(__x86_64__)
#define ECQ_HARDWARE_FLUSH 1
#else
#define ECQ_HARDWARE_FLUSH 0
#endif

// M-profile cores (Cortex-M) have no vector unit, so GCC would split each
// 16-byte vector of the portable kernels into single lanes. That is larger
// and slower than the scalar reference, which those builds use instead.
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define ECQ_HAS_SIMD_KERNELS 0
#else
#define ECQ_HAS_SIMD_KERNELS 1
#endif

#if defined(__x86_64__)
#define ECQ_SIMD_ISA 128
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define ECQ_SIMD_ISA 64
#else
#define ECQ_SIMD_ISA 0
#endif
#if ECQ_HAS_SIMD_KERNELS
namespace baseline {
#include "kernels_simd.inc"
}  // namespace baseline
#endif
#undef ECQ_SIMD_ISA

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2")
#define ECQ_SIMD_ISA 256
namespace avx2 {
#include "kernels_simd.inc"
}  // namespace avx2
#undef ECQ_SIMD_ISA
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq")
#define ECQ_SIMD_ISA 512
namespace avx512 {
#include "kernels_simd.inc"
}  // namespace avx512
#undef ECQ_SIMD_ISA
#pragma GCC pop_options
#endif

#if ECQ_HAS_SIMD_KERNELS
const Kernels kKernelsBaseline = {baseline::scan,     baseline::group_uniforms,
                                  baseline::quantize, baseline::accumulate_groups,
                                  "baseline",         ECQ_HARDWARE_FLUSH != 0};
#endif
#if defined(__x86_64__)
const Kernels kKernelsAvx2 = {avx2::scan, avx2::group_uniforms, avx2::quantize, avx2::accumulate_groups, "avx2", true};
const Kernels kKernelsAvx512 = {
    avx512::scan, avx512::group_uniforms, avx512::quantize, avx512::accumulate_groups, "avx512", true};
#endif

void accumulate_groups_scalar(const std::uint8_t* packed, std::uint32_t groups, std::uint32_t bits, float factor,
                              float offset, float* out) {
  std::uint8_t codes[kGroupElements];
  for (std::uint32_t group = 0; group < groups; ++group) {
    unpack_group(packed + static_cast<std::size_t>(group) * 8u * bits, kGroupElements, bits, codes);
    float* target = out + static_cast<std::size_t>(group) * kGroupElements;
    for (std::uint32_t j = 0; j < kGroupElements; ++j) {
      target[j] += factor * (static_cast<float>(codes[j]) - offset);
    }
  }
}

const Kernels kScalar = {scan_scalar, group_uniforms_scalar, quantize_scalar, accumulate_groups_scalar, "scalar",
                         false};

#if defined(__x86_64__)
bool cpu_has(const char* feature_set) {
  if (feature_set[0] == '5') {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  return __builtin_cpu_supports("avx2");
}
#endif

}  // namespace

const Kernels& scalar_kernels() { return kScalar; }

FlushToZeroScope::FlushToZeroScope(const Kernels& kernels) : active_(kernels.hardware_flush) {
#if defined(__x86_64__)
  if (active_) {
    constexpr unsigned kFlushToZero = 1u << 15;
    constexpr unsigned kDenormalsAreZero = 1u << 6;
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
  }
#endif
}

FlushToZeroScope::~FlushToZeroScope() {
#if defined(__x86_64__)
  if (active_) {
    _mm_setcsr(saved_);
  }
#endif
}

std::size_t supported_simd_kernels(const Kernels** out) {
  std::size_t count = 0;
#if ECQ_HAS_SIMD_KERNELS
  out[count++] = &kKernelsBaseline;
#else
  (void)out;
#endif
#if defined(__x86_64__)
  if (cpu_has("2")) {
    out[count++] = &kKernelsAvx2;
  }
  if (cpu_has("512")) {
    out[count++] = &kKernelsAvx512;
  }
#endif
  return count;
}

const Kernels& select_kernels(bool scalar_only) {
  if (scalar_only) {
    return kScalar;
  }
#if defined(__x86_64__)
  static const Kernels& best = cpu_has("512") ? kKernelsAvx512 : cpu_has("2") ? kKernelsAvx2 : kKernelsBaseline;
  return best;
#elif ECQ_HAS_SIMD_KERNELS
  return kKernelsBaseline;
#else
  return kScalar;
#endif
}

void pack_group(const std::uint8_t* codes, std::uint32_t count, std::uint32_t bits, std::uint8_t* out) {
  switch (bits) {
    case 2: pack_fixed<2>(codes, count, out); break;
    case 3: pack_fixed<3>(codes, count, out); break;
    case 4: pack_fixed<4>(codes, count, out); break;
    case 5: pack_fixed<5>(codes, count, out); break;
    case 6: pack_fixed<6>(codes, count, out); break;
    case 7: pack_fixed<7>(codes, count, out); break;
    default: pack_fixed<8>(codes, count, out); break;
  }
}

void unpack_group(const std::uint8_t* in, std::uint32_t count, std::uint32_t bits, std::uint8_t* codes) {
  switch (bits) {
    case 2: unpack_fixed<2>(in, count, codes); break;
    case 3: unpack_fixed<3>(in, count, codes); break;
    case 4: unpack_fixed<4>(in, count, codes); break;
    case 5: unpack_fixed<5>(in, count, codes); break;
    case 6: unpack_fixed<6>(in, count, codes); break;
    case 7: unpack_fixed<7>(in, count, codes); break;
    default: unpack_fixed<8>(in, count, codes); break;
  }
}

}  // namespace ecq::detail
