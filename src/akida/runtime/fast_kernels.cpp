// Optimized kernels for the layers that take nearly all of the inference time: InputConv2D,
// Conv2D, DepthwiseConv2D, Dense1D, BufferTempConv and the Akida 1.0 InputConvolutional,
// Convolutional and SeparableConvolutional. The arithmetic is the reference kernels' (same weight
// layouts from layer_util, same post-ops); what changes is how the sums are formed:
//   - a padded copy of the input, shifted once, so the inner loops have no bounds checks;
//   - int32 sums, by AVX-512 VNNI byte dot products or AVX2 16-bit pair multiply-adds
//     (madd_sums.cpp) when the CPU has them and the values fit, else by int32 products the
//     compiler vectorizes (vector_clones.h);
//   - max pooling on the raw sums, then the post-ops fused into one pass.
// int32 sums are exact only while no sum can reach 2^31: every sample checks
// max Σ|w| · max |input << shift| < 2^31 first and otherwise runs the reference kernel, so the
// results are the reference's in every case (tests/runtime_fast_test.cpp compares them).
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/madd_sums.h"
#include "akida/runtime/post_ops.h"
#include "akida/runtime/v1_activation.h"
#include "akida/runtime/vector_clones.h"

namespace akida::runtime {
namespace {

constexpr int64_t kInt32Bound = int64_t{1} << 31;

// Sums of one (possibly strided) convolution over a padded input (px, py, channels), weights in
// correlation layout w[((i * ky + j) * C + c) * F + f]; acc (ox, oy, F) is written here. This
// call computes the `count` output channels from w and acc (pointers offset to the first one);
// `stride` = F. With the count known at compile time (kF > 0) one output pixel's sums stay in
// registers.
template <typename T, int64_t kF>
inline void conv_sums_impl(const T* padded, int64_t py, int64_t channels, const int32_t* w,
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

// out (px, py, C) = the input (x, y, C) shifted left per channel, placed at (x + pad_x, y + pad_y),
// with `pad` (one pixel's C values) everywhere else.
AKIDA_VECTOR_CLONES
void pad_and_shift(const int32_t* in, int64_t x_count, int64_t y_count, int64_t channels,
                   const int32_t* shift, const int32_t* pad, int64_t pad_x, int64_t pad_y,
                   int64_t px_count, int64_t py_count, int32_t* out) {
  for (int64_t px = 0; px < px_count; ++px) {
    const int64_t x = px - pad_x;
    for (int64_t py = 0; py < py_count; ++py) {
      const int64_t y = py - pad_y;
      int32_t* dst = out + (px * py_count + py) * channels;
      if (x < 0 || x >= x_count || y < 0 || y >= y_count) {
        std::copy(pad, pad + channels, dst);
        continue;
      }
      const int32_t* src = in + (x * y_count + y) * channels;
      for (int64_t c = 0; c < channels; ++c) dst[c] = src[c] << shift[c];
    }
  }
}

// Narrows values known to fit int16 (for the pair multiply-adds); out has one more element, 0.
AKIDA_VECTOR_CLONES
void narrow(const int32_t* in, int64_t n, int16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int16_t>(in[i]);
  out[n] = 0;
}

constexpr int64_t kInt16Bound = int64_t{1} << 15;

// Narrows values to uint8 when all of them are in 0..255 (for the byte dot products); out has
// three more elements, 0. Returns false, leaving out unspecified, otherwise.
AKIDA_VECTOR_CLONES
bool narrow_u8(const int32_t* in, int64_t n, uint8_t* out) {
  int32_t low = 0, high = 0;
  for (int64_t i = 0; i < n; ++i) {
    low = std::min(low, in[i]);
    high = std::max(high, in[i]);
    out[i] = static_cast<uint8_t>(in[i]);
  }
  out[n] = out[n + 1] = out[n + 2] = 0;
  return low >= 0 && high <= 255;
}

// The faster weight layouts a layer's sums can use on this CPU (each empty when it cannot).
struct PackedWeights {
  std::vector<int16_t> pairs;  // conv_sums_madd
  std::vector<int8_t> quads;   // conv_sums_dot4
};

PackedWeights pack_weights(const std::vector<int32_t>& w, int64_t kx, int64_t k_per_row,
                           int64_t filters) {
  PackedWeights packed;
  if (filters % 8 == 0 && madd_available()) packed.pairs = madd_weights(w, kx, k_per_row, filters);
  if (filters % 16 == 0 && dot4_available()) packed.quads = dot4_weights(w, kx, k_per_row, filters);
  return packed;
}

// Scratch copies of a layer's inputs in the narrower types.
struct NarrowInputs {
  std::vector<int16_t> pairs;
  std::vector<uint8_t> bytes;
};

// The sums of a convolution over `values` (already padded and shifted, (px, py, C)): byte dot
// products when the weights allow and every value is in 0..255, else pair multiply-adds when
// every value fits int16, else int32 products. Preconditions: no sum leaves int32.
void int32_sums(const std::vector<int32_t>& values, NarrowInputs& narrowed, int64_t max_value,
                const std::vector<int32_t>& w, const PackedWeights& packed, int64_t py,
                int64_t channels, int64_t filters, int64_t kx, int64_t ky, int64_t sx, int64_t sy,
                int64_t ox_count, int64_t oy_count, int32_t* acc) {
  const auto n = static_cast<int64_t>(values.size());
  if (!packed.quads.empty() && max_value <= 255) {
    narrowed.bytes.resize(values.size() + 3);
    if (narrow_u8(values.data(), n, narrowed.bytes.data()))
      return conv_sums_dot4(narrowed.bytes.data(), py, channels, packed.quads.data(), filters, kx,
                            ky, sx, sy, ox_count, oy_count, acc);
  }
  if (!packed.pairs.empty() && max_value < kInt16Bound) {
    narrowed.pairs.resize(values.size() + 1);
    narrow(values.data(), n, narrowed.pairs.data());
    return conv_sums_madd(narrowed.pairs.data(), py, channels, packed.pairs.data(), filters, kx,
                          ky, sx, sy, ox_count, oy_count, acc);
  }
  conv_sums(values.data(), py, channels, w.data(), filters, kx, ky, sx, sy, ox_count, oy_count,
            acc);
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

// max |x << shift[channel]| over a (..., C) tensor (< 2^62: |x| <= 2^31, shift <= 31).
AKIDA_VECTOR_CLONES
int64_t max_abs_shifted(const int32_t* x, int64_t pixels, int64_t channels, const int32_t* shift) {
  int64_t m = 0;
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t v = x[p * channels + c];
      m = std::max(m, (v < 0 ? -v : v) << shift[c]);
    }
  return m;
}

bool sums_fit_int32(int64_t max_l1, int64_t max_input) {
  return max_input == 0 || max_l1 < kInt32Bound / max_input;
}

// One convolution's sums on int32, prepared once: the input padded and shifted into a buffer,
// then the fastest path its values allow (int32_sums). Dense layers are one-pixel 1x1
// convolutions, depthwise ones use depthwise_sums.
class ConvSums {
 public:
  struct Geometry {
    Shape in;       // (x, y, C)
    Window kernel;  // size and stride
    Axis x, y;      // padding before, along each axis
    Shape out;      // the sums, (x, y, F)
  };

  // `weights` in correlation layout, `pad` the shifted value of each channel's padding.
  ConvSums(const Geometry& g, std::vector<int32_t> weights, bool depthwise,
           std::vector<int32_t> shift, const std::vector<int64_t>& pad)
      : g_(g), weights_(std::move(weights)), depthwise_(depthwise), shift_(std::move(shift)) {
    // Σ|w| per output channel; a depthwise kernel (tap, C) has one output channel per input one.
    max_l1_ = max_of(filter_l1(weights_, g.out.c));
    // A padding value beyond int32 makes every sample take the reference kernel.
    max_pad_ = std::min(max_of(pad), kInt32Bound);
    for (int64_t v : pad) pad_.push_back(static_cast<int32_t>(std::min(v, kInt32Bound - 1)));
    px_ = (g.out.x - 1) * g.kernel.stride_x + g.kernel.size_x;
    py_ = (g.out.y - 1) * g.kernel.stride_y + g.kernel.size_y;
    if (!depthwise_) packed_ = pack_weights(weights_, g.kernel.size_x, g.kernel.size_y * g.in.c, g.out.c);
    // Nothing to pad or shift (e.g. the pointwise half of a separable layer): read the input.
    direct_ = px_ == g.in.x && py_ == g.in.y && g.x.pad_before == 0 && g.y.pad_before == 0 &&
              std::all_of(shift_.begin(), shift_.end(), [](int32_t v) { return v == 0; });
  }

  // The sums of `in` (g.in values) into `sums` (g.out values); false, computing nothing, when a
  // sum could leave int32.
  bool run(const std::vector<int32_t>& in, std::vector<int32_t>& sums) {
    const int64_t c = g_.in.c;
    const int64_t max_input = std::max(
        max_abs_shifted(in.data(), static_cast<int64_t>(in.size()) / c, c, shift_.data()), max_pad_);
    if (!sums_fit_int32(max_l1_, max_input)) return false;
    if (!direct_) {
      padded_.resize(static_cast<size_t>(px_ * py_ * c));
      pad_and_shift(in.data(), g_.in.x, g_.in.y, c, shift_.data(), pad_.data(), g_.x.pad_before,
                    g_.y.pad_before, px_, py_, padded_.data());
    }
    const std::vector<int32_t>& values = direct_ ? in : padded_;
    sums.resize(static_cast<size_t>(g_.out.size()));
    const Window& k = g_.kernel;
    if (depthwise_)
      depthwise_sums(values.data(), py_, c, weights_.data(), k.size_x, k.size_y, k.stride_x,
                     k.stride_y, g_.out.x, g_.out.y, sums.data());
    else
      int32_sums(values, narrowed_, max_input, weights_, packed_, py_, c, g_.out.c, k.size_x,
                 k.size_y, k.stride_x, k.stride_y, g_.out.x, g_.out.y, sums.data());
    return true;
  }

 private:
  Geometry g_;
  std::vector<int32_t> weights_;
  bool depthwise_ = false;
  std::vector<int32_t> shift_, pad_;
  int64_t max_l1_ = 0, max_pad_ = 0, px_ = 0, py_ = 0;
  bool direct_ = false;
  PackedWeights packed_;
  NarrowInputs narrowed_;
  std::vector<int32_t> padded_;
};

ConvSums::Geometry conv_geometry(const Shape& in, const ConvParams& params, const ConvPlan& plan) {
  return {in, params.kernel, plan.x, plan.y, plan.conv_out};
}

// A dense layer over an (x, y, C) input: one pixel of x·y·C channels, 1x1, to `units`.
ConvSums::Geometry dense_geometry(const Shape& in, int64_t units) {
  return {Shape{1, 1, in.size()}, Window{}, Axis{1, 1, 0}, Axis{1, 1, 0}, Shape{1, 1, units}};
}

struct FastConvOptions {
  bool depthwise = false;
  bool rotate_kernel = true;
  bool pad_with_padding_value = false;
};

// InputConv2D, Conv2D, DepthwiseConv2D: the sums, their max pooling (on the raw sums: the
// saturation and the bias are non-decreasing per channel, so max(f(a), f(b)) = f(max(a, b))),
// then the post-ops.
class FastConvKernel final : public LayerKernel {
 public:
  FastConvKernel(const Layer& layer, const Shape& in, const FastConvOptions& options,
                 std::unique_ptr<LayerKernel> reference)
      : reference_(std::move(reference)), sums_(make_sums(layer, in, options)) {
    post_ops_ = prepare_post_ops(layer, read_conv_params(layer), plan(layer, in, options));
    fused_ = fuse(post_ops_);
    after_pool_ = post_ops_;
    if (post_ops_.pool == PoolType::Max) {
      after_pool_.pool = PoolType::None;
      after_pool_.conv_shape = post_ops_.out_shape;
    }
  }

  Shape output_shape() const override { return post_ops_.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    if (!sums_.run(*inputs.front(), acc32_)) return reference_->eval(inputs, output);
    if (post_ops_.pool != PoolType::Max) return finish_int32(after_pool_, fused_, acc32_, acc64_, output);
    pooled32_.resize(static_cast<size_t>(post_ops_.out_shape.size()));
    max_pool(post_ops_, acc32_.data(), pooled32_.data());
    finish_int32(after_pool_, fused_, pooled32_, acc64_, output);
  }

  void reset() override { reference_->reset(); }

 private:
  static ConvPlan plan(const Layer& layer, const Shape& in, const FastConvOptions& options) {
    const int64_t filters = options.depthwise ? in.c : required_param(layer, "filters", 1, 1 << 24);
    return plan_conv(layer, read_conv_params(layer), in, filters);
  }

  // The reference kernel has validated the layer: nothing here throws.
  static ConvSums make_sums(const Layer& layer, const Shape& in, const FastConvOptions& options) {
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
                    options.depthwise, std::move(shift), shifted_pad);
  }

  std::unique_ptr<LayerKernel> reference_;
  ConvSums sums_;
  PostOps post_ops_;
  PostOps after_pool_;  // post_ops_ without its max pooling (done on the int32 sums)
  FusedPostOps fused_;
  std::vector<int32_t> acc32_, pooled32_;
  std::vector<int64_t> acc64_;
};

class FastDenseKernel final : public LayerKernel {
 public:
  FastDenseKernel(const Layer& layer, const Shape& in, std::unique_ptr<LayerKernel> reference)
      : reference_(std::move(reference)), sums_(make_sums(layer, in)) {
    post_ops_ = prepare_post_ops(layer, Shape{1, 1, required_param(layer, "units", 1, 1 << 24)});
    fused_ = fuse(post_ops_);
  }

  Shape output_shape() const override { return post_ops_.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    if (!sums_.run(*inputs.front(), acc32_)) return reference_->eval(inputs, output);
    finish_int32(post_ops_, fused_, acc32_, acc64_, output);
  }

 private:
  static ConvSums make_sums(const Layer& layer, const Shape& in) {
    const int64_t units = required_param(layer, "units", 1, 1 << 24);
    const std::vector<int64_t> w = layer.find_variable("weights")->ints();  // (X, F)
    // The input_shift of channel c applies to every input of that channel.
    const std::vector<int32_t> channel_shift = read_input_shift(layer, in.c);
    const auto inputs = static_cast<size_t>(in.size());
    std::vector<int32_t> shift(inputs);
    for (size_t k = 0; k < inputs; ++k) shift[k] = channel_shift[k % channel_shift.size()];
    return ConvSums(dense_geometry(in, units), {w.begin(), w.end()}, false, std::move(shift),
                    std::vector<int64_t>(inputs, 0));
  }

  std::unique_ptr<LayerKernel> reference_;
  ConvSums sums_;
  PostOps post_ops_;
  FusedPostOps fused_;
  std::vector<int32_t> acc32_;
  std::vector<int64_t> acc64_;
};

// The FIFO's frames (slot t, (pixel, C) each) shifted and stacked along the channel axis:
// out[(p * T + t) * C + c]. Returns max |value|.
template <typename T>
int64_t stack_frames(const FrameFifo& fifo, int64_t pixels, const std::vector<int32_t>& shift,
                     std::vector<T>& out) {
  const int64_t channels = static_cast<int64_t>(shift.size()), slots = fifo.slots();
  out.resize(static_cast<size_t>(pixels * slots * channels));
  int64_t max_value = 0;
  for (int64_t t = 0; t < slots; ++t) {
    const int32_t* frame = fifo.slot(t);
    for (int64_t p = 0; p < pixels; ++p)
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t v = int64_t{frame[p * channels + c]} << shift[c];
        out[(p * slots + t) * channels + c] = static_cast<T>(v);
        max_value = std::max(max_value, v < 0 ? -v : v);
      }
  }
  return max_value;
}

// BufferTempConv as a 1x1 convolution over the FIFO's frames stacked along the channel axis
// (t = 0 the oldest, as the reference kernel and the weights' (T*C, F) rows order them). Keeps
// its own FIFO (the reference kernel's is not kept in step): a history too large for int32 sums
// is summed in int64 here instead.
class FastBufferTempConvKernel final : public LayerKernel {
 public:
  FastBufferTempConvKernel(const Layer& layer, const Shape& in) : in_(in), fifo_(layer, in) {
    filters_ = required_param(layer, "filters", 1, 1 << 24);
    const std::vector<int64_t> w = layer.find_variable("weights")->ints();
    weights_.assign(w.begin(), w.end());
    max_l1_ = max_of(filter_l1(weights_, filters_));
    input_shift_ = read_input_shift(layer, in.c);
    post_ops_ = prepare_post_ops(layer, Shape{in.x, in.y, filters_});
    packed_ = pack_weights(weights_, 1, fifo_.slots() * in.c, filters_);
    fused_ = fuse(post_ops_);
  }

  Shape output_shape() const override { return post_ops_.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    fifo_.push(*inputs.front());
    const int64_t pixels = in_.x * in_.y, stacked_channels = fifo_.slots() * in_.c;
    int64_t max_input = 0;
    for (int64_t t = 0; t < fifo_.slots(); ++t)
      max_input = std::max(max_input, max_abs_shifted(fifo_.slot(t), pixels, in_.c, input_shift_.data()));
    if (sums_fit_int32(max_l1_, max_input)) {
      stack_frames(fifo_, pixels, input_shift_, stacked32_);
      acc32_.resize(static_cast<size_t>(pixels * filters_));
      int32_sums(stacked32_, narrowed_, max_input, weights_, packed_, in_.y, stacked_channels,
                 filters_, 1, 1, 1, 1, in_.x, in_.y, acc32_.data());
      return finish_int32(post_ops_, fused_, acc32_, acc64_, output);
    }
    stack_frames(fifo_, pixels, input_shift_, stacked64_);
    acc64_.resize(static_cast<size_t>(pixels * filters_));
    conv_sums_wide(stacked64_.data(), in_.y, stacked_channels, weights_.data(), filters_, 1, 1, 1,
                   1, in_.x, in_.y, acc64_.data());
    apply_post_ops(post_ops_, acc64_, output);
  }

  void reset() override { fifo_.reset(); }

 private:
  Shape in_;
  FrameFifo fifo_;
  int64_t filters_ = 0;
  std::vector<int32_t> weights_;  // (T*C, F)
  PackedWeights packed_;
  NarrowInputs narrowed_;
  FusedPostOps fused_;
  int64_t max_l1_ = 0;
  std::vector<int32_t> input_shift_;
  PostOps post_ops_;
  std::vector<int32_t> stacked32_, acc32_;
  std::vector<int64_t> stacked64_, acc64_;
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

// Akida 1.0 InputConvolutional / Convolutional: the sums of FastConvKernel (inputs are 1- to
// 8-bit levels or pixels), then the v1 output stage on the potentials.
class FastV1ConvKernel final : public LayerKernel {
 public:
  FastV1ConvKernel(const Layer& layer, const Shape& in, bool rotate, int32_t padding_value,
                   std::unique_ptr<LayerKernel> reference)
      : reference_(std::move(reference)),
        sums_(make_sums(layer, in, rotate, padding_value)),
        output_(prepare_v1_output(layer, read_conv_params(layer), plan(layer, in))) {}

  Shape output_shape() const override { return output_.pooling.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    if (!sums_.run(*inputs.front(), acc32_)) return reference_->eval(inputs, output);
    finish_v1(output_, acc32_, pooled32_, acc64_, output);
  }

 private:
  static ConvPlan plan(const Layer& layer, const Shape& in) {
    return plan_conv(layer, read_conv_params(layer), in, required_param(layer, "filters", 1, 1 << 24));
  }

  static ConvSums make_sums(const Layer& layer, const Shape& in, bool rotate,
                            int32_t padding_value) {
    const ConvParams params = read_conv_params(layer);
    const ConvPlan p = plan(layer, in);
    return ConvSums(conv_geometry(in, params, p),
                    read_v1_weights(layer, "weights", params.kernel.size_x, params.kernel.size_y,
                                    in.c, p.conv_out.c, rotate),
                    false, std::vector<int32_t>(in.c, 0),
                    std::vector<int64_t>(in.c, padding_value));
  }

  std::unique_ptr<LayerKernel> reference_;
  ConvSums sums_;
  V1Output output_;
  std::vector<int32_t> acc32_, pooled32_;
  std::vector<int64_t> acc64_;
};

// Akida 1.0 SeparableConvolutional: the depthwise sums, then the pointwise sums over them as a
// 1x1 convolution (each checked against int32 on its own inputs), then the v1 output stage.
class FastV1SeparableKernel final : public LayerKernel {
 public:
  FastV1SeparableKernel(const Layer& layer, const Shape& in,
                        std::unique_ptr<LayerKernel> reference)
      : reference_(std::move(reference)),
        depthwise_(make_depthwise(layer, in)),
        pointwise_(make_pointwise(layer, in)),
        output_(prepare_v1_output(layer, read_conv_params(layer), plan(layer, in))) {}

  Shape output_shape() const override { return output_.pooling.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    if (!depthwise_.run(*inputs.front(), depthwise32_) || !pointwise_.run(depthwise32_, acc32_))
      return reference_->eval(inputs, output);
    finish_v1(output_, acc32_, pooled32_, acc64_, output);
  }

 private:
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

  static ConvSums make_pointwise(const Layer& layer, const Shape& in) {
    const Shape o = plan(layer, in).conv_out;
    const ConvSums::Geometry g{Shape{o.x, o.y, in.c}, Window{}, Axis{o.x, o.x, 0},
                               Axis{o.y, o.y, 0}, o};
    return ConvSums(g, read_v1_weights(layer, "weights_pw", 1, 1, in.c, o.c, /*rotate=*/false),
                    false, std::vector<int32_t>(in.c, 0), std::vector<int64_t>(in.c, 0));
  }

  std::unique_ptr<LayerKernel> reference_;
  ConvSums depthwise_, pointwise_;
  V1Output output_;
  std::vector<int32_t> depthwise32_, acc32_, pooled32_;
  std::vector<int64_t> acc64_;
};

}  // namespace

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
      return std::make_unique<FastBufferTempConvKernel>(layer, in.front());
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
