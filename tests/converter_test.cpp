// Tests of the QuantizedGraph -> Akida 2.0 lowering and of its compatibility rules.
//
// Expected values are either worked out by hand in the comments, or read from BrainChip's own
// conversion of the same model (tennst_int8_quantizeml.onnx -> tennst_int8_v2_2.17.fbz).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "cnn2snn/converter.h"
#include "cnn2snn/onnx_reader.h"
#include "test_support.h"

namespace {

using akida::DType;
using akida::LayerKind;
using cnn2snn::Block;
using cnn2snn::BlockKind;
using cnn2snn::Incompatibility;
using cnn2snn::QuantizedGraph;

cnn2snn::IntTensor tensor(std::vector<int64_t> shape, std::vector<int64_t> values) {
  return {std::move(shape), std::move(values)};
}

Block neural(const std::string& name, BlockKind kind, cnn2snn::IntTensor weights,
             std::vector<std::string> inbound = {}) {
  Block b;
  b.name = name;
  b.kind = kind;
  b.weights = std::move(weights);
  b.inbound = std::move(inbound);
  return b;
}

cnn2snn::OutputStage output_stage(std::vector<int64_t> scale, std::vector<int32_t> shift) {
  cnn2snn::OutputStage o;
  o.scale = std::move(scale);
  o.shift = std::move(shift);
  return o;
}

QuantizedGraph signed_input_graph(akida::Shape input) {
  QuantizedGraph g;
  g.source = "test.onnx";
  g.input_shape = input;
  g.input_bits = 8;
  g.input_signed = true;
  return g;
}

// 1..n, the values of an asymmetric kernel.
std::vector<int64_t> iota_values(int64_t n, int64_t sign = 1) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = sign * (i + 1);
  return v;
}

void expect_variable(const akida::Layer& layer, const std::string& name,
                     std::vector<uint32_t> shape, DType dtype, std::vector<int64_t> values) {
  const akida::Variable* v = layer.find_variable(name);
  ASSERT_NE(v, nullptr) << "layer '" << layer.name << "': no variable '" << name << "'";
  EXPECT_EQ(v->shape, shape) << "layer '" << layer.name << "': variable '" << name << "' shape";
  EXPECT_EQ(v->dtype, dtype) << "layer '" << layer.name << "': variable '" << name << "' dtype";
  EXPECT_EQ(v->ints(), values) << "layer '" << layer.name << "': variable '" << name << "'";
}

std::vector<std::string> variable_names(const akida::Layer& layer) {
  std::vector<std::string> names;
  for (const auto& v : layer.variables) names.push_back(v.name);
  return names;
}

bool has_finding(const std::vector<Incompatibility>& found, const std::string& layer,
                 const std::string& field, const std::string& problem_part) {
  return std::any_of(found.begin(), found.end(), [&](const Incompatibility& i) {
    return i.layer == layer && i.field == field && i.problem.find(problem_part) != std::string::npos;
  });
}

std::string all_findings(const std::vector<Incompatibility>& found) {
  std::string text;
  for (const auto& i : found) text += to_string(i) + "\n";
  return text;
}

// --- to_value_shift ------------------------------------------------------------------------

TEST(ConvertValueShift, FollowsBrainChipsRule) {
  using cnn2snn::ValueShift;
  using cnn2snn::to_value_shift;
  // 300 needs 9 bits of magnitude (256 <= 300 < 512); int8 keeps 7: shift 9 - 7 = 2, 300 / 4 = 75.
  EXPECT_EQ(to_value_shift(300, true), (ValueShift{75, 2}));
  EXPECT_EQ(to_value_shift(-300, true), (ValueShift{-75, 2}));
  // 127 fits 7 bits: no shift. -128 has bit_width 8, so BrainChip writes -64 << 1.
  EXPECT_EQ(to_value_shift(127, true), (ValueShift{127, 0}));
  EXPECT_EQ(to_value_shift(-128, true), (ValueShift{-64, 1}));
  // 0 counts as 2^7 (BrainChip avoids log2(0)): 0 << 1, as tennst's zero biases are stored.
  EXPECT_EQ(to_value_shift(0, true), (ValueShift{0, 1}));
  // 257 is odd and beyond 7 bits: shift 2 would need 257 / 4 = 64.25. Not representable.
  EXPECT_EQ(to_value_shift(257, true), std::nullopt);
  // Unsigned keeps 8 bits: 255 << 0, 256 = 128 << 1, 1000 (10 bits) = 250 << 2; 0 = 0 << 1.
  EXPECT_EQ(to_value_shift(255, false), (ValueShift{255, 0}));
  EXPECT_EQ(to_value_shift(256, false), (ValueShift{128, 1}));
  EXPECT_EQ(to_value_shift(1000, false), (ValueShift{250, 2}));
  EXPECT_EQ(to_value_shift(0, false), (ValueShift{0, 1}));
  EXPECT_EQ(to_value_shift(-1, false), std::nullopt);
  EXPECT_EQ(to_value_shift(1001, false), std::nullopt);
}

// --- lowering ------------------------------------------------------------------------------

// InputData (4, 4, 1) > Conv2D 3x3, 2 filters. Kernel w[i][j][0][f] = (f ? -1 : 1) * (3i + j + 1).
QuantizedGraph conv_graph() {
  QuantizedGraph g = signed_input_graph({4, 4, 1});
  std::vector<int64_t> w;
  for (int64_t k = 1; k <= 9; ++k) w.insert(w.end(), {k, -k});
  Block conv = neural("conv", BlockKind::Conv2D, tensor({3, 3, 1, 2}, w));
  conv.padding = cnn2snn::PaddingKind::Same;
  conv.bias = {300, -4};
  conv.relu = true;
  conv.relu_max = {1000};  // one value for both channels
  conv.output = output_stage({200}, {-27, -3});  // -27: the lowest, 1 - buffer_bits
  g.blocks.push_back(conv);
  return g;
}

TEST(ConvertLowering, InputDataThenConv2D) {
  const akida::Model m = cnn2snn::convert_to_akida_v2(conv_graph());
  ASSERT_EQ(m.layers.size(), 2u);
  const akida::Layer& input = m.layers[0];
  EXPECT_EQ(input.name, "InputData_1");
  EXPECT_EQ(input.kind, LayerKind::InputData);
  EXPECT_TRUE(input.inbound.empty());
  EXPECT_EQ(input.parameters, (akida::Parameters{{"input_bits", 8},
                                                 {"input_channels", 1},
                                                 {"input_height", 4},
                                                 {"input_signed", 1},
                                                 {"input_width", 4}}));
  EXPECT_TRUE(input.variables.empty());

  const akida::Layer& conv = m.layers[1];
  EXPECT_EQ(conv.name, "conv");
  EXPECT_EQ(conv.kind, LayerKind::Conv2D);
  EXPECT_EQ(conv.inbound, std::vector<std::string>{"InputData_1"});
  // The keys and defaults of tennst's Conv2D layers (pool_type 0 and -1 pool window kept).
  EXPECT_EQ(conv.parameters, (akida::Parameters{{"activation", 1},
                                                {"buffer_bits", 28},
                                                {"filters", 2},
                                                {"kernel_size", 3},
                                                {"kernel_stride", 1},
                                                {"output_bits", 8},
                                                {"padding", 1},
                                                {"pool_size", -1},
                                                {"pool_stride", -1},
                                                {"pool_type", 0},
                                                {"post_op_buffer_bits", 32},
                                                {"weights_bits", 8}}));
  EXPECT_EQ(variable_names(conv),
            (std::vector<std::string>{"bias", "bias_shift", "input_shift", "max_value",
                                      "max_value_shift", "output_scales", "output_shift",
                                      "weights"}));
  // Rotated 180 degrees: position (i, j) holds the source's (2 - i, 2 - j), i.e. 9, 8, ..., 1
  // for filter 0 (interleaved with filter 1's negatives, F being the last axis).
  std::vector<int64_t> flipped;
  for (int64_t k = 9; k >= 1; --k) flipped.insert(flipped.end(), {k, -k});
  expect_variable(conv, "weights", {3, 3, 1, 2}, DType::Int8, flipped);
  // 300 = 75 << 2 (see ConvertValueShift); -4 fits 7 bits: -4 << 0.
  expect_variable(conv, "bias", {2}, DType::Int8, {75, -4});
  expect_variable(conv, "bias_shift", {2}, DType::UInt8, {2, 0});
  // The one bound 1000 = 250 << 2, broadcast to both channels.
  expect_variable(conv, "max_value", {2}, DType::UInt8, {250, 250});
  expect_variable(conv, "max_value_shift", {2}, DType::UInt8, {2, 2});
  expect_variable(conv, "output_scales", {2}, DType::UInt8, {200, 200});
  // Stored as they are; BrainChip would clip a shift below 1 - buffer_bits = -27 (outputs.py),
  // which check_v2 refuses (ConvertChecks.SourceShiftThatCannotBeStoredIsRefused).
  expect_variable(conv, "output_shift", {2}, DType::Int8, {-27, -3});
  // No input shift in the block: zeros, one per input channel.
  expect_variable(conv, "input_shift", {1}, DType::UInt8, {0});
}

// A Conv2D with a LUT whose table maps index value v to v * 3 (stored by index v + 1024).
QuantizedGraph lut_graph() {
  QuantizedGraph g = signed_input_graph({4, 4, 1});
  Block conv = neural("conv", BlockKind::Conv2D, tensor({1, 1, 1, 2}, {1, -1}));
  conv.padding = cnn2snn::PaddingKind::Same;
  cnn2snn::LutActivation lut;
  lut.scale_out = output_stage({3, 200}, {-2, -27});
  lut.scale_out.output_bits = 11;
  for (int64_t v = -1024; v < 1024; ++v) lut.table.push_back(3 * v);
  conv.lut = lut;
  conv.output = output_stage({130}, {-5});
  g.blocks.push_back(conv);
  return g;
}

TEST(ConvertLowering, LutWritesActivationTwoAndItsVariables) {
  const akida::Model m = cnn2snn::convert_to_akida_v2(lut_graph());
  const akida::Layer& conv = m.layers.at(1);
  EXPECT_EQ(conv.parameters.at("activation"), 2);  // akida.ActivationType.LUT
  EXPECT_EQ(variable_names(conv),
            (std::vector<std::string>{"activation_scales", "activation_shift", "bias",
                                      "bias_shift", "input_shift", "lut_values", "output_scales",
                                      "output_shift", "weights"}));
  expect_variable(conv, "activation_scales", {2}, DType::UInt8, {3, 200});
  expect_variable(conv, "activation_shift", {2}, DType::Int8, {-2, -27});
  const akida::Variable* table = conv.find_variable("lut_values");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->shape, std::vector<uint32_t>{2048});
  EXPECT_EQ(table->dtype, DType::Int32);
  ASSERT_EQ(table->data.size(), 2048u * 4);
  // Akida order, by input value from -1024: the first entry is -3072, the 1025th (v = 0) is 0,
  // the last 3069; -3072 = 0xFFFFF400 little-endian.
  EXPECT_EQ(table->int_at(0), -3072);
  EXPECT_EQ(table->int_at(1024), 0);
  EXPECT_EQ(table->int_at(2047), 3069);
  EXPECT_EQ(std::vector<uint8_t>(table->data.begin(), table->data.begin() + 4),
            (std::vector<uint8_t>{0x00, 0xF4, 0xFF, 0xFF}));
  EXPECT_EQ(conv.find_variable("max_value"), nullptr);
}

TEST(ConvertChecks, LutRules) {
  QuantizedGraph g = lut_graph();
  Block& conv = g.blocks[0];
  conv.pool = {cnn2snn::PoolKind::Max, 2, 2, cnn2snn::PaddingKind::Same};
  conv.relu = true;
  conv.lut->scale_out.output_bits = 10;
  conv.lut->table.pop_back();
  conv.lut->scale_out.scale = {3, 256};
  const auto found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "conv", "pool", "max pooling cannot be combined with a LUT"))
      << all_findings(found);
  EXPECT_TRUE(has_finding(found, "conv", "lut", "one activation"));
  EXPECT_TRUE(has_finding(found, "conv", "lut.scale_out.output_bits", "signed 11-bit"));
  EXPECT_TRUE(has_finding(found, "conv", "lut.table", "2047 values, Akida's LUT holds 2048"));
  EXPECT_TRUE(has_finding(found, "conv", "lut.scale_out.scale[1]", "256 does not fit"));
  EXPECT_TRUE(cnn2snn::check_v2(lut_graph()).empty()) << all_findings(cnn2snn::check_v2(lut_graph()));
}

TEST(ConvertLowering, InputConv2DIsNotFlippedAndHasPaddingValue) {
  QuantizedGraph g;
  g.input_shape = {8, 6, 1};
  g.input_bits = 8;
  g.input_signed = false;
  Block conv = neural("conv_0", BlockKind::InputConv2D, tensor({3, 3, 1, 1}, iota_values(9)));
  conv.stride = 2;
  conv.padding = cnn2snn::PaddingKind::Same;
  conv.padding_value = {5};
  conv.pool = {cnn2snn::PoolKind::Max, 2, 2, cnn2snn::PaddingKind::Same};
  conv.relu = true;
  conv.output = output_stage({150}, {-10});
  g.blocks.push_back(conv);

  const akida::Model m = cnn2snn::convert_to_akida_v2(g);
  ASSERT_EQ(m.layers.size(), 1u);  // an InputConv2D first block is the input layer
  const akida::Layer& l = m.layers[0];
  EXPECT_EQ(l.kind, LayerKind::InputConv2D);
  EXPECT_TRUE(l.inbound.empty());
  EXPECT_EQ(l.parameters, (akida::Parameters{{"activation", 1},
                                             {"buffer_bits", 28},
                                             {"filters", 1},
                                             {"input_channels", 1},
                                             {"input_x", 8},
                                             {"input_y", 6},
                                             {"kernel_size", 3},
                                             {"kernel_stride", 2},
                                             {"output_bits", 8},
                                             {"padding", 1},
                                             {"pool_size", 2},
                                             {"pool_stride", 2},
                                             {"pool_type", 1},
                                             {"post_op_buffer_bits", 32},
                                             {"weights_bits", 8}}));
  // As VWW's conv_0: padding_value, no input_shift.
  EXPECT_EQ(variable_names(l),
            (std::vector<std::string>{"bias", "bias_shift", "max_value", "max_value_shift",
                                      "output_scales", "output_shift", "padding_value",
                                      "weights"}));
  expect_variable(l, "weights", {3, 3, 1, 1}, DType::Int8, iota_values(9));  // as in the source
  expect_variable(l, "padding_value", {1}, DType::UInt8, {5});
  // Unbounded ReLU: akida's default bound 127 << 31, as in every layer of tennst.
  expect_variable(l, "max_value", {1}, DType::UInt8, {127});
  expect_variable(l, "max_value_shift", {1}, DType::UInt8, {31});
  // No bias: 0 << 0, as VWW's depthwise layers.
  expect_variable(l, "bias", {1}, DType::Int8, {0});
  expect_variable(l, "bias_shift", {1}, DType::UInt8, {0});
}

TEST(ConvertLowering, DepthwiseKernelIsFlippedPerChannel) {
  QuantizedGraph g = signed_input_graph({5, 5, 2});
  // (kx, ky, C) = (3, 3, 2); channel 0 holds 1..9, channel 1 holds 11..19.
  std::vector<int64_t> w;
  for (int64_t k = 1; k <= 9; ++k) w.insert(w.end(), {k, 10 + k});
  Block dw = neural("dw", BlockKind::DepthwiseConv2D, tensor({3, 3, 2}, w));
  dw.padding = cnn2snn::PaddingKind::Same;
  dw.output = output_stage({1}, {0});
  g.blocks.push_back(dw);
  const akida::Model m = cnn2snn::convert_to_akida_v2(g);
  const akida::Layer& l = m.layers.at(1);
  EXPECT_EQ(l.kind, LayerKind::DepthwiseConv2D);
  EXPECT_FALSE(l.has_param("filters"));  // BrainChip writes none on DepthwiseConv2D
  EXPECT_EQ(l.param("activation", -1), 0);
  std::vector<int64_t> flipped;
  for (int64_t k = 9; k >= 1; --k) flipped.insert(flipped.end(), {k, 10 + k});
  expect_variable(l, "weights", {3, 3, 2, 1}, DType::Int8, flipped);
  expect_variable(l, "input_shift", {2}, DType::UInt8, {0, 0});
  EXPECT_EQ(l.find_variable("max_value"), nullptr);  // no ReLU, no bound (VWW's depthwise)
}

TEST(ConvertLowering, DenseWithoutOutputStageThenDequantizer) {
  QuantizedGraph g = signed_input_graph({1, 1, 4});
  Block dense = neural("classifier", BlockKind::Dense, tensor({4, 2}, iota_values(8)));
  g.blocks.push_back(dense);
  Block deq;
  deq.name = "dequantizer";
  deq.kind = BlockKind::Dequantizer;
  deq.inbound = {"classifier"};
  deq.scales = {0.5f};
  g.blocks.push_back(deq);

  const akida::Model m = cnn2snn::convert_to_akida_v2(g);
  ASSERT_EQ(m.layers.size(), 3u);
  const akida::Layer& d = m.layers[1];
  EXPECT_EQ(d.kind, LayerKind::Dense1D);
  // VWW's classifier: no output quantizer, so output_bits = buffer_bits = 28, scales 1, shift 0.
  EXPECT_EQ(d.parameters, (akida::Parameters{{"activation", 0},
                                             {"buffer_bits", 28},
                                             {"output_bits", 28},
                                             {"post_op_buffer_bits", 32},
                                             {"units", 2},
                                             {"weights_bits", 8}}));
  expect_variable(d, "weights", {4, 2}, DType::Int8, iota_values(8));
  expect_variable(d, "output_scales", {2}, DType::UInt8, {1, 1});
  expect_variable(d, "output_shift", {2}, DType::Int8, {0, 0});
  expect_variable(d, "input_shift", {4}, DType::UInt8, {0, 0, 0, 0});

  const akida::Layer& q = m.layers[2];
  EXPECT_EQ(q.kind, LayerKind::Dequantizer);
  EXPECT_TRUE(q.parameters.empty());
  ASSERT_EQ(variable_names(q), std::vector<std::string>{"scales"});
  EXPECT_EQ(q.variables[0].dtype, DType::Float32);
  EXPECT_EQ(q.variables[0].floats(), (std::vector<float>{0.5f, 0.5f}));  // broadcast to 2
}

TEST(ConvertLowering, TemporalConvolutions) {
  QuantizedGraph g = signed_input_graph({3, 3, 2});
  // (T, C, F) = (2, 2, 1): w[t][c] = 1, 2 (t = 0), 3, 4 (t = 1) -> (1, 1, T*C, F) indexed t*C + c.
  Block btc = neural("btc", BlockKind::BufferTempConv, tensor({2, 2, 1}, {1, 2, 3, 4}));
  btc.fifo_size = 2;
  btc.relu = true;
  btc.output = output_stage({130}, {-12});
  g.blocks.push_back(btc);
  // Depthwise (T, C) = (3, 1) -> (1, 1, T, C).
  Block dbtc =
      neural("dbtc", BlockKind::DepthwiseBufferTempConv, tensor({3, 1}, {5, 6, 7}), {"btc"});
  dbtc.fifo_size = 3;
  dbtc.output = output_stage({140}, {-31});
  g.blocks.push_back(dbtc);

  const akida::Model m = cnn2snn::convert_to_akida_v2(g);
  const akida::Layer& b = m.layers.at(1);
  EXPECT_EQ(b.kind, LayerKind::BufferTempConv);
  EXPECT_EQ(b.parameters, (akida::Parameters{{"activation", 1},
                                             {"buffer_bits", 32},
                                             {"fifo_size", 2},
                                             {"filters", 1},
                                             {"output_bits", 8},
                                             {"post_op_buffer_bits", 32},
                                             {"weights_bits", 8}}));
  expect_variable(b, "weights", {1, 1, 4, 1}, DType::Int8, {1, 2, 3, 4});
  expect_variable(b, "input_shift", {2}, DType::UInt8, {0, 0});
  const akida::Layer& d = m.layers.at(2);
  EXPECT_EQ(d.kind, LayerKind::DepthwiseBufferTempConv);
  EXPECT_FALSE(d.has_param("filters"));
  EXPECT_EQ(d.param("fifo_size"), 3);
  expect_variable(d, "weights", {1, 1, 3, 1}, DType::Int8, {5, 6, 7});
  // BufferTempConv's accumulator has 32 bits: shifts down to 1 - 32 = -31.
  expect_variable(d, "output_shift", {1}, DType::Int8, {-31});
}

TEST(ConvertLowering, AddBroadcastsItsShiftsToTheChannels) {
  QuantizedGraph g = signed_input_graph({2, 2, 3});
  for (const char* name : {"a", "b"}) {
    Block c = neural(name, BlockKind::Conv2D, tensor({1, 1, 3, 3}, std::vector<int64_t>(9, 1)));
    c.output = output_stage({128}, {-8});
    g.blocks.push_back(c);
  }
  Block add;
  add.name = "add";
  add.kind = BlockKind::Add;
  add.inbound = {"a", "b"};
  add.a_shift = {1};  // one value, b_shift none: both broadcast
  add.output = output_stage({1}, {-1});
  g.blocks.push_back(add);

  const akida::Model m = cnn2snn::convert_to_akida_v2(g);
  const akida::Layer& a = m.layers.at(1);
  EXPECT_EQ(a.param("padding", -1), 1);  // 1x1 kernels are written Same, as in tennst and VWW
  const akida::Layer& l = m.layers.at(3);
  EXPECT_EQ(l.kind, LayerKind::Add);
  EXPECT_EQ(l.inbound, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(l.parameters, (akida::Parameters{
                              {"buffer_bits", 32}, {"output_bits", 8}, {"post_op_buffer_bits", 32}}));
  expect_variable(l, "a_shift", {3}, DType::UInt8, {1, 1, 1});
  expect_variable(l, "b_shift", {3}, DType::UInt8, {0, 0, 0});
  expect_variable(l, "output_shift", {3}, DType::Int8, {-1, -1, -1});
}

TEST(ConvertLowering, AddWritesPerChannelShifts) {
  QuantizedGraph g = signed_input_graph({2, 2, 3});
  for (const char* name : {"a", "b"}) {
    Block c = neural(name, BlockKind::Conv2D, tensor({1, 1, 3, 3}, std::vector<int64_t>(9, 1)));
    c.output = output_stage({128}, {-8});
    g.blocks.push_back(c);
  }
  Block add;
  add.name = "add";
  add.kind = BlockKind::Add;
  add.inbound = {"a", "b"};
  add.a_shift = {0, 2, 1};
  add.b_shift = {3, 0, 0};
  g.blocks.push_back(add);
  const akida::Model m = cnn2snn::convert_to_akida_v2(g);
  const akida::Layer& l = m.layers.at(3);
  expect_variable(l, "a_shift", {3}, DType::UInt8, {0, 2, 1});
  expect_variable(l, "b_shift", {3}, DType::UInt8, {3, 0, 0});

  // Two shifts for three channels; a shift beyond uint8.
  g.blocks[2].a_shift = {0, 2};
  g.blocks[2].b_shift = {3, 256, 0};
  const auto found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "add", "a_shift", "2 values, expected none, 1 or 3"))
      << all_findings(found);
  EXPECT_TRUE(has_finding(found, "add", "b_shift[1]", "256 does not fit uint8"))
      << all_findings(found);
  EXPECT_EQ(found.size(), 2u) << all_findings(found);
}

// --- checks --------------------------------------------------------------------------------

TEST(ConvertChecks, MaxPoolPaddingMustBeTheConvolutions) {
  // Conv2D 3x3 Same on (4, 4, 1), max pool 2/2 Valid: Akida would pool Same.
  QuantizedGraph g = signed_input_graph({4, 4, 1});
  Block conv = neural("conv", BlockKind::Conv2D, tensor({3, 3, 1, 1}, iota_values(9)));
  conv.padding = cnn2snn::PaddingKind::Same;
  conv.pool = {cnn2snn::PoolKind::Max, 2, 2, cnn2snn::PaddingKind::Valid};
  g.blocks.push_back(conv);
  auto found = cnn2snn::check_v2(g);
  ASSERT_EQ(found.size(), 1u) << all_findings(found);
  EXPECT_EQ(to_string(found[0]),
            "layer 'conv': pool.padding: max pooling padding Valid differs from the "
            "convolution's padding Same: Akida pools with the convolution's padding");
  g.blocks[0].pool.padding = cnn2snn::PaddingKind::Same;
  EXPECT_TRUE(cnn2snn::check_v2(g).empty()) << all_findings(cnn2snn::check_v2(g));

  // A 1x1 conv is written Same, whatever its own padding: a Valid pool is refused, a Same one
  // accepted.
  g.blocks[0].weights = tensor({1, 1, 1, 1}, {1});
  g.blocks[0].padding = cnn2snn::PaddingKind::Valid;
  g.blocks[0].pool.padding = cnn2snn::PaddingKind::Valid;
  found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "conv", "pool.padding",
                          "padding Valid differs from the convolution's padding Same (a 1x1 "
                          "convolution counts as Same)"))
      << all_findings(found);
  g.blocks[0].pool.padding = cnn2snn::PaddingKind::Same;
  EXPECT_TRUE(cnn2snn::check_v2(g).empty()) << all_findings(cnn2snn::check_v2(g));
}

TEST(ConvertChecks, BiasNotRepresentableNamesTheLayer) {
  QuantizedGraph g = conv_graph();
  g.blocks[0].bias = {257, 300};
  const auto found = cnn2snn::check_v2(g);
  ASSERT_EQ(found.size(), 1u) << all_findings(found);
  EXPECT_EQ(found[0].layer, "conv");
  EXPECT_EQ(found[0].field, "bias[0]");
  EXPECT_NE(found[0].problem.find("257"), std::string::npos) << found[0].problem;
  try {
    cnn2snn::convert_to_akida_v2(g);
    FAIL() << "expected UnsupportedError";
  } catch (const akida::UnsupportedError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("test.onnx: cannot convert to Akida 2.0:"), std::string::npos) << what;
    EXPECT_NE(what.find("layer 'conv': bias[0]: 257 is not an int8 value"), std::string::npos)
        << what;
  }
}

// Akida 2.0 saturates outputs to the signed range of output_bits: an unsigned 4-bit QuantizeML
// output (0..15, an Akida 1.0 quantization) would clip at 7 (found by fuzz_keras_h5's verify of
// the v1 pattern model v1_input_conv_relu.h5 converted to Akida 2.0: evaluator 8, akida 7).
TEST(ConvertChecks, UnsignedOutputsAreRefused) {
  QuantizedGraph g = conv_graph();
  g.blocks[0].output->output_bits = 4;
  EXPECT_TRUE(cnn2snn::check_v2(g).empty()) << all_findings(cnn2snn::check_v2(g));
  g.blocks[0].output->output_signed = false;
  const auto found = cnn2snn::check_v2(g);
  ASSERT_EQ(found.size(), 1u) << all_findings(found);
  EXPECT_EQ(found[0].layer, "conv");
  EXPECT_EQ(found[0].field, "output.output_signed");
  EXPECT_NE(found[0].problem.find("unsigned 4-bit outputs (0..15): Akida 2.0 saturates outputs to "
                                  "the signed range (at most 7)"),
            std::string::npos)
      << found[0].problem;
}

// A Keras block records its quantizer's own shifts (AlignedWeightQuantizer): the converter stores
// bias >> bias_shift with that shift, as BrainChip's Keras converter does, not the smallest split.
TEST(ConvertLowering, KerasSourceShiftsAreKept) {
  QuantizedGraph g = conv_graph();
  Block& conv = g.blocks[0];
  conv.bias = {-128 << 9, 0};
  conv.bias_shift = {9, 3};   // the ECG fixture's dense neuron 90: -128 << 9, not -64 << 10
  conv.relu_max = {100 << 4};
  conv.relu_max_shift = {4};  // not 200 << 3
  EXPECT_TRUE(cnn2snn::check_v2(g).empty()) << all_findings(cnn2snn::check_v2(g));
  const akida::Model keras = cnn2snn::convert_to_akida_v2(g);
  const akida::Layer& l = keras.layers[1];
  expect_variable(l, "bias", {2}, DType::Int8, {-128, 0});
  expect_variable(l, "bias_shift", {2}, DType::UInt8, {9, 3});
  expect_variable(l, "max_value", {2}, DType::UInt8, {100, 100});
  expect_variable(l, "max_value_shift", {2}, DType::UInt8, {4, 4});

  // Without the recorded shifts (ONNX), the smallest split.
  conv.bias_shift.clear();
  conv.relu_max_shift.clear();
  const akida::Model onnx_model = cnn2snn::convert_to_akida_v2(g);
  const akida::Layer& onnx = onnx_model.layers[1];
  expect_variable(onnx, "bias", {2}, DType::Int8, {-64, 0});
  expect_variable(onnx, "bias_shift", {2}, DType::UInt8, {10, 1});
  expect_variable(onnx, "max_value", {2}, DType::UInt8, {200, 200});
  expect_variable(onnx, "max_value_shift", {2}, DType::UInt8, {3, 3});
}

TEST(ConvertChecks, SourceShiftThatCannotBeStoredIsRefused) {
  QuantizedGraph g = conv_graph();
  Block& conv = g.blocks[0];
  conv.bias = {200 << 2, 3 << 2};
  conv.bias_shift = {2, 1};        // 200 does not fit int8; 6 << 1 is fine
  conv.relu_max = {1000};
  conv.relu_max_shift = {40};      // beyond Akida's 0..31
  conv.output->shift = {-28, -3};  // Akida would store -28 clipped to 1 - 28 = -27
  auto found = cnn2snn::check_v2(g);
  EXPECT_EQ(found.size(), 3u) << all_findings(found);
  EXPECT_TRUE(has_finding(found, "conv", "bias[0]", "800 is not an int8 value shifted left"))
      << all_findings(found);
  EXPECT_TRUE(has_finding(found, "conv", "output.shift[0]", "-28 is out of range"))
      << all_findings(found);
  EXPECT_TRUE(has_finding(found, "conv", "bias[0]", "with the quantizer's shift 2"));
  EXPECT_TRUE(has_finding(found, "conv", "relu_max[0]", "with the quantizer's shift 40"));
  // A shift that does not divide the value exactly.
  conv.relu_max_shift = {3};
  conv.relu_max = {1001};
  found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "conv", "relu_max[0]", "1001")) << all_findings(found);
  // A shift vector of the wrong length.
  conv.relu_max = {1000};
  conv.bias_shift = {2, 1, 0};
  found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "conv", "bias_shift", "3 values")) << all_findings(found);
}

// A quantized model whose sums saturate to fewer bits than Akida's 28-bit buffer would not
// saturate where Akida does not.
TEST(ConvertChecks, ABufferNarrowerThanAkidasIsRefused) {
  QuantizedGraph g = conv_graph();
  g.blocks[0].buffer_bits = 14;
  auto found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "conv", "buffer_bits", "14 bits")) << all_findings(found);
  g.blocks[0].buffer_bits = 28;
  found = cnn2snn::check_v2(g);
  EXPECT_FALSE(has_finding(found, "conv", "buffer_bits", "")) << all_findings(found);
}

TEST(ConvertChecks, EveryViolationIsReportedInOneError) {
  QuantizedGraph g = signed_input_graph({16, 16, 1});
  Block a = neural("a", BlockKind::Conv2D, tensor({4, 4, 1, 1}, std::vector<int64_t>(16, 1)));
  a.weights_bits = 2;
  a.stride = 3;
  g.blocks.push_back(a);
  Block b = neural("b", BlockKind::Conv2D, tensor({3, 3, 1, 1}, std::vector<int64_t>(9, 1)), {"a"});
  b.bias = {257};
  b.relu = true;
  b.relu_max = {-5};
  b.padding_value = {3};
  b.input_shift = {9};
  g.blocks.push_back(b);

  const auto found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "a", "weights_bits", "2 bits, expected 4 or 8"))
      << all_findings(found);
  EXPECT_TRUE(has_finding(found, "b", "bias[0]", "257"));
  EXPECT_TRUE(has_finding(found, "b", "relu_max[0]", "-5"));
  EXPECT_TRUE(has_finding(found, "b", "padding_value[0]", "only InputConv2D"));
  EXPECT_TRUE(has_finding(found, "b", "input_shift[0]", "9 is out of range (0..7)"));
  EXPECT_EQ(found.size(), 5u) << all_findings(found);
  // The 4x4 kernel and stride 3 are hardware limits, not conversion problems: a graph that does
  // not convert reports none of them.
  EXPECT_TRUE(cnn2snn::check_v2_hardware(g).empty());

  try {
    cnn2snn::convert_to_akida_v2(g);
    FAIL() << "expected UnsupportedError";
  } catch (const akida::UnsupportedError& e) {
    const std::string what = e.what();
    EXPECT_EQ(std::count(what.begin(), what.end(), '\n'), 5) << what;  // one line per violation
    for (const auto& i : found) EXPECT_NE(what.find(to_string(i)), std::string::npos) << what;
  }
}

TEST(ConvertChecks, HardwareLimitsDoNotBlockConversion) {
  QuantizedGraph g = signed_input_graph({16, 16, 1});
  Block a = neural("a", BlockKind::Conv2D, tensor({4, 4, 1, 1}, std::vector<int64_t>(16, 1)));
  a.stride = 3;
  g.blocks.push_back(a);

  EXPECT_TRUE(cnn2snn::check_v2(g).empty()) << all_findings(cnn2snn::check_v2(g));
  const auto limits = cnn2snn::check_v2_hardware(g);
  EXPECT_TRUE(has_finding(limits, "a", "kernel_size",
                          "kernel 4x4 not supported (Conv2D: 1, 3, 5, 7)"))
      << all_findings(limits);
  EXPECT_TRUE(has_finding(limits, "a", "kernel_stride", "stride 3"));
  EXPECT_EQ(limits.size(), 2u) << all_findings(limits);
  EXPECT_EQ(cnn2snn::convert_to_akida_v2(g).layers.size(), 2u);  // InputData + the Conv2D
}

TEST(ConvertChecks, ShapeRules) {
  QuantizedGraph g = signed_input_graph({2, 2, 1});
  // Dense on a (2, 2, 1) input whose 3 rows do not match the 4 input values.
  g.blocks.push_back(neural("dense", BlockKind::Dense, tensor({3, 2}, iota_values(6))));
  const auto found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "dense", "weights", "has 3 rows, the input [2, 2, 1] has 4"))
      << all_findings(found);
}

TEST(ConvertChecks, SpatialDenseInputIsAHardwareLimitOnly) {
  QuantizedGraph g = signed_input_graph({2, 2, 1});
  g.blocks.push_back(neural("dense", BlockKind::Dense, tensor({4, 2}, iota_values(8))));
  EXPECT_TRUE(cnn2snn::check_v2(g).empty()) << all_findings(cnn2snn::check_v2(g));
  const auto limits = cnn2snn::check_v2_hardware(g);
  EXPECT_TRUE(has_finding(limits, "dense", "input", "shape [2, 2, 1] is not flat"))
      << all_findings(limits);
  // The Dense1D takes the (x, y, c)-flattened input: 4 kernel rows, one input_shift per channel.
  const akida::Model model = cnn2snn::convert_to_akida_v2(g);
  const akida::Layer& dense = model.layer("dense");
  EXPECT_EQ(dense.variable("weights").shape, (std::vector<uint32_t>{4, 2}));
  EXPECT_EQ(dense.variable("input_shift").shape, (std::vector<uint32_t>{1}));
}

TEST(ConvertChecks, DenseInputShiftsFollowTheInputChannels) {
  QuantizedGraph g = signed_input_graph({1, 2, 2});
  Block dense = neural("dense", BlockKind::Dense, tensor({4, 1}, iota_values(4)));
  dense.input_shift = {1, 3, 1, 3};  // per flattened value: (y0, c0), (y0, c1), (y1, c0), (y1, c1)
  g.blocks.push_back(dense);
  const akida::Model model = cnn2snn::convert_to_akida_v2(g);
  EXPECT_EQ(model.layer("dense").variable("input_shift").ints(), (std::vector<int64_t>{1, 3}));

  g.blocks[0].input_shift = {1, 3, 2, 3};  // channel 0 shifted by 1 at y0 but 2 at y1
  const auto found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "dense", "input_shift[2]", "2 differs from the shift of its channel"))
      << all_findings(found);
}

TEST(ConvertChecks, InconsistentDimsAreReportedOnTheirLayer) {
  QuantizedGraph g = signed_input_graph({4, 4, 1});
  Block conv = neural("conv", BlockKind::Conv2D, tensor({3, 3, 1, 1}, iota_values(9)));
  g.blocks.push_back(conv);
  Block big = neural("big", BlockKind::Conv2D, tensor({5, 5, 1, 1}, iota_values(25)), {"conv"});
  big.padding = cnn2snn::PaddingKind::Valid;  // 5x5 Valid on the 2x2 output of `conv`
  g.blocks.push_back(big);
  const auto found = cnn2snn::check_v2(g);
  ASSERT_EQ(found.size(), 1u) << all_findings(found);
  EXPECT_EQ(found[0].layer, "big");
  EXPECT_EQ(found[0].field, "dims");
}

TEST(ConvertChecks, MalformedBlocksAreReportedNotRead) {
  QuantizedGraph g = signed_input_graph({4, 4, 1});
  g.blocks.push_back(neural("conv", BlockKind::Conv2D, tensor({3, 3, 1}, iota_values(9))));
  g.blocks.push_back(
      neural("next", BlockKind::Conv2D, tensor({1, 1, 1, 1}, {1}), {"missing"}));
  const auto found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "conv", "weights", "expects (kx, ky, C, F)")) << all_findings(found);
  EXPECT_TRUE(has_finding(found, "next", "inbound", "'missing' is not an earlier block"));
  EXPECT_EQ(cnn2snn::check_v2(QuantizedGraph{}).size(), 1u);  // no blocks at all
}

TEST(ConvertChecks, SeparableBlocksHaveNoAkida2Layer) {
  QuantizedGraph g = signed_input_graph({4, 4, 1});
  g.blocks.push_back(neural("sep", BlockKind::SeparableConv2D, tensor({3, 3, 1}, iota_values(9))));
  const auto found = cnn2snn::check_v2(g);
  EXPECT_TRUE(has_finding(found, "sep", "kind", "SeparableConv2D has no Akida 2.0 layer"))
      << all_findings(found);
  EXPECT_THROW(cnn2snn::convert_to_akida_v2(g), akida::UnsupportedError);
}

TEST(ConvertChecks, RulesTableDocumentsEveryRule) {
  std::set<std::string> names;
  for (const auto& rule : cnn2snn::v2_rules()) {
    EXPECT_TRUE(names.insert(std::string(rule.name)).second) << "duplicate rule " << rule.name;
    EXPECT_FALSE(rule.description.empty()) << rule.name;
    EXPECT_EQ(rule.description.back(), '.') << rule.name << ": one sentence";
    EXPECT_NE(rule.check, nullptr) << rule.name;
  }
  EXPECT_GE(names.size(), 20u);
}

// --- BrainChip's own conversion --------------------------------------------------------------

void expect_same_variable(const std::string& layer, const akida::Variable& got,
                          const akida::Variable& want) {
  const std::string where = "layer '" + layer + "': variable '" + want.name + "'";
  EXPECT_EQ(got.shape, want.shape) << where << ": shape";
  EXPECT_EQ(got.dtype, want.dtype) << where << ": dtype";
  if (got.data == want.data) return;
  ASSERT_EQ(got.element_count(), want.element_count()) << where;
  size_t first = 0, count = 0;
  for (size_t i = 0; i < want.element_count(); ++i)
    if (got.float_at(i) != want.float_at(i) && count++ == 0) first = i;
  ADD_FAILURE() << where << ": " << count << " of " << want.element_count()
                << " values differ, first at " << first << ": " << got.float_at(first)
                << " instead of " << want.float_at(first);
}

void expect_same_parameters(const akida::Layer& got, const akida::Layer& want) {
  std::set<std::string> keys;
  for (const auto& [k, v] : got.parameters) keys.insert(k);
  for (const auto& [k, v] : want.parameters) keys.insert(k);
  for (const auto& key : keys) {
    EXPECT_TRUE(got.has_param(key) && want.has_param(key))
        << "layer '" << want.name << "': parameter '" << key << "' is only in "
        << (got.has_param(key) ? "ours" : "BrainChip's");
    EXPECT_EQ(got.param(key, -999), want.param(key, -999))
        << "layer '" << want.name << "': parameter '" << key << "'";
  }
}

TEST(ConvertFixture, TennstMatchesBrainChipsConversion) {
  const auto onnx = test_support::fixture("onnx/tennst_int8_quantizeml.onnx");
  const auto fbz = test_support::fixture("fbz/tennst_int8_v2_2.17.fbz");
  SKIP_WITHOUT_FIXTURE(onnx);
  SKIP_WITHOUT_FIXTURE(fbz);
  const QuantizedGraph graph = cnn2snn::load_onnx(onnx.string());
  const auto problems = cnn2snn::check_v2(graph);
  ASSERT_TRUE(problems.empty()) << all_findings(problems);
  const akida::Model got = cnn2snn::convert_to_akida_v2(graph);
  const akida::Model want = akida::read_fbz(fbz.string());

  ASSERT_EQ(got.layers.size(), want.layers.size());
  for (size_t i = 0; i < want.layers.size(); ++i) {
    const akida::Layer& g = got.layers[i];
    const akida::Layer& w = want.layers[i];
    EXPECT_EQ(g.name, w.name) << "layer " << i;
    EXPECT_EQ(g.kind, w.kind) << "layer '" << w.name << "': kind";
    EXPECT_EQ(g.inbound, w.inbound) << "layer '" << w.name << "': inbound";
    expect_same_parameters(g, w);
    EXPECT_EQ(variable_names(g), variable_names(w)) << "layer '" << w.name << "': variables";
    for (const akida::Variable& wv : w.variables)
      if (const akida::Variable* gv = g.find_variable(wv.name))
        expect_same_variable(w.name, *gv, wv);
  }
}

// Every bias BrainChip stored in tennst is what to_value_shift gives for bias << bias_shift.
TEST(ConvertFixture, ValueShiftReproducesTennstsBiases) {
  const auto fbz = test_support::fixture("fbz/tennst_int8_v2_2.17.fbz");
  SKIP_WITHOUT_FIXTURE(fbz);
  const akida::Model model = akida::read_fbz(fbz.string());
  size_t checked = 0;
  for (const akida::Layer& layer : model.layers) {
    const akida::Variable* bias = layer.find_variable("bias");
    if (!bias) continue;
    const auto values = bias->ints();
    const auto shifts = layer.variable("bias_shift").ints();
    for (size_t f = 0; f < values.size(); ++f, ++checked)
      EXPECT_EQ(cnn2snn::to_value_shift(values[f] << shifts[f], true),
                (cnn2snn::ValueShift{values[f], static_cast<int32_t>(shifts[f])}))
          << "layer '" << layer.name << "': bias[" << f << "]";
  }
  EXPECT_GT(checked, 1000u);
}

}  // namespace
