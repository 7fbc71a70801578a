// Register-blocked AVX-512 kernels for the optimized layers (fast_kernels.cpp): convolution sums
// by byte dot products (vpdpbusd: unsigned 8-bit inputs × signed 8-bit weights, four per 32-bit
// lane) or 16-bit pair dot products (vpdpwssd), several output pixels times up to 64 output
// channels per tile so that each weight vector loaded serves every pixel of the tile; a
// depthwise kernel; and the output stage of a tile applied while its sums are still in
// registers (requantization on int32, or the Akida 1.0 level count). On CPUs with AVX2 but not
// AVX-512 VNNI the same functions run the 8-lane versions of blocked_avx2.h.
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

// Where a tile reads its inputs: runs of consecutive staged elements of each window, in order.
// A run starts `offset` elements after the window's first element and holds `rows[m]`, the
// weight row (of w[row · F + f]) each of its elements multiplies (−1: none, a zero weight);
// after it every sum is shifted left by `shift` (0 for most runs). With the inputs of a layer
// grouped by their input_shift, largest first, and shifts of the gaps between the groups, the
// sums come out as Σ w·(x << input_shift) from unshifted inputs (Horner's scheme).
struct InputRun {
  int64_t offset = 0;
  std::vector<int64_t> rows;
  int32_t shift = 0;
};

// The same runs as the tile loop reads them: `words` words of kPerWord elements from `offset`.
struct Segment {
  int64_t offset = 0, words = 0;
  int32_t shift = 0;
};

// Convolution weights packed in the order the tile loop reads them: word t (counting words
// through the runs), output channel f: words[(t · padded_filters + f) · kPerWord + e], e the
// element within the word. Missing elements and padding channels hold zero weights.
template <typename W>
struct PackedWeights {
  static constexpr int64_t kPerWord = 4 / sizeof(W);
  int64_t filters = 0, padded_filters = 0;
  std::vector<Segment> segments;
  std::vector<W> words;
  // Σ w · 2^(the shifts after its run) per output channel, modulo 2^32 (padded_filters values):
  // what an offset o added to every input adds to the sums, divided by o.
  std::vector<int32_t> column_sums;
  // The largest |w_a| + |w_b| over the element pairs (0, 1) and (2, 3) of every word.
  int32_t max_pair = 0;
  bool empty() const { return words.empty(); }
};
using ByteWeights = PackedWeights<int8_t>;
using PairWeights = PackedWeights<int16_t>;

// Weights w[row · F + f] for `runs` (each run's length a multiple of the word). Empty when a
// weight does not fit W.
ByteWeights pack_bytes(const std::vector<int32_t>& w, int64_t filters,
                       const std::vector<InputRun>& runs);
PairWeights pack_pairs(const std::vector<int32_t>& w, int64_t filters,
                       const std::vector<InputRun>& runs);
// Whether conv() sums byte inputs staged within 0..max_input exactly with these weights: always
// with AVX-512 VNNI; on AVX2, whose byte products (vpmaddubsw) saturate each pair's sum to int16,
// while max_pair · max_input <= 32767 (e.g. any 8-bit weights for inputs within 0..127, the
// ReLU outputs of 8-bit Akida 2.0 layers; 4-bit weights for every byte).
bool bytes_exact(const ByteWeights& weights, int64_t max_input);
// The runs of a plain convolution: kernel row i is a run of k_per_row elements at i·row_stride
// (weight rows i·k_per_row + k), padded to a whole word.
std::vector<InputRun> row_runs(int64_t kx, int64_t k_per_row, int64_t row_stride);

// What a tile does with its sums (s, int32, per output channel f):
//   Sums:       out = s
//   Requantize: out = clamp((((clamp(s, low, high) · scale) << left) + half) >> right,
//                           out_min, out_max)
//               (every step exact in int32: the caller checks the bounds; `clamp` false skips
//               the first clamp when it cannot change a value, `left` null means no left shift)
//   Levels:     out = #{k < level_count : s >= levels[k · level_stride + f]}
//   ClampSum:   out[f] += clamp(s, low, high) for every output item (out holds one value per
//               channel: a global sum; exact while it stays within int32; conv() only)
//   Levels16:   the same count on 16-bit lanes (twice as many per instruction), from
//               d = s − thresholds[f] saturated to int16 against level16 tables (see
//               pack_levels16); exact when no d overflows int32 and every relative
//               boundary fits int16 (the caller checks both).
//   LevelsFloat: the same count from the act_step rule, min(level_count, #{j >= 0 : j·q < d})
//               for d = s (the caller started the sums from minus the thresholds) and
//               q = steps[f]: c = ceil(min(d · inverse_steps[f], level_count)), at least 0
//               (capped before the conversion: d / q can pass int32), where
//               inverse_steps[f] <= 1/q by a margin that puts
//               c at the count or one below, then c + 1 where c·q < d (one fused multiply-add:
//               its sign is exact). Exact when |d| < 2^24 (d a float), q within
//               [2^-20, 2^20] and the level boundaries are those of the rule (the caller
//               checks all three).
//   LevelsLinear: the same count as (min(max(s, 0), high[f]) · scale[f] + half[f]) >> right[f]
//               (logical shift), where the caller added a per-channel offset to the sums (its
//               init) and proved the formula exact (linear_levels.h): every value within int32.
// Per-channel arrays hold padded_filters values.
struct Epilogue {
  enum class Kind { Sums, Requantize, ClampSum, Levels, Levels16, LevelsFloat, LevelsLinear };
  Kind kind = Kind::Sums;
  const int32_t *low = nullptr, *high = nullptr, *scale = nullptr;
  const int32_t *left = nullptr, *half = nullptr, *right = nullptr;
  bool clamp = true;
  int32_t out_min = 0, out_max = 0;
  const int32_t* levels = nullptr;
  int32_t level_count = 0;
  int64_t level_stride = 0;
  const int32_t* thresholds = nullptr;
  const int16_t* levels16 = nullptr;
  const float *steps = nullptr, *inverse_steps = nullptr;
};

// The Levels16 tables of `count` level boundaries relative to each channel's threshold
// (relative[k · channels + f] = boundary − threshold, all within int16), for channel vectors
// paired as the epilogue pairs them: for vector j, with itself and with vector j + 1.
std::vector<int16_t> pack_levels16(const std::vector<int16_t>& relative, int64_t channels,
                                   int32_t count);

// Inputs of a 1x1 convolution staged as bytes clipped to 0..255 (see stage_clipped), and what
// the clipping took away: for the pixel of window w (pixels[w]), the entries start[pixel] ..
// start[pixel + 1] − 1 of rows / deltas, each an input channel and x − its staged value. The
// tiles add delta · weights[row · padded_filters + f] to their sums (the weights as int32).
struct Outliers {
  const int32_t* pixels = nullptr;
  const int32_t* start = nullptr;
  const int32_t* rows = nullptr;
  const int32_t* deltas = nullptr;
  const int32_t* weights = nullptr;
};

// Stages n int16 values as the bytes clamp(x − offset, 0, 255) into out, and appends the index
// and x − offset − that byte of every value it clipped to `indices` / `deltas`; stops, returning
// false, past max_clipped of them. Precondition: available().
bool stage_clipped(const int16_t* in, int64_t n, int32_t offset, uint8_t* out,
                   std::vector<int32_t>& indices, std::vector<int32_t>& deltas,
                   int64_t max_clipped);

// One convolution over a staged input. `windows[p]` is the element offset of output pixel p's
// window in `input`; the weights' segments say where its runs are (readable up to one word past
// the buffer's end). `init` (padded_filters values) is added to every sum. Output item q's `filters`
// values go to out[q · filters ...]: with pool_window = W > 1, item q is the maximum of the sums
// of pixels q·W .. q·W + W − 1 (a max-pooling window; windows[] lists each window's pixels),
// taken before the epilogue. With out_bytes set, the epilogue's values go there as bytes instead
// (their low 8 bits: for epilogues whose values lie within 0..255, Akida 1.0 levels), at the same
// indices, or with out_row_items > 0 in rows of that many items, out_row_stride bytes apart (the
// padded staging of the next layer: item q at (q / out_row_items) · out_row_stride +
// (q % out_row_items) · filters).
template <typename T>
struct ConvTask {
  const T* input = nullptr;
  const int32_t* windows = nullptr;
  int64_t pool_window = 1;
  const PackedWeights<std::conditional_t<sizeof(T) == 1, int8_t, int16_t>>* weights = nullptr;
  const int32_t* init = nullptr;
  Epilogue epilogue;
  int32_t* out = nullptr;
  uint8_t* out_bytes = nullptr;
  int64_t out_row_items = 0, out_row_stride = 0;
  const Outliers* outliers = nullptr;  // with inputs staged by stage_clipped
};

// Staging in a channel order of our choosing (the inputs grouped by input_shift, see InputRun):
// slot j of each staged pixel holds input channel source[j] (any channel for a slot that only
// meets zero weights). Prepared once for at most kMaxPermutedChannels input channels.
inline constexpr int64_t kMaxPermutedChannels = 256;
struct Permutation {
  int64_t channels = 0, slots = 0;
  std::vector<uint8_t> index;   // [output chunk of 64 slots][input pair of 128 channels][64]
  std::vector<uint64_t> from;   // [output chunk][input pair]: the slots that pair provides
};
Permutation make_permutation(const std::vector<int64_t>& source, int64_t channels);
// Whether stage_permuted() runs on this CPU (AVX-512 VBMI besides available()).
bool can_permute();
// Stages `rows` rows of `row_pixels` pixels (input pixel (r, y) at in + r·in_row_stride +
// y·channels, channels values) as uint8 x − offset (modulo 256) into out + r·out_row_stride +
// y·slots, permuted; updates lo / hi with the raw minimum and maximum. Precondition:
// can_permute().
void stage_permuted(const int32_t* in, int64_t rows, int64_t row_pixels, int64_t in_row_stride,
                    const Permutation& permutation, int32_t offset, uint8_t* out,
                    int64_t out_row_stride, int32_t& lo, int32_t& hi);

// Stages `rows` rows of n int32 values (row r at in + r·in_row_stride) as uint8
// (x << shifts[k]) − offset (modulo 256; shifts null: no shift) into out + r·out_row_stride;
// updates lo / hi with the raw minimum and maximum. What the compiler-vectorized staging does,
// with the range kept in registers across rows. Precondition: available().
void stage_bytes(const int32_t* in, int64_t rows, int64_t n, int64_t in_row_stride,
                 const int32_t* shifts, int32_t offset, uint8_t* out, int64_t out_row_stride,
                 int32_t& lo, int32_t& hi);

// Copies `rows` rows of n bytes (row r at in + r·in_row_stride) to out + r·out_row_stride;
// updates lo / hi with their minimum and maximum. The staging of inputs that arrive as bytes.
// Precondition: available().
void copy_bytes(const uint8_t* in, int64_t rows, int64_t n, int64_t in_row_stride, uint8_t* out,
                int64_t out_row_stride, int32_t& lo, int32_t& hi);

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
  // The same weights as pair_weights() lays them out, when every weight fits int16 (else null):
  // one vpdpwssd per tap instead of a multiplication and an addition.
  const int32_t* pair_weights = nullptr;
  const int32_t* init = nullptr;
  Epilogue epilogue;
  int32_t* out = nullptr;
  // With the Sums epilogue: the sums as int16 here instead of out (their low 16 bits: for sums
  // within int16).
  int16_t* out16 = nullptr;
  // The weights modulo 2^16, laid out as `weights` (nullable): with out16 and byte inputs, 32
  // channels per vector on 16-bit lanes, every product and sum modulo 2^16 (so exact for sums
  // within int16).
  const int16_t* weights16 = nullptr;
};
// Depthwise weights for DepthwiseTask::pair_weights: each int32 weight as the pair (w, 0) of
// int16 (low half w, high half 0), so that the pair dot product of an input widened to int32
// (its high half 0 or its sign) gives x · w. Empty when a weight does not fit int16.
std::vector<int32_t> pair_weights(const std::vector<int32_t>& weights);
void depthwise(const DepthwiseTask<uint8_t>& task, int64_t begin, int64_t end);
void depthwise(const DepthwiseTask<int16_t>& task, int64_t begin, int64_t end);

// The epilogue over sums already in memory (after max pooling): `pixels` rows of `channels`.
void finish(const Epilogue& epilogue, const int32_t* sums, int64_t pixels, int64_t channels,
            int32_t* out);

}  // namespace akida::runtime::blocked
