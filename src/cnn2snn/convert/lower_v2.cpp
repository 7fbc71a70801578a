// Lowering of a checked QuantizedGraph to an Akida 2.0 model: parameters, then variables.
//
// Everything here assumes check_v2() found nothing: values are known to fit their Akida storage.
#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "cnn2snn/converter.h"
#include "convert_internal.h"
#include "variables.h"

namespace cnn2snn {

using akida::DType;
using akida::Layer;
using akida::LayerKind;
using akida::Parameters;
using akida::Variable;

akida::LayerKind akida_kind(BlockKind kind) {
  switch (kind) {
    case BlockKind::InputConv2D: return LayerKind::InputConv2D;
    case BlockKind::Conv2D: return LayerKind::Conv2D;
    case BlockKind::DepthwiseConv2D: return LayerKind::DepthwiseConv2D;
    case BlockKind::Dense: return LayerKind::Dense1D;
    case BlockKind::BufferTempConv: return LayerKind::BufferTempConv;
    case BlockKind::DepthwiseBufferTempConv: return LayerKind::DepthwiseBufferTempConv;
    case BlockKind::Add: return LayerKind::Add;
    case BlockKind::Concatenate: return LayerKind::Concatenate;
    case BlockKind::Dequantizer: return LayerKind::Dequantizer;
    case BlockKind::SeparableConv2D: break;  // Akida 1.0 only: rule "v2-kind" refuses it
  }
  throw std::logic_error(std::string("BlockKind ") + block_kind_name(kind) + " has no Akida 2.0 layer");
}

int32_t akida_buffer_bits(BlockKind kind) {
  switch (kind) {
    case BlockKind::InputConv2D:
    case BlockKind::Conv2D:
    case BlockKind::DepthwiseConv2D:
    case BlockKind::Dense:
      return 28;  // the layers' defaults, written as such by BrainChip's ONNX path (tennst, VWW)
    case BlockKind::BufferTempConv:
    case BlockKind::DepthwiseBufferTempConv:
    case BlockKind::Add:
      return 32;
    case BlockKind::Concatenate:
    case BlockKind::Dequantizer:
    case BlockKind::SeparableConv2D:  // no Akida 2.0 layer
      return 0;
  }
  return 0;
}

std::optional<ValueShift> to_value_shift(int64_t x, bool is_signed) {
  const int bits = is_signed ? 7 : 8;  // signed: one bit is the sign
  if (!is_signed && x < 0) return std::nullopt;
  // |x| as unsigned, safe for INT64_MIN.
  const uint64_t magnitude = x < 0 ? uint64_t{0} - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
  // BrainChip: int_bits = ceil(log2|x| + 1e-6), i.e. bit_width(|x|) for every value that can be
  // exact (the epsilon only matters just below large powers of two, which need shift 0 and a value
  // beyond 8 bits anyway); 0 counts as 2^bits.
  const int int_bits = magnitude == 0 ? bits + 1 : static_cast<int>(std::bit_width(magnitude));
  const int shift = std::max(0, int_bits - bits);
  const uint64_t unit = uint64_t{1} << shift;
  if (magnitude % unit != 0) return std::nullopt;
  // Arithmetic shift of an exact multiple: no rounding.
  return ValueShift{x >> shift, shift};
}

std::string to_string(const Incompatibility& incompatibility) {
  std::string text;
  if (!incompatibility.layer.empty()) text = "layer '" + incompatibility.layer + "': ";
  return text + incompatibility.field + ": " + incompatibility.problem;
}

namespace convert_detail {

std::optional<ValueShift> stored_value_shift(const std::vector<int64_t>& values,
                                             const std::vector<int32_t>& shifts, size_t n,
                                             bool is_signed) {
  constexpr int32_t kMaxShift = 31;  // what Akida reads in bias_shift / max_value_shift
  const int64_t x = channel_value(values, n);
  if (shifts.empty()) {
    const auto split = to_value_shift(x, is_signed);
    return split && split->shift <= kMaxShift ? split : std::nullopt;
  }
  const int32_t shift = channel_value(shifts, n);
  if (shift < 0 || shift > kMaxShift) return std::nullopt;
  const int64_t value = x >> shift;  // arithmetic: floor, exact when x is a multiple of 2^shift
  const int64_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
  if (value < lo || value > hi || value * (int64_t{1} << shift) != x) return std::nullopt;
  return ValueShift{value, shift};
}

bool needs_input_data(const QuantizedGraph& graph) {
  return graph.blocks.empty() || graph.blocks.front().kind != BlockKind::InputConv2D;
}

std::string input_data_name(const QuantizedGraph& graph) {
  auto taken = [&](const std::string& name) {
    return std::any_of(graph.blocks.begin(), graph.blocks.end(),
                       [&](const Block& b) { return b.name == name; });
  };
  std::string name = kInputDataName;
  for (int n = 2; taken(name); ++n) name = "InputData_" + std::to_string(n);
  return name;
}

bool is_neural(BlockKind kind) {
  switch (kind) {
    case BlockKind::InputConv2D:
    case BlockKind::Conv2D:
    case BlockKind::DepthwiseConv2D:
    case BlockKind::Dense:
    case BlockKind::BufferTempConv:
    case BlockKind::DepthwiseBufferTempConv:
      return true;
    default:
      return false;
  }
}

bool is_spatial_conv(BlockKind kind) {
  return kind == BlockKind::InputConv2D || kind == BlockKind::Conv2D ||
         kind == BlockKind::DepthwiseConv2D;
}

int64_t input_channels(const Block& block) {
  const auto& s = block.weights.shape;
  switch (block.kind) {
    case BlockKind::InputConv2D:
    case BlockKind::Conv2D:
    case BlockKind::DepthwiseConv2D: return s[2];
    case BlockKind::Dense: return s[0];
    case BlockKind::BufferTempConv:
    case BlockKind::DepthwiseBufferTempConv: return s[1];
    default: return 0;
  }
}

int64_t output_channels(const Block& block) {
  const auto& s = block.weights.shape;
  switch (block.kind) {
    case BlockKind::InputConv2D:
    case BlockKind::Conv2D: return s[3];
    case BlockKind::DepthwiseConv2D: return s[2];
    case BlockKind::Dense: return s[1];
    case BlockKind::BufferTempConv: return s[2];
    case BlockKind::DepthwiseBufferTempConv: return s[1];
    default: return 0;
  }
}

int64_t kernel_x(const Block& block) {
  return is_spatial_conv(block.kind) ? block.weights.shape[0] : 1;
}
int64_t kernel_y(const Block& block) {
  return is_spatial_conv(block.kind) ? block.weights.shape[1] : 1;
}

PaddingKind akida_padding(const Block& block) {
  // A 1x1 kernel pads nothing either way: BrainChip writes Same (the Keras path forces it, the
  // ONNX path tries Same first), as every 1x1 Conv2D of the fixtures shows.
  if (kernel_x(block) == 1 && kernel_y(block) == 1) return PaddingKind::Same;
  return block.padding;
}

int32_t stored_output_shift(int32_t shift, BlockKind kind) {
  return std::max(shift, 1 - akida_buffer_bits(kind));
}

namespace {

int32_t as_i32(int64_t v) { return static_cast<int32_t>(v); }

// Values of the `padding` parameter (akida.Padding).
int32_t padding_code(const Block& block) {
  switch (akida_padding(block)) {
    case PaddingKind::Valid: return 0;
    case PaddingKind::Same: return 1;
    case PaddingKind::SameUpper: return 2;
  }
  return 0;
}

void add_pooling(const Block& block, Parameters& p) {
  // -1 is akida's "unset" for pool_size / pool_stride, written even without pooling.
  p["pool_size"] = -1;
  p["pool_stride"] = -1;
  switch (block.pool.kind) {
    case PoolKind::None: p["pool_type"] = 0; break;
    case PoolKind::Max:
      p["pool_type"] = 1;
      p["pool_size"] = as_i32(block.pool.size);
      p["pool_stride"] = as_i32(block.pool.stride);
      break;
    case PoolKind::GlobalAverage: p["pool_type"] = 2; break;
  }
}

// Keys every neural layer has (what BrainChip 2.17 writes on Conv2D, DepthwiseConv2D, Dense1D,
// BufferTempConv, DepthwiseBufferTempConv).
void add_neural_common(const Block& block, Parameters& p) {
  const int32_t buffer_bits = akida_buffer_bits(block.kind);
  p["activation"] = block.lut ? 2 : block.relu ? 1 : 0;  // akida.ActivationType: None, ReLU, LUT
  p["buffer_bits"] = buffer_bits;
  // No output stage: the layer outputs its accumulator (VWW's classifier: output_bits 28).
  p["output_bits"] = block.output ? block.output->output_bits : buffer_bits;
  p["post_op_buffer_bits"] = block.output ? block.output->post_op_buffer_bits : 32;
  p["weights_bits"] = block.weights_bits;
}

void add_conv(const Block& block, Parameters& p) {
  add_neural_common(block, p);
  if (block.kind != BlockKind::DepthwiseConv2D) p["filters"] = as_i32(output_channels(block));
  p["kernel_size"] = as_i32(kernel_x(block));
  p["kernel_stride"] = as_i32(block.stride);
  p["padding"] = padding_code(block);
  add_pooling(block, p);
}

Parameters block_parameters(const QuantizedGraph& graph, const Block& block) {
  Parameters p;
  switch (block.kind) {
    case BlockKind::InputConv2D:
      add_conv(block, p);
      p["input_x"] = as_i32(graph.input_shape.x);
      p["input_y"] = as_i32(graph.input_shape.y);
      p["input_channels"] = as_i32(graph.input_shape.c);
      break;
    case BlockKind::Conv2D:
    case BlockKind::DepthwiseConv2D:
      add_conv(block, p);
      break;
    case BlockKind::Dense:
      add_neural_common(block, p);
      p["units"] = as_i32(output_channels(block));
      break;
    case BlockKind::BufferTempConv:
    case BlockKind::DepthwiseBufferTempConv:
      add_neural_common(block, p);
      p["fifo_size"] = block.fifo_size;
      if (block.kind == BlockKind::BufferTempConv) p["filters"] = as_i32(output_channels(block));
      break;
    case BlockKind::Add:
      p["buffer_bits"] = akida_buffer_bits(block.kind);
      p["output_bits"] = block.output ? block.output->output_bits : akida_buffer_bits(block.kind);
      p["post_op_buffer_bits"] = block.output ? block.output->post_op_buffer_bits : 32;
      break;
    case BlockKind::Concatenate:
    case BlockKind::Dequantizer:
      break;  // BrainChip writes only layer_type (tennst's dequantizer)
    case BlockKind::SeparableConv2D:
      akida_kind(block.kind);  // throws: no Akida 2.0 layer
  }
  return p;
}

Layer input_data_layer(const QuantizedGraph& graph) {
  Layer layer;
  layer.name = input_data_name(graph);
  layer.kind = LayerKind::InputData;
  layer.parameters = {{"input_bits", graph.input_bits},
                      {"input_channels", as_i32(graph.input_shape.c)},
                      {"input_height", as_i32(graph.input_shape.y)},
                      {"input_signed", graph.input_signed ? 1 : 0},
                      {"input_width", as_i32(graph.input_shape.x)}};
  return layer;
}

}  // namespace

std::vector<Layer> lower_layers_without_variables(const QuantizedGraph& graph) {
  std::vector<Layer> layers;
  const bool with_input_data = needs_input_data(graph);
  const std::string input_name = with_input_data ? input_data_name(graph) : "";
  if (with_input_data) layers.push_back(input_data_layer(graph));
  for (const Block& block : graph.blocks) {
    Layer layer;
    layer.name = block.name;
    layer.kind = akida_kind(block.kind);
    layer.parameters = block_parameters(graph, block);
    layer.inbound = block.inbound;
    if (layer.inbound.empty() && with_input_data) layer.inbound = {input_name};
    layers.push_back(std::move(layer));
  }
  return layers;
}

}  // namespace convert_detail

std::map<std::string, akida::Shape> v2_output_shapes(const QuantizedGraph& graph) {
  akida::Model skeleton;
  skeleton.layers = convert_detail::lower_layers_without_variables(graph);
  const std::vector<akida::Shape> shapes = akida::infer_output_shapes(skeleton);
  std::map<std::string, akida::Shape> by_name;
  for (size_t i = 0; i < shapes.size(); ++i) by_name[skeleton.layers[i].name] = shapes[i];
  return by_name;
}

namespace {

using namespace convert_detail;

// --- variables -------------------------------------------------------------------------------

// A per-channel vector of `count` values: empty gives `fallback` everywhere, one value is
// broadcast (as BrainChip's broadcast_and_set_variable does), otherwise the values as they are.
template <typename T>
std::vector<T> per_channel(const std::vector<T>& values, size_t count, T fallback) {
  if (values.empty()) return std::vector<T>(count, fallback);
  if (values.size() == 1) return std::vector<T>(count, values.front());
  return values;
}

uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }

// Kernel in Akida's layout. Conv2D and DepthwiseConv2D compute a true convolution, so their
// kernels are rotated 180 degrees; InputConv2D correlates, like the source. Every other layout is
// the QuantizedGraph's memory order under another shape (BufferTempConv (T, C, F) is (1, 1, T*C, F)
// indexed t*C + c, as tennst's weights show).
Variable weights_variable(const Block& block) {
  const auto& s = block.weights.shape;
  const auto& w = block.weights.values;
  std::vector<int64_t> values = w;
  std::vector<uint32_t> shape;
  switch (block.kind) {
    case BlockKind::InputConv2D: shape = {u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3])}; break;
    case BlockKind::Conv2D:
    case BlockKind::DepthwiseConv2D: {
      const int64_t kx = s[0], ky = s[1];
      const int64_t inner = block.kind == BlockKind::Conv2D ? s[2] * s[3] : s[2];  // C*F or C
      values = rotated_kernel(w, kx, ky, inner);
      shape = {u32(kx), u32(ky), u32(s[2]), u32(block.kind == BlockKind::Conv2D ? s[3] : 1)};
      break;
    }
    case BlockKind::Dense: shape = {u32(s[0]), u32(s[1])}; break;
    case BlockKind::BufferTempConv: shape = {1, 1, u32(s[0] * s[1]), u32(s[2])}; break;
    case BlockKind::DepthwiseBufferTempConv: shape = {1, 1, u32(s[0]), u32(s[1])}; break;
    default: break;
  }
  return byte_variable("weights", std::move(shape), DType::Int8, values);
}

void add_bias(const Block& block, size_t filters, std::vector<Variable>& vars) {
  std::vector<int64_t> bias(filters, 0), shift(filters, 0);  // no bias: 0 << 0 (VWW's depthwise)
  if (!block.bias.empty()) {
    for (size_t f = 0; f < filters; ++f) {
      const ValueShift vs = *stored_value_shift(block.bias, block.bias_shift, f, true);
      bias[f] = vs.value;
      shift[f] = vs.shift;
    }
  }
  vars.push_back(byte_variable("bias", {u32(filters)}, DType::Int8, bias));
  vars.push_back(byte_variable("bias_shift", {u32(filters)}, DType::UInt8, shift));
}

void add_relu_bound(const Block& block, size_t filters, std::vector<Variable>& vars) {
  if (!block.relu) return;
  // Unbounded: akida's default bound 127 << 31, what BrainChip leaves in tennst's layers.
  std::vector<int64_t> value(filters, 127), shift(filters, 31);
  if (!block.relu_max.empty()) {
    for (size_t f = 0; f < filters; ++f) {
      const ValueShift vs = *stored_value_shift(block.relu_max, block.relu_max_shift, f, false);
      value[f] = vs.value;
      shift[f] = vs.shift;
    }
  }
  vars.push_back(byte_variable("max_value", {u32(filters)}, DType::UInt8, value));
  vars.push_back(byte_variable("max_value_shift", {u32(filters)}, DType::UInt8, shift));
}

// LUT (cnn2snn set_lut_variables): the intermediate scale-out as activation_scales (uint8) and
// activation_shift (int8, clipped like output_shift: BrainChip sets both with the same helper and
// prefix "activation"), and the table, already in Akida's order (by input value from -1024).
void add_lut(const Block& block, size_t filters, std::vector<Variable>& vars) {
  if (!block.lut) return;
  const OutputStage& stage = block.lut->scale_out;
  vars.push_back(byte_variable("activation_scales", {u32(filters)}, DType::UInt8,
                              per_channel(stage.scale, filters, int64_t{1})));
  std::vector<int64_t> shifts;
  for (int32_t s : per_channel(stage.shift, filters, 0))
    shifts.push_back(stored_output_shift(s, block.kind));
  vars.push_back(byte_variable("activation_shift", {u32(filters)}, DType::Int8, shifts));
  vars.push_back(int32_variable("lut_values", {u32(static_cast<int64_t>(block.lut->table.size()))},
                                block.lut->table));
}

std::vector<int64_t> stored_shifts(const Block& block, size_t channels) {
  if (!block.output) return std::vector<int64_t>(channels, 0);
  std::vector<int64_t> shifts;
  for (int32_t s : per_channel(block.output->shift, channels, 0))
    shifts.push_back(stored_output_shift(s, block.kind));
  return shifts;
}

void add_output_stage(const Block& block, size_t filters, std::vector<Variable>& vars) {
  // No output stage: scale 1, shift 0, i.e. the accumulator itself (VWW's classifier).
  const auto scales =
      block.output ? per_channel(block.output->scale, filters, int64_t{1}) : std::vector<int64_t>(filters, 1);
  vars.push_back(byte_variable("output_scales", {u32(filters)}, DType::UInt8, scales));
  vars.push_back(byte_variable("output_shift", {u32(filters)}, DType::Int8, stored_shifts(block, filters)));
}

// The per-channel input shifts of a Dense block whose input has `input_channel_count` channels:
// Akida shifts each input channel, so a shift per flattened (x, y, c) value (the rules checked it
// repeats every c values) becomes one per channel.
std::vector<int32_t> dense_input_shift(const Block& block, size_t input_channel_count) {
  if (block.input_shift.size() <= 1) return per_channel(block.input_shift, input_channel_count, 0);
  return {block.input_shift.begin(), block.input_shift.begin() + input_channel_count};
}

std::vector<Variable> neural_variables(const Block& block, size_t input_channel_count) {
  const size_t filters = static_cast<size_t>(output_channels(block));
  // A Dense1D on a spatial input flattens it: its variables per input channel follow the input's
  // channels, not the kernel's rows.
  const bool spatial_dense = block.kind == BlockKind::Dense && input_channel_count > 0;
  const size_t channels =
      spatial_dense ? input_channel_count : static_cast<size_t>(input_channels(block));
  std::vector<Variable> vars;
  vars.push_back(weights_variable(block));
  add_bias(block, filters, vars);
  add_relu_bound(block, filters, vars);
  add_lut(block, filters, vars);
  add_output_stage(block, filters, vars);
  if (block.kind == BlockKind::InputConv2D) {
    vars.push_back(byte_variable("padding_value", {u32(channels)}, DType::UInt8,
                                per_channel(block.padding_value, channels, int64_t{0})));
  } else {
    // Every other neural layer carries input_shift, all zeros when the block shifts nothing
    // (BrainChip writes it even on DepthwiseConv2D, where quantizeml applies none).
    vars.push_back(byte_variable("input_shift", {u32(channels)}, DType::UInt8,
                                spatial_dense ? dense_input_shift(block, channels)
                                              : per_channel(block.input_shift, channels, 0)));
  }
  return vars;
}

std::vector<Variable> add_variables(const Block& block, size_t channels) {
  std::vector<Variable> vars;
  vars.push_back(byte_variable("a_shift", {u32(channels)}, DType::UInt8,
                              per_channel(block.a_shift, channels, int32_t{0})));
  vars.push_back(byte_variable("b_shift", {u32(channels)}, DType::UInt8,
                              per_channel(block.b_shift, channels, int32_t{0})));
  vars.push_back(byte_variable("output_shift", {u32(channels)}, DType::Int8,
                              stored_shifts(block, channels)));
  return vars;
}

std::vector<Variable> block_variables(const Block& block, size_t input_channel_count) {
  std::vector<Variable> vars;
  if (is_neural(block.kind)) {
    vars = neural_variables(block, input_channel_count);
  } else if (block.kind == BlockKind::Add) {
    vars = add_variables(block, input_channel_count);
  } else if (block.kind == BlockKind::Dequantizer) {
    vars.push_back(float_variable("scales", per_channel(block.scales, input_channel_count, 1.0f)));
  }
  std::sort(vars.begin(), vars.end(),
            [](const Variable& a, const Variable& b) { return a.name < b.name; });
  return vars;
}

}  // namespace

akida::Model convert_to_akida_v2(const QuantizedGraph& graph) {
  const std::vector<Incompatibility> problems = check_v2(graph);
  if (!problems.empty()) {
    std::string message = graph.source.empty() ? std::string("graph") : graph.source;
    message += ": cannot convert to Akida 2.0:";
    for (const auto& p : problems) {
      message += '\n';
      message += to_string(p);
    }
    throw akida::UnsupportedError(message);
  }
  akida::Model model;
  model.version = akida::kWriterVersion;  // parameters follow the 2.17 layout (weights_bits keys)
  model.layers = lower_layers_without_variables(graph);
  const auto shapes = v2_output_shapes(graph);
  const size_t first_block = needs_input_data(graph) ? 1 : 0;
  for (size_t i = 0; i < graph.blocks.size(); ++i) {
    Layer& layer = model.layers[first_block + i];
    // Add, Dequantizer and Dense1D size their per-channel variables on their (first) input.
    const size_t channels =
        layer.inbound.empty() ? 0 : static_cast<size_t>(shapes.at(layer.inbound.front()).c);
    layer.variables = block_variables(graph.blocks[i], channels);
  }
  return model;
}

}  // namespace cnn2snn
