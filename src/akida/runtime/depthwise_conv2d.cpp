#include <algorithm>
#include <cstdlib>

#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/post_ops.h"

namespace akida::runtime {

namespace {

// DepthwiseConv2D: one filter per input channel, weights stored (kx, ky, C, 1); a true
// convolution like Conv2D, so the kernel is rotated by 180° once here.
class DepthwiseConvKernel final : public CloneableKernel<DepthwiseConvKernel> {
 public:
  DepthwiseConvKernel(const Layer& layer, const Shape& in) : in_(in) {
    const ConvParams params = read_conv_params(layer);
    plan_ = plan_conv(layer, params, in, in.c);
    kernel_ = params.kernel;
    const int64_t kx = kernel_.size_x, ky = kernel_.size_y, channels = in.c;
    const Variable& weights = require_int_variable(
        layer, "weights",
        {static_cast<uint32_t>(kx), static_cast<uint32_t>(ky), static_cast<uint32_t>(channels), 1});
    weights_ = correlation_weights(weights, kx, ky, channels, 1, /*rotate=*/true);
    // quantizeml applies no input shift to depthwise layers, but files carry an all-zero
    // input_shift (akida-spec §1.3): honour it when present.
    input_shift_ = read_input_shift(layer, channels);
    check_accumulator_bound(layer, filter_l1(weights_, channels), input_shift_);
    post_ops_ = prepare_post_ops(layer, params, plan_);
  }

  Shape output_shape() const override { return post_ops_.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    const std::vector<int32_t>& in = *inputs.front();
    const Shape& o = plan_.conv_out;
    const int64_t channels = in_.c;
    std::vector<int64_t> acc(o.size(), 0);
    for (int64_t ox = 0; ox < o.x; ++ox)
      for (int64_t oy = 0; oy < o.y; ++oy) {
        int64_t* out_pixel = &acc[(ox * o.y + oy) * channels];
        const int64_t x0 = ox * kernel_.stride_x - plan_.x.pad_before;
        const int64_t y0 = oy * kernel_.stride_y - plan_.y.pad_before;
        for (int64_t i = 0; i < kernel_.size_x; ++i)
          for (int64_t j = 0; j < kernel_.size_y; ++j) {
            const int64_t xi = x0 + i, yj = y0 + j;
            if (xi < 0 || xi >= in_.x || yj < 0 || yj >= in_.y) continue;  // zero padding
            const int32_t* in_pixel = &in[(xi * in_.y + yj) * channels];
            const int32_t* w = &weights_[(i * kernel_.size_y + j) * channels];
            // Cannot overflow: check_accumulator_bound() bounded Σ|w| * max|x| below 2^63.
            for (int64_t c = 0; c < channels; ++c)
              out_pixel[c] += (int64_t{in_pixel[c]} << input_shift_[c]) * w[c];
          }
      }
    apply_post_ops(post_ops_, acc, output);
  }

 private:
  Shape in_;
  ConvPlan plan_;
  Window kernel_;
  std::vector<int32_t> weights_;  // (kx, ky, C), already rotated
  std::vector<int32_t> input_shift_;
  PostOps post_ops_;
};

}  // namespace

std::unique_ptr<LayerKernel> make_depthwise_conv2d_kernel(const Layer& layer,
                                                          const InputShapes& in) {
  return std::make_unique<DepthwiseConvKernel>(layer, single_input_shape(layer, in));
}

}  // namespace akida::runtime
