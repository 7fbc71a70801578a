// The Akida 1.0 compatibility rules and the check_v1() driver.
//
// Sources of the limits: akida-spec §3.3 "v1 patterns" (BrainChip's converter checks), §4.2
// (AKD1000 hardware), §1.2 (storage of threshold and act_step); the rules marked "semantics"
// reject what Akida 1.0 cannot compute the way the QuantizeML block does (docs/akida-v1.md).
// Each rule reports the layer, the field, the value and the limit.
#include <algorithm>
#include <cmath>
#include <string>

#include "akida/errors.h"
#include "cnn2snn/converter_v1.h"
#include "convert_internal.h"

namespace cnn2snn {

namespace {

using Findings = std::vector<Incompatibility>;
using convert_detail::report;
using K = BlockKind;

std::string str(int64_t v) { return std::to_string(v); }
std::string kind_name(BlockKind kind) { return block_kind_name(kind); }

bool one_of(int64_t v, std::initializer_list<int64_t> set) {
  return std::find(set.begin(), set.end(), v) != set.end();
}


// Largest value the block's input can take: the model input's, or the previous block's top
// activation level.
int64_t input_max(const RuleInput& in) {
  if (in.index == 0) return (int64_t{1} << in.graph.input_bits) - 1;
  const Block& prev = in.graph.blocks[in.index - 1];
  return v1_activated(prev) ? (int64_t{1} << v1_act_bits(prev)) - 1 : 0;
}

// --- structure ---------------------------------------------------------------------------------

void check_kind(const RuleInput& in, Findings& out) {
  if (!one_of(static_cast<int64_t>(in.block.kind),
              {static_cast<int64_t>(K::InputConv2D), static_cast<int64_t>(K::Conv2D),
               static_cast<int64_t>(K::SeparableConv2D), static_cast<int64_t>(K::Dense),
               static_cast<int64_t>(K::Dequantizer)}))
    report(out, in.block, "kind", kind_name(in.block.kind) + " has no Akida 1.0 layer "
                                  "(InputConvolutional, Convolutional, SeparableConvolutional, "
                                  "FullyConnected)");
}

void check_sequential(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (b.name.empty()) report(out, b, "name", "block " + str(static_cast<int64_t>(in.index)) + " has no name");
  if (in.index == 0) {
    if (!b.inbound.empty()) report(out, b, "inbound", "the first block must read the model input");
    return;
  }
  const std::string& prev = in.graph.blocks[in.index - 1].name;
  if (b.inbound.size() != 1 || b.inbound.front() != prev)
    report(out, b, "inbound", "Akida 1.0 models are sequential: the block must read '" + prev +
                                  "' only (v1: purely sequential)");
}

void check_weights_shape(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const size_t rank = b.kind == K::SeparableConv2D ? 3 : b.kind == K::Dense ? 2 : 4;
  const char* axes = b.kind == K::SeparableConv2D ? "(kx, ky, C)" : b.kind == K::Dense ? "(X, F)"
                                                                                       : "(kx, ky, C, F)";
  auto count = [](const IntTensor& t) {
    int64_t n = 1;
    for (int64_t d : t.shape) n = d < 1 ? -1 : n * d;
    return n;
  };
  if (b.weights.shape.size() != rank || count(b.weights) != static_cast<int64_t>(b.weights.values.size()))
    report(out, b, "weights", "shape of " + str(static_cast<int64_t>(b.weights.shape.size())) +
                                  " dims with " + str(static_cast<int64_t>(b.weights.values.size())) +
                                  " values, " + kind_name(b.kind) + " expects " + axes);
  const IntTensor& pw = b.pointwise_weights;
  if (b.kind == K::SeparableConv2D &&
      (pw.shape.size() != 2 || count(pw) != static_cast<int64_t>(pw.values.size()) ||
       (b.weights.shape.size() == 3 && pw.shape[0] != b.weights.shape[2])))
    report(out, b, "pointwise_weights", "expected (C, F) with C the depthwise kernel's channels");
  if (b.kind != K::SeparableConv2D && !pw.values.empty())
    report(out, b, "pointwise_weights", "only SeparableConv2D has pointwise weights");
}

void check_channel_vectors(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const int64_t f = v1_neurons(b);
  auto length = [&](const std::string& field, size_t n, bool may_be_empty) {
    if ((n == 0 && may_be_empty) || n == 1 || static_cast<int64_t>(n) == f) return;
    report(out, b, field, str(static_cast<int64_t>(n)) + " values, expected 1 or " + str(f));
  };
  length("bias", b.bias.size(), true);
  length("relu_max", b.relu_max.size(), true);
  if (b.output) {
    length("output.scale", b.output->scale.size(), false);
    length("output.shift", b.output->shift.size(), false);
  }
}

// --- block values ------------------------------------------------------------------------------

void check_input(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const QuantizedGraph& g = in.graph;
  if (b.kind == K::InputConv2D && in.index != 0)
    report(out, b, "kind", "InputConvolutional must be the first layer, this is block " +
                               str(static_cast<int64_t>(in.index)));
  if (in.index != 0) return;
  if (b.kind == K::InputConv2D) {
    if (g.input_bits != 8 || g.input_signed)
      report(out, b, "input_bits", std::string(g.input_signed ? "signed " : "unsigned ") +
                                       str(g.input_bits) +
                                       "-bit input, InputConvolutional takes unsigned 8-bit images");
    if (!one_of(g.input_shape.c, {1, 3}))
      report(out, b, "input_channels",
             str(g.input_shape.c) + " channels, InputConvolutional takes 1 or 3");
  } else if (g.input_signed || !one_of(g.input_bits, {1, 2, 4})) {
    report(out, b, "input_bits", std::string(g.input_signed ? "signed " : "unsigned ") +
                                     str(g.input_bits) +
                                     "-bit input: an Akida 1.0 InputData takes unsigned 1, 2 or "
                                     "4 bits (8-bit images need an InputConvolutional first)");
  }
}

void check_weights_bits(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const bool input = b.kind == K::InputConv2D;
  const bool ok = input ? one_of(b.weights_bits, {4, 8}) : one_of(b.weights_bits, {1, 2, 4});
  if (!ok)
    report(out, b, "weights_bits", str(b.weights_bits) + " bits, " + kind_name(b.kind) +
                                       (input ? " takes 4 or 8" : " takes 1, 2 or 4"));
  if (b.kind == K::SeparableConv2D && b.pointwise_weights_bits != b.weights_bits)
    report(out, b, "pointwise_weights_bits",
           str(b.pointwise_weights_bits) + " bits differ from the depthwise " +
               str(b.weights_bits) + " (SeparableConvolutional has one weights_bits)");
}

// Akida stores 8-bit weights as int8 and 2..4-bit ones as int4 (−7..7).
void check_weights_range(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  auto check = [&](const std::string& field, const IntTensor& t, int32_t bits) {
    if (bits < 1 || bits > 8) return;
    const int64_t hi = bits > 4 ? 127 : std::min<int64_t>(7, (int64_t{1} << (bits - 1)) - 1);
    const int64_t lo = bits > 4 ? -128 : -hi;
    const auto bad = std::find_if(t.values.begin(), t.values.end(),
                                  [&](int64_t v) { return v < lo || v > hi; });
    if (bad != t.values.end())
      report(out, b, field + "[" + str(bad - t.values.begin()) + "]",
             str(*bad) + " does not fit " + str(bits) + "-bit weights (" + str(lo) + ".." +
                 str(hi) + ")");
  };
  check("weights", b.weights, b.weights_bits);
  if (b.kind == K::SeparableConv2D)
    check("pointwise_weights", b.pointwise_weights, b.pointwise_weights_bits);
}

void check_kernel(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const int64_t kx = b.weights.shape[0], ky = b.weights.shape[1];
  if (kx != ky) {
    report(out, b, "kernel_size", "kernel " + str(kx) + "x" + str(ky) + " is not square");
    return;
  }
  const bool size_ok = b.kind == K::Conv2D ? one_of(kx, {1, 3, 5, 7}) : one_of(kx, {3, 5, 7});
  if (!size_ok)
    report(out, b, "kernel_size", "kernel " + str(kx) + "x" + str(kx) + " not supported (" +
                                      kind_name(b.kind) +
                                      (b.kind == K::Conv2D ? ": 1, 3, 5, 7)" : ": 3, 5, 7)"));
  if (b.kind == K::InputConv2D) {
    if (b.stride < 1 || b.stride > 3)
      report(out, b, "kernel_stride", "stride " + str(b.stride) + " not supported (1..3)");
  } else {
    if (!(b.stride == 1 || (b.stride == 2 && kx == 3)))
      report(out, b, "kernel_stride", "stride " + str(b.stride) + " with kernel " + str(kx) +
                                          " not supported (1, or 2 with a 3x3 kernel)");
    if (b.padding != PaddingKind::Same && kx != 1)
      report(out, b, "padding", "Valid padding not supported (" + kind_name(b.kind) +
                                    ": Same only)");
  }
}

void check_pooling(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const Pooling& p = b.pool;
  if (p.kind == PoolKind::None) return;
  if (!v1_spatial(b.kind)) {
    report(out, b, "pool", "pooling not supported on " + kind_name(b.kind));
    return;
  }
  if (p.kind == PoolKind::GlobalAverage) {
    if (b.kind == K::InputConv2D)
      report(out, b, "pool", "global average pooling not supported on InputConvolutional");
    // Semantics: v1 pools potentials, then activates; a ReLU before the sum is not that.
    if (v1_activated(b) && !b.global_pool_before_relu)
      report(out, b, "pool", "global average pooling after the ReLU: Akida 1.0 sums the "
                             "potentials before its activation (QConv2D > QGAP > QReLU)");
    return;
  }
  const bool one_by_one = b.weights.shape[0] == 1;
  const PaddingKind conv = one_by_one ? PaddingKind::Same : b.padding;
  if (p.padding != conv)
    report(out, b, "pool.padding", "max pooling padding differs from the convolution's: Akida "
                                   "pools with the convolution's padding");
  const bool window_ok = b.kind == K::InputConv2D
                             ? one_of(p.size, {1, 2}) && p.stride == p.size
                             : one_of(p.size, {1, 2}) && one_of(p.stride, {1, 2}) && p.stride <= p.size;
  if (!window_ok)
    report(out, b, "pool", "max pooling size " + str(p.size) + " stride " + str(p.stride) +
                               " not supported (" + kind_name(b.kind) +
                               (b.kind == K::InputConv2D ? ": 1x1 or 2x2, stride = size)"
                                                         : ": 1x1 or 2x2, stride 1 or 2 <= size)"));
}

void check_activation(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (b.lut) report(out, b, "lut", "Akida 1.0 has no LUT activation (threshold and act_step only)");
  if (b.levels) {
    if (b.relu || b.output)
      report(out, b, "levels", "a legacy activation replaces the ReLU and the output quantizer");
    if (!one_of(b.levels->bits, {1, 2, 4}))
      report(out, b, "levels.bits", str(b.levels->bits) + " bits, act_bits takes 1, 2 or 4");
    return;
  }
  if (b.relu && !b.output)
    report(out, b, "output", "in AkidaVersion.v1, output_quantizer is mandatory on a ReLU");
  if (!b.relu && b.output)
    report(out, b, "output", "an output quantizer without ReLU: Akida 1.0 quantizes only "
                             "activations");
  if (b.relu && b.relu_max.empty())
    report(out, b, "relu_max", "in AkidaVersion.v1, unbounded QuantizedReLU is not supported");
  if (!b.output) return;
  const OutputStage& o = *b.output;
  if (o.output_signed)
    report(out, b, "output.output_signed", "signed outputs: Akida 1.0 activations are unsigned");
  if (!one_of(o.output_bits, {1, 2, 4}))
    report(out, b, "output.output_bits", str(o.output_bits) + " bits, act_bits takes 1, 2 or 4");
  for (size_t i = 0; i < o.scale.size(); ++i)
    if (o.scale[i] < 1)
      report(out, b, "output.scale[" + str(static_cast<int64_t>(i)) + "]",
             str(o.scale[i]) + " is not a positive scale");
}

// Semantics: Akida 1.0 has no ReLU bound, only the top activation level. The bound changes
// nothing when it reaches that level: out(max) = round_half_up(max · scale · 2^shift) >= 2^b − 1.
void check_relu_bound_unreached(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (!b.relu || b.relu_max.empty() || !b.output) return;
  const OutputStage& o = *b.output;
  const int64_t top = (int64_t{1} << o.output_bits) - 1;
  for (size_t n = 0; n < static_cast<size_t>(v1_neurons(b)); ++n) {
    const int64_t bound = channel_value(b.relu_max, n), scale = channel_value(o.scale, n);
    const int32_t shift = channel_value(o.shift, n);
    if (bound > (int64_t{1} << 40) || scale > (int64_t{1} << 20) || shift < -62 || shift > 30) {
      report(out, b, "relu_max[" + str(static_cast<int64_t>(n)) + "]", "out of the checked range");
      continue;
    }
    int64_t y = bound * scale;
    y = shift < 0 ? (y + (int64_t{1} << (-shift - 1))) >> -shift : y << shift;
    if (y < top) {
      report(out, b, "relu_max[" + str(static_cast<int64_t>(n)) + "]",
             str(bound) + " gives output level " + str(y) + " < " + str(top) +
                 ": the ReLU bound clips below the top level, which Akida 1.0 cannot do");
      return;  // one report per block is enough to explain it
    }
  }
}

void check_inputs_of_next(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (v1_activated(b) || in.index + 1 >= in.graph.blocks.size()) return;
  if (in.graph.blocks[in.index + 1].kind != K::Dequantizer)
    report(out, b, "relu", "a layer without activation outputs potentials: it can only be the "
                           "last layer of an Akida 1.0 model");
}

void check_shift_and_padding(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (std::any_of(b.input_shift.begin(), b.input_shift.end(), [](int32_t s) { return s != 0; }))
    report(out, b, "input_shift", "Akida 1.0 layers have no input shift");
  if (b.padding_value.empty()) return;
  if (b.kind != K::InputConv2D) {
    if (std::any_of(b.padding_value.begin(), b.padding_value.end(), [](int64_t v) { return v != 0; }))
      report(out, b, "padding_value", "only InputConvolutional pads with a value other than 0");
    return;
  }
  const int64_t v = b.padding_value.front();
  if (!std::all_of(b.padding_value.begin(), b.padding_value.end(), [&](int64_t x) { return x == v; }))
    report(out, b, "padding_value", "per-channel values: InputConvolutional has one padding_value");
  if (v < 0 || v > 255) report(out, b, "padding_value", str(v) + " is not a uint8 value (0..255)");
}

void check_dequantizer(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (in.index + 1 != in.graph.blocks.size())
    report(out, b, "kind", "a Dequantizer can only end an Akida 1.0 model");
  if (in.index == 0) report(out, b, "inbound", "a Dequantizer needs a layer before it");
  if (b.scales.empty()) report(out, b, "scales", "no value");
  for (float s : b.scales)
    if (!std::isfinite(s) || s == 0.0f)
      report(out, b, "scales", std::to_string(s) + " cannot divide act_step (finite, non-zero)");
}

// --- shapes ------------------------------------------------------------------------------------

void check_dims(const RuleInput& in, Findings& out) {
  if (in.dims_error) report(out, in.block, "dims", *in.dims_error);
}

void check_input_channels(const RuleInput& in, Findings& out) {
  if (!in.input_shapes) return;
  const Block& b = in.block;
  const akida::Shape& s = in.input_shapes->front();
  const int64_t expected = b.kind == K::Dense ? s.size() : s.c;
  const int64_t actual = b.kind == K::Dense ? b.weights.shape[0] : b.weights.shape[2];
  if (actual != expected)
    report(out, b, "weights", "has " + str(actual) + (b.kind == K::Dense ? " rows" : " channels") +
                                  ", the input " + akida::to_string(s) + " needs " + str(expected));
}

void check_gap_size(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (!in.input_shapes || b.pool.kind != PoolKind::GlobalAverage) return;
  const akida::Shape& s = in.input_shapes->front();
  auto len = [&](int64_t n) {
    return b.padding == PaddingKind::Valid ? (n - b.weights.shape[0]) / b.stride + 1
                                           : (n + b.stride - 1) / b.stride;
  };
  const int64_t size = len(s.x) * len(s.y);
  if (size > 256)
    report(out, b, "pool", "Unsupported spatial size product (" + str(size) +
                               "). We only accepts values smaller than 256. Consider to replace "
                               "GlobalAveragePooling2D by MaxPooling2D.");
}

// Semantics: QuantizeML saturates the accumulator to buffer_bits; Akida 1.0 potentials do not
// saturate. Equal only when the accumulator can never reach the saturation.
void check_no_saturation(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (!in.input_shapes) return;
  const int64_t x_max = std::max<int64_t>(input_max(in), b.padding_value.empty() ? 0 : 255);
  const int64_t f = v1_neurons(b);
  std::vector<long double> l1(static_cast<size_t>(f), 0);
  if (b.kind == K::SeparableConv2D) {
    const int64_t c_count = b.weights.shape[2];
    for (int64_t c = 0; c < c_count; ++c) {
      long double dw = 0;
      for (size_t t = static_cast<size_t>(c); t < b.weights.values.size(); t += c_count)
        dw += std::llabs(b.weights.values[t]);
      for (int64_t n = 0; n < f; ++n)
        l1[n] += dw * std::llabs(b.pointwise_weights.values[c * f + n]);
    }
  } else {
    for (size_t i = 0; i < b.weights.values.size(); ++i)
      l1[i % static_cast<size_t>(f)] += std::llabs(b.weights.values[i]);
  }
  const long double limit = std::ldexp(1.0L, std::min(b.buffer_bits, 32) - 1) - 1;
  for (int64_t n = 0; n < f; ++n) {
    const long double bias = b.bias.empty() ? 0 : std::llabs(channel_value(b.bias, n));
    if (l1[n] * x_max + bias > limit) {
      report(out, b, "weights", "neuron " + str(n) + ": |potential| can reach " +
                                    str(static_cast<int64_t>(l1[n] * x_max + bias)) + " > " +
                                    str(static_cast<int64_t>(limit)) +
                                    " where QuantizeML saturates its accumulator (buffer_bits " +
                                    str(b.buffer_bits) + ") and Akida 1.0 does not");
      return;
    }
  }
}

// akida-spec §1.2: threshold is a 20-bit signed value on the hardware, act_step a 20-bit fixed
// point with 4 fractional bits (max 2^16 − 1). BrainChip's fix_v1_activation_variables clips
// the threshold and rescales the next layer's weights, which changes the results: refused here.
void check_neuron_variables(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (!in.input_shapes) return;
  const V1NeuronVariables v = v1_neuron_variables(in.graph, in.index);
  constexpr int64_t kMaxThreshold = (int64_t{1} << 19) - 1;
  constexpr float kMaxStep = 65535.0f;
  for (size_t n = 0; n < v.threshold.size(); ++n) {
    const std::string i = "[" + str(static_cast<int64_t>(n)) + "]";
    if (std::llabs(v.threshold[n]) > kMaxThreshold) {
      report(out, b, "threshold" + i, str(v.threshold[n]) + " does not fit 20 bits (|t| <= " +
                                          str(kMaxThreshold) + ")");
      return;
    }
    if (!std::isfinite(v.act_step[n]) || v.act_step[n] <= 0.0f || v.act_step[n] > kMaxStep) {
      report(out, b, "act_step" + i, std::to_string(v.act_step[n]) +
                                         " is outside (0, 65535] (20-bit fixed point, 4 "
                                         "fractional bits)");
      return;
    }
  }
}

const std::vector<BlockKind> kNeural = {K::InputConv2D, K::Conv2D, K::SeparableConv2D, K::Dense};
const std::vector<BlockKind> kSpatial = {K::InputConv2D, K::Conv2D, K::SeparableConv2D};

}  // namespace

const std::vector<Rule>& v1_rules() {
  using S = RuleStage;
  static const std::vector<Rule> rules = {
      {"v1-kind", "Blocks are InputConv2D, Conv2D, SeparableConv2D, Dense or a final Dequantizer.",
       S::Structure, {}, check_kind},
      {"sequential", "Every block has a name and reads the block before it (the first one the "
                     "model input): Akida 1.0 models are sequential.",
       S::Structure, {}, check_sequential},
      {"weights-shape", "Kernels are (kx, ky, C, F) (InputConv2D, Conv2D), (kx, ky, C) + (C, F) "
                        "(SeparableConv2D) or (X, F) (Dense), one value per element.",
       S::Structure, kNeural, check_weights_shape},
      {"channel-vectors", "bias, relu_max, output scale and shift hold one value or one per "
                          "neuron.",
       S::Structure, kNeural, check_channel_vectors},
      {"input", "InputConvolutional is only the first layer and takes an unsigned 8-bit image of "
                "1 or 3 channels; otherwise the model input is unsigned 1, 2 or 4 bits.",
       S::Block, {}, check_input},
      {"weights-bits", "InputConvolutional weights have 4 or 8 bits, other layers 1, 2 or 4; "
                       "separable depthwise and pointwise bits are equal.",
       S::Block, kNeural, check_weights_bits},
      {"weights-range", "Weights fit int8 (8 bits) or int4 (-7..7, 2 to 4 bits).", S::Block,
       kNeural, check_weights_range},
      {"kernel", "Square kernels: InputConvolutional 3, 5, 7 (stride 1..3, Same or Valid); "
                 "Convolutional 1, 3, 5, 7 and SeparableConvolutional 3, 5, 7 (stride 1, or 2 "
                 "with 3x3; Same).",
       S::Block, kSpatial, check_kernel},
      {"pooling", "Max pooling 1x1 or 2x2 with the convolution's padding (InputConvolutional: "
                  "stride = size; others: stride 1 or 2, at most the size); global average "
                  "pooling on Convolutional / SeparableConvolutional only, before the ReLU.",
       S::Block, kNeural, check_pooling},
      {"activation", "A ReLU is bounded and has a per-tensor unsigned output quantizer of 1, 2 "
                     "or 4 bits (act_bits); only a ReLU has an output quantizer; no LUT "
                     "activation.",
       S::Block, kNeural, check_activation},
      {"relu-bound-unreached", "The ReLU bound maps to the top activation level or above "
                               "(Akida 1.0 has no bound, only 2^act_bits - 1).",
       S::Block, kNeural, check_relu_bound_unreached},
      {"potential-output-last", "A layer without activation (potentials out) is the last one.",
       S::Block, kNeural, check_inputs_of_next},
      {"shift-and-padding", "No input shift; only InputConvolutional pads with a value, one uint8 "
                            "value for all channels.",
       S::Block, kNeural, check_shift_and_padding},
      {"dequantizer", "A Dequantizer only ends the model; its finite non-zero scales divide the "
                      "last layer's act_step.",
       S::Block, {K::Dequantizer}, check_dequantizer},
      {"dims", "Every layer's dims follow from its input (a Valid kernel fits it).", S::Shape, {},
       check_dims},
      {"input-channels", "A kernel's input channels (Dense: rows) match its input.", S::Shape,
       kNeural, check_input_channels},
      {"gap-size", "A global average pooling sums at most 256 positions.", S::Shape,
       {K::Conv2D, K::SeparableConv2D}, check_gap_size},
      {"no-saturation", "The accumulator can never reach QuantizeML's buffer saturation (Akida "
                        "1.0 potentials do not saturate).",
       S::Shape, kNeural, check_no_saturation},
      {"neuron-variables", "threshold fits 20 signed bits and act_step lies in (0, 65535].",
       S::Shape, kNeural, check_neuron_variables},
  };
  return rules;
}

namespace {

void run_stage(RuleStage stage, const RuleInput& in, Findings& out) {
  for (const Rule& rule : v1_rules())
    if (rule.stage == stage && rule.applies_to(in.block.kind)) rule.check(in, out);
}

}  // namespace

std::vector<Incompatibility> check_v1(const QuantizedGraph& graph) {
  if (graph.blocks.empty()) return {{"", "blocks", "the graph has no blocks"}};
  Findings out;
  std::vector<Findings> found(graph.blocks.size());
  bool well_formed = true;
  for (size_t i = 0; i < graph.blocks.size(); ++i) {
    run_stage(RuleStage::Structure, {graph, graph.blocks[i], i}, found[i]);
    well_formed = well_formed && found[i].empty();
  }
  // Dims are known only for a well-formed graph; one error for the whole graph otherwise (v1
  // models are sequential: the first layer that fails makes every later one unknown).
  std::map<std::string, akida::Shape> shapes;
  std::string dims_error;
  if (well_formed) {
    try {
      shapes = v1_output_shapes(graph);
    } catch (const akida::Error& e) {
      dims_error = e.what();
    }
  }
  for (size_t i = 0; i < graph.blocks.size(); ++i) {
    const Block& block = graph.blocks[i];
    if (found[i].empty()) run_stage(RuleStage::Block, {graph, block, i}, found[i]);
    if (well_formed && found[i].empty() && block.kind != K::Dequantizer) {
      RuleInput in{graph, block, i};
      std::vector<akida::Shape> inputs;
      const auto source = block.inbound.empty() ? shapes.end() : shapes.find(block.inbound.front());
      if (dims_error.empty() && (block.inbound.empty() || source != shapes.end())) {
        inputs.push_back(block.inbound.empty() ? graph.input_shape : source->second);
        in.input_shapes = &inputs;
      } else if (i == 0) {
        in.dims_error = &dims_error;
      }
      run_stage(RuleStage::Shape, in, found[i]);
    }
    out.insert(out.end(), found[i].begin(), found[i].end());
  }
  if (!dims_error.empty() && out.empty()) out.push_back({"", "dims", dims_error});
  return out;
}

}  // namespace cnn2snn
