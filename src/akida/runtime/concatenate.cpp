#include <algorithm>

#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"

namespace akida::runtime {

namespace {

// Concatenate: joins its inputs along the channel axis, in inbound order; values pass through
// unchanged (the converter aligns the inputs' fractional bits upstream, akida-spec §1.3).
class ConcatenateKernel final : public CloneableKernel<ConcatenateKernel> {
 public:
  ConcatenateKernel(const Layer& layer, const InputShapes& in) {
    if (in.empty()) throw ShapeError(layer_context(layer) + ": has no inputs");
    out_ = in[0];
    out_.c = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i].x != out_.x || in[i].y != out_.y)
        throw ShapeError(layer_context(layer) + ": input " + std::to_string(i) + " has shape " +
                         to_string(in[i]) + ", its x and y differ from input 0's " +
                         to_string(in[0]));
      channels_.push_back(in[i].c);
      out_.c += in[i].c;
    }
    check_tensor_shape(layer, out_, "output");
  }

  Shape output_shape() const override { return out_; }

  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    output.resize(out_.size());
    auto dst = output.begin();
    for (int64_t p = 0; p < out_.x * out_.y; ++p)
      for (size_t k = 0; k < inputs.size(); ++k) {
        const auto src = inputs[k]->begin() + p * channels_[k];
        dst = std::copy(src, src + channels_[k], dst);
      }
  }

 private:
  Shape out_;
  std::vector<int64_t> channels_;  // per input
};

}  // namespace

std::unique_ptr<LayerKernel> make_concatenate_kernel(const Layer& layer, const InputShapes& in) {
  return std::make_unique<ConcatenateKernel>(layer, in);
}

}  // namespace akida::runtime
