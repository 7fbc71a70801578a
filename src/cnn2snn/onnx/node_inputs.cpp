#include "cnn2snn/onnx/node_inputs.h"

namespace cnn2snn::onnx_reader {

NodeInputs::NodeInputs(const onnx::NodeProto& node, const GraphState& state)
    : node_(node), state_(state), where_(state.source, &node) {
  auto f = state.functions.find(node.op_type());
  if (f == state.functions.end())
    where_.fail("the model defines no com.brainchip function '" + node.op_type() +
                "' (QuantizeML exports one per custom op; its inputs name the operands)");
  function_ = f->second;
  if (node.input_size() > function_->input_size())
    where_.fail("has " + std::to_string(node.input_size()) + " inputs, its function declares " +
                std::to_string(function_->input_size()));
  for (int i = 0; i < node.input_size(); ++i)
    if (!node.input(i).empty()) actual_[function_->input(i)] = node.input(i);
}

bool NodeInputs::has(const std::string& formal) const { return actual_.count(formal) != 0; }

std::string NodeInputs::field(const std::string& formal) const {
  auto a = actual_.find(formal);
  return "input '" + formal + "'" + (a == actual_.end() ? "" : " (tensor '" + a->second + "')");
}

const onnx::TensorProto& NodeInputs::initializer(const std::string& formal) const {
  auto a = actual_.find(formal);
  if (a == actual_.end()) where_.fail(field(formal) + ": missing");
  auto t = state_.initializers.find(a->second);
  if (t == state_.initializers.end()) where_.fail(field(formal) + ": not an initializer");
  return *t->second;
}

IntTensor NodeInputs::ints(const std::string& formal) const {
  return read_ints(initializer(formal), where_, field(formal));
}

IntTensor NodeInputs::ints_of(const std::string& formal, int32_t data_type) const {
  const onnx::TensorProto& t = initializer(formal);
  if (t.data_type() != data_type)
    where_.fail<akida::UnsupportedError>(field(formal) + ": dtype " + dtype_name(t.data_type()) +
                                         ", expected " + dtype_name(data_type));
  return read_ints(t, where_, field(formal));
}

std::vector<double> NodeInputs::floats(const std::string& formal) const {
  return read_floats(initializer(formal), where_, field(formal));
}

const std::string& NodeInputs::tensor(const std::string& formal) const {
  auto a = actual_.find(formal);
  if (a == actual_.end()) where_.fail(field(formal) + ": missing");
  if (state_.shapes.count(a->second) == 0)
    where_.fail(field(formal) +
                ": not produced by an earlier node (nodes must be in topological order)");
  return a->second;
}

akida::Shape NodeInputs::shape(const std::string& formal) const {
  return state_.shapes.at(tensor(formal));
}

std::string NodeInputs::producer(const std::string& formal) const {
  return state_.producers.at(tensor(formal));
}

std::optional<std::vector<int64_t>> NodeInputs::ints_attr(const std::string& name) const {
  for (const onnx::AttributeProto& a : node_.attribute()) {
    if (a.name() != name) continue;
    if (a.type() != onnx::AttributeProto::INTS)
      where_.fail("attribute '" + name + "': expected a list of ints");
    return std::vector<int64_t>(a.ints().begin(), a.ints().end());
  }
  return std::nullopt;
}

std::optional<int64_t> NodeInputs::int_attr(const std::string& name) const {
  for (const onnx::AttributeProto& a : node_.attribute()) {
    if (a.name() != name) continue;
    if (a.type() != onnx::AttributeProto::INT)
      where_.fail("attribute '" + name + "': expected an int");
    return a.i();
  }
  return std::nullopt;
}

namespace {

// The float a function-body Constant node produces, if `name` is one (value_float or a
// one-element float tensor).
std::optional<double> constant_value(const onnx::FunctionProto& f, const std::string& name,
                                     const Where& where) {
  for (const onnx::NodeProto& n : f.node()) {
    if (n.op_type() != "Constant" || n.output_size() != 1 || n.output(0) != name) continue;
    for (const onnx::AttributeProto& a : n.attribute()) {
      if (a.name() == "value_float") return a.f();
      if (a.name() == "value") {
        std::vector<double> v = read_floats(a.t(), where, "function constant '" + name + "'");
        if (v.size() == 1) return v[0];
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::pair<double, double>> NodeInputs::gather_index_range(
    const std::string& table) const {
  auto producer = [&](const std::string& tensor) -> const onnx::NodeProto* {
    for (const onnx::NodeProto& n : function_->node())
      for (const std::string& out : n.output())
        if (out == tensor) return &n;
    return nullptr;
  };
  for (const onnx::NodeProto& gather : function_->node()) {
    if (gather.op_type() != "Gather" || gather.input_size() != 2 || gather.input(0) != table)
      continue;
    // QuantizeML get_lut_ops: Gather(LUT_values, Cast(Ys, INT32)), Ys the scale-out's Clip.
    const onnx::NodeProto* n = producer(gather.input(1));
    while (n != nullptr && n->op_type() == "Cast" && n->input_size() == 1) n = producer(n->input(0));
    if (n == nullptr || n->op_type() != "Clip" || n->input_size() != 3) return std::nullopt;
    auto lo = constant_value(*function_, n->input(1), where_);
    auto hi = constant_value(*function_, n->input(2), where_);
    if (!lo || !hi) where_.fail("function body: the LUT index Clip bounds are not constants");
    return std::make_pair(*lo, *hi);
  }
  return std::nullopt;
}

std::optional<std::pair<double, double>> NodeInputs::clip_range() const {
  for (int i = function_->node_size() - 1; i >= 0; --i) {
    const onnx::NodeProto& n = function_->node(i);
    if (n.op_type() != "Clip" || n.input_size() != 3) continue;
    auto lo = constant_value(*function_, n.input(1), where_);
    auto hi = constant_value(*function_, n.input(2), where_);
    if (!lo || !hi) where_.fail("function body: Clip bounds are not constants");
    return std::make_pair(*lo, *hi);
  }
  return std::nullopt;
}

}  // namespace cnn2snn::onnx_reader
