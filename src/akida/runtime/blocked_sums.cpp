#include "akida/runtime/blocked_sums.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>

#include "akida/runtime/blocked_avx2.h"
#include "akida/runtime/blocked_tiling.h"
#include "akida/runtime/madd_sums.h"
#include "akida/runtime/vector_clones.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AKIDA_HAVE_AVX512_CODE 1
#endif

namespace akida::runtime::blocked {

using namespace tiling;  // blocked_tiling.h

bool available() { return dot4_available() || avx2::available(); }

bool can_permute() {
#ifdef AKIDA_HAVE_AVX512_CODE
  return dot4_available() && __builtin_cpu_supports("avx512vbmi");
#else
  return false;
#endif
}

Permutation make_permutation(const std::vector<int64_t>& source, int64_t channels) {
  Permutation p;
  p.channels = channels;
  p.slots = static_cast<int64_t>(source.size());
  const int64_t chunks = (p.slots + 63) / 64, pairs = (channels + 127) / 128;
  p.index.assign(static_cast<size_t>(chunks * pairs * 64), 0);
  p.from.assign(static_cast<size_t>(chunks * pairs), 0);
  for (int64_t j = 0; j < p.slots; ++j) {
    const int64_t c = source[j], chunk = j / 64, pair = c / 128;
    p.index[static_cast<size_t>((chunk * pairs + pair) * 64 + j % 64)] = static_cast<uint8_t>(c % 128);
    p.from[static_cast<size_t>(chunk * pairs + pair)] |= uint64_t{1} << (j % 64);
  }
  return p;
}

namespace {

// Widens [low, high] to the range of the n values.
AKIDA_VECTOR_CLONES
void value_range(const int32_t* v, int64_t n, int32_t& low, int32_t& high) {
  int32_t lo = low, hi = high;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  low = lo;
  high = hi;
}

// The largest |b[2i]| + |b[2i + 1]| (PackedWeights::max_pair).
AKIDA_VECTOR_CLONES
int32_t max_pair_sum(const int8_t* b, int64_t pairs) {
  int32_t most = 0;
  for (int64_t i = 0; i < pairs; ++i)
    most = std::max(most, std::abs(int32_t{b[2 * i]}) + std::abs(int32_t{b[2 * i + 1]}));
  return most;
}

// Packs the weights of `runs` as PackedWeights<W> lays them out. Empty when a weight does not fit W.
template <typename W>
PackedWeights<W> pack(const std::vector<int32_t>& w, int64_t filters,
                      const std::vector<InputRun>& runs) {
  constexpr int64_t per = PackedWeights<W>::kPerWord;
  PackedWeights<W> p;
  p.filters = filters;
  p.padded_filters = padded_channels(filters);
  int64_t words = 0;
  for (const InputRun& run : runs) {
    const auto run_words = static_cast<int64_t>(run.rows.size() + per - 1) / per;
    p.segments.push_back({run.offset, run_words, run.shift});
    words += run_words;
  }
  // Every weight must fit W: checked first, so that the packing loop below has no exit (the
  // prepare step of hotdog's 4 M weights spent 3 ms here).
  int32_t low = INT32_MAX, high = INT32_MIN;
  value_range(w.data(), static_cast<int64_t>(w.size()), low, high);
  if (!w.empty() && (low < std::numeric_limits<W>::min() || high > std::numeric_limits<W>::max()))
    return {};
  p.words.assign(static_cast<size_t>(words * p.padded_filters * per), 0);
  std::vector<uint32_t> sums(static_cast<size_t>(p.padded_filters), 0);
  int64_t word = 0;
  for (size_t r = 0; r < runs.size(); ++r) {
    // The shifts after this run multiply what it adds (modulo 2^32, as the sums wrap).
    uint32_t scale = 1;
    for (size_t later = r; later < runs.size(); ++later) scale <<= runs[later].shift;
    const std::vector<int64_t>& rows = runs[r].rows;
    for (size_t m = 0; m < rows.size(); ++m) {
      if (rows[m] < 0) continue;
      const int64_t t = word + static_cast<int64_t>(m) / per, e = static_cast<int64_t>(m) % per;
      const int32_t* from = w.data() + rows[m] * filters;
      W* to = p.words.data() + t * p.padded_filters * per + e;
      for (int64_t f = 0; f < filters; ++f) {
        to[f * per] = static_cast<W>(from[f]);
        sums[f] += static_cast<uint32_t>(from[f]) * scale;
      }
    }
    word += p.segments[r].words;
  }
  p.column_sums.assign(sums.begin(), sums.end());
  return p;
}

}  // namespace

ByteWeights pack_bytes(const std::vector<int32_t>& w, int64_t filters,
                       const std::vector<InputRun>& runs) {
  ByteWeights packed = pack<int8_t>(w, filters, runs);
  packed.max_pair = max_pair_sum(packed.words.data(), static_cast<int64_t>(packed.words.size() / 2));
  return packed;
}

bool bytes_exact(const ByteWeights& weights, int64_t max_input) {
  return dot4_available() || int64_t{weights.max_pair} * max_input <= INT16_MAX;
}

PairWeights pack_pairs(const std::vector<int32_t>& w, int64_t filters,
                       const std::vector<InputRun>& runs) {
  return pack<int16_t>(w, filters, runs);
}

std::vector<InputRun> row_runs(int64_t kx, int64_t k_per_row, int64_t row_stride) {
  std::vector<InputRun> runs(static_cast<size_t>(kx));
  for (int64_t i = 0; i < kx; ++i) {
    runs[i].offset = i * row_stride;
    for (int64_t k = 0; k < k_per_row; ++k) runs[i].rows.push_back(i * k_per_row + k);
  }
  return runs;
}

std::vector<int32_t> pair_weights(const std::vector<int32_t>& weights) {
  std::vector<int32_t> out;
  for (int32_t w : weights) {
    if (w < INT16_MIN || w > INT16_MAX) return {};
    out.push_back(static_cast<int32_t>(static_cast<uint16_t>(w)));
  }
  return out;
}

// Layout: [vector j][pairing 0 (with itself) or 1 (with j + 1)][level k][32 lanes], the lanes in
// the order _mm512_packs_epi32(first, second) leaves them: in each 128-bit lane, four values of
// the first vector then the same four channels of the second.
std::vector<int16_t> pack_levels16(const std::vector<int16_t>& relative, int64_t channels,
                                   int32_t count) {
  const int64_t vectors = padded_channels(channels) / kLanes;
  std::vector<int16_t> out(static_cast<size_t>(vectors * 2 * count * 32), 0);
  auto at = [&](int64_t k, int64_t f) -> int16_t {
    return f < channels ? relative[k * channels + f] : INT16_MAX;
  };
  for (int64_t j = 0; j < vectors; ++j)
    for (int64_t pairing = 0; pairing < 2; ++pairing) {
      const int64_t second = std::min(j + pairing, vectors - 1);
      for (int64_t k = 0; k < count; ++k)
        for (int64_t lane = 0; lane < 32; ++lane) {
          const int64_t block = lane / 8, i = lane % 8;
          const int64_t f = (i < 4 ? j : second) * kLanes + block * 4 + i % 4;
          out[static_cast<size_t>(((j * 2 + pairing) * count + k) * 32 + lane)] = at(k, f);
        }
    }
  return out;
}

#ifdef AKIDA_HAVE_AVX512_CODE
// Every function below is built for AVX-512 VNNI (called only where the CPU has it). GCC takes
// a target pragma; clang (the fuzzing and sanitizer builds) takes the same as a pushed attribute.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#endif
// GCC 12 reports the intrinsics' own undefined pass-through operands (_mm512_undefined_*).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// Lanes of the channel vector starting at f that hold real channels.
inline __mmask16 channel_mask(int64_t f, int64_t channels) {
  const int64_t n = std::clamp<int64_t>(channels - f, 0, kLanes);
  return static_cast<__mmask16>((1u << n) - 1u);
}

inline __m512i load(const int32_t* p) { return _mm512_loadu_si512(p); }

// The number of level boundaries (level-major, `stride` apart) each of 16 potentials reaches;
// kCount levels (0: `count` levels, known at run time only).
template <int kCount>
__attribute__((always_inline)) inline __m512i count_levels(const int32_t* level, int64_t stride, __m512i s, int32_t count = kCount) {
  __m512i reached = _mm512_setzero_si512();
  const __m512i one = _mm512_set1_epi32(1);
#pragma GCC unroll 16
  for (int32_t k = 0; k < (kCount > 0 ? kCount : count); ++k, level += stride)
    reached = _mm512_mask_add_epi32(reached, _mm512_cmpge_epi32_mask(s, load(level)), reached, one);
  return reached;
}

// The lanes of the binary search below: 16 int32 ones (Levels) or 32 int16 ones (Levels16).
struct Int32Lanes {
  using Mask = __mmask16;
  static Mask ge(__m512i a, __m512i b) { return _mm512_cmpge_epi32_mask(a, b); }
  static __m512i blend(Mask m, __m512i a, __m512i b) { return _mm512_mask_blend_epi32(m, a, b); }
  static __m512i add_where(Mask m, __m512i v, int value) {
    return _mm512_mask_add_epi32(v, m, v, _mm512_set1_epi32(value));
  }
};
struct Int16Lanes {
  using Mask = __mmask32;
  static Mask ge(__m512i a, __m512i b) { return _mm512_cmpge_epi16_mask(a, b); }
  static __m512i blend(Mask m, __m512i a, __m512i b) { return _mm512_mask_blend_epi16(m, a, b); }
  static __m512i add_where(Mask m, __m512i v, int value) {
    return _mm512_mask_add_epi16(v, m, v, _mm512_set1_epi16(static_cast<int16_t>(value)));
  }
};

// The count of 15 level boundaries each lane of s reaches, by binary search: 4 comparisons and
// 11 blends instead of 15 comparisons and additions. The boundaries B_1 <= ... <= B_15 of each
// lane (boundary(k) = B_k) are non-decreasing, so the level (the number of B_k <= s) has the
// bits s >= B_8, s >= B_{4 + 8·bit3}, ...
template <typename Lanes, typename Boundary>
__attribute__((always_inline)) inline __m512i search_16_levels(Boundary boundary, __m512i s) {
  const auto bit3 = Lanes::ge(s, boundary(8));
  const auto bit2 = Lanes::ge(s, Lanes::blend(bit3, boundary(4), boundary(12)));
  const __m512i low2 = Lanes::blend(bit2, boundary(2), boundary(6));
  const __m512i high2 = Lanes::blend(bit2, boundary(10), boundary(14));
  const auto bit1 = Lanes::ge(s, Lanes::blend(bit3, low2, high2));
  auto odd = [&](int k0) { return Lanes::blend(bit1, boundary(k0), boundary(k0 + 2)); };
  const __m512i low1 = Lanes::blend(bit2, odd(1), odd(5));
  const __m512i high1 = Lanes::blend(bit2, odd(9), odd(13));
  const auto bit0 = Lanes::ge(s, Lanes::blend(bit3, low1, high1));
  __m512i level = Lanes::add_where(bit3, _mm512_setzero_si512(), 8);
  level = Lanes::add_where(bit2, level, 4);
  level = Lanes::add_where(bit1, level, 2);
  return Lanes::add_where(bit0, level, 1);
}

// The Requantize parameters of channels f .. f + 15, loaded once for every pixel of a tile.
struct RequantizeVectors {
  __m512i low, high, scale, left, half, right, out_min, out_max;
};

__attribute__((always_inline)) inline RequantizeVectors requantize_vectors(const Epilogue& e, int64_t f) {
  RequantizeVectors r;
  r.low = e.clamp ? load(e.low + f) : _mm512_setzero_si512();
  r.high = e.clamp ? load(e.high + f) : _mm512_setzero_si512();
  r.scale = load(e.scale + f);
  r.left = e.left ? load(e.left + f) : _mm512_setzero_si512();
  r.half = load(e.half + f);
  r.right = load(e.right + f);
  r.out_min = _mm512_set1_epi32(e.out_min);
  r.out_max = _mm512_set1_epi32(e.out_max);
  return r;
}

__attribute__((always_inline)) inline __m512i requantize(const Epilogue& e, const RequantizeVectors& r, __m512i s) {
  __m512i v = s;
  if (e.clamp) v = _mm512_max_epi32(_mm512_min_epi32(v, r.high), r.low);
  v = _mm512_mullo_epi32(v, r.scale);
  if (e.left) v = _mm512_sllv_epi32(v, r.left);
  v = _mm512_srav_epi32(_mm512_add_epi32(v, r.half), r.right);
  return _mm512_max_epi32(_mm512_min_epi32(v, r.out_max), r.out_min);
}

// The LevelsFloat parameters of channels f .. f + 15, loaded once for every pixel of a tile.
struct FloatLevelVectors {
  __m512i top;
  __m512 steps, inverse_steps, top_float;
};

__attribute__((always_inline)) inline FloatLevelVectors float_level_vectors(const Epilogue& e,
                                                                            int64_t f) {
  return {_mm512_set1_epi32(e.level_count), _mm512_loadu_ps(e.steps + f),
          _mm512_loadu_ps(e.inverse_steps + f), _mm512_set1_ps(static_cast<float>(e.level_count))};
}

// The LevelsFloat count of 16 sums (potential − threshold: the thresholds are in their start).
__attribute__((always_inline)) inline __m512i float_levels(const FloatLevelVectors& v, __m512i s) {
  const __m512 d = _mm512_cvtepi32_ps(s);
  // Capped at the level count before the conversion: d / q reaches 2^44, and a float beyond
  // int32 converts to INT32_MIN (which counted 1 level where there were all of them). The cap
  // is an integer, so c <= level count.
  __m512i c = _mm512_cvt_roundps_epi32(_mm512_min_ps(_mm512_mul_ps(d, v.inverse_steps), v.top_float),
                                       _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
  c = _mm512_max_epi32(c, _mm512_setzero_si512());
  // One level more where c·q < d.
  const __mmask16 below = _mm512_mask_cmp_ps_mask(
      _mm512_cmplt_epi32_mask(c, v.top), _mm512_fmsub_ps(_mm512_cvtepi32_ps(c), v.steps, d),
      _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_add_epi32(c, below, c, _mm512_set1_epi32(1));
}

// The LevelsLinear parameters of channels f .. f + 15, loaded once for every pixel of a tile.
struct LinearLevelVectors {
  __m512i high, mult, add, shift;
};

__attribute__((always_inline)) inline LinearLevelVectors linear_level_vectors(const Epilogue& e,
                                                                              int64_t f) {
  return {load(e.high + f), load(e.scale + f), load(e.half + f), load(e.right + f)};
}

// The LevelsLinear count of 16 sums.
__attribute__((always_inline)) inline __m512i linear_levels(const LinearLevelVectors& v, __m512i s) {
  const __m512i u = _mm512_max_epi32(_mm512_min_epi32(s, v.high), _mm512_setzero_si512());
  return _mm512_srlv_epi32(_mm512_add_epi32(_mm512_mullo_epi32(u, v.mult), v.add), v.shift);
}

// The epilogue of 16 sums of channels f .. f + 15.
__attribute__((always_inline)) inline __m512i epilogue_vector(const Epilogue& e, __m512i s, int64_t f) {
  switch (e.kind) {
    case Epilogue::Kind::Sums: return s;
    case Epilogue::Kind::Requantize: return requantize(e, requantize_vectors(e, f), s);
    case Epilogue::Kind::ClampSum: return s;  // accumulates: conv() only (store_items)
    case Epilogue::Kind::LevelsFloat: return float_levels(float_level_vectors(e, f), s);
    case Epilogue::Kind::LevelsLinear: return linear_levels(linear_level_vectors(e, f), s);
    case Epilogue::Kind::Levels16:  // in pairs of vectors: store_items()
    case Epilogue::Kind::Levels:
      // Unrolled for the widths Akida 1.0 uses (1, 2 and 4 bits).
      switch (e.level_count) {
        case 1: return count_levels<1>(e.levels + f, e.level_stride, s);
        case 3: return count_levels<3>(e.levels + f, e.level_stride, s);
        case 15:
          return search_16_levels<Int32Lanes>(
              [&](int k) { return load(e.levels + f + (k - 1) * e.level_stride); }, s);
        default: return count_levels<0>(e.levels + f, e.level_stride, s, e.level_count);
      }
  }
  return s;
}

inline void store(int32_t* out, __m512i v, int64_t f, int64_t channels) {
  if (f + kLanes <= channels)
    _mm512_storeu_si512(out + f, v);
  else
    _mm512_mask_storeu_epi32(out + f, channel_mask(f, channels), v);
}

// The low 16 bits of the 16 values (DepthwiseTask::out16).
inline void store(int16_t* out, __m512i v, int64_t f, int64_t channels) {
  const __m256i halves = _mm512_cvtepi32_epi16(v);
  if (f + kLanes <= channels)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + f), halves);
  else
    _mm256_mask_storeu_epi16(out + f, channel_mask(f, channels), halves);
}

// The low bytes of the 16 values (ConvTask::out_bytes).
inline void store(uint8_t* out, __m512i v, int64_t f, int64_t channels) {
  const __m128i bytes = _mm512_cvtepi32_epi8(v);
  if (f + kLanes <= channels)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + f), bytes);
  else
    _mm_mask_storeu_epi8(out + f, channel_mask(f, channels), bytes);
}

// The dot product instruction of each input type: four u8 × s8 or two s16 × s16 products per lane.
inline __m512i dot(__m512i acc, __m512i x, __m512i w, uint8_t) { return _mm512_dpbusd_epi32(acc, x, w); }
inline __m512i dot(__m512i acc, __m512i x, __m512i w, int16_t) { return _mm512_dpwssd_epi32(acc, x, w); }

inline int32_t word_at(const void* p) {
  int32_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

// Levels16 of two vectors of sums `a` (channels fa..) and `b` (channels fb..), fb = fa or
// fa + 16: `pairing` selects the table (0: b is the same channels, 1: the next ones).
template <int kCount>
__attribute__((always_inline)) inline void count_levels16(const Epilogue& e, __m512i a, __m512i b, int64_t fa, int64_t pairing,
                           __m512i& count_a, __m512i& count_b, int32_t count = kCount) {
  const int64_t levels = kCount > 0 ? kCount : count;
  const __m512i d = _mm512_packs_epi32(_mm512_sub_epi32(a, load(e.thresholds + fa)),
                                       _mm512_sub_epi32(b, load(e.thresholds + fa + pairing * kLanes)));
  const int16_t* table = e.levels16 + ((fa / kLanes * 2 + pairing) * levels) * 32;
  __m512i reached = _mm512_setzero_si512();
  if constexpr (kCount == 15) {
    reached = search_16_levels<Int16Lanes>(
        [&](int k) { return _mm512_loadu_si512(table + (k - 1) * 32); }, d);
  } else {
#pragma GCC unroll 16
    for (int64_t k = 0; k < levels; ++k, table += 32)
      reached = Int16Lanes::add_where(Int16Lanes::ge(d, _mm512_loadu_si512(table)), reached, 1);
  }
  count_a = _mm512_unpacklo_epi16(reached, _mm512_setzero_si512());
  count_b = _mm512_unpackhi_epi16(reached, _mm512_setzero_si512());
}

__attribute__((always_inline)) inline void levels16(const Epilogue& e, __m512i a, __m512i b,
                                                    int64_t fa, int64_t pairing,
                     __m512i& count_a, __m512i& count_b) {
  switch (e.level_count) {
    case 1: return count_levels16<1>(e, a, b, fa, pairing, count_a, count_b);
    case 3: return count_levels16<3>(e, a, b, fa, pairing, count_a, count_b);
    case 15: return count_levels16<15>(e, a, b, fa, pairing, count_a, count_b);
    default: return count_levels16<0>(e, a, b, fa, pairing, count_a, count_b, e.level_count);
  }
}

// The epilogue of a tile's items (the pixels p with item[p], in order from `cursor`): vector by
// vector, or for Levels16 two vectors at a time (two channel vectors of one item, or two
// consecutive unpooled pixels when the tile has one channel vector).
template <int P, int NB, typename O>
__attribute__((always_inline)) inline void store_items(const Epilogue& epilogue, __m512i (&acc)[P][NB], const bool (&item)[P], int64_t window,
                 ItemCursor<O> cursor, int64_t f0) {
  // A copy the stores cannot alias: its fields stay in registers instead of being reloaded
  // after every store.
  const Epilogue e = epilogue;
  const int64_t filters = cursor.filters;
  if (e.kind == Epilogue::Kind::ClampSum) {  // every item adds to the same sums (int32 only)
    if constexpr (std::is_same_v<O, int32_t>) {
      int32_t* out = cursor.at;
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) {
        if (!item[p]) continue;
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b) {
          const int64_t f = f0 + b * kLanes;
          const __m512i v = _mm512_max_epi32(_mm512_min_epi32(acc[p][b], load(e.high + f)), load(e.low + f));
          const __mmask16 lanes = channel_mask(f, filters);
          _mm512_mask_storeu_epi32(out + f, lanes,
                                   _mm512_add_epi32(_mm512_maskz_loadu_epi32(lanes, out + f), v));
        }
      }
    }
    return;
  }
  O* dst[P];  // where pixel p's item goes (null: not an item)
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    dst[p] = item[p] ? cursor.at : nullptr;
    if (item[p]) cursor.next();
  }
  if (e.kind == Epilogue::Kind::Levels16 && NB == 1 && window == 1) {
#pragma GCC unroll 16
    for (int p = 0; p < P; p += 2) {
      if (!item[p]) break;
      const bool pair = p + 1 < P && item[p + 1];
      __m512i first, second;
      levels16(e, acc[p][0], acc[pair ? p + 1 : p][0], f0, 0, first, second);
      store(dst[p], first, f0, filters);
      if (!pair) break;
      store(dst[p + 1], second, f0, filters);
    }
    return;
  }
  // Requantize, LevelsLinear and LevelsFloat channel vector by channel vector: its parameters
  // (parameters(f)) loaded once for every item of the tile.
  auto by_channel_vector = [&](auto parameters, auto apply) __attribute__((always_inline)) {
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) {
      const int64_t f = f0 + b * kLanes;
      const auto v = parameters(f);
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p)
        if (item[p]) store(dst[p], apply(v, acc[p][b]), f, filters);
    }
  };
  if (e.kind == Epilogue::Kind::Requantize)
    return by_channel_vector(
        [&](int64_t f) __attribute__((always_inline)) { return requantize_vectors(e, f); },
        [&](const RequantizeVectors& r, __m512i s)
            __attribute__((always_inline)) { return requantize(e, r, s); });
  if (e.kind == Epilogue::Kind::LevelsLinear)
    return by_channel_vector(
        [&](int64_t f) __attribute__((always_inline)) { return linear_level_vectors(e, f); },
        [](const LinearLevelVectors& v, __m512i s)
            __attribute__((always_inline)) { return linear_levels(v, s); });
  if (e.kind == Epilogue::Kind::LevelsFloat)
    return by_channel_vector(
        [&](int64_t f) __attribute__((always_inline)) { return float_level_vectors(e, f); },
        [](const FloatLevelVectors& v, __m512i s)
            __attribute__((always_inline)) { return float_levels(v, s); });
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    if (!item[p]) continue;
    if (e.kind == Epilogue::Kind::Levels16) {
#pragma GCC unroll 4
      for (int b = 0; b < NB; b += 2) {
        const int64_t f = f0 + b * kLanes;
        const bool pair = b + 1 < NB;
        __m512i first, second;
        levels16(e, acc[p][b], acc[p][pair ? b + 1 : b], f, pair ? 1 : 0, first, second);
        store(dst[p], first, f, filters);
        if (pair) store(dst[p], second, f + kLanes, filters);
      }
    } else {
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) {
        const int64_t f = f0 + b * kLanes;
        store(dst[p], epilogue_vector(e, acc[p][b], f), f, filters);
      }
    }
  }
}

// What stage_clipped() took from the inputs of the tile's pixels, added back to their sums.
template <int P, int NB>
__attribute__((always_inline)) inline void add_outliers(const Outliers& o, int64_t p0, int64_t count,
                                                        int64_t padded_filters, int64_t f0,
                                                        __m512i (&acc)[P][NB]) {
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    const int32_t pixel = o.pixels[p0 + std::min<int64_t>(p, count - 1)];
    for (int32_t i = o.start[pixel]; i < o.start[pixel + 1]; ++i) {
      const __m512i delta = _mm512_set1_epi32(o.deltas[i]);
      const int32_t* w = o.weights + o.rows[i] * padded_filters + f0;
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b)
        acc[p][b] = _mm512_add_epi32(acc[p][b], _mm512_mullo_epi32(delta, load(w + b * kLanes)));
    }
  }
}

// Stores the items of a tile (item[p]: pixel p ends an item) from output item `item0` on, channels
// f0 .. f0 + 16 · NB − 1, through the task's epilogue.
template <int P, int NB, typename T>
__attribute__((always_inline)) inline void store_tile(const ConvTask<T>& t, __m512i (&acc)[P][NB],
                                                      const bool (&item)[P], int64_t item0, int64_t f0) {
  const int64_t filters = t.weights->filters, window = t.pool_window;
  if (t.out_bytes) {
    ItemCursor<uint8_t> cursor{t.out_bytes + item0 * filters, filters};
    if (t.out_row_items > 0) {  // item0 = x · row_items + y
      cursor.y = item0 % t.out_row_items;
      cursor.row_items = t.out_row_items;
      cursor.row_stride = t.out_row_stride;
      cursor.at = t.out_bytes + item0 / t.out_row_items * t.out_row_stride + cursor.y * filters;
    }
    return store_items<P, NB>(t.epilogue, acc, item, window, cursor, f0);
  }
  const bool global_sum = t.epilogue.kind == Epilogue::Kind::ClampSum;
  store_items<P, NB>(t.epilogue, acc, item, window,
                     ItemCursor<int32_t>{t.out + (global_sum ? 0 : item0 * filters), filters}, f0);
}

// P output pixels (from p0; the last `P - count` repeat the last one and are not stored) times
// NB vectors of 16 output channels (from f0): the sums stay in registers for the whole window.
// With pooling windows of W pixels (P and p0 multiples of W), each window's maximum is stored.
template <typename T, int P, int NB, bool kClipped>
void conv_tile(const ConvTask<T>& t, int64_t p0, int64_t item0, int64_t count, int64_t f0) {
  const auto& w = *t.weights;
  constexpr int64_t per = std::remove_reference_t<decltype(w)>::kPerWord;
  const int64_t pf = w.padded_filters;
  __m512i acc[P][NB];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) acc[p][b] = _mm512_setzero_si512();
  const T* rows[P];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) rows[p] = t.input + t.windows[p0 + std::min<int64_t>(p, count - 1)];
  const auto* wg = w.words.data() + f0 * per;
  const int64_t word_stride = pf * per;  // weight elements between consecutive words
  for (const Segment& segment : w.segments) {
    for (int64_t g = 0; g < segment.words; ++g, wg += word_stride) {
      const int64_t k = segment.offset + g * per;
      if constexpr (P == 1) {
        if (word_at(rows[0] + k) == 0) continue;  // sparse inputs: a whole word of zeros
      }
      __m512i wv[NB];
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) wv[b] = _mm512_loadu_si512(wg + b * kLanes * per);
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) {
        const __m512i x = _mm512_set1_epi32(word_at(rows[p] + k));
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b) acc[p][b] = dot(acc[p][b], x, wv[b], T{});
      }
    }
    if (segment.shift == 0) continue;
    const __m128i shift = _mm_cvtsi32_si128(segment.shift);
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) acc[p][b] = _mm512_sll_epi32(acc[p][b], shift);
  }
  // A separate instantiation: the corrections' loops in every tile cost the others 5% (VWW).
  if constexpr (kClipped) add_outliers<P, NB>(*t.outliers, p0, count, pf, f0, acc);
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b) {
    const __m512i init = load(t.init + f0 + b * kLanes);
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) acc[p][b] = _mm512_add_epi32(acc[p][b], init);
  }
  // Each pooling window's maximum, at its last pixel: the items to store.
  const int64_t window = t.pool_window;
  bool item[P];
  int64_t in_window = 0;  // pixels of the current pooling window seen so far
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    item[p] = p < count;
    if (window == 1 || p >= count) continue;
    if (in_window > 0)
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) acc[p][b] = _mm512_max_epi32(acc[p][b], acc[p - 1][b]);
    item[p] = ++in_window == window;
    if (item[p]) in_window = 0;
  }
  store_tile<P, NB>(t, acc, item, item0, f0);
}

// A single output item over many output channels (a dense layer's one pixel): its sums kept in
// memory, every word of input taking one pass over all the channels' weights. The tiles read a
// word's weights for their 64 channels only, a stride of 4 · padded_filters bytes apart: past
// 4 KB (1024 channels), every word is on a new page and the reads ran at half the speed of
// these contiguous ones (hotdog's 512 x 2048 layer: 40 µs -> 20 µs per sample).
constexpr int64_t kWideFilters = 1024;

template <typename T>
void conv_wide_item(const ConvTask<T>& t, int64_t item) {
  const auto& w = *t.weights;
  constexpr int64_t per = std::remove_reference_t<decltype(w)>::kPerWord;
  const int64_t pf = w.padded_filters;
  thread_local std::vector<int32_t> sums;
  sums.assign(static_cast<size_t>(pf), 0);
  const T* row = t.input + t.windows[item];
  const auto* wg = w.words.data();
  for (const Segment& segment : w.segments) {
    for (int64_t g = 0; g < segment.words; ++g, wg += pf * per) {
      const int32_t word = word_at(row + segment.offset + g * per);
      if (word == 0) continue;  // sparse inputs: a whole word of zeros
      const __m512i x = _mm512_set1_epi32(word);
      for (int64_t f = 0; f < pf; f += kLanes)
        _mm512_storeu_si512(sums.data() + f, dot(load(sums.data() + f), x,
                                                 _mm512_loadu_si512(wg + f * per), T{}));
    }
    if (segment.shift == 0) continue;
    const __m128i shift = _mm_cvtsi32_si128(segment.shift);
    for (int64_t f = 0; f < pf; f += kLanes)
      _mm512_storeu_si512(sums.data() + f, _mm512_sll_epi32(load(sums.data() + f), shift));
  }
  const bool item_flag[1] = {true};
  for (int64_t f = 0; f < pf; f += kLanes) {
    __m512i acc[1][1] = {{_mm512_add_epi32(load(sums.data() + f), load(t.init + f))}};
    store_tile<1, 1>(t, acc, item_flag, item, f);
  }
}

// Register budget: P·NB sums, NB weights and a broadcast input within the 32 vector registers.
constexpr int kMaxSums = 28;
// The tile widths instantiated for each NB, widest first (P·NB <= kMaxSums).

// Whole tiles of P pixels from p (output item `item`) while they fit before end; for P <= 4, the
// last few pixels too (one tile, its extra pixels not stored).
template <typename T, int NB, int P, bool kClipped>
void tiles(const ConvTask<T>& t, int64_t& p, int64_t& item, int64_t end, int64_t f0) {
  if constexpr (P * NB <= kMaxSums) {
    const int64_t items_per_tile = P / t.pool_window;
    for (; p + P <= end; p += P, item += items_per_tile) conv_tile<T, P, NB, kClipped>(t, p, item, P, f0);
    if (P <= 4 && p < end) {
      conv_tile<T, P, NB, kClipped>(t, p, item, end - p, f0);
      item += (end - p) / t.pool_window;
      p = end;
    }
  }
}

// Runs tiles of `width` pixels (one of kTileWidths) from p while whole tiles fit before end.
template <typename T, int NB, bool kClipped>
void tiles_of(const ConvTask<T>& t, int width, int64_t& p, int64_t& item, int64_t end,
              int64_t f0) {
  switch (width) {
    case 16: return tiles<T, NB, 16, kClipped>(t, p, item, end, f0);
    case 12: return tiles<T, NB, 12, kClipped>(t, p, item, end, f0);
    case 9: return tiles<T, NB, 9, kClipped>(t, p, item, end, f0);
    case 8: return tiles<T, NB, 8, kClipped>(t, p, item, end, f0);
    case 6: return tiles<T, NB, 6, kClipped>(t, p, item, end, f0);
    case 4: return tiles<T, NB, 4, kClipped>(t, p, item, end, f0);
    case 3: return tiles<T, NB, 3, kClipped>(t, p, item, end, f0);
    case 2: return tiles<T, NB, 2, kClipped>(t, p, item, end, f0);
    default: return tiles<T, NB, 1, kClipped>(t, p, item, end, f0);
  }
}

// The widest tile of NB vectors holding whole pooling windows of `window` pixels (0: none).
int widest_tile(int64_t nb, int64_t window) {
  for (int width : kTileWidths)
    if (width * nb <= kMaxSums && width % window == 0) return width;
  return 0;
}

// Output items [begin, end) for the channel chunk of NB vectors from f0.
template <typename T, int NB, bool kClipped>
void conv_chunk(const ConvTask<T>& t, int64_t begin, int64_t end, int64_t f0) {
  const int64_t window = t.pool_window;
  int64_t p = begin * window, item = begin;
  if (window == 1 && end - begin == 1) return conv_tile<T, 1, NB, kClipped>(t, p, item, 1, f0);  // skips zero words
  tiles_of<T, NB, kClipped>(t, widest_tile(NB, window), p, item, end * window, f0);
  if (window > 1)
    return tiles_of<T, NB, kClipped>(t, static_cast<int>(window), p, item, end * window, f0);
  tiles_of<T, NB, kClipped>(t, 4, p, item, end * window, f0);
}

// The channel chunks of up to 4 vectors.
template <typename T, bool kClipped>
void conv_chunks(const ConvTask<T>& t, int64_t begin, int64_t end) {
  const int64_t vectors = t.weights->padded_filters / kLanes, window = t.pool_window;
  // At most kMaxSums / window vectors per chunk: the tiles hold whole pooling windows.
  const int64_t widest = std::min<int64_t>(4, kMaxSums / window);
  for (int64_t v = 0; v < vectors;) {
    const int64_t f0 = v * kLanes;
    switch (std::min(vectors - v, widest)) {
      case 1: conv_chunk<T, 1, kClipped>(t, begin, end, f0); v += 1; break;
      case 2: conv_chunk<T, 2, kClipped>(t, begin, end, f0); v += 2; break;
      case 3: conv_chunk<T, 3, kClipped>(t, begin, end, f0); v += 3; break;
      default: conv_chunk<T, 4, kClipped>(t, begin, end, f0); v += 4; break;
    }
  }
}

template <typename T>
void conv_impl(const ConvTask<T>& t, int64_t begin, int64_t end) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    if (t.outliers) return conv_chunks<T, true>(t, begin, end);
  }
  if (t.pool_window == 1 && end - begin == 1 && t.weights->padded_filters >= kWideFilters)
    return conv_wide_item(t, begin);
  conv_chunks<T, false>(t, begin, end);
}

inline __m512i widen(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m512i widen(const int16_t* p) {
  return _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// The start of a depthwise tile: every sum at `init`, and where the window of each of its P
// pixels (the last `P - count` repeating the last pixel) reads channel c0.
template <typename T, int P>
__attribute__((always_inline)) inline void start_tile(const DepthwiseTask<T>& t, int64_t p0,
                                                      int64_t count, int64_t c0, __m512i init,
                                                      __m512i (&acc)[P], const T* (&pixels)[P]) {
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    acc[p] = init;
    pixels[p] = t.input + t.windows[p0 + std::min<int64_t>(p, count - 1)] + c0;
  }
}

// P output pixels, one vector of 16 channels from c0; kPairs: t.pair_weights by vpdpwssd.
template <typename T, int P, bool kPairs>
void depthwise_tile(const DepthwiseTask<T>& t, int64_t p0, int64_t count, int64_t c0) {
  const int64_t padded = padded_channels(t.channels);
  __m512i acc[P];
  const T* pixels[P];
  start_tile(t, p0, count, c0, load(t.init + c0), acc, pixels);
  const int32_t* weights = kPairs ? t.pair_weights : t.weights;
  for (int64_t tap = 0; tap < t.taps; ++tap) {
    const __m512i w = load(weights + tap * padded + c0);
    const int64_t offset = t.tap_offsets[tap];
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
      acc[p] = kPairs ? _mm512_dpwssd_epi32(acc[p], widen(pixels[p] + offset), w)
                      : _mm512_add_epi32(acc[p], _mm512_mullo_epi32(widen(pixels[p] + offset), w));
  }
  if (t.out16) {  // plain sums
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
      if (p < count) store(t.out16 + (p0 + p) * t.channels, acc[p], c0, t.channels);
    return;
  }
  const Epilogue e = t.epilogue;  // not aliased by the stores (see store_items)
  if (e.kind == Epilogue::Kind::Requantize) {
    const RequantizeVectors r = requantize_vectors(e, c0);
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
      if (p < count) store(t.out + (p0 + p) * t.channels, requantize(e, r, acc[p]), c0, t.channels);
    return;
  }
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    if (p >= count) break;
    store(t.out + (p0 + p) * t.channels, epilogue_vector(e, acc[p], c0), c0, t.channels);
  }
}

// P output pixels, 32 channels from c0 on 16-bit lanes (DepthwiseTask::weights16, out16).
template <int P>
void depthwise_tile16(const DepthwiseTask<uint8_t>& t, int64_t p0, int64_t count, int64_t c0) {
  const int64_t padded = padded_channels(t.channels);
  const __m512i init = _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm512_cvtepi32_epi16(load(t.init + c0))),
      _mm512_cvtepi32_epi16(load(t.init + c0 + kLanes)), 1);
  __m512i acc[P];
  const uint8_t* pixels[P];
  start_tile(t, p0, count, c0, init, acc, pixels);
  for (int64_t tap = 0; tap < t.taps; ++tap) {
    const __m512i w = _mm512_loadu_si512(t.weights16 + tap * padded + c0);
    const int64_t offset = t.tap_offsets[tap];
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) {
      const __m512i x = _mm512_cvtepu8_epi16(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pixels[p] + offset)));
      acc[p] = _mm512_add_epi16(acc[p], _mm512_mullo_epi16(x, w));
    }
  }
  const int64_t n = std::clamp<int64_t>(t.channels - c0, 0, 2 * kLanes);
  const __mmask32 lanes = n == 2 * kLanes ? ~__mmask32{0} : (__mmask32{1} << n) - 1;
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p)
    if (p < count) _mm512_mask_storeu_epi16(t.out16 + (p0 + p) * t.channels + c0, lanes, acc[p]);
}

template <typename T, bool kPairs>
void depthwise_tiles(const DepthwiseTask<T>& t, int64_t begin, int64_t end) {
  for (int64_t c0 = 0; c0 < t.channels;) {
    if constexpr (std::is_same_v<T, uint8_t>) {
      // Twice the lanes where 32 channels of weights are there to read.
      if (t.out16 && t.weights16 && c0 + 2 * kLanes <= padded_channels(t.channels)) {
        pixel_tiles(begin, end, [&](auto width, int64_t p, int64_t count) {
          depthwise_tile16<decltype(width)::value>(t, p, count, c0);
        });
        c0 += 2 * kLanes;
        continue;
      }
    }
    pixel_tiles(begin, end, [&](auto width, int64_t p, int64_t count) {
      depthwise_tile<T, decltype(width)::value, kPairs>(t, p, count, c0);
    });
    c0 += kLanes;
  }
}

template <typename T>
void depthwise_impl(const DepthwiseTask<T>& t, int64_t begin, int64_t end) {
  if (t.pair_weights) return depthwise_tiles<T, true>(t, begin, end);
  depthwise_tiles<T, false>(t, begin, end);
}

// One pixel: its channels' int32 values minus the offset as bytes, 64 channels per vector
// (kVectors of them), then the slots chosen from them 64 at a time (vpermt2b over pairs of
// vectors); widens the raw range [low, high] per lane.
template <int kVectors>
__attribute__((target("avx512vbmi"), always_inline)) inline void permute_pixel(
    const int32_t* in, const Permutation& p, __m512i offset, uint8_t* out, __m512i& low,
    __m512i& high) {
  __m512i bytes[kVectors + 1];
#pragma GCC unroll 4
  for (int v = 0; v < kVectors; ++v) {
    __m128i part[4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      const int64_t c = v * 64 + q * kLanes;
      const __mmask16 lanes = channel_mask(c, p.channels);
      const __m512i x = _mm512_maskz_loadu_epi32(lanes, in + c);
      low = _mm512_mask_min_epi32(low, lanes, low, x);
      high = _mm512_mask_max_epi32(high, lanes, high, x);
      part[q] = _mm512_cvtepi32_epi8(_mm512_sub_epi32(x, offset));
    }
    bytes[v] = _mm512_inserti32x4(
        _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(part[0]), part[1], 1),
                           part[2], 2),
        part[3], 3);
  }
  bytes[kVectors] = _mm512_setzero_si512();
  constexpr int kPairs = (kVectors + 1) / 2;
  const int64_t chunks = (p.slots + 63) / 64;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    __m512i slots = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int pair = 0; pair < kPairs; ++pair) {
      const size_t at = static_cast<size_t>(chunk * kPairs + pair);
      const __m512i chosen = _mm512_permutex2var_epi8(
          bytes[2 * pair], _mm512_loadu_si512(p.index.data() + at * 64), bytes[2 * pair + 1]);
      slots = kPairs == 1 ? chosen : _mm512_mask_blend_epi8(p.from[at], slots, chosen);
    }
    const int64_t n = std::min<int64_t>(64, p.slots - chunk * 64);
    _mm512_mask_storeu_epi8(out + chunk * 64, n == 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1,
                            slots);
  }
}

template <int kVectors>
__attribute__((target("avx512vbmi"))) void stage_permuted_rows(
    const int32_t* in, int64_t rows, int64_t row_pixels, int64_t in_row_stride,
    const Permutation& p, int32_t offset, uint8_t* out, int64_t out_row_stride, int32_t& lo,
    int32_t& hi) {
  __m512i low = _mm512_set1_epi32(lo), high = _mm512_set1_epi32(hi);
  const __m512i o = _mm512_set1_epi32(offset);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t y = 0; y < row_pixels; ++y)
      permute_pixel<kVectors>(in + r * in_row_stride + y * p.channels, p, o,
                              out + r * out_row_stride + y * p.slots, low, high);
  lo = _mm512_reduce_min_epi32(low);
  hi = _mm512_reduce_max_epi32(high);
}

void stage_permuted_impl(const int32_t* in, int64_t rows, int64_t row_pixels,
                         int64_t in_row_stride, const Permutation& p, int32_t offset, uint8_t* out,
                         int64_t out_row_stride, int32_t& lo, int32_t& hi) {
  switch ((p.channels + 63) / 64) {
    case 1: return stage_permuted_rows<1>(in, rows, row_pixels, in_row_stride, p, offset, out, out_row_stride, lo, hi);
    case 2: return stage_permuted_rows<2>(in, rows, row_pixels, in_row_stride, p, offset, out, out_row_stride, lo, hi);
    case 3: return stage_permuted_rows<3>(in, rows, row_pixels, in_row_stride, p, offset, out, out_row_stride, lo, hi);
    default: return stage_permuted_rows<4>(in, rows, row_pixels, in_row_stride, p, offset, out, out_row_stride, lo, hi);
  }
}

template <bool kShift>
void stage_bytes_rows(const int32_t* in, int64_t rows, int64_t n, int64_t in_row_stride,
                      const int32_t* shifts, int32_t offset, uint8_t* out,
                      int64_t out_row_stride, int32_t& lo, int32_t& hi) {
  __m512i low = _mm512_set1_epi32(lo), high = _mm512_set1_epi32(hi);
  const __m512i o = _mm512_set1_epi32(offset);
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* src = in + r * in_row_stride;
    uint8_t* dst = out + r * out_row_stride;
    for (int64_t k = 0; k < n; k += kLanes) {
      const __mmask16 lanes = channel_mask(k, n);
      const __m512i x = _mm512_maskz_loadu_epi32(lanes, src + k);
      low = _mm512_mask_min_epi32(low, lanes, low, x);
      high = _mm512_mask_max_epi32(high, lanes, high, x);
      const __m512i shifted = kShift ? _mm512_sllv_epi32(x, _mm512_maskz_loadu_epi32(lanes, shifts + k)) : x;
      _mm512_mask_cvtepi32_storeu_epi8(dst + k, lanes, _mm512_sub_epi32(shifted, o));
    }
  }
  lo = _mm512_reduce_min_epi32(low);
  hi = _mm512_reduce_max_epi32(high);
}

void copy_bytes_impl(const uint8_t* in, int64_t rows, int64_t n, int64_t in_row_stride,
                     uint8_t* out, int64_t out_row_stride, int32_t& lo, int32_t& hi) {
  __m512i low = _mm512_set1_epi8(-1), high = _mm512_setzero_si512();
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src = in + r * in_row_stride;
    uint8_t* dst = out + r * out_row_stride;
    for (int64_t k = 0; k < n; k += 64) {
      const __mmask64 lanes = n - k >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - k)) - 1;
      const __m512i x = _mm512_maskz_loadu_epi8(lanes, src + k);
      low = _mm512_mask_min_epu8(low, lanes, low, x);
      high = _mm512_max_epu8(high, x);  // masked-off lanes load as 0
      _mm512_mask_storeu_epi8(dst + k, lanes, x);
    }
  }
  alignas(64) uint8_t lows[64], highs[64];
  _mm512_store_si512(lows, low);
  _mm512_store_si512(highs, high);
  if (rows > 0 && n > 0) {
    lo = std::min<int32_t>(lo, *std::min_element(lows, lows + 64));
    hi = std::max<int32_t>(hi, *std::max_element(highs, highs + 64));
  }
}

bool stage_clipped_impl(const int16_t* in, int64_t n, int32_t offset, uint8_t* out,
                        std::vector<int32_t>& indices, std::vector<int32_t>& deltas,
                        int64_t max_clipped) {
  const __m512i o = _mm512_set1_epi16(static_cast<int16_t>(std::clamp(offset, INT16_MIN, INT16_MAX)));
  const __m512i top = _mm512_set1_epi16(255);
  for (int64_t k = 0; k < n; k += 32) {
    const __mmask32 lanes = n - k >= 32 ? ~__mmask32{0} : (__mmask32{1} << (n - k)) - 1;
    // Saturated: a value beyond int16 still lies outside 0..255.
    const __m512i v = _mm512_subs_epi16(_mm512_maskz_loadu_epi16(lanes, in + k), o);
    const __m512i clipped = _mm512_max_epi16(v, _mm512_setzero_si512());
    _mm512_mask_cvtusepi16_storeu_epi8(out + k, lanes, clipped);
    uint32_t outside = _mm512_mask_cmpgt_epi16_mask(lanes, clipped, top) |
                       _mm512_mask_cmplt_epi16_mask(lanes, v, _mm512_setzero_si512());
    for (; outside != 0; outside &= outside - 1) {
      const int64_t i = k + std::countr_zero(outside);
      const int32_t x = int32_t{in[i]} - offset;
      if (static_cast<int64_t>(indices.size()) >= max_clipped) return false;
      indices.push_back(static_cast<int32_t>(i));
      deltas.push_back(x - std::clamp(x, 0, 255));
    }
  }
  return true;
}

void finish_impl(const Epilogue& e, const int32_t* sums, int64_t pixels, int64_t channels,
                 int32_t* out) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t f = 0; f < channels; f += kLanes) {
      const __m512i s = _mm512_maskz_loadu_epi32(channel_mask(f, channels), sums + p * channels + f);
      store(out + p * channels, epilogue_vector(e, s, f), f, channels);
    }
}

}  // namespace

#pragma GCC diagnostic pop
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

bool can_pool(int64_t window) {
  return std::find(std::begin(kTileWidths), std::end(kTileWidths), window) != std::end(kTileWidths);
}

void stage_permuted(const int32_t* in, int64_t rows, int64_t row_pixels, int64_t in_row_stride,
                    const Permutation& permutation, int32_t offset, uint8_t* out,
                    int64_t out_row_stride, int32_t& lo, int32_t& hi) {
  stage_permuted_impl(in, rows, row_pixels, in_row_stride, permutation, offset, out,
                      out_row_stride, lo, hi);
}

bool stage_clipped(const int16_t* in, int64_t n, int32_t offset, uint8_t* out,
                   std::vector<int32_t>& indices, std::vector<int32_t>& deltas,
                   int64_t max_clipped) {
  if (!dot4_available()) return avx2::stage_clipped(in, n, offset, out, indices, deltas, max_clipped);
  return stage_clipped_impl(in, n, offset, out, indices, deltas, max_clipped);
}

void stage_bytes(const int32_t* in, int64_t rows, int64_t n, int64_t in_row_stride,
                 const int32_t* shifts, int32_t offset, uint8_t* out, int64_t out_row_stride,
                 int32_t& lo, int32_t& hi) {
  if (!dot4_available())
    return avx2::stage_bytes(in, rows, n, in_row_stride, shifts, offset, out, out_row_stride, lo, hi);
  if (shifts) return stage_bytes_rows<true>(in, rows, n, in_row_stride, shifts, offset, out, out_row_stride, lo, hi);
  stage_bytes_rows<false>(in, rows, n, in_row_stride, shifts, offset, out, out_row_stride, lo, hi);
}

void copy_bytes(const uint8_t* in, int64_t rows, int64_t n, int64_t in_row_stride, uint8_t* out,
                int64_t out_row_stride, int32_t& lo, int32_t& hi) {
  if (!dot4_available())
    return avx2::copy_bytes(in, rows, n, in_row_stride, out, out_row_stride, lo, hi);
  copy_bytes_impl(in, rows, n, in_row_stride, out, out_row_stride, lo, hi);
}

// The AVX-512 kernels where the CPU has VNNI, else the AVX2 ones (blocked_avx2.h).
void conv(const ConvTask<uint8_t>& task, int64_t begin, int64_t end) {
  if (!dot4_available()) return avx2::conv(task, begin, end);
  conv_impl(task, begin, end);
}
void conv(const ConvTask<int16_t>& task, int64_t begin, int64_t end) {
  if (!dot4_available()) return avx2::conv(task, begin, end);
  conv_impl(task, begin, end);
}
void depthwise(const DepthwiseTask<uint8_t>& task, int64_t begin, int64_t end) {
  if (!dot4_available()) return avx2::depthwise(task, begin, end);
  depthwise_impl(task, begin, end);
}
void depthwise(const DepthwiseTask<int16_t>& task, int64_t begin, int64_t end) {
  if (!dot4_available()) return avx2::depthwise(task, begin, end);
  depthwise_impl(task, begin, end);
}
void finish(const Epilogue& epilogue, const int32_t* sums, int64_t pixels, int64_t channels,
            int32_t* out) {
  if (!dot4_available()) return avx2::finish(epilogue, sums, pixels, channels, out);
  finish_impl(epilogue, sums, pixels, channels, out);
}

#else  // no AVX-512 code: available() is false and nothing calls these

void stage_permuted(const int32_t*, int64_t, int64_t, int64_t, const Permutation&, int32_t,
                    uint8_t*, int64_t, int32_t&, int32_t&) {}
void stage_bytes(const int32_t*, int64_t, int64_t, int64_t, const int32_t*, int32_t, uint8_t*,
                 int64_t, int32_t&, int32_t&) {}
void copy_bytes(const uint8_t*, int64_t, int64_t, int64_t, uint8_t*, int64_t, int32_t&, int32_t&) {}
bool stage_clipped(const int16_t*, int64_t, int32_t, uint8_t*, std::vector<int32_t>&,
                   std::vector<int32_t>&, int64_t) {
  return false;
}
void conv(const ConvTask<uint8_t>&, int64_t, int64_t) {}
void conv(const ConvTask<int16_t>&, int64_t, int64_t) {}
void depthwise(const DepthwiseTask<uint8_t>&, int64_t, int64_t) {}
void depthwise(const DepthwiseTask<int16_t>&, int64_t, int64_t) {}
void finish(const Epilogue&, const int32_t*, int64_t, int64_t, int32_t*) {}

#endif

}  // namespace akida::runtime::blocked
