// QuantizeML ONNX file -> QuantizedGraph: the file and graph level (parsing, graph input and
// output, node order). The per-node mapping is in node_converters.cpp.
#include "cnn2snn/onnx_reader.h"

#include <algorithm>
#include <set>

#include "akida/read_file.h"
#include "cnn2snn/onnx/onnx_common.h"
#include "cnn2snn/refusals.h"

namespace cnn2snn {
namespace {

using namespace onnx_reader;
using akida::FormatError;
using akida::UnsupportedError;

constexpr const char* kDomain = "com.brainchip";

void index_graph(const onnx::ModelProto& model, GraphState& state) {
  const Where where(state.source, nullptr);
  bool has_domain = false;
  for (const auto& op : model.opset_import()) has_domain |= op.domain() == kDomain;
  if (!has_domain)
    where.fail<UnsupportedError>(std::string("no opset import of domain '") + kDomain +
                                 "': not a QuantizeML model (quantize it with QuantizeML first)");
  for (const onnx::TensorProto& t : model.graph().initializer()) {
    if (!state.initializers.emplace(t.name(), &t).second)
      where.fail("initializer '" + t.name() + "' is defined twice");
  }
  for (const onnx::FunctionProto& f : model.functions())
    if (f.domain() == kDomain) state.functions[f.name()] = &f;
}

// The one graph input that is not an initializer, and its dims (N first, N may be symbolic).
const onnx::ValueInfoProto& graph_input(const onnx::GraphProto& g, const GraphState& state,
                                        std::vector<int64_t>& dims) {
  const Where where(state.source, nullptr);
  const onnx::ValueInfoProto* input = nullptr;
  int count = 0;
  for (const onnx::ValueInfoProto& v : g.input())
    if (state.initializers.count(v.name()) == 0) input = &v, ++count;
  if (count != 1)
    where.fail<UnsupportedError>(std::to_string(count) + " graph inputs, expected exactly one");
  if (g.output_size() != 1)
    where.fail<UnsupportedError>(std::to_string(g.output_size()) +
                                 " graph outputs, expected exactly one");
  const auto& shape = input->type().tensor_type().shape();
  if (shape.dim_size() != 4)
    where.fail<UnsupportedError>("input '" + input->name() + "': rank " +
                                 std::to_string(shape.dim_size()) + ", expected 4 (N, C, X, Y)");
  dims.assign(4, 0);
  for (int i = 1; i < 4; ++i) {
    const auto& d = shape.dim(i);
    if (!d.has_dim_value() || d.dim_value() < 1 || d.dim_value() > (int64_t{1} << 20))
      where.fail<UnsupportedError>("input '" + input->name() + "': dimension " + std::to_string(i) +
                                   " must be a fixed size in 1..2^20");
    dims[i] = d.dim_value();
  }
  return *input;
}

// Without an InputQuantizer the model input is already the integer tensor (N, C, X, Y).
void set_integer_input(QuantizedGraph& graph, const onnx::ValueInfoProto& input,
                       const std::vector<int64_t>& dims, GraphState& state) {
  const int32_t type = input.type().tensor_type().elem_type();
  if (type != onnx::TensorProto::INT8 && type != onnx::TensorProto::UINT8)
    Where(state.source, nullptr)
        .fail<UnsupportedError>("input '" + input.name() + "': dtype " + dtype_name(type) +
                                " without an InputQuantizer, expected int8 or uint8");
  graph.input_shape = {dims[2], dims[3], dims[1]};
  graph.input_bits = 8;
  graph.input_signed = type == onnx::TensorProto::INT8;
  state.shapes[input.name()] = graph.input_shape;
  state.producers[input.name()] = "";
}

void check_node(const onnx::NodeProto& node, const GraphState& state,
                const std::vector<Block>& blocks) {
  const Where where(state.source, &node);
  if (node.domain() != kDomain)
    where.fail<UnsupportedError>("domain '" + node.domain() + "' is not " + kDomain +
                                 " (standard ONNX ops are not converted)");
  if (node.name().empty()) where.fail("node has no name (it names the Akida layer)");
  // The name becomes the Akida layer's, which JSON dumps and Python strings hold as UTF-8.
  if (!akida::is_utf8(node.name())) where.fail("node name is not valid UTF-8");
  for (const Block& b : blocks)
    if (b.name == node.name()) where.fail("node name is not unique");
  if (node.output_size() != 1) where.fail("expected exactly one output");
  if (state.shapes.count(node.output(0)))
    where.fail("output '" + node.output(0) + "' is produced twice");
}

}  // namespace

namespace onnx_reader {

onnx::ModelProto parse_model_bytes(std::span<const uint8_t> bytes, const std::string& source) {
  onnx::ModelProto model;
  if (bytes.size() > kMaxModelBytes)
    throw FormatError(source + ": " + std::to_string(bytes.size()) +
                      " bytes, more than the 1 GiB accepted");
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw FormatError(source + ": not an ONNX model (protobuf parsing failed: truncated or corrupt)");
  if (!model.has_graph() || model.graph().node_size() == 0)
    throw FormatError(source + ": not an ONNX model with a graph of nodes (empty, or not ONNX)");
  return model;
}

onnx::ModelProto parse_model_file(const std::string& path) {
  return parse_model_bytes(akida::read_file(path, kMaxModelBytes, "an ONNX model"), path);
}

}  // namespace onnx_reader

QuantizedGraph load_onnx(const std::string& path) {
  return load_onnx(akida::read_file(path, kMaxModelBytes, "an ONNX model"), path);
}

QuantizedGraph load_onnx(std::span<const uint8_t> bytes, const std::string& path) {
  const onnx::ModelProto model = onnx_reader::parse_model_bytes(bytes, path);
  GraphState state;
  state.source = path;
  index_graph(model, state);
  const onnx::GraphProto& g = model.graph();
  std::vector<int64_t> dims;
  const onnx::ValueInfoProto& input = graph_input(g, state, dims);

  QuantizedGraph graph;
  graph.source = path;
  int first = 0;
  const onnx::NodeProto& node0 = g.node(0);
  // Any other first node, supported or not, is handled (and reported) with the rest below.
  if (node0.domain() == kDomain && node0.op_type() == "InputQuantizer") {
    check_node(node0, state, graph.blocks);
    if (node0.input_size() < 1 || node0.input(0) != input.name())
      Where(path, &node0).fail("input 'X' must be the graph input '" + input.name() + "'");
    graph.input_quantizer = convert_input_quantizer(node0, state, dims, graph.input_shape);
    graph.input_bits = graph.input_quantizer->bits;
    graph.input_signed = graph.input_quantizer->is_signed;
    first = 1;
  } else {
    set_integer_input(graph, input, dims, state);
  }

  // Every node that cannot be converted is reported, in one error: a node fed by a refused node
  // is skipped (its inputs are unknown), so each problem is reported once, at its cause.
  Refusals refused(path);
  std::set<std::string> unknown_tensors;
  for (int i = first; i < g.node_size(); ++i) {
    const onnx::NodeProto& node = g.node(i);
    const Where where(path, &node);
    if (std::any_of(node.input().begin(), node.input().end(),
                    [&](const std::string& t) { return unknown_tensors.count(t) != 0; })) {
      unknown_tensors.insert(node.output().begin(), node.output().end());
      continue;
    }
    try {
      check_node(node, state, graph.blocks);
      if (!graph.blocks.empty() && graph.blocks.back().kind == BlockKind::Dequantizer)
        where.fail<UnsupportedError>("nodes after the Dequantizer '" + graph.blocks.back().name +
                                     "' are not supported");
      graph.blocks.push_back(convert_node(node, parse_op_type(node.op_type(), where), state));
    } catch (const UnsupportedError& e) {
      refused.add(e);
      unknown_tensors.insert(node.output().begin(), node.output().end());
    }
  }
  refused.throw_if_any("node");
  if (graph.blocks.empty()) Where(path, nullptr).fail("the model has no node to convert");
  const std::string& output = g.output(0).name();
  if (g.node(g.node_size() - 1).output(0) != output)
    Where(path, nullptr)
        .fail<UnsupportedError>("graph output '" + output + "' is not the output of the last node");
  return graph;
}

}  // namespace cnn2snn
