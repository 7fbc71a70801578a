// Float ONNX model -> FloatGraph: one pass over the nodes in order, folding constants and doing
// QuantizeML's sanitizing steps as each node is met (float_reader.h lists them).
#include "cnn2snn/quantize/float_reader.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "akida/errors.h"
#include "cnn2snn/onnx/onnx_common.h"
#include "cnn2snn/refusals.h"

namespace cnn2snn::quantize {
namespace {

using akida::FormatError;
using akida::UnsupportedError;
using onnx_reader::Where;
using TP = onnx::TensorProto;

// The batch size in folded shapes (Shape of an activation): symbolic, whatever the model says.
constexpr double kBatch = -1099511627776.0;  // -2^40, exact in a double
// Largest activation (values per sample) and convolution (multiply-adds per sample) accepted.
constexpr int64_t kMaxActivation = int64_t{1} << 26;
constexpr int64_t kMaxMultiplyAdds = int64_t{1} << 36;

std::string str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

int64_t product(const std::vector<int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), int64_t{1}, std::multiplies<>());
}

// A constant tensor (initializer, Constant node or folded computation).
struct Constant {
  std::vector<int64_t> dims;
  std::vector<double> values;
  bool integer = false;
};

// ---- attributes ----

const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

// The attribute `name` of type `type`, read by `get`, or `fallback` when absent.
template <typename T, typename Get>
T attr(const onnx::NodeProto& n, const std::string& name, T fallback, onnx::AttributeProto::AttributeType type,
       const char* expected, const Where& where, Get get) {
  const auto* a = find_attr(n, name);
  if (!a) return fallback;
  if (a->type() != type) where.fail("attribute '" + name + "': expected " + expected);
  return get(*a);
}

int64_t attr_int(const onnx::NodeProto& n, const std::string& name, int64_t fallback,
                 const Where& where) {
  return attr(n, name, fallback, onnx::AttributeProto::INT, "an int", where,
              [](const onnx::AttributeProto& a) { return a.i(); });
}

std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name,
                               std::vector<int64_t> fallback, const Where& where) {
  return attr(n, name, std::move(fallback), onnx::AttributeProto::INTS, "a list of ints", where,
              [](const onnx::AttributeProto& a) {
                return std::vector<int64_t>(a.ints().begin(), a.ints().end());
              });
}

float attr_float(const onnx::NodeProto& n, const std::string& name, float fallback,
                 const Where& where) {
  return attr(n, name, fallback, onnx::AttributeProto::FLOAT, "a float", where,
              [](const onnx::AttributeProto& a) { return a.f(); });
}

std::string attr_string(const onnx::NodeProto& n, const std::string& name,
                        const std::string& fallback, const Where& where) {
  return attr(n, name, fallback, onnx::AttributeProto::STRING, "a string", where,
              [](const onnx::AttributeProto& a) { return a.s(); });
}

Constant tensor_constant(const onnx::TensorProto& t, const Where& where, const std::string& field) {
  Constant c;
  c.dims = onnx_reader::checked_dims(t, where, field);
  switch (t.data_type()) {
    case TP::FLOAT:
    case TP::DOUBLE: c.values = onnx_reader::read_floats(t, where, field); break;
    case TP::INT8:
    case TP::UINT8:
    case TP::INT16:
    case TP::INT32:
    case TP::INT64: {
      for (int64_t v : onnx_reader::read_ints(t, where, field).values)
        c.values.push_back(static_cast<double>(v));
      c.integer = true;
      break;
    }
    default:
      where.fail<UnsupportedError>(field + ": dtype " + onnx_reader::dtype_name(t.data_type()) +
                                   " is not supported");
  }
  return c;
}

// ---- elementwise affine maps on the input channels (the folded input normalisation) ----

// y = x * scale + offset, with scale / offset constant along every axis but `axis` (-1: along
// all axes) of the rank-4 tensor they apply to.
struct Affine {
  int axis = -1;
  std::vector<float> scale{1.0f}, offset{0.0f};
};

// The axis along which a constant broadcast against a rank-4 tensor varies (-1: none), or
// nullopt when it varies along more than one.
std::optional<int> varying_axis(const Constant& c) {
  if (c.values.size() == 1) return -1;
  if (c.dims.size() > 4) return std::nullopt;
  std::optional<int> axis;
  const size_t offset = 4 - c.dims.size();
  for (size_t i = 0; i < c.dims.size(); ++i)
    if (c.dims[i] != 1) {
      if (axis) return std::nullopt;
      axis = static_cast<int>(i + offset);
    }
  return axis;
}

class Lowering {
 public:
  Lowering(const onnx::ModelProto& model, const std::string& source) : model_(model) {
    g_.source = source;
  }

  FloatGraph run();

 private:
  using Handler = void (Lowering::*)(const onnx::NodeProto&, const Where&);

  // -- tensors --
  std::string resolve(const std::string& name) const {
    std::string n = name;
    for (auto it = alias_.find(n); it != alias_.end(); it = alias_.find(n)) n = it->second;
    return n;
  }
  bool is_constant(const std::string& name) const { return constants_.count(resolve(name)) != 0; }
  bool is_activation(const std::string& name) const { return shapes_.count(resolve(name)) != 0; }
  const Constant& constant(const onnx::NodeProto& n, int i, const Where& where) const;
  std::optional<Constant> optional_constant(const onnx::NodeProto& n, int i, const Where& where) const;
  std::string activation(const onnx::NodeProto& n, int i, const Where& where) const;
  const std::vector<int64_t>& shape(const std::string& tensor) const {
    return shapes_.at(resolve(tensor));
  }
  int consumers(const std::string& tensor) const {
    auto it = consumers_.find(resolve(tensor));
    return it == consumers_.end() ? 0 : it->second;
  }
  void set_alias(const onnx::NodeProto& n, const std::string& target) {
    alias_[n.output(0)] = resolve(target);
  }
  FloatNode& emit(FloatNode node, const std::vector<int64_t>& output_shape);
  FloatNode* producer(const std::string& tensor) {
    auto it = producer_.find(resolve(tensor));
    return it == producer_.end() ? nullptr : &g_.nodes[it->second];
  }
  // Gives the output of `node` (a Conv / Gemm absorbing the node n) the name n produces.
  void take_over_output(FloatNode& node, const onnx::NodeProto& n);

  // -- graph --
  void read_input(const Where& where);
  void index_initializers();
  void count_consumers();
  void lower(const onnx::NodeProto& n);
  void fold(const onnx::NodeProto& n, const Where& where);

  // -- input normalisation chain --
  bool on_chain(const std::string& tensor) const {
    return chain_open_ && resolve(tensor) == chain_tensor_ && consumers(tensor) == 1;
  }
  void extend_chain(const onnx::NodeProto& n, const std::string& output_shape_source);
  void chain_affine(const Constant& c, const std::function<void(float&, float&, float)>& apply,
                    const Where& where);
  void finish_chain();

  // -- activation ops --
  void conv(const onnx::NodeProto& n, const Where& where);
  void gemm(const onnx::NodeProto& n, const Where& where);
  void matmul(const onnx::NodeProto& n, const Where& where);
  void add(const onnx::NodeProto& n, const Where& where);
  void affine_with_constant(const onnx::NodeProto& n, const Where& where);
  void batch_norm(const onnx::NodeProto& n, const Where& where);
  void relu(const onnx::NodeProto& n, const Where& where);
  void clip(const onnx::NodeProto& n, const Where& where);
  void max_pool(const onnx::NodeProto& n, const Where& where);
  void average_pool(const onnx::NodeProto& n, const Where& where);
  void global_average_pool(const onnx::NodeProto& n, const Where& where);
  void reduce_mean(const onnx::NodeProto& n, const Where& where);
  void flatten(const onnx::NodeProto& n, const Where& where);
  void reshape(const onnx::NodeProto& n, const Where& where);
  void squeeze(const onnx::NodeProto& n, const Where& where);
  void concat(const onnx::NodeProto& n, const Where& where);
  void transpose(const onnx::NodeProto& n, const Where& where);
  void identity(const onnx::NodeProto& n, const Where& where);
  void cast(const onnx::NodeProto& n, const Where& where);

  void emit_gap(const onnx::NodeProto& n, const std::string& x, bool keep_dims);
  void emit_flatten(const onnx::NodeProto& n, const std::string& x, const std::string& output);
  bool is_batch_dim(double d) const { return d == kBatch || d == 0 || (d == 1 && batch_is_one_); }

  const onnx::ModelProto& model_;
  FloatGraph g_;
  std::map<std::string, Constant> constants_;
  std::map<std::string, std::vector<int64_t>> shapes_;  // activations, without batch
  std::map<std::string, std::string> alias_;
  std::map<std::string, int> consumers_;
  std::map<std::string, size_t> producer_;  // activation -> index in g_.nodes
  std::set<std::string> unknown_;           // produced by refused nodes
  bool batch_is_one_ = false;               // the model input's batch dimension is fixed to 1
  // The input normalisation chain: open until a node that is not part of it reads its tensor.
  bool chain_open_ = true;
  std::string chain_tensor_;
  Affine affine_;
  bool transposed_ = false;
};

// ---- tensors ----------------------------------------------------------------------------------

const Constant& Lowering::constant(const onnx::NodeProto& n, int i, const Where& where) const {
  if (i >= n.input_size() || n.input(i).empty()) where.fail("input " + std::to_string(i) + " is missing");
  auto it = constants_.find(resolve(n.input(i)));
  if (it == constants_.end())
    where.fail<UnsupportedError>("input " + std::to_string(i) + " ('" + n.input(i) +
                                 "') must be a constant (an initializer)");
  return it->second;
}

std::optional<Constant> Lowering::optional_constant(const onnx::NodeProto& n, int i,
                                                    const Where& where) const {
  if (i >= n.input_size() || n.input(i).empty()) return std::nullopt;
  return constant(n, i, where);
}

std::string Lowering::activation(const onnx::NodeProto& n, int i, const Where& where) const {
  if (i >= n.input_size() || n.input(i).empty()) where.fail("input " + std::to_string(i) + " is missing");
  if (!is_activation(n.input(i)))
    where.fail<UnsupportedError>("input " + std::to_string(i) + " ('" + n.input(i) +
                                 "') must be an activation, not a constant");
  return resolve(n.input(i));
}

FloatNode& Lowering::emit(FloatNode node, const std::vector<int64_t>& output_shape) {
  // Bounds that keep a hostile file from making the evaluator allocate or compute without end;
  // Akida-sized models are far below them.
  if (product(output_shape) > kMaxActivation)
    Where(g_.source, nullptr).fail<UnsupportedError>(
        "node '" + node.name + "' (" + node.op_type + "): output " + str(output_shape) +
        " holds more than " + std::to_string(kMaxActivation) + " values per sample");
  node.output_shape = output_shape;
  shapes_[node.output] = output_shape;
  producer_[node.output] = g_.nodes.size();
  g_.nodes.push_back(std::move(node));
  return g_.nodes.back();
}

void Lowering::take_over_output(FloatNode& node, const onnx::NodeProto& n) {
  const size_t index = producer_.at(node.output);
  shapes_.erase(node.output);
  producer_.erase(node.output);
  node.output = n.output(0);
  shapes_[node.output] = node.output_shape;
  producer_[node.output] = index;
}

// ---- graph ------------------------------------------------------------------------------------

void Lowering::read_input(const Where& where) {
  std::set<std::string> initializer_names;
  for (const auto& t : model_.graph().initializer()) initializer_names.insert(t.name());
  const onnx::ValueInfoProto* input = nullptr;
  int count = 0;
  for (const auto& v : model_.graph().input())
    if (!initializer_names.count(v.name())) input = &v, ++count;
  if (count != 1)
    where.fail<UnsupportedError>(std::to_string(count) + " graph inputs, expected exactly one");
  if (model_.graph().output_size() != 1)
    where.fail<UnsupportedError>(std::to_string(model_.graph().output_size()) +
                                 " graph outputs, expected exactly one");
  const auto& type = input->type().tensor_type();
  if (type.elem_type() != TP::FLOAT)
    where.fail<UnsupportedError>("input '" + input->name() + "': dtype " +
                                 onnx_reader::dtype_name(type.elem_type()) +
                                 ", expected float32 (a float model)");
  const auto& dims = type.shape();
  if (dims.dim_size() != 4)
    where.fail<UnsupportedError>("input '" + input->name() + "': rank " +
                                 std::to_string(dims.dim_size()) +
                                 ", expected 4 (N, C, X, Y) or (N, X, Y, C)");
  for (int i = 1; i < 4; ++i) {
    const auto& d = dims.dim(i);
    if (!d.has_dim_value() || d.dim_value() < 1 || d.dim_value() > (int64_t{1} << 16))
      where.fail<UnsupportedError>("input '" + input->name() + "': dimension " +
                                   std::to_string(i) + " must be a fixed size in 1..65536");
    g_.input_dims.push_back(d.dim_value());
  }
  if (product(g_.input_dims) > kMaxActivation)
    where.fail<UnsupportedError>("input '" + input->name() + "': " + str(g_.input_dims) +
                                 " holds more than " + std::to_string(kMaxActivation) +
                                 " values per sample");
  batch_is_one_ = dims.dim(0).has_dim_value() && dims.dim(0).dim_value() == 1;
  g_.input_name = input->name();
  g_.rescale.output = g_.input_name;
  chain_tensor_ = g_.input_name;
  shapes_[g_.input_name] = g_.input_dims;
  g_.graph_name = model_.graph().name();
}

void Lowering::index_initializers() {
  for (const auto& t : model_.graph().initializer()) {
    const Where where(g_.source, nullptr);
    if (constants_.count(t.name())) where.fail("initializer '" + t.name() + "' is defined twice");
    constants_[t.name()] = tensor_constant(t, where, "initializer '" + t.name() + "'");
  }
}

void Lowering::count_consumers() {
  for (const auto& n : model_.graph().node())
    for (const auto& i : n.input())
      if (!i.empty()) ++consumers_[i];
  for (const auto& o : model_.graph().output()) ++consumers_[o.name()];
}

FloatGraph Lowering::run() {
  const Where graph_where(g_.source, nullptr);
  for (const auto& n : model_.graph().node())
    if (n.domain() == "com.brainchip")
      graph_where.fail<UnsupportedError>(
          "node '" + n.name() + "' (" + n.op_type() +
          ") is a com.brainchip node: the model is already quantized (quantize the float model)");
  read_input(graph_where);
  index_initializers();
  count_consumers();
  for (const auto& n : model_.graph().node()) lower(n);
  finish_chain();
  const std::string output = resolve(model_.graph().output(0).name());
  if (!unknown_.count(output)) {
    if (!producer_.count(output))
      graph_where.fail<UnsupportedError>("the graph output '" + output +
                                         "' is not computed by any layer");
    g_.output_name = output;
    g_.output_dims = shapes_.at(output);
  }
  unify_pads(g_);
  move_activations_after_max_pools(g_);
  return std::move(g_);
}

void Lowering::lower(const onnx::NodeProto& n) {
  const Where where(g_.source, &n);
  if (n.output_size() < 1 || n.output(0).empty()) where.fail("node has no output");
  for (const auto& i : n.input())
    if (!i.empty() && unknown_.count(resolve(i))) {
      unknown_.insert(n.output().begin(), n.output().end());  // its problem is reported upstream
      return;
    }
  for (const auto& i : n.input())
    if (!i.empty() && !is_constant(i) && !is_activation(i))
      where.fail("input '" + i + "' is not produced by an earlier node (nodes must be in "
                 "topological order)");
  if (n.domain() != "" && n.domain() != "ai.onnx") {
    where.fail<UnsupportedError>("domain '" + n.domain() + "' is not the standard ONNX domain");
  }
  static const std::map<std::string, Handler> handlers = {
      {"Conv", &Lowering::conv},
      {"Gemm", &Lowering::gemm},
      {"MatMul", &Lowering::matmul},
      {"Add", &Lowering::add},
      {"Sub", &Lowering::affine_with_constant},
      {"Mul", &Lowering::affine_with_constant},
      {"Div", &Lowering::affine_with_constant},
      {"BatchNormalization", &Lowering::batch_norm},
      {"Relu", &Lowering::relu},
      {"Clip", &Lowering::clip},
      {"MaxPool", &Lowering::max_pool},
      {"AveragePool", &Lowering::average_pool},
      {"GlobalAveragePool", &Lowering::global_average_pool},
      {"ReduceMean", &Lowering::reduce_mean},
      {"Flatten", &Lowering::flatten},
      {"Reshape", &Lowering::reshape},
      {"Squeeze", &Lowering::squeeze},
      {"Concat", &Lowering::concat},
      {"Transpose", &Lowering::transpose},
      {"Identity", &Lowering::identity},
      {"Dropout", &Lowering::identity},
      {"Cast", &Lowering::cast},
  };
  try {
    const bool all_constant =
        std::all_of(n.input().begin(), n.input().end(),
                    [&](const std::string& i) { return i.empty() || is_constant(i); });
    if (n.op_type() == "Shape" || n.op_type() == "Constant" || (all_constant && n.input_size() > 0)) {
      fold(n, where);
      return;
    }
    auto handler = handlers.find(n.op_type());
    if (handler == handlers.end())
      where.fail<UnsupportedError>("op_type '" + n.op_type() + "' is not supported by the quantizer");
    // A node outside the normalisation chain reading its tensor ends the chain.
    (this->*handler->second)(n, where);
    for (const auto& i : n.input())
      if (!i.empty() && resolve(i) == chain_tensor_ && resolve(n.output(0)) != chain_tensor_)
        chain_open_ = false;
  } catch (const UnsupportedError& e) {
    Refusals refusal(g_.source);
    refusal.add(e);
    g_.refusals.push_back(refusal.messages().front());
    unknown_.insert(n.output().begin(), n.output().end());
    for (const auto& i : n.input())
      if (!i.empty() && resolve(i) == chain_tensor_) chain_open_ = false;
  }
}

// ---- constant folding -------------------------------------------------------------------------

std::vector<int64_t> int_values(const Constant& c) {
  std::vector<int64_t> out;
  for (double v : c.values) out.push_back(static_cast<int64_t>(v));
  return out;
}

// Elementwise binary op on constants: equal sizes, or one side a single value.
Constant binary(const Constant& a, const Constant& b, const std::function<double(double, double)>& f,
                const Where& where) {
  if (a.values.size() != b.values.size() && a.values.size() != 1 && b.values.size() != 1)
    where.fail<UnsupportedError>("constant operands of shapes " + str(a.dims) + " and " +
                                 str(b.dims) + " need broadcasting");
  Constant out = a.values.size() >= b.values.size() ? a : b;
  out.integer = a.integer && b.integer;
  for (size_t i = 0; i < out.values.size(); ++i)
    out.values[i] = f(a.values[a.values.size() == 1 ? 0 : i], b.values[b.values.size() == 1 ? 0 : i]);
  for (double v : out.values)
    if (v == kBatch || (std::abs(v) > 1e12 && out.integer))
      where.fail<UnsupportedError>("arithmetic on the batch size is not supported");
  return out;
}

void Lowering::fold(const onnx::NodeProto& n, const Where& where) {
  const std::string& op = n.op_type();
  Constant out;
  if (op == "Constant") {
    if (const auto* a = find_attr(n, "value")) {
      out = tensor_constant(a->t(), where, "attribute 'value'");
    } else if (const auto* f = find_attr(n, "value_float")) {
      out = {{}, {f->f()}, false};
    } else if (const auto* fs = find_attr(n, "value_floats")) {
      out = {{fs->floats_size()}, {fs->floats().begin(), fs->floats().end()}, false};
    } else if (const auto* i = find_attr(n, "value_int")) {
      out = {{}, {static_cast<double>(i->i())}, true};
    } else if (const auto* is = find_attr(n, "value_ints")) {
      out = {{is->ints_size()}, {}, true};
      for (int64_t v : is->ints()) out.values.push_back(static_cast<double>(v));
    } else {
      where.fail<UnsupportedError>("Constant without a value, value_float(s) or value_int(s)");
    }
  } else if (op == "Shape") {
    std::vector<double> dims{kBatch};
    if (is_activation(n.input(0))) {
      for (int64_t d : shape(n.input(0))) dims.push_back(static_cast<double>(d));
    } else {
      dims.clear();
      for (int64_t d : constant(n, 0, where).dims) dims.push_back(static_cast<double>(d));
    }
    const auto rank = static_cast<int64_t>(dims.size());
    auto clamp_axis = [&](int64_t a) { return std::clamp(a < 0 ? a + rank : a, int64_t{0}, rank); };
    const int64_t start = clamp_axis(attr_int(n, "start", 0, where));
    const int64_t end = clamp_axis(attr_int(n, "end", rank, where));
    out.integer = true;
    for (int64_t i = start; i < end; ++i) out.values.push_back(dims[static_cast<size_t>(i)]);
    out.dims = {static_cast<int64_t>(out.values.size())};
  } else if (op == "Identity" || op == "Cast") {
    out = constant(n, 0, where);
    if (op == "Cast") {
      const int64_t to = attr_int(n, "to", TP::FLOAT, where);
      out.integer = to != TP::FLOAT && to != TP::DOUBLE && to != TP::FLOAT16;
      if (out.integer)
        for (double& v : out.values) v = v == kBatch ? v : std::trunc(v);
    }
  } else if (op == "Gather") {
    const Constant& data = constant(n, 0, where);
    const Constant& indices = constant(n, 1, where);
    if (attr_int(n, "axis", 0, where) != 0 || data.dims.size() != 1)
      where.fail<UnsupportedError>("Gather on constants: only axis 0 of a 1-D constant");
    out.integer = data.integer;
    out.dims = indices.dims;
    const auto size = static_cast<int64_t>(data.values.size());
    for (int64_t i : int_values(indices)) {
      if (i < -size || i >= size) where.fail("Gather index " + std::to_string(i) + " out of range");
      out.values.push_back(data.values[static_cast<size_t>(i < 0 ? i + size : i)]);
    }
  } else if (op == "Unsqueeze" || op == "Squeeze") {
    out = constant(n, 0, where);
    if (out.values.size() > 1 && out.dims.size() > 1 && op == "Unsqueeze")
      where.fail<UnsupportedError>("Unsqueeze of a constant of rank > 1");
    // Only the shape changes: a 0-d or 1-d constant becomes 1-d (the only folds PyTorch's shape
    // computations need), a Squeeze drops the size-1 axes.
    if (op == "Unsqueeze") out.dims = {static_cast<int64_t>(out.values.size())};
    else {
      std::vector<int64_t> dims;
      for (int64_t d : out.dims)
        if (d != 1) dims.push_back(d);
      out.dims = dims;
    }
  } else if (op == "Concat") {
    out.integer = true;
    for (int i = 0; i < n.input_size(); ++i) {
      const Constant& c = constant(n, i, where);
      if (c.dims.size() > 1) where.fail<UnsupportedError>("Concat of constants of rank > 1");
      out.integer = out.integer && c.integer;
      out.values.insert(out.values.end(), c.values.begin(), c.values.end());
    }
    out.dims = {static_cast<int64_t>(out.values.size())};
  } else if (op == "Reshape") {
    out = constant(n, 0, where);
    const Constant& target = constant(n, 1, where);
    std::vector<int64_t> dims = int_values(target);
    int64_t known = 1, unknown_axis = -1;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (dims[i] == 0 && i < out.dims.size()) dims[i] = out.dims[i];
      if (dims[i] == -1) unknown_axis = static_cast<int64_t>(i);
      else known *= dims[i];
    }
    if (unknown_axis >= 0 && known > 0)
      dims[static_cast<size_t>(unknown_axis)] = static_cast<int64_t>(out.values.size()) / known;
    if (product(dims) != static_cast<int64_t>(out.values.size()))
      where.fail("Reshape of a constant of " + std::to_string(out.values.size()) +
                 " values to " + str(dims));
    out.dims = dims;
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    static const std::map<std::string, std::function<double(double, double)>> ops = {
        {"Add", std::plus<>()}, {"Sub", std::minus<>()}, {"Mul", std::multiplies<>()},
        {"Div", [](double a, double b) { return a / b; }}};
    const Constant& a = constant(n, 0, where);
    const Constant& b = constant(n, 1, where);
    out = binary(a, b, ops.at(op), where);
    if (op == "Div" && out.integer)
      for (double& v : out.values) v = std::trunc(v);
  } else {
    where.fail<UnsupportedError>("op_type '" + op + "' on constants is not supported");
  }
  constants_[n.output(0)] = std::move(out);
}

// ---- the input normalisation chain -------------------------------------------------------------

void Lowering::extend_chain(const onnx::NodeProto& n, const std::string& source) {
  g_.rescale.source_nodes.push_back(n.name().empty() ? n.op_type() : n.name());
  shapes_[n.output(0)] = shapes_.at(resolve(source));
  chain_tensor_ = n.output(0);
  g_.rescale.output = n.output(0);
}

void Lowering::chain_affine(const Constant& c,
                            const std::function<void(float&, float&, float)>& apply,
                            const Where& where) {
  // Before a Transpose [0, 3, 1, 2], channels are axis 3 of a channels-last input; without one
  // the input is channels first (axis 1).
  const std::optional<int> axis = varying_axis(c);
  const bool per_channel_axis = axis && (*axis == 1 || (*axis == 3 && !transposed_));
  if (!axis || (*axis != -1 && (!per_channel_axis || (affine_.axis != -1 && affine_.axis != *axis))))
    where.fail<UnsupportedError>("constant of shape " + str(c.dims) +
                                 ": the input normalisation must be per channel (one value, or "
                                 "one per channel)");
  if (*axis != -1) {
    affine_.axis = *axis;
    const std::vector<int64_t> dims = transposed_ ? g_.rescaled_shape() : g_.input_dims;
    if (static_cast<int64_t>(c.values.size()) != dims[static_cast<size_t>(*axis) - 1])
      where.fail<UnsupportedError>("constant of shape " + str(c.dims) +
                                   " does not hold one value per channel");
  }
  const size_t n = std::max({affine_.scale.size(), affine_.offset.size(), c.values.size()});
  affine_.scale.resize(n, affine_.scale.front());
  affine_.offset.resize(n, affine_.offset.front());
  for (size_t i = 0; i < n; ++i)
    apply(affine_.scale[i], affine_.offset[i],
          static_cast<float>(c.values[c.values.size() == 1 ? 0 : i]));
}

void Lowering::finish_chain() {
  // Per-axis-3 values without a Transpose vary along Y, not along channels.
  if (affine_.axis == 3)
    g_.refusals.push_back("node '" + g_.rescale.source_nodes.back() +
                          "': the input normalisation varies along the last axis of a channels-"
                          "first input: only per-channel normalisation is supported");
  g_.rescale.scale = affine_.scale;
  g_.rescale.offset = affine_.offset;
}

void Lowering::affine_with_constant(const onnx::NodeProto& n, const Where& where) {
  const bool first_constant = is_constant(n.input(0));
  const std::string x = activation(n, first_constant ? 1 : 0, where);
  const Constant& c = constant(n, first_constant ? 0 : 1, where);
  const std::string& op = n.op_type();
  if (!on_chain(x))
    where.fail<UnsupportedError>(op + " with a constant is only supported in the input "
                                 "normalisation, before the first layer");
  using F = std::function<void(float&, float&, float)>;
  F apply;
  if (op == "Mul") apply = [](float& s, float& o, float v) { s *= v, o *= v; };
  else if (op == "Add") apply = [](float&, float& o, float v) { o += v; };
  else if (op == "Sub" && !first_constant) apply = [](float&, float& o, float v) { o -= v; };
  else if (op == "Sub") apply = [](float& s, float& o, float v) { s = -s, o = v - o; };
  else if (op == "Div" && !first_constant) apply = [](float& s, float& o, float v) { s /= v, o /= v; };
  else
    where.fail<UnsupportedError>("Div of a constant by the input is not an input normalisation");
  chain_affine(c, apply, where);
  extend_chain(n, x);
}

void Lowering::transpose(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  const std::vector<int64_t> perm = attr_ints(n, "perm", {3, 2, 1, 0}, where);
  if (!on_chain(x) || transposed_ || perm != std::vector<int64_t>{0, 3, 1, 2})
    where.fail<UnsupportedError>("Transpose " + str(perm) + ": only a Transpose [0, 3, 1, 2] of "
                                 "the model input (channels last to first) is supported");
  if (affine_.axis == 1)
    where.fail<UnsupportedError>("the input normalisation before this Transpose varies along an "
                                 "image axis, not per channel");
  transposed_ = true;
  g_.rescale.perm = perm;
  if (affine_.axis == 3) affine_.axis = 1;
  extend_chain(n, x);
  shapes_[n.output(0)] = g_.rescaled_shape();
}

void Lowering::identity(const onnx::NodeProto& n, const Where& where) {
  if (n.op_type() == "Dropout" && n.input_size() > 2 && !n.input(2).empty() &&
      constant(n, 2, where).values.at(0) != 0)
    where.fail<UnsupportedError>("Dropout in training mode");
  if (n.output_size() > 1 && !n.output(1).empty() && consumers_.count(n.output(1)))
    where.fail<UnsupportedError>("the Dropout mask output is used");
  set_alias(n, activation(n, 0, where));
}

void Lowering::cast(const onnx::NodeProto& n, const Where& where) {
  if (attr_int(n, "to", 0, where) != TP::FLOAT)
    where.fail<UnsupportedError>("Cast of an activation to another type than float32");
  set_alias(n, activation(n, 0, where));
}

// ---- layers -----------------------------------------------------------------------------------

// ONNX pads for one spatial axis: explicit, or derived from auto_pad (SAME_UPPER puts the odd pad
// at the end).
std::array<int64_t, 2> auto_pads(const std::string& mode, int64_t size, int64_t kernel,
                                 int64_t stride) {
  if (mode == "VALID") return {0, 0};
  const int64_t out = (size + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - size, 0);
  if (mode == "SAME_LOWER") return {total - total / 2, total / 2};
  return {total / 2, total - total / 2};
}

// Reads kernel-window attributes shared by Conv and MaxPool into `node` (kernel already set).
void read_window(const onnx::NodeProto& n, FloatNode& node, const std::vector<int64_t>& in,
                 const Where& where) {
  const std::vector<int64_t> strides = attr_ints(n, "strides", {1, 1}, where);
  const std::vector<int64_t> dilations = attr_ints(n, "dilations", {1, 1}, where);
  if (strides.size() != 2 || strides[0] < 1 || strides[1] < 1)
    where.fail<UnsupportedError>("attribute 'strides' " + str(strides) + ": expected two positive values");
  if (dilations != std::vector<int64_t>{1, 1})
    where.fail<UnsupportedError>("attribute 'dilations' " + str(dilations) + ": only [1, 1] is supported");
  node.strides = {strides[0], strides[1]};
  const std::string mode = attr_string(n, "auto_pad", "NOTSET", where);
  if (mode == "NOTSET") {
    const std::vector<int64_t> pads = attr_ints(n, "pads", {0, 0, 0, 0}, where);
    if (pads.size() != 4 || std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; }))
      where.fail<UnsupportedError>("attribute 'pads' " + str(pads) + ": expected 4 values >= 0");
    node.pads = {pads[0], pads[1], pads[2], pads[3]};
  } else if (mode == "VALID" || mode == "SAME_UPPER" || mode == "SAME_LOWER") {
    const auto px = auto_pads(mode, in[1], node.kernel[0], node.strides[0]);
    const auto py = auto_pads(mode, in[2], node.kernel[1], node.strides[1]);
    node.pads = {px[0], py[0], px[1], py[1]};
  } else {
    where.fail<UnsupportedError>("attribute 'auto_pad' '" + mode + "' is not supported");
  }
}

std::vector<int64_t> window_output(const FloatNode& node, const std::vector<int64_t>& in,
                                   int64_t channels, const Where& where) {
  const int64_t x = in[1] + node.pads[0] + node.pads[2] - node.kernel[0];
  const int64_t y = in[2] + node.pads[1] + node.pads[3] - node.kernel[1];
  if (x < 0 || y < 0)
    where.fail<UnsupportedError>("kernel " + str({node.kernel[0], node.kernel[1]}) +
                                 " is larger than the padded input " + str(in));
  return {channels, x / node.strides[0] + 1, y / node.strides[1] + 1};
}

const std::vector<int64_t>& require_image(const std::vector<int64_t>& shape, const Where& where) {
  if (shape.size() != 3)
    where.fail<UnsupportedError>("input of shape " + str(shape) + ": expected an image (C, X, Y)");
  return shape;
}

const std::vector<int64_t>& require_flat(const std::vector<int64_t>& shape, const Where& where) {
  if (shape.size() != 1)
    where.fail<UnsupportedError>("input of shape " + str(shape) +
                                 ": expected a flat (N, F) tensor (flatten it first)");
  return shape;
}

std::vector<float> to_floats(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// A (F, C / groups, kx, ky) grouped kernel as the equivalent full (F, C, kx, ky) one.
std::vector<float> expand_groups(const std::vector<float>& w, int64_t filters, int64_t channels,
                                 int64_t groups, int64_t kernel_size) {
  const int64_t per_group_in = channels / groups, per_group_out = filters / groups;
  std::vector<float> out(static_cast<size_t>(filters * channels * kernel_size), 0.0f);
  for (int64_t f = 0; f < filters; ++f) {
    const int64_t first_channel = (f / per_group_out) * per_group_in;
    for (int64_t c = 0; c < per_group_in; ++c)
      for (int64_t k = 0; k < kernel_size; ++k)
        out[static_cast<size_t>((f * channels + first_channel + c) * kernel_size + k)] =
            w[static_cast<size_t>((f * per_group_in + c) * kernel_size + k)];
  }
  return out;
}

// The FloatNode an ONNX node becomes (named after it, with its output).
FloatNode new_node(const onnx::NodeProto& n, FloatOp op, std::vector<std::string> inputs) {
  FloatNode node;
  node.op = op;
  node.name = n.name();
  node.op_type = n.op_type();
  node.inputs = std::move(inputs);
  node.output = n.output(0);
  return node;
}

void Lowering::conv(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  const std::vector<int64_t> in = require_image(shape(x), where);
  const Constant& w = constant(n, 1, where);
  if (w.dims.size() != 4)
    where.fail<UnsupportedError>("weights of shape " + str(w.dims) +
                                 ": only 2-D convolutions are supported");
  FloatNode node = new_node(n, FloatOp::Conv, {x});
  const int64_t filters = w.dims[0], groups = attr_int(n, "group", 1, where);
  if (groups < 1 || w.dims[1] * groups != in[0] || filters % groups != 0)
    where.fail("weights of shape " + str(w.dims) + " and group " + std::to_string(groups) +
               " do not fit an input of " + std::to_string(in[0]) + " channels");
  node.kernel = {w.dims[2], w.dims[3]};
  const std::vector<int64_t> kernel_shape =
      attr_ints(n, "kernel_shape", {w.dims[2], w.dims[3]}, where);
  if (kernel_shape != std::vector<int64_t>{w.dims[2], w.dims[3]})
    where.fail("attribute 'kernel_shape' " + str(kernel_shape) + " differs from the weights " +
               str(w.dims));
  read_window(n, node, in, where);
  const std::vector<int64_t> out = window_output(node, in, filters, where);
  const bool depthwise = groups > 1 && groups == in[0] && filters == in[0];
  const int64_t weights_size = filters * (depthwise ? 1 : in[0]) * w.dims[2] * w.dims[3];
  if (weights_size > kMaxActivation || weights_size > kMaxMultiplyAdds / (out[1] * out[2]))
    where.fail<UnsupportedError>("weights " + str(w.dims) + " on an output of " + str(out) +
                                 ": too large to evaluate");
  node.weights = to_floats(w.values);
  node.weights_shape = w.dims;
  if (depthwise) {
    node.group = groups;
  } else if (groups > 1) {
    node.weights = expand_groups(node.weights, filters, in[0], groups, w.dims[2] * w.dims[3]);
    node.weights_shape = {filters, in[0], w.dims[2], w.dims[3]};
  }
  if (auto b = optional_constant(n, 2, where)) {
    if (static_cast<int64_t>(b->values.size()) != filters)
      where.fail("bias of " + std::to_string(b->values.size()) + " values for " +
                 std::to_string(filters) + " filters");
    node.bias = to_floats(b->values);
  }
  emit(std::move(node), out);
}

// (rows, cols) row-major -> (cols, rows).
std::vector<float> transposed(const std::vector<double>& m, int64_t rows, int64_t cols) {
  std::vector<float> out(m.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[static_cast<size_t>(c * rows + r)] = static_cast<float>(m[static_cast<size_t>(r * cols + c)]);
  return out;
}

void Lowering::gemm(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  const int64_t inputs = require_flat(shape(x), where)[0];
  const Constant& b = constant(n, 1, where);
  if (attr_int(n, "transA", 0, where) != 0)
    where.fail<UnsupportedError>("attribute 'transA' 1 is not supported");
  if (b.dims.size() != 2) where.fail("B of shape " + str(b.dims) + ": expected 2 dimensions");
  const bool trans_b = attr_int(n, "transB", 0, where) != 0;
  const int64_t filters = trans_b ? b.dims[0] : b.dims[1];
  if ((trans_b ? b.dims[1] : b.dims[0]) != inputs)
    where.fail("B of shape " + str(b.dims) + " does not fit an input of " + std::to_string(inputs) +
               " values");
  const float alpha = attr_float(n, "alpha", 1.0f, where), beta = attr_float(n, "beta", 1.0f, where);
  FloatNode node = new_node(n, FloatOp::Gemm, {x});
  node.weights = trans_b ? to_floats(b.values) : transposed(b.values, b.dims[0], b.dims[1]);
  node.weights_shape = {filters, inputs};
  if (alpha != 1.0f)
    for (float& v : node.weights) v *= alpha;
  if (auto c = optional_constant(n, 2, where)) {
    if (c->values.size() != 1 && static_cast<int64_t>(c->values.size()) != filters)
      where.fail<UnsupportedError>("C of shape " + str(c->dims) + ": expected one value per output");
    for (int64_t f = 0; f < filters; ++f)
      node.bias.push_back(beta * static_cast<float>(c->values[c->values.size() == 1 ? 0 : f]));
  }
  emit(std::move(node), {filters});
}

void Lowering::matmul(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  const int64_t inputs = require_flat(shape(x), where)[0];
  const Constant& b = constant(n, 1, where);
  if (b.dims.size() != 2 || b.dims[0] != inputs)
    where.fail<UnsupportedError>("B of shape " + str(b.dims) + " does not fit an input of " +
                                 std::to_string(inputs) + " values");
  FloatNode node = new_node(n, FloatOp::Gemm, {x});
  node.weights = transposed(b.values, b.dims[0], b.dims[1]);  // Gemm's (F, N)
  node.weights_shape = {b.dims[1], inputs};
  emit(std::move(node), {b.dims[1]});
}

void Lowering::add(const onnx::NodeProto& n, const Where& where) {
  if (n.input_size() != 2) where.fail("expected 2 inputs");
  if (is_constant(n.input(0)) || is_constant(n.input(1))) {
    const std::string x = activation(n, is_constant(n.input(0)) ? 1 : 0, where);
    if (on_chain(x)) return affine_with_constant(n, where);
    // A bias after a MatMul (or a Gemm): folded into it.
    FloatNode* gemm = producer(x);
    const Constant& c = constant(n, is_constant(n.input(0)) ? 0 : 1, where);
    const auto filters = static_cast<size_t>(shape(x)[0]);
    if (!gemm || gemm->op != FloatOp::Gemm || consumers(x) != 1 ||
        (c.values.size() != 1 && c.values.size() != filters))
      where.fail<UnsupportedError>("Add of a constant is only supported as the bias of a MatMul / "
                                   "Gemm, or in the input normalisation");
    gemm->bias.resize(filters, 0.0f);
    for (size_t f = 0; f < filters; ++f)
      gemm->bias[f] += static_cast<float>(c.values[c.values.size() == 1 ? 0 : f]);
    take_over_output(*gemm, n);
    return;
  }
  const std::string a = activation(n, 0, where), b = activation(n, 1, where);
  if (shape(a) != shape(b))
    where.fail<UnsupportedError>("inputs of shapes " + str(shape(a)) + " and " + str(shape(b)) +
                                 ": only inputs of the same shape can be added");
  emit(new_node(n, FloatOp::Add, {a, b}), shape(a));
}

void Lowering::batch_norm(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  if (attr_int(n, "training_mode", 0, where) != 0)
    where.fail<UnsupportedError>("BatchNormalization in training mode");
  const Constant &gamma = constant(n, 1, where), &beta = constant(n, 2, where),
                 &mean = constant(n, 3, where), &var = constant(n, 4, where);
  const float epsilon = attr_float(n, "epsilon", 1e-5f, where);
  const int64_t channels = shape(x)[0];
  for (const Constant* c : {&gamma, &beta, &mean, &var})
    if (static_cast<int64_t>(c->values.size()) != channels)
      where.fail("parameters of " + std::to_string(c->values.size()) + " values for " +
                 std::to_string(channels) + " channels");
  // fuse_batchnorm: scale = gamma / sqrt(var + eps), bias' = (bias - mean) * scale + beta (float32).
  std::vector<float> scale, shift;
  for (int64_t c = 0; c < channels; ++c) {
    const auto i = static_cast<size_t>(c);
    scale.push_back(static_cast<float>(gamma.values[i]) /
                    std::sqrt(static_cast<float>(var.values[i]) + epsilon));
    shift.push_back(static_cast<float>(beta.values[i]) - static_cast<float>(mean.values[i]) * scale.back());
  }
  if (on_chain(x) && shape(x).size() == 3) {
    Constant per_channel{{1, channels, 1, 1}, {}, false};
    per_channel.values.assign(scale.begin(), scale.end());
    chain_affine(per_channel, [](float& s, float& o, float v) { s *= v, o *= v; }, where);
    per_channel.values.assign(shift.begin(), shift.end());
    chain_affine(per_channel, [](float&, float& o, float v) { o += v; }, where);
    return extend_chain(n, x);
  }
  FloatNode* layer = producer(x);
  if (!layer || (layer->op != FloatOp::Conv && layer->op != FloatOp::Gemm) || consumers(x) != 1)
    where.fail<UnsupportedError>("BatchNormalization is only supported right after a Conv or a "
                                 "Gemm (folded into it) or in the input normalisation");
  const size_t per_filter = layer->weights.size() / static_cast<size_t>(channels);
  for (size_t f = 0; f < static_cast<size_t>(channels); ++f) {
    for (size_t k = 0; k < per_filter; ++k) layer->weights[f * per_filter + k] *= scale[f];
  }
  layer->bias.resize(static_cast<size_t>(channels), 0.0f);
  for (size_t f = 0; f < static_cast<size_t>(channels); ++f)
    layer->bias[f] = (layer->bias[f] - static_cast<float>(mean.values[f])) * scale[f] +
                     static_cast<float>(beta.values[f]);
  take_over_output(*layer, n);
}

void Lowering::relu(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  emit(new_node(n, FloatOp::Relu, {x}), shape(x));
}

void Lowering::clip(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  float lo = attr_float(n, "min", -std::numeric_limits<float>::infinity(), where);
  float hi = attr_float(n, "max", std::numeric_limits<float>::infinity(), where);
  if (auto c = optional_constant(n, 1, where)) lo = static_cast<float>(c->values.at(0));
  if (auto c = optional_constant(n, 2, where)) hi = static_cast<float>(c->values.at(0));
  if (lo != 0.0f || !(hi > 0.0f))
    where.fail<UnsupportedError>("Clip(" + std::to_string(lo) + ", " + std::to_string(hi) +
                                 "): only Clip(0, max > 0) (a bounded ReLU such as ReLU6) is "
                                 "supported");
  if (std::isinf(hi)) return emit(new_node(n, FloatOp::Relu, {x}), shape(x)), void();
  FloatNode node = new_node(n, FloatOp::Clip, {x});
  node.clip_min = lo;
  node.clip_max = hi;
  emit(std::move(node), shape(x));
}

void Lowering::max_pool(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  const std::vector<int64_t> in = require_image(shape(x), where);
  if (n.output_size() > 1 && !n.output(1).empty() && consumers_.count(n.output(1)))
    where.fail<UnsupportedError>("the MaxPool indices output is used");
  if (attr_int(n, "storage_order", 0, where) != 0)
    where.fail<UnsupportedError>("attribute 'storage_order' 1 is not supported");
  FloatNode node = new_node(n, FloatOp::MaxPool, {x});
  const std::vector<int64_t> kernel = attr_ints(n, "kernel_shape", {}, where);
  if (kernel.size() != 2 || kernel[0] < 1 || kernel[1] < 1)
    where.fail<UnsupportedError>("attribute 'kernel_shape' " + str(kernel) + ": expected two positive values");
  node.kernel = {kernel[0], kernel[1]};
  read_window(n, node, in, where);
  std::vector<int64_t> out = window_output(node, in, in[0], where);
  if (attr_int(n, "ceil_mode", 0, where) != 0) {
    // ceil mode only matters when a window would start in the end padding.
    for (int axis = 0; axis < 2; ++axis) {
      const int64_t span = in[1 + axis] + node.pads[axis] + node.pads[2 + axis] - node.kernel[axis];
      if (span % node.strides[axis] != 0)
        where.fail<UnsupportedError>("attribute 'ceil_mode' 1 changes the output size: not supported");
    }
  }
  emit(std::move(node), out);
}

void Lowering::emit_gap(const onnx::NodeProto& n, const std::string& x, bool keep_dims) {
  const int64_t channels = shape(x)[0];
  FloatNode node = new_node(n, FloatOp::GlobalAvgPool, {x});
  if (!keep_dims) node.output = n.output(0) + "/gap";
  const std::string gap_output = node.output;
  emit(std::move(node), {channels, 1, 1});
  if (!keep_dims) emit_flatten(n, gap_output, n.output(0));
}

void Lowering::emit_flatten(const onnx::NodeProto& n, const std::string& x,
                            const std::string& output) {
  FloatNode node = new_node(n, FloatOp::Flatten, {x});
  node.output = output;
  emit(std::move(node), {product(shape(x))});
}

void Lowering::average_pool(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  const std::vector<int64_t> in = require_image(shape(x), where);
  const std::vector<int64_t> kernel = attr_ints(n, "kernel_shape", {}, where);
  const std::vector<int64_t> pads = attr_ints(n, "pads", {0, 0, 0, 0}, where);
  const std::string mode = attr_string(n, "auto_pad", "NOTSET", where);
  if (kernel != std::vector<int64_t>{in[1], in[2]} ||
      std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; }) ||
      (mode != "NOTSET" && mode != "VALID"))
    where.fail<UnsupportedError>("AveragePool with kernel " + str(kernel) + " on " + str(in) +
                                 ": only a pool over the whole image (a global average) is "
                                 "supported");
  emit_gap(n, x, true);
}

void Lowering::global_average_pool(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  require_image(shape(x), where);
  emit_gap(n, x, true);
}

// Axes of a rank-4 tensor (with batch), normalized and sorted.
std::vector<int64_t> normalized_axes(std::vector<int64_t> axes) {
  for (int64_t& a : axes) a = a < 0 ? a + 4 : a;
  std::sort(axes.begin(), axes.end());
  return axes;
}

void Lowering::reduce_mean(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  require_image(shape(x), where);
  std::vector<int64_t> axes = attr_ints(n, "axes", {}, where);
  if (auto c = optional_constant(n, 1, where)) axes = int_values(*c);
  if (normalized_axes(axes) != std::vector<int64_t>{2, 3})
    where.fail<UnsupportedError>("ReduceMean over axes " + str(axes) +
                                 ": only the mean over (X, Y) (a global average) is supported");
  emit_gap(n, x, attr_int(n, "keepdims", 1, where) != 0);
}

void Lowering::flatten(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  if (attr_int(n, "axis", 1, where) != 1)
    where.fail<UnsupportedError>("attribute 'axis' " + std::to_string(attr_int(n, "axis", 1, where)) +
                                 ": only 1 (keep the batch) is supported");
  if (shape(x).size() == 1) return set_alias(n, x);
  emit_flatten(n, x, n.output(0));
}

void Lowering::reshape(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  const std::vector<int64_t>& in = shape(x);
  const Constant& target = constant(n, 1, where);
  const std::vector<double>& t = target.values;
  const int64_t size = product(in);
  std::vector<int64_t> rest;
  bool flat = t.size() == 2 && is_batch_dim(t[0]) && (t[1] == -1 || t[1] == static_cast<double>(size));
  flat = flat || (t.size() == 2 && t[0] == -1 && t[1] == static_cast<double>(size));
  if (flat) return in.size() == 1 ? set_alias(n, x) : emit_flatten(n, x, n.output(0));
  bool same = t.size() == in.size() + 1 && is_batch_dim(t[0]);
  for (size_t i = 0; same && i < in.size(); ++i)
    same = t[i + 1] == static_cast<double>(in[i]) || (t[i + 1] == 0 && i + 1 < in.size() + 1);
  if (same) return set_alias(n, x);
  std::vector<int64_t> shown;
  for (double v : t) shown.push_back(v == kBatch ? -2 : static_cast<int64_t>(v));
  where.fail<UnsupportedError>("Reshape of " + str(in) + " to " + str(shown) +
                               ": only flattening (N, C, X, Y) to (N, C*X*Y) is supported");
}

void Lowering::squeeze(const onnx::NodeProto& n, const Where& where) {
  const std::string x = activation(n, 0, where);
  const std::vector<int64_t>& in = shape(x);
  std::vector<int64_t> axes = attr_ints(n, "axes", {}, where);
  if (auto c = optional_constant(n, 1, where)) axes = int_values(*c);
  const bool all_unit = axes.empty() && in.size() == 3 && in[1] == 1 && in[2] == 1;
  if (!all_unit && !(in.size() == 3 && in[1] == 1 && in[2] == 1 &&
                     normalized_axes(axes) == std::vector<int64_t>{2, 3}))
    where.fail<UnsupportedError>("Squeeze of " + str(in) + " over axes " + str(axes) +
                                 ": only (N, C, 1, 1) to (N, C) is supported");
  emit_flatten(n, x, n.output(0));
}

void Lowering::concat(const onnx::NodeProto& n, const Where& where) {
  if (n.input_size() != 2)
    where.fail<UnsupportedError>(std::to_string(n.input_size()) +
                                 " inputs: only Concat of two tensors is supported");
  const std::string a = activation(n, 0, where), b = activation(n, 1, where);
  const auto& sa = shape(a);
  const auto& sb = shape(b);
  const int64_t rank = static_cast<int64_t>(sa.size()) + 1;
  int64_t axis = attr_int(n, "axis", 1, where);
  if (axis < 0) axis += rank;
  if (axis != 1 || sa.size() != sb.size() ||
      !std::equal(sa.begin() + 1, sa.end(), sb.begin() + 1))
    where.fail<UnsupportedError>("Concat of " + str(sa) + " and " + str(sb) + " on axis " +
                                 std::to_string(axis) + ": only channel concatenation is supported");
  std::vector<int64_t> out = sa;
  out[0] += sb[0];
  emit(new_node(n, FloatOp::Concat, {a, b}), out);
}

}  // namespace

// ---- passes -----------------------------------------------------------------------------------

void unify_pads(FloatGraph& graph) {
  // QuantizeML unify_pads_format: keep the begin pads and the output size, and reduce each end
  // pad to what the last window reaches (PyTorch pads symmetrically). A node where that would be
  // negative keeps its pads (QuantizeML's assertion fails and it leaves the node as it is).
  std::map<std::string, std::vector<int64_t>> shapes{{graph.rescale.output, graph.rescaled_shape()}};
  for (FloatNode& node : graph.nodes) {
    if (node.op == FloatOp::Conv || node.op == FloatOp::MaxPool) {
      const std::vector<int64_t>& in = shapes.at(node.inputs[0]);
      std::array<int64_t, 2> end{};
      for (int axis = 0; axis < 2; ++axis)
        end[axis] = (node.output_shape[1 + axis] - 1) * node.strides[axis] -
                    (in[1 + axis] + node.pads[axis] - node.kernel[axis]);
      if (end[0] >= 0 && end[1] >= 0) node.pads[2] = end[0], node.pads[3] = end[1];
    }
    shapes[node.output] = node.output_shape;
  }
}

void move_activations_after_max_pools(FloatGraph& graph) {
  // invert_activation_maxpool: max(relu(x)) == relu(max(x)) for Relu and Clip(0, m), and QuantizeML
  // fuses Conv > MaxPool > activation. The pair keeps its final output name. The activation's
  // output has one reader (the pool), so no node between the two reads it and swapping their
  // places keeps the order topological.
  std::map<std::string, int> readers;
  for (const FloatNode& node : graph.nodes)
    for (const auto& i : node.inputs) ++readers[i];
  ++readers[graph.output_name];
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const FloatNode& act = graph.nodes[i];
    if ((act.op != FloatOp::Relu && act.op != FloatOp::Clip) || readers[act.output] != 1) continue;
    for (size_t j = i + 1; j < graph.nodes.size(); ++j) {
      const FloatNode& pool = graph.nodes[j];
      if (pool.op != FloatOp::MaxPool || pool.inputs[0] != act.output) continue;
      const std::string x = act.inputs[0], middle = act.output, y = pool.output;
      std::swap(graph.nodes[i], graph.nodes[j]);  // the pool first, the activation after it
      graph.nodes[i].inputs = {x};
      graph.nodes[i].output = middle;
      graph.nodes[j].inputs = {middle};
      graph.nodes[j].output = y;
      graph.nodes[j].output_shape = graph.nodes[i].output_shape;
      break;
    }
  }
}

FloatGraph read_float_graph(const onnx::ModelProto& model, const std::string& source) {
  return Lowering(model, source).run();
}

}  // namespace cnn2snn::quantize
