#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"

namespace akida::runtime {

namespace {

// Dequantizer: float(x) * scales[c], scales per channel or one value for all (float32).
class DequantizerKernel final : public CloneableKernel<DequantizerKernel> {
 public:
  DequantizerKernel(const Layer& layer, const Shape& in) : shape_(in) {
    const std::string where = layer_context(layer) + ": variable 'scales'";
    const Variable* found = layer.find_variable("scales");
    if (!found) throw ShapeError(where + " is missing");
    const Variable& scales = *found;
    const size_t count = scales.element_count();
    if (scales.shape.size() != 1 || (count != 1 && count != static_cast<size_t>(in.c)))
      throw ShapeError(where + " has shape " + dims_string(scales.shape) + ", expected [" +
                       std::to_string(in.c) + "] or [1]");
    if (scales.data.size() != count * dtype_size(scales.dtype))
      throw ShapeError(where + " holds " + std::to_string(scales.data.size()) +
                       " bytes, expected " + std::to_string(count * dtype_size(scales.dtype)));
    const std::vector<float> values = scales.floats();
    scales_.assign(in.c, values.front());
    if (count != 1) scales_ = values;
  }

  Shape output_shape() const override { return shape_; }
  bool float_output() const override { return true; }

  // The integers pass through unchanged: the floats come from eval_float().
  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    output = *inputs.front();
  }

  void eval_float(const std::vector<const std::vector<int32_t>*>& inputs,
                  std::vector<float>& output) override {
    const std::vector<int32_t>& in = *inputs.front();
    output.resize(in.size());
    const size_t channels = scales_.size();
    // [INFERRED] a float32 product, as the vendor's float32 outputs suggest.
    for (size_t i = 0; i < in.size(); ++i)
      output[i] = static_cast<float>(in[i]) * scales_[i % channels];
  }

 private:
  Shape shape_;
  std::vector<float> scales_;  // one per channel
};

}  // namespace

std::unique_ptr<LayerKernel> make_dequantizer_kernel(const Layer& layer, const InputShapes& in) {
  return std::make_unique<DequantizerKernel>(layer, single_input_shape(layer, in));
}

}  // namespace akida::runtime
