#include "akida/shapes.h"

#include <map>

#include "akida/errors.h"
#include "akida/runtime/geometry.h"
#include "akida/runtime/layer_util.h"

namespace akida {

using runtime::layer_context;

std::string to_string(const Shape& shape) {
  // Appended piece by piece: `"[" + std::string&&` trips a GCC 12 -Wrestrict false positive.
  std::string text = "[";
  text += std::to_string(shape.x);
  text += ", ";
  text += std::to_string(shape.y);
  text += ", ";
  text += std::to_string(shape.c);
  text += "]";
  return text;
}

namespace {

constexpr int32_t kMaxDim = 1 << 24;

bool is_input_kind(LayerKind kind) {
  return kind == LayerKind::InputData || kind == LayerKind::InputConv2D ||
         kind == LayerKind::InputConvolutional;
}

Shape conv_output(const Layer& layer, const Shape& in, int64_t channels) {
  return runtime::plan_conv(layer, runtime::read_conv_params(layer), in, channels).out;
}

const Shape& single_input(const Layer& layer, const std::vector<Shape>& inputs) {
  if (inputs.size() != 1)
    throw ShapeError(layer_context(layer) + ": has " + std::to_string(inputs.size()) +
                     " inbound layers, expected 1");
  return inputs.front();
}

Shape add_output(const Layer& layer, const std::vector<Shape>& inputs) {
  if (inputs.size() < 2)
    throw ShapeError(layer_context(layer) + ": has " + std::to_string(inputs.size()) +
                     " inbound layers, expected at least 2");
  for (size_t i = 1; i < inputs.size(); ++i)
    if (inputs[i] != inputs[0])
      throw ShapeError(layer_context(layer) + ": inbound " + std::to_string(i) + " has shape " +
                       to_string(inputs[i]) + ", expected " + to_string(inputs[0]) +
                       " like inbound 0");
  return inputs[0];
}

Shape concatenate_output(const Layer& layer, const std::vector<Shape>& inputs) {
  if (inputs.empty())
    throw ShapeError(layer_context(layer) + ": has no inbound layer");
  Shape out = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].x != out.x || inputs[i].y != out.y)
      throw ShapeError(layer_context(layer) + ": inbound " + std::to_string(i) + " has shape " +
                       to_string(inputs[i]) + ", its x and y differ from inbound 0's " +
                       to_string(inputs[0]));
    out.c += inputs[i].c;
  }
  return out;
}

Shape output_shape(const Layer& layer, const std::vector<Shape>& inputs) {
  switch (layer.kind) {
    case LayerKind::InputData:
      return runtime::declared_input_dims(layer);
    case LayerKind::InputConv2D:
    case LayerKind::InputConvolutional:
      return conv_output(layer, runtime::declared_input_dims(layer),
                         runtime::required_param(layer, "filters", 1, kMaxDim));
    case LayerKind::Conv2D:
    case LayerKind::Convolutional:
    case LayerKind::SeparableConvolutional:
      return conv_output(layer, single_input(layer, inputs),
                         runtime::required_param(layer, "filters", 1, kMaxDim));
    case LayerKind::DepthwiseConv2D: {
      const Shape& in = single_input(layer, inputs);
      return conv_output(layer, in, in.c);
    }
    case LayerKind::Dense1D:
    case LayerKind::FullyConnected:
      single_input(layer, inputs);
      return {1, 1, runtime::required_param(layer, "units", 1, kMaxDim)};
    case LayerKind::BufferTempConv: {
      const Shape& in = single_input(layer, inputs);
      return {in.x, in.y, runtime::required_param(layer, "filters", 1, kMaxDim)};
    }
    case LayerKind::DepthwiseBufferTempConv:
    case LayerKind::Dequantizer:
      return single_input(layer, inputs);
    case LayerKind::Add:
      return add_output(layer, inputs);
    case LayerKind::Concatenate:
      return concatenate_output(layer, inputs);
    default:
      throw UnsupportedError(layer_context(layer) + ": output shapes of this layer kind are not "
                             "known yet");
  }
}

}  // namespace

Shape model_input_shape(const Model& model) {
  if (model.layers.empty()) throw ShapeError("the model has no layers");
  const Layer& first = model.layers.front();
  if (!is_input_kind(first.kind))
    throw ShapeError(layer_context(first) +
                     ": the first layer must be InputData, InputConv2D or InputConvolutional");
  return runtime::declared_input_dims(first);
}

std::vector<Shape> infer_output_shapes(const Model& model) {
  model_input_shape(model);  // the first layer must declare the model's input
  std::vector<Shape> shapes;
  shapes.reserve(model.layers.size());
  std::map<std::string, size_t> index_of;  // only earlier layers: inbound must come first
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    std::vector<Shape> inputs;
    for (const auto& name : layer.inbound) {
      auto it = index_of.find(name);
      if (it == index_of.end())
        throw ShapeError(layer_context(layer) + ": inbound layer '" + name +
                         "' is not an earlier layer of the model");
      inputs.push_back(shapes[it->second]);
    }
    if (i > 0 && !is_input_kind(layer.kind) && inputs.empty())
      throw ShapeError(layer_context(layer) + ": has no inbound layer");
    Shape out = output_shape(layer, inputs);
    runtime::check_tensor_shape(layer, out, "output");
    shapes.push_back(out);
    if (!index_of.emplace(layer.name, i).second)
      throw ShapeError(layer_context(layer) + ": another layer has the same name");
  }
  return shapes;
}

}  // namespace akida
