#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"

namespace akida::runtime {

// InputConvolutional correlates its uint8 image with the kernel as stored (the converter does not
// flip input-layer kernels, cnn2snn weights_ops.py) and pads with the scalar parameter
// padding_value: the legacy converter sets it to the input shift, the pixel value that stands for
// a float zero.
std::unique_ptr<LayerKernel> make_input_convolutional_kernel(const Layer& layer,
                                                             const InputShapes& in) {
  const Shape dims = declared_input_dims(layer);
  if (!in.empty() && single_input_shape(layer, in) != dims)
    throw ShapeError(layer_context(layer) + ": input shape " + to_string(in.front()) +
                     " differs from the declared " + to_string(dims));
  return make_v1_conv_kernel(layer, dims, /*rotate=*/false,
                             param_in_range(layer, "padding_value", 0, 255));
}

}  // namespace akida::runtime
