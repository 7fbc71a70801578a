// The shared output stage (bias, pooling, ReLU, scale, shift, saturation), hand computed.
#include "akida/runtime/post_ops.h"

#include <gtest/gtest.h>

#include "akida/errors.h"

#include "runtime_test_helpers.h"

namespace akida {
namespace {

using namespace runtime_test;

// Applies `layer`'s post-ops (no pooling) to accumulators of shape (1, n, channels).
std::vector<int32_t> post_ops(const Layer& l, int64_t pixels, std::vector<int64_t> acc) {
  const int64_t channels = static_cast<int64_t>(acc.size()) / pixels;
  const auto ops = runtime::prepare_post_ops(l, Shape{1, pixels, channels});
  std::vector<int32_t> out;
  runtime::apply_post_ops(ops, acc, out);
  return out;
}

Parameters bits(int buffer, int post_op, int output) {
  return {{"buffer_bits", buffer}, {"post_op_buffer_bits", post_op}, {"output_bits", output}};
}

TEST(PostOps, ShiftRoundsHalfUp) {
  // ch0:  3 * 1 = 3,   shift -1: (3 + 1) >> 1 = 2          (1.5 -> 2)
  // ch1: -3 * 1 = -3,  shift -1: (-3 + 1) >> 1 = -1        (-1.5 -> -1: floor(-1.5 + 0.5))
  // ch2:  5 * 3 = 15,  shift -2: (15 + 2) >> 2 = 4         (3.75 -> 4)
  // ch3:  7 * 2 = 14,  shift +2: 14 << 2 = 56
  // ch4: -5 * 1 = -5,  shift -1: (-5 + 1) >> 1 = -2        (-2.5 -> -2)
  const Layer l = layer("l", LayerKind::Conv2D, bits(32, 32, 8),
                        {u8("output_scales", {5}, {1, 1, 3, 2, 1}),
                         i8("output_shift", {5}, {-1, -1, -2, 2, -1})});
  EXPECT_EQ(post_ops(l, 1, {3, -3, 5, 7, -5}), (std::vector<int32_t>{2, -1, 4, 56, -2}));
}

TEST(PostOps, AccumulatorSaturatesToBufferBitsBeforeScaling) {
  // buffer 8 bits: [-128, 127]. scale 1, shift -4.
  //   300 -> 127 -> (127 + 8) >> 4 = 8        (unsaturated: (300 + 8) >> 4 = 19)
  //  -300 -> -128 -> (-128 + 8) >> 4 = -8     (-7.5 -> floor = -8)
  const Layer l = layer("l", LayerKind::Conv2D, bits(8, 32, 32),
                        {u8("output_scales", {1}, {1}), i8("output_shift", {1}, {-4})});
  EXPECT_EQ(post_ops(l, 2, {300, -300}), (std::vector<int32_t>{8, -8}));
}

TEST(PostOps, BiasIsAddedToTheSaturatedAccumulatorAndSaturatedAgain) {
  // buffer 8 bits, raw output (no scales), output_bits 16.
  //   ch0: acc 100, bias 100:  sat(100) + 100 = 200 -> 127
  //   ch1: acc 300, bias -100: sat(300) = 127, 127 - 100 = 27   (unsaturated first: 200 -> 127)
  const Layer l = layer("l", LayerKind::Conv2D, bits(8, 32, 16),
                        {i8("bias", {2}, {100, -100}), u8("bias_shift", {2}, {0, 0})});
  EXPECT_EQ(post_ops(l, 1, {100, 300}), (std::vector<int32_t>{127, 27}));
}

TEST(PostOps, ProductSaturatesToPostOpBufferBits) {
  // post_op 10 bits: [-512, 511]. 100 * 8 = 800 -> 511, shift -1: (511 + 1) >> 1 = 256
  // (unsaturated: 400). -100 * 8 = -800 -> -512, (-512 + 1) >> 1 = -256 (floor of -255.5).
  const Layer l = layer("l", LayerKind::Conv2D, bits(32, 10, 32),
                        {u8("output_scales", {1}, {8}), i8("output_shift", {1}, {-1})});
  EXPECT_EQ(post_ops(l, 2, {100, -100}), (std::vector<int32_t>{256, -256}));
}

TEST(PostOps, OutputSaturatesToSignedOutputBits) {
  // output 4 bits: [-8, 7]; 8 bits: [-128, 127] (an 8-bit ReLU output clips at 127).
  const Layer four = layer("l", LayerKind::Conv2D, bits(32, 32, 4),
                           {u8("output_scales", {1}, {1}), i8("output_shift", {1}, {0})});
  EXPECT_EQ(post_ops(four, 3, {100, -100, 7}), (std::vector<int32_t>{7, -8, 7}));
  const Layer relu8 = layer("l", LayerKind::Conv2D, merged(bits(32, 32, 8), {{"activation", 1}}),
                            {u8("output_scales", {1}, {1}), i8("output_shift", {1}, {0})});
  EXPECT_EQ(post_ops(relu8, 3, {200, -5, 127}), (std::vector<int32_t>{127, 0, 127}));
}

TEST(PostOps, ReluClipsToShiftedMaxValue) {
  // max = max_value << max_value_shift = (3 << 2, 200 << 0) = (12, 200).
  // pixel0 = (20, -5) -> (12, 0); pixel1 = (7, 300) -> (7, 200).
  const Layer l = layer("l", LayerKind::Conv2D, merged(bits(32, 32, 32), {{"activation", 1}}),
                        {u8("max_value", {2}, {3, 200}), u8("max_value_shift", {2}, {2, 0})});
  EXPECT_EQ(post_ops(l, 2, {20, -5, 7, 300}), (std::vector<int32_t>{12, 0, 7, 200}));
  // Without max_value: only the lower bound.
  const Layer unbounded =
      layer("l", LayerKind::Conv2D, merged(bits(32, 32, 32), {{"activation", 1}}));
  EXPECT_EQ(post_ops(unbounded, 2, {20, -5, 7, 300}), (std::vector<int32_t>{20, 0, 7, 300}));
}

// lut_values[k] = 5 * (k - 1024) + 1: the table entry of 11-bit value v sits at index v + 1024.
Variable affine_lut() {
  std::vector<int64_t> table(2048);
  for (int64_t k = 0; k < 2048; ++k) table[k] = 5 * (k - 1024) + 1;
  return int_var("lut_values", {2048}, DType::Int32, table);
}

TEST(PostOps, LutScalesOutTo11BitsThenReadsTheTable) {
  // ch0: activation scale 3, shift -2; output scale 1, shift 0.
  //     5 ->    15 -> (15 + 2) >> 2 = 4                -> 5 * 4 + 1 = 21
  //    -6 ->   -18 -> (-18 + 2) >> 2 = -4              -> -19
  //  2000 ->  6000 -> 1500 -> saturated to 1023        -> 5116
  // -2000 -> -6000 -> floor(-1499.5) = -1500 -> -1024  -> table[0] = -5119
  // ch1: activation scale 1, shift +1; output scale 1, shift -1 (rounded half up).
  //   300 ->   600                                     -> 3001 -> (3001 + 1) >> 1 = 1501
  //  -700 -> -1400 -> -1024                            -> -5119 -> (-5119 + 1) >> 1 = -2559
  //     7 ->    14                                     -> 71 -> 36
  //     0 ->     0                                     -> table[1024] = 1 -> (1 + 1) >> 1 = 1
  const Layer l = layer("l", LayerKind::Conv2D, merged(bits(32, 32, 16), {{"activation", 2}}),
                        {u8("activation_scales", {2}, {3, 1}), i8("activation_shift", {2}, {-2, 1}),
                         affine_lut(), u8("output_scales", {2}, {1, 1}),
                         i8("output_shift", {2}, {0, -1})});
  EXPECT_EQ(post_ops(l, 4, {5, 300, -6, -700, 2000, 7, -2000, 0}),
            (std::vector<int32_t>{21, 1501, -19, -2559, 5116, 36, -5119, 1}));
}

TEST(PostOps, LutProductSaturatesToPostOpBufferBits) {
  // post_op 10 bits: 100 * 8 = 800 -> 511 -> shift 0 -> table[511 + 1024] = 2556
  // (unsaturated: 800 -> 4001).
  const Layer l = layer("l", LayerKind::Conv2D, merged(bits(32, 10, 16), {{"activation", 2}}),
                        {u8("activation_scales", {1}, {8}), i8("activation_shift", {1}, {0}),
                         affine_lut()});
  EXPECT_EQ(post_ops(l, 1, {100}), (std::vector<int32_t>{2556}));
}

TEST(PostOps, LutWithoutItsTableNamesTheVariable) {
  const Layer l = layer("l", LayerKind::Conv2D, merged(bits(32, 32, 8), {{"activation", 2}}));
  EXPECT_THROW(post_ops(l, 1, {1}), ShapeError);
  const Layer short_table =
      layer("l", LayerKind::Conv2D, merged(bits(32, 32, 8), {{"activation", 2}}),
            {int_var("lut_values", {1024}, DType::Int32, std::vector<int64_t>(1024, 0))});
  try {
    post_ops(short_table, 1, {1});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("variable 'lut_values'"), std::string::npos) << e.what();
  }
}

TEST(PostOps, UnknownActivationIsUnsupported) {
  const Layer l = layer("l", LayerKind::Conv2D, merged(bits(32, 32, 8), {{"activation", 3}}));
  EXPECT_THROW(post_ops(l, 1, {1}), UnsupportedError);
}

TEST(PostOps, OutputShiftOutOfRangeNamesTheVariable) {
  const Layer l = layer("l", LayerKind::Conv2D, bits(32, 32, 8),
                        {u8("output_scales", {1}, {1}), i8("output_shift", {1}, {40})});
  try {
    post_ops(l, 1, {1});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "layer 'l' (Conv2D): variable 'output_shift'[0] is 40, expected -62..31");
  }
}

// Pooling runs through a whole Conv2D: a 1x1 kernel of weight 1 copies its input, so the output
// is the pooling of the input itself.
Layer identity_conv(int padding, int pool_type, int pool_size, int pool_stride, int activation) {
  return layer("pool", LayerKind::Conv2D,
               merged(bits(32, 32, 32), {{"kernel_size", 1},
                                         {"kernel_stride", 1},
                                         {"filters", 1},
                                         {"padding", padding},
                                         {"pool_type", pool_type},
                                         {"pool_size", pool_size},
                                         {"pool_stride", pool_stride},
                                         {"activation", activation}}),
               {i8("weights", {1, 1, 1, 1}, {1})});
}

TEST(PostOps, MaxPool2x2Stride2Valid) {
  // 4x4 input 1..16 (row x = 4x + y + 1): windows {1,2,5,6} {3,4,7,8} {9,10,13,14} {11,12,15,16}.
  std::vector<int32_t> in(16);
  for (int i = 0; i < 16; ++i) in[i] = i + 1;
  EXPECT_EQ(run_layer(identity_conv(0, 1, 2, -1, 0), {4, 4, 1}, in),
            (std::vector<int32_t>{6, 8, 14, 16}));
}

TEST(PostOps, MaxPoolSamePaddingIgnoresPaddedPositions) {
  // 3x3 input, all negative:  x0: -5 -9 -7 / x1: -8 -6 -3 / x2: -4 -2 -10.
  // Pool 2, stride 2, Same: out = ceil(3/2) = 2, total pad = (2-1)*2 + 2 - 3 = 1 -> after.
  //   [0][0] = max(-5, -9, -8, -6) = -5     [0][1] = max(-7, -3) = -3   (y = 3 is padding)
  //   [1][0] = max(-4, -2) = -2             [1][1] = -10
  // Padding read as 0 would give 0 in three of them.
  EXPECT_EQ(run_layer(identity_conv(1, 1, 2, 2, 0), {3, 3, 1}, {-5, -9, -7, -8, -6, -3, -4, -2, -10}),
            (std::vector<int32_t>{-5, -3, -2, -10}));
}

TEST(PostOps, GlobalAverageIsASumAfterRelu) {
  // 2x2 input (3, -4, 5, 6): ReLU -> (3, 0, 5, 6), sum = 14 (a sum before ReLU would be 10).
  // Then scale 1, shift -1: (14 + 1) >> 1 = 7.
  Layer gap = identity_conv(1, 2, 0, 0, 1);
  gap.variables.push_back(u8("output_scales", {1}, {1}));
  gap.variables.push_back(i8("output_shift", {1}, {-1}));
  EXPECT_EQ(run_layer(gap, {2, 2, 1}, {3, -4, 5, 6}), (std::vector<int32_t>{7}));
}

TEST(PostOps, SaturateAndShiftHelpers) {
  EXPECT_EQ(runtime::saturate(128, 8), 127);
  EXPECT_EQ(runtime::saturate(-129, 8), -128);
  EXPECT_EQ(runtime::saturate(-128, 8), -128);
  EXPECT_EQ(runtime::apply_shift(-1, -1), 0);   // -0.5 -> 0 (half up)
  EXPECT_EQ(runtime::apply_shift(-3, -2), -1);  // -0.75 -> -1
  EXPECT_EQ(runtime::apply_shift(-3, 3), -24);
}

}  // namespace
}  // namespace akida
