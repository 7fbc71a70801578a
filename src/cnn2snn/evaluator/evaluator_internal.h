// Internals of the reference evaluator, shared by its validation (prepare.cpp), its per-block
// arithmetic (blocks.cpp) and its driver (evaluator.cpp). Not a public interface.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "akida/shapes.h"
#include "cnn2snn/quantized_graph.h"

namespace cnn2snn::evaluator_detail {

// Index standing for the model input among a block's inbound indices.
inline constexpr int kModelInput = -1;

// A sliding window along one spatial axis (a conv kernel or a max pool).
struct Window {
  int64_t in = 0;    // input length
  int64_t out = 0;   // output length
  int64_t size = 1;  // kernel / pool size
  int64_t stride = 1;
  int64_t pad_before = 0;  // positions before the first input position
};

// A block ready to run: everything resolved, every per-channel vector expanded to full length.
struct PreparedBlock {
  const Block* block = nullptr;  // points into the evaluator's own copy of the graph
  std::vector<int> inbound;      // indices of inbound blocks, or kModelInput
  std::vector<akida::Shape> input_shapes;
  akida::Shape neural_shape;  // output of the neural op, before pooling
  akida::Shape output_shape;
  Window conv_x, conv_y;                  // InputConv2D / Conv2D / DepthwiseConv2D
  Window pool_x, pool_y;                  // Max pooling
  std::vector<int64_t> input_shift;       // per input channel (zeros when absent)
  std::vector<int64_t> padding_value;     // per input channel (zeros when absent)
  std::vector<int64_t> bias;              // per neural output channel (zeros when absent)
  std::vector<int64_t> relu_max;          // per channel; empty: unbounded
  std::vector<int64_t> lut_scale;         // LUT intermediate scale-out, per channel
  std::vector<int64_t> lut_shift;         // LUT intermediate scale-out, per channel
  std::vector<int64_t> scale;             // output stage, per output channel
  std::vector<int64_t> shift;             // output stage, per output channel
  std::vector<int64_t> a_shift, b_shift;  // Add, per channel (zeros when absent)
  std::vector<float> dequant_scales;      // Dequantizer, per channel
  std::vector<float> dequant_divisors;    // legacy Dequantizer, per channel (empty: multiply)
  std::deque<std::vector<int64_t>> fifo;  // temporal blocks: front = oldest frame
};

// Builds the prepared blocks, validating the whole graph. Throws akida::ShapeError /
// akida::UnsupportedError naming the source, block and field.
std::vector<PreparedBlock> prepare_blocks(const QuantizedGraph& graph);
// Validates the InputQuantizer against the graph input (no-op when absent).
void validate_input_quantizer(const QuantizedGraph& graph);

// Fills a temporal block's FIFO with fifo_size all-zero frames.
void reset_fifo(PreparedBlock& block);

// One sample through one integer block (every kind but Dequantizer). `inputs` holds one
// (x, y, c) row-major tensor per inbound.
std::vector<int64_t> eval_block(PreparedBlock& block,
                                const std::vector<const std::vector<int64_t>*>& inputs);
// One sample through a Dequantizer.
std::vector<float> eval_dequantizer(const PreparedBlock& block, const std::vector<int64_t>& input);

// Arithmetic helpers, exposed for the driver and the input quantizer.
int64_t saturate(int64_t value, int64_t lo, int64_t hi);
int64_t signed_min(int bits);  // -2^(bits-1)
int64_t signed_max(int bits);  // 2^(bits-1) - 1
int64_t saturate_signed(int64_t value, int bits);
double round_half_to_even(double value);

const char* kind_label(BlockKind kind);
// "<source>: block '<name>' (<Kind>): field '<field>': " (source omitted when empty).
std::string where(const QuantizedGraph& graph, const Block& block, const std::string& field);

}  // namespace cnn2snn::evaluator_detail
