// Reference kernels on tiny layers; every expected value is worked out by hand in the comments.
// Tensors are (x, y, c) row-major: x is the first spatial axis (rows), y the second.
#include <gtest/gtest.h>

#include "akida/errors.h"
#include "runtime_test_helpers.h"

namespace akida {
namespace {

using namespace runtime_test;

// in[x][y] = 3x + y + 1:   x0: 1 2 3 / x1: 4 5 6 / x2: 7 8 9
const std::vector<int32_t> kIn3x3 = {1, 2, 3, 4, 5, 6, 7, 8, 9};

Parameters conv_params(int kernel, int stride, int padding, int filters) {
  return merged(raw_output_params(), {{"kernel_size", kernel},
                                      {"kernel_stride", stride},
                                      {"padding", padding},
                                      {"filters", filters}});
}

TEST(Conv2DKernel, ComputesATrueConvolutionWithValidPadding) {
  // Stored kernel (kx=2, ky=2, C=1, F=1): w[0][0]=1 w[0][1]=2 / w[1][0]=3 w[1][1]=4.
  // True convolution: out[ox][oy] = Σ in[ox+i][oy+j] * w[1-i][1-j].
  //   out[0][0] = 1*4 + 2*3 + 4*2 + 5*1 = 23   (a correlation would give 1+4+12+20 = 37)
  //   out[0][1] = 2*4 + 3*3 + 5*2 + 6*1 = 33
  //   out[1][0] = 4*4 + 5*3 + 7*2 + 8*1 = 53
  //   out[1][1] = 5*4 + 6*3 + 8*2 + 9*1 = 63
  const Layer conv = layer("conv", LayerKind::Conv2D, conv_params(2, 1, 0, 1),
                           {i8("weights", {2, 2, 1, 1}, {1, 2, 3, 4})});
  EXPECT_EQ(run_layer(conv, {3, 3, 1}, kIn3x3), (std::vector<int32_t>{23, 33, 53, 63}));
}

TEST(Conv2DKernel, SamePaddingStride2PadsOneBeforeAndOneAfter) {
  // 3x3 input, k=3, s=2, Same: out = ceil(3/2) = 2, total pad = (2-1)*2 + 3 - 3 = 2 -> 1 before.
  // Stored w[i][j] = 3i + j + 1, rotated r[i][j] = w[2-i][2-j] = 9 - 3i - j.
  // out[ox][oy] = Σ in[2ox-1+i][2oy-1+j] * r[i][j] over positions inside the input:
  //   out[0][0]: in(0,0)=1*r[1][1]=5 + in(0,1)=2*r[1][2]=4 + in(1,0)=4*r[2][1]=2 + in(1,1)=5*r[2][2]=1
  //            = 5 + 8 + 8 + 5 = 26
  //   out[0][1]: 2*r[1][0]=6 + 3*r[1][1]=5 + 5*r[2][0]=3 + 6*r[2][1]=2 = 12 + 15 + 15 + 12 = 54
  //   out[1][0]: 4*r[0][1]=8 + 5*r[0][2]=7 + 7*r[1][1]=5 + 8*r[1][2]=4 = 32 + 35 + 35 + 32 = 134
  //   out[1][1]: 5*r[0][0]=9 + 6*r[0][1]=8 + 8*r[1][0]=6 + 9*r[1][1]=5 = 45 + 48 + 48 + 45 = 186
  const Layer conv = layer("conv", LayerKind::Conv2D, conv_params(3, 2, 1, 1),
                           {i8("weights", {3, 3, 1, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9})});
  EXPECT_EQ(run_layer(conv, {3, 3, 1}, kIn3x3), (std::vector<int32_t>{26, 54, 134, 186}));
}

TEST(Conv2DKernel, InputShiftAndShiftedBias) {
  // 1x1 kernel, input (1, 2, 2): pixel0 = (1, 2), pixel1 = (3, -4); input_shift = (1, 0)
  //   -> shifted pixel0 = (2, 2), pixel1 = (6, -4).
  // weights w[c][f]: w[0] = (1, -1), w[1] = (2, 3).
  //   pixel0: f0 = 2*1 + 2*2 = 6,   f1 = 2*-1 + 2*3 = 4
  //   pixel1: f0 = 6*1 - 4*2 = -2,  f1 = 6*-1 - 4*3 = -18
  // bias (5, -3) << bias_shift (2, 1) = (20, -6):
  //   pixel0 = (26, -2), pixel1 = (18, -24)
  const Layer conv = layer("conv", LayerKind::Conv2D, conv_params(1, 1, 1, 2),
                           {i8("bias", {2}, {5, -3}), u8("bias_shift", {2}, {2, 1}),
                            u8("input_shift", {2}, {1, 0}),
                            i8("weights", {1, 1, 2, 2}, {1, -1, 2, 3})});
  EXPECT_EQ(run_layer(conv, {1, 2, 2}, {1, 2, 3, -4}), (std::vector<int32_t>{26, -2, 18, -24}));
}

TEST(Conv2DKernel, WrongWeightsShapeNamesLayerAndVariable) {
  const Layer conv = layer("conv_1", LayerKind::Conv2D, conv_params(3, 1, 1, 32),
                           {i8("weights", {3, 3, 8, 16}, std::vector<int64_t>(3 * 3 * 8 * 16))});
  try {
    make_reference_kernel(conv, {{5, 5, 16}});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "layer 'conv_1' (Conv2D): variable 'weights' has shape [3, 3, 8, 16], expected "
                 "[3, 3, 16, 32]");
  }
}

TEST(Conv2DKernel, PerChannelVariableOfWrongLengthIsAShapeError) {
  const Layer conv = layer("c", LayerKind::Conv2D, conv_params(1, 1, 1, 2),
                           {i8("bias", {3}, {1, 2, 3}), i8("weights", {1, 1, 1, 2}, {1, 1})});
  EXPECT_THROW(make_reference_kernel(conv, {{1, 1, 1}}), ShapeError);
}

TEST(Conv2DKernel, MissingBitWidthNamesTheField) {
  Parameters params = conv_params(1, 1, 1, 1);
  params.erase("buffer_bits");
  const Layer conv = layer("c", LayerKind::Conv2D, params, {i8("weights", {1, 1, 1, 1}, {1})});
  try {
    make_reference_kernel(conv, {{1, 1, 1}});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "layer 'c' (Conv2D): parameter 'buffer_bits' is missing");
  }
}

TEST(InputConv2DKernel, CorrelatesAndPadsWithPaddingValueAfter) {
  // 4x4 input in[x][y] = 4x + y + 1 (1..16), k=3, s=2, Same: out = 2,
  // total pad = (2-1)*2 + 3 - 4 = 1 -> 0 before, 1 after (index 4 reads padding_value = 100).
  // Kernel as stored (correlation): w[0][0] = 1, w[0][2] = -1, w[2][2] = 2, others 0.
  //   out[0][0] = in(0,0)*1 - in(0,2) + 2*in(2,2) = 1 - 3 + 2*11 = 20
  //   out[0][1] = in(0,2)*1 - in(0,4) + 2*in(2,4) = 3 - 100 + 2*100 = 103
  //   out[1][0] = in(2,0)*1 - in(2,2) + 2*in(4,2) = 9 - 11 + 2*100 = 198
  //   out[1][1] = in(2,2)*1 - in(2,4) + 2*in(4,4) = 11 - 100 + 2*100 = 111
  const Layer conv =
      layer("conv_0", LayerKind::InputConv2D,
            merged(conv_params(3, 2, 1, 1), {{"input_x", 4}, {"input_y", 4}, {"input_channels", 1}}),
            {u8("padding_value", {1}, {100}),
             i8("weights", {3, 3, 1, 1}, {1, 0, -1, 0, 0, 0, 0, 0, 2})});
  std::vector<int32_t> in(16);
  for (int i = 0; i < 16; ++i) in[i] = i + 1;
  EXPECT_EQ(run_layer(conv, {4, 4, 1}, in), (std::vector<int32_t>{20, 103, 198, 111}));
}

TEST(DepthwiseConv2DKernel, ConvolvesEachChannelWithItsRotatedKernel) {
  // Input (2, 2, 2): (0,0) = (1, 10), (0,1) = (2, 20), (1,0) = (3, 30), (1,1) = (4, 40).
  // input_shift = (0, 1): channel 1 doubled -> 20, 40, 60, 80.
  // Stored w[i][j][c]: ch0 w00=1 w01=2 w10=3 w11=4; ch1 w00=-1 w01=0 w10=0 w11=5.
  // Valid k=2 -> one output: out[c] = Σ in[i][j][c] * w[1-i][1-j][c]
  //   ch0 = 1*4 + 2*3 + 3*2 + 4*1 = 20          (correlation: 1 + 4 + 9 + 16 = 30)
  //   ch1 = 20*5 + 40*0 + 60*0 + 80*(-1) = 20   (correlation: -20 + 400 = 380)
  const Layer dw = layer("dw", LayerKind::DepthwiseConv2D,
                         merged(raw_output_params(),
                                {{"kernel_size", 2}, {"kernel_stride", 1}, {"padding", 0}}),
                         {u8("input_shift", {2}, {0, 1}),
                          i8("weights", {2, 2, 2, 1}, {1, -1, 2, 0, 3, 0, 4, 5})});
  EXPECT_EQ(run_layer(dw, {2, 2, 2}, {1, 10, 2, 20, 3, 30, 4, 40}),
            (std::vector<int32_t>{20, 20}));
}

TEST(Dense1DKernel, MatMulBiasScaleShift) {
  // input (1,1,3) = (2, -1, 3), input_shift (0, 1, 0) -> (2, -2, 3).
  // weights (3, 2): row k = (w[k][0], w[k][1]) = (1, -2), (4, 0), (-1, 5).
  //   f0 = 2*1 + -2*4 + 3*-1 = -9;  f1 = 2*-2 + -2*0 + 3*5 = 11
  // bias (1, 0) << (3, 0): f0 = -9 + 8 = -1, f1 = 11
  // scales (3, 1), shift (-1, 0): f0 = (-3 + 1) >> 1 = -1, f1 = 11
  const Layer dense =
      layer("fc", LayerKind::Dense1D,
            {{"units", 2}, {"buffer_bits", 28}, {"post_op_buffer_bits", 32}, {"output_bits", 8}},
            {i8("bias", {2}, {1, 0}), u8("bias_shift", {2}, {3, 0}),
             u8("input_shift", {3}, {0, 1, 0}), u8("output_scales", {2}, {3, 1}),
             i8("output_shift", {2}, {-1, 0}), i8("weights", {3, 2}, {1, -2, 4, 0, -1, 5})});
  EXPECT_EQ(run_layer(dense, {1, 1, 3}, {2, -1, 3}), (std::vector<int32_t>{-1, 11}));
}

TEST(DequantizerKernel, MultipliesPerChannelOrByOneScale) {
  // (3, -4) * (0.5, 0.25) = (1.5, -1.0); with one scale 2.0: (6, -8). All exact in float32.
  const std::vector<int32_t> in = {3, -4};
  std::vector<float> out;
  auto per_channel = make_reference_kernel(
      layer("dq", LayerKind::Dequantizer, {}, {f32("scales", {2}, {0.5f, 0.25f})}), {{1, 1, 2}});
  ASSERT_TRUE(per_channel->float_output());
  per_channel->eval_float({&in}, out);
  EXPECT_EQ(out, (std::vector<float>{1.5f, -1.0f}));
  auto single = make_reference_kernel(
      layer("dq", LayerKind::Dequantizer, {}, {f32("scales", {1}, {2.0f})}), {{1, 1, 2}});
  single->eval_float({&in}, out);
  EXPECT_EQ(out, (std::vector<float>{6.0f, -8.0f}));
}

}  // namespace
}  // namespace akida
