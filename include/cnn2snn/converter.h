// Lowering a QuantizedGraph to an Akida 2.0 model, with the compatibility checks that decide
// whether it can be lowered.
//
// The checks are a table of named rules, one sentence each (as Arm Vela's constraint functions):
// check_v2() runs every rule on every block and returns all violations at once; the docs page of
// supported layers can be generated from v2_rules(). convert_to_akida_v2() runs check_v2() first
// and refuses the graph with one error listing every violation.
//
// What the lowering writes follows BrainChip's converter (cnn2snn 2.19) and the real 2.17 files
// (fixtures tennst_int8_v2_2.17.fbz, akidanet_vww_i8_w8_a8_v2_2.11.fbz):
// - an InputData layer named kInputDataName first, unless the first block is an InputConv2D;
// - one layer per block, named after it, with the block's inbound names (the model input becomes
//   the InputData layer);
// - parameters with BrainChip's keys, zero values kept (e.g. pool_type 0, activation 0) and -1 for
//   unused pool_size / pool_stride;
// - variables sorted by name: Conv2D / DepthwiseConv2D kernels rotated 180 degrees (Akida computes
//   a true convolution), bias as int8 `bias` << uint8 `bias_shift`, ReLU bound as uint8
//   `max_value` << uint8 `max_value_shift` (split as BrainChip splits them: with the shift the
//   Keras quantizer recorded, Block::bias_shift / relu_max_shift, else the smallest shift, as
//   its ONNX path does), the output stage as uint8 `output_scales` and int8 `output_shift`
//   (clipped to >= 1 - buffer_bits, as BrainChip does).
#pragma once

#include <algorithm>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "akida/model.h"
#include "akida/shapes.h"
#include "cnn2snn/quantized_graph.h"

namespace cnn2snn {

// One reason a graph cannot become an Akida 2.0 model.
struct Incompatibility {
  std::string layer;    // block name ("" for the graph as a whole)
  std::string field;    // e.g. "kernel_size", "bias[3]", "inbound"
  std::string problem;  // the value and the limit, e.g. "kernel 4x4 not supported (Conv2D: 1, 3, 5, 7)"
  bool operator==(const Incompatibility&) const = default;
};
// "layer 'X': field: problem" (or "field: problem" when layer is empty).
std::string to_string(const Incompatibility& incompatibility);

// What a rule sees: one block, the graph, and the dims of the block's inputs (one per inbound; the
// model input for the first block) when the graph is well formed enough for them to be known.
struct RuleInput {
  const QuantizedGraph& graph;
  const Block& block;
  size_t index;                                   // position of the block in graph.blocks
  // Shape rules only: dims of the block's inputs (one per inbound; the model input when it has
  // none), or nullptr when they are unknown, with `dims_error` saying why when this block is the
  // cause (nullptr when an earlier block is).
  const std::vector<akida::Shape>* input_shapes = nullptr;
  const std::string* dims_error = nullptr;
};

// Rules run in stages: structure rules make sure a block can be read at all (tensor ranks, vector
// lengths, inbound names); block rules check values; shape rules need every block's input dims,
// which are computed only when no structure rule failed.
enum class RuleStage { Structure, Block, Shape };

// What breaking a rule means. Conversion: the model cannot be expressed as an Akida 2.0 model (as
// BrainChip's converter refuses it); convert_to_akida_v2() fails. Hardware: the Akida model exists
// and runs in software, but exceeds a documented limit of the Akida 2.0 IP (akida-spec §4.1), so
// it would not map onto hardware as one sequence. The ECG and DS-CNN models of BrainChip's users
// run in software with such layers (e.g. 3x3/3 max pooling), so these never block conversion.
enum class RuleScope { Conversion, Hardware };

struct Rule {
  std::string_view name;         // short, stable identifier, e.g. "kernel-size"
  std::string_view description;  // one sentence for the docs page
  RuleStage stage;
  std::vector<BlockKind> kinds;  // block kinds the rule applies to; empty: every kind
  void (*check)(const RuleInput& input, std::vector<Incompatibility>& out);
  RuleScope scope = RuleScope::Conversion;

  bool applies_to(BlockKind kind) const {
    return kinds.empty() || std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
  }
};

// Every Akida 2.0 rule, in the order they run.
const std::vector<Rule>& v2_rules();

// Every violation of the Conversion rules of v2_rules() by `graph`, in block order (an empty graph
// gives one violation).
std::vector<Incompatibility> check_v2(const QuantizedGraph& graph);
// Every Hardware rule `graph` breaks (empty when check_v2() finds anything: a graph that does not
// convert has no hardware mapping to speak of).
std::vector<Incompatibility> check_v2_hardware(const QuantizedGraph& graph);

// The Akida 2.0 model for `graph`. Throws akida::UnsupportedError when check_v2() finds anything:
// "SOURCE: cannot convert to Akida 2.0:\n" then one line per violation (see to_string above).
akida::Model convert_to_akida_v2(const QuantizedGraph& graph);

// Name of the InputData layer the converter inserts (BrainChip's converter names it so in
// tennst_int8_v2_2.17.fbz; the ONNX model has no name for it). When a block already has this name,
// "InputData_2", "InputData_3"... is used instead.
inline constexpr const char* kInputDataName = "InputData_1";

// The Akida layer kind a block becomes.
akida::LayerKind akida_kind(BlockKind kind);
// Accumulator width the Akida 2.0 layer of this kind saturates to (the `buffer_bits` BrainChip
// writes: 28 for InputConv2D, Conv2D, DepthwiseConv2D and Dense1D, 32 otherwise); 0 for kinds
// without an accumulator (Concatenate, Dequantizer).
int32_t akida_buffer_bits(BlockKind kind);

// An integer written as value << shift, as Akida stores biases (int8 value) and ReLU bounds (uint8
// value). Follows BrainChip's to_value_shift (cnn2snn onnx_conversion/weights.py): the shift is
// the smallest that brings x within 7 (signed) or 8 (unsigned) bits, computed as
// max(0, bit_width(|x|) - bits), with 0 treated as 2^bits (so 0 becomes 0 << 1, as in the files).
// nullopt when value << shift cannot equal x exactly (e.g. 257 signed, any negative unsigned).
struct ValueShift {
  int64_t value = 0;
  int32_t shift = 0;
  bool operator==(const ValueShift&) const = default;
};
std::optional<ValueShift> to_value_shift(int64_t x, bool is_signed);

// Output dims of the layers the converted model will have (InputData included), by layer name,
// computed with akida::infer_output_shapes on the converted parameters. Throws akida::ShapeError
// (or UnsupportedError) naming the layer when the graph's dims are inconsistent.
std::map<std::string, akida::Shape> v2_output_shapes(const QuantizedGraph& graph);

}  // namespace cnn2snn
