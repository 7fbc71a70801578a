// The output stage shared by every Akida 2.0 compute layer (InputConv2D, Conv2D, DepthwiseConv2D,
// Dense1D): bias, max pooling, ReLU, global-average pooling, output scale and shift, saturation.
//
// Order and arithmetic (docs/fbz-format.md "Verified Akida 2.0 arithmetic", akida-spec §1.3, §7),
// on int64 values, per output channel f:
//   a = sat(acc, buffer_bits)                          accumulator register width
//   a = sat(a + (bias[f] << bias_shift[f]), buffer_bits)
//   max pooling over a (TF semantics: padded positions are ignored)      pool_type 1
//   ReLU: a = clamp(a, 0, max_value[f] << max_value_shift[f])           activation 1
//         (no max_value variable: only a >= 0)
//   or LUT: i = sat(a * activation_scales[f], post_op_buffer_bits)      activation 2
//         i = sat(activation_shift[f] < 0 ? rounded right shift : left shift, 11)
//         a = lut_values[i + 1024]    (2048 int32 values ordered by input -1024..1023;
//         cnn2snn onnx_conversion/activation.py set_lut_variables, QuantizeML conv2d LUT body)
//   global average pooling as a SUM over x, y (1/(x*y) is folded into output_scales), then
//         sat(., buffer_bits)                                            pool_type 2
//   y = sat(a * output_scales[f], post_op_buffer_bits)
//   y = output_shift[f] < 0 ? (y + 2^(k-1)) >> k with k = -shift  (round half up)
//                           : y << output_shift[f]
//   out = sat(y, output_bits)
// sat(v, b) clamps to the signed range [-2^(b-1), 2^(b-1) - 1] (8-bit ReLU outputs clip at 127,
// akida-spec §1.3 step 7). A layer with neither output_scales nor output_shift outputs its
// accumulator (still saturated to output_bits, which such layers set to buffer_bits).
#pragma once

#include <algorithm>

#include <cstdint>
#include <vector>

#include "akida/model.h"
#include "akida/shapes.h"
#include "akida/runtime/geometry.h"

namespace akida::runtime {

// Clamps to the signed range of `bits` bits (1..63).
inline int64_t saturate(int64_t value, int bits) {
  const int64_t max = (int64_t{1} << (bits - 1)) - 1;
  const int64_t min = -(int64_t{1} << (bits - 1));
  return std::clamp(value, min, max);
}
// shift < 0: arithmetic right shift by -shift rounding half up; shift >= 0: left shift.
// Preconditions: -62 <= shift <= 31 and value << shift fits in int64.
inline int64_t apply_shift(int64_t value, int32_t shift) {
  if (shift >= 0) return value * (int64_t{1} << shift);  // multiply: well defined for negatives
  const int k = -shift;
  // >> on a negative int64 is an arithmetic shift (guaranteed since C++20): floor division.
  return (value + (int64_t{1} << (k - 1))) >> k;
}

// Akida's LUT holds 2048 entries, indexed by an 11-bit signed value: BrainChip's converter can
// only fill it from an 11-bit intermediate scale-out ("Table size is hardcoded", cnn2snn
// quantizeml/activations.py set_lut_variables).
inline constexpr int kLutBits = 11;
inline constexpr int64_t kLutSize = int64_t{1} << kLutBits;

struct PostOps {
  Shape conv_shape;  // the accumulator map the layer computes, before pooling
  Shape out_shape;   // after pooling
  int buffer_bits = 32;
  std::vector<int64_t> bias;  // bias << bias_shift, per channel; empty: no bias
  PoolType pool = PoolType::None;
  Axis pool_x, pool_y;  // max pooling geometry over conv_shape
  Window pool_window;
  bool relu = false;
  std::vector<int64_t> relu_max;  // max_value << max_value_shift per channel; empty: unbounded
  bool lut = false;                    // activation 2: the lookup table instead of a ReLU
  std::vector<int64_t> lut_scales;     // activation_scales per channel (1 when absent)
  std::vector<int32_t> lut_shift;      // activation_shift per channel (0 when absent)
  std::vector<int64_t> lut_values;     // kLutSize values, index = 11-bit value + kLutSize / 2
  bool scaled = false;            // output_scales or output_shift present
  std::vector<int64_t> output_scales;  // per channel (all 1 when only output_shift is present)
  std::vector<int32_t> output_shift;   // per channel (all 0 when only output_scales is present)
  int post_op_buffer_bits = 32;
  int output_bits = 8;
};

// Reads the bit widths, activation and post-op variables of `layer` and checks their shapes
// (one value per output channel) and ranges. `plan` gives the accumulator map and pooling.
// Throws ShapeError / UnsupportedError naming the layer and field.
PostOps prepare_post_ops(const Layer& layer, const ConvParams& params, const ConvPlan& plan);
// For layers without pooling (Dense1D): the accumulator map is `conv_shape`.
PostOps prepare_post_ops(const Layer& layer, const Shape& conv_shape);

// The max pooling of `ops` (ops.pool_window over ops.conv_shape, TF padding) from `in`
// (ops.conv_shape values) into `out` (ops.out_shape values).
void max_pool(const PostOps& ops, const int64_t* in, int64_t* out);
void max_pool(const PostOps& ops, const int32_t* in, int32_t* out);

// Turns the raw accumulators `acc` (ops.conv_shape values, (x, y, channel) row-major; modified in
// place) into the layer output `out` (resized to ops.out_shape values).
void apply_post_ops(const PostOps& ops, std::vector<int64_t>& acc, std::vector<int32_t>& out);

// The largest |input| a layer may receive is 2^31 (outputs are int32), shifted left by up to
// max(input_shift). Throws UnsupportedError naming the layer when one output's sum of |weights|
// (`weight_l1`, one entry per output channel) could then overflow the int64 accumulator.
void check_accumulator_bound(const Layer& layer, const std::vector<int64_t>& weight_l1,
                             const std::vector<int32_t>& input_shift);

}  // namespace akida::runtime
