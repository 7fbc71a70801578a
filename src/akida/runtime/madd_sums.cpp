#include "akida/runtime/madd_sums.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <limits>
#include <type_traits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AKIDA_HAVE_AVX2_CODE 1
#endif

namespace akida::runtime {

namespace {

// AKIDA_RUNTIME_ISA=avx2 turns the AVX-512 VNNI code off (the blocked kernels then run their
// AVX2 versions), =baseline every hand-written path: the tests run each on a CPU that has them.
bool isa_allows(const char* level) {
  const char* isa = std::getenv("AKIDA_RUNTIME_ISA");
  if (isa == nullptr) return true;
  const std::string limit = isa;
  if (limit == "baseline") return false;
  return limit != "avx2" || std::string(level) == "avx2";
}

}  // namespace

bool madd_available() {
#ifdef AKIDA_HAVE_AVX2_CODE
  return isa_allows("avx2") && __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

namespace {

// Weights (kx rows of K values, F channels) regrouped as kGroup consecutive k per channel:
// out[((i * G + g) * F + f) * kGroup + k % kGroup], G = ceil(K / kGroup), missing elements 0.
// Empty when a weight does not fit T.
template <typename T, int64_t kGroup>
std::vector<T> group_weights(const std::vector<int32_t>& w, int64_t kx, int64_t k_per_row,
                             int64_t filters) {
  const int64_t groups = (k_per_row + kGroup - 1) / kGroup;
  std::vector<T> out(static_cast<size_t>(kx * groups * filters * kGroup), 0);
  for (int64_t i = 0; i < kx; ++i)
    for (int64_t k = 0; k < k_per_row; ++k)
      for (int64_t f = 0; f < filters; ++f) {
        const int32_t v = w[static_cast<size_t>((i * k_per_row + k) * filters + f)];
        if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return {};
        out[static_cast<size_t>(((i * groups + k / kGroup) * filters + f) * kGroup + k % kGroup)] =
            static_cast<T>(v);
      }
  return out;
}

// Calls run(std::integral_constant<int, n>{}, f0) over the filters in passes of n <= 8 vectors
// of kLanes channels (n known at compile time keeps the sums in registers).
template <int64_t kLanes, typename Run>
void for_channel_blocks(int64_t filters, Run run) {
  for (int64_t f0 = 0; f0 + kLanes <= filters;) {
    const int64_t blocks = std::min<int64_t>((filters - f0) / kLanes, 8);
    switch (blocks) {
      case 1: run(std::integral_constant<int, 1>{}, f0); break;
      case 2: run(std::integral_constant<int, 2>{}, f0); break;
      case 3: run(std::integral_constant<int, 3>{}, f0); break;
      case 4: run(std::integral_constant<int, 4>{}, f0); break;
      case 5: run(std::integral_constant<int, 5>{}, f0); break;
      case 6: run(std::integral_constant<int, 6>{}, f0); break;
      case 7: run(std::integral_constant<int, 7>{}, f0); break;
      default: run(std::integral_constant<int, 8>{}, f0); break;
    }
    f0 += blocks * kLanes;
  }
}

}  // namespace

std::vector<int16_t> madd_weights(const std::vector<int32_t>& w, int64_t kx, int64_t k_per_row,
                                  int64_t filters) {
  return group_weights<int16_t, 2>(w, kx, k_per_row, filters);
}

bool dot4_available() {
#ifdef AKIDA_HAVE_AVX2_CODE
  return isa_allows("avx512vnni") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

#ifdef AKIDA_HAVE_AVX2_CODE
namespace {

// kBlocks vectors of 8 output channels, from channel f0, for every output pixel.
template <int kBlocks>
__attribute__((target("avx2"))) void madd_block(const int16_t* padded, int64_t py,
                                                int64_t channels, const int16_t* w16,
                                                int64_t filters, int64_t f0, int64_t kx,
                                                int64_t ky, int64_t sx, int64_t sy,
                                                int64_t ox_count, int64_t oy_count,
                                                int32_t* acc) {
  const int64_t k_per_row = ky * channels, pairs = (k_per_row + 1) / 2;
  for (int64_t ox = 0; ox < ox_count; ++ox)
    for (int64_t oy = 0; oy < oy_count; ++oy) {
      __m256i sum[kBlocks];
      for (int b = 0; b < kBlocks; ++b) sum[b] = _mm256_setzero_si256();
      for (int64_t i = 0; i < kx; ++i) {
        const int16_t* row = padded + ((ox * sx + i) * py + oy * sy) * channels;
        const int16_t* w_row = w16 + (i * pairs * filters + f0) * 2;
        for (int64_t m = 0; m < pairs; ++m) {
          int32_t pair;
          std::memcpy(&pair, row + 2 * m, sizeof pair);  // (row[2m], row[2m + 1])
          if (pair == 0) continue;  // sparse activations
          const __m256i x = _mm256_set1_epi32(pair);
          const int16_t* w = w_row + m * filters * 2;
          for (int b = 0; b < kBlocks; ++b)
            sum[b] = _mm256_add_epi32(
                sum[b], _mm256_madd_epi16(
                            x, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + b * 16))));
        }
      }
      int32_t* out = acc + (ox * oy_count + oy) * filters + f0;
      for (int b = 0; b < kBlocks; ++b)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + b * 8), sum[b]);
    }
}

}  // namespace
#endif

void conv_sums_madd(const int16_t* padded, int64_t py, int64_t channels, const int16_t* w16,
                    int64_t filters, int64_t kx, int64_t ky, int64_t sx, int64_t sy,
                    int64_t ox_count, int64_t oy_count, int32_t* acc) {
#ifdef AKIDA_HAVE_AVX2_CODE
  for_channel_blocks<8>(filters, [&](auto blocks, int64_t f0) {
    madd_block<decltype(blocks)::value>(padded, py, channels, w16, filters, f0, kx, ky, sx, sy,
                                        ox_count, oy_count, acc);
  });
#else
  (void)padded, (void)py, (void)channels, (void)w16, (void)filters, (void)kx, (void)ky, (void)sx,
      (void)sy, (void)ox_count, (void)oy_count, (void)acc;
#endif
}

}  // namespace akida::runtime
