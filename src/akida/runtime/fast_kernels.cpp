// Optimized kernels for the layers that take nearly all of the inference time: InputConv2D,
// Conv2D, DepthwiseConv2D, Dense1D, BufferTempConv, DepthwiseBufferTempConv and the Akida 1.0
// InputConvolutional, Convolutional and SeparableConvolutional. The arithmetic is the reference
// kernels' (same weight layouts from layer_util, same post-ops); what changes is how the sums
// are formed (ConvSums):
//   - each sample is staged once in a padded buffer of the narrowest type its range allows:
//     bytes (offset into 0..255, the offset's effect folded into the sums' start), 16-bit, or
//     int32; inputs with per-channel shifts are shifted while staged, or, when only the
//     unshifted values fit bytes, staged unshifted with the channels grouped by shift;
//   - on AVX-512 VNNI CPUs the register-blocked kernels of blocked_sums.cpp (several output
//     pixels x up to 64 channels per tile, max pooling inside the tile), on AVX2 CPUs their
//     8-lane versions (blocked_avx2.cpp; byte products only where blocked::bytes_exact shows
//     vpmaddubsw cannot saturate), apply the output stage (requantization, the Akida 1.0 level
//     count, a global sum) to each tile on int32 when the sample's bound shows every step
//     exact; elsewhere 16-bit pair multiply-adds (madd_sums.cpp) or int32 products the compiler
//     vectorizes (vector_clones.h), then the post-ops on int64 (fused where possible);
//   - int32 sums are exact only while no sum can reach 2^31: every sample checks
//     max Σ|w| · max |input << shift| < 2^31 first and otherwise runs the reference kernel (the
//     temporal kernels, which keep their own FIFO, sum in int64 instead), so the results are the
//     reference's in every case (tests/runtime_fast_test.cpp compares them).
// Kernels of temporal models split each blocked convolution's outputs over the threads the
// Engine gives them (use_threads); the others are cloned, one per thread.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "akida/runtime/blocked_sums.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/level_handoff.h"
#include "akida/runtime/linear_levels.h"
#include "akida/runtime/madd_sums.h"
#include "akida/runtime/post_ops.h"
#include "akida/runtime/v1_activation.h"
#include "akida/runtime/vector_clones.h"

namespace akida::runtime {
namespace {

constexpr int64_t kInt32Bound = int64_t{1} << 31;
constexpr int64_t kInt32Max = kInt32Bound - 1;

// Sums of one (possibly strided) convolution over a padded input (px, py, channels), weights in
// correlation layout w[((i * ky + j) * C + c) * F + f]; acc (ox, oy, F) is written here. This
// call computes the `count` output channels from w and acc (pointers offset to the first one);
// `stride` = F. With the count known at compile time (kF > 0) one output pixel's sums stay in
// registers.
template <typename T, int64_t kF>
__attribute__((always_inline)) inline void conv_sums_impl(const T* padded, int64_t py, int64_t channels, const int32_t* w,
                           int64_t count, int64_t stride, int64_t kx, int64_t ky, int64_t sx,
                           int64_t sy, int64_t ox_count, int64_t oy_count, T* acc) {
  const int64_t f_count = kF > 0 ? kF : count;
  T local[kF > 0 ? kF : 1];
  for (int64_t ox = 0; ox < ox_count; ++ox)
    for (int64_t oy = 0; oy < oy_count; ++oy) {
      T* out = acc + (ox * oy_count + oy) * stride;
      T* sum = kF > 0 ? local : out;
      for (int64_t f = 0; f < f_count; ++f) sum[f] = 0;
      for (int64_t i = 0; i < kx; ++i) {
        // For one kernel row, the (j, c) inputs and their weights are contiguous.
        const T* row = padded + ((ox * sx + i) * py + oy * sy) * channels;
        const int32_t* w_row = w + i * ky * channels * stride;
        for (int64_t k = 0; k < ky * channels; ++k) {
          const T v = row[k];
          if ((kF == 0 || kF >= 32) && v == 0) continue;  // sparse activations, long rows
          const int32_t* wk = w_row + k * stride;
          for (int64_t f = 0; f < f_count; ++f) sum[f] += v * wk[f];
        }
      }
      if (kF > 0)
        for (int64_t f = 0; f < f_count; ++f) out[f] = sum[f];
    }
}

AKIDA_VECTOR_CLONES
void conv_sums(const int32_t* padded, int64_t py, int64_t channels, const int32_t* w,
               int64_t filters, int64_t kx, int64_t ky, int64_t sx, int64_t sy, int64_t ox_count,
               int64_t oy_count, int32_t* acc) {
  // Up to 64 output channels: blocks of 64, 32, 16 or 8 with their sums in registers, then the
  // rest. Wider layers stream one pass over the inputs (measured faster on TENNs' 256).
  int64_t f0 = 0;
  if (filters > 64)
    return conv_sums_impl<int32_t, 0>(padded, py, channels, w, filters, filters, kx, ky, sx, sy,
                                      ox_count, oy_count, acc);
  auto block = [&](auto width) {
    constexpr int64_t kWidth = decltype(width)::value;
    for (; f0 + kWidth <= filters; f0 += kWidth)
      conv_sums_impl<int32_t, kWidth>(padded, py, channels, w + f0, kWidth, filters, kx, ky, sx,
                                      sy, ox_count, oy_count, acc + f0);
  };
  block(std::integral_constant<int64_t, 64>{});
  block(std::integral_constant<int64_t, 32>{});
  block(std::integral_constant<int64_t, 16>{});
  block(std::integral_constant<int64_t, 8>{});
  if (f0 < filters)
    conv_sums_impl<int32_t, 0>(padded, py, channels, w + f0, filters - f0, filters, kx, ky, sx,
                               sy, ox_count, oy_count, acc + f0);
}

// The same sums in int64, for inputs too large for int32 sums.
void conv_sums_wide(const int64_t* padded, int64_t py, int64_t channels, const int32_t* w,
                    int64_t filters, int64_t kx, int64_t ky, int64_t sx, int64_t sy,
                    int64_t ox_count, int64_t oy_count, int64_t* acc) {
  conv_sums_impl<int64_t, 0>(padded, py, channels, w, filters, filters, kx, ky, sx, sy, ox_count,
                             oy_count, acc);
}

// Depthwise: w[(i * ky + j) * C + c]; acc (ox, oy, C) is zeroed here.
AKIDA_VECTOR_CLONES
void depthwise_sums(const int32_t* padded, int64_t py, int64_t channels, const int32_t* w,
                    int64_t kx, int64_t ky, int64_t sx, int64_t sy, int64_t ox_count,
                    int64_t oy_count, int32_t* acc) {
  for (int64_t ox = 0; ox < ox_count; ++ox)
    for (int64_t oy = 0; oy < oy_count; ++oy) {
      int32_t* out = acc + (ox * oy_count + oy) * channels;
      std::fill(out, out + channels, 0);
      for (int64_t i = 0; i < kx; ++i)
        for (int64_t j = 0; j < ky; ++j) {
          const int32_t* pixel = padded + ((ox * sx + i) * py + (oy * sy + j)) * channels;
          const int32_t* w_tap = w + (i * ky + j) * channels;
          for (int64_t c = 0; c < channels; ++c) out[c] += pixel[c] * w_tap[c];
        }
    }
}

// ---- Staging: the input of a convolution, padded, shifted and narrowed once per sample ----

// The elements a staged buffer may be read past its end (the dot products read whole words,
// the depthwise kernel whole vectors of channels).
constexpr int64_t kStagingSlack = 64;

// Writes (in << shift) − offset, narrowed to T (modulo 2^bits, exact once the range is known to
// fit), into the interior of a padded (px, py, C) buffer: input pixel (x, y) of an
// (X, in_y, C) input goes to (x + pad_x, y + pad_y), for x < x_count, y < y_count (the pixels
// some window covers). `shifts` holds the shift of each value of one such row (y_count·C
// values, channel c's at c, c + C, ...). Tracks the raw minimum and maximum in lo / hi.
// kWrite = false only scans.
template <typename T, bool kWrite>
__attribute__((always_inline)) inline void stage_impl(const int32_t* in, int64_t in_y,
                                                      int64_t x_count, int64_t y_count,
                                                      int64_t channels, const int32_t* shifts,
                                                      int32_t offset, int64_t pad_x, int64_t pad_y,
                                                      int64_t py, T* out, int32_t& lo,
                                                      int32_t& hi) {
  // Rows of y_count pixels are contiguous in the input and in the buffer.
  const auto o = static_cast<uint32_t>(offset);
  const int64_t n = y_count * channels;
  int32_t low = lo, high = hi;
  for (int64_t x = 0; x < x_count; ++x) {
    const int32_t* src = in + x * in_y * channels;
    for (int64_t k = 0; k < n; ++k) {
      low = std::min(low, src[k]);
      high = std::max(high, src[k]);
    }
    if constexpr (kWrite) {
      T* dst = out + ((x + pad_x) * py + pad_y) * channels;
      for (int64_t k = 0; k < n; ++k)
        dst[k] = static_cast<T>((static_cast<uint32_t>(src[k]) << shifts[k]) - o);
    }
  }
  lo = low;
  hi = high;
}

#define AKIDA_STAGE(T, kWrite, name)                                                         \
  AKIDA_VECTOR_CLONES                                                                       \
  void name(const int32_t* in, int64_t in_y, int64_t x_count, int64_t y_count,             \
            int64_t channels, const int32_t* shifts, int32_t offset, int64_t pad_x,         \
            int64_t pad_y, int64_t py, T* out, int32_t& lo, int32_t& hi) {                  \
    stage_impl<T, kWrite>(in, in_y, x_count, y_count, channels, shifts, offset, pad_x, pad_y, \
                          py, out, lo, hi);                                                 \
  }
AKIDA_STAGE(uint8_t, true, stage_input)
AKIDA_STAGE(int16_t, true, stage_input)
AKIDA_STAGE(int32_t, true, stage_input)
AKIDA_STAGE(int32_t, false, scan_input)
#undef AKIDA_STAGE

// The element types a convolution's input is staged in, fastest first.
// GroupedBytes: unshifted bytes, the channels grouped by input_shift (ConvSums::group_by_shift).
enum class Staging { None, Bytes, GroupedBytes, Pairs, Ints };

// Which staging (and offset) a sample whose shifted inputs span [lo, hi] takes.
struct StagingChoice {
  Staging kind = Staging::None;
  int32_t offset = 0;
  bool clipped = false;  // Bytes with the values outside the byte range set aside (stage_clipped)
};

bool fits_staging(const StagingChoice& s, int64_t lo, int64_t hi) {
  switch (s.kind) {
    case Staging::Bytes:
    case Staging::GroupedBytes: return lo - s.offset >= 0 && hi - s.offset <= 255;
    case Staging::Pairs: return lo - s.offset >= INT16_MIN && hi - s.offset <= INT16_MAX;
    case Staging::Ints: return s.offset == 0;  // the int32 bound is checked separately
    case Staging::None: return false;
  }
  return false;
}

// The post-ops of post_ops.cpp (saturation, bias, ReLU, output scale and rounded shift) fused
// into one pass over int32 sums, per channel parameters prepared once. Same arithmetic in the
// same order; the shift is y * mul + half >> k, which is apply_shift for either sign (k = 0,
// mul = 2^shift for left shifts; mul = 1, half = 2^(k−1) for right ones). Not for LUT or global
// pooling layers (their ops run through apply_post_ops).
struct FusedPostOps {
  bool usable = false;
  int64_t buffer_min = 0, buffer_max = 0, post_min = 0, post_max = 0, out_min = 0, out_max = 0;
  std::vector<int64_t> bias, low, high, scale, mul, half;
  std::vector<int32_t> k;
};

FusedPostOps fuse(const PostOps& ops) {
  FusedPostOps f;
  f.usable = !ops.lut && ops.pool != PoolType::GlobalAverage;
  if (!f.usable) return f;
  const auto channels = static_cast<size_t>(ops.out_shape.c);
  f.buffer_min = saturate(INT64_MIN, ops.buffer_bits);
  f.buffer_max = saturate(INT64_MAX, ops.buffer_bits);
  f.post_min = ops.scaled ? saturate(INT64_MIN, ops.post_op_buffer_bits) : INT64_MIN;
  f.post_max = ops.scaled ? saturate(INT64_MAX, ops.post_op_buffer_bits) : INT64_MAX;
  f.out_min = saturate(INT64_MIN, ops.output_bits);
  f.out_max = saturate(INT64_MAX, ops.output_bits);
  for (size_t c = 0; c < channels; ++c) {
    f.bias.push_back(ops.bias.empty() ? 0 : ops.bias[c]);
    f.low.push_back(ops.relu ? 0 : INT64_MIN);
    f.high.push_back(ops.relu && !ops.relu_max.empty() ? ops.relu_max[c] : INT64_MAX);
    f.scale.push_back(ops.scaled ? ops.output_scales[c] : 1);
    const int32_t shift = ops.scaled ? ops.output_shift[c] : 0;
    f.mul.push_back(shift >= 0 ? int64_t{1} << shift : 1);
    f.half.push_back(shift < 0 ? int64_t{1} << (-shift - 1) : 0);
    f.k.push_back(shift < 0 ? -shift : 0);
  }
  return f;
}

AKIDA_VECTOR_CLONES
void fused_post_ops(const FusedPostOps& f, const int32_t* sums, int64_t pixels, int64_t channels,
                    int32_t* out) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t c = 0; c < channels; ++c) {
      int64_t a = std::clamp<int64_t>(sums[p * channels + c], f.buffer_min, f.buffer_max);
      a = std::clamp(a + f.bias[c], f.buffer_min, f.buffer_max);
      a = std::clamp(a, f.low[c], f.high[c]);
      int64_t y = std::clamp(a * f.scale[c], f.post_min, f.post_max);
      y = (y * f.mul[c] + f.half[c]) >> f.k[c];
      out[p * channels + c] = static_cast<int32_t>(std::clamp(y, f.out_min, f.out_max));
    }
}

// `rows` rows of n int16 values (row r at in + r·in_stride) as T, x − offset modulo 2^bits
// (exact once the range is known to fit), into out + r·out_stride.
template <typename T>
__attribute__((always_inline)) inline void narrow_rows_impl(const int16_t* in, int64_t rows,
                                                            int64_t n, int64_t in_stride,
                                                            int32_t offset, T* out,
                                                            int64_t out_stride) {
  const auto o = static_cast<uint16_t>(offset);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < n; ++k)
      out[r * out_stride + k] = static_cast<T>(static_cast<uint16_t>(in[r * in_stride + k]) - o);
}

#define AKIDA_NARROW_ROWS(T)                                                                 \
  AKIDA_VECTOR_CLONES                                                                       \
  void narrow_rows(const int16_t* in, int64_t rows, int64_t n, int64_t in_stride,          \
                   int32_t offset, T* out, int64_t out_stride) {                            \
    narrow_rows_impl(in, rows, n, in_stride, offset, out, out_stride);                      \
  }
AKIDA_NARROW_ROWS(uint8_t)
AKIDA_NARROW_ROWS(int16_t)
#undef AKIDA_NARROW_ROWS

// `rows` rows of n bytes (row r at in + r·in_stride) widened to int16 into out + r·out_stride;
// widens [lo, hi] to their range.
AKIDA_VECTOR_CLONES
void widen_byte_rows(const uint8_t* in, int64_t rows, int64_t n, int64_t in_stride, int16_t* out,
                     int64_t out_stride, int32_t& lo, int32_t& hi) {
  uint8_t low = 255, high = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < n; ++k) {
      const uint8_t x = in[r * in_stride + k];
      low = std::min(low, x);
      high = std::max(high, x);
      out[r * out_stride + k] = x;
    }
  if (rows <= 0 || n <= 0) return;
  lo = std::min<int32_t>(lo, low);
  hi = std::max<int32_t>(hi, high);
}

// Widens int32 sums for the post-ops.
AKIDA_VECTOR_CLONES
void widen(const int32_t* in, int64_t n, int64_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = in[i];
}

// The layer output from int32 sums (ops.conv_shape of them): the fused post-ops when they
// apply, else apply_post_ops on the widened sums (`wide` is scratch).
void finish_int32(const PostOps& ops, const FusedPostOps& fused, const std::vector<int32_t>& sums,
                  std::vector<int64_t>& wide, std::vector<int32_t>& output) {
  if (fused.usable) {
    output.resize(sums.size());
    fused_post_ops(fused, sums.data(), ops.conv_shape.x * ops.conv_shape.y, ops.conv_shape.c,
                   output.data());
    return;
  }
  wide.resize(sums.size());
  widen(sums.data(), static_cast<int64_t>(sums.size()), wide.data());
  apply_post_ops(ops, wide, output);
}

int64_t max_of(const std::vector<int64_t>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

bool sums_fit_int32(int64_t max_l1, int64_t max_input) {
  return max_input == 0 || max_l1 < kInt32Bound / max_input;
}

// A per-channel array padded to whole vectors of the blocked kernels (zeros past `values`).
template <typename T>
std::vector<int32_t> padded_int32(const std::vector<T>& values, int64_t channels) {
  std::vector<int32_t> out(static_cast<size_t>(blocked::padded_channels(channels)), 0);
  for (int64_t c = 0; c < channels; ++c) out[c] = static_cast<int32_t>(values[c]);
  return out;
}

// n / d rounded up and down, for d > 0 and any sign of n.
int64_t ceil_div(int64_t n, int64_t d) { return n >= 0 ? (n + d - 1) / d : -((-n) / d); }
int64_t floor_div(int64_t n, int64_t d) { return n >= 0 ? n / d : -((-n + d - 1) / d); }

// The post-ops of post_ops.cpp on int32, as the blocked kernels' Requantize epilogue, for samples
// whose sums are small enough that no step can leave int32 (fits()); otherwise the int64 paths
// run. Same arithmetic: with |sum| <= the buffer maximum the first saturation does nothing, the
// bias starts the sums, the buffer saturation and the ReLU bounds make one clamp, and neither the
// product by the scale nor the shift can then overflow. Not for LUT or global pooling layers.
class Requantize32 {
 public:
  Requantize32() = default;
  explicit Requantize32(const PostOps& ops) {
    usable_ = !ops.lut;
    if (!usable_) return;
    global_pool_ = ops.pool == PoolType::GlobalAverage;
    const int64_t channels = ops.out_shape.c;
    buffer_max_ = saturate(INT64_MAX, ops.buffer_bits);
    const int64_t buffer_min = saturate(INT64_MIN, ops.buffer_bits);
    const int64_t post_max = ops.scaled ? saturate(INT64_MAX, ops.post_op_buffer_bits) : kInt32Max;
    std::vector<int64_t> bias(channels, 0), low(channels), high(channels), scale(channels);
    std::vector<int64_t> requant_low(channels), requant_high(channels);
    std::vector<int32_t> left(channels), half(channels), right(channels);
    const int64_t out_min = saturate(INT64_MIN, ops.output_bits);
    const int64_t out_max = saturate(INT64_MAX, ops.output_bits);
    a_limit_ = kInt32Max;
    channel_a_max_.assign(channels, 0);
    channel_a_limit_.assign(channels, kInt32Max);
    channel_bias_.assign(channels, 0);
    for (int64_t c = 0; c < channels; ++c) {
      if (!ops.bias.empty()) bias[c] = ops.bias[c];
      if (bias[c] < -kInt32Max || bias[c] > kInt32Max) usable_ = false;
      channel_bias_[c] = std::abs(bias[c]);
      max_bias_ = std::max(max_bias_, channel_bias_[c]);
      low[c] = std::max(buffer_min, ops.relu ? int64_t{0} : buffer_min);
      high[c] = ops.relu && !ops.relu_max.empty() ? std::min(buffer_max_, ops.relu_max[c])
                                                   : buffer_max_;
      sum_a_max_ = std::max({sum_a_max_, std::abs(low[c]), std::abs(high[c])});
      requant_low[c] = low[c];
      requant_high[c] = high[c];
      scale[c] = ops.scaled ? ops.output_scales[c] : 1;
      const int32_t shift = ops.scaled ? ops.output_shift[c] : 0;
      if (shift < -31) {
        // (y + 2^(k−1)) >> k is 0 for every |y| <= 2^31 when k >= 32: the output is 0.
        scale[c] = 0;
        continue;
      }
      left[c] = std::max(shift, 0);
      right[c] = std::max(-shift, 0);
      half[c] = right[c] > 0 ? int32_t{1} << (right[c] - 1) : 0;
      if (scale[c] == 0) continue;
      // Beyond [a_lo, a_hi] the output saturates (every step after the clamp is non-decreasing
      // in a): clamping a there as well changes no output, and bounds |a| · scale whatever the
      // bias. a_hi is the least a with (a · scale · 2^left + half) >> right >= out_max, a_lo
      // the greatest with it <= out_min. ([a_lo, a_hi] holds 0 and meets [low, high], so one
      // clamp to the intersection is the two clamps.)
      const int64_t divisor = scale[c] << left[c];  // <= 2^31 · 2^31
      const int64_t a_hi = ceil_div(out_max * (int64_t{1} << right[c]) - half[c], divisor);
      const int64_t a_lo =
          floor_div((out_min + 1) * (int64_t{1} << right[c]) - 1 - half[c], divisor);
      requant_low[c] = std::max(low[c], a_lo);
      requant_high[c] = std::min(high[c], a_hi);
      tightened_ = tightened_ || requant_low[c] != low[c] || requant_high[c] != high[c];
      // |a| · scale must stay within the post-op buffer, and its shift within int32.
      const int64_t y_max = left[c] > 0 ? kInt32Max >> left[c] : kInt32Max - half[c];
      channel_a_limit_[c] = std::min(post_max / scale[c], y_max / scale[c]);
      a_limit_ = std::min(a_limit_, channel_a_limit_[c]);
    }
    for (int64_t c = 0; c < channels; ++c) {
      channel_a_max_[c] = std::max(std::abs(requant_low[c]), std::abs(requant_high[c]));
      a_max_ = std::max(a_max_, channel_a_max_[c]);
    }
    relu_ = ops.relu;
    any_left_shift_ = std::any_of(left.begin(), left.end(), [](int32_t v) { return v > 0; });
    out_min_ = static_cast<int32_t>(out_min);
    out_max_ = static_cast<int32_t>(out_max);
    bias_ = padded_int32(bias, channels);
    low_ = padded_int32(low, channels);
    high_ = padded_int32(high, channels);
    requant_low_ = padded_int32(requant_low, channels);
    requant_high_ = padded_int32(requant_high, channels);
    scale_ = padded_int32(scale, channels);
    left_ = padded_int32(left, channels);
    half_ = padded_int32(half, channels);
    right_ = padded_int32(right, channels);
  }

  // Whether every step is exact in int32 for sums with |sum| <= sum_bound (not for global
  // pooling layers).
  bool fits(int64_t sum_bound) const {
    return !global_pool_ && clamp_fits(sum_bound) &&
           std::min(sum_bound + max_bias_, a_max_) <= a_limit_;
  }
  // Channels whose weights are all zero (l1 = Σ|w| = 0: some of AkidaNet's) output one constant,
  // their bias through the post-ops (apply_post_ops on a zero sum): the epilogue gives it as
  // `half` with a zero scale and no shift, and their bias, however large, no longer limits the
  // layer. Once, with the weights' l1 per channel.
  void fold_constant_channels(const PostOps& ops, const std::vector<int64_t>& l1) {
    const auto channels = static_cast<int64_t>(l1.size());
    if (!usable_ || global_pool_ || folded_ || channels != static_cast<int64_t>(channel_bias_.size()))
      return;
    folded_ = true;
    PostOps pixel = ops;
    pixel.pool = PoolType::None;
    pixel.conv_shape = pixel.out_shape = Shape{1, 1, channels};
    std::vector<int64_t> zero_sums(static_cast<size_t>(channels), 0);
    std::vector<int32_t> constant;
    apply_post_ops(pixel, zero_sums, constant);
    a_max_ = 0;
    a_limit_ = kInt32Max;
    for (int64_t c = 0; c < channels; ++c) {
      if (l1[c] == 0) {
        scale_[c] = left_[c] = right_[c] = 0;
        half_[c] = constant[c];
        channel_a_limit_[c] = std::numeric_limits<int64_t>::max();
        continue;
      }
      a_max_ = std::max(a_max_, channel_a_max_[c]);
      a_limit_ = std::min(a_limit_, channel_a_limit_[c]);
    }
  }
  // fits() channel by channel, for sums bounded by l1[c] · max_input (max_l1 · max_input fits
  // int32): admits layers whose largest Σ|w| and largest output scale are in different
  // channels, which the one bound of fits() pairs.
  bool fits_by_channel(const std::vector<int64_t>& l1, int64_t max_input) const {
    if (!usable_ || global_pool_) return false;
    for (size_t c = 0; c < l1.size(); ++c) {
      const int64_t bound = l1[c] * max_input, biased = bound + channel_bias_[c];
      if (bound > buffer_max_ || biased > kInt32Max) return false;
      if (std::min(biased, channel_a_max_[c]) > channel_a_limit_[c]) return false;
    }
    return true;
  }
  // For global pooling layers: whether the clamped values of `pixels` positions, summed per
  // channel on int32 (the ClampSum epilogue), are exact.
  bool global_sum_fits(int64_t sum_bound, int64_t pixels) const {
    return global_pool_ && clamp_fits(sum_bound) &&
           std::min(sum_bound + max_bias_, sum_a_max_) <= kInt32Max / pixels;
  }
  const int32_t* bias() const { return bias_.data(); }
  blocked::Epilogue clamp_sum() const {
    blocked::Epilogue e;
    e.kind = blocked::Epilogue::Kind::ClampSum;
    e.low = low_.data();
    e.high = high_.data();
    return e;
  }
  // The epilogue for sums bounded by |sum| <= sum_bound (fits(sum_bound)).
  blocked::Epilogue epilogue(int64_t sum_bound) const {
    blocked::Epilogue e;
    e.kind = blocked::Epilogue::Kind::Requantize;
    e.low = requant_low_.data();
    e.high = requant_high_.data();
    // Without a ReLU or saturation bounds the clamp is the buffer's saturation, a no-op for
    // these sums.
    e.clamp = relu_ || tightened_ || sum_bound + max_bias_ > buffer_max_;
    e.scale = scale_.data();
    e.left = any_left_shift_ ? left_.data() : nullptr;
    e.half = half_.data();
    e.right = right_.data();
    e.out_min = out_min_;
    e.out_max = out_max_;
    return e;
  }

 private:
  // The first saturation is a no-op and the bias addition stays within int32.
  bool clamp_fits(int64_t sum_bound) const {
    return usable_ && sum_bound <= buffer_max_ && sum_bound + max_bias_ <= kInt32Max;
  }

  bool usable_ = false, global_pool_ = false, relu_ = false, any_left_shift_ = false;
  // a_max_: the largest |a| after the epilogue's clamp (saturation bounds included);
  // sum_a_max_: after the layer's own clamp (buffer, ReLU), which global sums take.
  int64_t buffer_max_ = 0, max_bias_ = 0, a_max_ = 0, sum_a_max_ = 0, a_limit_ = 0;
  bool tightened_ = false;  // some channel's saturation bounds are inside its clamp
  bool folded_ = false;     // fold_constant_channels() has run
  std::vector<int64_t> channel_bias_, channel_a_max_, channel_a_limit_;  // fits_by_channel()
  std::vector<int32_t> bias_, low_, high_, requant_low_, requant_high_, scale_, left_, half_, right_;
  int32_t out_min_ = 0, out_max_ = 0;
};

// The Akida 1.0 activation as the blocked kernels' level-count epilogue (when its boundaries fit
// int32): the count of level boundaries each potential reaches, as V1Activation::outputs(). The
// fastest that applies to the sample (measured on FOMO and hotdog): from the act_step rule in
// float (LevelsFloat) while |potential − threshold| < 2^24 and the boundaries are verified to be
// the rule's; else on 16-bit lanes (Levels16) while potentials minus thresholds stay within
// int32 and every boundary lies within int16 of its threshold; else by binary search (Levels).
class V1Levels {
 public:
  V1Levels() = default;
  V1Levels(const V1Activation& activation, int64_t neurons) {
    const std::vector<int32_t>& levels = activation.boundaries32();
    if (!activation.enabled() || levels.empty()) return;
    stride_ = blocked::padded_channels(neurons);
    count_ = activation.max_level();
    levels_.assign(static_cast<size_t>(count_ * stride_), 0);
    for (int32_t k = 0; k < count_; ++k)
      std::copy_n(&levels[k * neurons], neurons, &levels_[k * stride_]);
    const std::vector<int64_t>& thresholds = activation.thresholds();
    thresholds_ = padded_int32(thresholds, neurons);
    for (int32_t t : thresholds_)  // exact where used (LevelsFloat: |t| < 2^24)
      negated_thresholds_.push_back(static_cast<int32_t>(std::min<int64_t>(-int64_t{t}, kInt32Max)));
    for (int64_t t : thresholds) max_threshold_ = std::max(max_threshold_, std::abs(t));
    pack_relative16(levels, thresholds, neurons);
    const std::vector<int64_t> relative = relative_by_neuron(activation, neurons);
    prepare_linear(activation, relative, neurons);
    // The float rule is only chosen where no linear fit is (epilogue(): every bound the float
    // rule takes, the fit takes too).
    if (linear_bias_.empty()) prepare_steps(activation, relative, neurons);
  }
  bool usable() const { return !levels_.empty(); }
  // What the sums start from for the epilogue `e` (start()'s bias): the LevelsLinear offsets,
  // minus the thresholds for LevelsFloat, else none.
  const int32_t* bias(const blocked::Epilogue& e) const {
    if (e.kind == blocked::Epilogue::Kind::LevelsLinear) return linear_bias_.data();
    if (e.kind == blocked::Epilogue::Kind::LevelsFloat) return negated_thresholds_.data();
    return nullptr;
  }
  // The epilogue for potentials bounded by |p| <= bound.
  blocked::Epilogue epilogue(int64_t bound) const {
    blocked::Epilogue e;
    e.kind = blocked::Epilogue::Kind::Levels;
    e.levels = levels_.data();
    e.level_count = count_;
    e.level_stride = stride_;
    e.thresholds = thresholds_.data();
    if (!linear_bias_.empty() && bound + max_linear_bias_ <= kInt32Max) {
      e.kind = blocked::Epilogue::Kind::LevelsLinear;
      e.high = linear_high_.data();
      e.scale = linear_mult_.data();
      e.half = linear_add_.data();
      e.right = linear_shift_.data();
    } else if (!steps_.empty() && bound + max_threshold_ < kFloatExact) {
      e.kind = blocked::Epilogue::Kind::LevelsFloat;
      e.steps = steps_.data();
      e.inverse_steps = inverse_steps_.data();
    } else if (!levels16_.empty() && bound + max_threshold_ <= kInt32Max) {
      e.kind = blocked::Epilogue::Kind::Levels16;
      e.levels16 = levels16_.data();
    }
    return e;
  }

 private:
  static constexpr int64_t kFloatExact = int64_t{1} << 24;  // every smaller |d| is a float

  // The Levels16 tables, when every boundary lies within int16 of its threshold.
  void pack_relative16(const std::vector<int32_t>& levels, const std::vector<int64_t>& thresholds,
                       int64_t neurons) {
    std::vector<int16_t> relative(levels.size());
    for (size_t i = 0; i < levels.size(); ++i) {
      const int64_t r = levels[i] - thresholds[i % neurons];
      if (r < INT16_MIN || r > INT16_MAX) return;
      relative[i] = static_cast<int16_t>(r);
    }
    levels16_ = blocked::pack_levels16(relative, neurons, count_);
  }

  // The LevelsFloat steps q = act_step · 16 / 2^act_bits (exact: a power of two apart) and
  // their lowered inverses, when every q lies within [2^-20, 2^20] and every boundary is the
  // rule's: d = boundary − threshold is the smallest integer with (k − 1)·q < d, as the
  // epilogue's fused multiply-add tells it (checked at d and d − 1; the test is monotone in d).
  void prepare_steps(const V1Activation& activation, const std::vector<int64_t>& relative,
                     int64_t neurons) {
    std::vector<float> steps(neurons), inverse(neurons);
    auto below = [](int64_t j, float q, int64_t d) {
      return std::fma(static_cast<float>(j), q, -static_cast<float>(d)) < 0.0f;
    };
    for (int64_t n = 0; n < neurons; ++n) {
      const float q = step_of(activation, n);
      if (!(q >= 0x1p-20f && q <= 0x1p20f)) return;
      for (int32_t k = 1; k <= count_; ++k) {
        const int64_t d = relative[n * count_ + (k - 1)];
        if (std::abs(d) >= kFloatExact - 1 || !below(k - 1, q, d) || below(k - 1, q, d - 1)) return;
      }
      steps[n] = q;
      // Below 1/q by about 2^-20 of it: ceil(d · inverse) is the count or one below for every
      // count up to 255.
      inverse[n] = static_cast<float>(1.0 / q * (1.0 - 0x1p-20));
    }
    steps_ = padded_floats(steps);
    inverse_steps_ = padded_floats(inverse);
  }

  // The LevelsLinear parameters, when every neuron has a fit (linear_levels.h) whose offset
  // minus its threshold (added to the sums) fits int32.
  void prepare_linear(const V1Activation& activation, const std::vector<int64_t>& relative,
                      int64_t neurons) {
    const std::vector<int64_t>& thresholds = activation.thresholds();
    std::vector<int64_t> bias(neurons), high(neurons), mult(neurons), add(neurons), shift(neurons);
    int64_t max_bias = 0;
    for (int64_t n = 0; n < neurons; ++n) {
      const std::optional<LinearLevels> fit =
          fit_linear_levels(&relative[n * count_], count_, step_of(activation, n));
      if (!fit) return;
      // Added to the sums (start()): the epilogue then sees x + offset, x = potential − threshold.
      bias[n] = fit->offset - thresholds[n];
      if (std::abs(bias[n]) > kInt32Max) return;
      max_bias = std::max(max_bias, std::abs(bias[n]));
      high[n] = fit->high;
      mult[n] = fit->mult;
      add[n] = fit->add;
      shift[n] = fit->shift;
    }
    linear_bias_ = padded_int32(bias, neurons);
    linear_high_ = padded_int32(high, neurons);
    linear_mult_ = padded_int32(mult, neurons);
    linear_add_ = padded_int32(add, neurons);
    linear_shift_ = padded_int32(shift, neurons);
    max_linear_bias_ = max_bias;
  }

  // The act_step rule's step q = act_step · 16 / 2^act_bits (exact: a power of two apart).
  static float step_of(const V1Activation& activation, int64_t n) {
    return std::ldexp(activation.act_steps()[n], 4 - activation.act_bits());
  }

  // The boundaries relative to their neuron's threshold, neuron-major:
  // relative[n · count + (k − 1)] = boundary k − threshold.
  std::vector<int64_t> relative_by_neuron(const V1Activation& activation, int64_t neurons) const {
    const std::vector<int32_t>& by_level = activation.boundaries32();
    const std::vector<int64_t>& thresholds = activation.thresholds();
    std::vector<int64_t> relative(by_level.size());
    for (int64_t n = 0; n < neurons; ++n)
      for (int32_t k = 0; k < count_; ++k)
        relative[n * count_ + k] = by_level[k * neurons + n] - thresholds[n];
    return relative;
  }

  std::vector<float> padded_floats(const std::vector<float>& values) const {
    std::vector<float> out(static_cast<size_t>(stride_), 1.0f);
    std::copy(values.begin(), values.end(), out.begin());
    return out;
  }

  std::vector<int32_t> levels_;
  int32_t count_ = 0;
  int64_t stride_ = 0;
  std::vector<int32_t> thresholds_, negated_thresholds_;
  std::vector<int16_t> levels16_;
  std::vector<float> steps_, inverse_steps_;
  int64_t max_threshold_ = 0;
  std::vector<int32_t> linear_bias_, linear_high_, linear_mult_, linear_add_, linear_shift_;
  int64_t max_linear_bias_ = 0;
};

constexpr blocked::Epilogue kPlainSums{};

// One convolution's sums on int32, prepared once. Each sample is staged in a padded buffer
// (shifted by input_shift, narrowed to the smallest type its range allows, offset into the
// unsigned byte range where needed), then summed by the fastest path for that staging: the
// AVX-512 blocked kernels (bytes or 16-bit pairs; their epilogues apply the layer's output stage
// on the fly), the AVX2 pair multiply-adds, or int32 products. Dense layers are one-pixel 1x1
// convolutions; depthwise ones sum each channel on its own.
class ConvSums {
 public:
  struct Geometry {
    Shape in;       // (x, y, C)
    Window kernel;  // size and stride
    Axis x, y;      // padding before, along each axis
    Shape out;      // the sums, (x, y, F)
  };

  // The blocked kernels' view of a staging layout: elements per staged pixel, every window's
  // offset (per pooling window when pool_window > 0) and, for grouped inputs, the byte weights.
  struct BlockedLayout {
    int64_t channels = 0;
    std::vector<int32_t> windows;
    int64_t pool_window = 0;
    blocked::ByteWeights bytes;
  };

  // `weights` in correlation layout, `pad` the shifted value of each channel's padding.
  // `pooling` (optional): max pooling of the sums (its pool_window over g.out, TF padding), done
  // by compute(), whose outputs are then the pooled sums. Max pooling may come first because
  // everything after the sums (bias, saturations, activations) is non-decreasing per channel.
  ConvSums(const Geometry& g, std::vector<int32_t> weights, bool depthwise,
           std::vector<int32_t> shift, const std::vector<int64_t>& pad,
           const PostOps* pooling = nullptr)
      : g_(g), weights_(std::move(weights)), depthwise_(depthwise), shift_(std::move(shift)) {
    if (pooling && pooling->pool == PoolType::Max) pooling_ = *pooling;
    // Σ|w| per output channel; a depthwise kernel (tap, C) has one output channel per input one.
    l1_ = filter_l1(weights_, g.out.c);
    max_l1_ = max_of(l1_);
    px_ = (g.out.x - 1) * g.kernel.stride_x + g.kernel.size_x;
    py_ = (g.out.y - 1) * g.kernel.stride_y + g.kernel.size_y;
    // Strided windows may leave the last rows or columns of the input unread.
    covered_x_ = std::min(g.in.x, px_ - g.x.pad_before);
    covered_y_ = std::min(g.in.y, py_ - g.y.pad_before);
    min_shift_ = *std::min_element(shift_.begin(), shift_.end());
    max_shift_ = *std::max_element(shift_.begin(), shift_.end());
    for (int64_t k = 0; k < covered_y_ * g.in.c; ++k) row_shifts_.push_back(shift_[k % g.in.c]);
    const bool padded = g.x.pad_before > 0 || g.y.pad_before > 0 ||
                        px_ - g.x.pad_before > g.in.x || py_ - g.y.pad_before > g.in.y;
    for (int64_t v : pad) {
      // A padding value beyond int32 makes every sample take the reference kernel.
      pad_.push_back(static_cast<int32_t>(std::clamp(v, -kInt32Bound, kInt32Bound - 1)));
      if (!padded) continue;
      pad_lo_ = std::min(pad_lo_, v);
      pad_hi_ = std::max(pad_hi_, v);
    }
    prepare_paths();
  }

  bool depthwise() const { return depthwise_; }

  // Output rows (of the pooled output when pooling) and values compute() writes.
  int64_t rows() const { return pooling_ ? pooling_->out_shape.x : g_.out.x; }
  int64_t outputs() const { return pooling_ ? pooling_->out_shape.size() : g_.out.size(); }

  // Stages `in` (g.in values) for compute(). Returns max Σ|w| · max |input| (padding included),
  // which bounds |sum|, or nothing when a sum could leave int32 (compute() must not run then).
  std::optional<int64_t> stage(const std::vector<int32_t>& in) {
    StagingChoice choice = last_;
    if (choice.kind == Staging::None) {  // the first sample: scan, then stage
      scan_range(in);
      choice = best_staging();
    }
    stage_as(in, choice);
    if (!staged_fits(choice)) {
      choice = best_staging();
      stage_as(in, choice);
    }
    return staged(choice);
  }

  // stage() for an input that arrives as bytes (the levels of the layer before, or the image of
  // an input layer, level_handoff.h): copied as they are where this layer stages bytes unshifted
  // with byte padding values and the byte path sums their range exactly (on AVX2, 8-bit weights
  // only on values within 0..128 or so: tried again after a sample that was not, only while the
  // samples before were), else widened into the 16-bit staging, or to int32 and staged as above.
  std::optional<int64_t> stage(const std::vector<uint8_t>& in) {
    if (copies_bytes_ && (bytes_fit(255) || copied_bytes_fit_)) {
      const int64_t c = g_.in.c;
      prepare_buffer(bytes8_, 0, border8_);
      int32_t lo = INT32_MAX, hi = INT32_MIN;
      blocked::copy_bytes(in.data(), covered_x_, covered_y_ * c, g_.in.y * c,
                          bytes8_.data() + interior_offset(c), py_ * c, lo, hi);
      shifted_range(lo, hi);
      copied_bytes_fit_ = bytes_fit(hi_);
      if (copied_bytes_fit_) return staged({Staging::Bytes, 0});
    }
    if (widens_bytes_) return stage_as_pairs(in);
    widened_.assign(in.begin(), in.end());
    return stage(widened_);
  }

  // stage() for bytes the byte path cannot take exactly (the image of an Akida 1.0 input layer
  // with 8-bit weights, on AVX2): straight into the 16-bit pairs' staging, unshifted. Widening
  // them to int32 and staging those cost FOMO's image layer 50 µs of its 230.
  std::optional<int64_t> stage_as_pairs(const std::vector<uint8_t>& in) {
    const int64_t c = g_.in.c;
    pack_pairs_once();
    prepare_buffer(pairs16_, 0, border16_);
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    widen_byte_rows(in.data(), covered_x_, covered_y_ * c, g_.in.y * c,
                    pairs16_.data() + interior_offset(c), py_ * c, lo, hi);
    shifted_range(lo, hi);
    return staged({Staging::Pairs, 0});
  }

  // Where the layer before may write this layer's next input (values within 0..max_value),
  // for stage_written(): the interior of the byte staging, where every input value is staged
  // unshifted with byte padding (copies_bytes_), every pixel is read, the byte path sums such
  // values exactly and their sums always fit int32.
  std::optional<StagedBytes> byte_staging(int32_t max_value) {
    const int64_t max_staged = std::max<int64_t>(max_value, pad_hi_);
    if (!copies_bytes_ || covered_x_ != g_.in.x || covered_y_ != g_.in.y ||
        !bytes_fit(max_staged) || !sums_fit_int32(max_l1_, max_staged))
      return std::nullopt;
    const int64_t c = g_.in.c;
    prepare_buffer(bytes8_, 0, border8_);
    return StagedBytes{bytes8_.data() + interior_offset(c), g_.in.x, g_.in.y, c, py_ * c};
  }

  // stage() for an input the layer before wrote to byte_staging(max_value).
  int64_t stage_written(int32_t max_value) {
    shifted_range(0, max_value);
    return *staged({Staging::Bytes, 0});  // byte_staging() checked the bound
  }

  // Whether every sum fits int32 for inputs bounded by max_input.
  bool sums_fit(int64_t max_input) const { return sums_fit_int32(max_l1_, max_input); }
  int64_t max_l1() const { return max_l1_; }
  // Σ|w| per output channel, and the largest |input| of the sample stage() last staged: the
  // channel c's sums are bounded by l1()[c] · max_input().
  const std::vector<int64_t>& l1() const { return l1_; }
  int64_t max_input() const { return max_input_; }

  // stage() for the int16 sums of the depthwise half of a SeparableConvolutional layer: narrowed
  // (or copied) straight into the byte or 16-bit staging their range takes when it needs no
  // shift nor padding, else widened and staged as above.
  std::optional<int64_t> stage(const std::vector<int16_t>& in) {
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    widen_range(in.data(), static_cast<int64_t>(in.size()), lo, hi);
    shifted_range(lo, hi);
    const StagingChoice choice = best_staging();
    const bool plain = max_shift_ == 0 && zero_padding();
    if (plain && choice.kind == Staging::Bytes) {
      stage_int16(in, bytes8_, choice.offset, border8_);
    } else if (const std::optional<int32_t> offset =
                   choice.kind == Staging::Pairs ? stage_clipped(in) : std::nullopt) {
      return staged({Staging::Bytes, *offset, true});
    } else if (plain && choice.kind == Staging::Pairs && choice.offset == 0) {
      pack_pairs_once();
      stage_int16(in, pairs16_, 0, border16_);
    } else {
      widened_.assign(in.begin(), in.end());
      return stage(widened_);
    }
    return staged(choice);
  }

  // Whether compute_all() runs the blocked kernels on whole outputs (pooled in the tiles where
  // the layer pools) for the staged sample: then it can write bytes.
  bool blocked_tiles() const { return blocked() && (!pooling_ || layout().pool_window > 0); }

  // Whether compute() runs the blocked kernels for the staged sample: only they apply
  // epilogues and biases.
  bool blocked() const {
    return current_.kind == Staging::Bytes || current_.kind == Staging::GroupedBytes ||
           (current_.kind == Staging::Pairs && !pairs_.empty()) ||
           (depthwise_ && current_.kind == Staging::Pairs && !dw_weights_.empty());
  }

  // The per-channel start of every sum for the blocked kernels: the offset's correction, plus
  // `bias` (padded, nullable). Call after stage() and before compute().
  void start(const int32_t* bias) {
    const std::vector<int32_t>& sums = depthwise_ ? dw_column_sums_
                                       : current_.kind == Staging::Bytes ? bytes_.column_sums
                                       : current_.kind == Staging::GroupedBytes ? grouped_.bytes.column_sums
                                                                                : pairs_.column_sums;
    init_.resize(sums.size());
    const auto o = static_cast<uint32_t>(current_.offset);
    for (size_t f = 0; f < sums.size(); ++f)
      init_[f] = static_cast<int32_t>(o * static_cast<uint32_t>(sums[f]) +
                                      static_cast<uint32_t>(bias ? bias[f] : 0));
  }

  // compute_all() writing the low byte of each value (values within 0..255: levels).
  // Precondition: blocked_tiles(), not depthwise().
  void compute_all(const blocked::Epilogue& epilogue, uint8_t* out) { tiles(epilogue, out); }
  // The same bytes into the next layer's staging (its rows and items those of this output).
  void compute_all(const blocked::Epilogue& epilogue, const StagedBytes& out) {
    tiles(epilogue, &out);
  }
  // The plain sums as int16 (sums within int16). Precondition: blocked_tiles(), depthwise().
  void compute_sums(int16_t* out) { tiles(kPlainSums, out); }

  // Lets compute_all() split the rows over `pool` (nullptr: the calling thread only).
  void use_threads(ThreadPool* pool) { pool_ = pool; }

  // The sums of every output (pooled when pooling) into out ((x, y, F) values): through
  // `epilogue` with the start() values when blocked(), plain sums otherwise (then `epilogue`
  // must be kPlainSums and no bias started). The blocked kernels' outputs are split in parts
  // over the pool's threads (not for a global sum, to which every output adds).
  void compute_all(const blocked::Epilogue& epilogue, int32_t* out) {
    if (blocked_tiles()) return tiles(epilogue, out);
    if (!pooling_) return plain_sums(out);
    // The whole conv output, then its pooling.
    unpooled_.resize(static_cast<size_t>(g_.out.size()));
    plain_sums(unpooled_.data());
    max_pool(*pooling_, unpooled_.data(), out);
    if (blocked()) {  // the blocked depthwise kernel: its start values are in, then the epilogue
      const Shape& o = pooling_->out_shape;
      blocked::finish(epilogue, out, o.x * o.y, o.c, out);
    }
  }

 private:
  // Every blocked output, split in parts over the pool's threads (not for a global sum, to
  // which every output adds).
  template <typename O>
  void tiles(const blocked::Epilogue& epilogue, O* out) {
    const int64_t items = outputs() / g_.out.c;
    if (!pool_ || items < 2 || epilogue.kind == blocked::Epilogue::Kind::ClampSum)
      return blocked_items(epilogue, out, 0, items);
    const int64_t parts = std::min<int64_t>(items, 4 * pool_->size());
    pool_->run(parts, [&](int64_t i) {
      blocked_items(epilogue, out, items * i / parts, items * (i + 1) / parts);
    });
  }

  // The bound of a staged sample (see stage()) and its staging, remembered with the next
  // sample's guess.
  std::optional<int64_t> staged(const StagingChoice& choice) {
    current_ = choice;
    last_ = best_staging();
    const int64_t max_input = std::max(std::abs(lo_), std::abs(hi_));
    if (!sums_fit_int32(max_l1_, max_input)) return std::nullopt;
    max_input_ = max_input;
    return max_l1_ * max_input;
  }

  // Blocked outputs [begin, end) (pooled ones when the kernel pools).
  template <typename O>
  void blocked_items(const blocked::Epilogue& epilogue, O* out, int64_t begin,
                     int64_t end) const {
    if (current_.kind == Staging::Bytes) return run_blocked(bytes8_, bytes_, epilogue, out, begin, end);
    if (current_.kind == Staging::GroupedBytes)
      return run_blocked(grouped8_, grouped_.bytes, epilogue, out, begin, end);
    run_blocked(pairs16_, pairs_, epilogue, out, begin, end);
  }

  // The window offsets of the current staging's layout.
  const BlockedLayout& layout() const {
    return current_.kind == Staging::GroupedBytes ? grouped_ : plain_;
  }

  // The sums of the whole conv output, without pooling.
  void plain_sums(int32_t* out) const {
    if (blocked()) return blocked_items(kPlainSums, out, 0, g_.out.x * g_.out.y);
    const Window& k = g_.kernel;
    const int64_t c = g_.in.c, f = g_.out.c;
    if (current_.kind == Staging::Pairs)
      return conv_sums_madd(pairs16_.data(), py_, c, madd_.data(), f, k.size_x, k.size_y,
                            k.stride_x, k.stride_y, g_.out.x, g_.out.y, out);
    if (depthwise_)
      return depthwise_sums(ints32_.data(), py_, c, weights_.data(), k.size_x, k.size_y,
                            k.stride_x, k.stride_y, g_.out.x, g_.out.y, out);
    conv_sums(ints32_.data(), py_, c, weights_.data(), f, k.size_x, k.size_y, k.stride_x,
              k.stride_y, g_.out.x, g_.out.y, out);
  }

  // The weight layouts and window offsets of the paths this CPU runs.
  void prepare_paths() {
    const Window& k = g_.kernel;
    const int64_t c = g_.in.c, f = g_.out.c;
    // Element offsets must fit int32 for the blocked kernels.
    // (Grouped layouts add at most three slots per shift group: 4 · c bounds them.)
    const bool small = px_ * py_ * 4 * c + kStagingSlack < kInt32Bound;
    if (blocked::available() && small) {
      if (depthwise_) {
        const int64_t padded = blocked::padded_channels(c), taps = k.size_x * k.size_y;
        dw_weights_.assign(static_cast<size_t>(taps * padded), 0);
        dw_column_sums_.assign(static_cast<size_t>(padded), 0);
        for (int64_t t = 0; t < taps; ++t) {
          tap_offsets_.push_back(static_cast<int32_t>(((t / k.size_y) * py_ + t % k.size_y) * c));
          for (int64_t ch = 0; ch < c; ++ch) {
            const int32_t w = weights_[t * c + ch];
            dw_weights_[t * padded + ch] = w;
            dw_column_sums_[ch] = static_cast<int32_t>(static_cast<uint32_t>(dw_column_sums_[ch]) +
                                                       static_cast<uint32_t>(w));
          }
        }
        dw_pairs_ = blocked::pair_weights(dw_weights_);
        dw_weights16_.assign(dw_weights_.begin(), dw_weights_.end());  // modulo 2^16
      } else {
        bytes_ = blocked::pack_bytes(weights_, f, plain_runs());
        // The pairs are packed on the first sample that needs them (most layers never do).
        pairs_fit_ = std::all_of(weights_.begin(), weights_.end(), [](int32_t v) {
          return v >= INT16_MIN && v <= INT16_MAX;
        });
        if (max_shift_ > 0 && zero_padding() && c <= blocked::kMaxPermutedChannels &&
            blocked::can_permute())
          group_by_shift();
      }
      plain_.channels = c;
      make_windows(plain_);
      // Bytes are staged as they come when they need neither a shift nor an offset (their
      // padding values are bytes too).
      const bool byte_padding =
          std::all_of(pad_.begin(), pad_.end(), [](int32_t v) { return v >= 0 && v <= 255; });
      copies_bytes_ = max_shift_ == 0 && byte_padding && (depthwise_ || !bytes_.empty());
      widens_bytes_ = max_shift_ == 0 && !depthwise_ && pairs_fit_ && pad_lo_ >= INT16_MIN &&
                      pad_hi_ <= INT16_MAX;
    }
    if (!depthwise_ && f % 8 == 0 && !blocked_ready() && madd_available())
      madd_ = madd_weights(weights_, k.size_x, k.size_y * c, f);
  }

  bool zero_padding() const {
    return std::all_of(pad_.begin(), pad_.end(), [](int32_t v) { return v == 0; });
  }

  // The element offset of output pixel (ox, oy)'s window in a staged buffer of `channels`
  // elements per pixel.
  int32_t window_offset(int64_t ox, int64_t oy, int64_t channels) const {
    return static_cast<int32_t>((ox * g_.kernel.stride_x * py_ + oy * g_.kernel.stride_y) * channels);
  }

  // Every output pixel's window offset; listed pooling window by pooling window when the layer
  // pools and the blocked kernel can (pool_window of them each, the real positions of a window
  // at the border repeated).
  void make_windows(BlockedLayout& layout) const {
    for (int64_t ox = 0; ox < g_.out.x; ++ox)
      for (int64_t oy = 0; oy < g_.out.y; ++oy)
        layout.windows.push_back(window_offset(ox, oy, layout.channels));
    if (!pooling_ || depthwise_) return;
    const PostOps& ops = *pooling_;
    const Window& pw = ops.pool_window;
    const int64_t window = pw.size_x * pw.size_y;
    if (!blocked::can_pool(window)) return;
    std::vector<int32_t> pooled;
    for (int64_t qx = 0; qx < ops.out_shape.x; ++qx)
      for (int64_t qy = 0; qy < ops.out_shape.y; ++qy) {
        const int64_t x0 = qx * pw.stride_x - ops.pool_x.pad_before;
        const int64_t y0 = qy * pw.stride_y - ops.pool_y.pad_before;
        const size_t first = pooled.size();
        for (int64_t x = std::max<int64_t>(x0, 0); x < std::min(x0 + pw.size_x, g_.out.x); ++x)
          for (int64_t y = std::max<int64_t>(y0, 0); y < std::min(y0 + pw.size_y, g_.out.y); ++y)
            pooled.push_back(window_offset(x, y, layout.channels));
        while (pooled.size() < first + static_cast<size_t>(window)) pooled.push_back(pooled[first]);
      }
    layout.windows = std::move(pooled);
    layout.pool_window = window;
  }

  // Kernel rows as runs of the staged input (its channels in order, shifted when staged).
  std::vector<blocked::InputRun> plain_runs() const {
    const int64_t c = g_.in.c;
    return blocked::row_runs(g_.kernel.size_x, g_.kernel.size_y * c, py_ * c);
  }

  // Inputs with different input_shifts staged unshifted, as bytes: the channels grouped by
  // shift, largest first, each group padded to whole words (a pixel's slots), so that the
  // blocked kernel sums each group and shifts by the gaps between them (InputRun). Only the
  // byte staging uses this layout; wider inputs take the plain int32 path.
  void group_by_shift() {
    const int64_t c = g_.in.c;
    std::vector<int32_t> shifts(shift_.begin(), shift_.end());
    std::sort(shifts.begin(), shifts.end(), std::greater<>());
    shifts.erase(std::unique(shifts.begin(), shifts.end()), shifts.end());
    std::vector<int64_t> source;
    for (int32_t shift : shifts) {
      const int64_t start = static_cast<int64_t>(source.size());
      for (int64_t ch = 0; ch < c; ++ch)
        if (shift_[ch] == shift) source.push_back(ch);
      groups_.push_back({start, static_cast<int64_t>(source.size()) - start, shift});
      while (source.size() % 4 != 0) source.push_back(source[start]);  // zero weights
    }
    // Worth it only with fewer words than the 16-bit pairs the shifted inputs would take.
    const Window& k = g_.kernel;
    int64_t grouped_words = 0;
    for (const ShiftGroup& gr : groups_) grouped_words += k.size_x * k.size_y * ((gr.channels + 3) / 4);
    if (grouped_words >= k.size_x * ((k.size_y * c + 1) / 2)) return groups_.clear();
    permutation_ = blocked::make_permutation(source, c);
    grouped_.channels = permutation_.slots;
    grouped_.bytes = blocked::pack_bytes(weights_, g_.out.c, grouped_runs());
    make_windows(grouped_);
  }

  // The runs of the grouped layout: group by group, every kernel position, then the shift to
  // the next group's (the last group's own shift after the last run).
  std::vector<blocked::InputRun> grouped_runs() const {
    const Window& k = g_.kernel;
    const int64_t c = g_.in.c, slots = permutation_.slots;
    std::vector<blocked::InputRun> runs;
    for (size_t group = 0; group < groups_.size(); ++group) {
      const ShiftGroup& gr = groups_[group];
      const int64_t padded = (gr.channels + 3) / 4 * 4;
      for (int64_t i = 0; i < k.size_x; ++i)
        for (int64_t j = 0; j < k.size_y; ++j) {
          blocked::InputRun run;
          run.offset = (i * py_ + j) * slots + gr.start;
          for (int64_t m = 0; m < padded; ++m) {
            const int64_t ch = m < gr.channels ? permutation_source(gr.start + m) : -1;
            run.rows.push_back(ch < 0 ? -1 : (i * k.size_y + j) * c + ch);
          }
          runs.push_back(std::move(run));
        }
      runs.back().shift = group + 1 < groups_.size() ? gr.shift - groups_[group + 1].shift : gr.shift;
    }
    return runs;
  }

  // The input channel of slot j of the grouped layout.
  int64_t permutation_source(int64_t j) const {
    for (const ShiftGroup& gr : groups_)
      if (j >= gr.start && j < gr.start + gr.channels) {
        int64_t seen = 0;
        for (int64_t ch = 0; ch < g_.in.c; ++ch)
          if (shift_[ch] == gr.shift && seen++ == j - gr.start) return ch;
      }
    return -1;
  }

  bool blocked_ready() const { return !plain_.windows.empty(); }

  // The best staging for inputs spanning [lo_, hi_] (raw: [raw_lo_, raw_hi_]) on this CPU.
  StagingChoice best_staging() const {
    const int64_t lo = lo_, hi = hi_;
    if (blocked_ready() && hi - lo <= 255 && bytes_fit(hi - byte_offset(lo, hi)))
      return {Staging::Bytes, byte_offset(lo, hi)};
    // The unshifted inputs as bytes, the channels grouped by shift.
    if (!grouped_.bytes.empty() && raw_hi_ - raw_lo_ <= 255)
      return {Staging::GroupedBytes, byte_offset(raw_lo_, raw_hi_)};
    const bool fits16 = lo >= INT16_MIN && hi <= INT16_MAX;
    if (blocked_ready() && hi - lo <= UINT16_MAX && (depthwise_ || pairs_fit_))
      return {Staging::Pairs, fits16 ? 0 : static_cast<int32_t>(lo - INT16_MIN)};
    if (!madd_.empty() && fits16) return {Staging::Pairs, 0};
    return {Staging::Ints, 0};
  }

  // What brings values spanning [lo, hi] (at most 256 values) into 0..255, 0 or -128 when either does.
  static int32_t byte_offset(int64_t lo, int64_t hi) {
    if (lo >= 0 && hi <= 255) return 0;
    if (lo >= -128 && hi <= 127) return -128;
    return static_cast<int32_t>(lo);
  }

  // The range the staged values of `choice` span: the raw inputs' in the grouped layout.
  bool staged_fits(const StagingChoice& choice) const {
    if (choice.kind == Staging::GroupedBytes) return fits_staging(choice, raw_lo_, raw_hi_);
    if (choice.kind == Staging::Bytes && !bytes_fit(hi_ - choice.offset)) return false;
    return fits_staging(choice, lo_, hi_);
  }

  // Whether this layer's byte path sums inputs staged within 0..max_staged exactly (depthwise
  // sums widen every byte; the dot products depend on the CPU, blocked::bytes_exact).
  bool bytes_fit(int64_t max_staged) const {
    return depthwise_ || (!bytes_.empty() && blocked::bytes_exact(bytes_, max_staged));
  }

  // The shifted range of the input and the padding, without staging.
  void scan_range(const std::vector<int32_t>& in) {
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    scan_input(in.data(), g_.in.y, covered_x_, covered_y_, g_.in.c, row_shifts_.data(), 0, 0, 0,
               py_, nullptr, lo, hi);
    shifted_range(lo, hi);
  }

  // The range of the shifted inputs from the raw one: exact with a uniform shift, else the
  // widest the shifts allow (still a bound for the sums and the staging type).
  void shifted_range(int32_t raw_lo, int32_t raw_hi) {
    raw_lo_ = raw_lo;
    raw_hi_ = raw_hi;
    lo_ = std::min(pad_lo_, int64_t{raw_lo} << (raw_lo < 0 ? max_shift_ : min_shift_));
    hi_ = std::max(pad_hi_, int64_t{raw_hi} << (raw_hi > 0 ? max_shift_ : min_shift_));
  }

  // Allocates a staging buffer on first use and fills its border for `offset`.
  template <typename T>
  void prepare_buffer(std::vector<T>& buffer, int32_t offset,
                      std::optional<int32_t>& border_offset) const {
    if (buffer.empty()) buffer.assign(static_cast<size_t>(px_ * py_ * g_.in.c + kStagingSlack), 0);
    if (border_offset != offset) fill_border(buffer, offset), border_offset = offset;
  }

  // Where input pixel (0, 0) goes in a staged buffer of `channels` elements per pixel.
  int64_t interior_offset(int64_t channels) const {
    return (g_.x.pad_before * py_ + g_.y.pad_before) * channels;
  }

  template <typename T>
  void stage_into(const std::vector<int32_t>& in, std::vector<T>& buffer, int32_t offset,
                  std::optional<int32_t>& border_offset) {
    const int64_t c = g_.in.c;
    prepare_buffer(buffer, offset, border_offset);
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    if constexpr (std::is_same_v<T, uint8_t>) {
      if (blocked::available()) {  // a staged byte buffer is what the blocked kernels read
        blocked::stage_bytes(in.data(), covered_x_, covered_y_ * c, g_.in.y * c,
                             max_shift_ > 0 ? row_shifts_.data() : nullptr, offset,
                             buffer.data() + interior_offset(c), py_ * c, lo, hi);
        return shifted_range(lo, hi);
      }
    }
    stage_input(in.data(), g_.in.y, covered_x_, covered_y_, c, row_shifts_.data(), offset,
                g_.x.pad_before, g_.y.pad_before, py_, buffer.data(), lo, hi);
    shifted_range(lo, hi);
  }

  // Every padding position holds its channel's padding value minus the offset.
  template <typename T>
  void fill_border(std::vector<T>& buffer, int32_t offset) const {
    const int64_t c = g_.in.c;
    for (int64_t x = 0; x < px_; ++x)
      for (int64_t y = 0; y < py_; ++y)
        for (int64_t ch = 0; ch < c; ++ch)
          buffer[(x * py_ + y) * c + ch] =
              static_cast<T>(static_cast<uint32_t>(pad_[ch]) - static_cast<uint32_t>(offset));
  }

  // The grouped layout's staging: unshifted bytes, the channels permuted into their slots.
  void stage_grouped(const std::vector<int32_t>& in, int32_t offset) {
    const int64_t slots = permutation_.slots, c = g_.in.c;
    if (grouped8_.empty()) grouped8_.assign(static_cast<size_t>(px_ * py_ * slots + kStagingSlack), 0);
    if (grouped_border_ != offset) {  // zero padding, in every slot
      std::fill(grouped8_.begin(), grouped8_.end(), static_cast<uint8_t>(-offset));
      grouped_border_ = offset;
    }
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    blocked::stage_permuted(in.data(), covered_x_, covered_y_, g_.in.y * c, permutation_, offset,
                            grouped8_.data() + interior_offset(slots),
                            py_ * slots, lo, hi);
    shifted_range(lo, hi);
  }

  // Int16 inputs as T (x − offset, modulo 2^bits) into a staging buffer.
  template <typename T>
  void stage_int16(const std::vector<int16_t>& in, std::vector<T>& buffer, int32_t offset,
                   std::optional<int32_t>& border_offset) {
    const int64_t c = g_.in.c;
    prepare_buffer(buffer, offset, border_offset);
    narrow_rows(in.data(), covered_x_, covered_y_ * c, g_.in.y * c, offset,
                buffer.data() + interior_offset(c), py_ * c);
  }

  // Int16 inputs of a 1x1 convolution that span more than a byte, staged as bytes clipped to
  // the 256 values around zero, when at most one in 16 falls outside: the blocked kernel adds
  // the clipped part of those back to its sums (blocked::Outliers), and the rest takes byte dot
  // products, twice as many inputs per instruction as the 16-bit pairs they would otherwise
  // take. (The depthwise sums of SeparableConvolutional layers: mostly small, a few large.)
  // Returns the staging offset, or nothing when the inputs cannot be staged so.
  std::optional<int32_t> stage_clipped(const std::vector<int16_t>& in) {
    const Window& k = g_.kernel;
    const bool pointwise = k.size_x == 1 && k.size_y == 1 && k.stride_x == 1 && k.stride_y == 1 &&
                           px_ == g_.in.x && py_ == g_.in.y;
    if (!pointwise || depthwise_ || !bytes_fit(255) || !blocked_ready() || max_shift_ > 0 ||
        hi_ - lo_ <= 255 || !blocked::available())
      return std::nullopt;
    const auto offset = static_cast<int32_t>(std::clamp<int64_t>(-128, lo_, hi_ - 255));
    const auto n = static_cast<int64_t>(in.size());
    prepare_buffer(bytes8_, offset, border8_);
    clipped_at_.clear();
    clipped_deltas_.clear();
    if (!blocked::stage_clipped(in.data(), n, offset, bytes8_.data(), clipped_at_,
                                clipped_deltas_, n / 16))
      return std::nullopt;
    index_outliers();
    return offset;
  }

  // The clipped values (clipped_at_, clipped_deltas_) listed by pixel for blocked::Outliers.
  void index_outliers() {
    const int64_t c = g_.in.c;
    if (outlier_weights_.empty()) {  // once: each window's pixel, the weights as int32 rows
      for (int32_t w : plain_.windows) window_pixels_.push_back(static_cast<int32_t>(w / c));
      const int64_t f = g_.out.c, padded = blocked::padded_channels(f);
      outlier_weights_.assign(static_cast<size_t>(c * padded), 0);
      for (int64_t ch = 0; ch < c; ++ch)
        std::copy_n(&weights_[ch * f], f, &outlier_weights_[ch * padded]);
    }
    outlier_start_.assign(static_cast<size_t>(g_.in.x * g_.in.y + 1), 0);
    outlier_rows_.resize(clipped_at_.size());
    for (size_t i = 0; i < clipped_at_.size(); ++i) {
      ++outlier_start_[clipped_at_[i] / c + 1];
      outlier_rows_[i] = static_cast<int32_t>(clipped_at_[i] % c);
    }
    for (size_t p = 1; p < outlier_start_.size(); ++p) outlier_start_[p] += outlier_start_[p - 1];
    outliers_ = {window_pixels_.data(), outlier_start_.data(), outlier_rows_.data(),
                 clipped_deltas_.data(), outlier_weights_.data()};
  }

  // The pairs are packed on the first sample that needs them (most layers never do).
  void pack_pairs_once() {
    if (!depthwise_ && pairs_fit_ && pairs_.empty())
      pairs_ = blocked::pack_pairs(weights_, g_.out.c, plain_runs());
  }

  void stage_as(const std::vector<int32_t>& in, const StagingChoice& choice) {
    switch (choice.kind) {
      case Staging::Bytes: return stage_into(in, bytes8_, choice.offset, border8_);
      case Staging::GroupedBytes: return stage_grouped(in, choice.offset);
      case Staging::Pairs:
        pack_pairs_once();
        return stage_into(in, pairs16_, choice.offset, border16_);
      default: return stage_into(in, ints32_, 0, border32_);
    }
  }

  // O: int32 for every layer; bytes (dense, or in a StagedBytes) for convolutions only, int16
  // for depthwise ones only (compute_all's preconditions).
  template <typename T, typename W, typename O>
  void run_blocked(const std::vector<T>& input, const blocked::PackedWeights<W>& weights,
                   const blocked::Epilogue& epilogue, O* out, int64_t begin,
                   int64_t end) const {
    if constexpr (std::is_same_v<O, int32_t> || std::is_same_v<O, int16_t>) {
      if (depthwise_) {
        blocked::DepthwiseTask<T> t{input.data(), plain_.windows.data(), g_.in.c,
                                    tap_offsets_.data(), static_cast<int64_t>(tap_offsets_.size()),
                                    dw_weights_.data(),
                                    dw_pairs_.empty() ? nullptr : dw_pairs_.data(),
                                    init_.data(), epilogue};
        if constexpr (std::is_same_v<O, int16_t>) {
          t.out16 = out;
          t.weights16 = dw_weights16_.data();
        } else
          t.out = out;
        return blocked::depthwise(t, begin, end);
      }
    }
    if constexpr (!std::is_same_v<O, int16_t>) {
      // Only the pooled (or unpooled) windows are listed, depending on the layer.
      const BlockedLayout& l = layout();
      blocked::ConvTask<T> t{input.data(), l.windows.data(), l.pool_window > 0 ? l.pool_window : 1,
                             &weights, init_.data(), epilogue};
      if (current_.clipped) t.outliers = &outliers_;
      if constexpr (std::is_same_v<O, const StagedBytes>) {
        t.out_bytes = out->data;
        t.out_row_items = out->row_items;
        t.out_row_stride = out->row_stride;
      } else if constexpr (std::is_same_v<O, uint8_t>) {
        t.out_bytes = out;
      } else {
        t.out = out;
      }
      blocked::conv(t, begin, end);
    }
  }

  Geometry g_;
  ThreadPool* pool_ = nullptr;
  std::optional<PostOps> pooling_;
  std::vector<int32_t> unpooled_;  // otherwise the sums before pooling
  std::vector<int32_t> weights_;
  bool depthwise_ = false;
  std::vector<int32_t> shift_, pad_;
  int32_t min_shift_ = 0, max_shift_ = 0;
  std::vector<int32_t> row_shifts_;  // the shift of each value of an input row
  int64_t pad_lo_ = 0, pad_hi_ = 0;
  int64_t max_l1_ = 0, px_ = 0, py_ = 0, covered_x_ = 0, covered_y_ = 0;
  std::vector<int64_t> l1_;
  int64_t max_input_ = 0;
  // The paths' weights: blocked bytes / pairs (or depthwise int32), AVX2 pairs.
  blocked::ByteWeights bytes_;
  blocked::PairWeights pairs_;
  bool pairs_fit_ = false;  // every weight fits int16: pairs_ can be packed
  std::vector<int32_t> dw_weights_, dw_pairs_, dw_column_sums_, tap_offsets_;
  std::vector<int16_t> dw_weights16_;
  BlockedLayout plain_, grouped_;
  std::vector<int16_t> madd_;
  // The grouped layout (group_by_shift()): each group's first slot, channel count and shift.
  struct ShiftGroup {
    int64_t start = 0, channels = 0;
    int32_t shift = 0;
  };
  std::vector<ShiftGroup> groups_;
  blocked::Permutation permutation_;
  // Per sample: the staged input, its range and staging.
  std::vector<uint8_t> bytes8_, grouped8_;
  std::vector<int16_t> pairs16_;
  std::vector<int32_t> ints32_;
  bool copies_bytes_ = false;      // stage(bytes) may copy them into bytes8_
  bool copied_bytes_fit_ = true;   // the last bytes copied were summed exactly there
  bool widens_bytes_ = false;      // stage(bytes) widens them into pairs16_ (stage_as_pairs)
  std::vector<int32_t> widened_;   // otherwise they are widened here first
  std::optional<int32_t> border8_, grouped_border_, border16_, border32_;  // the offset each border was filled for
  int64_t lo_ = 0, hi_ = 0;          // the shifted inputs' range (padding included)
  int32_t raw_lo_ = 0, raw_hi_ = 0;  // the inputs' own range
  StagingChoice last_, current_;
  std::vector<int32_t> init_;
  // The clipped staging (stage_clipped): the clipped values' indices and deltas, by pixel.
  std::vector<int32_t> clipped_at_, clipped_deltas_, outlier_start_, outlier_rows_;
  std::vector<int32_t> window_pixels_, outlier_weights_;
  blocked::Outliers outliers_;
};

ConvSums::Geometry conv_geometry(const Shape& in, const ConvParams& params, const ConvPlan& plan) {
  return {in, params.kernel, plan.x, plan.y, plan.conv_out};
}

// A dense layer over an (x, y, C) input: one pixel of x·y·C channels, 1x1, to `units`.
ConvSums::Geometry dense_geometry(const Shape& in, int64_t units) {
  return {Shape{1, 1, in.size()}, Window{}, Axis{1, 1, 0}, Axis{1, 1, 0}, Shape{1, 1, units}};
}

// Hands a layer output computed as int32 (in `computed`, out.ints or scratch) to `out`: narrowed
// when it goes as bytes, row by row into the next layer's staging.
void hand_over(const std::vector<int32_t>& computed, const LevelsOut& out) {
  if (out.staged) {
    const StagedBytes& to = *out.staged;
    const int64_t row = to.row_items * to.channels;
    for (int64_t r = 0; r < to.rows; ++r)
      narrow_to_bytes(computed.data() + r * row, row, to.data + r * to.row_stride);
    return;
  }
  if (!out.bytes) return;
  out.bytes->resize(computed.size());
  narrow_to_bytes(computed.data(), static_cast<int64_t>(computed.size()), out.bytes->data());
}

// stage() of a layer's input as it comes (level_handoff.h): int32 values, bytes, or bytes the
// layer before wrote to the staging.
std::optional<int64_t> stage_levels(ConvSums& sums, const LevelsIn& in) {
  if (in.staged_max >= 0) return sums.stage_written(in.staged_max);
  return in.bytes ? sums.stage(*in.bytes) : sums.stage(*in.ints);
}

// The reference kernel's output for a sample (an input that came as bytes widened into
// `widened` first; never one written to byte_staging(), whose sums fit the optimized path),
// handed to `out` (through `scratch` when it goes as bytes).
void run_reference_levels(LayerKernel& reference, const LevelsIn& in, const LevelsOut& out,
                          std::vector<int32_t>& widened, std::vector<int32_t>& scratch) {
  if (in.staged_max >= 0) throw std::logic_error("the reference kernel cannot read a staged input");
  const std::vector<int32_t>* ints = in.ints;
  if (!ints) {
    widened.assign(in.bytes->begin(), in.bytes->end());
    ints = &widened;
  }
  std::vector<int32_t>& result = out.ints ? *out.ints : scratch;
  reference.eval({ints}, result);
  hand_over(result, out);
}

// The output stage of a v2 layer from its staged (and max-pooled) sums: the Requantize
// epilogue in the blocked kernels when the sample's bound allows, else the plain sums then the
// int64 post-ops (fused where possible).
class V2Output {
 public:
  explicit V2Output(PostOps ops) : ops_(std::move(ops)), requantize_(ops_) {
    after_pool_ = ops_;
    if (ops_.pool == PoolType::Max) {  // pooled by ConvSums
      after_pool_.pool = PoolType::None;
      after_pool_.conv_shape = ops_.out_shape;
    }
    fused_ = fuse(after_pool_);
    // After a global sum: its saturation to the buffer, then the output scale.
    after_sum_ = ops_;
    after_sum_.pool = PoolType::None;
    after_sum_.conv_shape = ops_.out_shape;
    after_sum_.bias.clear();
    after_sum_.relu = false;
  }
  const PostOps& ops() const { return ops_; }

  // Whether every output is a ReLU output within 0..255 (then run() may write bytes), and the
  // largest one.
  bool outputs_bytes() const { return ops_.relu && max_output() <= 255; }
  int32_t max_output() const {
    return static_cast<int32_t>(std::min<int64_t>(saturate(INT64_MAX, ops_.output_bits), kInt32Max));
  }

  void run(ConvSums& sums, int64_t sum_bound, std::vector<int32_t>& output) {
    output.resize(static_cast<size_t>(ops_.out_shape.size()));
    if (sums.blocked() && requantizes_in_tiles(sums, sum_bound)) {
      sums.start(requantize_.bias());
      return sums.compute_all(requantize_.epilogue(sum_bound), output.data());
    }
    if (sums.blocked() && !sums.depthwise() &&
        requantize_.global_sum_fits(sum_bound, ops_.conv_shape.x * ops_.conv_shape.y)) {
      sums.start(requantize_.bias());
      acc32_.assign(static_cast<size_t>(ops_.out_shape.c), 0);
      sums.compute_all(requantize_.clamp_sum(), acc32_.data());
      acc64_.assign(acc32_.begin(), acc32_.end());
      return apply_post_ops(after_sum_, acc64_, output);
    }
    if (sums.blocked()) sums.start(nullptr);
    acc32_.resize(static_cast<size_t>(sums.outputs()));
    sums.compute_all(kPlainSums, acc32_.data());
    finish_int32(after_pool_, fused_, acc32_, acc64_, output);
  }

  // run() to `out` (outputs_bytes() when it takes bytes): the tiles write the requantized
  // bytes themselves where they requantize whole outputs, else the int32 outputs are narrowed.
  void run(ConvSums& sums, int64_t sum_bound, const LevelsOut& out) {
    if (out.ints) return run(sums, sum_bound, *out.ints);
    if (sums.blocked_tiles() && !sums.depthwise() && requantizes_in_tiles(sums, sum_bound)) {
      sums.start(requantize_.bias());
      const blocked::Epilogue epilogue = requantize_.epilogue(sum_bound);
      if (out.staged) return sums.compute_all(epilogue, *out.staged);
      out.bytes->resize(static_cast<size_t>(ops_.out_shape.size()));
      return sums.compute_all(epilogue, out.bytes->data());
    }
    run(sums, sum_bound, ints_);
    hand_over(ints_, out);
  }

 private:
  // Whether the tiles' Requantize epilogue is exact for the sample (sums bounded by sum_bound).
  bool requantizes_in_tiles(const ConvSums& sums, int64_t sum_bound) {
    requantize_.fold_constant_channels(ops_, sums.l1());
    return requantize_.fits(sum_bound) || requantize_.fits_by_channel(sums.l1(), sums.max_input());
  }

  PostOps ops_;
  PostOps after_pool_;  // ops_ without its max pooling (done with the sums)
  PostOps after_sum_;   // what follows a global sum
  FusedPostOps fused_;
  Requantize32 requantize_;
  std::vector<int32_t> acc32_, ints_;
  std::vector<int64_t> acc64_;
};

struct FastConvOptions {
  bool depthwise = false;
  bool rotate_kernel = true;
  bool pad_with_padding_value = false;
};

// InputConv2D, Conv2D, DepthwiseConv2D: the sums, their max pooling (on the raw sums: the
// saturation and the bias are non-decreasing per channel, so max(f(a), f(b)) = f(max(a, b))),
// then the post-ops.
class FastConvKernel final : public CloneableKernel<FastConvKernel>, public LevelHandoff {
 public:
  FastConvKernel(const Layer& layer, const Shape& in, const FastConvOptions& options,
                 std::unique_ptr<LayerKernel> reference)
      : reference_(std::move(reference)),
        output_(prepare_post_ops(layer, read_conv_params(layer), plan(layer, in, options))),
        sums_(make_sums(layer, in, options, output_.ops())) {}

  Shape output_shape() const override { return output_.ops().out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    const std::optional<int64_t> bound = sums_.stage(*inputs.front());
    if (!bound) return reference_->eval(inputs, output);
    output_.run(sums_, *bound, output);
  }

  // ReLU outputs go to the next layer as bytes, as Akida 1.0 levels do (level_handoff.h).
  bool outputs_levels() const override { return output_.outputs_bytes(); }
  int32_t max_level() const override { return output_.max_output(); }
  std::optional<StagedBytes> byte_staging(int32_t max_value) override {
    return sums_.byte_staging(max_value);
  }
  void eval_levels(const LevelsIn& in, const LevelsOut& out) override {
    const std::optional<int64_t> bound = stage_levels(sums_, in);
    if (!bound) return run_reference_levels(*reference_, in, out, widened_, reference_output_);
    output_.run(sums_, *bound, out);
  }

  void reset() override { reference_->reset(); }
  void use_threads(ThreadPool* pool) override { sums_.use_threads(pool); }

 private:
  static ConvPlan plan(const Layer& layer, const Shape& in, const FastConvOptions& options) {
    const int64_t filters = options.depthwise ? in.c : required_param(layer, "filters", 1, 1 << 24);
    return plan_conv(layer, read_conv_params(layer), in, filters);
  }

  // The reference kernel has validated the layer: nothing here throws.
  static ConvSums make_sums(const Layer& layer, const Shape& in, const FastConvOptions& options,
                            const PostOps& ops) {
    const ConvParams params = read_conv_params(layer);
    const ConvPlan p = plan(layer, in, options);
    std::vector<int32_t> shift = read_input_shift(layer, in.c);
    const auto pad = options.pad_with_padding_value
                         ? per_channel_values(layer, "padding_value", in.c, 0, 0, 255)
                         : std::vector<int64_t>(in.c, 0);
    std::vector<int64_t> shifted_pad;
    for (int64_t c = 0; c < in.c; ++c) shifted_pad.push_back(pad[c] << shift[c]);
    return ConvSums(conv_geometry(in, params, p),
                    correlation_weights(*layer.find_variable("weights"), params.kernel.size_x,
                                        params.kernel.size_y, in.c,
                                        options.depthwise ? 1 : p.conv_out.c, options.rotate_kernel),
                    options.depthwise, std::move(shift), shifted_pad, &ops);
  }

  OwnedKernel reference_;
  V2Output output_;
  ConvSums sums_;
  std::vector<int32_t> widened_, reference_output_;
};

class FastDenseKernel final : public CloneableKernel<FastDenseKernel> {
 public:
  FastDenseKernel(const Layer& layer, const Shape& in, std::unique_ptr<LayerKernel> reference)
      : reference_(std::move(reference)),
        sums_(make_sums(layer, in)),
        output_(prepare_post_ops(layer, Shape{1, 1, required_param(layer, "units", 1, 1 << 24)})) {}

  Shape output_shape() const override { return output_.ops().out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    const std::optional<int64_t> bound = sums_.stage(*inputs.front());
    if (!bound) return reference_->eval(inputs, output);
    output_.run(sums_, *bound, output);
  }

 private:
  static ConvSums make_sums(const Layer& layer, const Shape& in) {
    const int64_t units = required_param(layer, "units", 1, 1 << 24);
    std::vector<int32_t> w = layer.find_variable("weights")->ints32();  // (X, F)
    // The input_shift of channel c applies to every input of that channel.
    const std::vector<int32_t> channel_shift = read_input_shift(layer, in.c);
    const auto inputs = static_cast<size_t>(in.size());
    std::vector<int32_t> shift(inputs);
    for (size_t k = 0; k < inputs; ++k) shift[k] = channel_shift[k % channel_shift.size()];
    return ConvSums(dense_geometry(in, units), std::move(w), false, std::move(shift),
                    std::vector<int64_t>(inputs, 0));
  }

  OwnedKernel reference_;
  ConvSums sums_;
  V2Output output_;
};

// The int64 sums of a temporal layer over its (T, P, C) history `h` (already shifted), for
// samples too large for int32: BufferTempConv, w[(t · C + c) · F + f] into acc (P, F);
// DepthwiseBufferTempConv, w[t · C + c] into acc (P, C).
void temporal_sums_wide(const std::vector<int64_t>& h, int64_t slots, int64_t pixels,
                        int64_t channels, const std::vector<int32_t>& w, int64_t filters,
                        bool depthwise, std::vector<int64_t>& acc) {
  if (!depthwise)
    return conv_sums_wide(h.data(), pixels, channels, w.data(), filters, slots, 1, 1, 1, 1,
                          pixels, acc.data());
  std::fill(acc.begin(), acc.end(), 0);
  for (int64_t t = 0; t < slots; ++t)
    for (int64_t p = 0; p < pixels; ++p)
      for (int64_t c = 0; c < channels; ++c)
        acc[p * channels + c] += h[(t * pixels + p) * channels + c] * w[t * channels + c];
}

// BufferTempConv and DepthwiseBufferTempConv: the FIFO's T frames, oldest first, make a
// (T, P, C) input over which the layer is a T x 1 convolution (P = x·y pixels; the weights'
// (T·C, F) rows are in that order) or a T x 1 depthwise convolution (weights (T, C)). Keeps its
// own FIFO (stateful: it cannot fall back to the reference kernel, whose FIFO is not kept in
// step), so a history too large for int32 sums is summed in int64 here.
class FastTemporalKernel final : public CloneableKernel<FastTemporalKernel> {
 public:
  FastTemporalKernel(const Layer& layer, const Shape& in, bool depthwise)
      : in_(in),
        depthwise_(depthwise),
        fifo_(layer, in),
        output_(prepare_post_ops(layer, Shape{in.x, in.y, filters(layer, in, depthwise)})),
        sums_(make_sums(layer, in, depthwise, fifo_.slots())) {
    weights_ = layer.find_variable("weights")->ints32();
    input_shift_ = read_input_shift(layer, in.c);
  }

  Shape output_shape() const override { return output_.ops().out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    fifo_.push(*inputs.front());
    const int64_t frame = in_.size(), slots = fifo_.slots();
    history_.resize(static_cast<size_t>(slots * frame));
    for (int64_t t = 0; t < slots; ++t)
      std::copy_n(fifo_.slot(t), frame, history_.begin() + t * frame);
    if (const std::optional<int64_t> bound = sums_.stage(history_))
      return output_.run(sums_, *bound, output);
    wide_history_.resize(history_.size());
    for (size_t k = 0; k < history_.size(); ++k)
      wide_history_[k] = int64_t{history_[k]} << input_shift_[k % in_.c];
    const int64_t filters = output_.ops().out_shape.c;
    acc64_.resize(static_cast<size_t>(in_.x * in_.y * filters));
    temporal_sums_wide(wide_history_, slots, in_.x * in_.y, in_.c, weights_, filters, depthwise_,
                       acc64_);
    apply_post_ops(output_.ops(), acc64_, output);
  }

  void reset() override { fifo_.reset(); }
  bool stateful() const override { return true; }
  void use_threads(ThreadPool* pool) override { sums_.use_threads(pool); }

 private:
  static int64_t filters(const Layer& layer, const Shape& in, bool depthwise) {
    return depthwise ? in.c : required_param(layer, "filters", 1, 1 << 24);
  }

  static ConvSums make_sums(const Layer& layer, const Shape& in, bool depthwise, int64_t slots) {
    const int64_t pixels = in.x * in.y, f = filters(layer, in, depthwise);
    const Window kernel{slots, 1, 1, 1, "fifo_size", "fifo_size"};
    const ConvSums::Geometry g{Shape{slots, pixels, in.c}, kernel, Axis{slots, 1, 0},
                               Axis{pixels, pixels, 0}, Shape{1, pixels, f}};
    return ConvSums(g, layer.find_variable("weights")->ints32(), depthwise,
                    read_input_shift(layer, in.c), std::vector<int64_t>(in.c, 0));
  }

  Shape in_;
  bool depthwise_ = false;
  FrameFifo fifo_;
  V2Output output_;
  ConvSums sums_;
  std::vector<int32_t> weights_;  // (T·C, F) or (T, C)
  std::vector<int32_t> input_shift_;
  std::vector<int32_t> history_;
  std::vector<int64_t> wide_history_, acc64_;
};

// The v1 layer output from int32 potentials (`wide` is scratch). The pooling stage of
// prepare_v1_output only pools and clamps to int32, which int32 potentials already are.
void finish_v1(const V1Output& stage, const std::vector<int32_t>& potentials,
               std::vector<int32_t>& pooled, std::vector<int64_t>& wide,
               std::vector<int32_t>& output) {
  const PostOps& ops = stage.pooling;
  if (ops.pool == PoolType::None) return stage.activation.outputs(potentials, output);
  if (ops.pool == PoolType::Max) {
    pooled.resize(static_cast<size_t>(ops.out_shape.size()));
    max_pool(ops, potentials.data(), pooled.data());
    return stage.activation.outputs(pooled, output);
  }
  wide.resize(potentials.size());
  widen(potentials.data(), static_cast<int64_t>(potentials.size()), wide.data());
  apply_v1_output(stage, wide, output);
}


// The output stage of an Akida 1.0 layer from its staged (and max-pooled) potentials: the level
// count in the blocked kernels' epilogue where it applies (writing bytes directly when the output
// goes as bytes), else the plain potentials then the activation (or the global sum, then the
// activation).
class V1Stage {
 public:
  explicit V1Stage(V1Output output)
      : output_(std::move(output)), levels_(output_.activation, output_.pooling.out_shape.c) {
    const auto padded = static_cast<size_t>(blocked::padded_channels(output_.pooling.conv_shape.c));
    no_clamp_low_.assign(padded, INT32_MIN);
    no_clamp_high_.assign(padded, INT32_MAX);
  }
  const V1Output& output() const { return output_; }

  void run(ConvSums& sums, int64_t sum_bound, const LevelsOut& out) {
    const bool tiles = in_tiles(sums);
    const blocked::Epilogue epilogue = tiles ? tile_epilogue(sum_bound) : kPlainSums;
    if (sums.blocked()) sums.start(levels_.bias(epilogue));
    if ((out.bytes || out.staged) && tiles && sums.blocked_tiles() && !sums.depthwise()) {
      if (out.staged) return sums.compute_all(epilogue, *out.staged);
      out.bytes->resize(static_cast<size_t>(output_.pooling.out_shape.size()));
      return sums.compute_all(epilogue, out.bytes->data());
    }
    std::vector<int32_t>& ints = out.ints ? *out.ints : ints_;
    run_int32(sums, sum_bound, tiles, epilogue, ints);
    hand_over(ints, out);
  }

 private:
  // Whether the blocked kernels' epilogue gives the output (the levels, or potentials without
  // an activation).
  bool in_tiles(const ConvSums& sums) const {
    return output_.pooling.pool != PoolType::GlobalAverage && sums.blocked() &&
           (levels_.usable() || !output_.activation.enabled());
  }
  blocked::Epilogue tile_epilogue(int64_t sum_bound) const {
    return levels_.usable() ? levels_.epilogue(sum_bound) : kPlainSums;
  }

  // The output as int32: through the tiles' `epilogue` when they give it (`tiles`).
  void run_int32(ConvSums& sums, int64_t sum_bound, bool tiles, const blocked::Epilogue& epilogue,
                 std::vector<int32_t>& output) {
    const PostOps& ops = output_.pooling;
    if (tiles) {
      output.resize(static_cast<size_t>(ops.out_shape.size()));
      return sums.compute_all(epilogue, output.data());
    }
    // Global average pooling (a sum of the potentials for Akida 1.0) in the tiles, while every
    // partial sum stays within int32; then the activation on the C sums.
    const int64_t pixels = ops.conv_shape.x * ops.conv_shape.y;
    if (ops.pool == PoolType::GlobalAverage && sums.blocked_tiles() && pixels > 0 &&
        sum_bound <= kInt32Max / pixels) {
      acc32_.assign(static_cast<size_t>(ops.conv_shape.c), 0);
      blocked::Epilogue global_sum;  // the ClampSum epilogue, its bounds no clamp at all
      global_sum.kind = blocked::Epilogue::Kind::ClampSum;
      global_sum.low = no_clamp_low_.data();
      global_sum.high = no_clamp_high_.data();
      sums.compute_all(global_sum, acc32_.data());
      return output_.activation.outputs(acc32_, output);
    }
    acc32_.resize(static_cast<size_t>(sums.outputs()));
    sums.compute_all(kPlainSums, acc32_.data());
    if (ops.pool == PoolType::GlobalAverage) return finish_v1(output_, acc32_, pooled32_, acc64_, output);
    output_.activation.outputs(acc32_, output);
  }

  V1Output output_;
  V1Levels levels_;
  std::vector<int32_t> no_clamp_low_, no_clamp_high_;  // the global sum's bounds
  std::vector<int32_t> ints_, acc32_, pooled32_;
  std::vector<int64_t> acc64_;
};

// What the optimized Akida 1.0 kernels share: eval() on int32 tensors through eval_levels(), the
// byte hand-off (level_handoff.h) and the reference kernel for samples whose sums could leave
// int32.
template <typename Derived>
class FastV1Kernel : public CloneableKernel<Derived>, public LevelHandoff {
 public:
  FastV1Kernel(std::unique_ptr<LayerKernel> reference, V1Output output)
      : reference_(std::move(reference)), output_(std::move(output)) {}

  Shape output_shape() const override { return output_.output().pooling.out_shape; }
  bool outputs_levels() const override {
    const V1Activation& a = output_.output().activation;
    return a.enabled() && a.max_level() <= 255;
  }
  int32_t max_level() const override { return output_.output().activation.max_level(); }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    eval_levels(LevelsIn{inputs.front(), nullptr}, LevelsOut{&output, nullptr});
  }

 protected:
  void run_reference(const LevelsIn& in, const LevelsOut& out) {
    run_reference_levels(*reference_, in, out, widened_, reference_output_);
  }

  OwnedKernel reference_;
  V1Stage output_;

 private:
  std::vector<int32_t> widened_, reference_output_;
};

// Akida 1.0 InputConvolutional / Convolutional: the sums of FastConvKernel (inputs are 1- to
// 8-bit levels or pixels), then the v1 output stage on the potentials.
class FastV1ConvKernel final : public FastV1Kernel<FastV1ConvKernel> {
 public:
  FastV1ConvKernel(const Layer& layer, const Shape& in, bool rotate, int32_t padding_value,
                   std::unique_ptr<LayerKernel> reference)
      : FastV1Kernel(std::move(reference),
                     prepare_v1_output(layer, read_conv_params(layer), plan(layer, in))),
        sums_(make_sums(layer, in, rotate, padding_value, output_.output().pooling)) {}

  void use_threads(ThreadPool* pool) override { sums_.use_threads(pool); }
  std::optional<StagedBytes> byte_staging(int32_t max_value) override {
    return sums_.byte_staging(max_value);
  }

  void eval_levels(const LevelsIn& in, const LevelsOut& out) override {
    const std::optional<int64_t> bound = stage_levels(sums_, in);
    if (!bound) return run_reference(in, out);
    output_.run(sums_, *bound, out);
  }

 private:
  static ConvPlan plan(const Layer& layer, const Shape& in) {
    return plan_conv(layer, read_conv_params(layer), in, required_param(layer, "filters", 1, 1 << 24));
  }

  static ConvSums make_sums(const Layer& layer, const Shape& in, bool rotate,
                            int32_t padding_value, const PostOps& pooling) {
    const ConvParams params = read_conv_params(layer);
    const ConvPlan p = plan(layer, in);
    return ConvSums(conv_geometry(in, params, p),
                    read_v1_weights(layer, "weights", params.kernel.size_x, params.kernel.size_y,
                                    in.c, p.conv_out.c, rotate),
                    false, std::vector<int32_t>(in.c, 0),
                    std::vector<int64_t>(in.c, padding_value), &pooling);
  }

  ConvSums sums_;
};

// Akida 1.0 SeparableConvolutional: the depthwise sums, then the pointwise sums over them as a
// 1x1 convolution (each checked against int32 on its own inputs), then the v1 output stage.
class FastV1SeparableKernel final : public FastV1Kernel<FastV1SeparableKernel> {
 public:
  FastV1SeparableKernel(const Layer& layer, const Shape& in,
                        std::unique_ptr<LayerKernel> reference)
      : FastV1Kernel(std::move(reference),
                     prepare_v1_output(layer, read_conv_params(layer), plan(layer, in))),
        depthwise_(make_depthwise(layer, in)),
        pointwise_(make_pointwise(layer, in, output_.output().pooling)) {}

  void use_threads(ThreadPool* pool) override {
    depthwise_.use_threads(pool);
    pointwise_.use_threads(pool);
  }

  // Only where the pointwise sums fit too, whatever the depthwise ones.
  std::optional<StagedBytes> byte_staging(int32_t max_value) override {
    if (!pointwise_.sums_fit(depthwise_.max_l1() * max_value)) return std::nullopt;
    return depthwise_.byte_staging(max_value);
  }

  void eval_levels(const LevelsIn& in, const LevelsOut& out) override {
    const std::optional<int64_t> depthwise_bound = stage_levels(depthwise_, in);
    if (!depthwise_bound) return run_reference(in, out);
    if (depthwise_.blocked()) depthwise_.start(nullptr);
    const std::optional<int64_t> bound = stage_pointwise(*depthwise_bound);
    if (!bound) return run_reference(in, out);
    output_.run(pointwise_, *bound, out);
  }

 private:
  // The depthwise sums (|sum| <= depthwise_bound), staged as the pointwise layer's input: as
  // int16 where the blocked kernel computes them and they fit (half the memory traffic of
  // int32 ones), else as int32.
  std::optional<int64_t> stage_pointwise(int64_t depthwise_bound) {
    const auto size = static_cast<size_t>(depthwise_.outputs());
    if (depthwise_.blocked_tiles() && depthwise_bound <= INT16_MAX) {
      depthwise16_.resize(size);
      depthwise_.compute_sums(depthwise16_.data());
      return pointwise_.stage(depthwise16_);
    }
    depthwise32_.resize(size);
    depthwise_.compute_all(kPlainSums, depthwise32_.data());
    return pointwise_.stage(depthwise32_);
  }

  static ConvPlan plan(const Layer& layer, const Shape& in) {
    return plan_conv(layer, read_conv_params(layer), in, required_param(layer, "filters", 1, 1 << 24));
  }

  static ConvSums make_depthwise(const Layer& layer, const Shape& in) {
    const ConvParams params = read_conv_params(layer);
    const ConvPlan p = plan(layer, in);
    ConvSums::Geometry g = conv_geometry(in, params, p);
    g.out.c = in.c;
    return ConvSums(g, read_v1_weights(layer, "weights", params.kernel.size_x,
                                       params.kernel.size_y, in.c, 1, /*rotate=*/true),
                    true, std::vector<int32_t>(in.c, 0), std::vector<int64_t>(in.c, 0));
  }

  static ConvSums make_pointwise(const Layer& layer, const Shape& in, const PostOps& pooling) {
    const Shape o = plan(layer, in).conv_out;
    const ConvSums::Geometry g{Shape{o.x, o.y, in.c}, Window{}, Axis{o.x, o.x, 0},
                               Axis{o.y, o.y, 0}, o};
    return ConvSums(g, read_v1_weights(layer, "weights_pw", 1, 1, in.c, o.c, /*rotate=*/false),
                    false, std::vector<int32_t>(in.c, 0), std::vector<int64_t>(in.c, 0), &pooling);
  }

  ConvSums depthwise_, pointwise_;
  std::vector<int32_t> depthwise32_;
  std::vector<int16_t> depthwise16_;
};

}  // namespace

AKIDA_VECTOR_CLONES
void narrow_to_bytes(const int32_t* values, int64_t n, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(values[i]);
}

std::unique_ptr<LayerKernel> make_fast_kernel(const Layer& layer, const InputShapes& in) {
  // The reference kernel first: it validates the layer (and is the fallback).
  std::unique_ptr<LayerKernel> reference = make_reference_kernel(layer, in);
  switch (layer.kind) {
    case LayerKind::InputConv2D:
      return std::make_unique<FastConvKernel>(
          layer, declared_input_dims(layer),
          FastConvOptions{.rotate_kernel = false, .pad_with_padding_value = true},
          std::move(reference));
    case LayerKind::Conv2D:
      return std::make_unique<FastConvKernel>(layer, in.front(), FastConvOptions{},
                                              std::move(reference));
    case LayerKind::DepthwiseConv2D:
      return std::make_unique<FastConvKernel>(layer, in.front(),
                                              FastConvOptions{.depthwise = true},
                                              std::move(reference));
    case LayerKind::Dense1D:
      return std::make_unique<FastDenseKernel>(layer, in.front(), std::move(reference));
    case LayerKind::BufferTempConv:
      // Validated by the reference kernel above; stateful, so it cannot fall back to it.
      return std::make_unique<FastTemporalKernel>(layer, in.front(), false);
    case LayerKind::DepthwiseBufferTempConv:
      return std::make_unique<FastTemporalKernel>(layer, in.front(), true);
    case LayerKind::InputConvolutional:
      return std::make_unique<FastV1ConvKernel>(layer, declared_input_dims(layer), false,
                                                param_in_range(layer, "padding_value", 0, 255),
                                                std::move(reference));
    case LayerKind::Convolutional:
      return std::make_unique<FastV1ConvKernel>(layer, in.front(), true, 0, std::move(reference));
    case LayerKind::SeparableConvolutional:
      return std::make_unique<FastV1SeparableKernel>(layer, in.front(), std::move(reference));
    default: return reference;
  }
}

}  // namespace akida::runtime
