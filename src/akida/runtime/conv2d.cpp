#include <algorithm>
#include <cstdlib>

#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/post_ops.h"

namespace akida::runtime {

namespace {

class ConvKernel final : public CloneableKernel<ConvKernel> {
 public:
  ConvKernel(const Layer& layer, const Shape& in, const ConvOptions& options) : in_(in) {
    const ConvParams params = read_conv_params(layer);
    const int64_t filters = required_param(layer, "filters", 1, 1 << 24);
    plan_ = plan_conv(layer, params, in, filters);
    kernel_ = params.kernel;
    const Variable& weights = require_int_variable(
        layer, "weights",
        {static_cast<uint32_t>(kernel_.size_x), static_cast<uint32_t>(kernel_.size_y),
         static_cast<uint32_t>(in.c), static_cast<uint32_t>(filters)});
    weights_ = correlation_weights(weights, kernel_.size_x, kernel_.size_y, in.c, filters,
                                   options.rotate_kernel);
    input_shift_ = read_input_shift(layer, in.c);
    // padding_value is uint8 (an image's zero point); absent or Conv2D: zeros.
    const auto pad = options.pad_with_padding_value
                         ? per_channel_values(layer, "padding_value", in.c, 0, 0, 255)
                         : std::vector<int64_t>(in.c, 0);
    padding_value_.resize(in.c);
    for (int64_t c = 0; c < in.c; ++c) padding_value_[c] = pad[c] << input_shift_[c];
    has_padding_value_ = std::any_of(pad.begin(), pad.end(), [](int64_t v) { return v != 0; });
    check_accumulator_bound(layer, filter_l1(weights_, filters), input_shift_);
    post_ops_ = prepare_post_ops(layer, params, plan_);
  }

  Shape output_shape() const override { return post_ops_.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    const std::vector<int32_t>& in = *inputs.front();
    const Shape& o = plan_.conv_out;
    const int64_t channels = in_.c, filters = o.c;
    std::vector<int64_t> acc(o.size(), 0);
    for (int64_t ox = 0; ox < o.x; ++ox)
      for (int64_t oy = 0; oy < o.y; ++oy) {
        int64_t* out_pixel = &acc[(ox * o.y + oy) * filters];
        const int64_t x0 = ox * kernel_.stride_x - plan_.x.pad_before;
        const int64_t y0 = oy * kernel_.stride_y - plan_.y.pad_before;
        for (int64_t i = 0; i < kernel_.size_x; ++i)
          for (int64_t j = 0; j < kernel_.size_y; ++j) {
            const int64_t xi = x0 + i, yj = y0 + j;
            const bool inside = xi >= 0 && xi < in_.x && yj >= 0 && yj < in_.y;
            if (!inside && !has_padding_value_) continue;
            const int32_t* w_tap = &weights_[(i * kernel_.size_y + j) * channels * filters];
            const int32_t* in_pixel = inside ? &in[(xi * in_.y + yj) * channels] : nullptr;
            for (int64_t c = 0; c < channels; ++c) {
              // An int32 shifted by <= 31 bits fits int64 (left shift of negatives: C++20).
              const int64_t v = inside ? int64_t{in_pixel[c]} << input_shift_[c]
                                       : padding_value_[c];
              if (v == 0) continue;
              const int32_t* w = w_tap + c * filters;
              // Cannot overflow: check_accumulator_bound() bounded Σ|w| * max|v| below 2^63.
              for (int64_t f = 0; f < filters; ++f) out_pixel[f] += v * w[f];
            }
          }
      }
    apply_post_ops(post_ops_, acc, output);
  }

 private:
  Shape in_;
  ConvPlan plan_;
  Window kernel_;
  std::vector<int32_t> weights_;
  std::vector<int32_t> input_shift_;
  std::vector<int64_t> padding_value_;  // already shifted by input_shift
  bool has_padding_value_ = false;
  PostOps post_ops_;
};

}  // namespace

std::unique_ptr<LayerKernel> make_conv_kernel(const Layer& layer, const Shape& in,
                                              const ConvOptions& options) {
  return std::make_unique<ConvKernel>(layer, in, options);
}

// Conv2D computes a true convolution: it correlates with the stored kernel rotated by 180°
// (verified bit for bit against onnxruntime, docs/fbz-format.md).
std::unique_ptr<LayerKernel> make_conv2d_kernel(const Layer& layer, const InputShapes& in) {
  return make_conv_kernel(layer, single_input_shape(layer, in),
                          ConvOptions{.rotate_kernel = true, .pad_with_padding_value = false});
}

}  // namespace akida::runtime
