// Conversion of a QuantizedGraph to an Akida 1.0 (AKD1000) model, with its compatibility rules.
//
// Akida 1.0 layers have no bias, no ReLU bound and no output scale: a neuron computes the
// potential p = Σ w·x, pools it (max, or a global *sum*), then
//   out = clamp(ceil((p − threshold) / q), 0, 2^act_bits − 1),  q = act_step · 16 / 2^act_bits
// (docs/akida-v1.md), or outputs p itself without activation. The lowering derives `threshold`
// (int32) and `act_step` (float32) from the block as BrainChip's cnn2snn 2.19 does
// (quantizeml/outputs.py set_output_v1_variables, pooling.py set_gap_variables_v1), see
// v1_neuron_variables() below. What the block computes under QuantizeML semantics (round half up
// of acc · scale · 2^shift, ReLU bound) and what that equation gives can differ on level
// boundaries: docs/akida-v1.md "QuantizeML → Akida 1.0: where the outputs can differ" says
// exactly when.
//
// Layers written (parameter keys of the v1 fixtures and of runtime/geometry):
//   InputConv2D     → InputConvolutional (8-bit image, correlation, scalar padding_value)
//   Conv2D          → Convolutional (true convolution: the kernel is rotated 180°)
//   SeparableConv2D → SeparableConvolutional (depthwise kernel rotated, pointwise `weights_pw`)
//   Dense           → FullyConnected (weights re-laid out for Akida's (C, Y, X) flatten)
//   Dequantizer     → no layer: its scales divide the previous layer's act_step
// An InputData layer (unsigned, graph.input_bits) comes first unless the first block is an
// InputConv2D. Weights are stored bytes (kx, ky, C, F), F fastest, listed reversed
// [F, C, ky, kx]; dtype int8 (code 3) for 8-bit weights, int4 (code 7, −7..7) for 2..4 bits.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "akida/model.h"
#include "cnn2snn/converter.h"
#include "cnn2snn/quantized_graph.h"

namespace cnn2snn {

// Reads a QuantizeML Keras `.h5` file split into Akida 1.0 blocks (cnn2snn's v1 patterns and
// block search: QConv2D / QSeparableConv2D [+ QMaxPool2D | QGAP] [+ QReLU], dense blocks, GAP
// before the ReLU). Same errors as load_keras_h5 (keras_reader.h); a layer holding an
// OutputQuantizer that is not a QuantizedReLU followed by another layer gives
// akida::UnsupportedError "Model incompatible with akida v1 version. ...".
QuantizedGraph load_keras_h5_v1(const std::string& path);
// The same from the bytes of an .h5 file in memory (see load_keras_h5).
QuantizedGraph load_keras_h5_v1(std::span<const uint8_t> image, const std::string& source);

// Every Akida 1.0 rule, in the order they run (a table of named rules, as v2_rules()).
const std::vector<Rule>& v1_rules();

// Every violation of v1_rules() by `graph`, in block order.
std::vector<Incompatibility> check_v1(const QuantizedGraph& graph);

// The Akida 1.0 model for `graph`. Throws akida::UnsupportedError when check_v1() finds anything:
// "SOURCE: cannot convert to Akida 1.0:\n" then one line per violation.
akida::Model convert_to_akida_v1(const QuantizedGraph& graph);

// The neuron variables of the Akida 1.0 layer made from graph.blocks[index] (a neural block).
// With an activation (and no Dequantizer after it), each neuron is first *fitted*: with
//   B_m = the smallest accumulator x = acc + bias (summed over H·W with a global pooling) that
//         QuantizeML puts on level >= m (round half up of x · scale · 2^shift), m = 1..2^b − 1,
//   threshold[n] = B_1 − 1 − bias[n] · (H·W of a global pooling, else 1)
//   act_step[n]  = q · 2^(b − 4), q the smallest float32 with floor((m − 1)·q) = B_m − B_1 for
//                  every m (docs/akida-v1.md "Exact threshold and act_step"),
// checked with the runtime's own V1Activation: every level boundary equal, so the neuron gives
// QuantizeML's level for every input. When no float32 q exists the neuron keeps BrainChip's
// cnn2snn 2.19 derivation (quantizeml/outputs.py set_output_v1_variables, pooling.py
// set_gap_variables_v1), which differs on some boundaries:
//   A[n]        = float32(2^(−shift[n])) / float32(scale[n])          (output stage; else 1)
//   threshold[n] = −bias[n] · (H·W of a global pooling, else 1) + round_half_even(0.5f · A[n])
//                  (the rounding term only with an activation)
//   act_step[n]  = A[n] · 2^(act_bits − 4)  (activation), A[n] (none);  / float32 dequantizer
//                  scale when a Dequantizer follows
// Preconditions: the structure rules of v1_rules() hold for the block. Thresholds are int64 here
// so that the "threshold-range" rule can report values that do not fit.
struct V1NeuronVariables {
  bool activation = false;
  int32_t act_bits = 4;
  std::vector<int64_t> threshold;
  std::vector<float> act_step;
  // Per neuron: true when the layer's output equals QuantizeML's for every input (a fitted
  // activation, or no activation: the potential itself); false when BrainChip's derivation was
  // kept because no exact threshold / float32 act_step exists.
  std::vector<bool> exact;
  bool all_exact() const;
};

// The exact Akida 1.0 variables of one activated neuron whose QuantizeML level m (1..levels)
// starts at accumulator boundaries[m − 1] (non-decreasing), the potential being the
// accumulator minus `offset` (bias · pooled positions): {threshold, act_step}, or nothing when no
// integer threshold and float32 act_step give these boundaries. `act_bits` = log2(levels + 1).
struct V1Fit {
  int64_t threshold = 0;
  float act_step = 0;
};
std::optional<V1Fit> fit_v1_neuron(const std::vector<int64_t>& boundaries, int64_t offset,
                                   int32_t act_bits);

// QuantizeML's level boundaries of one neuron (see V1NeuronVariables): the smallest
// accumulator reaching level m, m = 1..2^output_bits − 1, for output scale `scale` >= 1 and
// `shift`; nothing when a boundary is beyond ±2^48 or the scaled accumulator would saturate
// post_op_buffer_bits before reaching it (the levels are then not these boundaries).
std::optional<std::vector<int64_t>> quantizeml_v1_boundaries(int64_t scale, int32_t shift,
                                                             int32_t output_bits,
                                                             int32_t post_op_buffer_bits);
V1NeuronVariables v1_neuron_variables(const QuantizedGraph& graph, size_t index);

// Per activated Akida 1.0 layer of `graph`, in block order: how many of its neurons got exact
// variables (V1NeuronVariables::exact) out of all. Layers without activation output their
// potential and are exact by construction: not listed. Preconditions: check_v1(graph) is empty.
struct V1ExactCount {
  std::string layer;
  int64_t exact = 0;
  int64_t neurons = 0;
};
std::vector<V1ExactCount> v1_exact_counts(const QuantizedGraph& graph);

// Output dims of the converted model's layers, by name (InputData included). Throws
// akida::ShapeError / UnsupportedError naming the layer when the graph's dims are inconsistent.
std::map<std::string, akida::Shape> v1_output_shapes(const QuantizedGraph& graph);

// Output channels (neurons) of a v1 neural block (InputConv2D, Conv2D, SeparableConv2D, Dense),
// 0 for other kinds. Preconditions: the weights have their kind's rank (rule "weights-shape").
int64_t v1_neurons(const Block& block);
// Whether the Akida 1.0 layer of a block has an activation (a ReLU, or a legacy CNN2SNN
// activation), and its act_bits (1 without activation).
bool v1_activated(const Block& block);
int32_t v1_act_bits(const Block& block);
// Kinds with a spatial kernel in Akida 1.0: InputConv2D, Conv2D, SeparableConv2D.
bool v1_spatial(BlockKind kind);

}  // namespace cnn2snn
