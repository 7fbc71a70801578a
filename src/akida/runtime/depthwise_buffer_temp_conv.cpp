#include <cstdlib>

#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/post_ops.h"

namespace akida::runtime {

namespace {

// DepthwiseBufferTempConv: each channel is a weighted sum of its own last T = fifo_size values
// (fbz-format.md "Verified Akida 2.0 arithmetic"):
//   out[x, y, c] = Σ_t w[t, c] * (frame_t[x, y, c] << input_shift[c])
// with t = 0 the oldest frame and t = T - 1 the current input; weights stored (1, 1, T, C).
// The history (FrameFifo, buffer_temp_conv.cpp) persists across eval() calls.
class DepthwiseBufferTempConvKernel final : public CloneableKernel<DepthwiseBufferTempConvKernel> {
 public:
  DepthwiseBufferTempConvKernel(const Layer& layer, const Shape& in) : in_(in), fifo_(layer, in) {
    const int64_t channels = in.c;
    const Variable& weights = require_int_variable(
        layer, "weights",
        {1, 1, static_cast<uint32_t>(fifo_.slots()), static_cast<uint32_t>(channels)});
    weights_ = weights.ints32();
    const std::vector<int64_t> l1 = filter_l1(weights_, channels);
    input_shift_ = read_input_shift(layer, channels);
    check_accumulator_bound(layer, l1, input_shift_);
    post_ops_ = prepare_post_ops(layer, in);
  }

  Shape output_shape() const override { return post_ops_.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    fifo_.push(*inputs.front());
    const int64_t channels = in_.c;
    std::vector<int64_t> acc(in_.size(), 0);
    for (int64_t t = 0; t < fifo_.slots(); ++t) {
      const int32_t* frame = fifo_.slot(t);
      const int32_t* w = &weights_[t * channels];
      // Cannot overflow: check_accumulator_bound() bounded Σ_t |w[t, c]| * max|v| below 2^63.
      for (int64_t i = 0; i < in_.size(); ++i) {
        const int64_t c = i % channels;
        acc[i] += (int64_t{frame[i]} << input_shift_[c]) * w[c];
      }
    }
    apply_post_ops(post_ops_, acc, output);
  }

  void reset() override { fifo_.reset(); }
  bool stateful() const override { return true; }

 private:
  Shape in_;
  FrameFifo fifo_;
  std::vector<int32_t> weights_;  // (T, C) row-major
  std::vector<int32_t> input_shift_;
  PostOps post_ops_;
};

}  // namespace

std::unique_ptr<LayerKernel> make_depthwise_buffer_temp_conv_kernel(const Layer& layer,
                                                                    const InputShapes& in) {
  return std::make_unique<DepthwiseBufferTempConvKernel>(layer, single_input_shape(layer, in));
}

}  // namespace akida::runtime
