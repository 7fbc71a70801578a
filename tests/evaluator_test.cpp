// The reference evaluator on tiny graphs whose outputs are computed by hand in the comments.
#include "cnn2snn/evaluator.h"

#include <gtest/gtest.h>

#include "akida/errors.h"

namespace cnn2snn {
namespace {

using akida::Batch;
using akida::Shape;

// gtest only (the test binary does not link gmock): a substring check that prints the message.
::testing::AssertionResult contains(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << message << "\" lacks \"" << part << "\"";
}

IntTensor tensor(std::vector<int64_t> shape, std::vector<int64_t> values) {
  return IntTensor{std::move(shape), std::move(values)};
}

Block block(const std::string& name, BlockKind kind, IntTensor weights,
            std::vector<std::string> inbound = {}) {
  Block b;
  b.name = name;
  b.kind = kind;
  b.weights = std::move(weights);
  b.inbound = std::move(inbound);
  return b;
}

// A 1x1 depthwise block with unit weights: passes its input through as the accumulator.
Block identity(const std::string& name, int64_t channels, std::vector<std::string> inbound = {}) {
  return block(name, BlockKind::DepthwiseConv2D,
               tensor({1, 1, channels}, std::vector<int64_t>(static_cast<size_t>(channels), 1)),
               std::move(inbound));
}

QuantizedGraph graph(Shape input, std::vector<Block> blocks, bool input_signed = true,
                     int32_t input_bits = 8) {
  QuantizedGraph g;
  g.source = "model.h5";
  g.input_shape = input;
  g.input_bits = input_bits;
  g.input_signed = input_signed;
  g.blocks = std::move(blocks);
  return g;
}

Batch batch(Shape shape, int64_t n, std::vector<int32_t> values) {
  return Batch{n, shape, std::move(values)};
}

// One sample through a graph, the last integer block's values.
std::vector<int32_t> run_one(const QuantizedGraph& g, std::vector<int32_t> values) {
  Evaluator evaluator(g);
  return evaluator.run(batch(g.input_shape, 1, std::move(values))).values;
}

OutputStage stage(std::vector<int64_t> scale, std::vector<int32_t> shift, int32_t bits = 8,
                  bool is_signed = true) {
  OutputStage s;
  s.scale = std::move(scale);
  s.shift = std::move(shift);
  s.output_bits = bits;
  s.output_signed = is_signed;
  return s;
}

TEST(EvaluatorConv, CorrelatesWithTheKernelUnflipped) {
  // Input (3, 3, 1), x the rows:   1 2 3 / 4 5 6 / 7 8 9.
  // Kernel (kx, ky) = (2, 2):      W[0][0]=1 W[0][1]=2 / W[1][0]=3 W[1][1]=4.
  // out[0,0] = 1*1 + 2*2 + 3*4 + 4*5 = 37   (a flipped kernel would give 4*1+3*2+2*4+1*5 = 23)
  // out[0,1] = 1*2 + 2*3 + 3*5 + 4*6 = 47
  // out[1,0] = 1*4 + 2*5 + 3*7 + 4*8 = 67
  // out[1,1] = 1*5 + 2*6 + 3*8 + 4*9 = 77
  const QuantizedGraph g =
      graph({3, 3, 1}, {block("conv", BlockKind::Conv2D, tensor({2, 2, 1, 1}, {1, 2, 3, 4}))});
  Evaluator evaluator(g);
  EXPECT_EQ(evaluator.output_shape("conv"), (Shape{2, 2, 1}));
  const Batch out = evaluator.run(batch({3, 3, 1}, 1, {1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(out.shape, (Shape{2, 2, 1}));
  EXPECT_EQ(out.values, (std::vector<int32_t>{37, 47, 67, 77}));
}

TEST(EvaluatorConv, IndexesWeightsAsKxKyChannelFilter) {
  // 1x1 kernel, C = 2, F = 2, values in (c, f) order: w(0,0)=1 w(0,1)=2 w(1,0)=3 w(1,1)=4.
  // Input {10, 100}: f0 = 10*1 + 100*3 = 310, f1 = 10*2 + 100*4 = 420.
  const QuantizedGraph g =
      graph({1, 1, 2}, {block("conv", BlockKind::Conv2D, tensor({1, 1, 2, 2}, {1, 2, 3, 4}))});
  EXPECT_EQ(run_one(g, {10, 100}), (std::vector<int32_t>{310, 420}));
}

TEST(EvaluatorConv, SameAndSameUpperPadTheOddPixelOnOppositeSides) {
  // Length 4, kernel 3, stride 2: out = ceil(4/2) = 2, total pad = (2-1)*2 + 3 - 4 = 1 (odd).
  // Input 1 2 3 4, kernel 1 10 100.
  // Same (0 before, 1 after):  out0 = 1*1 + 10*2 + 100*3 = 321,  out1 = 1*3 + 10*4 + 100*0 = 43
  // SameUpper (1 before, 0 after): out0 = 1*0 + 10*1 + 100*2 = 210, out1 = 1*2 + 10*3 + 100*4 = 432
  // Checked along x (shape (4, 1, 1), kernel (3, 1)) and along y (shape (1, 4, 1), kernel (1, 3)).
  for (const bool along_x : {true, false}) {
    const Shape in = along_x ? Shape{4, 1, 1} : Shape{1, 4, 1};
    const std::vector<int64_t> kernel_shape =
        along_x ? std::vector<int64_t>{3, 1, 1, 1} : std::vector<int64_t>{1, 3, 1, 1};
    for (const PaddingKind padding : {PaddingKind::Same, PaddingKind::SameUpper}) {
      Block conv = block("conv", BlockKind::Conv2D, tensor(kernel_shape, {1, 10, 100}));
      conv.stride = 2;
      conv.padding = padding;
      const QuantizedGraph g = graph(in, {conv});
      const std::vector<int32_t> expected = padding == PaddingKind::Same
                                                ? std::vector<int32_t>{321, 43}
                                                : std::vector<int32_t>{210, 432};
      EXPECT_EQ(run_one(g, {1, 2, 3, 4}), expected) << "along_x " << along_x;
    }
  }
  // Valid: (4 - 3) / 2 + 1 = 1 output, positions 0..2: 321.
  Block valid = block("conv", BlockKind::Conv2D, tensor({3, 1, 1, 1}, {1, 10, 100}));
  valid.stride = 2;
  EXPECT_EQ(run_one(graph({4, 1, 1}, {valid}), {1, 2, 3, 4}), (std::vector<int32_t>{321}));
}

TEST(EvaluatorConv, InputConvPadsWithThePaddingValuePerChannel) {
  // Input (1, 1, 2) uint8 {5, 7}; 3x3 kernel of ones, Same, stride 1: 1 real position and 8
  // padded ones per channel. padding_value {2, 3}: (5 + 8*2) + (7 + 8*3) = 21 + 31 = 52.
  Block conv =
      block("conv", BlockKind::InputConv2D, tensor({3, 3, 2, 1}, std::vector<int64_t>(18, 1)));
  conv.padding = PaddingKind::Same;
  conv.padding_value = {2, 3};
  EXPECT_EQ(run_one(graph({1, 1, 2}, {conv}, false), {5, 7}), (std::vector<int32_t>{52}));
  // A Conv2D pads with zeros: 5 + 7 = 12.
  conv.kind = BlockKind::Conv2D;
  conv.padding_value.clear();
  EXPECT_EQ(run_one(graph({1, 1, 2}, {conv}, false), {5, 7}), (std::vector<int32_t>{12}));
}

TEST(EvaluatorConv, ShiftsInputChannelsLeftFirst) {
  // weights {1, 1}, input {3, -2}, input_shift {0, 3}: (3 << 0) + (-2 << 3) = 3 - 16 = -13.
  Block conv = block("conv", BlockKind::Conv2D, tensor({1, 1, 2, 1}, {1, 1}));
  conv.input_shift = {0, 3};
  EXPECT_EQ(run_one(graph({1, 1, 2}, {conv}), {3, -2}), (std::vector<int32_t>{-13}));
  // One value for every channel: (3 << 2) + (-2 << 2) = 12 - 8 = 4.
  conv.input_shift = {2};
  EXPECT_EQ(run_one(graph({1, 1, 2}, {conv}), {3, -2}), (std::vector<int32_t>{4}));
}

TEST(EvaluatorDense, FlattensTheInputInXYCOrder) {
  // Input (2, 1, 2): x0 = {1, 2}, x1 = {3, 4}; flattened (x, y, c): 1 2 3 4.
  // weights (4, 1) = 1 10 100 1000: 1 + 20 + 300 + 4000 = 4321 (the (c, y, x) order would give
  // 1*1 + 3*10 + 2*100 + 4*1000 = 4231). 1000 needs 16-bit weights.
  Block dense = block("dense", BlockKind::Dense, tensor({4, 1}, {1, 10, 100, 1000}));
  dense.weights_bits = 16;
  const QuantizedGraph g = graph({2, 1, 2}, {dense});
  Evaluator evaluator(g);
  EXPECT_EQ(evaluator.output_shape("dense"), (Shape{1, 1, 1}));
  EXPECT_EQ(run_one(g, {1, 2, 3, 4}), (std::vector<int32_t>{4321}));
}

TEST(EvaluatorAccumulator, SaturatesToBufferBitsBeforeAndAfterTheBias) {
  // weights {100, 100}, buffer_bits 12: range [-2048, 2047].
  Block conv = block("conv", BlockKind::Conv2D, tensor({1, 1, 2, 1}, {100, 100}));
  conv.buffer_bits = 12;
  const QuantizedGraph g = graph({1, 1, 2}, {conv});
  // 100*100 + 100*100 = 20000 -> 2047; -20000 -> -2048.
  EXPECT_EQ(run_one(g, {100, 100}), (std::vector<int32_t>{2047}));
  EXPECT_EQ(run_one(g, {-100, -100}), (std::vector<int32_t>{-2048}));
  // bias -100 is added to the saturated sum: 2047 - 100 = 1947 (not sat(20000 - 100) = 2047).
  conv.bias = {-100};
  EXPECT_EQ(run_one(graph({1, 1, 2}, {conv}), {100, 100}), (std::vector<int32_t>{1947}));
  // and the sum with the bias saturates again: sat(2047 + 100) = 2047.
  conv.bias = {100};
  EXPECT_EQ(run_one(graph({1, 1, 2}, {conv}), {100, 100}), (std::vector<int32_t>{2047}));
}

TEST(EvaluatorAccumulator, AddsTheBiasPerOutputChannel) {
  // weights (1, 1, 1, 2) = {1, -1}, input 5: acc {5, -5}; bias {10, 20} -> {15, 15}.
  Block conv = block("conv", BlockKind::Conv2D, tensor({1, 1, 1, 2}, {1, -1}));
  conv.bias = {10, 20};
  EXPECT_EQ(run_one(graph({1, 1, 1}, {conv}), {5}), (std::vector<int32_t>{15, 15}));
  // One value for all channels: {5 + 7, -5 + 7} = {12, 2}.
  conv.bias = {7};
  EXPECT_EQ(run_one(graph({1, 1, 1}, {conv}), {5}), (std::vector<int32_t>{12, 2}));
}

TEST(EvaluatorPooling, MaxPoolIgnoresPaddedPositionsAtTheEdge) {
  // Accumulators along x: -5 -3 -7 (identity). Pool 2, stride 2, Same: out = ceil(3/2) = 2,
  // total pad = (2-1)*2 + 2 - 3 = 1, after. Windows {-5, -3} -> -3 and {-7, pad} -> -7 (a padded
  // 0 taking part would give 0). Along y (length 1) the window {v, pad} keeps v.
  Block conv = identity("conv", 1);
  conv.padding = PaddingKind::Same;
  conv.pool = Pooling{PoolKind::Max, 2, 2, PaddingKind::Same};
  const QuantizedGraph g = graph({3, 1, 1}, {conv});
  Evaluator evaluator(g);
  EXPECT_EQ(evaluator.output_shape("conv"), (Shape{2, 1, 1}));
  EXPECT_EQ(run_one(g, {-5, -3, -7}), (std::vector<int32_t>{-3, -7}));
}

TEST(EvaluatorPooling, MaxPoolUsesThePoolsPaddingNotTheConvs) {
  // Input (x=3, y=2, c=1): rows x0 {-5, 1}, x1 {-3, 2}, x2 {-7, 4}. The 3x1 conv {0, 1, 0} is
  // the identity with Same padding (one zero row each side), and keeps row x1 alone when Valid.
  // Pool 2, stride 2:
  //   Same conv, Valid pool: x out (3-2)/2+1 = 1, y out 1: max(-5, 1, -3, 2) = 2.
  //   Same conv, Same pool: x out ceil(3/2) = 2 (one pad row after), y out 1:
  //     {max(-5, 1, -3, 2), max(-7, 4, pad)} = {2, 4}.
  //   Valid conv (1, 2, 1) = {-3, 2}, Same pool: x out 1 (the window {x1, pad}), y out 1: 2
  //     (a Valid pool of 2 would not fit the single row).
  Block conv = block("conv", BlockKind::Conv2D, tensor({3, 1, 1, 1}, {0, 1, 0}));
  conv.padding = PaddingKind::Same;
  conv.pool = Pooling{PoolKind::Max, 2, 2, PaddingKind::Valid};
  const std::vector<int32_t> input = {-5, 1, -3, 2, -7, 4};
  QuantizedGraph g = graph({3, 2, 1}, {conv});
  EXPECT_EQ(Evaluator(g).output_shape("conv"), (Shape{1, 1, 1}));
  EXPECT_EQ(run_one(g, input), (std::vector<int32_t>{2}));
  g.blocks[0].pool.padding = PaddingKind::Same;
  EXPECT_EQ(Evaluator(g).output_shape("conv"), (Shape{2, 1, 1}));
  EXPECT_EQ(run_one(g, input), (std::vector<int32_t>{2, 4}));
  g.blocks[0].padding = PaddingKind::Valid;
  EXPECT_EQ(Evaluator(g).output_shape("conv"), (Shape{1, 1, 1}));
  EXPECT_EQ(run_one(g, input), (std::vector<int32_t>{2}));
}

TEST(EvaluatorPooling, PoolPaddingWithoutMaxPoolingIsRefused) {
  Block conv = identity("conv", 1);
  conv.pool.kind = PoolKind::GlobalAverage;
  conv.pool.padding = PaddingKind::Same;
  try {
    Evaluator evaluator(graph({2, 2, 1}, {conv}));
    FAIL() << "expected UnsupportedError";
  } catch (const akida::UnsupportedError& e) {
    EXPECT_TRUE(contains(e.what(), "block 'conv' (DepthwiseConv2D): field 'pool.padding'"));
  }
}

TEST(EvaluatorActivation, ReluClipsToZeroAndThePerChannelMax) {
  // weights {1, 1, -1}, input 50: acc {50, 50, -50}; relu_max {40, 60, 10} -> {40, 50, 0}.
  Block conv = block("conv", BlockKind::Conv2D, tensor({1, 1, 1, 3}, {1, 1, -1}));
  conv.relu = true;
  conv.relu_max = {40, 60, 10};
  EXPECT_EQ(run_one(graph({1, 1, 1}, {conv}), {50}), (std::vector<int32_t>{40, 50, 0}));
  // Unbounded: {50, 50, 0}.
  conv.relu_max.clear();
  EXPECT_EQ(run_one(graph({1, 1, 1}, {conv}), {50}), (std::vector<int32_t>{50, 50, 0}));
}

// A 3-bit LUT: index values -4..3 map to the table in that order (offset 2^(3-1) = 4), with
// different slopes on each side so that a wrong offset or order shows.
LutActivation lut3(std::vector<int64_t> scale, std::vector<int32_t> shift) {
  LutActivation lut;
  lut.scale_out = stage(std::move(scale), std::move(shift), 3);
  lut.table = {-8, -6, -4, -2, 0, 5, 10, 15};
  return lut;
}

TEST(EvaluatorActivation, LutScalesOutToItsIndexRangeThenReadsTheTable) {
  // scale {3, 1, 2}, shift {-1, 0, 1}, signed 3 bits [-4, 3], then table[i + 4]:
  //   {1, -3, 5}:  3 -> (3 + 1) >> 1 = 2 -> 10;   -3 -> -6;   10 << 1 = 20 -> 3 -> 15
  //   {-5, 0, -1}: -15 -> (-15 + 1) >> 1 = -7 -> -4 -> -8;   0 -> 0;   -2 << 1 = -4 -> -8
  Block conv = identity("conv", 3);
  conv.lut = lut3({3, 1, 2}, {-1, 0, 1});
  EXPECT_EQ(run_one(graph({1, 1, 3}, {conv}), {1, -3, 5}), (std::vector<int32_t>{10, -6, 15}));
  EXPECT_EQ(run_one(graph({1, 1, 3}, {conv}), {-5, 0, -1}), (std::vector<int32_t>{-8, 0, -8}));
}

TEST(EvaluatorActivation, LutComesBeforeTheGlobalSum) {
  // (2, 2, 1) = 1 -2 3 5, scale 1 shift 0: indices 1 -2 3 3 (5 saturates) -> 5 -4 15 15, sum 31.
  // (Summing first would give 7 -> index 3 -> 15.)
  Block conv = identity("conv", 1);
  conv.lut = lut3({1}, {0});
  conv.pool.kind = PoolKind::GlobalAverage;
  EXPECT_EQ(run_one(graph({2, 2, 1}, {conv}), {1, -2, 3, 5}), (std::vector<int32_t>{31}));
}

TEST(EvaluatorActivation, LutTableMustCoverItsIndexRange) {
  Block conv = identity("conv", 1);
  conv.lut = lut3({1}, {0});
  conv.lut->table.pop_back();
  try {
    Evaluator evaluator(graph({1, 1, 1}, {conv}));
    FAIL() << "expected a ShapeError";
  } catch (const akida::ShapeError& e) {
    EXPECT_TRUE(contains(e.what(), "block 'conv' (DepthwiseConv2D): field 'lut.table': has 7 "
                                   "values, expected 2^3 = 8"));
  }
  conv.lut = lut3({1}, {0});
  conv.relu = true;
  EXPECT_THROW(Evaluator{graph({1, 1, 1}, {conv})}, akida::UnsupportedError);
}

TEST(EvaluatorPooling, GlobalAverageIsASumAfterTheRelu) {
  // Input (2, 2, 1) = 1 -2 3 4; ReLU -> 1 0 3 4; sum = 8 (a sum before the ReLU would be 6).
  Block conv = identity("conv", 1);
  conv.relu = true;
  conv.pool.kind = PoolKind::GlobalAverage;
  const QuantizedGraph g = graph({2, 2, 1}, {conv});
  Evaluator evaluator(g);
  EXPECT_EQ(evaluator.output_shape("conv"), (Shape{1, 1, 1}));
  EXPECT_EQ(run_one(g, {1, -2, 3, 4}), (std::vector<int32_t>{8}));
}

TEST(EvaluatorOutputStage, RightShiftRoundsHalfUp) {
  // scale 1, shift -1: (acc + 1) >> 1, an arithmetic (flooring) shift.
  //   5 -> 6 >> 1 = 3 (2.5 -> 3)    -5 -> -4 >> 1 = -2 (-2.5 -> -2)
  //   3 -> 4 >> 1 = 2 (1.5 -> 2)    -3 -> -2 >> 1 = -1 (-1.5 -> -1)
  //  -1 -> 0 >> 1 = 0 (-0.5 -> 0)
  Block conv = identity("conv", 5);
  conv.output = stage({1}, {-1});
  EXPECT_EQ(run_one(graph({1, 1, 5}, {conv}), {5, -5, 3, -3, -1}),
            (std::vector<int32_t>{3, -2, 2, -1, 0}));
  // scale 3, shift -2: 5*3 = 15 -> (15 + 2) >> 2 = 4 (3.75); -7*3 = -21 -> -19 >> 2 = -5
  // (floor(-4.75) = -5, i.e. -5.25 rounds to -5); 2*3 = 6 -> 8 >> 2 = 2 (1.5 -> 2).
  Block scaled = identity("conv", 3);
  scaled.output = stage({3}, {-2});
  EXPECT_EQ(run_one(graph({1, 1, 3}, {scaled}), {5, -7, 2}), (std::vector<int32_t>{4, -5, 2}));
}

TEST(EvaluatorOutputStage, PositiveShiftAndSaturations) {
  // scale 2, shift 3: 5 -> 10 << 3 = 80; -3 -> -6 << 3 = -48; 20 -> 320 -> 127; -20 -> -128.
  Block conv = identity("conv", 4);
  conv.output = stage({2}, {3});
  EXPECT_EQ(run_one(graph({1, 1, 4}, {conv}), {5, -3, 20, -20}),
            (std::vector<int32_t>{80, -48, 127, -128}));
  // post_op_buffer_bits 8 saturates the product: 100 * 2 = 200 -> 127, then shift -1:
  // (127 + 1) >> 1 = 64 (without that saturation: (200 + 1) >> 1 = 100).
  Block narrow = identity("conv", 1);
  narrow.output = stage({2}, {-1});
  narrow.output->post_op_buffer_bits = 8;
  EXPECT_EQ(run_one(graph({1, 1, 1}, {narrow}), {100}), (std::vector<int32_t>{64}));
}

TEST(EvaluatorOutputStage, UnsignedFourBitOutputsSaturateToZeroAndFifteen) {
  // scale 1, shift 0, unsigned 4 bits: [0, 15].
  Block conv = identity("conv", 6);
  conv.output = stage({1}, {0}, 4, false);
  EXPECT_EQ(run_one(graph({1, 1, 6}, {conv}), {-3, 0, 7, 15, 16, 100}),
            (std::vector<int32_t>{0, 0, 7, 15, 15, 15}));
}

TEST(EvaluatorOutputStage, PerChannelScaleAndShift) {
  // channel 0: 10 * 3 = 30, shift -2: (30 + 2) >> 2 = 8 (7.5 -> 8);
  // channel 1: 10 * 5 = 50, shift 1: 100.
  Block conv = identity("conv", 2);
  conv.output = stage({3, 5}, {-2, 1});
  EXPECT_EQ(run_one(graph({1, 1, 2}, {conv}), {10, 10}), (std::vector<int32_t>{8, 100}));
}

TEST(EvaluatorAdd, ShiftsBothOperandsSumsAndScalesOut) {
  // Input {3, 5}. a = identity: {3, 5}. b = depthwise {2, -3}: {6, -15}.
  // a_shift 2, b_shift 1: 3*4 + 6*2 = 24; 5*4 - 15*2 = -10.
  // Output stage shift -2 (no scale): (24 + 2) >> 2 = 6; (-10 + 2) >> 2 = -8 >> 2 = -2 (-2.5).
  Block b = block("b", BlockKind::DepthwiseConv2D, tensor({1, 1, 2}, {2, -3}));
  Block add = block("add", BlockKind::Add, {}, {"a", "b"});
  add.a_shift = {2};  // one value for all channels
  add.b_shift = {1};
  add.output = stage({}, {-2});
  Evaluator evaluator(graph({1, 1, 2}, {identity("a", 2), b, add}));
  const std::vector<Batch> all = evaluator.run_all(batch({1, 1, 2}, 1, {3, 5}));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].values, (std::vector<int32_t>{3, 5}));
  EXPECT_EQ(all[1].values, (std::vector<int32_t>{6, -15}));
  EXPECT_EQ(all[2].values, (std::vector<int32_t>{6, -2}));
  // buffer_bits 5 ([-16, 15]) saturates the sum: 24 -> 15 -> (15 + 2) >> 2 = 4; -10 -> -2.
  add.buffer_bits = 5;
  EXPECT_EQ(run_one(graph({1, 1, 2}, {identity("a", 2), b, add}), {3, 5}),
            (std::vector<int32_t>{4, -2}));
}

TEST(EvaluatorAdd, PerChannelShifts) {
  // Input {3, 5}. a = identity: {3, 5}. b = depthwise {2, -3}: {6, -15}.
  // a_shift {0, 3}, b_shift {2, 0}: channel 0: 3*1 + 6*4 = 27; channel 1: 5*8 - 15*1 = 25.
  // (The shifts of one channel applied to both would give 3*1 + 6*4 = 27 and 5*1 - 15*4 = -55.)
  Block b = block("b", BlockKind::DepthwiseConv2D, tensor({1, 1, 2}, {2, -3}));
  Block add = block("add", BlockKind::Add, {}, {"a", "b"});
  add.a_shift = {0, 3};
  add.b_shift = {2, 0};
  EXPECT_EQ(run_one(graph({1, 1, 2}, {identity("a", 2), b, add}), {3, 5}),
            (std::vector<int32_t>{27, 25}));
  // Three shifts for two channels: refused, naming the field.
  add.a_shift = {0, 3, 1};
  try {
    Evaluator evaluator(graph({1, 1, 2}, {identity("a", 2), b, add}));
    FAIL() << "expected ShapeError";
  } catch (const akida::ShapeError& e) {
    EXPECT_TRUE(contains(e.what(), "block 'add' (Add): field 'a_shift': has 3 values"));
  }
  // A shift on a block that is not an Add would be silently ignored: refused.
  Block conv = identity("conv", 2);
  conv.b_shift = {1};
  try {
    Evaluator evaluator(graph({1, 1, 2}, {conv}));
    FAIL() << "expected UnsupportedError";
  } catch (const akida::UnsupportedError& e) {
    EXPECT_TRUE(contains(e.what(), "block 'conv' (DepthwiseConv2D): field 'b_shift'"));
  }
}

TEST(EvaluatorConcatenate, ConcatenatesChannelsAtEachPosition) {
  // Input (2, 1, 1) = {1, 2}. a = identity: {1}, {2}. b = conv (1, 1, 1, 2) {10, 20}:
  // {10, 20}, {20, 40}. concat(a, b) = {1, 10, 20}, {2, 20, 40}.
  const QuantizedGraph g = graph(
      {2, 1, 1}, {identity("a", 1), block("b", BlockKind::Conv2D, tensor({1, 1, 1, 2}, {10, 20})),
                  block("cat", BlockKind::Concatenate, {}, {"a", "b"})});
  Evaluator evaluator(g);
  EXPECT_EQ(evaluator.output_shape("cat"), (Shape{2, 1, 3}));
  EXPECT_EQ(run_one(g, {1, 2}), (std::vector<int32_t>{1, 10, 20, 2, 20, 40}));
}

TEST(EvaluatorDequantizer, MultipliesByPerChannelScalesInFloat) {
  // Integers {3, -4}; scales {0.5, 0.25}: {1.5, -1.0} (exact in float32).
  Block deq = block("deq", BlockKind::Dequantizer, {}, {"conv"});
  deq.scales = {0.5f, 0.25f};
  Evaluator evaluator(graph({1, 1, 2}, {identity("conv", 2), deq}));
  const Batch in = batch({1, 1, 2}, 1, {3, -4});
  EXPECT_EQ(evaluator.predict(in).values, (std::vector<float>{1.5f, -1.0f}));
  EXPECT_EQ(evaluator.run(in).values, (std::vector<int32_t>{3, -4}));
  const std::vector<Batch> all = evaluator.run_all(in);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].n, 0);
  EXPECT_TRUE(all[1].values.empty());
  // Without a Dequantizer, predict() returns the integers as floats.
  Evaluator plain(graph({1, 1, 2}, {identity("conv", 2)}));
  EXPECT_EQ(plain.predict(in).values, (std::vector<float>{3.0f, -4.0f}));
}

TEST(EvaluatorTemporal, BufferTempConvKeepsAFifoAcrossSamplesAndCalls) {
  // fifo_size 2, C = 2, F = 2. Weights (t, c, f), t = 0 the oldest:
  //   filter 0: W[0] = {1, 2}, W[1] = {10, 20};   filter 1: all ones.
  // Samples s0 = {1, 1}, s1 = {2, 0}, s2 = {0, 3}.
  //   step 0: fifo [0, s0]  f0 = 1*0 + 2*0 + 10*1 + 20*1 = 30   f1 = 0 + 0 + 1 + 1 = 2
  //   step 1: fifo [s0, s1] f0 = 1*1 + 2*1 + 10*2 + 20*0 = 23   f1 = 1 + 1 + 2 + 0 = 4
  //   step 2: fifo [s1, s2] f0 = 1*2 + 2*0 + 10*0 + 20*3 = 62   f1 = 2 + 0 + 0 + 3 = 5
  Block btc =
      block("btc", BlockKind::BufferTempConv, tensor({2, 2, 2}, {1, 1, 2, 1, 10, 1, 20, 1}));
  btc.fifo_size = 2;
  Evaluator evaluator(graph({1, 1, 2}, {btc}));
  EXPECT_EQ(evaluator.run(batch({1, 1, 2}, 3, {1, 1, 2, 0, 0, 3})).values,
            (std::vector<int32_t>{30, 2, 23, 4, 62, 5}));
  // The state persists into the next call: fifo [s2, s0]: 1*0 + 2*3 + 10*1 + 20*1 = 36,
  // 0 + 3 + 1 + 1 = 5.
  EXPECT_EQ(evaluator.run(batch({1, 1, 2}, 1, {1, 1})).values, (std::vector<int32_t>{36, 5}));
  // reset() empties the FIFO: s0 gives step 0's {30, 2} again, then s1 (a separate call) 23, 4.
  evaluator.reset();
  EXPECT_EQ(evaluator.run(batch({1, 1, 2}, 1, {1, 1})).values, (std::vector<int32_t>{30, 2}));
  EXPECT_EQ(evaluator.run(batch({1, 1, 2}, 1, {2, 0})).values, (std::vector<int32_t>{23, 4}));
}

TEST(EvaluatorTemporal, DepthwiseBufferTempConvSumsEachChannelOverTime) {
  // fifo_size 3, C = 2, weights (t, c): t0 {1, 2}, t1 {3, 4}, t2 {5, 6}.
  // s0 = {1, -1}: fifo [0, 0, s0]  c0 = 5*1 = 5            c1 = 6*(-1) = -6
  // s1 = {2, 0}:  fifo [0, s0, s1] c0 = 3*1 + 5*2 = 13     c1 = 4*(-1) + 6*0 = -4
  Block dbtc =
      block("dbtc", BlockKind::DepthwiseBufferTempConv, tensor({3, 2}, {1, 2, 3, 4, 5, 6}));
  dbtc.fifo_size = 3;
  Evaluator evaluator(graph({1, 1, 2}, {dbtc}));
  EXPECT_EQ(evaluator.run(batch({1, 1, 2}, 2, {1, -1, 2, 0})).values,
            (std::vector<int32_t>{5, -6, 13, -4}));
}

TEST(EvaluatorInputQuantizer, RoundsHalfToEvenAddsTheZeroPointAndSaturates) {
  // Signed 8 bits, scale 1, no zero point: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, 0.49 -> 0,
  // 200 -> 127, -200 -> -128.
  QuantizedGraph g = graph({1, 1, 6}, {identity("conv", 6)});
  g.input_quantizer = InputQuantizer{{1.0f}, {}, 8, true, false};
  Evaluator evaluator(g);
  EXPECT_EQ(
      evaluator
          .quantize_input(
              akida::FloatBatch{1, {1, 1, 6}, {2.5f, 3.5f, -2.5f, 0.49f, 200.f, -200.f}}, false)
          .values,
      (std::vector<int32_t>{2, 4, -2, 0, 127, -128}));
  // Unsigned 8 bits, scale 0.5, zero point 10: 1.25 / 0.5 = 2.5 -> 2 + 10 = 12;
  // 1.75 / 0.5 = 3.5 -> 4 + 10 = 14; -6 / 0.5 = -12 -> -2 -> 0; 150 / 0.5 = 300 -> 310 -> 255.
  QuantizedGraph u = graph({1, 1, 4}, {identity("conv", 4)}, false);
  u.input_quantizer = InputQuantizer{{0.5f}, {10}, 8, false, false};
  Evaluator unsigned_evaluator(u);
  EXPECT_EQ(unsigned_evaluator
                .quantize_input(akida::FloatBatch{1, {1, 1, 4}, {1.25f, 1.75f, -6.f, 150.f}}, false)
                .values,
            (std::vector<int32_t>{12, 14, 0, 255}));
}

TEST(EvaluatorInputQuantizer, TransposesChannelsFirstInputsWithPerChannelScales) {
  // Logical (x, y, c) = (2, 1, 2); channels-first values (c, x): c0 = {1, 2}, c1 = {3, 4}.
  // Scales {1, 0.5}: c1 doubles. NHWC: x0 = {1, 6}, x1 = {2, 8}.
  QuantizedGraph g = graph({2, 1, 2}, {identity("conv", 2)});
  g.input_quantizer = InputQuantizer{{1.0f, 0.5f}, {0}, 8, true, true};
  Evaluator evaluator(g);
  const akida::FloatBatch in{1, {2, 1, 2}, {1.f, 2.f, 3.f, 4.f}};
  EXPECT_EQ(evaluator.quantize_input(in, true).values, (std::vector<int32_t>{1, 6, 2, 8}));
  // Read as channels-last instead: x0 = {1, 2*2}, x1 = {3, 4*2}.
  EXPECT_EQ(evaluator.quantize_input(in, false).values, (std::vector<int32_t>{1, 4, 3, 8}));
}

// The message of the akida::Error a graph's construction throws.
template <typename ErrorType>
std::string construction_error(const QuantizedGraph& g) {
  try {
    Evaluator evaluator(g);
  } catch (const ErrorType& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

TEST(EvaluatorValidation, WeightsInconsistentWithInputChannels) {
  // Weights (1, 1, 3, 1) on a 2-channel input.
  const QuantizedGraph g =
      graph({1, 1, 2}, {block("conv", BlockKind::Conv2D, tensor({1, 1, 3, 1}, {1, 1, 1}))});
  EXPECT_TRUE(contains(construction_error<akida::ShapeError>(g),
                       "model.h5: block 'conv' (Conv2D): field 'weights': shape [1, 1, 3, 1]: "
                       "dimension 2 (input channels C) is 3, expected 2"));
}

TEST(EvaluatorValidation, UnknownAndOutOfOrderInbounds) {
  EXPECT_TRUE(contains(construction_error<akida::ShapeError>(
                           graph({1, 1, 1}, {identity("a", 1), identity("b", 1, {"nope"})})),
                       "block 'b' (DepthwiseConv2D): field 'inbound': unknown block 'nope'"));
  EXPECT_TRUE(contains(construction_error<akida::ShapeError>(
                           graph({1, 1, 1}, {identity("a", 1, {"b"}), identity("b", 1)})),
                       "block 'a' (DepthwiseConv2D): field 'inbound': block 'b' comes after it"));
}

TEST(EvaluatorValidation, OtherInconsistentFields) {
  // A bias of 3 values on 2 output channels.
  Block conv = block("conv", BlockKind::Conv2D, tensor({1, 1, 1, 2}, {1, 1}));
  conv.bias = {1, 2, 3};
  EXPECT_TRUE(contains(construction_error<akida::ShapeError>(graph({1, 1, 1}, {conv})),
                       "field 'bias': has 3 values, expected 1 or 2"));
  // padding_value on a Conv2D would be silently ignored: refused.
  conv.bias.clear();
  conv.padding_value = {1};
  EXPECT_TRUE(contains(construction_error<akida::UnsupportedError>(graph({1, 1, 1}, {conv})),
                       "field 'padding_value'"));
  // Dense weights must cover the flattened input: 2*1*2 = 4 rows, not 3.
  EXPECT_TRUE(contains(construction_error<akida::ShapeError>(graph(
                           {2, 1, 2}, {block("fc", BlockKind::Dense, tensor({3, 1}, {1, 1, 1}))})),
                       "block 'fc' (Dense): field 'weights'"));
  // A weight outside weights_bits.
  Block wide = block("conv", BlockKind::Conv2D, tensor({1, 1, 1, 1}, {200}));
  EXPECT_TRUE(contains(construction_error<akida::ShapeError>(graph({1, 1, 1}, {wide})),
                       "field 'weights': value 200 at index 0 does not fit weights_bits 8"));
  // A kernel larger than the input with Valid padding.
  EXPECT_TRUE(contains(construction_error<akida::ShapeError>(graph(
                           {1, 1, 1}, {block("conv", BlockKind::Conv2D,
                                             tensor({3, 3, 1, 1}, std::vector<int64_t>(9, 1)))})),
                       "is larger than the input"));
  // BufferTempConv weights T must equal fifo_size.
  Block btc = block("btc", BlockKind::BufferTempConv, tensor({2, 1, 1}, {1, 1}));
  btc.fifo_size = 3;
  EXPECT_TRUE(contains(construction_error<akida::ShapeError>(graph({1, 1, 1}, {btc})),
                       "dimension 0 (T = fifo_size) is 2, expected 3"));
}

TEST(EvaluatorValidation, InputBatchMustFitTheGraphInput) {
  Evaluator evaluator(graph({1, 1, 2}, {identity("conv", 2)}, false));
  try {
    evaluator.run(batch({1, 1, 2}, 1, {0, 256}));
    ADD_FAILURE() << "no error thrown";
  } catch (const akida::ShapeError& e) {
    EXPECT_TRUE(contains(e.what(), "value 256 at index 1 is outside [0, 255]"));
  }
  EXPECT_THROW(evaluator.run(batch({1, 2, 1}, 1, {0, 1})), akida::ShapeError);
  EXPECT_THROW(evaluator.run(batch({1, 1, 2}, 2, {0, 1})), akida::ShapeError);
  EXPECT_THROW(evaluator.output_shape("missing"), akida::ShapeError);
  EXPECT_THROW(evaluator.quantize_input(akida::FloatBatch{1, {1, 1, 2}, {0.f, 0.f}}, false),
               akida::UnsupportedError);
}

}  // namespace
}  // namespace cnn2snn
