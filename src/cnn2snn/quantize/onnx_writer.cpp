// Assembling the QuantizeML ONNX model (docs/quantizeml-onnx.md §1-2): IR 10, opsets ("", 21)
// and ("com.brainchip", 1), one com.brainchip node per layer with its initializers named
// "<node>_<suffix>", the float output scale as a "scale" attribute (TENSOR of DOUBLE), a
// FunctionProto per op_type in order of first use, value_info for every node output, the batch
// dimension named "N".
#include <algorithm>
#include <cstring>

#include "cnn2snn/quantize/layers.h"

namespace cnn2snn::quantize {
namespace {

using TP = onnx::TensorProto;

void set_shape(onnx::ValueInfoProto& v, const std::string& name, int32_t dtype,
               const std::vector<int64_t>& dims) {
  v.set_name(name);
  auto* type = v.mutable_type()->mutable_tensor_type();
  type->set_elem_type(dtype);
  auto* shape = type->mutable_shape();
  shape->add_dim()->set_dim_param("N");
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

template <typename T>
void append_raw(std::string& raw, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  raw.append(bytes, sizeof(T));
}

void fill_tensor(TP& t, const Initializer& init) {
  if (!init.name.empty()) t.set_name(init.name);
  t.set_data_type(init.dtype);
  for (int64_t d : init.dims) t.add_dims(d);
  std::string raw;
  switch (init.dtype) {
    case TP::INT8:
      for (int64_t v : init.ints) append_raw(raw, static_cast<int8_t>(v));
      break;
    case TP::UINT8:
      for (int64_t v : init.ints) append_raw(raw, static_cast<uint8_t>(v));
      break;
    case TP::INT32:
      for (int64_t v : init.ints) append_raw(raw, static_cast<int32_t>(v));
      break;
    case TP::INT64:
      for (int64_t v : init.ints) append_raw(raw, v);
      break;
    case TP::DOUBLE:
      for (double v : init.floats) append_raw(raw, v);
      break;
    default:  // FLOAT
      for (double v : init.floats) append_raw(raw, static_cast<float>(v));
      break;
  }
  t.set_raw_data(raw);
}

void add_node(onnx::GraphProto& graph, const Layer& layer, const QuantizedLayer& q) {
  onnx::NodeProto* node = graph.add_node();
  node->set_op_type(q.op.op_type());
  node->set_name(layer.name);
  node->set_domain(kBrainChipDomain);
  for (const auto& i : q.inputs) node->add_input(i);
  node->add_output(layer.output);
  for (const auto& [name, values] : q.ints_attributes) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values) a->add_ints(v);
  }
  for (const auto& [name, value] : q.int_attributes) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  if (layer.kind == LayerKind::Dequantizer) return;
  // The float output scale, kept to dequantize the output at any point (OnnxLayer.quantize).
  auto* a = node->add_attribute();
  a->set_name("scale");
  a->set_type(onnx::AttributeProto::TENSOR);
  fill_tensor(*a->mutable_t(), {"", TP::DOUBLE, q.scale_dims, {}, q.scale});
}

}  // namespace

onnx::ModelProto write_model(const FloatGraph& graph, const LayerPlan& plan,
                             const std::vector<QuantizedLayer>& layers,
                             const QuantizationParams& params) {
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  opset = model.add_opset_import();
  opset->set_domain(kBrainChipDomain);
  opset->set_version(1);
  onnx::GraphProto& g = *model.mutable_graph();
  g.set_name(graph.graph_name.empty() ? "quantized_model" : graph.graph_name);
  set_shape(*g.add_input(), graph.input_name, TP::FLOAT, graph.input_dims);
  std::vector<std::string> functions;
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& layer = plan.layers[i];
    const QuantizedLayer& q = layers[i];
    add_node(g, layer, q);
    for (const Initializer& init : q.initializers) fill_tensor(*g.add_initializer(), init);
    if (layer.kind == LayerKind::Dequantizer)
      set_shape(*g.add_output(), layer.output, TP::FLOAT, layer.output_shape);
    else
      set_shape(*g.add_value_info(), layer.output, q.output_dtype, layer.output_shape);
    const std::string op_type = q.op.op_type();
    if (std::find(functions.begin(), functions.end(), op_type) == functions.end()) {
      functions.push_back(op_type);
      *model.add_functions() = make_function(q.op, params.activation_bits);
    }
  }
  return model;
}

}  // namespace cnn2snn::quantize
