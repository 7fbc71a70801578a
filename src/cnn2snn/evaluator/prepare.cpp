// Validation of a QuantizedGraph for the reference evaluator, and the prepared form of each block.
//
// Besides shapes, this proves that the int64 arithmetic of eval_block() cannot overflow: it
// carries a bound on the magnitude of every block's output (from the model input's bit width,
// the output bit widths and the buffer widths) and checks every sum of products and every scaled
// accumulator against 2^62 before anything runs. A graph that could overflow is rejected with
// UnsupportedError rather than computed wrongly.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "akida/errors.h"
#include "cnn2snn/evaluator/evaluator_internal.h"

namespace cnn2snn::evaluator_detail {

const char* kind_label(BlockKind kind) {
  switch (kind) {
    case BlockKind::InputConv2D: return "InputConv2D";
    case BlockKind::Conv2D: return "Conv2D";
    case BlockKind::DepthwiseConv2D: return "DepthwiseConv2D";
    case BlockKind::Dense: return "Dense";
    case BlockKind::BufferTempConv: return "BufferTempConv";
    case BlockKind::DepthwiseBufferTempConv: return "DepthwiseBufferTempConv";
    case BlockKind::Add: return "Add";
    case BlockKind::Concatenate: return "Concatenate";
    case BlockKind::Dequantizer: return "Dequantizer";
    case BlockKind::SeparableConv2D: return "SeparableConv2D";
  }
  return "unknown kind";
}

std::string where(const QuantizedGraph& graph, const Block& block, const std::string& field) {
  std::string text;
  if (!graph.source.empty()) text += graph.source + ": ";
  text += "block '" + block.name + "' (" + kind_label(block.kind) + ")";
  if (!field.empty()) text += ": field '" + field + "'";
  return text + ": ";
}

namespace {

using akida::Shape;
using akida::ShapeError;
using akida::UnsupportedError;

// Every magnitude bound is kept below 2^62, leaving a factor of two of headroom in int64 for the
// additions that follow a product (bias, rounding constant, the second Add operand).
constexpr long double kSafeBound = 4611686018427387904.0L;  // 2^62

bool is_neural(BlockKind kind) {
  switch (kind) {
    case BlockKind::InputConv2D:
    case BlockKind::Conv2D:
    case BlockKind::DepthwiseConv2D:
    case BlockKind::Dense:
    case BlockKind::BufferTempConv:
    case BlockKind::DepthwiseBufferTempConv:
    case BlockKind::SeparableConv2D: return true;
    default: return false;
  }
}

bool is_spatial_conv(BlockKind kind) {
  return kind == BlockKind::InputConv2D || kind == BlockKind::Conv2D ||
         kind == BlockKind::DepthwiseConv2D || kind == BlockKind::SeparableConv2D;
}

bool is_temporal(BlockKind kind) {
  return kind == BlockKind::BufferTempConv || kind == BlockKind::DepthwiseBufferTempConv;
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < dims.size(); ++i) out << (i ? ", " : "") << dims[i];
  out << "]";
  return out.str();
}

long double pow2(int64_t exponent) { return std::ldexp(1.0L, static_cast<int>(exponent)); }

// Validation context of one block: the graph and block for messages.
class Checker {
 public:
  Checker(const QuantizedGraph& graph, const Block& block) : graph_(graph), block_(block) {}

  [[noreturn]] void shape_error(const std::string& field, const std::string& message) const {
    throw ShapeError(where(graph_, block_, field) + message);
  }
  [[noreturn]] void unsupported(const std::string& field, const std::string& message) const {
    throw UnsupportedError(where(graph_, block_, field) + message);
  }

  void require_range(const std::string& field, int64_t value, int64_t lo, int64_t hi) const {
    if (value < lo || value > hi)
      shape_error(field, std::to_string(value) + " is outside [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "]");
  }

  // A per-channel vector: `channels` values, or one value for all. `fallback` fills an empty one.
  template <typename T>
  std::vector<T> per_channel(const std::string& field, const std::vector<T>& values,
                             int64_t channels, T fallback) const {
    if (values.empty()) return std::vector<T>(static_cast<size_t>(channels), fallback);
    if (values.size() == 1) return std::vector<T>(static_cast<size_t>(channels), values[0]);
    if (static_cast<int64_t>(values.size()) != channels)
      shape_error(field, "has " + std::to_string(values.size()) + " values, expected 1 or " +
                             std::to_string(channels) + " (one per channel)");
    return values;
  }

  // The weights tensor has `rank` dims and as many values as its dims say.
  void check_weights_tensor(size_t rank, const std::string& layout) const {
    const IntTensor& w = block_.weights;
    if (w.shape.size() != rank)
      shape_error("weights", "shape " + dims_text(w.shape) + " has " +
                                 std::to_string(w.shape.size()) + " dimensions, expected " +
                                 std::to_string(rank) + " " + layout);
    int64_t count = 1;
    for (int64_t d : w.shape) {
      if (d < 1) shape_error("weights", "shape " + dims_text(w.shape) + " has a dimension < 1");
      if (count > (int64_t{1} << 40) / d)
        shape_error("weights", "shape " + dims_text(w.shape) + " is unreasonably large");
      count *= d;
    }
    if (static_cast<int64_t>(w.values.size()) != count)
      shape_error("weights", "has " + std::to_string(w.values.size()) + " values, shape " +
                                 dims_text(w.shape) + " needs " + std::to_string(count));
    require_range("weights_bits", block_.weights_bits, 1, 32);
    const int64_t lo = signed_min(block_.weights_bits), hi = signed_max(block_.weights_bits);
    for (size_t i = 0; i < w.values.size(); ++i)
      if (w.values[i] < lo || w.values[i] > hi)
        shape_error("weights", "value " + std::to_string(w.values[i]) + " at index " +
                                   std::to_string(i) + " does not fit weights_bits " +
                                   std::to_string(block_.weights_bits));
  }

  // SeparableConv2D's pointwise kernel: (C, F), one value per element, within its bit width.
  void check_pointwise_tensor(int64_t channels) const {
    const IntTensor& w = block_.pointwise_weights;
    if (w.shape.size() != 2 || w.shape[0] != channels || w.shape[1] < 1 ||
        w.shape[1] > (int64_t{1} << 24))
      shape_error("pointwise_weights", "shape " + dims_text(w.shape) + ", expected (" +
                                           std::to_string(channels) + ", F)");
    if (static_cast<int64_t>(w.values.size()) != w.shape[0] * w.shape[1])
      shape_error("pointwise_weights", "has " + std::to_string(w.values.size()) +
                                           " values for shape " + dims_text(w.shape));
    require_range("pointwise_weights_bits", block_.pointwise_weights_bits, 1, 32);
    const int64_t lo = signed_min(block_.pointwise_weights_bits);
    const int64_t hi = signed_max(block_.pointwise_weights_bits);
    for (size_t i = 0; i < w.values.size(); ++i)
      if (w.values[i] < lo || w.values[i] > hi)
        shape_error("pointwise_weights", "value " + std::to_string(w.values[i]) + " at index " +
                                             std::to_string(i) + " does not fit " +
                                             std::to_string(block_.pointwise_weights_bits) +
                                             " bits");
  }

  void require_dim(int axis, int64_t expected, const std::string& meaning) const {
    const int64_t actual = block_.weights.shape[static_cast<size_t>(axis)];
    if (actual != expected)
      shape_error("weights", "shape " + dims_text(block_.weights.shape) + ": dimension " +
                                 std::to_string(axis) + " (" + meaning + ") is " +
                                 std::to_string(actual) + ", expected " + std::to_string(expected));
  }

  Window window(const std::string& field, int64_t in, int64_t size, int64_t stride,
                PaddingKind padding) const {
    if (size < 1) shape_error(field, "size " + std::to_string(size) + " is < 1");
    if (stride < 1) shape_error(field, "stride " + std::to_string(stride) + " is < 1");
    Window w{in, 0, size, stride, 0};
    if (padding == PaddingKind::Valid) {
      if (in < size)
        shape_error(field, "window " + std::to_string(size) + " is larger than the input (" +
                               std::to_string(in) + ") with Valid padding");
      w.out = (in - size) / stride + 1;
      return w;
    }
    // TF "SAME": as many outputs as strides fit; the total pad is what the last window needs.
    w.out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((w.out - 1) * stride + size - in, 0);
    w.pad_before = padding == PaddingKind::Same ? total / 2 : total - total / 2;
    return w;
  }

  // Fields a kind does not use must keep their defaults: silently ignoring them would hide a
  // front-end bug from the very oracle meant to catch it.
  void require_unused(bool weights, bool neural_fields, bool add_shifts, bool output_and_relu,
                      bool scales) const {
    const Block& b = block_;
    if (weights && (!b.weights.shape.empty() || !b.weights.values.empty()))
      unsupported("weights", "not used by this kind of block");
    if (neural_fields) {
      if (!b.bias.empty()) unsupported("bias", "not used by this kind of block");
      if (b.pool.kind != PoolKind::None || b.pool.padding != PaddingKind::Valid)
        unsupported("pool", "not used by this kind of block");
      if (!b.input_shift.empty()) unsupported("input_shift", "not used by this kind of block");
      if (!b.padding_value.empty()) unsupported("padding_value", "not used by this kind of block");
      if (b.fifo_size != 0) unsupported("fifo_size", "not used by this kind of block");
      if (b.stride != 1) unsupported("stride", "not used by this kind of block");
      if (b.padding != PaddingKind::Valid) unsupported("padding", "not used by this kind of block");
    }
    if (add_shifts && (!b.a_shift.empty() || !b.b_shift.empty()))
      unsupported(b.a_shift.empty() ? "b_shift" : "a_shift", "only used by Add blocks");
    if (output_and_relu) {
      if (b.output) unsupported("output", "not used by this kind of block");
      if (b.relu || !b.relu_max.empty()) unsupported("relu", "not used by this kind of block");
      if (b.lut) unsupported("lut", "not used by this kind of block");
    }
    if (scales && !b.scales.empty()) unsupported("scales", "only used by Dequantizer blocks");
  }

 private:
  const QuantizedGraph& graph_;
  const Block& block_;
};

// Largest magnitude of a value saturated to an output range.
long double range_bound(int bits, bool is_signed) {
  return is_signed ? pow2(bits - 1) : pow2(bits) - 1;
}

// A scale-out's per-channel scales and shifts, validated (fields named `prefix` + "scale"...).
void prepare_scale_and_shift(const Checker& check, const std::string& prefix,
                             const OutputStage& stage, int64_t channels,
                             std::vector<int64_t>& scale, std::vector<int64_t>& shift) {
  scale = check.per_channel<int64_t>(prefix + "scale", stage.scale, channels, 1);
  const std::vector<int32_t> shifts =
      check.per_channel<int32_t>(prefix + "shift", stage.shift, channels, 0);
  shift.assign(shifts.begin(), shifts.end());
  for (int64_t s : scale) check.require_range(prefix + "scale", s, 1, int64_t{1} << 31);
  // Right shifts beyond 62 would shift out every bit of an int64; left shifts beyond 31 would
  // saturate any non-zero value of a <= 32-bit output anyway (see apply_output_stage).
  for (int64_t s : shift) check.require_range(prefix + "shift", s, -62, 31);
  check.require_range(prefix + "post_op_buffer_bits", stage.post_op_buffer_bits, 2, 63);
}

// Legacy activation: 2^bits - 1 non-decreasing boundaries per channel (or one list for all), the
// only activation and output of its block. Returns the bound of the levels.
long double prepare_levels(const Checker& check, const Block& block, int64_t channels) {
  const LevelActivation& levels = *block.levels;
  if (block.relu || block.lut || block.output)
    check.unsupported("levels", "set with a ReLU, a LUT or an output stage (one activation at most)");
  check.require_range("levels.bits", levels.bits, 1, 8);
  const auto count = static_cast<int64_t>(levels.boundaries.size());
  if (count != 1 && count != channels)
    check.shape_error("levels.boundaries", "has " + std::to_string(count) +
                                               " channels, expected 1 or " + std::to_string(channels));
  const size_t per_channel = (size_t{1} << levels.bits) - 1;
  for (const std::vector<int64_t>& b : levels.boundaries)
    if (b.size() != per_channel || !std::is_sorted(b.begin(), b.end()))
      check.shape_error("levels.boundaries", "each channel needs " + std::to_string(per_channel) +
                                                 " non-decreasing boundaries");
  return static_cast<long double>(per_channel);
}

// Prepared output stage (or the raw accumulator's saturation); returns the output's bound.
long double prepare_output_stage(const Checker& check, const Block& block, PreparedBlock& p,
                                 long double acc_bound) {
  const int64_t channels = p.output_shape.c;
  if (!block.output) return std::min(acc_bound, pow2(block.buffer_bits - 1));
  const OutputStage& stage = *block.output;
  prepare_scale_and_shift(check, "output.", stage, channels, p.scale, p.shift);
  check.require_range("output.output_bits", stage.output_bits, 1, stage.output_signed ? 32 : 31);
  const long double max_scale =
      static_cast<long double>(*std::max_element(p.scale.begin(), p.scale.end()));
  if (acc_bound * max_scale >= kSafeBound)
    check.unsupported("output.scale", "accumulator (up to 2^" +
                                          std::to_string(std::ilogb(acc_bound) + 1) +
                                          ") times scale could overflow int64");
  return range_bound(stage.output_bits, stage.output_signed);
}

// LUT: a per-channel scale-out to a signed index range, and a table covering exactly that range.
// Returns the bound of the table's values, which replace the accumulator.
long double prepare_lut(const Checker& check, const Block& block, PreparedBlock& p,
                        int64_t channels, long double acc_bound) {
  const LutActivation& lut = *block.lut;
  const OutputStage& stage = lut.scale_out;
  if (block.relu) check.unsupported("lut", "set on a block with a ReLU (one activation at most)");
  prepare_scale_and_shift(check, "lut.scale_out.", stage, channels, p.lut_scale, p.lut_shift);
  if (!stage.output_signed)
    check.unsupported("lut.scale_out.output_signed", "the table index is a signed value");
  check.require_range("lut.scale_out.output_bits", stage.output_bits, 1, 20);
  const size_t size = size_t{1} << stage.output_bits;
  if (lut.table.size() != size)
    check.shape_error("lut.table", "has " + std::to_string(lut.table.size()) +
                                       " values, expected 2^" +
                                       std::to_string(stage.output_bits) + " = " +
                                       std::to_string(size) + " (one per index value)");
  const long double max_scale =
      static_cast<long double>(*std::max_element(p.lut_scale.begin(), p.lut_scale.end()));
  if (acc_bound * max_scale >= kSafeBound)
    check.unsupported("lut.scale_out.scale", "accumulator times scale could overflow int64");
  long double bound = 0;
  for (int64_t v : lut.table) {
    check.require_range("lut.table", v, -(int64_t{1} << 32), int64_t{1} << 32);
    bound = std::max(bound, static_cast<long double>(std::llabs(v)));
  }
  return bound;
}

struct GraphState {
  std::vector<PreparedBlock> blocks;
  std::vector<long double> bounds;  // magnitude bound of each block's output
  std::map<std::string, int> index_of;
  Shape input_shape;
  long double input_bound = 0;
};

Shape shape_of(const GraphState& state, int index) {
  return index == kModelInput ? state.input_shape
                              : state.blocks[static_cast<size_t>(index)].output_shape;
}
long double bound_of(const GraphState& state, int index) {
  return index == kModelInput ? state.input_bound : state.bounds[static_cast<size_t>(index)];
}

void resolve_inbound(const Checker& check, const QuantizedGraph& graph, const Block& block,
                     const GraphState& state, PreparedBlock& p) {
  if (block.inbound.empty()) {
    p.inbound = {kModelInput};
  }
  for (const std::string& name : block.inbound) {
    if (name == block.name) check.shape_error("inbound", "the block is its own inbound");
    const auto found = state.index_of.find(name);
    if (found == state.index_of.end()) {
      const bool later = std::any_of(graph.blocks.begin(), graph.blocks.end(),
                                     [&](const Block& b) { return b.name == name; });
      check.shape_error("inbound", later ? "block '" + name +
                                               "' comes after it (blocks must be in "
                                               "topological order)"
                                         : "unknown block '" + name + "'");
    }
    if (graph.blocks[static_cast<size_t>(found->second)].kind == BlockKind::Dequantizer)
      check.unsupported("inbound", "block '" + name + "' is a Dequantizer (float output)");
    p.inbound.push_back(found->second);
  }
  for (int index : p.inbound) p.input_shapes.push_back(shape_of(state, index));
}

// The neural op's output dims and the number of products summed into one accumulator.
int64_t prepare_neural_op(const Checker& check, const Block& block, PreparedBlock& p) {
  const Shape in = p.input_shapes[0];
  const std::vector<int64_t>& w = block.weights.shape;
  switch (block.kind) {
    case BlockKind::InputConv2D:
    case BlockKind::Conv2D:
      check.check_weights_tensor(4, "(kx, ky, C, F)");
      check.require_dim(2, in.c, "input channels C");
      p.conv_x = check.window("weights", in.x, w[0], block.stride, block.padding);
      p.conv_y = check.window("weights", in.y, w[1], block.stride, block.padding);
      p.neural_shape = {p.conv_x.out, p.conv_y.out, w[3]};
      return w[0] * w[1] * w[2];
    case BlockKind::DepthwiseConv2D:
      check.check_weights_tensor(3, "(kx, ky, C)");
      check.require_dim(2, in.c, "channels C");
      p.conv_x = check.window("weights", in.x, w[0], block.stride, block.padding);
      p.conv_y = check.window("weights", in.y, w[1], block.stride, block.padding);
      p.neural_shape = {p.conv_x.out, p.conv_y.out, in.c};
      return w[0] * w[1];
    case BlockKind::SeparableConv2D: {
      check.check_weights_tensor(3, "(kx, ky, C)");
      check.require_dim(2, in.c, "channels C");
      check.check_pointwise_tensor(in.c);
      p.conv_x = check.window("weights", in.x, w[0], block.stride, block.padding);
      p.conv_y = check.window("weights", in.y, w[1], block.stride, block.padding);
      p.neural_shape = {p.conv_x.out, p.conv_y.out, block.pointwise_weights.shape[1]};
      // One potential sums kx*ky*C products of an input and a depthwise-times-pointwise weight;
      // the caller bounds max|w| with the depthwise kernel, so the pointwise factor goes here.
      int64_t pw_max = 0;
      for (int64_t v : block.pointwise_weights.values) pw_max = std::max<int64_t>(pw_max, std::llabs(v));
      return w[0] * w[1] * w[2] * std::max<int64_t>(pw_max, 1);
    }
    case BlockKind::Dense:
      check.check_weights_tensor(2, "(X, F)");
      check.require_dim(0, in.size(), "flattened input size x*y*c");
      p.neural_shape = {1, 1, w[1]};
      return w[0];
    case BlockKind::BufferTempConv:
      check.check_weights_tensor(3, "(T, C, F)");
      check.require_dim(0, block.fifo_size, "T = fifo_size");
      check.require_dim(1, in.c, "input channels C");
      p.neural_shape = {in.x, in.y, w[2]};
      return w[0] * w[1];
    case BlockKind::DepthwiseBufferTempConv:
      check.check_weights_tensor(2, "(T, C)");
      check.require_dim(0, block.fifo_size, "T = fifo_size");
      check.require_dim(1, in.c, "channels C");
      p.neural_shape = {in.x, in.y, in.c};
      return w[0];
    default: break;
  }
  return 0;
}

long double prepare_neural(const Checker& check, const Block& block, const GraphState& state,
                           PreparedBlock& p) {
  if (p.inbound.size() != 1)
    check.shape_error(
        "inbound", "has " + std::to_string(p.inbound.size()) + " blocks, a neural block takes one");
  const Shape in = p.input_shapes[0];
  check.require_unused(false, false, true, false, true);
  if (block.kind != BlockKind::SeparableConv2D &&
      (!block.pointwise_weights.shape.empty() || !block.pointwise_weights.values.empty()))
    check.unsupported("pointwise_weights", "only SeparableConv2D blocks have one");
  if (block.global_pool_before_relu && block.pool.kind != PoolKind::GlobalAverage)
    check.unsupported("global_pool_before_relu", "set on a block without global pooling");
  if (!is_spatial_conv(block.kind) && block.stride != 1)
    check.unsupported("stride", std::to_string(block.stride) + " (only convolutions have one)");
  if (is_temporal(block.kind)) {
    if (block.fifo_size < 1)
      check.shape_error("fifo_size", std::to_string(block.fifo_size) + " is < 1");
  } else if (block.fifo_size != 0) {
    check.unsupported("fifo_size", "only temporal blocks have a FIFO");
  }
  if (!block.padding_value.empty() && block.kind != BlockKind::InputConv2D)
    check.unsupported("padding_value", "only InputConv2D pads with a value other than 0");
  check.require_range("buffer_bits", block.buffer_bits, 2, 32);

  const int64_t terms = prepare_neural_op(check, block, p);
  p.input_shift = check.per_channel<int64_t>(
      "input_shift", {block.input_shift.begin(), block.input_shift.end()}, in.c, 0);
  for (int64_t s : p.input_shift) check.require_range("input_shift", s, 0, 31);
  p.padding_value = check.per_channel<int64_t>("padding_value", block.padding_value, in.c, 0);
  p.bias = check.per_channel<int64_t>("bias", block.bias, p.neural_shape.c, 0);
  // |bias| <= 2^62 keeps acc + bias (|acc| <= 2^31 after saturation) inside int64.
  for (int64_t b : p.bias) check.require_range("bias", b, -(int64_t{1} << 62), int64_t{1} << 62);

  // The sum of products is exact in int64 when terms * max|x| * max|w| < 2^62.
  long double x_bound = bound_of(state, p.inbound[0]) *
                        pow2(*std::max_element(p.input_shift.begin(), p.input_shift.end()));
  for (int64_t v : p.padding_value) {
    check.require_range("padding_value", v, -(int64_t{1} << 32), int64_t{1} << 32);
    x_bound = std::max(x_bound, static_cast<long double>(std::llabs(v)));
  }
  int64_t w_max = 0;
  for (int64_t v : block.weights.values) w_max = std::max<int64_t>(w_max, std::llabs(v));
  if (x_bound * static_cast<long double>(w_max) * static_cast<long double>(terms) >= kSafeBound)
    check.unsupported("weights",
                      "a sum of " + std::to_string(terms) + " products could overflow int64");

  Shape shape = p.neural_shape;
  const Pooling& pool = block.pool;
  if (pool.kind != PoolKind::Max && pool.padding != PaddingKind::Valid)
    check.unsupported("pool.padding", "only a max pooling has a padding");
  if (pool.kind == PoolKind::Max) {
    // The pool's own padding, as the source model computes it (not necessarily the conv's).
    p.pool_x = check.window("pool", shape.x, pool.size, pool.stride, pool.padding);
    p.pool_y = check.window("pool", shape.y, pool.size, pool.stride, pool.padding);
    shape = {p.pool_x.out, p.pool_y.out, shape.c};
  }
  if (!block.relu && !block.relu_max.empty())
    check.unsupported("relu_max", "set on a block without relu");
  if (block.relu && !block.relu_max.empty()) {
    p.relu_max = check.per_channel<int64_t>("relu_max", block.relu_max, shape.c, 0);
    for (int64_t m : p.relu_max) check.require_range("relu_max", m, 0, INT64_MAX);
  }
  // After saturation (and the max pool / ReLU, which only narrow it) |acc| <= 2^(buffer_bits-1);
  // the global sum multiplies that bound by the number of positions.
  long double acc_bound = pow2(block.buffer_bits - 1);
  if (block.lut) acc_bound = prepare_lut(check, block, p, shape.c, acc_bound);
  if (block.levels) acc_bound = prepare_levels(check, block, shape.c);
  if (block.pool.kind == PoolKind::GlobalAverage) {
    acc_bound *= static_cast<long double>(shape.x * shape.y);
    shape = {1, 1, shape.c};
  }
  p.output_shape = shape;
  return prepare_output_stage(check, block, p, acc_bound);
}

long double prepare_add(const Checker& check, const Block& block, const GraphState& state,
                        PreparedBlock& p) {
  check.require_unused(true, true, false, false, true);
  if (block.inbound.size() != 2)
    check.shape_error("inbound",
                      "has " + std::to_string(block.inbound.size()) + " blocks, Add takes two");
  if (p.input_shapes[0] != p.input_shapes[1])
    check.shape_error("inbound", "shapes " + akida::to_string(p.input_shapes[0]) + " and " +
                                     akida::to_string(p.input_shapes[1]) + " differ");
  p.output_shape = p.input_shapes[0];
  const int64_t channels = p.output_shape.c;
  p.a_shift = check.per_channel<int64_t>("a_shift", {block.a_shift.begin(), block.a_shift.end()},
                                         channels, 0);
  p.b_shift = check.per_channel<int64_t>("b_shift", {block.b_shift.begin(), block.b_shift.end()},
                                         channels, 0);
  for (int64_t s : p.a_shift) check.require_range("a_shift", s, 0, 31);
  for (int64_t s : p.b_shift) check.require_range("b_shift", s, 0, 31);
  check.require_range("buffer_bits", block.buffer_bits, 2, 32);
  if (block.lut) check.unsupported("lut", "Add has no lookup-table activation");
  const long double sum_bound =
      bound_of(state, p.inbound[0]) * pow2(*std::max_element(p.a_shift.begin(), p.a_shift.end())) +
      bound_of(state, p.inbound[1]) * pow2(*std::max_element(p.b_shift.begin(), p.b_shift.end()));
  if (sum_bound >= kSafeBound) check.unsupported("a_shift", "the shifted sum could overflow int64");
  if (block.relu && !block.relu_max.empty()) {
    p.relu_max = check.per_channel<int64_t>("relu_max", block.relu_max, p.output_shape.c, 0);
    for (int64_t m : p.relu_max) check.require_range("relu_max", m, 0, INT64_MAX);
  } else if (!block.relu_max.empty()) {
    check.unsupported("relu_max", "set on a block without relu");
  }
  return prepare_output_stage(check, block, p, pow2(block.buffer_bits - 1));
}

long double prepare_concatenate(const Checker& check, const Block& block, const GraphState& state,
                                PreparedBlock& p) {
  check.require_unused(true, true, true, true, true);
  if (block.inbound.size() < 2)
    check.shape_error("inbound", "has " + std::to_string(block.inbound.size()) +
                                     " blocks, Concatenate takes at least two");
  Shape out = p.input_shapes[0];
  out.c = 0;
  long double bound = 0;
  for (size_t i = 0; i < p.inbound.size(); ++i) {
    const Shape s = p.input_shapes[i];
    if (s.x != out.x || s.y != out.y)
      check.shape_error("inbound", "block '" + block.inbound[i] + "' has shape " +
                                       akida::to_string(s) + ", its (x, y) differ from " +
                                       akida::to_string(p.input_shapes[0]));
    out.c += s.c;
    bound = std::max(bound, bound_of(state, p.inbound[i]));
  }
  p.output_shape = out;
  return bound;
}

void prepare_dequantizer(const Checker& check, const Block& block, PreparedBlock& p) {
  check.require_unused(true, true, true, true, false);
  if (p.inbound.size() != 1)
    check.shape_error(
        "inbound", "has " + std::to_string(p.inbound.size()) + " blocks, a Dequantizer takes one");
  if (block.scales.empty()) check.shape_error("scales", "is empty");
  p.output_shape = p.input_shapes[0];
  p.dequant_scales = check.per_channel<float>("scales", block.scales, p.output_shape.c, 1.0f);
  for (float s : p.dequant_scales)
    if (!std::isfinite(s)) check.shape_error("scales", "holds a non-finite value");
  if (!block.divisors.empty())
    p.dequant_divisors = check.per_channel<float>("divisors", block.divisors, p.output_shape.c, 1.0f);
  for (float d : p.dequant_divisors)
    if (!std::isfinite(d) || d == 0.0f) check.shape_error("divisors", "holds a zero or non-finite value");
}

void check_graph_input(const QuantizedGraph& graph) {
  const std::string prefix = (graph.source.empty() ? "" : graph.source + ": ") + "graph: field ";
  const Shape& s = graph.input_shape;
  if (s.x < 1 || s.y < 1 || s.c < 1)
    throw ShapeError(prefix + "'input_shape': " + akida::to_string(s) + " has a dimension < 1");
  const int max_bits = graph.input_signed ? 32 : 31;  // the values must fit akida::Batch's int32
  if (graph.input_bits < 1 || graph.input_bits > max_bits)
    throw ShapeError(prefix + "'input_bits': " + std::to_string(graph.input_bits) +
                     " is outside [1, " + std::to_string(max_bits) + "]");
  if (graph.blocks.empty()) throw ShapeError(prefix + "'blocks': the graph has no blocks");
}

}  // namespace

std::vector<PreparedBlock> prepare_blocks(const QuantizedGraph& graph) {
  check_graph_input(graph);
  GraphState state;
  state.input_shape = graph.input_shape;
  state.input_bound = range_bound(graph.input_bits, graph.input_signed);
  for (const Block& block : graph.blocks) {
    const Checker check(graph, block);
    if (block.name.empty()) check.shape_error("name", "is empty");
    if (state.index_of.count(block.name)) check.shape_error("name", "is not unique");
    PreparedBlock p;
    p.block = &block;
    resolve_inbound(check, graph, block, state, p);
    long double bound = 0;
    if (is_neural(block.kind)) {
      bound = prepare_neural(check, block, state, p);
    } else if (block.kind == BlockKind::Add) {
      bound = prepare_add(check, block, state, p);
    } else if (block.kind == BlockKind::Concatenate) {
      bound = prepare_concatenate(check, block, state, p);
    } else {
      prepare_dequantizer(check, block, p);
    }
    if (is_temporal(block.kind)) reset_fifo(p);
    state.index_of[block.name] = static_cast<int>(state.blocks.size());
    state.blocks.push_back(std::move(p));
    state.bounds.push_back(bound);
  }
  return std::move(state.blocks);
}

void validate_input_quantizer(const QuantizedGraph& graph) {
  if (!graph.input_quantizer) return;
  const InputQuantizer& q = *graph.input_quantizer;
  const std::string prefix =
      (graph.source.empty() ? "" : graph.source + ": ") + "input quantizer: field ";
  const auto check_length = [&](const std::string& field, size_t size, bool allow_empty) {
    const auto channels = static_cast<size_t>(graph.input_shape.c);
    if ((size == 0 && !allow_empty) || (size > 1 && size != channels))
      throw ShapeError(prefix + "'" + field + "': has " + std::to_string(size) +
                       " values, expected 1 or " + std::to_string(channels) + " (one per channel)");
  };
  check_length("scale", q.scale.size(), false);
  check_length("zero_point", q.zero_point.size(), true);
  for (float s : q.scale)
    if (!std::isfinite(s) || s <= 0.0f)
      throw ShapeError(prefix + "'scale': " + std::to_string(s) + " is not a finite value > 0");
  for (int64_t z : q.zero_point)
    if (std::llabs(z) > (int64_t{1} << 32))
      throw ShapeError(prefix + "'zero_point': " + std::to_string(z) + " is out of range");
  if (q.bits != graph.input_bits || q.is_signed != graph.input_signed)
    throw ShapeError(prefix + "'bits': " + std::to_string(q.bits) +
                     (q.is_signed ? " signed" : " unsigned") + " differs from the graph input (" +
                     std::to_string(graph.input_bits) +
                     (graph.input_signed ? " signed)" : " unsigned)"));
}

void reset_fifo(PreparedBlock& block) {
  const auto frame = static_cast<size_t>(block.input_shapes[0].size());
  block.fifo.assign(static_cast<size_t>(block.block->fifo_size), std::vector<int64_t>(frame, 0));
}

}  // namespace cnn2snn::evaluator_detail
