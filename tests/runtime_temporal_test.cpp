// Temporal kernels (BufferTempConv, DepthwiseBufferTempConv): FIFO contents worked out by hand at
// every step, state across eval() and Engine::forward calls, reset(); and the TENN fixture.
// Tensors are (x, y, c) row-major. A FIFO of size T is written [oldest, ..., newest].
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "runtime_test_helpers.h"
#include "test_support.h"

namespace akida {
namespace {

using namespace runtime_test;

using Frames = std::vector<std::vector<int32_t>>;

// Feeds `frames` one after the other to one kernel and returns every output.
Frames run_frames(LayerKernel& kernel, const Frames& frames) {
  Frames outputs;
  for (const auto& frame : frames) {
    std::vector<int32_t> out;
    kernel.eval({&frame}, out);
    outputs.push_back(out);
  }
  return outputs;
}

// BufferTempConv, fifo_size 3, input (1, 2, 2), filters 3, raw output. Filter f reads slot f
// only: w[t*C + c, f] = (t == f) * (c == 0 ? 1 : 10), so out[p, f] = slot_f[p, 0] + 10 slot_f[p, 1]
// shows the FIFO contents directly.
Layer selector_btc() {
  std::vector<int64_t> w(3 * 2 * 3, 0);  // (T*C = 6, F = 3) row-major
  for (int t = 0; t < 3; ++t) {
    w[(t * 2 + 0) * 3 + t] = 1;
    w[(t * 2 + 1) * 3 + t] = 10;
  }
  return layer("btc", LayerKind::BufferTempConv,
               merged(raw_output_params(), {{"fifo_size", 3}, {"filters", 3}}),
               {i8("weights", {1, 1, 6, 3}, w)}, {"input"});
}

// Pixel 0 holds (a, b), pixel 1 holds (-a, -b).
const Frames kSelectorFrames = {{1, 2, -1, -2}, {3, 4, -3, -4}, {5, 6, -5, -6}, {7, 8, -7, -8}};
// Encoded frames s1..s4: pixel 0 -> 21, 43, 65, 87; pixel 1 -> the negatives.
//   step 1: FIFO [0, 0, s1]    -> (0, 0, 21)
//   step 2: FIFO [0, s1, s2]   -> (0, 21, 43)
//   step 3: FIFO [s1, s2, s3]  -> (21, 43, 65)
//   step 4: FIFO [s2, s3, s4]  -> (43, 65, 87)
const Frames kSelectorOutputs = {{0, 0, 21, 0, 0, -21},
                                 {0, 21, 43, 0, -21, -43},
                                 {21, 43, 65, -21, -43, -65},
                                 {43, 65, 87, -43, -65, -87}};

TEST(BufferTempConvKernel, FifoKeepsTheLastFramesOldestFirst) {
  auto kernel = make_reference_kernel(selector_btc(), {{1, 2, 2}});
  EXPECT_EQ(kernel->output_shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(run_frames(*kernel, kSelectorFrames), kSelectorOutputs);
  // step 5 (s1 again): FIFO [s3, s4, s1] -> (65, 87, 21)
  EXPECT_EQ(run_frames(*kernel, {kSelectorFrames[0]}),
            (Frames{{65, 87, 21, -65, -87, -21}}));
}

TEST(BufferTempConvKernel, ResetRestartsFromZeros) {
  auto kernel = make_reference_kernel(selector_btc(), {{1, 2, 2}});
  run_frames(*kernel, kSelectorFrames);
  kernel->reset();
  EXPECT_EQ(run_frames(*kernel, kSelectorFrames), kSelectorOutputs);
}

// BufferTempConv, fifo_size 2, input (1, 1, 2), filters 2, with the whole output stage.
//   input_shift (1, 0); weights (T*C, F) rows [f0, f1]:
//     (t0, c0): 1, -1   (t0, c1): 2, 0   (t1, c0): 3, 1   (t1, c1): -2, 4
//   bias (1, -2) << bias_shift (2, 0) = (4, -2); ReLU; output_scales (3, 5);
//   output_shift (-1, -2); output_bits 8.
Layer scaled_btc() {
  return layer("btc", LayerKind::BufferTempConv,
               {{"fifo_size", 2}, {"filters", 2}, {"activation", 1}, {"buffer_bits", 32},
                {"post_op_buffer_bits", 32}, {"output_bits", 8}, {"weights_bits", 8}},
               {i8("bias", {2}, {1, -2}), u8("bias_shift", {2}, {2, 0}),
                u8("input_shift", {2}, {1, 0}), u8("output_scales", {2}, {3, 5}),
                i8("output_shift", {2}, {-1, -2}),
                i8("weights", {1, 1, 4, 2}, {1, -1, 2, 0, 3, 1, -2, 4})});
}

TEST(BufferTempConvKernel, OutputStageAfterTheTemporalSum) {
  // Frames s1 = (2, 5), s2 = (-1, 3), s3 = (4, -6), s4 = (60, -10); after input_shift
  // s1' = (4, 5), s2' = (-2, 3), s3' = (8, -6), s4' = (120, -10).
  // step 1, FIFO [0, s1']:   f0 = 4*3 + 5*-2 = 2,             f1 = 4*1 + 5*4 = 24
  //   + bias (6, 22), ReLU, * scale (18, 110), shift: (18+1)>>1 = 9, (110+2)>>2 = 28
  // step 2, FIFO [s1', s2']: f0 = 4*1 + 5*2 + -2*3 + 3*-2 = 2, f1 = 4*-1 + 0 + -2*1 + 3*4 = 6
  //   + bias (6, 4), * scale (18, 20), shift: 9, (20+2)>>2 = 5
  // step 3, FIFO [s2', s3']: f0 = -2*1 + 3*2 + 8*3 + -6*-2 = 40, f1 = 2 + 0 + 8 - 24 = -14
  //   + bias (44, -16), ReLU (44, 0), * scale (132, 0), shift: (132+1)>>1 = 66, 0
  // step 4, FIFO [s3', s4']: f0 = 8 - 12 + 360 + 20 = 376,     f1 = -8 + 0 + 120 - 40 = 72
  //   + bias (380, 70), * scale (1140, 350), shift: (1141)>>1 = 570 -> saturated 127,
  //   (350+2)>>2 = 88
  auto kernel = make_reference_kernel(scaled_btc(), {{1, 1, 2}});
  const Frames frames = {{2, 5}, {-1, 3}, {4, -6}, {60, -10}};
  EXPECT_EQ(run_frames(*kernel, frames), (Frames{{9, 28}, {9, 5}, {66, 0}, {127, 88}}));
  // s1 again, FIFO [s4', s1']: f0 = 120*1 + -10*2 + 2 = 102, f1 = -120 + 0 + 24 = -96
  //   + bias (106, -98), ReLU (106, 0), * scale (318, 0), shift: (319)>>1 = 159 -> 127, 0
  EXPECT_EQ(run_frames(*kernel, {frames[0]}), (Frames{{127, 0}}));
  // After reset() the FIFO is [0, s1'] again: step 1's output.
  kernel->reset();
  EXPECT_EQ(run_frames(*kernel, {frames[0]}), (Frames{{9, 28}}));
}

TEST(BufferTempConvKernel, WeightsShapeMustMatchFifoSizeTimesChannels) {
  Layer btc = selector_btc();
  btc.variables = {i8("weights", {1, 1, 4, 3}, std::vector<int64_t>(12))};
  try {
    make_reference_kernel(btc, {{1, 2, 2}});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "layer 'btc' (BufferTempConv): variable 'weights' has shape [1, 1, 4, 3], "
                 "expected [1, 1, 6, 3]");
  }
}

TEST(BufferTempConvKernel, FifoSizeIsCheckedAndNamed) {
  Layer btc = selector_btc();
  btc.parameters.erase("fifo_size");
  try {
    make_reference_kernel(btc, {{1, 2, 2}});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "layer 'btc' (BufferTempConv): parameter 'fifo_size' is missing");
  }
  btc.parameters["fifo_size"] = 0;
  try {
    make_reference_kernel(btc, {{1, 2, 2}});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "layer 'btc' (BufferTempConv): parameter 'fifo_size' is 0, expected 1..65536");
  }
  // 4096 frames of 256 * 256 * 2 values: 2^12 * 2^17 = 2^29 values, over the 2^27 guard:
  // refused before any allocation.
  btc.parameters["fifo_size"] = 4096;
  try {
    make_reference_kernel(btc, {{256, 256, 2}});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "layer 'btc' (BufferTempConv): parameter 'fifo_size' is 4096, a history of "
                 "that many [256, 256, 2] frames exceeds 134217728 values");
  }
}

// DepthwiseBufferTempConv, fifo_size 3, input (1, 1, 2), raw output, input_shift (0, 1);
// weights (T, C): t0 (1, -1), t1 (10, 2), t2 (100, 3).
Layer raw_dwbtc() {
  return layer("dwbtc", LayerKind::DepthwiseBufferTempConv,
               merged(raw_output_params(), {{"fifo_size", 3}}),
               {u8("input_shift", {2}, {0, 1}),
                i8("weights", {1, 1, 3, 2}, {1, -1, 10, 2, 100, 3})});
}

TEST(DepthwiseBufferTempConvKernel, EachChannelSumsItsOwnHistory) {
  // Frames s1 = (1, 2), s2 = (3, -4), s3 = (5, 6), s4 = (-7, 8); after input_shift
  // s1' = (1, 4), s2' = (3, -8), s3' = (5, 12), s4' = (-7, 16).
  // c0 = 1*oldest + 10*middle + 100*newest;  c1 = -1*oldest + 2*middle + 3*newest.
  //   step 1 [0, 0, s1']:    c0 = 100,              c1 = 12
  //   step 2 [0, s1', s2']:  c0 = 10 + 300 = 310,   c1 = 8 - 24 = -16
  //   step 3 [s1', s2', s3']: c0 = 1 + 30 + 500 = 531, c1 = -4 - 16 + 36 = 16
  //   step 4 [s2', s3', s4']: c0 = 3 + 50 - 700 = -647, c1 = 8 + 24 + 48 = 80
  auto kernel = make_reference_kernel(raw_dwbtc(), {{1, 1, 2}});
  EXPECT_EQ(kernel->output_shape(), (Shape{1, 1, 2}));
  const Frames frames = {{1, 2}, {3, -4}, {5, 6}, {-7, 8}};
  const Frames expected = {{100, 12}, {310, -16}, {531, 16}, {-647, 80}};
  EXPECT_EQ(run_frames(*kernel, frames), expected);
  kernel->reset();
  EXPECT_EQ(run_frames(*kernel, frames), expected);
}

TEST(DepthwiseBufferTempConvKernel, OutputStageAppliesPerChannel) {
  // Same history as above with ReLU, output_scales (1, 2), output_shift (-2, 0), 8-bit output:
  //   step 1 (100, 12):  c0 (100+2)>>2 = 25,  c1 24
  //   step 2 (310, -16): c0 (310+2)>>2 = 78,  c1 ReLU 0
  //   step 3 (531, 16):  c0 (531+2)>>2 = 133 -> 127, c1 32
  //   step 4 (-647, 80): c0 ReLU 0,           c1 160 -> 127
  Layer dw = raw_dwbtc();
  dw.parameters = {{"fifo_size", 3}, {"activation", 1}, {"buffer_bits", 32},
                   {"post_op_buffer_bits", 32}, {"output_bits", 8}};
  dw.variables.push_back(u8("output_scales", {2}, {1, 2}));
  dw.variables.push_back(i8("output_shift", {2}, {-2, 0}));
  auto kernel = make_reference_kernel(dw, {{1, 1, 2}});
  EXPECT_EQ(run_frames(*kernel, {{1, 2}, {3, -4}, {5, 6}, {-7, 8}}),
            (Frames{{25, 24}, {78, 0}, {127, 32}, {0, 127}}));
}

TEST(DepthwiseBufferTempConvKernel, WeightsShapeNamesLayer) {
  Layer dw = raw_dwbtc();
  dw.variables = {i8("weights", {1, 1, 2, 2}, {1, 2, 3, 4})};
  try {
    make_reference_kernel(dw, {{1, 1, 2}});
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "layer 'dwbtc' (DepthwiseBufferTempConv): variable 'weights' has shape "
                 "[1, 1, 2, 2], expected [1, 1, 3, 2]");
  }
}

// InputData (1, 2, 2) int8 -> the selector BufferTempConv.
Model selector_model() {
  Model m;
  m.layers.push_back(layer("input", LayerKind::InputData,
                           {{"input_width", 1}, {"input_height", 2}, {"input_channels", 2},
                            {"input_bits", 8}, {"input_signed", 1}}));
  m.layers.push_back(selector_btc());
  return m;
}

Batch frames_batch(const Frames& frames, const Shape& shape) {
  Batch batch{static_cast<int64_t>(frames.size()), shape, {}};
  for (const auto& f : frames) batch.values.insert(batch.values.end(), f.begin(), f.end());
  return batch;
}

std::vector<int32_t> flattened(const Frames& frames) {
  return frames_batch(frames, {}).values;
}

TEST(EngineTemporal, BatchSamplesAreConsecutiveFramesAndStateCrossesForwardCalls) {
  Engine engine(selector_model());
  // One batch of 4 samples: steps 1..4 in order.
  EXPECT_EQ(engine.forward(frames_batch(kSelectorFrames, {1, 2, 2})).values,
            flattened(kSelectorOutputs));
  // A second forward() continues: s1 now sees FIFO [s3, s4, s1].
  EXPECT_EQ(engine.forward(frames_batch({kSelectorFrames[0]}, {1, 2, 2})).values,
            (std::vector<int32_t>{65, 87, 21, -65, -87, -21}));
  // reset() zeroes every FIFO; the same batch split over two calls gives the same outputs.
  engine.reset();
  const Frames first = {kSelectorFrames[0], kSelectorFrames[1]};
  const Frames second = {kSelectorFrames[2], kSelectorFrames[3]};
  std::vector<int32_t> split = engine.forward(frames_batch(first, {1, 2, 2})).values;
  const std::vector<int32_t> rest = engine.forward(frames_batch(second, {1, 2, 2})).values;
  split.insert(split.end(), rest.begin(), rest.end());
  EXPECT_EQ(split, flattened(kSelectorOutputs));
}

// ---- The TENN fixture: Akida 2.0 with 4 BufferTempConv and 2 DepthwiseBufferTempConv layers ----

Batch random_frames(int64_t n, const Shape& shape, uint32_t seed) {
  Batch batch{n, shape, std::vector<int32_t>(n * shape.size())};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> value(-128, 127);
  for (auto& v : batch.values) v = value(rng);
  return batch;
}

Batch last_sample(const Batch& batch) {
  const int64_t size = batch.shape.size();
  return Batch{1, batch.shape,
               std::vector<int32_t>(batch.values.end() - size, batch.values.end())};
}

// The values of the last sample of one layer's batch output.
std::vector<int32_t> last_values(const Batch& batch) {
  return last_sample(batch).values;
}

bool all_weights_zero(const Layer& l) {
  const std::vector<int64_t> w = l.variable("weights").ints();
  return std::all_of(w.begin(), w.end(), [](int64_t v) { return v == 0; });
}

// The fixture's last BufferTempConv (bc15fc46-...) has all-zero weights, in the .fbz and in the
// QuantizeML ONNX it was converted from alike: its output is bias-only, so the model's final
// integers do not depend on the input at all. State is therefore checked layer by layer.
TEST(EngineTemporal, TennstFixtureCarriesStateAcrossFrames) {
  const auto path = test_support::fixture("fbz/tennst_int8_v2_2.17.fbz");
  SKIP_WITHOUT_FIXTURE(path);
  const Model model = read_fbz(path.string());
  Engine engine(model);  // prepares (validates) every layer
  ASSERT_EQ(engine.input_shape(), (Shape{96, 128, 2}));
  EXPECT_TRUE(engine.input_signed());
  const std::vector<Shape> shapes = infer_output_shapes(model);
  EXPECT_EQ(shapes[shapes.size() - 2], (Shape{3, 4, 3}));  // the layer before the Dequantizer

  const Batch frames = random_frames(4, {96, 128, 2}, 11);
  const std::vector<Batch> all = engine.forward_all(frames);
  const Batch& final_ints = all[all.size() - 2];
  ASSERT_EQ(final_ints.values.size(), 4u * 3 * 4 * 3);
  const auto [lo, hi] = std::minmax_element(final_ints.values.begin(), final_ints.values.end());
  EXPECT_LT(*lo, *hi) << "final outputs are constant";

  // Same frames after reset(): identical outputs (the FIFOs restart from zeros).
  engine.reset();
  EXPECT_EQ(engine.forward(frames).values, final_ints.values);

  // Frame 4 alone after reset() sees a zero history: every temporal layer with non-zero weights
  // computes something else than for frame 4 of the sequence.
  engine.reset();
  const std::vector<Batch> alone = engine.forward_all(last_sample(frames));
  int temporal_layers = 0;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& l = model.layers[i];
    if (l.kind != LayerKind::BufferTempConv && l.kind != LayerKind::DepthwiseBufferTempConv)
      continue;
    ++temporal_layers;
    if (all_weights_zero(l))
      EXPECT_EQ(alone[i].values, last_values(all[i])) << l.name;
    else
      EXPECT_NE(alone[i].values, last_values(all[i])) << l.name;
  }
  EXPECT_EQ(temporal_layers, 6);
  // The input of the zero-weight layer still depends on the frames: frames 3 and 4 differ.
  const Batch& conv_13 = all[model.layers.size() - 5];
  ASSERT_EQ(model.layers[model.layers.size() - 5].name, "node_Conv_13");
  const int64_t size = conv_13.shape.size();
  EXPECT_NE(std::vector<int32_t>(conv_13.values.end() - 2 * size, conv_13.values.end() - size),
            last_values(conv_13));
}

}  // namespace
}  // namespace akida
