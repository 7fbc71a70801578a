#include <algorithm>

#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/v1_activation.h"

namespace akida::runtime {

namespace {

// FullyConnected: p[n] = Σ_k x_k · w[k, n] over the input flattened in (C, Y, X) order, i.e. the
// value at (x, y, c) is input k = (c·Y + y)·X + x. The converter lays Keras Dense kernels out for
// that order (reshape to (X, Y, C, N), transpose to (C, Y, X, N): cnn2snn weights_ops.py,
// "the Keras and Akida flatten operations are inverted"). Weights are listed [N, K, 1, 1] and
// stored (K, N), N fastest; 1-bit edge-learning weights run the same way (inference only).
class FullyConnectedKernel final : public CloneableKernel<FullyConnectedKernel> {
 public:
  FullyConnectedKernel(const Layer& layer, const Shape& in) : in_(in) {
    units_ = required_param(layer, "units", 1, 1 << 24);
    const std::vector<int32_t> stored =
        read_v1_weights(layer, "weights", 1, 1, in.size(), units_, /*rotate=*/false);
    // Reordered once so that the loop reads the input in its (x, y, c) memory order.
    weights_.resize(stored.size());
    for (int64_t x = 0; x < in.x; ++x)
      for (int64_t y = 0; y < in.y; ++y)
        for (int64_t c = 0; c < in.c; ++c) {
          const int64_t memory = (x * in.y + y) * in.c + c;
          const int64_t akida = (c * in.y + y) * in.x + x;
          std::copy_n(&stored[akida * units_], units_, &weights_[memory * units_]);
        }
    check_accumulator_bound(layer, v1_filter_l1(weights_, units_), {});
    output_ = prepare_v1_output(layer, Shape{1, 1, units_});
  }

  Shape output_shape() const override { return output_.pooling.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    const std::vector<int32_t>& in = *inputs.front();
    std::vector<int64_t> acc(units_, 0);
    for (size_t k = 0; k < in.size(); ++k) {
      if (in[k] == 0) continue;
      const int32_t* w = &weights_[k * units_];
      // Cannot overflow: check_accumulator_bound() bounded Σ|w| * max|x| below 2^63.
      for (int64_t n = 0; n < units_; ++n) acc[n] += int64_t{in[k]} * w[n];
    }
    apply_v1_output(output_, acc, output);
  }

 private:
  Shape in_;
  int64_t units_ = 0;
  std::vector<int32_t> weights_;  // (input in (x, y, c) memory order, N)
  V1Output output_;
};

}  // namespace

std::unique_ptr<LayerKernel> make_fully_connected_kernel(const Layer& layer,
                                                         const InputShapes& in) {
  return std::make_unique<FullyConnectedKernel>(layer, single_input_shape(layer, in));
}

}  // namespace akida::runtime
