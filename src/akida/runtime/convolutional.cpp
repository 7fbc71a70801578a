#include <algorithm>
#include <limits>
#include <set>

#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/v1_activation.h"

namespace akida::runtime {

namespace {

// wta_groups (input layers of 2.3.3 files) assigns each neuron a winner-take-all group. Every file
// seen gives each neuron its own group (0..F-1), which makes it a no-op; shared groups would make
// neurons compete, which this runtime does not model.
void check_wta_groups(const Layer& layer, int64_t filters) {
  if (!layer.find_variable("wta_groups")) return;
  const auto groups = per_channel_values(layer, "wta_groups", filters, 0,
                                         std::numeric_limits<int32_t>::min(),
                                         std::numeric_limits<int32_t>::max());
  if (std::set<int64_t>(groups.begin(), groups.end()).size() != groups.size())
    throw UnsupportedError(layer_context(layer) +
                           ": variable 'wta_groups' puts several neurons in one winner-take-all "
                           "group; only one neuron per group runs");
}

// Potentials of InputConvolutional and Convolutional: Σ w·x over the window, then the v1 output
// stage. Weights are held in loop order (kx, ky, C, F).
class V1ConvKernel final : public CloneableKernel<V1ConvKernel> {
 public:
  V1ConvKernel(const Layer& layer, const Shape& in, bool rotate, int32_t padding_value)
      : in_(in), padding_value_(padding_value) {
    const ConvParams params = read_conv_params(layer);
    const int64_t filters = required_param(layer, "filters", 1, 1 << 24);
    plan_ = plan_conv(layer, params, in, filters);
    kernel_ = params.kernel;
    weights_ = V1Weights(layer, "weights", kernel_.size_x, kernel_.size_y, in.c, filters, rotate);
    check_wta_groups(layer, filters);
    check_accumulator_bound(layer, weights_.filter_l1(), {});
    output_ = prepare_v1_output(layer, params, plan_);
  }

  Shape output_shape() const override { return output_.pooling.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    const std::vector<int32_t>& in = *inputs.front();
    const Shape& o = plan_.conv_out;
    const int64_t channels = in_.c, filters = o.c;
    const std::vector<int32_t>& weights = weights_.values();
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
            if (!inside && padding_value_ == 0) continue;
            const int32_t* w_tap = &weights[(i * kernel_.size_y + j) * channels * filters];
            const int32_t* in_pixel = inside ? &in[(xi * in_.y + yj) * channels] : nullptr;
            for (int64_t c = 0; c < channels; ++c) {
              const int64_t v = inside ? in_pixel[c] : padding_value_;
              if (v == 0) continue;
              const int32_t* w = w_tap + c * filters;
              // Cannot overflow: check_accumulator_bound() bounded Σ|w| * max|v| below 2^63.
              for (int64_t f = 0; f < filters; ++f) out_pixel[f] += v * w[f];
            }
          }
      }
    apply_v1_output(output_, acc, output);
  }

 private:
  Shape in_;
  int64_t padding_value_ = 0;
  ConvPlan plan_;
  Window kernel_;
  V1Weights weights_;  // (kx, ky, C, F)
  V1Output output_;
};

}  // namespace

std::unique_ptr<LayerKernel> make_v1_conv_kernel(const Layer& layer, const Shape& in, bool rotate,
                                                 int32_t padding_value) {
  return std::make_unique<V1ConvKernel>(layer, in, rotate, padding_value);
}

// Convolutional computes a true convolution (akida-spec §1.1; the converter flips Keras kernels
// for it, cnn2snn weights_ops.py) and pads with zeros.
std::unique_ptr<LayerKernel> make_convolutional_kernel(const Layer& layer, const InputShapes& in) {
  return make_v1_conv_kernel(layer, single_input_shape(layer, in), /*rotate=*/true,
                             /*padding_value=*/0);
}

}  // namespace akida::runtime
