#include <algorithm>
#include <cstdlib>

#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/post_ops.h"

namespace akida::runtime {

namespace {

// Dense1D: out[f] = Σ_k (in[k] << input_shift[channel of k]) * w[k, f], weights stored (X, F).
// Akida 2.0 requires a (1, 1, X) input, where k is the channel. For a spatial input the values
// are taken in their (x, y, c) row-major order [INFERRED: the order of a numpy reshape; the
// Akida 1.0 FullyConnected flattens (c, y, x) instead, akida-spec §1.2].
class Dense1DKernel final : public CloneableKernel<Dense1DKernel> {
 public:
  Dense1DKernel(const Layer& layer, const Shape& in) : in_(in) {
    units_ = required_param(layer, "units", 1, 1 << 24);
    const Variable& weights = require_int_variable(
        layer, "weights", {static_cast<uint32_t>(in.size()), static_cast<uint32_t>(units_)});
    weights_ = weights.ints32();
    input_shift_ = read_input_shift(layer, in.c);
    check_accumulator_bound(layer, filter_l1(weights_, units_), input_shift_);
    post_ops_ = prepare_post_ops(layer, Shape{1, 1, units_});
  }

  Shape output_shape() const override { return post_ops_.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    const std::vector<int32_t>& in = *inputs.front();
    std::vector<int64_t> acc(units_, 0);
    for (size_t k = 0; k < in.size(); ++k) {
      const int64_t v = int64_t{in[k]} << input_shift_[k % in_.c];
      if (v == 0) continue;
      const int32_t* w = &weights_[k * units_];
      // Cannot overflow: check_accumulator_bound() bounded Σ|w| * max|v| below 2^63.
      for (int64_t f = 0; f < units_; ++f) acc[f] += v * w[f];
    }
    apply_post_ops(post_ops_, acc, output);
  }

 private:
  Shape in_;
  int64_t units_ = 0;
  std::vector<int32_t> weights_;  // (X, F) row-major
  std::vector<int32_t> input_shift_;
  PostOps post_ops_;
};

}  // namespace

std::unique_ptr<LayerKernel> make_dense1d_kernel(const Layer& layer, const InputShapes& in) {
  return std::make_unique<Dense1DKernel>(layer, single_input_shape(layer, in));
}

}  // namespace akida::runtime
