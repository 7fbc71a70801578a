#include "akida/errors.h"
#include "akida/runtime/kernels.h"
#include "akida/runtime/layer_util.h"

namespace akida {

std::unique_ptr<LayerKernel> make_reference_kernel(const Layer& layer,
                                                   const std::vector<Shape>& input_shapes) {
  using namespace runtime;
  switch (layer.kind) {
    case LayerKind::InputData: return make_input_data_kernel(layer, input_shapes);
    case LayerKind::InputConvolutional:
      return make_input_convolutional_kernel(layer, input_shapes);
    case LayerKind::Convolutional: return make_convolutional_kernel(layer, input_shapes);
    case LayerKind::SeparableConvolutional:
      return make_separable_convolutional_kernel(layer, input_shapes);
    case LayerKind::FullyConnected: return make_fully_connected_kernel(layer, input_shapes);
    case LayerKind::InputConv2D: return make_input_conv2d_kernel(layer, input_shapes);
    case LayerKind::Conv2D: return make_conv2d_kernel(layer, input_shapes);
    case LayerKind::DepthwiseConv2D: return make_depthwise_conv2d_kernel(layer, input_shapes);
    case LayerKind::Dense1D: return make_dense1d_kernel(layer, input_shapes);
    case LayerKind::Dequantizer: return make_dequantizer_kernel(layer, input_shapes);
    case LayerKind::BufferTempConv: return make_buffer_temp_conv_kernel(layer, input_shapes);
    case LayerKind::DepthwiseBufferTempConv:
      return make_depthwise_buffer_temp_conv_kernel(layer, input_shapes);
    case LayerKind::Add: return make_add_kernel(layer, input_shapes);
    case LayerKind::Concatenate: return make_concatenate_kernel(layer, input_shapes);
    default: break;
  }
  throw UnsupportedError(layer_context(layer) + ": this layer kind does not run yet");
}

namespace runtime {

const Shape& single_input_shape(const Layer& layer, const InputShapes& in) {
  if (in.size() != 1)
    throw ShapeError(layer_context(layer) + ": has " + std::to_string(in.size()) +
                     " inputs, expected 1");
  return in.front();
}

std::vector<int32_t> read_input_shift(const Layer& layer, int64_t channels) {
  const auto shifts = per_channel_values(layer, "input_shift", channels, 0, 0, 31);
  return {shifts.begin(), shifts.end()};
}

}  // namespace runtime
}  // namespace akida
