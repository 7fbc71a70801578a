// Lowering of a checked QuantizedGraph to an Akida 1.0 model: parameters, then variables
// (include/cnn2snn/converter_v1.h says what is written and why).
//
// Everything here assumes check_v1() found nothing: values are known to fit their Akida storage.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "akida/runtime/v1_activation.h"
#include "akida/shapes.h"
#include "cnn2snn/converter_v1.h"
#include "convert_internal.h"
#include "variables.h"

namespace cnn2snn {

using akida::DType;
using akida::Layer;
using akida::LayerKind;
using akida::Parameters;
using akida::Variable;

namespace {

using convert_detail::byte_variable;
using convert_detail::float_variable;
using convert_detail::int32_variable;
using convert_detail::rotated_kernel;

int32_t as_i32(int64_t v) { return static_cast<int32_t>(v); }
uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }

LayerKind v1_kind(BlockKind kind) {
  switch (kind) {
    case BlockKind::InputConv2D: return LayerKind::InputConvolutional;
    case BlockKind::Conv2D: return LayerKind::Convolutional;
    case BlockKind::SeparableConv2D: return LayerKind::SeparableConvolutional;
    case BlockKind::Dense: return LayerKind::FullyConnected;
    default: break;
  }
  throw std::logic_error(std::string("no Akida 1.0 layer for ") + block_kind_name(kind));
}

// The Dequantizer reading block `index`, if it is the next block (v1 models are sequential).
const Block* dequantizer_after(const QuantizedGraph& graph, size_t index) {
  if (index + 1 >= graph.blocks.size()) return nullptr;
  const Block& next = graph.blocks[index + 1];
  if (next.kind != BlockKind::Dequantizer) return nullptr;
  if (next.inbound.size() != 1 || next.inbound.front() != graph.blocks[index].name) return nullptr;
  return &next;
}

// Keys of the v1 fixtures (ei_inventory, tenn_v1) and of runtime/geometry. Akida pools with the
// convolution's padding, so the pool has no padding of its own (rule "max-pool-padding").
void add_conv_parameters(const Block& b, Parameters& p) {
  p["filters"] = as_i32(v1_neurons(b));
  p["kernel_width"] = as_i32(b.weights.shape[0]);
  p["kernel_height"] = as_i32(b.weights.shape[1]);
  p["stride_x"] = as_i32(b.stride);
  p["stride_y"] = as_i32(b.stride);
  p["padding"] = b.padding == PaddingKind::Valid ? 0 : 1;
  switch (b.pool.kind) {
    case PoolKind::None: p["pool_type"] = 0; break;
    case PoolKind::Max:
      p["pool_type"] = 1;
      p["pooling_width"] = p["pooling_height"] = as_i32(b.pool.size);
      p["pooling_stride_x"] = p["pooling_stride_y"] = as_i32(b.pool.stride);
      break;
    case PoolKind::GlobalAverage: p["pool_type"] = 2; break;
  }
}

Parameters block_parameters(const QuantizedGraph& graph, const Block& b) {
  Parameters p;
  p["activation"] = v1_activated(b) ? 1 : 0;
  // Without activation act_bits is unused; 1 is akida's constructor default.
  p["act_bits"] = v1_act_bits(b);
  p["weights_bits"] = b.weights_bits;
  if (v1_spatial(b.kind)) add_conv_parameters(b, p);
  if (b.kind == BlockKind::Dense) p["units"] = as_i32(v1_neurons(b));
  if (b.kind == BlockKind::InputConv2D) {
    p["input_width"] = as_i32(graph.input_shape.x);
    p["input_height"] = as_i32(graph.input_shape.y);
    p["input_channels"] = as_i32(graph.input_shape.c);
    // One scalar for every channel (rule "padding-value" checks they are equal).
    p["padding_value"] = b.padding_value.empty() ? 0 : as_i32(b.padding_value.front());
  }
  return p;
}

Layer input_data_layer(const QuantizedGraph& graph) {
  Layer layer;
  layer.name = convert_detail::input_data_name(graph);
  layer.kind = LayerKind::InputData;
  layer.parameters = {{"input_bits", graph.input_bits},
                      {"input_channels", as_i32(graph.input_shape.c)},
                      {"input_height", as_i32(graph.input_shape.y)},
                      {"input_signed", 0},
                      {"input_width", as_i32(graph.input_shape.x)}};
  return layer;
}

std::vector<Layer> layers_without_variables(const QuantizedGraph& graph) {
  std::vector<Layer> layers;
  const bool with_input_data = convert_detail::needs_input_data(graph);
  if (with_input_data) layers.push_back(input_data_layer(graph));
  for (const Block& block : graph.blocks) {
    if (block.kind == BlockKind::Dequantizer) continue;  // folded into act_step
    Layer layer;
    layer.name = block.name;
    layer.kind = v1_kind(block.kind);
    layer.parameters = block_parameters(graph, block);
    layer.inbound = block.inbound;
    if (layer.inbound.empty() && with_input_data) layer.inbound = {layers.front().name};
    layers.push_back(std::move(layer));
  }
  return layers;
}

// Output length of a convolution along one axis (TF padding).
int64_t conv_out(int64_t in, int64_t size, int64_t stride, PaddingKind padding) {
  return padding == PaddingKind::Valid ? (in - size) / stride + 1 : (in + stride - 1) / stride;
}

// The block's input dims in the converted model.
akida::Shape block_input(const QuantizedGraph& graph, const Block& block,
                         const std::map<std::string, akida::Shape>& shapes) {
  if (block.inbound.empty()) return graph.input_shape;
  return shapes.at(block.inbound.front());
}

// --- variables -------------------------------------------------------------------------------

DType weights_dtype(int32_t bits) { return bits > 4 ? DType::Int8 : DType::Int4; }


// Dense (X, F) rows follow the (x, y, c) flatten of the input; FullyConnected reads input k in
// (C, Y, X) order, k = (c·Y + y)·X + x (cnn2snn _convert_dense_weights).
std::vector<int64_t> fully_connected_rows(const std::vector<int64_t>& w, const akida::Shape& in,
                                          int64_t units) {
  std::vector<int64_t> out(w.size());
  for (int64_t x = 0; x < in.x; ++x)
    for (int64_t y = 0; y < in.y; ++y)
      for (int64_t c = 0; c < in.c; ++c) {
        const int64_t memory = (x * in.y + y) * in.c + c;
        const int64_t akida = (c * in.y + y) * in.x + x;
        std::copy_n(w.begin() + memory * units, units, out.begin() + akida * units);
      }
  return out;
}

std::vector<Variable> weight_variables(const Block& b, const akida::Shape& in) {
  const auto& s = b.weights.shape;
  const DType dtype = weights_dtype(b.weights_bits);
  switch (b.kind) {
    case BlockKind::InputConv2D:
      return {byte_variable("weights", {u32(s[3]), u32(s[2]), u32(s[1]), u32(s[0])}, dtype,
                            b.weights.values)};
    case BlockKind::Conv2D:
      return {byte_variable("weights", {u32(s[3]), u32(s[2]), u32(s[1]), u32(s[0])}, dtype,
                            rotated_kernel(b.weights.values, s[0], s[1], s[2] * s[3]))};
    case BlockKind::SeparableConv2D: {
      const auto& pw = b.pointwise_weights.shape;
      return {byte_variable("weights", {1, u32(s[2]), u32(s[1]), u32(s[0])}, dtype,
                            rotated_kernel(b.weights.values, s[0], s[1], s[2])),
              byte_variable("weights_pw", {u32(pw[1]), u32(pw[0]), 1, 1},
                            weights_dtype(b.pointwise_weights_bits), b.pointwise_weights.values)};
    }
    case BlockKind::Dense:
      return {byte_variable("weights", {u32(s[1]), u32(s[0]), 1, 1}, dtype,
                            fully_connected_rows(b.weights.values, in, s[1]))};
    default: return {};
  }
}

// H·W of the potentials a global pooling sums (the convolution's output).
int64_t pooled_positions(const Block& b, const akida::Shape& in) {
  if (b.pool.kind != PoolKind::GlobalAverage) return 1;
  const auto& s = b.weights.shape;
  return conv_out(in.x, s[0], b.stride, b.padding) * conv_out(in.y, s[1], b.stride, b.padding);
}

// --- exact threshold / act_step (docs/akida-v1.md "Exact threshold and act_step") ----------

using Int128 = __int128;

// A non-negative rational num / den (den > 0), small enough for Int128 cross products.
struct Ratio {
  int64_t num = 0;
  int64_t den = 1;
};
bool less(const Ratio& a, const Ratio& b) { return Int128(a.num) * b.den < Int128(b.num) * a.den; }

// The sign of f − r, exactly, for a finite f > 0 and 0 <= r.num < 2^62, 0 < r.den < 2^8.
// f = m · 2^e with an integer m < 2^24 (the runtime reads act_step the same way).
int compare(float f, const Ratio& r) {
  int exponent = 0;
  const double mantissa = std::frexp(static_cast<double>(f), &exponent);
  const Int128 m = static_cast<int64_t>(std::ldexp(mantissa, 24));
  const int e = exponent - 24;
  Int128 lhs = m * r.den, rhs = r.num;
  if (e >= 0) {
    if (e > 60) return 1;  // f >= 2^84 > r
    lhs <<= e;
  } else {
    if (-e > 60) return r.num == 0 ? 1 : -1;  // f < 2^-36 < 1/255 <= r unless r = 0
    rhs <<= -e;
  }
  return lhs < rhs ? -1 : lhs > rhs ? 1 : 0;
}

// The smallest positive float32 >= r (FLT_MIN for r = 0: act_step must be positive).
float smallest_float_at_least(const Ratio& r) {
  if (r.num == 0) return std::numeric_limits<float>::min();
  float f = static_cast<float>(static_cast<long double>(r.num) / r.den);
  while (compare(f, r) < 0) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  for (float below = std::nextafter(f, 0.0f); below > 0 && compare(below, r) >= 0;
       below = std::nextafter(f, 0.0f))
    f = below;
  return f;
}

// The Akida 1.0 activation of one neuron, evaluated by the runtime itself (so that the fit is
// checked against the arithmetic that will run, not a copy of it).
akida::runtime::V1Activation runtime_activation(int64_t threshold, float act_step,
                                                int32_t act_bits) {
  Layer layer;
  layer.name = "fit";
  layer.kind = LayerKind::FullyConnected;
  layer.parameters = {{"activation", 1}, {"act_bits", act_bits}};
  layer.variables = {int32_variable("threshold", {1}, {threshold}), float_variable("act_step", {act_step})};
  return akida::runtime::V1Activation(layer, 1);
}

// Whether the runtime puts potential p on level >= m exactly when p >= boundary_m − offset:
// out(b) >= m and out(b − 1) < m for every m (the runtime's boundaries are non-decreasing).
bool runtime_matches(const std::vector<int64_t>& boundaries, int64_t offset, int64_t threshold,
                     float act_step, int32_t act_bits) {
  const auto activation = runtime_activation(threshold, act_step, act_bits);
  for (size_t i = 0; i < boundaries.size(); ++i) {
    const int64_t m = static_cast<int64_t>(i) + 1, p = boundaries[i] - offset;
    if (activation.output(p, 0) < m || activation.output(p - 1, 0) >= m) return false;
  }
  return true;
}

// np.round of a float32: round half to even, to an integer.
int64_t round_half_even(float value) { return static_cast<int64_t>(std::nearbyint(value)); }

// outputs.py: QuantizeML evaluates y = x · scales · 2^shift; akida 1.0 y = x / act_step, so the
// step is the reciprocal, computed in float32 as TensorFlow does (pow2(−shift) / scales).
float reciprocal_step(const OutputStage& stage, size_t n) {
  const int64_t scale = channel_value(stage.scale, n);
  const int32_t shift = channel_value(stage.shift, n);
  return std::ldexp(1.0f, -shift) / static_cast<float>(scale);
}

// BrainChip's derivation for neuron n (converter_v1.h), the fallback of the fit.
std::pair<int64_t, float> brainchip_variables(const Block& b, size_t n, int64_t bias,
                                              int64_t positions, int32_t act_bits,
                                              const Block* dequantizer) {
  // The bias lives in the threshold; pooling.py: a global sum of H·W potentials needs H·W
  // times the bias.
  int64_t threshold = -bias * positions;
  float step = b.output ? reciprocal_step(*b.output, n) : 1.0f;
  if (b.relu) {
    // outputs.py: "x is decreased by half the activations step" (round half to even of the
    // float32 0.5 · step), then the step is put on act_step's 4-bit scale.
    threshold += round_half_even(0.5f * step);
    step *= std::ldexp(1.0f, act_bits - 4);
  }
  if (dequantizer && !dequantizer->divisors.empty()) {
    const auto& divisors = dequantizer->divisors;
    step *= channel_value(divisors, n);
  } else if (dequantizer) {
    const auto& scales = dequantizer->scales;
    step /= channel_value(scales, n);
  }
  return {threshold, step};
}

// The exact variables of activated neuron n, if any (converter_v1.h).
std::optional<V1Fit> fitted_variables(const Block& b, size_t n, int64_t bias, int64_t positions) {
  const OutputStage& o = *b.output;
  const auto boundaries = quantizeml_v1_boundaries(
      channel_value(o.scale, n),
      channel_value(o.shift, n), o.output_bits, o.post_op_buffer_bits);
  if (!boundaries) return std::nullopt;
  return fit_v1_neuron(*boundaries, bias * positions, o.output_bits);
}

// A legacy activation (LevelActivation) of neuron n: the exact fit of its boundaries, else
// BrainChip's legacy derivation (cnn2snn weights_ops.py _convert_layer_thresholds):
// threshold = floor(first edge), act_step = float32(spacing · 2^bits / 16).
std::tuple<int64_t, float, bool> legacy_variables(const LevelActivation& levels, size_t n) {
  const size_t c = levels.boundaries.size() == 1 ? 0 : n;
  if (auto fit = fit_v1_neuron(levels.boundaries[c], 0, levels.bits))
    return {fit->threshold, fit->act_step, true};
  const double spacing = channel_value(levels.spacing, c);
  const double edge = channel_value(levels.first_edge, c);
  return {static_cast<int64_t>(std::floor(edge)),
          static_cast<float>(spacing * std::ldexp(1.0, levels.bits - 4)), false};
}

}  // namespace

bool v1_activated(const Block& b) { return b.relu || b.levels.has_value(); }

int32_t v1_act_bits(const Block& b) {
  if (b.levels) return b.levels->bits;
  return b.output ? b.output->output_bits : 1;
}

int64_t v1_neurons(const Block& b) {
  switch (b.kind) {
    case BlockKind::InputConv2D:
    case BlockKind::Conv2D: return b.weights.shape[3];
    case BlockKind::SeparableConv2D: return b.pointwise_weights.shape[1];
    case BlockKind::Dense: return b.weights.shape[1];
    default: return 0;
  }
}

bool v1_spatial(BlockKind kind) {
  return kind == BlockKind::InputConv2D || kind == BlockKind::Conv2D ||
         kind == BlockKind::SeparableConv2D;
}

bool V1NeuronVariables::all_exact() const {
  return std::all_of(exact.begin(), exact.end(), [](bool e) { return e; });
}

std::optional<std::vector<int64_t>> quantizeml_v1_boundaries(int64_t scale, int32_t shift,
                                                             int32_t output_bits,
                                                             int32_t post_op_buffer_bits) {
  if (scale < 1 || output_bits < 1 || output_bits > 8 || shift < -62 || shift > 62) return std::nullopt;
  constexpr Int128 kLimit = Int128{1} << 48;
  const Int128 saturation = (Int128{1} << std::min(post_op_buffer_bits - 1, 100)) - 1;
  std::vector<int64_t> boundaries;
  for (int64_t m = 1; m < (int64_t{1} << output_bits); ++m) {
    // Level >= m  ⇔  x·s >= t_m with t_m = (2m − 1)·2^(k − 1) (shift = −k < 0: round half up of
    // x·s / 2^k) or t_m = ceil(m / 2^shift) (shift >= 0); then x >= ceil(t_m / s). x·s saturates
    // at `saturation` first: t_m above it is never reached.
    const Int128 t = shift < 0 ? Int128(2 * m - 1) << (-shift - 1)
                               : (Int128(m) + (Int128{1} << shift) - 1) >> shift;
    if (t > saturation) return std::nullopt;
    const Int128 b = (t + scale - 1) / scale;
    if (b > kLimit) return std::nullopt;
    boundaries.push_back(static_cast<int64_t>(b));
  }
  return boundaries;
}

std::optional<V1Fit> fit_v1_neuron(const std::vector<int64_t>& boundaries, int64_t offset,
                                   int32_t act_bits) {
  if (boundaries.empty() || act_bits < 1 || act_bits > 8 ||
      boundaries.size() != (size_t{1} << act_bits) - 1)
    return std::nullopt;
  // Level 1: floor(0·q) = 0, so p >= threshold + 1 ⇔ x >= B_1 forces threshold + offset = B_1 − 1.
  const int64_t b1 = boundaries.front();
  // Level m >= 2: floor((m − 1)·q) = B_m − B_1  ⇔  q ∈ [(B_m − B_1)/(m − 1), (B_m − B_1 + 1)/(m − 1)).
  Ratio lo{0, 1};
  std::optional<Ratio> hi;
  for (size_t i = 1; i < boundaries.size(); ++i) {
    const int64_t d = boundaries[i] - b1, steps = static_cast<int64_t>(i);
    if (d < 0 || d >= (int64_t{1} << 50)) return std::nullopt;
    const Ratio low{d, steps}, high{d + 1, steps};
    if (less(lo, low)) lo = low;
    if (!hi || less(high, *hi)) hi = high;
  }
  float q = smallest_float_at_least(lo);
  if (hi && compare(q, *hi) >= 0) return std::nullopt;  // empty, or no float32 inside
  // One level (act_bits 1): any q works; keep it away from 0 (act_step must be positive).
  if (!hi) q = 1.0f;
  const V1Fit fit{b1 - 1 - offset, std::ldexp(q, act_bits - 4)};
  // threshold is an int32 variable (the "neuron-variables" rule then limits it to 20 bits).
  if (fit.threshold < std::numeric_limits<int32_t>::min() ||
      fit.threshold > std::numeric_limits<int32_t>::max())
    return std::nullopt;
  if (!std::isfinite(fit.act_step) || fit.act_step <= 0 ||
      !runtime_matches(boundaries, offset, fit.threshold, fit.act_step, act_bits))
    return std::nullopt;
  return fit;
}

V1NeuronVariables v1_neuron_variables(const QuantizedGraph& graph, size_t index) {
  const Block& b = graph.blocks[index];
  const auto shapes = v1_output_shapes(graph);
  const int64_t count = v1_neurons(b);
  const int64_t positions = pooled_positions(b, block_input(graph, b, shapes));
  const Block* dequantizer = dequantizer_after(graph, index);
  V1NeuronVariables v;
  v.activation = v1_activated(b);
  v.act_bits = v1_act_bits(b);
  for (int64_t n = 0; n < count; ++n) {
    const auto i = static_cast<size_t>(n);
    const int64_t bias = b.bias.empty() ? 0 : channel_value(b.bias, i);
    if (b.levels) {
      const auto [threshold, step, exact] = legacy_variables(*b.levels, i);
      v.threshold.push_back(threshold);
      v.act_step.push_back(step);
      v.exact.push_back(exact);
      continue;
    }
    // A Dequantizer after an activation rescales act_step (BrainChip): no exact fit then.
    const std::optional<V1Fit> fit =
        b.relu && b.output && !dequantizer ? fitted_variables(b, i, bias, positions) : std::nullopt;
    const auto [threshold, step] =
        fit ? std::pair{fit->threshold, fit->act_step}
            : brainchip_variables(b, i, bias, positions, v.act_bits, dequantizer);
    v.threshold.push_back(threshold);
    v.act_step.push_back(step);
    v.exact.push_back(!b.relu || fit.has_value());
  }
  return v;
}

std::vector<V1ExactCount> v1_exact_counts(const QuantizedGraph& graph) {
  std::vector<V1ExactCount> counts;
  for (size_t i = 0; i < graph.blocks.size(); ++i) {
    if (graph.blocks[i].kind == BlockKind::Dequantizer) continue;
    const V1NeuronVariables neuron = v1_neuron_variables(graph, i);
    if (!neuron.activation) continue;
    counts.push_back({graph.blocks[i].name,
                      std::count(neuron.exact.begin(), neuron.exact.end(), true),
                      static_cast<int64_t>(neuron.exact.size())});
  }
  return counts;
}

std::map<std::string, akida::Shape> v1_output_shapes(const QuantizedGraph& graph) {
  akida::Model skeleton;
  skeleton.layers = layers_without_variables(graph);
  const std::vector<akida::Shape> shapes = akida::infer_output_shapes(skeleton);
  std::map<std::string, akida::Shape> by_name;
  for (size_t i = 0; i < shapes.size(); ++i) by_name[skeleton.layers[i].name] = shapes[i];
  return by_name;
}

akida::Model convert_to_akida_v1(const QuantizedGraph& graph) {
  const std::vector<Incompatibility> problems = check_v1(graph);
  if (!problems.empty()) {
    std::string message = graph.source.empty() ? std::string("graph") : graph.source;
    message += ": cannot convert to Akida 1.0:";
    for (const auto& p : problems) message += "\n" + to_string(p);
    throw akida::UnsupportedError(message);
  }
  akida::Model model;
  model.version = akida::kWriterVersion;
  model.layers = layers_without_variables(graph);
  const auto shapes = v1_output_shapes(graph);
  for (size_t i = 0; i < graph.blocks.size(); ++i) {
    const Block& block = graph.blocks[i];
    if (block.kind == BlockKind::Dequantizer) continue;
    Layer& layer = *std::find_if(model.layers.begin(), model.layers.end(),
                                 [&](const Layer& l) { return l.name == block.name; });
    std::vector<Variable> vars = weight_variables(block, block_input(graph, block, shapes));
    const V1NeuronVariables neuron = v1_neuron_variables(graph, i);
    vars.push_back(int32_variable("threshold", {u32(static_cast<int64_t>(neuron.threshold.size()))}, neuron.threshold));
    vars.push_back(float_variable("act_step", neuron.act_step));
    std::sort(vars.begin(), vars.end(),
              [](const Variable& a, const Variable& b) { return a.name < b.name; });
    layer.variables = std::move(vars);
  }
  return model;
}

}  // namespace cnn2snn
