#include "cnn2snn/quantize/functions.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

namespace cnn2snn::quantize {
namespace {

using Nodes = std::vector<onnx::NodeProto>;
using AP = onnx::AttributeProto;

onnx::NodeProto node(const std::string& op_type, const std::vector<std::string>& inputs,
                     const std::vector<std::string>& outputs) {
  onnx::NodeProto n;
  n.set_op_type(op_type);
  for (const auto& i : inputs) n.add_input(i);
  for (const auto& o : outputs) n.add_output(o);
  return n;
}

void int_attr(onnx::NodeProto& n, const std::string& name, int64_t value) {
  AP* a = n.add_attribute();
  a->set_name(name);
  a->set_type(AP::INT);
  a->set_i(value);
}

void float_attr(onnx::NodeProto& n, const std::string& name, float value) {
  AP* a = n.add_attribute();
  a->set_name(name);
  a->set_type(AP::FLOAT);
  a->set_f(value);
}

void ints_attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& values) {
  AP* a = n.add_attribute();
  a->set_name(name);
  a->set_type(AP::INTS);
  for (int64_t v : values) a->add_ints(v);
}

// A body attribute taking the caller's attribute `ref`.
void ref_attr(onnx::NodeProto& n, const std::string& name, const std::string& ref, AP::AttributeType type) {
  AP* a = n.add_attribute();
  a->set_name(name);
  a->set_ref_attr_name(ref);
  a->set_type(type);
}

// cast_tensors_to: "<name>/cast" for every named tensor; absent optional inputs stay "".
std::vector<std::string> casts(Nodes& nodes, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    if (name.empty()) {
      out.emplace_back();
      continue;
    }
    nodes.push_back(node("Cast", {name}, {name + "/cast"}));
    int_attr(nodes.back(), "to", onnx::TensorProto::FLOAT);
    out.push_back(name + "/cast");
  }
  return out;
}

// QuantizeML renames the last node's output after its op_type before chaining the next stage.
std::string rename_last_output(Nodes& nodes) {
  nodes.back().set_output(0, nodes.back().op_type());
  return nodes.back().output(0);
}

void float_constant(Nodes& nodes, const std::string& name, float value) {
  nodes.push_back(node("Constant", {}, {name}));
  float_attr(nodes.back(), "value_float", value);
}

// get_scale_out_ops: dst = clip(floor(src / Shift [* Scale] + 0.5), -2^(b-1), 2^(b-1) - 1).
void scale_out(Nodes& nodes, const std::string& src, const std::string& dst, bool with_scale,
               int bits) {
  const auto cast = casts(nodes, {with_scale ? "Scale" : "", "Shift"});
  if (with_scale) {
    nodes.push_back(node("Div", {src, cast[1]}, {src + "/div"}));
    nodes.push_back(node("Mul", {src + "/div", cast[0]}, {src + "/scaled"}));
  } else {
    nodes.push_back(node("Div", {src, cast[1]}, {src + "/scaled"}));
  }
  float_constant(nodes, src + "/OneHalf", 0.5f);
  nodes.push_back(node("Add", {src + "/scaled", src + "/OneHalf"}, {src + "/half"}));
  nodes.push_back(node("Floor", {src + "/half"}, {src + "/q"}));
  float_constant(nodes, src + "/q/min_range", static_cast<float>(-std::ldexp(1.0, bits - 1)));
  float_constant(nodes, src + "/q/max_range", static_cast<float>(std::ldexp(1.0, bits - 1) - 1));
  nodes.push_back(node("Clip", {src + "/q", src + "/q/min_range", src + "/q/max_range"}, {dst}));
}

// get_activation_ops: Relu, or Min(Relu(x), max_value) when clipped.
void activation(Nodes& nodes, bool clipped) {
  const std::string src = rename_last_output(nodes);
  if (!clipped) {
    nodes.push_back(node("Relu", {src}, {"Yi"}));
    return;
  }
  nodes.push_back(node("Relu", {src}, {src + "/relu"}));
  casts(nodes, {"max_value"});
  nodes.push_back(node("Min", {src + "/relu", "max_value/cast"}, {"Yi"}));
}

void final_cast(Nodes& nodes, bool scaled, int bits) {
  if (scaled) {
    scale_out(nodes, "Yi", "Yscaled", true, bits);
    nodes.push_back(node("Cast", {"Yscaled"}, {"Y"}));
    int_attr(nodes.back(), "to", onnx::TensorProto::INT8);
  } else {
    nodes.push_back(node("Cast", {"Yi"}, {"Y"}));
    int_attr(nodes.back(), "to", onnx::TensorProto::INT32);
  }
}

void maybe_activation(Nodes& nodes, const OpTypeParts& p) {
  if (p.relu || p.relu_clipped) activation(nodes, p.relu_clipped);
}

Nodes conv_body(const OpTypeParts& p, int bits) {
  const bool input_conv = p.base == "QuantizedInputConv2D";
  Nodes nodes;
  const auto t = casts(nodes, {"X", input_conv ? "x_pad_value" : "", "W", p.biased ? "bias" : ""});
  if (input_conv) {
    // Pads with the per-channel zero point v: Sub(X, v), Pad(0), Add(v) (subgraph_ops.padding).
    nodes.push_back(node("Constant", {}, {t[0] + "/pad_axes"}));
    ints_attr(nodes.back(), "value_ints", {1, 2});
    nodes.push_back(node("Unsqueeze", {t[1], t[0] + "/pad_axes"}, {"unqueezed_pad"}));
    nodes.push_back(node("Sub", {t[0], "unqueezed_pad"}, {"Xsub"}));
    nodes.push_back(node("Pad", {"Xsub", "pads"}, {"Xpadded"}));
    nodes.push_back(node("Add", {"Xpadded", "unqueezed_pad"}, {"Xi"}));
  } else {
    nodes.push_back(node("Pad", {t[0], "pads"}, {"Xi"}));
  }
  nodes.push_back(node("Conv", {"Xi", t[2], t[3]}, {"Yi"}));
  ref_attr(nodes.back(), "strides", "strides", AP::INTS);
  if (p.max_pool) {
    const std::string src = rename_last_output(nodes);
    nodes.push_back(node("MaxPool", {src}, {"Yi"}));
    ref_attr(nodes.back(), "kernel_shape", "pool_size", AP::INTS);
    ref_attr(nodes.back(), "strides", "pool_strides", AP::INTS);
    ref_attr(nodes.back(), "pads", "pool_pads", AP::INTS);
  }
  maybe_activation(nodes, p);
  if (p.global_avg_pool) {
    // A plain sum over (X, Y): the 1 / (X * Y) factor lives in the output scale.
    const std::string src = rename_last_output(nodes);
    nodes.push_back(node("Constant", {}, {src + "/GAP/axes"}));
    ints_attr(nodes.back(), "value_ints", {-2, -1});
    nodes.push_back(node("ReduceSum", {src, src + "/GAP/axes"}, {"Yi"}));
  }
  final_cast(nodes, true, bits);
  return nodes;
}

Nodes depthwise_body(const OpTypeParts& p, int bits) {
  Nodes nodes;
  const auto t = casts(nodes, {"X", "W", p.biased ? "bias" : ""});
  nodes.push_back(node("Pad", {t[0], "pads"}, {"Xi"}));
  nodes.push_back(node("Conv", {"Xi", t[1], t[2]}, {"Yi"}));
  ref_attr(nodes.back(), "strides", "strides", AP::INTS);
  ref_attr(nodes.back(), "group", "groups", AP::INT);
  maybe_activation(nodes, p);
  final_cast(nodes, true, bits);
  return nodes;
}

Nodes dense_body(const OpTypeParts& p, int bits) {
  Nodes nodes;
  auto t = casts(nodes, {"X", "W", p.biased ? "bias" : ""});
  if (p.flatten) {
    nodes.push_back(node("Flatten", {t[0]}, {"Xflat"}));
    t[0] = "Xflat";
  }
  nodes.push_back(node("Gemm", {t[0], t[1], t[2]}, {"Yi"}));
  int_attr(nodes.back(), "transB", 1);
  maybe_activation(nodes, p);
  final_cast(nodes, p.scaled, bits);
  return nodes;
}

Nodes add_body(const OpTypeParts& p, int bits) {
  Nodes nodes;
  const auto t = casts(nodes, {"X", "Y", "Xs", "Ys"});
  nodes.push_back(node("Mul", {t[0], t[2]}, {"Xshifted"}));
  nodes.push_back(node("Mul", {t[1], t[3]}, {"Yshifted"}));
  nodes.push_back(node("Add", {"Xshifted", "Yshifted"}, {"Zi"}));
  if (p.scaled) {
    scale_out(nodes, "Zi", "Zscaled", false, bits);
    nodes.push_back(node("Cast", {"Zscaled"}, {"Z"}));
    int_attr(nodes.back(), "to", onnx::TensorProto::INT8);
  } else {
    nodes.push_back(node("Cast", {"Zi"}, {"Z"}));
    int_attr(nodes.back(), "to", onnx::TensorProto::INT32);
  }
  return nodes;
}

Nodes body(const OpTypeParts& p, int bits) {
  if (p.base == "InputQuantizer") {
    Nodes nodes{node("Transpose", {"X"}, {"Yi"}), node("QuantizeLinear", {"Yi", "scale", "zp"}, {"Y"})};
    ref_attr(nodes[0], "perm", "perm", AP::INTS);
    return nodes;
  }
  if (p.base == "Dequantizer") return {node("DequantizeLinear", {"X", "scale"}, {"Y"})};
  if (p.base == "QuantizedConcat") {
    Nodes nodes{node("Concat", {"X", "Y"}, {"Zi"})};
    int_attr(nodes[0], "axis", 1);
    return nodes;
  }
  if (p.base == "QuantizedConv2D" || p.base == "QuantizedInputConv2D") return conv_body(p, bits);
  if (p.base == "QuantizedDepthwise2D") return depthwise_body(p, bits);
  if (p.base == "QuantizedDense1D") return dense_body(p, bits);
  return add_body(p, bits);
}

}  // namespace

std::string OpTypeParts::op_type() const {
  std::string name = base;
  if (flatten) name += "Flatten";
  if (biased) name += "Biased";
  if (max_pool) name += "MaxPool";
  if (global_avg_pool) name += "GlobalAvgPool";
  if (relu_clipped) name += "ReLUClipped";
  else if (relu) name += "ReLU";
  if (scaled) name += "Scaled";
  return name;
}

onnx::FunctionProto make_function(const OpTypeParts& parts, int output_bits) {
  const Nodes nodes = body(parts, output_bits);
  onnx::FunctionProto f;
  f.set_domain(kBrainChipDomain);
  f.set_name(parts.op_type());
  // Formal inputs / outputs: the body's free tensors in order of first use (infer_partial_io).
  std::set<std::string> produced, consumed;
  for (const auto& n : nodes) {
    produced.insert(n.output().begin(), n.output().end());
    consumed.insert(n.input().begin(), n.input().end());
  }
  std::vector<std::string> inputs, outputs, attributes;
  auto add_once = [](std::vector<std::string>& list, const std::string& name) {
    if (!name.empty() && std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
  };
  for (const auto& n : nodes)
    for (const auto& i : n.input())
      if (!produced.count(i)) add_once(inputs, i);
  for (const auto& n : nodes)
    for (const auto& o : n.output())
      if (!consumed.count(o)) add_once(outputs, o);
  for (const auto& n : nodes)
    for (const auto& a : n.attribute())
      if (!a.ref_attr_name().empty()) add_once(attributes, a.ref_attr_name());
  for (const auto& i : inputs) f.add_input(i);
  for (const auto& o : outputs) f.add_output(o);
  for (const auto& n : nodes) *f.add_node() = n;
  auto* opset = f.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  for (const auto& a : attributes) f.add_attribute(a);
  return f;
}

}  // namespace cnn2snn::quantize
