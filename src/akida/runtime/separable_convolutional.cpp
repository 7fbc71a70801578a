#include <cstdlib>

#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/v1_activation.h"

namespace akida::runtime {

namespace {

// SeparableConvolutional: a depthwise true convolution (weights listed [1, C, ky, kx], one
// kernel per channel, rotated like Convolutional's) whose per-channel sums feed a pointwise
// layer (weights_pw listed [F, C, 1, 1]) without any rounding in between; the potentials are
// the pointwise sums. The legacy converter derives one threshold from the product of the two
// weight scales (cnn2snn weights_ops.py), which only fits an exact intermediate.
class SeparableKernel final : public CloneableKernel<SeparableKernel> {
 public:
  SeparableKernel(const Layer& layer, const Shape& in) : in_(in) {
    const ConvParams params = read_conv_params(layer);
    filters_ = required_param(layer, "filters", 1, 1 << 24);
    plan_ = plan_conv(layer, params, in, filters_);
    kernel_ = params.kernel;
    depthwise_ = V1Weights(layer, "weights", kernel_.size_x, kernel_.size_y, in.c, 1,
                           /*rotate=*/true);
    pointwise_ = V1Weights(layer, "weights_pw", 1, 1, in.c, filters_, /*rotate=*/false);
    check_accumulator_bound(layer, effective_l1(), {});
    output_ = prepare_v1_output(layer, params, plan_);
  }

  Shape output_shape() const override { return output_.pooling.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    const std::vector<int32_t>& in = *inputs.front();
    const Shape& o = plan_.conv_out;
    const int64_t channels = in_.c;
    const std::vector<int32_t>& depthwise_weights = depthwise_.values();
    const std::vector<int32_t>& pointwise_weights = pointwise_.values();
    std::vector<int64_t> acc(o.size(), 0);
    std::vector<int64_t> depthwise(channels);
    for (int64_t ox = 0; ox < o.x; ++ox)
      for (int64_t oy = 0; oy < o.y; ++oy) {
        std::fill(depthwise.begin(), depthwise.end(), 0);
        const int64_t x0 = ox * kernel_.stride_x - plan_.x.pad_before;
        const int64_t y0 = oy * kernel_.stride_y - plan_.y.pad_before;
        for (int64_t i = 0; i < kernel_.size_x; ++i)
          for (int64_t j = 0; j < kernel_.size_y; ++j) {
            const int64_t xi = x0 + i, yj = y0 + j;
            if (xi < 0 || xi >= in_.x || yj < 0 || yj >= in_.y) continue;  // zero padding
            const int32_t* in_pixel = &in[(xi * in_.y + yj) * channels];
            const int32_t* w = &depthwise_weights[(i * kernel_.size_y + j) * channels];
            for (int64_t c = 0; c < channels; ++c) depthwise[c] += int64_t{in_pixel[c]} * w[c];
          }
        int64_t* out_pixel = &acc[(ox * o.y + oy) * filters_];
        for (int64_t c = 0; c < channels; ++c) {
          if (depthwise[c] == 0) continue;
          const int32_t* w = &pointwise_weights[c * filters_];
          // Cannot overflow: check_accumulator_bound() bounded the effective Σ|w| * max|x|.
          for (int64_t f = 0; f < filters_; ++f) out_pixel[f] += depthwise[c] * w[f];
        }
      }
    apply_v1_output(output_, acc, output);
  }

 private:
  // Σ over the window and channels of |depthwise · pointwise|, per output neuron: the weight
  // of one input value in a potential.
  std::vector<int64_t> effective_l1() const {
    return pointwise_.filter_l1(depthwise_.tap_l1());
  }

  Shape in_;
  int64_t filters_ = 0;
  ConvPlan plan_;
  Window kernel_;
  V1Weights depthwise_;  // (kx, ky, C), rotated
  V1Weights pointwise_;  // (C, F)
  V1Output output_;
};

}  // namespace

std::unique_ptr<LayerKernel> make_separable_convolutional_kernel(const Layer& layer,
                                                                 const InputShapes& in) {
  return std::make_unique<SeparableKernel>(layer, single_input_shape(layer, in));
}

}  // namespace akida::runtime
