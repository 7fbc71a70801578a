#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"

namespace akida::runtime {

// InputConv2D correlates with its kernel as stored (verified, docs/fbz-format.md) and pads with
// its per-channel padding_value (the image's zero point).
std::unique_ptr<LayerKernel> make_input_conv2d_kernel(const Layer& layer, const InputShapes& in) {
  const Shape dims = declared_input_dims(layer);
  if (!in.empty() && single_input_shape(layer, in) != dims)
    throw ShapeError(layer_context(layer) + ": input shape " + to_string(in.front()) +
                     " differs from the declared " + to_string(dims));
  return make_conv_kernel(layer, dims, ConvOptions{.rotate_kernel = false,
                                                   .pad_with_padding_value = true});
}

}  // namespace akida::runtime
