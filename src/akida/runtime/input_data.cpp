#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"

namespace akida::runtime {

namespace {

// InputData "does not modify its inputs" (akida docs): the engine checks the value range.
class InputDataKernel final : public CloneableKernel<InputDataKernel> {
 public:
  explicit InputDataKernel(const Shape& shape) : shape_(shape) {}
  Shape output_shape() const override { return shape_; }
  void eval(const std::vector<const std::vector<int32_t>*>& inputs,
            std::vector<int32_t>& output) override {
    output = *inputs.front();
  }

 private:
  Shape shape_;
};

}  // namespace

std::unique_ptr<LayerKernel> make_input_data_kernel(const Layer& layer, const InputShapes& in) {
  const Shape dims = declared_input_dims(layer);
  if (!in.empty() && single_input_shape(layer, in) != dims)
    throw ShapeError(layer_context(layer) + ": input shape " + to_string(in.front()) +
                     " differs from the declared " + to_string(dims));
  return std::make_unique<InputDataKernel>(dims);
}

}  // namespace akida::runtime
