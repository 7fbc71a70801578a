#include "akida/summary.h"

#include <gtest/gtest.h>

#include <sstream>

#include "akida/errors.h"

namespace akida {
namespace {

Variable int8_variable(const std::string& name, std::vector<uint32_t> shape) {
  Variable v;
  v.name = name;
  v.shape = std::move(shape);
  v.dtype = DType::Int8;
  v.data.assign(v.element_count(), 0);
  return v;
}

Layer layer(const std::string& name, LayerKind kind, std::vector<Variable> variables,
            const std::string& inbound) {
  Layer l;
  l.name = name;
  l.kind = kind;
  l.variables = std::move(variables);
  if (!inbound.empty()) l.inbound = {inbound};
  return l;
}

// Convolution parameters keyed as in the real AkidaNet VWW file (akida 2.11): kernel_size,
// kernel_stride, padding 1 = Same, pool_type 2 = global average.
Parameters conv_parameters(int32_t kernel, int32_t stride, int32_t filters, int32_t pool_type = 0) {
  Parameters p = {{"kernel_size", kernel},  {"kernel_stride", stride}, {"padding", 1},
                  {"pool_type", pool_type}, {"pool_size", -1},         {"pool_stride", -1},
                  {"activation", 1},        {"output_bits", 8},        {"buffer_bits", 28}};
  if (filters) p["filters"] = filters;
  return p;
}

// The DS-CNN v2 model of the vendor's published summary (akida-spec §4.4).
Model ds_cnn_v2() {
  Model m;
  m.layers.push_back(
      layer("conv_0", LayerKind::InputConv2D, {int8_variable("weights", {5, 5, 1, 64})}, ""));
  m.layers.back().parameters = conv_parameters(5, 2, 64);
  m.layers.back().parameters.insert({{"input_x", 49}, {"input_y", 10}, {"input_channels", 1}});
  std::string previous = "conv_0";
  for (int k = 1; k <= 4; ++k) {
    const std::string dw = "dw_separable_" + std::to_string(k);
    const std::string pw = "pw_separable_" + std::to_string(k);
    m.layers.push_back(
        layer(dw, LayerKind::DepthwiseConv2D, {int8_variable("weights", {3, 3, 64, 1})}, previous));
    m.layers.back().parameters = conv_parameters(3, 1, 0);
    m.layers.push_back(
        layer(pw, LayerKind::Conv2D, {int8_variable("weights", {1, 1, 64, 64})}, dw));
    m.layers.back().parameters = conv_parameters(1, 1, 64, k == 4 ? 2 : 0);
    previous = pw;
  }
  m.layers.push_back(
      layer("dense_5", LayerKind::Dense1D, {int8_variable("weights", {64, 33})}, previous));
  m.layers.back().parameters = {{"units", 33}, {"output_bits", 28}, {"buffer_bits", 28}};
  Variable scales;
  scales.name = "scales";
  scales.shape = {33};
  scales.dtype = DType::Float32;
  scales.data.assign(33 * 4, 0);
  m.layers.push_back(layer("dequantizer", LayerKind::Dequantizer, {scales}, "dense_5"));
  return m;
}

// The shapes printed in the published summary (not computed by this project).
std::vector<Shape> ds_cnn_v2_published_shapes() {
  std::vector<Shape> shapes(11, Shape{25, 5, 64});
  shapes[8] = {1, 1, 64};   // pw_separable_4, after global average pooling
  shapes[9] = {1, 1, 33};   // dense_5
  shapes[10] = {1, 1, 33};  // dequantizer
  return shapes;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string rstrip(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// Verbatim from the MetaTF 2.x DS-CNN documentation (akida-spec §4.4), with the elided
// dw/pw 2-3 rows written out like rows 1 and 4, and Dense1D for the older Dense2D label.
// Trailing spaces are not in the published text (web rendering drops them); they are checked
// separately below.
const std::vector<std::string> kPublishedDsCnn = {
    "                Model Summary",
    "______________________________________________",
    "Input shape  Output shape  Sequences  Layers",
    "==============================================",
    "[49, 10, 1]  [1, 1, 33]    1          11",
    "______________________________________________",
    "",
    "________________________________________________________________",
    "Layer (type)                      Output shape  Kernel shape",
    "",
    "=============== SW/conv_0-dequantizer (Software) ===============",
    "",
    "conv_0 (InputConv2D)              [25, 5, 64]   (5, 5, 1, 64)",
    "________________________________________________________________",
    "dw_separable_1 (DepthwiseConv2D)  [25, 5, 64]   (3, 3, 64, 1)",
    "________________________________________________________________",
    "pw_separable_1 (Conv2D)           [25, 5, 64]   (1, 1, 64, 64)",
    "________________________________________________________________",
    "dw_separable_2 (DepthwiseConv2D)  [25, 5, 64]   (3, 3, 64, 1)",
    "________________________________________________________________",
    "pw_separable_2 (Conv2D)           [25, 5, 64]   (1, 1, 64, 64)",
    "________________________________________________________________",
    "dw_separable_3 (DepthwiseConv2D)  [25, 5, 64]   (3, 3, 64, 1)",
    "________________________________________________________________",
    "pw_separable_3 (Conv2D)           [25, 5, 64]   (1, 1, 64, 64)",
    "________________________________________________________________",
    "dw_separable_4 (DepthwiseConv2D)  [25, 5, 64]   (3, 3, 64, 1)",
    "________________________________________________________________",
    "pw_separable_4 (Conv2D)           [1, 1, 64]    (1, 1, 64, 64)",
    "________________________________________________________________",
    "dense_5 (Dense1D)                 [1, 1, 33]    (64, 33)",
    "________________________________________________________________",
    "dequantizer (Dequantizer)         [1, 1, 33]    N/A",
    "________________________________________________________________",
};

TEST(Summary, DsCnnV2MatchesThePublishedText) {
  const std::string text = summary(ds_cnn_v2(), Shape{49, 10, 1}, ds_cnn_v2_published_shapes());
  const auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), kPublishedDsCnn.size()) << text;
  for (size_t i = 0; i < lines.size(); ++i)
    EXPECT_EQ(rstrip(lines[i]), kPublishedDsCnn[i]) << "line " << i << "\n" << text;
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.substr(text.size() - 2), "\n\n");  // no blank line after the last separator
}

// The same with shapes inferred from the parameters (shapes.h) instead of given.
TEST(Summary, DsCnnV2WithInferredShapesMatchesThePublishedText) {
  const auto lines = lines_of(summary(ds_cnn_v2()));
  ASSERT_EQ(lines.size(), kPublishedDsCnn.size());
  for (size_t i = 0; i < lines.size(); ++i)
    EXPECT_EQ(rstrip(lines[i]), kPublishedDsCnn[i]) << "line " << i;
}

// The vendor pads every cell to its column's width ("{:W.W}"), keeping trailing spaces, and
// centres the title with Python's "{:^W}": a published mapped summary prints
// "[224, 224, 3]  [28, 28, 2]   1          8       21 " and a title padded on both sides.
TEST(Summary, RowsKeepTheirPaddingToTheFullTableWidth) {
  const auto lines = lines_of(summary(ds_cnn_v2(), Shape{49, 10, 1}, ds_cnn_v2_published_shapes()));
  // Model table: widths 11 + 12 + 9 + 6 and three 2-space gaps = 44; separator 46.
  EXPECT_EQ(lines[0], std::string(16, ' ') + "Model Summary" + std::string(17, ' '));
  EXPECT_EQ(lines[2].size(), 44u);
  EXPECT_EQ(lines[4], "[49, 10, 1]  [1, 1, 33]    1          11    ");
  // Layer table: widths 32 + 12 + 14 and two gaps = 62; separator 64.
  EXPECT_EQ(lines[8].size(), 62u);
  EXPECT_EQ(lines[12], "conv_0 (InputConv2D)              [25, 5, 64]   (5, 5, 1, 64) ");
  EXPECT_EQ(lines[32], "dequantizer (Dequantizer)         [1, 1, 33]    N/A           ");
}

// A v1 model modelled on the published MNIST example (conv2d (InputConv.) [13, 13, 32]
// (3, 3, 1, 32) ... dense (Fully.) [1, 1, 10] (1, 1, 3136, 10)): v1 weights are stored
// (neurons, features, y, x) and printed reversed; a separable layer adds a weights_pw row.
TEST(Summary, V1LayersPrintReversedKernelsAndAPointwiseRow) {
  Model m;
  m.layers.push_back(layer("conv2d", LayerKind::InputConvolutional,
                           {int8_variable("weights", {32, 1, 3, 3})}, ""));
  m.layers.push_back(
      layer("separable_conv2d", LayerKind::SeparableConvolutional,
            {int8_variable("weights", {1, 32, 3, 3}), int8_variable("weights_pw", {64, 32, 1, 1})},
            "conv2d"));
  m.layers.push_back(layer("dense", LayerKind::FullyConnected,
                           {int8_variable("weights", {10, 3136, 1, 1})}, "separable_conv2d"));
  const std::vector<Shape> shapes = {{13, 13, 32}, {7, 7, 64}, {1, 1, 10}};
  const auto lines = lines_of(summary(m, Shape{28, 28, 1}, shapes));
  // Widths: "separable_conv2d (Sep.Conv.)" 28, "Output shape" 12, "(1, 1, 3136, 10)" 16.
  ASSERT_GE(lines.size(), 19u);
  EXPECT_EQ(rstrip(lines[4]), "[28, 28, 1]  [1, 1, 10]    1          3");
  EXPECT_EQ(lines[7], std::string(28 + 12 + 16 + 6, '_'));
  EXPECT_EQ(rstrip(lines[8]), "Layer (type)                  Output shape  Kernel shape");
  // "SW/conv2d-dense (Software)" is 26 characters: s = (62 - 26) / 2 = 18, 17 '=' each side.
  EXPECT_EQ(lines[10],
            std::string(17, '=') + " SW/conv2d-dense (Software) " + std::string(17, '='));
  EXPECT_EQ(rstrip(lines[12]), "conv2d (InputConv.)           [13, 13, 32]  (3, 3, 1, 32)");
  EXPECT_EQ(rstrip(lines[14]), "separable_conv2d (Sep.Conv.)  [7, 7, 64]    (3, 3, 32, 1)");
  EXPECT_EQ(rstrip(lines[16]), "                                            (1, 1, 32, 64)");
  EXPECT_EQ(rstrip(lines[18]), "dense (Fully.)                [1, 1, 10]    (1, 1, 3136, 10)");
  EXPECT_EQ(lines.size(), 20u);
}

// Published: width 53, "SW/conv2d-dense (Software)" (26 chars): 13 '=' left, 12 right.
TEST(Summary, OddSequencePaddingPutsTheExtraSignOnTheLeft) {
  Model m;
  m.layers.push_back(layer("conv2d", LayerKind::InputConvolutional,
                           {int8_variable("weights", {32, 1, 3, 3})}, ""));
  m.layers.push_back(layer("conv2d_1", LayerKind::Convolutional,
                           {int8_variable("weights", {64, 32, 3, 3})}, "conv2d"));
  m.layers.push_back(layer("dense", LayerKind::FullyConnected,
                           {int8_variable("weights", {10, 3136, 1, 1})}, "conv2d_1"));
  const auto lines = lines_of(summary(m, Shape{28, 28, 1}, {{13, 13, 32}, {7, 7, 64}, {1, 1, 10}}));
  // The published MNIST example, verbatim (trailing spaces aside).
  const std::vector<std::string> published = {
      "                Model Summary",
      "______________________________________________",
      "Input shape  Output shape  Sequences  Layers",
      "==============================================",
      "[28, 28, 1]  [1, 1, 10]    1          3",
      "______________________________________________",
      "",
      "_____________________________________________________",
      "Layer (type)         Output shape  Kernel shape",
      "",
      "============= SW/conv2d-dense (Software) ============",
      "",
      "conv2d (InputConv.)  [13, 13, 32]  (3, 3, 1, 32)",
      "_____________________________________________________",
      "conv2d_1 (Conv.)     [7, 7, 64]    (3, 3, 32, 64)",
      "_____________________________________________________",
      "dense (Fully.)       [1, 1, 10]    (1, 1, 3136, 10)",
      "_____________________________________________________",
  };
  ASSERT_EQ(lines.size(), published.size());
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(rstrip(lines[i]), published[i]) << i;
}

TEST(Summary, KernelShapeTextFollowsPythonTuples) {
  Layer l = layer("d", LayerKind::Dense1D,
                  {int8_variable("weights", {64, 33}), int8_variable("bias", {33})}, "");
  EXPECT_EQ(kernel_shape_text(l), "(64, 33)");
  EXPECT_EQ(kernel_shape_text(l, "bias"), "(33,)");
  EXPECT_EQ(kernel_shape_text(l, "missing"), "N/A");
}

TEST(Summary, InconsistentShapesAreAnError) {
  EXPECT_THROW(summary(ds_cnn_v2(), Shape{49, 10, 1}, {Shape{1, 1, 1}}), ShapeError);
  EXPECT_THROW(summary(Model{}, Shape{1, 1, 1}, {}), ShapeError);
}

}  // namespace
}  // namespace akida
