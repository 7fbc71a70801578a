// Pieces of the Akida 2.0 lowering shared by the lowering (lower_v2.cpp) and the compatibility
// rules (rules_v2.cpp), so that both read a block the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "akida/model.h"
#include "cnn2snn/converter.h"
#include "cnn2snn/quantized_graph.h"

namespace cnn2snn::convert_detail {

// Records a rule violation: the block's layer, the field and what is wrong.
inline void report(std::vector<Incompatibility>& out, const Block& block, std::string field,
                   std::string problem) {
  out.push_back({block.name, std::move(field), std::move(problem)});
}

// Whether the converted model starts with an InputData layer (the first block is not an
// InputConv2D), and its name.
bool needs_input_data(const QuantizedGraph& graph);
std::string input_data_name(const QuantizedGraph& graph);

// Blocks that carry a kernel (`weights`) and an output stage.
bool is_neural(BlockKind kind);
bool is_spatial_conv(BlockKind kind);  // InputConv2D, Conv2D, DepthwiseConv2D

// Read off the weights tensor; preconditions: the "weights-shape" rule holds for the block.
int64_t input_channels(const Block& block);   // C (Dense: X)
int64_t output_channels(const Block& block);  // F (depthwise kinds: C)
int64_t kernel_x(const Block& block);         // 1 for non-spatial kinds
int64_t kernel_y(const Block& block);

// The padding the Akida layer is written with, which is also the one it pools with: the block's,
// but Same for a 1x1 kernel. Preconditions: the "weights-shape" rule holds for the block.
PaddingKind akida_padding(const Block& block);

// The `output_shift` Akida stores: BrainChip clips the recorded shift to >= 1 - buffer_bits
// (cnn2snn outputs.py), buffer_bits being the Akida layer's.
int32_t stored_output_shift(int32_t shift, BlockKind kind);

// How channel n of a bias (is_signed, int8 value) or ReLU bound (uint8 value) is stored: with
// the source quantizer's own shift when the block records one (`shifts`: Keras, as BrainChip's
// Keras converter does, value = x >> shift), else with the smallest shift (ONNX, to_value_shift).
// nullopt when value << shift cannot equal x exactly or the value does not fit. `values` and
// `shifts` hold one value or one per channel.
std::optional<ValueShift> stored_value_shift(const std::vector<int64_t>& values,
                                             const std::vector<int32_t>& shifts, size_t n,
                                             bool is_signed);

// The converted model's layers with kinds, parameters and inbound names but no variables: enough
// for akida::infer_output_shapes. Preconditions: the structure rules hold.
std::vector<akida::Layer> lower_layers_without_variables(const QuantizedGraph& graph);

}  // namespace cnn2snn::convert_detail
