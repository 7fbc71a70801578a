// The engine end to end on a hand-computed 4-layer model, its input checks, and the VWW fixture.
#include "akida/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "runtime_test_helpers.h"
#include "test_support.h"

namespace akida {
namespace {

using namespace runtime_test;

// InputData (2, 2, 1) int8 -> Conv2D k2 Valid, 2 filters, ReLU, 8-bit -> Dense1D 1 unit, raw
// 28-bit output -> Dequantizer x0.5.
Model tiny_model(std::vector<uint32_t> conv_weights_shape = {2, 2, 1, 2}) {
  Model m;
  m.layers.push_back(layer("input", LayerKind::InputData,
                           {{"input_width", 2}, {"input_height", 2}, {"input_channels", 1},
                            {"input_bits", 8}, {"input_signed", 1}}));
  // Stored kernels (rotated 180° by the true convolution):
  //   filter 0: w[0][0] = 1, others 0  -> reads in[1][1] * 1
  //   filter 1: w[1][1] = 2, others 0  -> reads in[0][0] * 2
  // layout (kx, ky, C, F): index ((i * 2 + j) * 1 + c) * 2 + f
  std::vector<int64_t> w(16, 0);
  w[0 * 2 + 0] = 1;  // (i=0, j=0, f=0)
  w[3 * 2 + 1] = 2;  // (i=1, j=1, f=1)
  w.resize(static_cast<size_t>(conv_weights_shape[0]) * conv_weights_shape[1] *
           conv_weights_shape[2] * conv_weights_shape[3]);
  m.layers.push_back(layer("conv", LayerKind::Conv2D,
                           {{"filters", 2}, {"kernel_size", 2}, {"kernel_stride", 1},
                            {"padding", 0}, {"activation", 1}, {"buffer_bits", 28},
                            {"post_op_buffer_bits", 32}, {"output_bits", 8}},
                           {u8("output_scales", {2}, {1, 1}), i8("output_shift", {2}, {0, 0}),
                            i8("weights", conv_weights_shape, w)},
                           {"input"}));
  m.layers.push_back(layer("dense", LayerKind::Dense1D,
                           {{"units", 1}, {"buffer_bits", 28}, {"post_op_buffer_bits", 32},
                            {"output_bits", 28}},
                           {i8("bias", {1}, {-1}), u8("bias_shift", {1}, {1}),
                            i8("weights", {2, 1}, {2, 7})},
                           {"conv"}));
  m.layers.push_back(
      layer("dequantizer", LayerKind::Dequantizer, {}, {f32("scales", {1}, {0.5f})}, {"dense"}));
  return m;
}

Batch two_samples() {
  // sample 0: in = [[-3, 5], [7, 9]]   sample 1: in = [[100, 0], [0, -128]]
  return Batch{2, {2, 2, 1}, {-3, 5, 7, 9, 100, 0, 0, -128}};
}

TEST(Engine, TinyModelEndToEnd) {
  // sample 0: conv f0 = in[1][1] = 9, f1 = 2 * in[0][0] = -6 -> ReLU (9, 0), scale 1 shift 0.
  //           dense: 9*2 + 0*7 = 18, + (-1 << 1) = 16 (raw). dequantizer: 16 * 0.5 = 8.
  // sample 1: conv f0 = -128 -> ReLU 0; f1 = 2 * 100 = 200 -> saturated to 8 bits: 127.
  //           dense: 0*2 + 127*7 = 889, - 2 = 887. dequantizer: 443.5.
  Engine engine(tiny_model());
  EXPECT_EQ(engine.input_shape(), (Shape{2, 2, 1}));
  EXPECT_TRUE(engine.input_signed());
  EXPECT_EQ(engine.input_min(), -128);
  EXPECT_EQ(engine.input_max(), 127);
  EXPECT_EQ(engine.output_shapes(),
            (std::vector<Shape>{{2, 2, 1}, {1, 1, 2}, {1, 1, 1}, {1, 1, 1}}));

  const Batch out = engine.forward(two_samples());
  EXPECT_EQ(out.n, 2);
  EXPECT_EQ(out.shape, (Shape{1, 1, 1}));
  EXPECT_EQ(out.values, (std::vector<int32_t>{16, 887}));

  const FloatBatch floats = engine.predict(two_samples());
  EXPECT_EQ(floats.values, (std::vector<float>{8.0f, 443.5f}));

  const std::vector<Batch> all = engine.forward_all(two_samples());
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].values, two_samples().values);
  EXPECT_EQ(all[1].values, (std::vector<int32_t>{9, 0, 0, 127}));
  EXPECT_EQ(all[2].values, (std::vector<int32_t>{16, 887}));
  EXPECT_TRUE(all[3].values.empty());
}

TEST(Engine, RejectsAWrongInputShape) {
  Engine engine(tiny_model());
  try {
    engine.forward(Batch{1, {2, 3, 1}, std::vector<int32_t>(6, 0)});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "input shape [2, 3, 1] does not match the model input [2, 2, 1]");
  }
  EXPECT_THROW(engine.forward(Batch{2, {2, 2, 1}, std::vector<int32_t>(4, 0)}), ShapeError);
}

TEST(Engine, RejectsValuesOutsideTheInputRange) {
  Engine engine(tiny_model());
  try {
    engine.forward(Batch{1, {2, 2, 1}, {0, 0, 128, 0}});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "input value 128 at index 2 is outside the model input range [-128, 127]");
  }
}

TEST(Engine, UnsignedInputDataRangeFollowsInputBits) {
  Model m = tiny_model();
  m.layers[0].parameters["input_bits"] = 4;
  m.layers[0].parameters.erase("input_signed");  // absent = 0 = unsigned
  Engine engine(m);
  EXPECT_EQ(engine.input_min(), 0);
  EXPECT_EQ(engine.input_max(), 15);
  EXPECT_THROW(engine.forward(Batch{1, {2, 2, 1}, {0, 16, 0, 0}}), ShapeError);
  EXPECT_THROW(engine.forward(Batch{1, {2, 2, 1}, {0, -1, 0, 0}}), ShapeError);
}

TEST(Engine, VariableWithAWrongShapeNamesLayerAndVariable) {
  try {
    Engine engine(tiny_model({2, 2, 2, 2}));
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "layer 'conv' (Conv2D): variable 'weights' has shape [2, 2, 2, 2], "
                           "expected [2, 2, 1, 2]");
  }
}

// The kernels are prepared on every core; when several layers are wrong, the error is still
// the first one's, as if they were prepared in order (each of these layers' kernels throws).
TEST(Engine, OfSeveralWrongLayersTheFirstIsNamed) {
  for (int run = 0; run < 20; ++run) {
    Model m = tiny_model({2, 2, 2, 2});
    m.layers[2].variables[2] = i8("weights", {3, 1}, {2, 7, 1});
    m.layers[3].variables[0] = f32("scales", {2}, {0.5f, 0.5f});
    try {
      Engine engine(m);
      FAIL() << "expected a ShapeError";
    } catch (const ShapeError& e) {
      ASSERT_STREQ(e.what(), "layer 'conv' (Conv2D): variable 'weights' has shape [2, 2, 2, 2], "
                             "expected [2, 2, 1, 2]");
    }
  }
}

TEST(Engine, UnknownInboundLayerIsAShapeError) {
  Model m = tiny_model();
  m.layers[2].inbound = {"nowhere"};
  EXPECT_THROW(Engine{m}, ShapeError);
}

TEST(Engine, RunsTheVwwFixtureQuickly) {
  const auto path = test_support::fixture("fbz/akidanet_vww_i8_w8_a8_v2_2.11.fbz");
  SKIP_WITHOUT_FIXTURE(path);
  Engine engine(read_fbz(path.string()));
  ASSERT_EQ(engine.input_shape(), (Shape{96, 96, 3}));
  EXPECT_EQ(engine.input_min(), 0);
  EXPECT_EQ(engine.input_max(), 255);
  Batch batch{2, {96, 96, 3}, std::vector<int32_t>(2 * 96 * 96 * 3)};
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> pixel(0, 255);
  for (auto& v : batch.values) v = pixel(rng);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<Batch> all = engine.forward_all(batch);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0) << "two 96x96x3 samples";
  // Every 8-bit ReLU layer stays within [0, 127]; the classifier gives 2 values per sample.
  for (size_t i = 0; i + 2 < all.size(); ++i) {
    if (engine.model().layers[i].param("activation") != 1) continue;
    for (int32_t v : all[i].values) {
      ASSERT_GE(v, 0) << engine.model().layers[i].name;
      ASSERT_LE(v, 127) << engine.model().layers[i].name;
    }
  }
  EXPECT_EQ(all[all.size() - 2].values.size(), 4u);
  // Samples are independent: running the second one alone gives the same logits.
  Batch second{1, {96, 96, 3},
               std::vector<int32_t>(batch.values.begin() + 96 * 96 * 3, batch.values.end())};
  const Batch alone = engine.forward(second);
  EXPECT_EQ(alone.values, (std::vector<int32_t>{all[all.size() - 2].values[2],
                                                all[all.size() - 2].values[3]}));
}

}  // namespace
}  // namespace akida
