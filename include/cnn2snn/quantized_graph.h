// QuantizedGraph: the converter's intermediate form of a quantized model.
//
// Both front ends (QuantizeML Keras .h5 and QuantizeML ONNX) produce it; the reference evaluator
// runs it with QuantizeML's integer semantics; the converter lowers it to an akida::Model.
//
// One Block is what becomes one Akida layer: the front ends group source layers into blocks (a
// Keras QuantizedConv2D > QuantizedMaxPool2D > QuantizedReLU, or one fused ONNX node such as
// QuantizedConv2DBiasedReLUScaled). Every value is an integer in the units QuantizeML computes
// with; nothing here is in Akida's storage form (no int8 bias + shift split, no kernel flips, no
// output_shift clipping): producing that form, and checking it can be produced, is the
// converter's job. That is what makes "evaluator == converted model" a real test.
//
// Layouts: activations are (x, y, c) per sample, x the first spatial axis (rows), as in Akida.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "akida/shapes.h"

namespace cnn2snn {

// A dense integer array, row-major.
struct IntTensor {
  std::vector<int64_t> shape;
  std::vector<int64_t> values;
  int64_t at(size_t i) const { return values[i]; }
};

enum class BlockKind {
  InputConv2D,               // first layer on a uint8 image: correlation, padding_value
  Conv2D,                    // correlation with a (kx, ky, C, F) kernel
  DepthwiseConv2D,           // per-channel correlation with a (kx, ky, C) kernel
  Dense,                     // (X, F) over the (x, y, c)-flattened input
  BufferTempConv,            // FIFO of fifo_size frames, then a 1x1 conv over (T, C)
  DepthwiseBufferTempConv,   // FIFO of fifo_size frames, per-channel sum over T
  Add,
  Concatenate,
  Dequantizer,
  // Akida 1.0 only (QuantizeML QuantizedSeparableConv2D): a per-channel correlation with the
  // depthwise kernel `weights` (kx, ky, C), then a 1x1 convolution with `pointwise_weights`
  // (C, F), with no rounding or saturation in between (QuantizeML sums the exact depthwise
  // integers; quantizeml/layers/separable_convolution.py).
  SeparableConv2D,
};
const char* block_kind_name(BlockKind kind);

// The value of channel n of a per-channel vector that holds one value per channel or one value
// for all (the convention of every per-channel field below). Precondition: v is not empty.
template <typename T>
T channel_value(const std::vector<T>& v, size_t n) {
  return v.size() == 1 ? v.front() : v[n];
}

enum class PaddingKind { Valid, Same, SameUpper };  // Same: TF "SAME", the odd extra pad after
enum class PoolKind { None, Max, GlobalAverage };

struct Pooling {
  PoolKind kind = PoolKind::None;
  int64_t size = 0;    // Max: square window
  int64_t stride = 0;  // Max: stride
  // Max: the pool's own padding, as the source model computes it. Akida pools with its layer's
  // (the convolution's) padding, so the converter requires the two to agree (akida-spec §3.3).
  PaddingKind padding = PaddingKind::Valid;
};

// The output stage QuantizeML applies with an OutputQuantizer (or the ONNX "Scaled" suffix):
//   y = saturate(acc * scale[f], post_op_buffer_bits)
//   y = shift[f] < 0 ? (y + 2^(-shift-1)) >> -shift : y << shift     (round half up)
//   y = saturate(y, output_bits, output_signed)
struct OutputStage {
  std::vector<int64_t> scale;  // per output channel (or one value for all), >= 1
  std::vector<int32_t> shift;  // per output channel (or one value for all)
  int32_t post_op_buffer_bits = 32;
  int32_t output_bits = 8;
  bool output_signed = true;
};

// A lookup-table activation (QuantizeML QuantizedActivation, ONNX op_type suffix "LUT"), applied
// where a ReLU would be: after max pooling, before the global sum. Per value of channel f:
//   i = the OutputStage arithmetic of `scale_out` (multiply, rounded shift, saturation to
//       scale_out.output_bits, signed): 11 bits in every QuantizeML export
//   value = table[i + 2^(output_bits - 1)]
// The table is ordered by input value, from -2^(b-1) to 2^(b-1) - 1, as Akida's lut_values; ONNX
// stores it [0 .. N-1, -N .. -1] (for a Gather with negative indices): the front end reorders it.
struct LutActivation {
  OutputStage scale_out;       // the intermediate scale-out (ActScale / ActShift)
  std::vector<int64_t> table;  // 2^scale_out.output_bits values (QuantizeML: 14-bit integers)
};

// A legacy CNN2SNN quantized activation (cnn2snn < 2.0 QuantizedReLU / ActivationDiscreteRelu:
// step * clip(ceil((x - step/2) / step), 0, 2^bits - 1) on the float pre-activation), in
// integers: the level of channel f is the number of boundaries[f] its accumulator reaches
// (acc >= B), the accumulator taken after max pooling, or the global sum when
// global_pool_before_relu. The front end derives the boundaries from the float model (bias,
// scales, step) once; they are exact wherever the float model's pre-activation is not within
// rounding of a level edge.
struct LevelActivation {
  int32_t bits = 4;                               // levels 0 .. 2^bits - 1
  std::vector<std::vector<int64_t>> boundaries;   // per channel, 2^bits - 1 non-decreasing values
  // Per channel: the real accumulator distance between two levels (q = input scale * weight
  // scale * step) and the real position of the first edge (level 1 needs acc > first_edge):
  // what BrainChip's legacy converter derives threshold and act_step from.
  std::vector<double> spacing, first_edge;
};

struct Block {
  std::string name;                        // name of the Akida layer it becomes
  std::vector<std::string> source_layers;  // source layers/nodes grouped here (for messages)
  BlockKind kind = BlockKind::Conv2D;
  std::vector<std::string> inbound;        // names of inbound blocks; empty: the model input

  // --- neural blocks (convs, dense, temporal convs) ---
  // Conv2D/InputConv2D: (kx, ky, C, F); DepthwiseConv2D: (kx, ky, C); Dense: (X, F);
  // BufferTempConv: (T, C, F), T index 0 = the oldest frame in the FIFO; DepthwiseBufferTempConv:
  // (T, C). Always in correlation orientation (as Keras and ONNX compute).
  IntTensor weights;
  int32_t weights_bits = 8;
  int64_t stride = 1;
  PaddingKind padding = PaddingKind::Valid;
  std::vector<int64_t> padding_value;  // per input channel (InputConv2D); empty: 0
  std::vector<int32_t> input_shift;    // per input channel left shift; empty: none
  int32_t fifo_size = 0;               // temporal blocks
  std::vector<int64_t> bias;           // per output channel, aligned on the accumulator; empty: none
  // The left shift QuantizeML's AlignedWeightQuantizer applied to align each bias (bias is an
  // exact multiple of 2^bias_shift): BrainChip's Keras converter stores bias >> bias_shift with
  // that shift. Empty (ONNX, which keeps only the aligned bias): the converter takes the smallest
  // shift, as BrainChip's ONNX converter does.
  std::vector<int32_t> bias_shift;
  int32_t buffer_bits = 32;            // the accumulator saturates to this signed width
  Pooling pool;                        // Max before the activation; GlobalAverage after it (a sum)
  // Akida 1.0 block order (QConv2D > QGlobalAveragePooling2D > QReLU): the global sum is taken
  // before the ReLU instead of after it, and relu_max is in the units of that sum.
  bool global_pool_before_relu = false;
  bool relu = false;
  std::vector<int64_t> relu_max;       // per channel (or one value), accumulator units; empty: unbounded
  std::vector<int32_t> relu_max_shift; // as bias_shift, for the ReLU's max_value quantizer
  std::optional<LutActivation> lut;    // instead of a ReLU (a block has at most one activation)
  std::optional<LevelActivation> levels;  // legacy CNN2SNN models only, instead of relu + output
  std::optional<OutputStage> output;   // absent: the block outputs its accumulator
  // SeparableConv2D: the pointwise kernel (C, F) and its bit width (`weights` and weights_bits
  // are the depthwise kernel's). Empty for every other kind.
  IntTensor pointwise_weights;
  int32_t pointwise_weights_bits = 8;

  // --- Add: (a[c] << a_shift[c]) + (b[c] << b_shift[c]), saturated to buffer_bits, then
  // `output`. Per channel (QuantizeML aligns per-axis inputs channel by channel), or one value
  // for all; empty: 0.
  std::vector<int32_t> a_shift, b_shift;

  // --- Dequantizer: float(x) * scales[c] (per channel, or one value); a legacy CNN2SNN model's
  // final layer divides instead: float(x / divisors[c]) (its float output is acc / k, and Akida
  // 1.0 computes (p - threshold) / act_step), with `scales` then 1 / divisors for information.
  std::vector<float> scales;
  std::vector<float> divisors;
};

// How float inputs become the model's integer inputs (ONNX/Keras InputQuantizer):
// q = saturate(round_half_to_even(x / scale[c]) + zero_point[c], bits, signed).
struct InputQuantizer {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int32_t bits = 8;
  bool is_signed = true;
  bool channels_first = false;  // the float input is (N, C, X, Y) and is transposed first
};

struct QuantizedGraph {
  std::string source;            // file the graph was read from (for messages)
  akida::Shape input_shape;      // integer input, (x, y, c)
  int32_t input_bits = 8;
  bool input_signed = false;
  std::optional<InputQuantizer> input_quantizer;
  std::vector<Block> blocks;     // topological order
  // Read from a legacy CNN2SNN model (cnn2snn < 2.0 quantization): it converts to Akida 1.0
  // whatever the target, as BrainChip's cnn2snn does.
  bool legacy_cnn2snn = false;

  const Block* find(const std::string& name) const;
};

}  // namespace cnn2snn
