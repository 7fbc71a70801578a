// Akida 1.0 layers: the neuron equation (docs/akida-v1.md) on hand-computed cases, and every v1
// fixture running end to end.
#include <gtest/gtest.h>

#include <random>

#include "akida/engine.h"
#include "akida/errors.h"
#include "akida/fbz.h"
#include "akida/runtime/v1_activation.h"
#include "runtime_test_helpers.h"
#include "test_support.h"

namespace akida {
namespace {

using namespace runtime_test;

// threshold / act_step variables for `n` neurons, all equal.
std::vector<Variable> neuron_vars(size_t n, int64_t threshold, float act_step) {
  return {f32("act_step", {static_cast<uint32_t>(n)}, std::vector<float>(n, act_step)),
          i32("threshold", {static_cast<uint32_t>(n)}, std::vector<int64_t>(n, threshold))};
}

// A one-neuron FullyConnected layer with weight 1 on a (1, 1, 1) input: its potential is the
// input value, which lets the tests drive the activation with any potential.
Layer identity_fc(int32_t act_bits, int64_t threshold, float act_step, bool activation = true) {
  auto vars = neuron_vars(1, threshold, act_step);
  vars.push_back(i8("weights", {1, 1, 1, 1}, {1}));
  return layer("fc", LayerKind::FullyConnected,
               {{"units", 1}, {"activation", activation ? 1 : 0}, {"act_bits", act_bits},
                {"weights_bits", 8}},
               vars, {"in"});
}

int32_t fire(const Layer& l, int32_t potential) {
  return run_layer(l, {1, 1, 1}, {potential}).at(0);
}

TEST(V1Activation, FourBitsCeilOfThresholdedPotentialOverActStep) {
  // act_bits 4: quantum q = act_step * 16 / 2^4 = 2.5; out = clamp(ceil((p - 10) / 2.5), 0, 15).
  const Layer l = identity_fc(4, 10, 2.5f);
  EXPECT_EQ(fire(l, -100), 0);  // far below threshold
  EXPECT_EQ(fire(l, 9), 0);     // ceil(-0.4) = 0
  EXPECT_EQ(fire(l, 10), 0);    // at the threshold: ceil(0) = 0, the neuron does not fire
  EXPECT_EQ(fire(l, 11), 1);    // ceil(0.4) = 1
  EXPECT_EQ(fire(l, 15), 2);    // exact boundary: ceil(2.0) = 2 (not 3)
  EXPECT_EQ(fire(l, 16), 3);    // ceil(2.4) = 3
  EXPECT_EQ(fire(l, 45), 14);   // ceil(14.0) = 14
  EXPECT_EQ(fire(l, 46), 15);   // ceil(14.4) = 15
  EXPECT_EQ(fire(l, 1000), 15); // saturates at 2^4 - 1
}

TEST(V1Activation, ActStepIsOnAFourBitScale) {
  // act_bits 2, act_step 1: q = 1 * 16 / 2^2 = 4; out = clamp(ceil(p / 4), 0, 3).
  const Layer two = identity_fc(2, 0, 1.0f);
  EXPECT_EQ(fire(two, 4), 1);   // ceil(1.0): tie stays at 1
  EXPECT_EQ(fire(two, 5), 2);   // ceil(1.25)
  EXPECT_EQ(fire(two, 8), 2);   // ceil(2.0)
  EXPECT_EQ(fire(two, 9), 3);   // ceil(2.25)
  EXPECT_EQ(fire(two, 99), 3);  // saturates at 2^2 - 1
  // act_bits 1, act_step 0.5, threshold -3: q = 0.5 * 16 / 2 = 4; out = clamp(ceil((p + 3) / 4), 0, 1).
  const Layer one = identity_fc(1, -3, 0.5f);
  EXPECT_EQ(fire(one, -3), 0);  // ceil(0)
  EXPECT_EQ(fire(one, -2), 1);  // ceil(0.25)
  EXPECT_EQ(fire(one, 50), 1);  // saturates at 1
}

TEST(V1Activation, UsesTheStoredFloatExactly) {
  // act_step = 0.1f = 13421773 * 2^-27 (slightly above 0.1); act_bits 4 so q = act_step.
  // p - threshold = 1: 1 / 0.100000001 = 9.9999999 -> ceil = 10. Rounding act_step to 4
  // fractional bits (0.125) would give 8; truncating it (0.0625) would give 16 -> 15.
  EXPECT_EQ(fire(identity_fc(4, 0, 0.1f), 1), 10);
  // act_step = 0.75 exactly, q = 0.75: p = 3 -> ceil(4.0) = 4 (exact tie), p = 4 -> ceil(5.33) = 6.
  const Layer l = identity_fc(4, 0, 0.75f);
  EXPECT_EQ(fire(l, 3), 4);
  EXPECT_EQ(fire(l, 4), 6);
  // A huge act_step: q = 2^40, every positive potential below it gives ceil(p / q) = 1.
  EXPECT_EQ(fire(identity_fc(4, 0, 1099511627776.0f), 2000000000), 1);
}

TEST(V1Activation, WithoutActivationOutputsThePotentialAndPredictRescalesIt) {
  // forward: the potential itself (threshold and act_step only enter predict()).
  const Layer l = identity_fc(1, 6, 4.0f, /*activation=*/false);
  EXPECT_EQ(fire(l, -50), -50);
  EXPECT_EQ(fire(l, 70000), 70000);
  // predict: (p - threshold) / act_step = (26 - 6) / 4 = 5, (0 - 6) / 4 = -1.5.
  Model m;
  m.layers.push_back(layer("in", LayerKind::InputData,
                           {{"input_width", 1}, {"input_height", 1}, {"input_channels", 1},
                            {"input_bits", 8}}));
  m.layers.push_back(l);
  Engine engine(m);
  const FloatBatch out = engine.predict(Batch{2, {1, 1, 1}, {26, 0}});
  EXPECT_EQ(out.values, (std::vector<float>{5.0f, -1.5f}));
  EXPECT_EQ(engine.forward(Batch{1, {1, 1, 1}, {26}}).values, std::vector<int32_t>{26});
}

TEST(V1Activation, OldVariableNamesOf2021Files) {
  // threshold_fire / threshold_fire_step are threshold / act_step (akida 1.x API names).
  Layer l = identity_fc(4, 0, 1.0f);
  l.variables = {f32("threshold_fire_step", {1}, {2.0f}), i32("threshold_fire", {1}, {1}),
                 i8("weights", {1, 1, 1, 1}, {1})};
  EXPECT_EQ(fire(l, 5), 2);  // ceil((5 - 1) / 2) = 2
  EXPECT_EQ(fire(l, 6), 3);  // ceil(2.5) = 3
}

TEST(V1Activation, BadVariablesNameTheLayerAndField) {
  Layer l = identity_fc(4, 0, 1.0f);
  l.variables.erase(l.variables.begin());  // act_step
  try {
    make_reference_kernel(l, {{1, 1, 1}});
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'fc' (FullyConnected): variable 'act_step' is missing"),
              std::string::npos)
        << e.what();
  }
  for (float bad : {0.0f, -1.0f}) {
    try {
      make_reference_kernel(identity_fc(4, 0, bad), {{1, 1, 1}});
      FAIL() << "expected ShapeError";
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find("variable 'act_step'[0]"), std::string::npos)
          << e.what();
    }
  }
  Layer wrong = identity_fc(4, 0, 1.0f);
  wrong.variables.back() = i8("weights", {1, 1, 1, 2}, {1, 1});
  EXPECT_THROW(make_reference_kernel(wrong, {{1, 1, 1}}), ShapeError);
  Layer bits = identity_fc(9, 0, 1.0f);
  EXPECT_THROW(make_reference_kernel(bits, {{1, 1, 1}}), ShapeError);
}

// A 3x3 kernel whose stored taps are w[i][j] = 3i + j + 1 (bytes in (kx, ky, C, F) order,
// listed [F, C, ky, kx] = [1, 1, 3, 3]), run Valid on a 3x3 one-hot input: the single output
// names the tap that met the hot pixel.
Layer conv_3x3(LayerKind kind, const std::string& name, Parameters extra = {}) {
  auto vars = neuron_vars(1, 0, 1.0f);
  vars.push_back(i8("weights", {1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}));
  Parameters p{{"filters", 1},        {"kernel_width", 3}, {"kernel_height", 3},
               {"stride_x", 1},       {"stride_y", 1},     {"padding", 0},
               {"activation", 0},     {"act_bits", 4},     {"weights_bits", 8}};
  if (kind == LayerKind::InputConvolutional)
    p = merged(p, {{"input_width", 3}, {"input_height", 3}, {"input_channels", 1}});
  return layer(name, kind, merged(p, extra), vars,
               kind == LayerKind::InputConvolutional ? std::vector<std::string>{}
                                                     : std::vector<std::string>{"in"});
}

std::vector<int32_t> one_hot_3x3(int x, int y) {
  std::vector<int32_t> in(9, 0);
  in[x * 3 + y] = 1;
  return in;
}

TEST(V1Convolutional, TrueConvolutionRotatesTheStoredKernel) {
  const Layer l = conv_3x3(LayerKind::Convolutional, "conv");
  // Output = Σ x[i][j] * w[2 - i][2 - j]: a hot pixel at (x=0, y=1) meets w[2][1] = 8,
  // at (x=1, y=0) meets w[1][2] = 6 (x and y are not interchangeable), at (0, 0) w[2][2] = 9.
  EXPECT_EQ(run_layer(l, {3, 3, 1}, one_hot_3x3(0, 1)), std::vector<int32_t>{8});
  EXPECT_EQ(run_layer(l, {3, 3, 1}, one_hot_3x3(1, 0)), std::vector<int32_t>{6});
  EXPECT_EQ(run_layer(l, {3, 3, 1}, one_hot_3x3(0, 0)), std::vector<int32_t>{9});
}

TEST(V1InputConvolutional, CorrelatesWithTheStoredKernel) {
  const Layer l = conv_3x3(LayerKind::InputConvolutional, "input_conv");
  // Output = Σ x[i][j] * w[i][j]: (0, 1) -> w[0][1] = 2, (1, 0) -> w[1][0] = 4, (0, 0) -> 1.
  EXPECT_EQ(run_layer(l, {3, 3, 1}, one_hot_3x3(0, 1)), std::vector<int32_t>{2});
  EXPECT_EQ(run_layer(l, {3, 3, 1}, one_hot_3x3(1, 0)), std::vector<int32_t>{4});
  EXPECT_EQ(run_layer(l, {3, 3, 1}, one_hot_3x3(0, 0)), std::vector<int32_t>{1});
}

TEST(V1InputConvolutional, SamePaddingUsesPaddingValue) {
  // 2x2 input [[1, 2], [3, 4]], 3x3 kernel of ones, Same, stride 1, padding_value 5: every
  // output window holds the 4 pixels (sum 10) and 5 padded positions (5 * 5 = 25) -> 35.
  auto vars = neuron_vars(1, 0, 1.0f);
  vars.push_back(i8("weights", {1, 1, 3, 3}, std::vector<int64_t>(9, 1)));
  const Layer l = layer("input_conv", LayerKind::InputConvolutional,
                        {{"input_width", 2}, {"input_height", 2}, {"input_channels", 1},
                         {"filters", 1}, {"kernel_width", 3}, {"kernel_height", 3},
                         {"stride_x", 1}, {"stride_y", 1}, {"padding", 1},
                         {"padding_value", 5}, {"activation", 0}, {"weights_bits", 8}},
                        vars);
  EXPECT_EQ(run_layer(l, {2, 2, 1}, {1, 2, 3, 4}), (std::vector<int32_t>{35, 35, 35, 35}));
}

TEST(V1InputConvolutional, SharedWinnerTakeAllGroupsAreUnsupported) {
  Layer l = conv_3x3(LayerKind::InputConvolutional, "input_conv");
  l.variables.push_back(i32("wta_groups", {1}, {0}));  // one neuron, its own group: a no-op
  EXPECT_EQ(run_layer(l, {3, 3, 1}, one_hot_3x3(0, 0)), std::vector<int32_t>{1});
  auto vars = neuron_vars(2, 0, 1.0f);
  vars.push_back(i8("weights", {2, 1, 3, 3}, std::vector<int64_t>(18, 1)));
  vars.push_back(i32("wta_groups", {2}, {0, 0}));
  const Layer shared = layer("input_conv", LayerKind::InputConvolutional,
                             merged(l.parameters, {{"filters", 2}}), vars);
  EXPECT_THROW(make_reference_kernel(shared, {}), UnsupportedError);
}

// A 1x1 Convolutional with weight 1 on a 2x2 input [[1, 5], [3, 2]] (sum 11, max 5).
Layer pooling_conv(Parameters pooling, int64_t threshold, float act_step) {
  auto vars = neuron_vars(1, threshold, act_step);
  vars.push_back(int_var("weights", {1, 1, 1, 1}, DType::Int4, {1}));
  return layer("conv", LayerKind::Convolutional,
               merged({{"filters", 1}, {"kernel_width", 1}, {"kernel_height", 1}, {"stride_x", 1},
                       {"stride_y", 1}, {"padding", 1}, {"activation", 1}, {"act_bits", 4},
                       {"weights_bits", 4}},
                      pooling),
               vars, {"in"});
}

TEST(V1Convolutional, MaxPoolingOnPotentials) {
  // max(1, 5, 3, 2) = 5; ceil((5 - 0) / 1) = 5.
  const Layer l = pooling_conv({{"pool_type", 1}, {"pooling_width", 2}, {"pooling_height", 2},
                                {"pooling_stride_x", 2}, {"pooling_stride_y", 2}},
                               0, 1.0f);
  EXPECT_EQ(run_layer(l, {2, 2, 1}, {1, 5, 3, 2}), std::vector<int32_t>{5});
}

TEST(V1Convolutional, GlobalAveragePoolingIsASumAgainstScaledThreshold) {
  // Sum 11; the converter multiplies threshold and act_step by H*W = 4 (here 4 and 2):
  // ceil((11 - 4) / 2) = ceil(3.5) = 4.
  const Layer l = pooling_conv({{"pool_type", 2}}, 4, 2.0f);
  EXPECT_EQ(run_layer(l, {2, 2, 1}, {1, 5, 3, 2}), std::vector<int32_t>{4});
}

TEST(V1SeparableConvolutional, DepthwiseThenPointwise) {
  // Input 3x3x2, one-hot: channel 0 = 2 at (0, 0), channel 1 = 3 at (2, 2). Valid 3x3.
  // Depthwise taps (listed [1, 2, 3, 3], bytes (kx, ky, C, 1)): channel 0 w[i][j] = 3i + j + 1,
  // channel 1 w[i][j] = -(3i + j + 1). True convolution: channel 0 meets w[2][2] = 9 -> 18;
  // channel 1 meets w[0][0] = -1 -> -3.
  std::vector<int64_t> dw(18);
  for (int t = 0; t < 9; ++t) {
    dw[t * 2 + 0] = t + 1;
    dw[t * 2 + 1] = -(t + 1);
  }
  // Pointwise (listed [2, 2, 1, 1], bytes (C, F)): c0 -> (1, 2), c1 -> (3, -1).
  // f0 = 18 * 1 + (-3) * 3 = 9; f1 = 18 * 2 + (-3) * (-1) = 39.
  auto vars = neuron_vars(2, 0, 1.0f);
  vars.push_back(int_var("weights", {1, 2, 3, 3}, DType::Int4, dw));
  vars.push_back(int_var("weights_pw", {2, 2, 1, 1}, DType::Int4, {1, 2, 3, -1}));
  const Layer l = layer("sep", LayerKind::SeparableConvolutional,
                        {{"filters", 2}, {"kernel_width", 3}, {"kernel_height", 3},
                         {"stride_x", 1}, {"stride_y", 1}, {"padding", 0}, {"activation", 0},
                         {"weights_bits", 4}},
                        vars, {"in"});
  std::vector<int32_t> in(18, 0);
  in[(0 * 3 + 0) * 2 + 0] = 2;
  in[(2 * 3 + 2) * 2 + 1] = 3;
  EXPECT_EQ(run_layer(l, {3, 3, 2}, in), (std::vector<int32_t>{9, 39}));
}

// A 1x1 SeparableConvolutional on two channels: depthwise weights (dw0, dw1), int32 pointwise
// weights (pw0, pw1) for its one filter, whose potential is dw0·pw0·x0 + dw1·pw1·x1.
Layer separable_1x1(int64_t dw0, int64_t dw1, int64_t pw0, int64_t pw1) {
  auto vars = neuron_vars(1, 0, 1.0f);
  vars.push_back(i32("weights", {1, 2, 1, 1}, {dw0, dw1}));
  vars.push_back(i32("weights_pw", {1, 2, 1, 1}, {pw0, pw1}));
  return layer("sep", LayerKind::SeparableConvolutional,
               {{"filters", 1}, {"kernel_width", 1}, {"kernel_height", 1}, {"stride_x", 1},
                {"stride_y", 1}, {"padding", 0}, {"activation", 0}, {"weights_bits", 8}},
               vars, {"in"});
}

TEST(V1SeparableConvolutional, AccumulatorBoundOnTheProductOfBothKernels) {
  // The int64 potential is safe while Σ_c |dw_c|·|pw_c| · 2^31 < 2^63, i.e. the effective Σ|w|
  // <= 2^32 - 1: 2 · (2^31 - 1) = 2^32 - 2 is accepted, 3 · (2^31 - 1) refused.
  constexpr int64_t kMax32 = INT32_MAX;
  const Layer fits = separable_1x1(2, 0, kMax32, kMax32);
  EXPECT_EQ(run_layer(fits, {1, 1, 2}, {1, 5}), std::vector<int32_t>{INT32_MAX});  // clamped
  EXPECT_NO_THROW(make_reference_kernel(separable_1x1(1, 1, kMax32, kMax32 - 1), {{1, 1, 2}}));
  EXPECT_THROW(make_reference_kernel(separable_1x1(3, 0, kMax32, kMax32), {{1, 1, 2}}),
               UnsupportedError);
  EXPECT_THROW(make_reference_kernel(separable_1x1(2, 1, kMax32, kMax32), {{1, 1, 2}}),
               UnsupportedError);
  // Products beyond int64 itself (|dw|, |pw| up to 2^31 on each channel) are refused too.
  try {
    make_reference_kernel(separable_1x1(INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN), {{1, 1, 2}});
    ADD_FAILURE() << "accepted";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'sep'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("could overflow the 64-bit accumulator"),
              std::string::npos)
        << e.what();
  }
}

Layer flatten_fc() {
  // Weights listed [1, 4, 1, 1], one per flattened input k: w = (1, 2, 3, 4).
  auto vars = neuron_vars(1, 0, 1.0f);
  vars.push_back(int_var("weights", {1, 4, 1, 1}, DType::Int4, {1, 2, 3, 4}));
  return layer("fc", LayerKind::FullyConnected,
               {{"units", 1}, {"activation", 0}, {"weights_bits", 4}}, vars, {"in"});
}

TEST(V1FullyConnected, FlattensInChannelYXOrder) {
  // Input (X=2, Y=1, C=2), memory (x, y, c): [x0c0 = 1, x0c1 = 10, x1c0 = 100, x1c1 = 1000].
  // Akida input index k = (c * Y + y) * X + x: x0c0 -> 0, x0c1 -> 2, x1c0 -> 1, x1c1 -> 3.
  // p = 1*1 + 10*3 + 100*2 + 1000*4 = 4231 (an (x, y, c) flatten would give 4321).
  EXPECT_EQ(run_layer(flatten_fc(), {2, 1, 2}, {1, 10, 100, 1000}), std::vector<int32_t>{4231});
  // Input (X=2, Y=2, C=1), memory [x0y0 = 1, x0y1 = 10, x1y0 = 100, x1y1 = 1000]:
  // k = y * 2 + x: x0y1 -> 2, x1y0 -> 1. p = 1*1 + 10*3 + 100*2 + 1000*4 = 4231.
  EXPECT_EQ(run_layer(flatten_fc(), {2, 2, 1}, {1, 10, 100, 1000}), std::vector<int32_t>{4231});
}

TEST(V1FullyConnected, StoresUnitsFastest) {
  // Listed [2, 3, 1, 1] (N=2 units, K=3 inputs), bytes (K, N): unit 0 = (1, 3, 5),
  // unit 1 = (2, 4, 6). Input (1, 1, 3) = (1, 10, 100): p0 = 1 + 30 + 500 = 531,
  // p1 = 2 + 40 + 600 = 642.
  auto vars = neuron_vars(2, 0, 1.0f);
  vars.push_back(int_var("weights", {2, 3, 1, 1}, DType::Int4, {1, 2, 3, 4, 5, 6}));
  const Layer l = layer("fc", LayerKind::FullyConnected,
                        {{"units", 2}, {"activation", 0}, {"weights_bits", 4}}, vars, {"in"});
  EXPECT_EQ(run_layer(l, {1, 1, 3}, {1, 10, 100}), (std::vector<int32_t>{531, 642}));
}

TEST(V1FullyConnected, OneBitEdgeLearningWeights) {
  // Binary weights (1, 0, 1) on binary inputs (1, 1, 1): p = 2; learning variables are ignored.
  std::vector<Variable> vars{
      i32("threshold_fire", {1}, {0}), f32("threshold_fire_step", {1}, {1.0f}),
      i32("threshold_learning", {1}, {23}), i32("thswap", {1}, {262}),
      int_var("weights", {1, 3, 1, 1}, DType::Bit1, {1, 0, 1})};
  const Layer l = layer("edge", LayerKind::FullyConnected,
                        {{"units", 1}, {"activation", 0}, {"weights_bits", 1},
                         {"learning_type", 1}},
                        vars, {"in"});
  EXPECT_EQ(run_layer(l, {1, 1, 3}, {1, 1, 1}), std::vector<int32_t>{2});
}

TEST(V1Engine, FourBitInputData) {
  // InputData (1, 1, 2), 4-bit unsigned -> FullyConnected w = (1, 1), act_bits 4, threshold 0,
  // act_step 1: out = clamp(ceil(x0 + x1), 0, 15).
  Model m;
  m.layers.push_back(layer("in", LayerKind::InputData,
                           {{"input_width", 1}, {"input_height", 1}, {"input_channels", 2},
                            {"input_bits", 4}}));
  auto vars = neuron_vars(1, 0, 1.0f);
  vars.push_back(int_var("weights", {1, 2, 1, 1}, DType::Int4, {1, 1}));
  m.layers.push_back(layer("fc", LayerKind::FullyConnected,
                           {{"units", 1}, {"activation", 1}, {"act_bits", 4}, {"weights_bits", 4}},
                           vars, {"in"}));
  Engine engine(m);
  EXPECT_EQ(engine.input_min(), 0);
  EXPECT_EQ(engine.input_max(), 15);
  EXPECT_EQ(engine.forward(Batch{2, {1, 1, 2}, {3, 4, 15, 15}}).values,
            (std::vector<int32_t>{7, 15}));  // 7; 30 saturates at 15
  EXPECT_THROW(engine.forward(Batch{1, {1, 1, 2}, {16, 0}}), ShapeError);
}

// Every Akida 1.0 fixture runs on random valid inputs; each layer with an activation stays in
// [0, 2^act_bits - 1].
class V1Fixture : public testing::TestWithParam<const char*> {};

TEST_P(V1Fixture, RunsWithOutputsInTheActivationRanges) {
  const auto path = test_support::fixture(std::string("fbz/") + GetParam());
  SKIP_WITHOUT_FIXTURE(path);
  Engine engine(read_fbz(path.string()));
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> value(engine.input_min(), engine.input_max());
  Batch in{1, engine.input_shape(), std::vector<int32_t>(engine.input_shape().size())};
  for (auto& v : in.values) v = value(rng);
  const std::vector<Batch> outputs = engine.forward_all(in);
  const Model& model = engine.model();
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& l = model.layers[i];
    ASSERT_EQ(outputs[i].values.size(), static_cast<size_t>(engine.output_shapes()[i].size()))
        << l.name;
    if (l.kind == LayerKind::InputData || l.param("activation", 0) == 0) continue;
    const int32_t max = (1 << l.param("act_bits")) - 1;
    for (int32_t v : outputs[i].values) {
      ASSERT_GE(v, 0) << l.name;
      ASSERT_LE(v, max) << l.name;
    }
  }
  const FloatBatch predicted = engine.predict(in);
  EXPECT_EQ(predicted.values.size(), outputs.back().values.size());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, V1Fixture,
                         testing::Values("ei_fan_v1_2.3.3.fbz", "ei_gesture_v1_pre2.3.fbz",
                                         "ei_inventory_v1.fbz", "ei_fomo_v1.fbz",
                                         "hotdog_edge_v1_2021.fbz", "tenn_v1.fbz"));

}  // namespace
}  // namespace akida
