#include "akida/runtime/blocked_avx2.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <type_traits>

#include "akida/runtime/blocked_tiling.h"
#include "akida/runtime/madd_sums.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AKIDA_HAVE_AVX2_BLOCKED 1
#endif

namespace akida::runtime::blocked::avx2 {

using namespace tiling;  // blocked_tiling.h

bool available() {
#ifdef AKIDA_HAVE_AVX2_BLOCKED
  return madd_available() && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

#ifdef AKIDA_HAVE_AVX2_BLOCKED
// Every function below is built for AVX2 and FMA (called only where the CPU has them).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace {

constexpr int64_t kWidth = 8;  // int32 lanes per vector

inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// All ones in the first n lanes (n <= 0: none).
inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(std::min<int64_t>(n, kWidth))),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline int32_t word_at(const void* p) {
  int32_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

// The low byte of each of the 8 values, in order.
inline uint64_t low_bytes(__m256i v) {
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i packed = _mm256_shuffle_epi8(v, pick);
  const auto first = static_cast<uint32_t>(_mm256_cvtsi256_si32(packed));
  const auto second = static_cast<uint32_t>(_mm256_extract_epi32(packed, 4));
  return first | uint64_t{second} << 32;
}

// The low 16 bits of each of the 8 values, in order.
inline __m128i low_halves(__m256i v) {
  const __m256i pick = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1,
                                        0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
  return _mm256_castsi256_si128(
      _mm256_permute4x64_epi64(_mm256_shuffle_epi8(v, pick), _MM_SHUFFLE(3, 1, 2, 0)));
}

inline void store(int32_t* out, __m256i v, int64_t f, int64_t channels) {
  if (f + kWidth <= channels)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + f), v);
  else
    _mm256_maskstore_epi32(out + f, first_lanes(channels - f), v);
}

inline void store(int16_t* out, __m256i v, int64_t f, int64_t channels) {
  const __m128i halves = low_halves(v);
  if (f + kWidth <= channels) return _mm_storeu_si128(reinterpret_cast<__m128i*>(out + f), halves);
  alignas(16) int16_t part[kWidth];
  _mm_store_si128(reinterpret_cast<__m128i*>(part), halves);
  std::memcpy(out + f, part, static_cast<size_t>(std::max<int64_t>(channels - f, 0)) * sizeof *out);
}

inline void store(uint8_t* out, __m256i v, int64_t f, int64_t channels) {
  const uint64_t bytes = low_bytes(v);
  if (f + kWidth <= channels) return std::memcpy(out + f, &bytes, kWidth), void();
  std::memcpy(out + f, &bytes, static_cast<size_t>(std::max<int64_t>(channels - f, 0)));
}

// The level count of 8 potentials: `count` minus the boundaries above each (s >= B is !(B > s)).
template <int kCount>
__attribute__((always_inline)) inline __m256i count_levels(const int32_t* level, int64_t stride,
                                                           __m256i s, int32_t count = kCount) {
  const int32_t n = kCount > 0 ? kCount : count;
  __m256i reached = _mm256_set1_epi32(n);
#pragma GCC unroll 16
  for (int32_t k = 0; k < n; ++k, level += stride)
    reached = _mm256_add_epi32(reached, _mm256_cmpgt_epi32(load(level), s));
  return reached;
}

struct RequantizeVectors {
  __m256i low, high, scale, left, half, right, out_min, out_max;
};

__attribute__((always_inline)) inline RequantizeVectors requantize_vectors(const Epilogue& e,
                                                                          int64_t f) {
  RequantizeVectors r;
  r.low = e.clamp ? load(e.low + f) : _mm256_setzero_si256();
  r.high = e.clamp ? load(e.high + f) : _mm256_setzero_si256();
  r.scale = load(e.scale + f);
  r.left = e.left ? load(e.left + f) : _mm256_setzero_si256();
  r.half = load(e.half + f);
  r.right = load(e.right + f);
  r.out_min = _mm256_set1_epi32(e.out_min);
  r.out_max = _mm256_set1_epi32(e.out_max);
  return r;
}

__attribute__((always_inline)) inline __m256i requantize(const Epilogue& e,
                                                         const RequantizeVectors& r, __m256i s) {
  __m256i v = s;
  if (e.clamp) v = _mm256_max_epi32(_mm256_min_epi32(v, r.high), r.low);
  v = _mm256_mullo_epi32(v, r.scale);
  if (e.left) v = _mm256_sllv_epi32(v, r.left);
  v = _mm256_srav_epi32(_mm256_add_epi32(v, r.half), r.right);
  return _mm256_max_epi32(_mm256_min_epi32(v, r.out_max), r.out_min);
}

struct FloatLevelVectors {
  __m256i top;
  __m256 steps, inverse_steps, top_float;
};

__attribute__((always_inline)) inline FloatLevelVectors float_level_vectors(const Epilogue& e,
                                                                            int64_t f) {
  return {_mm256_set1_epi32(e.level_count), _mm256_loadu_ps(e.steps + f),
          _mm256_loadu_ps(e.inverse_steps + f), _mm256_set1_ps(static_cast<float>(e.level_count))};
}

// The LevelsFloat count (blocked_sums.h): c = ceil(min(d / q, count)) at least 0 (a float past
// int32 converts to INT32_MIN, raised to 0), then one more where c·q < d.
__attribute__((always_inline)) inline __m256i float_levels(const FloatLevelVectors& v, __m256i s) {
  const __m256 d = _mm256_cvtepi32_ps(s);
  __m256i c = _mm256_cvtps_epi32(
      _mm256_ceil_ps(_mm256_min_ps(_mm256_mul_ps(d, v.inverse_steps), v.top_float)));
  c = _mm256_max_epi32(c, _mm256_setzero_si256());
  const __m256 gap = _mm256_fmsub_ps(_mm256_cvtepi32_ps(c), v.steps, d);
  const __m256i below = _mm256_and_si256(
      _mm256_cmpgt_epi32(v.top, c),
      _mm256_castps_si256(_mm256_cmp_ps(gap, _mm256_setzero_ps(), _CMP_LT_OQ)));
  return _mm256_sub_epi32(c, below);  // below: −1 where one level more
}

struct LinearLevelVectors {
  __m256i high, mult, add, shift;
};

__attribute__((always_inline)) inline LinearLevelVectors linear_level_vectors(const Epilogue& e,
                                                                              int64_t f) {
  return {load(e.high + f), load(e.scale + f), load(e.half + f), load(e.right + f)};
}

__attribute__((always_inline)) inline __m256i linear_levels(const LinearLevelVectors& v, __m256i s) {
  const __m256i u = _mm256_max_epi32(_mm256_min_epi32(s, v.high), _mm256_setzero_si256());
  return _mm256_srlv_epi32(_mm256_add_epi32(_mm256_mullo_epi32(u, v.mult), v.add), v.shift);
}

// The epilogue of the 8 sums of channels f .. f + 7. Levels16 counts from the int32 boundaries
// (the same count: its tables are the same boundaries relative to the thresholds).
__attribute__((always_inline)) inline __m256i epilogue_vector(const Epilogue& e, __m256i s,
                                                              int64_t f) {
  switch (e.kind) {
    case Epilogue::Kind::Sums:
    case Epilogue::Kind::ClampSum: return s;
    case Epilogue::Kind::Requantize: return requantize(e, requantize_vectors(e, f), s);
    case Epilogue::Kind::LevelsFloat: return float_levels(float_level_vectors(e, f), s);
    case Epilogue::Kind::LevelsLinear: return linear_levels(linear_level_vectors(e, f), s);
    case Epilogue::Kind::Levels16:
    case Epilogue::Kind::Levels:
      switch (e.level_count) {
        case 1: return count_levels<1>(e.levels + f, e.level_stride, s);
        case 3: return count_levels<3>(e.levels + f, e.level_stride, s);
        case 15: return count_levels<15>(e.levels + f, e.level_stride, s);
        default: return count_levels<0>(e.levels + f, e.level_stride, s, e.level_count);
      }
  }
  return s;
}

// The byte and pair dot products (blocked_avx2.h).
inline __m256i dot(__m256i acc, __m256i x, __m256i w, uint8_t) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), _mm256_set1_epi16(1)));
}
inline __m256i dot(__m256i acc, __m256i x, __m256i w, int16_t) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w));
}

// Stores the H vectors of channels f0 .. of one item.
template <int H, typename O>
__attribute__((always_inline)) inline void store_vectors(O* out, __m256i (&v)[H], int64_t f0,
                                                         int64_t filters) {
  if constexpr (std::is_same_v<O, uint8_t> && H == 2) {
    // Levels (within 0..255, so the saturating packs keep them): 16 bytes in one store.
    const __m256i halves = _mm256_permute4x64_epi64(_mm256_packs_epi32(v[0], v[1]), _MM_SHUFFLE(3, 1, 2, 0));
    const __m256i bytes = _mm256_permute4x64_epi64(_mm256_packus_epi16(halves, halves), _MM_SHUFFLE(3, 1, 2, 0));
    const int64_t n = std::clamp<int64_t>(filters - f0, 0, 2 * kWidth);
    if (n == 2 * kWidth)
      return _mm_storeu_si128(reinterpret_cast<__m128i*>(out + f0), _mm256_castsi256_si128(bytes));
    alignas(16) uint8_t part[2 * kWidth];
    _mm_store_si128(reinterpret_cast<__m128i*>(part), _mm256_castsi256_si128(bytes));
    std::memcpy(out + f0, part, static_cast<size_t>(n));
  } else {
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) store(out, v[h], f0 + h * kWidth, filters);
  }
}

// The epilogue of the items' sums (item[p]), in place; the parameters of each channel vector
// loaded once for every item of the tile.
template <int P, int H>
__attribute__((always_inline)) inline void apply_epilogue(const Epilogue& e, __m256i (&acc)[P][H],
                                                          const bool (&item)[P], int64_t f0) {
  auto by_channel_vector = [&](auto parameters, auto apply) __attribute__((always_inline)) {
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const auto v = parameters(f0 + h * kWidth);
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p)
        if (item[p]) acc[p][h] = apply(v, acc[p][h]);
    }
  };
  if (e.kind == Epilogue::Kind::Requantize)
    return by_channel_vector(
        [&](int64_t f) __attribute__((always_inline)) { return requantize_vectors(e, f); },
        [&](const RequantizeVectors& r, __m256i s)
            __attribute__((always_inline)) { return requantize(e, r, s); });
  if (e.kind == Epilogue::Kind::LevelsLinear)
    return by_channel_vector(
        [&](int64_t f) __attribute__((always_inline)) { return linear_level_vectors(e, f); },
        [](const LinearLevelVectors& v, __m256i s)
            __attribute__((always_inline)) { return linear_levels(v, s); });
  if (e.kind == Epilogue::Kind::LevelsFloat)
    return by_channel_vector(
        [&](int64_t f) __attribute__((always_inline)) { return float_level_vectors(e, f); },
        [](const FloatLevelVectors& v, __m256i s)
            __attribute__((always_inline)) { return float_levels(v, s); });
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    if (!item[p]) continue;
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) acc[p][h] = epilogue_vector(e, acc[p][h], f0 + h * kWidth);
  }
}

// The epilogue of a tile's items (pixels p with item[p], in order from `cursor`), H vectors of
// 8 channels from f0.
template <int P, int H, typename O>
__attribute__((always_inline)) inline void store_items(const Epilogue& epilogue,
                                                       __m256i (&acc)[P][H], const bool (&item)[P],
                                                       ItemCursor<O> cursor, int64_t f0) {
  const Epilogue e = epilogue;  // a copy the stores cannot alias
  const int64_t filters = cursor.filters;
  if (e.kind == Epilogue::Kind::ClampSum) {  // every item adds to the same sums (int32 only)
    if constexpr (std::is_same_v<O, int32_t>) {
      int32_t* out = cursor.at;
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) {
        if (!item[p]) continue;
#pragma GCC unroll 4
        for (int h = 0; h < H; ++h) {
          const int64_t f = f0 + h * kWidth;
          const __m256i v = _mm256_max_epi32(_mm256_min_epi32(acc[p][h], load(e.high + f)), load(e.low + f));
          const __m256i lanes = first_lanes(filters - f);
          _mm256_maskstore_epi32(out + f, lanes,
                                 _mm256_add_epi32(_mm256_maskload_epi32(out + f, lanes), v));
        }
      }
    }
    return;
  }
  // The epilogue's values in place, then the stores.
  apply_epilogue<P, H>(e, acc, item, f0);
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    if (!item[p]) continue;
    store_vectors<H>(cursor.at, acc[p], f0, filters);
    cursor.next();
  }
}

// What stage_clipped() took from the inputs of the tile's pixels, added back to their sums.
template <int P, int H>
__attribute__((always_inline)) inline void add_outliers(const Outliers& o, int64_t p0,
                                                        int64_t count, int64_t padded_filters,
                                                        int64_t f0, __m256i (&acc)[P][H]) {
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    const int32_t pixel = o.pixels[p0 + std::min<int64_t>(p, count - 1)];
    for (int32_t i = o.start[pixel]; i < o.start[pixel + 1]; ++i) {
      const __m256i delta = _mm256_set1_epi32(o.deltas[i]);
      const int32_t* w = o.weights + o.rows[i] * padded_filters + f0;
#pragma GCC unroll 4
      for (int h = 0; h < H; ++h)
        acc[p][h] = _mm256_add_epi32(acc[p][h], _mm256_mullo_epi32(delta, load(w + h * kWidth)));
    }
  }
}

template <int P, int H, typename T>
__attribute__((always_inline)) inline void store_tile(const ConvTask<T>& t, __m256i (&acc)[P][H],
                                                      const bool (&item)[P], int64_t item0,
                                                      int64_t f0) {
  const int64_t filters = t.weights->filters;
  if (t.out_bytes) {
    ItemCursor<uint8_t> cursor{t.out_bytes + item0 * filters, filters};
    if (t.out_row_items > 0) {  // item0 = x · row_items + y
      cursor.y = item0 % t.out_row_items;
      cursor.row_items = t.out_row_items;
      cursor.row_stride = t.out_row_stride;
      cursor.at = t.out_bytes + item0 / t.out_row_items * t.out_row_stride + cursor.y * filters;
    }
    return store_items<P, H>(t.epilogue, acc, item, cursor, f0);
  }
  const bool global_sum = t.epilogue.kind == Epilogue::Kind::ClampSum;
  store_items<P, H>(t.epilogue, acc, item,
                    ItemCursor<int32_t>{t.out + (global_sum ? 0 : item0 * filters), filters}, f0);
}

// P output pixels (from p0; the last P − count repeat the last one and are not stored) times H
// vectors of 8 output channels (from f0), the sums in registers for the whole window; pooling
// windows of W pixels give their maximum (P and p0 multiples of W).
template <typename T, int P, int H, bool kClipped>
void conv_tile(const ConvTask<T>& t, int64_t p0, int64_t item0, int64_t count, int64_t f0) {
  const auto& w = *t.weights;
  constexpr int64_t per = std::remove_reference_t<decltype(w)>::kPerWord;
  const int64_t pf = w.padded_filters;
  __m256i acc[P][H];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) acc[p][h] = _mm256_setzero_si256();
  const T* rows[P];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) rows[p] = t.input + t.windows[p0 + std::min<int64_t>(p, count - 1)];
  const auto* wg = w.words.data() + f0 * per;
  const int64_t word_stride = pf * per;
  for (const Segment& segment : w.segments) {
    for (int64_t g = 0; g < segment.words; ++g, wg += word_stride) {
      const int64_t k = segment.offset + g * per;
      if constexpr (P == 1) {
        if (word_at(rows[0] + k) == 0) continue;  // sparse inputs: a whole word of zeros
      }
      __m256i wv[H];
#pragma GCC unroll 4
      for (int h = 0; h < H; ++h) wv[h] = load(wg + h * kWidth * per);
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) {
        const __m256i x = _mm256_set1_epi32(word_at(rows[p] + k));
#pragma GCC unroll 4
        for (int h = 0; h < H; ++h) acc[p][h] = dot(acc[p][h], x, wv[h], T{});
      }
    }
    if (segment.shift == 0) continue;
    const __m128i shift = _mm_cvtsi32_si128(segment.shift);
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
      for (int h = 0; h < H; ++h) acc[p][h] = _mm256_sll_epi32(acc[p][h], shift);
  }
  if constexpr (kClipped) add_outliers<P, H>(*t.outliers, p0, count, pf, f0, acc);
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
    const __m256i init = load(t.init + f0 + h * kWidth);
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) acc[p][h] = _mm256_add_epi32(acc[p][h], init);
  }
  const int64_t window = t.pool_window;
  bool item[P];
  int64_t in_window = 0;
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    item[p] = p < count;
    if (window == 1 || p >= count) continue;
    if (p > 0 && in_window > 0)
#pragma GCC unroll 4
      for (int h = 0; h < H; ++h) acc[p][h] = _mm256_max_epi32(acc[p][h], acc[p - 1][h]);
    item[p] = ++in_window == window;
    if (item[p]) in_window = 0;
  }
  store_tile<P, H>(t, acc, item, item0, f0);
}

// A single output item over >= kWideFilters channels, its sums in memory and the weights read
// in order (see blocked_sums.cpp).
constexpr int64_t kWideFilters = 1024;

template <typename T>
void conv_wide_item(const ConvTask<T>& t, int64_t item) {
  const auto& w = *t.weights;
  constexpr int64_t per = std::remove_reference_t<decltype(w)>::kPerWord;
  const int64_t pf = w.padded_filters;
  thread_local std::vector<int32_t> sums;
  sums.assign(static_cast<size_t>(pf), 0);
  int32_t* s = sums.data();
  const T* row = t.input + t.windows[item];
  const auto* wg = w.words.data();
  for (const Segment& segment : w.segments) {
    for (int64_t g = 0; g < segment.words; ++g, wg += pf * per) {
      const int32_t word = word_at(row + segment.offset + g * per);
      if (word == 0) continue;  // sparse inputs: a whole word of zeros
      const __m256i x = _mm256_set1_epi32(word);
      for (int64_t f = 0; f < pf; f += kWidth)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(s + f),
                            dot(load(s + f), x, load(wg + f * per), T{}));
    }
    if (segment.shift == 0) continue;
    const __m128i shift = _mm_cvtsi32_si128(segment.shift);
    for (int64_t f = 0; f < pf; f += kWidth)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(s + f), _mm256_sll_epi32(load(s + f), shift));
  }
  const bool item_flag[1] = {true};
  for (int64_t f = 0; f < pf; f += kWidth) {
    __m256i acc[1][1] = {{_mm256_add_epi32(load(s + f), load(t.init + f))}};
    store_tile<1, 1>(t, acc, item_flag, item, f);
  }
}

// The tile shapes: P·H sums, H weights, a broadcast input and a product within the 16 vector
// registers. One vector of channels also takes a pooling window of 16 pixels (some sums spill).
constexpr bool tile_fits(int p, int h) { return p * h + h <= 14; }

template <typename T, int H, int P, bool kClipped>
void tiles(const ConvTask<T>& t, int64_t& p, int64_t& item, int64_t end, int64_t f0) {
  if constexpr (tile_fits(P, H) || H == 1) {
    const int64_t items_per_tile = P / t.pool_window;
    for (; p + P <= end; p += P, item += items_per_tile) conv_tile<T, P, H, kClipped>(t, p, item, P, f0);
    if (P <= 4 && p < end) {
      conv_tile<T, P, H, kClipped>(t, p, item, end - p, f0);
      item += (end - p) / t.pool_window;
      p = end;
    }
  }
}

template <typename T, int H, bool kClipped>
void tiles_of(const ConvTask<T>& t, int width, int64_t& p, int64_t& item, int64_t end,
              int64_t f0) {
  switch (width) {
    case 16: return tiles<T, H, 16, kClipped>(t, p, item, end, f0);
    case 12: return tiles<T, H, 12, kClipped>(t, p, item, end, f0);
    case 9: return tiles<T, H, 9, kClipped>(t, p, item, end, f0);
    case 8: return tiles<T, H, 8, kClipped>(t, p, item, end, f0);
    case 6: return tiles<T, H, 6, kClipped>(t, p, item, end, f0);
    case 4: return tiles<T, H, 4, kClipped>(t, p, item, end, f0);
    case 3: return tiles<T, H, 3, kClipped>(t, p, item, end, f0);
    case 2: return tiles<T, H, 2, kClipped>(t, p, item, end, f0);
    default: return tiles<T, H, 1, kClipped>(t, p, item, end, f0);
  }
}

// The widest tile of H vectors holding whole pooling windows of `window` pixels (0: none).
int widest_tile(int h, int64_t window) {
  for (int width : kTileWidths)
    if (tile_fits(width, h) && width % window == 0) return width;
  return h == 1 ? static_cast<int>(window) : 0;  // can_pool(window): one of kTileWidths
}

template <typename T, int H, bool kClipped>
void conv_chunk(const ConvTask<T>& t, int64_t begin, int64_t end, int64_t f0) {
  const int64_t window = t.pool_window;
  int64_t p = begin * window, item = begin;
  if (window == 1 && end - begin == 1) return conv_tile<T, 1, H, kClipped>(t, p, item, 1, f0);
  tiles_of<T, H, kClipped>(t, widest_tile(H, window), p, item, end * window, f0);
  if (window > 1)
    return tiles_of<T, H, kClipped>(t, static_cast<int>(window), p, item, end * window, f0);
  tiles_of<T, H, kClipped>(t, 4, p, item, end * window, f0);
}

// Chunks of two vectors, or of one where no tile of two holds a pooling window, over the
// vectors that hold real channels (a last one of padding only is skipped: an image layer of 8
// filters would spend half its time on it).
template <typename T, bool kClipped>
void conv_chunks(const ConvTask<T>& t, int64_t begin, int64_t end) {
  const int64_t filters = t.weights->filters;
  const bool pairs = widest_tile(2, t.pool_window) > 0;
  for (int64_t f0 = 0; f0 < filters;) {
    if (pairs && filters - f0 > kWidth) {
      conv_chunk<T, 2, kClipped>(t, begin, end, f0);
      f0 += 2 * kWidth;
    } else {
      conv_chunk<T, 1, kClipped>(t, begin, end, f0);
      f0 += kWidth;
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

inline __m256i widen(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i widen(const int16_t* p) {
  return _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// P output pixels, 8 channels from c0; kPairs: t.pair_weights by vpmaddwd.
template <typename T, int P, bool kPairs>
void depthwise_tile(const DepthwiseTask<T>& t, int64_t p0, int64_t count, int64_t c0) {
  const int64_t padded = padded_channels(t.channels);
  __m256i acc[P];
  const T* pixels[P];
  const __m256i init = load(t.init + c0);
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    acc[p] = init;
    pixels[p] = t.input + t.windows[p0 + std::min<int64_t>(p, count - 1)] + c0;
  }
  const int32_t* weights = kPairs ? t.pair_weights : t.weights;
  for (int64_t tap = 0; tap < t.taps; ++tap) {
    const __m256i w = load(weights + tap * padded + c0);
    const int64_t offset = t.tap_offsets[tap];
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) {
      const __m256i x = widen(pixels[p] + offset);
      acc[p] = _mm256_add_epi32(acc[p], kPairs ? _mm256_madd_epi16(x, w) : _mm256_mullo_epi32(x, w));
    }
  }
  if (t.out16) {
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
      if (p < count) store(t.out16 + (p0 + p) * t.channels, acc[p], c0, t.channels);
    return;
  }
  const Epilogue e = t.epilogue;
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

// P output pixels, 16 channels from c0 on 16-bit lanes (DepthwiseTask::weights16, out16).
template <int P>
void depthwise_tile16(const DepthwiseTask<uint8_t>& t, int64_t p0, int64_t count, int64_t c0) {
  constexpr int64_t kLanes16 = 2 * kWidth;
  const int64_t padded = padded_channels(t.channels);
  alignas(32) int16_t start[kLanes16];
  for (int64_t i = 0; i < kLanes16; ++i) start[i] = static_cast<int16_t>(t.init[c0 + i]);
  const __m256i init = load(start);
  __m256i acc[P];
  const uint8_t* pixels[P];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    acc[p] = init;
    pixels[p] = t.input + t.windows[p0 + std::min<int64_t>(p, count - 1)] + c0;
  }
  for (int64_t tap = 0; tap < t.taps; ++tap) {
    const __m256i w = load(t.weights16 + tap * padded + c0);
    const int64_t offset = t.tap_offsets[tap];
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) {
      const __m256i x =
          _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pixels[p] + offset)));
      acc[p] = _mm256_add_epi16(acc[p], _mm256_mullo_epi16(x, w));
    }
  }
  const int64_t n = std::clamp<int64_t>(t.channels - c0, 0, kLanes16);
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    if (p >= count) break;
    int16_t* out = t.out16 + (p0 + p) * t.channels + c0;
    if (n == kLanes16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), acc[p]);
    } else {
      alignas(32) int16_t part[kLanes16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(part), acc[p]);
      std::memcpy(out, part, static_cast<size_t>(n) * sizeof *out);
    }
  }
}

template <typename T, bool kPairs>
void depthwise_tiles(const DepthwiseTask<T>& t, int64_t begin, int64_t end) {
  for (int64_t c0 = 0; c0 < t.channels;) {
    if constexpr (std::is_same_v<T, uint8_t>) {
      if (t.out16 && t.weights16 && c0 + 2 * kWidth <= padded_channels(t.channels)) {
        pixel_tiles(begin, end, [&](auto width, int64_t p, int64_t count) {
          depthwise_tile16<decltype(width)::value>(t, p, count, c0);
        });
        c0 += 2 * kWidth;
        continue;
      }
    }
    pixel_tiles(begin, end, [&](auto width, int64_t p, int64_t count) {
      depthwise_tile<T, decltype(width)::value, kPairs>(t, p, count, c0);
    });
    c0 += kWidth;
  }
}

int32_t reduce_min(__m256i v) {
  alignas(32) int32_t lanes[kWidth];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
  return *std::min_element(lanes, lanes + kWidth);
}
int32_t reduce_max(__m256i v) {
  alignas(32) int32_t lanes[kWidth];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
  return *std::max_element(lanes, lanes + kWidth);
}

// x << shift as the vector shift computes it (0 from 32 on).
inline uint32_t shifted(int32_t x, int32_t shift) {
  return shift >= 32 || shift < 0 ? 0u : static_cast<uint32_t>(x) << shift;
}

template <bool kShift>
void stage_bytes_rows(const int32_t* in, int64_t rows, int64_t n, int64_t in_row_stride,
                      const int32_t* shifts, int32_t offset, uint8_t* out,
                      int64_t out_row_stride, int32_t& lo, int32_t& hi) {
  __m256i low = _mm256_set1_epi32(lo), high = _mm256_set1_epi32(hi);
  int32_t tail_lo = lo, tail_hi = hi;
  const __m256i o = _mm256_set1_epi32(offset);
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* src = in + r * in_row_stride;
    uint8_t* dst = out + r * out_row_stride;
    int64_t k = 0;
    for (; k + kWidth <= n; k += kWidth) {
      const __m256i x = load(src + k);
      low = _mm256_min_epi32(low, x);
      high = _mm256_max_epi32(high, x);
      const __m256i v = kShift ? _mm256_sllv_epi32(x, load(shifts + k)) : x;
      const uint64_t bytes = low_bytes(_mm256_sub_epi32(v, o));
      std::memcpy(dst + k, &bytes, kWidth);
    }
    for (; k < n; ++k) {
      tail_lo = std::min(tail_lo, src[k]);
      tail_hi = std::max(tail_hi, src[k]);
      const uint32_t v = kShift ? shifted(src[k], shifts[k]) : static_cast<uint32_t>(src[k]);
      dst[k] = static_cast<uint8_t>(v - static_cast<uint32_t>(offset));
    }
  }
  lo = std::min(reduce_min(low), tail_lo);
  hi = std::max(reduce_max(high), tail_hi);
}

}  // namespace

void stage_bytes(const int32_t* in, int64_t rows, int64_t n, int64_t in_row_stride,
                 const int32_t* shifts, int32_t offset, uint8_t* out, int64_t out_row_stride,
                 int32_t& lo, int32_t& hi) {
  if (shifts) return stage_bytes_rows<true>(in, rows, n, in_row_stride, shifts, offset, out, out_row_stride, lo, hi);
  stage_bytes_rows<false>(in, rows, n, in_row_stride, shifts, offset, out, out_row_stride, lo, hi);
}

void copy_bytes(const uint8_t* in, int64_t rows, int64_t n, int64_t in_row_stride, uint8_t* out,
                int64_t out_row_stride, int32_t& lo, int32_t& hi) {
  constexpr int64_t kBytes = 32;
  __m256i low = _mm256_set1_epi8(-1), high = _mm256_setzero_si256();
  uint8_t tail_lo = 255, tail_hi = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src = in + r * in_row_stride;
    uint8_t* dst = out + r * out_row_stride;
    int64_t k = 0;
    for (; k + kBytes <= n; k += kBytes) {
      const __m256i x = load(src + k);
      low = _mm256_min_epu8(low, x);
      high = _mm256_max_epu8(high, x);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), x);
    }
    for (; k < n; ++k) {
      tail_lo = std::min(tail_lo, src[k]);
      tail_hi = std::max(tail_hi, src[k]);
      dst[k] = src[k];
    }
  }
  if (rows <= 0 || n <= 0) return;
  alignas(32) uint8_t lows[kBytes], highs[kBytes];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lows), low);
  _mm256_store_si256(reinterpret_cast<__m256i*>(highs), high);
  lo = std::min<int32_t>({lo, *std::min_element(lows, lows + kBytes), tail_lo});
  hi = std::max<int32_t>({hi, *std::max_element(highs, highs + kBytes), tail_hi});
}

bool stage_clipped(const int16_t* in, int64_t n, int32_t offset, uint8_t* out,
                   std::vector<int32_t>& indices, std::vector<int32_t>& deltas,
                   int64_t max_clipped) {
  auto clip = [&](int64_t i) {  // one value: false past max_clipped
    const int32_t x = int32_t{in[i]} - offset, kept = std::clamp(x, 0, 255);
    out[i] = static_cast<uint8_t>(kept);
    if (x == kept) return true;
    if (static_cast<int64_t>(indices.size()) >= max_clipped) return false;
    indices.push_back(static_cast<int32_t>(i));
    deltas.push_back(x - kept);
    return true;
  };
  const __m256i o = _mm256_set1_epi16(static_cast<int16_t>(std::clamp(offset, INT16_MIN, INT16_MAX)));
  const __m256i top = _mm256_set1_epi16(255), zero = _mm256_setzero_si256();
  constexpr int64_t kLanes16 = 2 * kWidth;
  int64_t k = 0;
  for (; k + kLanes16 <= n; k += kLanes16) {
    // Saturated: a value beyond int16 still lies outside 0..255.
    const __m256i v = _mm256_subs_epi16(load(in + k), o);
    const __m256i kept = _mm256_min_epi16(_mm256_max_epi16(v, zero), top);
    const __m256i bytes = _mm256_permute4x64_epi64(_mm256_packus_epi16(kept, kept), _MM_SHUFFLE(3, 1, 2, 0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k), _mm256_castsi256_si128(bytes));
    const __m256i outside = _mm256_or_si256(_mm256_cmpgt_epi16(v, top), _mm256_cmpgt_epi16(zero, v));
    // Two mask bits per value: keep the first of each.
    for (uint32_t m = static_cast<uint32_t>(_mm256_movemask_epi8(outside)) & 0x55555555u; m != 0;
         m &= m - 1)
      if (!clip(k + std::countr_zero(m) / 2)) return false;
  }
  for (; k < n; ++k)
    if (!clip(k)) return false;
  return true;
}

void finish(const Epilogue& e, const int32_t* sums, int64_t pixels, int64_t channels,
            int32_t* out) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t f = 0; f < channels; f += kWidth) {
      const __m256i s = _mm256_maskload_epi32(sums + p * channels + f, first_lanes(channels - f));
      store(out + p * channels, epilogue_vector(e, s, f), f, channels);
    }
}

void conv(const ConvTask<uint8_t>& task, int64_t begin, int64_t end) { conv_impl(task, begin, end); }
void conv(const ConvTask<int16_t>& task, int64_t begin, int64_t end) { conv_impl(task, begin, end); }

void depthwise(const DepthwiseTask<uint8_t>& task, int64_t begin, int64_t end) {
  if (task.pair_weights) return depthwise_tiles<uint8_t, true>(task, begin, end);
  depthwise_tiles<uint8_t, false>(task, begin, end);
}
void depthwise(const DepthwiseTask<int16_t>& task, int64_t begin, int64_t end) {
  if (task.pair_weights) return depthwise_tiles<int16_t, true>(task, begin, end);
  depthwise_tiles<int16_t, false>(task, begin, end);
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // no AVX2 code: available() is false and nothing calls these

void conv(const ConvTask<uint8_t>&, int64_t, int64_t) {}
void conv(const ConvTask<int16_t>&, int64_t, int64_t) {}
void depthwise(const DepthwiseTask<uint8_t>&, int64_t, int64_t) {}
void depthwise(const DepthwiseTask<int16_t>&, int64_t, int64_t) {}
void finish(const Epilogue&, const int32_t*, int64_t, int64_t, int32_t*) {}
void stage_bytes(const int32_t*, int64_t, int64_t, int64_t, const int32_t*, int32_t, uint8_t*,
                 int64_t, int32_t&, int32_t&) {}
void copy_bytes(const uint8_t*, int64_t, int64_t, int64_t, uint8_t*, int64_t, int32_t&, int32_t&) {}
bool stage_clipped(const int16_t*, int64_t, int32_t, uint8_t*, std::vector<int32_t>&,
                   std::vector<int32_t>&, int64_t) {
  return false;
}

#endif

}  // namespace akida::runtime::blocked::avx2
