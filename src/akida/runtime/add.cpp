#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/post_ops.h"

namespace akida::runtime {

namespace {

// Add: aligns its two inputs to a common fixed-point precision and sums them (akida-spec §1.3
// step 8, BrainChip's Add docstring):
//   acc[x, y, c] = (a[x, y, c] << a_shift[c]) + (b[x, y, c] << b_shift[c])
// a is the first inbound layer, b the second. The shared output stage then saturates acc to
// buffer_bits, applies the optional ReLU (parameter `activation`, akida >= 2.7.2), the output
// scale (none in converted files: Add inputs are power-of-two scaled) and output_shift (round
// half up), and saturates to output_bits.
class AddKernel final : public CloneableKernel<AddKernel> {
 public:
  AddKernel(const Layer& layer, const InputShapes& in) {
    if (in.size() != 2)
      throw ShapeError(layer_context(layer) + ": has " + std::to_string(in.size()) +
                       " inputs, expected 2");
    if (in[1] != in[0])
      throw ShapeError(layer_context(layer) + ": input 1 has shape " + to_string(in[1]) +
                       ", expected " + to_string(in[0]) + " like input 0");
    shape_ = in[0];
    // Shifts <= 31 keep each shifted int32 input within ±2^62, hence their sum within int64.
    a_shift_ = per_channel_values(layer, "a_shift", shape_.c, 0, 0, 31);
    b_shift_ = per_channel_values(layer, "b_shift", shape_.c, 0, 0, 31);
    post_ops_ = prepare_post_ops(layer, shape_);
  }

  Shape output_shape() const override { return post_ops_.out_shape; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    const std::vector<int32_t>& a = *inputs[0];
    const std::vector<int32_t>& b = *inputs[1];
    std::vector<int64_t> acc(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      const size_t c = i % shape_.c;
      acc[i] = (int64_t{a[i]} << a_shift_[c]) + (int64_t{b[i]} << b_shift_[c]);
    }
    apply_post_ops(post_ops_, acc, output);
  }

 private:
  Shape shape_;
  std::vector<int64_t> a_shift_, b_shift_;
  PostOps post_ops_;
};

}  // namespace

std::unique_ptr<LayerKernel> make_add_kernel(const Layer& layer, const InputShapes& in) {
  return std::make_unique<AddKernel>(layer, in);
}

}  // namespace akida::runtime
