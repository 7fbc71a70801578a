// Grouping the float nodes into the patterns QuantizeML quantizes (register_patterns.py):
//   Conv:      <Conv, MaxPool, Relu|Clip>, <Conv, Relu|Clip, GlobalAveragePool>,
//              <Conv, GlobalAveragePool>, <Conv, Relu|Clip>, <Conv>, and <Conv, MaxPool>
//              (which our converter and BrainChip's accept too);
//   Depthwise: <Conv(group = C), Relu|Clip>, <Conv(group = C)>;
//   Dense:     [Flatten,] Gemm [, Relu|Clip];
//   Add, Concat: alone (QuantizedAdd has no activation in QuantizeML's ONNX export).
// A pattern continues from a node only into its single reader, as search_block_from_node does.
#include <algorithm>
#include <map>
#include <set>

#include "akida/errors.h"
#include "cnn2snn/quantize/layers.h"
#include "cnn2snn/refusals.h"

namespace cnn2snn::quantize {
namespace {

class Planner {
 public:
  Planner(const FloatGraph& graph, const QuantizationParams& params)
      : g_(graph), params_(params) {
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      for (const auto& input : g_.nodes[i].inputs) readers_[input].push_back(i);
  }

  LayerPlan run();

 private:
  // The node reading `node`'s output, when it is the only reader and the output is not also the
  // model's output.
  const FloatNode* single_reader(const FloatNode& node) const {
    auto it = readers_.find(node.output);
    if (it == readers_.end() || it->second.size() != 1 || node.output == g_.output_name) return nullptr;
    return &g_.nodes[it->second.front()];
  }
  size_t index_of(const FloatNode* node) const { return static_cast<size_t>(node - g_.nodes.data()); }
  bool is_activation(const FloatNode* n) const {
    return n && (n->op == FloatOp::Relu || n->op == FloatOp::Clip);
  }
  bool is_depthwise(const FloatNode& n) const { return n.op == FloatOp::Conv && n.group > 1; }
  void refuse(const FloatNode& node, const std::string& why) {
    refusals_.push_back("node '" + node.name + "' (" + node.op_type + "): " + why);
    unknown_.insert(node.output);
  }
  std::string why_alone(const FloatNode& node) const;
  bool input_needs_zero_point() const;
  void add_layer(Layer layer, const std::vector<const FloatNode*>& nodes);
  void match(const FloatNode& node);
  void match_conv(const FloatNode& node, Layer& layer, std::vector<const FloatNode*>& nodes);
  void set_metadata();

  const FloatGraph& g_;
  const QuantizationParams& params_;
  std::map<std::string, std::vector<size_t>> readers_;
  std::map<std::string, int> layer_of_;  // tensor -> layer producing it
  std::set<std::string> unknown_;
  std::vector<bool> consumed_;
  std::vector<std::string> refusals_;
  LayerPlan plan_;
};

// QuantizeML needs_zp: a uint8 input with a zero point only when every reader of the input is a
// plain Conv on 1 or 3 channels (it becomes an InputConv2D).
bool Planner::input_needs_zero_point() const {
  auto it = readers_.find(g_.rescale.output);
  if (it == readers_.end()) return false;
  const int64_t channels = g_.rescaled_shape()[0];
  return std::all_of(it->second.begin(), it->second.end(), [&](size_t i) {
    const FloatNode& n = g_.nodes[i];
    return n.op == FloatOp::Conv && n.group == 1 && (channels == 1 || channels == 3);
  });
}

std::string Planner::why_alone(const FloatNode& node) const {
  switch (node.op) {
    case FloatOp::Relu:
    case FloatOp::Clip:
      return "an activation is only quantized inside a Conv / Gemm pattern (Conv [MaxPool] "
             "activation, Gemm activation); QuantizedAdd and QuantizedConcat have none";
    case FloatOp::MaxPool:
      return "a MaxPool is only quantized right after a (non-depthwise) Conv whose output it "
             "alone reads";
    case FloatOp::GlobalAvgPool:
      return "a GlobalAveragePool is only quantized right after a (non-depthwise) Conv or its "
             "activation, whose output it alone reads";
    case FloatOp::Flatten: return "a Flatten is only quantized right before a Gemm";
    default: return "not quantizable here";
  }
}

void Planner::add_layer(Layer layer, const std::vector<const FloatNode*>& nodes) {
  for (const FloatNode* n : nodes) consumed_[index_of(n)] = true;
  layer.output = layer.calibrated_tensor = nodes.back()->output;
  layer.output_shape = nodes.back()->output_shape;
  const FloatNode& first = *nodes.front();
  for (const auto& input : first.inputs) {
    const int producer = layer_of_.at(input);
    layer.inputs.push_back(producer);
    if (producer == 0) layer.reads_input = true;
  }
  layer.input_shape = first.inputs.front() == g_.rescale.output
                          ? g_.rescaled_shape()
                          : plan_.layers[static_cast<size_t>(layer.inputs.front())].output_shape;
  layer_of_[layer.output] = static_cast<int>(plan_.layers.size());
  plan_.layers.push_back(std::move(layer));
}

void Planner::match_conv(const FloatNode& node, Layer& layer, std::vector<const FloatNode*>& nodes) {
  const FloatNode* next = single_reader(node);
  if (is_depthwise(node)) {
    layer.kind = LayerKind::Depthwise;
    if (is_activation(next)) nodes.push_back(layer.act = next);
    return;
  }
  layer.kind = LayerKind::Conv;
  if (next && next->op == FloatOp::MaxPool) {
    nodes.push_back(layer.pool = next);
    const FloatNode* after = single_reader(*next);
    if (is_activation(after)) nodes.push_back(layer.act = after);
    return;
  }
  if (is_activation(next)) {
    nodes.push_back(layer.act = next);
    next = single_reader(*next);
  }
  if (next && next->op == FloatOp::GlobalAvgPool) {
    nodes.push_back(next);
    layer.gap = true;
  }
}

void Planner::match(const FloatNode& node) {
  for (const auto& input : node.inputs)
    if (!layer_of_.count(input)) {
      unknown_.insert(node.output);  // downstream of a refusal, reported there
      return;
    }
  Layer layer;
  layer.name = node.name;
  std::vector<const FloatNode*> nodes{&node};
  switch (node.op) {
    case FloatOp::Conv:
      layer.main = &node;
      match_conv(node, layer, nodes);
      break;
    case FloatOp::Flatten: {
      const FloatNode* gemm = single_reader(node);
      if (!gemm || gemm->op != FloatOp::Gemm) return refuse(node, why_alone(node));
      layer.flatten = true;
      layer.name = gemm->name;
      nodes.push_back(layer.main = gemm);
      [[fallthrough]];
    }
    case FloatOp::Gemm: {
      layer.kind = LayerKind::Dense;
      if (!layer.main) layer.main = &node;
      const FloatNode* next = single_reader(*nodes.back());
      if (is_activation(next)) nodes.push_back(layer.act = next);
      break;
    }
    case FloatOp::Add:
    case FloatOp::Concat:
      layer.kind = node.op == FloatOp::Add ? LayerKind::Add : LayerKind::Concat;
      layer.main = &node;
      for (const auto& input : node.inputs)
        if (input == g_.rescale.output)
          return refuse(node, std::string("a two-input op on the model input is not supported"));
      break;
    default:
      return refuse(node, why_alone(node));
  }
  add_layer(std::move(layer), nodes);
}

// _set_qlayers_metadata: a layer outputs int8 (downscale, "Scaled") when it is a convolution,
// has an activation, or feeds another layer; the inputs of an Add need power-of-two scales.
void Planner::set_metadata() {
  for (Layer& layer : plan_.layers)
    layer.downscale = layer.kind == LayerKind::Conv || layer.kind == LayerKind::Depthwise ||
                      layer.act != nullptr || layer.kind == LayerKind::InputQuantizer;
  for (const Layer& layer : plan_.layers) {
    if (layer.kind == LayerKind::Dequantizer) continue;  // not one of QuantizeML's quantizers
    for (int input : layer.inputs) {
      plan_.layers[static_cast<size_t>(input)].downscale = true;
      if (layer.kind == LayerKind::Add) plan_.layers[static_cast<size_t>(input)].force_fp = true;
    }
  }
}

LayerPlan Planner::run() {
  consumed_.assign(g_.nodes.size(), false);
  Layer input;
  input.kind = LayerKind::InputQuantizer;
  input.name = "quantize";
  input.output = "quantize";
  input.calibrated_tensor = g_.rescale.output;
  input.output_shape = g_.rescaled_shape();
  plan_.layers.push_back(input);
  layer_of_[g_.rescale.output] = 0;
  plan_.input_signed = params_.input_signed || !input_needs_zero_point();
  for (size_t i = 0; i < g_.nodes.size(); ++i)
    if (!consumed_[i]) match(g_.nodes[i]);
  if (!g_.output_name.empty() && layer_of_.count(g_.output_name)) {
    Layer dequantizer;
    dequantizer.kind = LayerKind::Dequantizer;
    dequantizer.name = "dequantizer";
    dequantizer.inputs = {layer_of_.at(g_.output_name)};
    const Layer& last = plan_.layers[static_cast<size_t>(dequantizer.inputs[0])];
    dequantizer.output = last.output + "/dequantize";
    dequantizer.input_shape = dequantizer.output_shape = last.output_shape;
    plan_.layers.push_back(dequantizer);
  }
  Refusals all(g_.source);
  for (const auto& message : g_.refusals) all.add(message);
  for (const auto& message : refusals_) all.add(message);
  all.throw_if_any("node", "quantized");
  if (plan_.layers.size() < 3)
    throw akida::UnsupportedError(g_.source + ": no quantizable layer (Conv, Gemm, Add) found");
  set_metadata();
  return plan_;
}

}  // namespace

std::vector<std::string> LayerPlan::calibrated_tensors() const {
  std::vector<std::string> out;
  for (const Layer& layer : layers)
    if (layer.kind != LayerKind::Dequantizer && layer.kind != LayerKind::Concat)
      out.push_back(layer.calibrated_tensor);
  return out;
}

LayerPlan plan_layers(const FloatGraph& graph, const QuantizationParams& params) {
  return Planner(graph, params).run();
}

}  // namespace cnn2snn::quantize
