// Output shapes, hand computed from the Akida padding rules:
//   Same: out = ceil(in / stride); Valid: out = (in - k) / stride + 1; global average: (1, 1, C).
#include "akida/shapes.h"

#include <gtest/gtest.h>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "runtime_test_helpers.h"
#include "test_support.h"

namespace akida {
namespace {

using namespace runtime_test;

Parameters conv(int kernel, int stride, int padding, int filters = 0, int pool_type = 0) {
  Parameters p{{"kernel_size", kernel}, {"kernel_stride", stride}, {"padding", padding},
               {"pool_type", pool_type}, {"pool_size", -1}, {"pool_stride", -1}};
  if (filters) p["filters"] = filters;
  return p;
}

TEST(Shapes, DsCnnKeywordSpotting) {
  Model m;
  m.layers.push_back(layer("conv_0", LayerKind::InputConv2D,
                           merged(conv(5, 2, 1, 64), {{"input_x", 49}, {"input_y", 10},
                                                      {"input_channels", 1}})));
  m.layers.push_back(layer("dw_1", LayerKind::DepthwiseConv2D, conv(3, 1, 1), {}, {"conv_0"}));
  m.layers.push_back(layer("pw_1", LayerKind::Conv2D, conv(1, 1, 1, 64), {}, {"dw_1"}));
  m.layers.push_back(layer("dw_2", LayerKind::DepthwiseConv2D, conv(3, 1, 1), {}, {"pw_1"}));
  m.layers.push_back(layer("pw_2", LayerKind::Conv2D, conv(1, 1, 1, 64, 2), {}, {"dw_2"}));
  m.layers.push_back(layer("dense", LayerKind::Dense1D, {{"units", 33}}, {}, {"pw_2"}));
  m.layers.push_back(layer("dequantizer", LayerKind::Dequantizer, {}, {}, {"dense"}));
  EXPECT_EQ(model_input_shape(m), (Shape{49, 10, 1}));
  // 49x10, k5 s2 Same: ceil(49/2) = 25, ceil(10/2) = 5; stride-1 Same layers keep 25x5;
  // pool_type 2 (global average) -> (1, 1, 64); Dense1D -> (1, 1, 33).
  EXPECT_EQ(infer_output_shapes(m), (std::vector<Shape>{{25, 5, 64},
                                                        {25, 5, 64},
                                                        {25, 5, 64},
                                                        {25, 5, 64},
                                                        {1, 1, 64},
                                                        {1, 1, 33},
                                                        {1, 1, 33}}));
}

Model one_conv(const Shape& in, Parameters conv_params) {
  Model m;
  m.layers.push_back(layer("input", LayerKind::InputData,
                           {{"input_width", static_cast<int32_t>(in.x)},
                            {"input_height", static_cast<int32_t>(in.y)},
                            {"input_channels", static_cast<int32_t>(in.c)},
                            {"input_bits", 8}}));
  m.layers.push_back(layer("conv", LayerKind::Conv2D, std::move(conv_params), {}, {"input"}));
  return m;
}

TEST(Shapes, ValidAndSameWithStrideAndMaxPooling) {
  // Valid k3 s2 on 7x5: (7-3)/2+1 = 3, (5-3)/2+1 = 2.
  EXPECT_EQ(infer_output_shapes(one_conv({7, 5, 2}, conv(3, 2, 0, 4)))[1], (Shape{3, 2, 4}));
  // Same k3 s2 on 7x5: ceil(7/2) = 4, ceil(5/2) = 3.
  EXPECT_EQ(infer_output_shapes(one_conv({7, 5, 2}, conv(3, 2, 1, 4)))[1], (Shape{4, 3, 4}));
  // Same k3 s1 -> 7x5, then max pool 2 stride 2 Same: ceil(7/2) = 4, ceil(5/2) = 3.
  Parameters pooled = merged(conv(3, 1, 1, 4, 1), {{"pool_size", 2}});
  EXPECT_EQ(infer_output_shapes(one_conv({7, 5, 2}, pooled))[1], (Shape{4, 3, 4}));
  // Valid k3 s1 -> 5x3, max pool 2 stride 1 Valid: (5-2)/1+1 = 4, (3-2)/1+1 = 2.
  Parameters valid_pool = merged(conv(3, 1, 0, 4, 1), {{"pool_size", 2}, {"pool_stride", 1}});
  EXPECT_EQ(infer_output_shapes(one_conv({7, 5, 2}, valid_pool))[1], (Shape{4, 2, 4}));
}

TEST(Shapes, ValidKernelLargerThanInputNamesLayerAndField) {
  try {
    infer_output_shapes(one_conv({7, 2, 1}, conv(3, 1, 0, 4)));
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "layer 'conv' (Conv2D): parameter 'kernel_size' is 3, larger than the "
                           "y dimension of its input (2) with Valid padding");
  }
}

TEST(Shapes, BadParametersNameTheField) {
  EXPECT_THROW(infer_output_shapes(one_conv({4, 4, 1}, conv(3, 0, 1, 4))), ShapeError);
  EXPECT_THROW(infer_output_shapes(one_conv({4, 4, 1}, conv(3, 1, 7, 4))), UnsupportedError);
  try {
    infer_output_shapes(one_conv({4, 4, 1}, conv(3, 1, 1)));  // no filters
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "layer 'conv' (Conv2D): parameter 'filters' is missing");
  }
  Model huge = one_conv({4, 4, 1}, conv(1, 1, 1, 4));
  huge.layers[0].parameters["input_width"] = 1 << 20;
  huge.layers[0].parameters["input_height"] = 1 << 20;
  EXPECT_THROW(infer_output_shapes(huge), ShapeError);
}

TEST(Shapes, InboundMustBeAnEarlierLayer) {
  Model m = one_conv({4, 4, 1}, conv(1, 1, 1, 4));
  m.layers[1].inbound = {"later"};
  EXPECT_THROW(infer_output_shapes(m), ShapeError);
}

TEST(Shapes, Akida1Layers) {
  // InputConvolutional 28x28x1, 3x3 stride 2 Valid: (28-3)/2+1 = 13.
  // SeparableConvolutional 3x3 stride 2 Same: ceil(13/2) = 7. FullyConnected: (1, 1, 10).
  const Parameters v1_conv{{"kernel_width", 3}, {"kernel_height", 3}, {"stride_x", 2},
                           {"stride_y", 2},     {"pool_type", 0},     {"pooling_width", -1},
                           {"pooling_height", -1}};
  Model m;
  m.layers.push_back(layer("conv2d", LayerKind::InputConvolutional,
                           merged(v1_conv, {{"input_width", 28}, {"input_height", 28},
                                            {"input_channels", 1}, {"filters", 32},
                                            {"padding", 0}})));
  m.layers.push_back(layer("sep", LayerKind::SeparableConvolutional,
                           merged(v1_conv, {{"filters", 64}, {"padding", 1}}), {}, {"conv2d"}));
  m.layers.push_back(layer("dense", LayerKind::FullyConnected, {{"units", 10}}, {}, {"sep"}));
  EXPECT_EQ(infer_output_shapes(m),
            (std::vector<Shape>{{13, 13, 32}, {7, 7, 64}, {1, 1, 10}}));
}

TEST(Shapes, Akida1RectangularKernelAndPooling) {
  // kernel_width (x) 3, kernel_height (y) 1, Valid on 6x4: x = 6-3+1 = 4, y = 4-1+1 = 4;
  // max pool width 2 height 1, strides -1 (= size), Valid: x = (4-2)/2+1 = 2, y = (4-1)/1+1 = 4.
  Model m;
  m.layers.push_back(layer("in", LayerKind::InputData,
                           {{"input_width", 6}, {"input_height", 4}, {"input_channels", 1},
                            {"input_bits", 4}}));
  m.layers.push_back(layer("conv", LayerKind::Convolutional,
                           {{"kernel_width", 3}, {"kernel_height", 1}, {"stride_x", 1},
                            {"stride_y", 1}, {"padding", 0}, {"filters", 5}, {"pool_type", 1},
                            {"pooling_width", 2}, {"pooling_height", 1},
                            {"pooling_stride_x", -1}, {"pooling_stride_y", -1}},
                           {}, {"in"}));
  EXPECT_EQ(infer_output_shapes(m)[1], (Shape{2, 4, 5}));
}

TEST(Shapes, MergeAndTemporalLayers) {
  Model m;
  m.layers.push_back(layer("in", LayerKind::InputData,
                           {{"input_width", 4}, {"input_height", 3}, {"input_channels", 2},
                            {"input_bits", 8}, {"input_signed", 1}}));
  m.layers.push_back(layer("btc", LayerKind::BufferTempConv, {{"filters", 6}}, {}, {"in"}));
  m.layers.push_back(layer("dwbtc", LayerKind::DepthwiseBufferTempConv, {}, {}, {"btc"}));
  m.layers.push_back(layer("add", LayerKind::Add, {}, {}, {"btc", "dwbtc"}));
  m.layers.push_back(layer("cat", LayerKind::Concatenate, {}, {}, {"add", "in"}));
  EXPECT_EQ(infer_output_shapes(m), (std::vector<Shape>{
                                        {4, 3, 2}, {4, 3, 6}, {4, 3, 6}, {4, 3, 6}, {4, 3, 8}}));
  m.layers[3].inbound = {"btc", "in"};  // (4, 3, 6) + (4, 3, 2): Add needs equal shapes
  EXPECT_THROW(infer_output_shapes(m), ShapeError);
}

// Real files: the shapes follow from the parameters printed by the fixture dump.
std::vector<Shape> fixture_shapes(const std::string& name) {
  return infer_output_shapes(read_fbz(test_support::fixture("fbz/" + name).string()));
}

TEST(Shapes, VwwFixture) {
  SKIP_WITHOUT_FIXTURE(test_support::fixture("fbz/akidanet_vww_i8_w8_a8_v2_2.11.fbz"));
  // 96 -> s2 48 (conv_0) -> 48 -> s2 24 (conv_2) -> 24 -> s2 12 (dw_4) ... s2 6 (dw_6) ...
  // s2 3 (dw_12); pw_13 has global average pooling; the classifier has 2 units.
  EXPECT_EQ(fixture_shapes("akidanet_vww_i8_w8_a8_v2_2.11.fbz"),
            (std::vector<Shape>{{48, 48, 8},   {48, 48, 16},  {24, 24, 32},  {24, 24, 32},
                                {12, 12, 32},  {12, 12, 64},  {12, 12, 64},  {12, 12, 64},
                                {6, 6, 64},    {6, 6, 128},   {6, 6, 128},   {6, 6, 128},
                                {6, 6, 128},   {6, 6, 128},   {6, 6, 128},   {6, 6, 128},
                                {6, 6, 128},   {6, 6, 128},   {6, 6, 128},   {6, 6, 128},
                                {3, 3, 128},   {3, 3, 256},   {3, 3, 256},   {1, 1, 256},
                                {1, 1, 2},     {1, 1, 2}}));
}

TEST(Shapes, TennstFixture) {
  SKIP_WITHOUT_FIXTURE(test_support::fixture("fbz/tennst_int8_v2_2.17.fbz"));
  // InputData (96, 128, 2); BufferTempConv keeps x, y; stride-2 Same convs halve them.
  EXPECT_EQ(fixture_shapes("tennst_int8_v2_2.17.fbz"),
            (std::vector<Shape>{{96, 128, 2}, {96, 128, 8}, {48, 64, 16}, {48, 64, 32},
                                {24, 32, 48}, {24, 32, 64}, {12, 16, 80}, {12, 16, 80},
                                {12, 16, 96}, {6, 8, 96},   {6, 8, 112},  {6, 8, 112},
                                {6, 8, 128},  {3, 4, 128},  {3, 4, 256},  {3, 4, 256},
                                {3, 4, 256},  {3, 4, 3},    {3, 4, 3}}));
}

TEST(Shapes, Akida1Fixtures) {
  SKIP_WITHOUT_FIXTURE(test_support::fixture("fbz/ei_inventory_v1.fbz"));
  // 224 Same s2 -> 112; conv_2 s2 -> 56; separable_4 s2 -> 28.
  EXPECT_EQ(fixture_shapes("ei_inventory_v1.fbz"),
            (std::vector<Shape>{{112, 112, 16}, {112, 112, 32}, {56, 56, 64}, {56, 56, 64},
                                {28, 28, 128}, {28, 28, 128}, {28, 28, 32}, {28, 28, 2}}));
  // 28 Valid k3 s2 -> 13; Same s2 -> 7; 7 * 7 * 64 = 3136 inputs to the 10-unit dense layer.
  EXPECT_EQ(fixture_shapes("tenn_v1.fbz"),
            (std::vector<Shape>{{13, 13, 32}, {7, 7, 64}, {1, 1, 10}}));
  EXPECT_EQ(fixture_shapes("ei_fan_v1_2.3.3.fbz"),
            (std::vector<Shape>{{1, 1, 39}, {1, 1, 20}, {1, 1, 10}, {1, 1, 4}}));
}

}  // namespace
}  // namespace akida

namespace akida {
namespace {

TEST(Shapes, EveryFixtureHasShapes) {
  const auto files = test_support::fixtures_with_extension("fbz", ".fbz");
  if (files.empty()) GTEST_SKIP() << "no .fbz fixtures";
  for (const auto& file : files) {
    const Model model = read_fbz(file.string());
    const std::vector<Shape> shapes = infer_output_shapes(model);
    ASSERT_EQ(shapes.size(), model.layers.size()) << file;
  }
}

}  // namespace
}  // namespace akida
