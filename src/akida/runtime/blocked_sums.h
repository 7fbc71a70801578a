// Register-blocked AVX-512 kernels for the optimized layers (fast_kernels.cpp): convolution sums
// by byte dot products (vpdpbusd: unsigned 8-bit inputs × signed 8-bit weights, four per 32-bit
// lane) or 16-bit pair dot products (vpdpwssd), several output pixels times up to 64 output
// channels per tile so that each weight vector loaded serves every pixel of the tile; a
// depthwise kernel; and the output stage of a tile applied while its sums are still in
// registers (requantization on int32, or the Akida 1.0 level count).
//
// All sums are int32 and wrap modulo 2^32 in between: they are exact whenever the true sum of
// each output fits int32, which the callers check per sample. Inputs are staged once per sample
// in a padded buffer, shifted by an offset `o` that brings them into the unsigned 8-bit (or
// int16) range; Σ(x − o)·w + o·Σw restores the sums, the second term being folded into the
// per-channel initial value of each sum.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

namespace akida::runtime::blocked {

// Whether this CPU runs these kernels (AVX-512 F/BW/VL with VNNI) and AKIDA_RUNTIME_ISA
// allows them (see madd_sums.h).
bool available();

inline constexpr int64_t kLanes = 16;  // int32 lanes per vector
inline int64_t padded_channels(int64_t channels) { return (channels + kLanes - 1) / kLanes * kLanes; }

// Convolution weights packed for the tile loop: kernel row i, word g (inputs k = kPerWord·g ..
// kPerWord·g + kPerWord − 1 of the row's K = ky·C inputs), output channel f:
// words[((i · groups + g) · padded_filters + f) · kPerWord + k % kPerWord]. Missing inputs and
// padding channels hold zero weights.
template <typename W>
struct PackedWeights {
  static constexpr int64_t kPerWord = 4 / sizeof(W);
  int64_t kx = 0, k_per_row = 0, groups = 0, filters = 0, padded_filters = 0;
  std::vector<W> words;
  std::vector<int32_t> column_sums;  // Σ w per output channel (padded_filters values)
  bool empty() const { return words.empty(); }
};
using ByteWeights = PackedWeights<int8_t>;
using PairWeights = PackedWeights<int16_t>;

// Weights in correlation layout w[(i · K + k) · F + f]. Empty when a weight does not fit W.
ByteWeights pack_bytes(const std::vector<int32_t>& w, int64_t kx, int64_t k_per_row,
                       int64_t filters);
PairWeights pack_pairs(const std::vector<int32_t>& w, int64_t kx, int64_t k_per_row,
                       int64_t filters);

// What a tile does with its sums (s, int32, per output channel f):
//   Sums:       out = s
//   Requantize: out = clamp((((clamp(s, low, high) · scale) << left) + half) >> right,
//                           out_min, out_max)
//               (every step exact in int32: the caller checks the bounds)
//   Levels:     out = #{k < level_count : s >= levels[k · level_stride + f]}
//   ClampSum:   out[f] += clamp(s, low, high) for every output item (out holds one value per
//               channel: a global sum; exact while it stays within int32; conv() only)
//   Levels16:   the same count on 16-bit lanes (twice as many per instruction), from
//               d = s − thresholds[f] saturated to int16 against level16 tables (see
//               pack_levels16); exact when no d overflows int32 and every relative
//               boundary fits int16 (the caller checks both).
// Per-channel arrays hold padded_filters values.
struct Epilogue {
  enum class Kind { Sums, Requantize, ClampSum, Levels, Levels16 };
  Kind kind = Kind::Sums;
  const int32_t *low = nullptr, *high = nullptr, *scale = nullptr;
  const int32_t *left = nullptr, *half = nullptr, *right = nullptr;
  int32_t out_min = 0, out_max = 0;
  const int32_t* levels = nullptr;
  int32_t level_count = 0;
  int64_t level_stride = 0;
  const int32_t* thresholds = nullptr;
  const int16_t* levels16 = nullptr;
};

// The Levels16 tables of `count` level boundaries relative to each channel's threshold
// (relative[k · channels + f] = boundary − threshold, all within int16), for channel vectors
// paired as the epilogue pairs them: for vector j, with itself and with vector j + 1.
std::vector<int16_t> pack_levels16(const std::vector<int16_t>& relative, int64_t channels,
                                   int32_t count);

// One convolution over a staged input. `windows[p]` is the element offset of output pixel p's
// window (its first kernel row) in `input`; kernel row i starts row_stride·i elements later and
// holds K contiguous elements (readable up to the next word boundary plus one word past the
// buffer's end). `init` (padded_filters values) starts every sum. Output item q's `filters`
// values go to out[q · filters ...]: with pool_window = W > 1, item q is the maximum of the sums
// of pixels q·W .. q·W + W − 1 (a max-pooling window; windows[] lists each window's pixels),
// taken before the epilogue.
template <typename T>
struct ConvTask {
  const T* input = nullptr;
  const int32_t* windows = nullptr;
  int64_t pool_window = 1;
  int64_t row_stride = 0;
  const PackedWeights<std::conditional_t<sizeof(T) == 1, int8_t, int16_t>>* weights = nullptr;
  const int32_t* init = nullptr;
  Epilogue epilogue;
  int32_t* out = nullptr;
};

// Whether conv() can pool windows of `window` pixels (the tiles hold whole windows).
bool can_pool(int64_t window);

// Output items [begin, end) of the task (disjoint ranges may run on different threads).
// Preconditions: available(), can_pool(pool_window). uint8 inputs use vpdpbusd, int16 inputs
// vpdpwssd.
void conv(const ConvTask<uint8_t>& task, int64_t begin, int64_t end);
void conv(const ConvTask<int16_t>& task, int64_t begin, int64_t end);

// Depthwise convolution over a staged input of `channels` channels: output pixel p, channel c
// = init[c] + Σ_taps input[windows[p] + tap_offsets[t] + c] · weights[t · padded + c], with
// `taps` taps; then the epilogue. Reads up to 16 elements past a pixel's channels (the buffer
// must allow it past its end too).
template <typename T>
struct DepthwiseTask {
  const T* input = nullptr;
  const int32_t* windows = nullptr;
  int64_t channels = 0;
  const int32_t* tap_offsets = nullptr;
  int64_t taps = 0;
  const int32_t* weights = nullptr;  // taps · padded_channels(channels)
  const int32_t* init = nullptr;
  Epilogue epilogue;
  int32_t* out = nullptr;
};
void depthwise(const DepthwiseTask<uint8_t>& task, int64_t begin, int64_t end);
void depthwise(const DepthwiseTask<int16_t>& task, int64_t begin, int64_t end);

// The epilogue over sums already in memory (after max pooling): `pixels` rows of `channels`.
void finish(const Epilogue& epilogue, const int32_t* sums, int64_t pixels, int64_t channels,
            int32_t* out);

}  // namespace akida::runtime::blocked
