// The optimized kernels (fast_kernels.cpp, blocked_sums.cpp) against the reference kernels:
// random layers of every optimized kind (shapes, strides, paddings, channel counts, per-channel
// input shifts, padding values, max pooling windows of 4 and 9 pixels and overlapping ones,
// global pooling, with and without ReLU; Akida 1.0 layers with 1-, 2- and 4-bit activations;
// temporal layers over frame sequences), with inputs small enough for the byte and 16-bit
// paths and large enough to force the int64 fallback, under each instruction-set limit
// (AKIDA_RUNTIME_ISA: AVX-512, AVX2, baseline); and whole models (the .fbz fixtures and the
// benchmark's converted models) through Engine with each kernel choice. Results must be equal
// integer for integer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "akida/fbz.h"
#include "akida/runtime/kernels.h"
#include "cnn2snn/pipeline.h"
#include "runtime_test_helpers.h"
#include "test_support.h"

namespace akida {
namespace {

using namespace runtime_test;

std::vector<int64_t> random_values(std::mt19937& rng, size_t n, int64_t lo, int64_t hi) {
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<int64_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<int32_t> random_input(std::mt19937& rng, const Shape& s, int64_t lo, int64_t hi,
                                  double zeros) {
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::bernoulli_distribution zero(zeros);
  std::vector<int32_t> v(static_cast<size_t>(s.size()));
  for (auto& x : v) x = zero(rng) ? 0 : static_cast<int32_t>(d(rng));
  return v;
}

// The post-ops every case shares: bias, ReLU with a bound, output scale and shift.
std::vector<Variable> post_op_variables(std::mt19937& rng, uint32_t f) {
  return {i8("bias", {f}, random_values(rng, f, -128, 127)),
          u8("bias_shift", {f}, random_values(rng, f, 0, 4)),
          u8("max_value", {f}, random_values(rng, f, 1, 255)),
          u8("max_value_shift", {f}, random_values(rng, f, 0, 6)),
          u8("output_scales", {f}, random_values(rng, f, 1, 255)),
          i8("output_shift", {f}, random_values(rng, f, -12, 0))};
}

Parameters post_op_parameters() {
  return {{"buffer_bits", 28}, {"post_op_buffer_bits", 32}, {"output_bits", 8}, {"activation", 1}};
}

void expect_same(const Layer& layer, const Shape& in, const std::vector<int32_t>& input) {
  auto reference = make_reference_kernel(layer, {in});
  auto fast = runtime::make_fast_kernel(layer, {in});
  std::vector<int32_t> want, got;
  reference->eval({&input}, want);
  fast->eval({&input}, got);
  ASSERT_EQ(want, got) << layer.name;
}

// Runs `body` with each instruction-set limit of the hand-written paths (madd_sums.cpp): all of
// them, no AVX-512 (the blocked kernels' AVX2 versions), none (int32 products only). On an AVX2
// CPU the first two are the same.
template <typename Body>
void for_each_isa(Body body) {
  for (const char* isa : {"", "avx2", "baseline"}) {
    SCOPED_TRACE(std::string("AKIDA_RUNTIME_ISA=") + isa);
    if (*isa) setenv("AKIDA_RUNTIME_ISA", isa, 1);
    body();
    unsetenv("AKIDA_RUNTIME_ISA");
  }
}

void random_convolutions() {
  std::mt19937 rng(2024);
  for (int trial = 0; trial < 120; ++trial) {
    SCOPED_TRACE(trial);
    const int kernel = std::vector<int>{1, 3, 5}[trial % 3];
    const int stride = 1 + trial % 2;
    const int padding = (trial / 2) % 2;  // 0 Valid, 1 Same
    const int64_t c = std::vector<int64_t>{1, 3, 5, 16}[trial % 4];
    const int64_t f = std::vector<int64_t>{7, 8, 16, 32, 64}[trial % 5];
    const bool depthwise = trial % 7 == 0, input_conv = !depthwise && trial % 5 == 1 && c <= 3;
    const bool pool = trial % 3 == 2;
    const Shape in{9 + trial % 4, 7 + trial % 3, c};
    Parameters p = merged(post_op_parameters(),
                          {{"kernel_size", kernel}, {"kernel_stride", stride}, {"padding", padding}});
    // Max pooling windows of 2x2/2, 3x3/3 (9-pixel tiles), 3x3/2 (overlapping) and 2x2/1; or a
    // global average; some layers without ReLU (the clamp the epilogue may skip).
    const int pool_size = std::vector<int>{2, 3, 3, 2}[trial / 3 % 4];
    const int pool_stride = std::vector<int>{2, 3, 2, 1}[trial / 3 % 4];
    if (pool) p = merged(p, {{"pool_type", 1}, {"pool_size", pool_size}, {"pool_stride", pool_stride}});
    if (trial % 11 == 4) p["pool_type"] = 2;
    if (trial % 13 == 5) p["activation"] = 0;
    const uint32_t out_c = static_cast<uint32_t>(depthwise ? c : f);
    std::vector<Variable> vars = post_op_variables(rng, out_c);
    const uint32_t k = static_cast<uint32_t>(kernel), cc = static_cast<uint32_t>(c);
    vars.push_back(i8("weights", {k, k, cc, depthwise ? 1u : out_c},
                      random_values(rng, size_t{k} * k * cc * (depthwise ? 1 : out_c), -128, 127)));
    LayerKind kind = depthwise ? LayerKind::DepthwiseConv2D : LayerKind::Conv2D;
    if (input_conv) {
      kind = LayerKind::InputConv2D;
      p = merged(p, {{"input_x", int32_t(in.x)}, {"input_y", int32_t(in.y)},
                     {"input_channels", int32_t(c)}});
      vars.push_back(u8("padding_value", {cc}, random_values(rng, c, 0, 255)));
    } else {
      vars.push_back(u8("input_shift", {cc}, random_values(rng, c, 0, 3)));
    }
    if (!depthwise) p["filters"] = int32_t(f);
    const Layer layer("l" + std::to_string(trial), kind, p, vars, {});
    // Small unsigned inputs: the byte dot products (where the CPU has them); signed 8-bit inputs:
    // the pair multiply-adds or int32 products; 2^22-scale inputs: the int64 fallback.
    expect_same(layer, in, random_input(rng, in, 0, 31, 0.3));
    expect_same(layer, in, random_input(rng, in, input_conv ? 0 : -128, 255, 0.3));
    if (!input_conv) expect_same(layer, in, random_input(rng, in, -(1 << 22), 1 << 22, 0.1));
  }
}

// Depthwise layers with many channels (whole and partial vectors of 16, several per pixel) and
// tiles of 8 pixels: int8 weights (the pair dot products), and weights beyond int16 (the
// int32 multiplications), on byte, 16-bit and int64 inputs.
void random_depthwise_layers() {
  std::mt19937 rng(31);
  for (int trial = 0; trial < 24; ++trial) {
    SCOPED_TRACE(trial);
    // Kernels of 5x5, 3x3 and 2x2 (an even tap count).
    const int kernel = trial % 6 == 5 ? 2 : trial % 2 ? 3 : 5, stride = 1 + trial % 3 / 2;
    const int64_t c = std::vector<int64_t>{16, 40, 64, 130}[trial % 4];
    const bool wide_weights = trial % 3 == 0;
    const Shape in{6 + trial % 5, 5 + trial % 4, c};
    Parameters p = merged(post_op_parameters(),
                          {{"kernel_size", kernel}, {"kernel_stride", stride}, {"padding", trial / 4 % 2}});
    if (trial % 5 == 2) p = merged(p, {{"pool_type", 1}, {"pool_size", 2}, {"pool_stride", 2}});
    if (trial % 7 == 3) p["activation"] = 0;
    const uint32_t cc = static_cast<uint32_t>(c), k = static_cast<uint32_t>(kernel);
    std::vector<Variable> vars = post_op_variables(rng, cc);
    const size_t n = size_t{k} * k * cc;
    vars.push_back(wide_weights ? i32("weights", {k, k, cc, 1}, random_values(rng, n, -(1 << 17), 1 << 17))
                                : i8("weights", {k, k, cc, 1}, random_values(rng, n, -128, 127)));
    vars.push_back(u8("input_shift", {cc}, random_values(rng, c, 0, trial % 2 ? 0 : 3)));
    const Layer layer("dw" + std::to_string(trial), LayerKind::DepthwiseConv2D, p, vars, {});
    expect_same(layer, in, random_input(rng, in, 0, 15, 0.3));
    expect_same(layer, in, random_input(rng, in, -128, 127, 0.3));
    expect_same(layer, in, random_input(rng, in, -3000, 3000, 0.1));
    expect_same(layer, in, random_input(rng, in, -(1 << 22), 1 << 22, 0.1));
  }
}

void random_dense_layers() {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    SCOPED_TRACE(trial);
    const Shape in{1, 1, 1 + trial * 37 % 300};
    // Multiples of 8 take the pair multiply-add path, others the int32 products.
    const uint32_t units = static_cast<uint32_t>(trial % 2 ? 1 + trial * 13 % 100 : 8 * (1 + trial % 9));
    std::vector<Variable> vars = post_op_variables(rng, units);
    vars.push_back(i8("weights", {uint32_t(in.c), units},
                      random_values(rng, size_t(in.c) * units, -128, 127)));
    vars.push_back(u8("input_shift", {uint32_t(in.c)}, random_values(rng, in.c, 0, 3)));
    const Layer layer("fc", LayerKind::Dense1D,
                      merged(post_op_parameters(), {{"units", int32_t(units)}}), vars, {});
    expect_same(layer, in, random_input(rng, in, 0, 31, 0.4));
    expect_same(layer, in, random_input(rng, in, -128, 255, 0.4));
    expect_same(layer, in, random_input(rng, in, -(1 << 24), 1 << 24, 0.0));
  }
  // 1024 units and more: the blocked kernel's single-item path (blocked_sums.cpp,
  // conv_wide_item), with sparse inputs (skipped zero words) and input shifts.
  for (const uint32_t units : {1024u, 1100u, 2050u}) {
    SCOPED_TRACE(units);
    const Shape in{1, 1, 40 + units % 50};
    std::vector<Variable> vars = post_op_variables(rng, units);
    vars.push_back(i8("weights", {uint32_t(in.c), units},
                      random_values(rng, size_t(in.c) * units, -128, 127)));
    vars.push_back(u8("input_shift", {uint32_t(in.c)}, random_values(rng, in.c, 0, units % 2 ? 0 : 2)));
    const Layer layer("wide_fc", LayerKind::Dense1D,
                      merged(post_op_parameters(), {{"units", int32_t(units)}}), vars, {});
    expect_same(layer, in, random_input(rng, in, 0, 15, 0.7));
    expect_same(layer, in, random_input(rng, in, -128, 255, 0.1));
  }
}

// A temporal layer fed 8 frames: mostly 4- and 8-bit frames (int32 sums), one large frame
// (int64 sums while it is in the FIFO), and a reset that must clear both histories alike.
void expect_same_sequence(const Layer& layer, const Shape& in, std::mt19937& rng) {
  auto reference = make_reference_kernel(layer, {in});
  auto fast = runtime::make_fast_kernel(layer, {in});
  for (int frame = 0; frame < 8; ++frame) {
    const bool large = frame == 3, small = frame % 2 == 0;
    const auto input = random_input(rng, in, large ? -(1 << 24) : small ? 0 : -128,
                                    large ? 1 << 24 : small ? 15 : 255, 0.2);
    std::vector<int32_t> want, got;
    reference->eval({&input}, want);
    fast->eval({&input}, got);
    ASSERT_EQ(want, got) << "frame " << frame;
    if (frame == 5) {
      reference->reset();
      fast->reset();
    }
  }
}

void random_buffer_temp_conv_sequences() {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 12; ++trial) {
    SCOPED_TRACE(trial);
    const Shape in{3 + trial % 3, 4, 1 + trial % 5};
    const int fifo = 2 + trial % 4;
    const uint32_t f = static_cast<uint32_t>(std::vector<int>{5, 8, 32, 64}[trial % 4]);
    const uint32_t taps = static_cast<uint32_t>(fifo * in.c);
    std::vector<Variable> vars = post_op_variables(rng, f);
    vars.push_back(i8("weights", {1, 1, taps, f}, random_values(rng, size_t{taps} * f, -128, 127)));
    vars.push_back(u8("input_shift", {uint32_t(in.c)}, random_values(rng, in.c, 0, 3)));
    const Layer layer("btc", LayerKind::BufferTempConv,
                      merged(post_op_parameters(), {{"fifo_size", fifo}, {"filters", int32_t(f)}}),
                      vars, {});
    expect_same_sequence(layer, in, rng);
  }
}

void random_depthwise_buffer_temp_conv_sequences() {
  std::mt19937 rng(13);
  for (int trial = 0; trial < 12; ++trial) {
    SCOPED_TRACE(trial);
    const Shape in{2 + trial % 3, 3 + trial % 2, std::vector<int64_t>{1, 8, 16, 21}[trial % 4]};
    const int fifo = 2 + trial % 4;
    const auto c = static_cast<uint32_t>(in.c);
    std::vector<Variable> vars = post_op_variables(rng, c);
    vars.push_back(i8("weights", {1, 1, uint32_t(fifo), c}, random_values(rng, size_t(fifo) * c, -128, 127)));
    vars.push_back(u8("input_shift", {c}, random_values(rng, c, 0, 3)));
    const Layer layer("dbtc", LayerKind::DepthwiseBufferTempConv,
                      merged(post_op_parameters(), {{"fifo_size", fifo}}), vars, {});
    expect_same_sequence(layer, in, rng);
  }
}

// A random Akida 1.0 layer of `kind` over `in` for case `trial` (kernel size, stride, padding,
// filters, activation bits, pooling and act_step scale vary with it): 1-, 2- and 4-bit
// activations (act_steps small enough for the 16-bit level count, large enough for the int32
// one, and tiny), no activation, max or global pooling.
Layer random_v1_layer(std::mt19937& rng, int trial, LayerKind kind, const Shape& in,
                      std::vector<std::string> inbound = {}) {
  const int kernel = std::vector<int>{3, 1, 3, 5}[trial / 3 % 4];
  const int stride = 1 + trial / 2 % 2, padding = trial / 4 % 2;
  const int64_t c = in.c;
  const int64_t f = std::vector<int64_t>{2, 16, 32, 48}[trial / 5 % 4];
  const int act_bits = std::vector<int>{1, 2, 4}[trial % 3 == 0 ? trial / 3 % 3 : trial % 3];
  const bool activation = trial % 7 != 3;
  const auto F = static_cast<uint32_t>(f), C = static_cast<uint32_t>(c), K = static_cast<uint32_t>(kernel);
  Parameters p{{"filters", int32_t(f)}, {"kernel_width", kernel}, {"kernel_height", kernel},
               {"stride_x", stride}, {"stride_y", stride}, {"padding", padding},
               {"activation", activation ? 1 : 0}, {"act_bits", act_bits}, {"weights_bits", 4}};
  if (trial % 4 == 1)
    p = merged(p, {{"pool_type", 1}, {"pooling_width", 2}, {"pooling_height", 2},
                   {"pooling_stride_x", 2}, {"pooling_stride_y", 2}});
  if (trial % 9 == 6) p["pool_type"] = 2;
  std::vector<Variable> vars;
  // Small steps keep every level boundary within int16 of the threshold, large ones do not;
  // tiny ones (2^-17 to 2^-10, as in a fuzzed file) put every boundary at threshold + 1, where
  // (potential - threshold) / step passes int32.
  const float step_scale = trial % 5 == 0 ? 40000.0f : 8.0f;
  std::vector<float> steps;
  for (int64_t n = 0; n < f; ++n) {
    const float unit = float(rng() % 1000) / 1000.0f;
    steps.push_back(trial % 5 == 2 ? 0x1p-17f + 0x1p-10f * unit : 0.5f + step_scale * unit);
  }
  vars.push_back(f32("act_step", {F}, steps));
  vars.push_back(i32("threshold", {F}, random_values(rng, f, -300, 300)));
  if (kind == LayerKind::SeparableConvolutional) {
    vars.push_back(int_var("weights", {1, C, K, K}, DType::Int4, random_values(rng, size_t(c) * K * K, -8, 7)));
    vars.push_back(int_var("weights_pw", {F, C, 1, 1}, DType::Int4, random_values(rng, size_t(c) * f, -8, 7)));
  } else {
    const bool image = kind == LayerKind::InputConvolutional;
    vars.push_back(int_var("weights", {F, C, K, K}, image ? DType::Int8 : DType::Int4,
                           random_values(rng, size_t(f) * c * K * K, image ? -128 : -8, image ? 127 : 7)));
  }
  if (kind == LayerKind::InputConvolutional)
    p = merged(p, {{"input_width", int32_t(in.x)}, {"input_height", int32_t(in.y)},
                   {"input_channels", int32_t(c)}, {"padding_value", int32_t(rng() % 256)}});
  return Layer("v1_" + std::to_string(trial), kind, p, vars, std::move(inbound));
}

// Random Akida 1.0 InputConvolutional, Convolutional and SeparableConvolutional layers (see
// random_v1_layer) on inputs from 4-bit levels to values large enough for the int64 fallback.
// The level count runs each of its epilogues (LevelsFloat, Levels16, Levels).
void random_v1_layers() {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 90; ++trial) {
    SCOPED_TRACE(trial);
    const LayerKind kind = std::vector<LayerKind>{LayerKind::InputConvolutional, LayerKind::Convolutional,
                                                  LayerKind::SeparableConvolutional}[trial % 3];
    const int64_t c = kind == LayerKind::InputConvolutional ? std::vector<int64_t>{1, 3}[trial % 2]
                                                            : std::vector<int64_t>{1, 8, 16, 20, 40}[(trial + trial / 5) % 5];
    const Shape in{10 + trial % 5, 9 + trial % 3, c};
    const Layer layer = random_v1_layer(rng, trial, kind, in);
    const int act_bits = static_cast<int>(layer.param("act_bits", 1));
    const int64_t levels = (int64_t{1} << act_bits) - 1;
    if (kind == LayerKind::InputConvolutional) {
      expect_same(layer, in, random_input(rng, in, 0, 255, 0.3));
      continue;
    }
    expect_same(layer, in, random_input(rng, in, 0, 15, 0.5));       // 4-bit levels
    expect_same(layer, in, random_input(rng, in, 0, levels, 0.2));   // this width's levels
    // One large value among the levels: the sample's bound passes 2^24 for the wider layers (the
    // level count then takes the 16-bit tables or the binary search instead of the act_step
    // rule in float) while most potentials stay near the level boundaries.
    std::vector<int32_t> spiked = random_input(rng, in, 0, levels, 0.2);
    spiked[rng() % spiked.size()] = 30000;
    expect_same(layer, in, spiked);
    expect_same(layer, in, random_input(rng, in, -(1 << 21), 1 << 21, 0.1));  // int64 sums
  }
}

// Random Akida 1.0 models: an InputConvolutional layer then Convolutional and
// SeparableConvolutional layers (random_v1_layer), so that layers with an activation hand their
// levels to the next as bytes in forward() and predict() (engine.cpp), while forward_all()
// returns every layer's int32 output; the three equal the reference kernels'.
void random_v1_models() {
  std::mt19937 rng(29);
  for (int model_index = 0; model_index < 40; ++model_index) {
    SCOPED_TRACE(model_index);
    Model model;
    Shape shape{20 + model_index % 5, 19 + model_index % 3, 1 + model_index % 3};
    model.layers.push_back(random_v1_layer(rng, model_index, LayerKind::InputConvolutional, shape));
    for (int depth = 1; depth < 4; ++depth) {
      shape = make_reference_kernel(model.layers.back(), {shape})->output_shape();
      const int trial = model_index * 7 + depth * 5;
      const LayerKind kind = trial % 2 ? LayerKind::SeparableConvolutional : LayerKind::Convolutional;
      Layer next = random_v1_layer(rng, trial, kind, shape, {model.layers.back().name});
      next.name += "_" + std::to_string(depth);
      const int kernel = next.param("kernel_width", 1);
      if (shape.x < kernel + 1 || shape.y < kernel + 1) break;  // the model stays valid
      model.layers.push_back(std::move(next));
    }
    Engine fast(model, Kernels::Optimized), reference(model, Kernels::Reference);
    Batch in{3, fast.input_shape(), {}};
    for (int64_t i = 0; i < in.n * in.shape.size(); ++i) in.values.push_back(static_cast<int32_t>(rng() % 256));
    EXPECT_EQ(reference.forward(in).values, fast.forward(in).values);
    EXPECT_EQ(reference.predict(in).values, fast.predict(in).values);
    const auto want = reference.forward_all(in), got = fast.forward_all(in);
    for (size_t l = 0; l < want.size(); ++l) EXPECT_EQ(want[l].values, got[l].values) << "layer " << l;
  }
}

// Akida 2.0 layer chains: ReLU outputs go to the next layer as bytes in forward() and
// predict() (straight into its staging where it stages them unshifted: depthwise layers,
// layers without input shifts), int32 where it cannot take them or the Engine returns them.
// Convolutions 3x3 and 1x1 and depthwise layers, with and without ReLU, input shifts, max
// pooling; every layer's output equal to the reference kernels' either way.
Layer random_v2_layer(std::mt19937& rng, int trial, bool depthwise, const Shape& in,
                      const std::string& inbound) {
  const uint32_t c = static_cast<uint32_t>(in.c);
  const uint32_t f = depthwise ? c : std::vector<uint32_t>{8, 16, 24}[trial % 3];
  const int kernel = depthwise || trial % 2 ? 3 : 1;
  Parameters p = merged(post_op_parameters(),
                        {{"kernel_size", kernel}, {"kernel_stride", 1}, {"padding", trial % 3 ? 1 : 0},
                         {"activation", trial % 4 == 3 ? 0 : 1}});
  if (!depthwise) p["filters"] = int32_t(f);
  if (trial % 5 == 2) p = merged(p, {{"pool_type", 1}, {"pool_size", 2}, {"pool_stride", 2}});
  std::vector<Variable> vars = post_op_variables(rng, f);
  const auto k = static_cast<uint32_t>(kernel);
  const uint32_t per_input = depthwise ? 1u : f;
  vars.push_back(i8("weights", {k, k, c, per_input},
                    random_values(rng, size_t{k} * k * c * per_input, -127, 127)));
  vars.push_back(u8("input_shift", {c}, random_values(rng, c, 0, trial % 3 == 1 ? 2 : 0)));
  return Layer(inbound + "_" + std::to_string(trial),
               depthwise ? LayerKind::DepthwiseConv2D : LayerKind::Conv2D, p, vars, {inbound});
}

TEST(FastKernels, RandomAkida2ModelsEqualTheReference) {
  for_each_isa([] {
    std::mt19937 rng(37);
    for (int model_index = 0; model_index < 16; ++model_index) {
      SCOPED_TRACE(model_index);
      Model model;
      Shape shape{9 + model_index % 4, 8 + model_index % 3, 2 + model_index % 3};
      model.layers.push_back(Layer("input", LayerKind::InputData,
                                   {{"input_width", int32_t(shape.x)}, {"input_height", int32_t(shape.y)},
                                    {"input_channels", int32_t(shape.c)}, {"input_bits", 8},
                                    {"input_signed", model_index % 2}},
                                   {}, {}));
      for (int depth = 0; depth < 5; ++depth) {
        Layer next = random_v2_layer(rng, model_index * 5 + depth, depth % 2 == 1, shape,
                                     model.layers.back().name);
        const Shape out = make_reference_kernel(next, {shape})->output_shape();
        if (out.x < 3 || out.y < 3) break;  // the model stays valid
        model.layers.push_back(std::move(next));
        shape = out;
      }
      Engine fast(model, Kernels::Optimized), reference(model, Kernels::Reference);
      Batch in{3, fast.input_shape(), {}};
      std::uniform_int_distribution<int32_t> d(fast.input_min(), fast.input_max());
      for (int64_t i = 0; i < in.n * in.shape.size(); ++i) in.values.push_back(d(rng));
      EXPECT_EQ(reference.forward(in).values, fast.forward(in).values);
      EXPECT_EQ(reference.predict(in).values, fast.predict(in).values);
      const auto want = reference.forward_all(in), got = fast.forward_all(in);
      for (size_t l = 0; l < want.size(); ++l) EXPECT_EQ(want[l].values, got[l].values) << "layer " << l;
    }
  });
}

// A 1x1 Conv2D whose largest Σ|w| (channel 0: 16 · 127) and largest output scale (the other
// channels: 255, shifted left by 8) are in different channels: one bound for all channels
// (2032 · 255 against 2^23 / 255) refuses the int32 requantizing epilogue, the channels' own
// bounds admit it. Both must give the reference kernel's outputs.
TEST(FastKernels, RequantizeBoundsChannelByChannel) {
  const uint32_t c = 16, f = 32;
  std::vector<int64_t> weights(c * f, 1), scales(f, 255), shifts(f, 8), bias(f, 3);
  for (uint32_t i = 0; i < c; ++i) weights[i * f] = (i % 2) ? 127 : -127;
  scales[0] = 1;
  shifts[0] = 0;
  const Parameters p = merged(post_op_parameters(), {{"kernel_size", 1}, {"kernel_stride", 1},
                                                    {"padding", 0}, {"activation", 0},
                                                    {"filters", int32_t(f)}});
  const std::vector<Variable> vars{
      i8("bias", {f}, bias), u8("bias_shift", {f}, std::vector<int64_t>(f, 0)),
      u8("output_scales", {f}, scales), i8("output_shift", {f}, shifts),
      u8("input_shift", {c}, std::vector<int64_t>(c, 0)), i8("weights", {1, 1, c, f}, weights)};
  const Layer layer("by_channel", LayerKind::Conv2D, p, vars, {});
  const Shape in{6, 5, c};
  std::mt19937 rng(7);
  for_each_isa([&] {
    expect_same(layer, in, random_input(rng, in, 0, 255, 0.2));
    expect_same(layer, in, std::vector<int32_t>(in.size(), 255));
    expect_same(layer, in, random_input(rng, in, 0, 3, 0.2));
  });
}

// Channels whose weights are all zero and whose bias is far beyond what the int32 epilogue can
// scale (127 << 20, scale 134, shift -27, as in AkidaNet VWW's pointwise layers) output one
// constant, which the optimized kernel folds; the other channels are computed. Max pooling and
// ReLU on, and off.
// A SeparableConvolutional layer whose depthwise sums are mostly within a byte and sometimes far
// outside it (two strong taps per channel, the others -1..1, over sparse 4-bit inputs): its
// pointwise half stages them as bytes clipped to the 256 values around zero and adds the
// clipped part back pixel by pixel (ConvSums::stage_clipped, blocked::Outliers), with and
// without max pooling in the tiles; to int32 outputs (eval) and, between 4-bit InputData and a
// Convolutional layer, to levels handed on as bytes (Engine::forward).
Layer clipped_separable_layer(std::mt19937& rng, int trial, int64_t c,
                              std::vector<std::string> inbound = {}) {
  const int64_t f = 16 + 16 * (trial % 2) + 8 * (trial / 4);
  const auto C = static_cast<uint32_t>(c), F = static_cast<uint32_t>(f);
  Parameters p{{"filters", int32_t(f)}, {"kernel_width", 3}, {"kernel_height", 3},
               {"stride_x", 1}, {"stride_y", 1}, {"padding", 1}, {"activation", 1},
               {"act_bits", 4}, {"weights_bits", 4}};
  if (trial % 2 == 1)
    p = merged(p, {{"pool_type", 1}, {"pooling_width", 2}, {"pooling_height", 2},
                   {"pooling_stride_x", 2}, {"pooling_stride_y", 2}});
  std::vector<int64_t> depthwise = random_values(rng, size_t(c) * 9, -1, 1);
  for (int64_t ch = 0; ch < c; ++ch) {
    depthwise[size_t(ch * 9 + ch % 9)] = 7;
    depthwise[size_t(ch * 9 + (ch + 4) % 9)] = 4;
  }
  std::vector<Variable> vars{
      f32("act_step", {F}, std::vector<float>(size_t(f), 20.0f + float(trial))),
      i32("threshold", {F}, random_values(rng, size_t(f), -50, 50)),
      int_var("weights", {1, C, 3, 3}, DType::Int4, depthwise),
      int_var("weights_pw", {F, C, 1, 1}, DType::Int4, random_values(rng, size_t(c * f), -8, 7))};
  return Layer("clipped_" + std::to_string(trial), LayerKind::SeparableConvolutional, p, vars,
               std::move(inbound));
}

void clipped_pointwise_inputs() {
  std::mt19937 rng(41);
  for (int trial = 0; trial < 8; ++trial) {
    SCOPED_TRACE(trial);
    const Shape in{12 + trial, 11, 8 + 8 * (trial % 3)};
    const Layer layer = clipped_separable_layer(rng, trial, in.c);
    for (int sample = 0; sample < 3; ++sample)
      expect_same(layer, in, random_input(rng, in, 0, 15, 0.5));
    Model model;
    model.layers.emplace_back("in", LayerKind::InputData,
                              Parameters{{"input_width", int32_t(in.x)}, {"input_height", int32_t(in.y)},
                                         {"input_channels", int32_t(in.c)}, {"input_bits", 4}},
                              std::vector<Variable>{}, std::vector<std::string>{});
    model.layers.push_back(clipped_separable_layer(rng, trial, in.c, {"in"}));
    const Shape out = make_reference_kernel(model.layers.back(), {in})->output_shape();
    model.layers.push_back(random_v1_layer(rng, 4 * trial + 3, LayerKind::Convolutional, out,
                                           {model.layers.back().name}));
    Engine fast(model, Kernels::Optimized), reference(model, Kernels::Reference);
    Batch batch{2, in, {}};
    for (int s = 0; s < 2; ++s) {
      const std::vector<int32_t> sample = random_input(rng, in, 0, 15, 0.5);
      batch.values.insert(batch.values.end(), sample.begin(), sample.end());
    }
    EXPECT_EQ(reference.forward(batch).values, fast.forward(batch).values);
  }
}

TEST(FastKernels, ClippedPointwiseInputsEqualTheReference) { for_each_isa(clipped_pointwise_inputs); }

// Byte dot products at the edge of exactness on AVX2 (blocked::bytes_exact): vpmaddubsw sums
// each pair of u8 × s8 products to int16, saturating. Weights 127, 127 side by side (a pair of
// 254) meet inputs of 129 (254 · 129 = 32766: bytes, exact) and of 130 (33020: the sum would
// saturate, so the 16-bit pairs), and 255 (the pairs); the other pair of each word (−127 and a
// small negative weight) brings the true sum back near the output range (ReLU without bound,
// sum / 256), where a saturated one would read 253 per word lower: one or two output steps.
void byte_pair_limit() {
  const uint32_t c = 8, f = 16;
  std::vector<int64_t> weights;
  for (uint32_t ch = 0; ch < c; ++ch)
    for (uint32_t k = 0; k < f; ++k)
      weights.push_back(std::vector<int64_t>{127, 127, -127, -1 - int64_t{k % 4}}[ch % 4]);
  const std::vector<Variable> vars{
      i8("bias", {f}, std::vector<int64_t>(f, 0)), u8("bias_shift", {f}, std::vector<int64_t>(f, 0)),
      u8("output_scales", {f}, std::vector<int64_t>(f, 1)),
      i8("output_shift", {f}, std::vector<int64_t>(f, -8)),
      i8("weights", {1, 1, c, f}, weights), u8("input_shift", {c}, std::vector<int64_t>(c, 0))};
  Parameters p = merged(post_op_parameters(), {{"kernel_size", 1}, {"kernel_stride", 1},
                                               {"padding", 0}, {"filters", int32_t(f)}});
  const Layer layer("pairs", LayerKind::Conv2D, p, vars, {});
  const Shape in{5, 7, c};
  std::mt19937 rng(17);
  for (int64_t top : {129, 130, 255}) {
    SCOPED_TRACE(top);
    expect_same(layer, in, std::vector<int32_t>(size_t(in.size()), int32_t(top)));
    expect_same(layer, in, random_input(rng, in, top - 3, top, 0.0));
  }
  // One kernel over samples in turn: each sample's staging is first guessed from the one before.
  auto reference = make_reference_kernel(layer, {in});
  auto fast = runtime::make_fast_kernel(layer, {in});
  for (int64_t top : {129, 255, 129, 130}) {
    SCOPED_TRACE(top);
    const std::vector<int32_t> input(size_t(in.size()), int32_t(top));
    std::vector<int32_t> want, got;
    reference->eval({&input}, want);
    fast->eval({&input}, got);
    ASSERT_EQ(want, got);
  }
}

TEST(FastKernels, BytePairSumsStayExact) { for_each_isa(byte_pair_limit); }

TEST(FastKernels, ZeroWeightChannelsGiveTheReferenceConstant) {
  const uint32_t c = 8, f = 16;
  std::mt19937 rng(11);
  std::vector<int64_t> weights = random_values(rng, size_t{c} * f, -128, 127);
  std::vector<int64_t> bias = random_values(rng, f, -128, 127), bias_shift(f, 2);
  for (uint32_t ch : {1u, 6u, 7u, 12u}) {
    for (uint32_t i = 0; i < c; ++i) weights[i * f + ch] = 0;
    bias[ch] = ch % 2 ? 127 : -127;
    bias_shift[ch] = 20;
  }
  for (bool relu_and_pool : {false, true}) {
    SCOPED_TRACE(relu_and_pool);
    Parameters p = merged(post_op_parameters(), {{"kernel_size", 1}, {"kernel_stride", 1},
                                                {"padding", 0}, {"filters", int32_t(f)},
                                                {"activation", relu_and_pool ? 1 : 0}});
    if (relu_and_pool) p = merged(p, {{"pool_type", 1}, {"pool_size", 2}, {"pool_stride", 2}});
    std::vector<Variable> vars{
        i8("bias", {f}, bias), u8("bias_shift", {f}, bias_shift),
        u8("output_scales", {f}, std::vector<int64_t>(f, 134)),
        i8("output_shift", {f}, std::vector<int64_t>(f, -12)),
        u8("input_shift", {c}, std::vector<int64_t>(c, 0)), i8("weights", {1, 1, c, f}, weights)};
    for (uint32_t ch : {1u, 6u, 7u, 12u}) vars[3].data[ch] = static_cast<uint8_t>(int8_t{-27});
    if (relu_and_pool) {
      vars.push_back(u8("max_value", {f}, random_values(rng, f, 1, 255)));
      vars.push_back(u8("max_value_shift", {f}, std::vector<int64_t>(f, 4)));
    }
    const Layer layer("zero_channels", LayerKind::Conv2D, p, vars, {});
    const Shape in{6, 4, c};
    for_each_isa([&] {
      expect_same(layer, in, random_input(rng, in, 0, 255, 0.2));
      expect_same(layer, in, random_input(rng, in, -128, 127, 0.2));
    });
  }
}

TEST(FastKernels, RandomConvolutionsEqualTheReference) { for_each_isa(random_convolutions); }
TEST(FastKernels, RandomAkida1LayersEqualTheReference) { for_each_isa(random_v1_layers); }
TEST(FastKernels, RandomAkida1ModelsEqualTheReference) { for_each_isa(random_v1_models); }
TEST(FastKernels, RandomDepthwiseBufferTempConvSequencesEqualTheReference) {
  for_each_isa(random_depthwise_buffer_temp_conv_sequences);
}
TEST(FastKernels, RandomDenseLayersEqualTheReference) { for_each_isa(random_dense_layers); }
TEST(FastKernels, RandomDepthwiseLayersEqualTheReference) { for_each_isa(random_depthwise_layers); }
TEST(FastKernels, RandomBufferTempConvSequencesEqualTheReference) {
  for_each_isa(random_buffer_temp_conv_sequences);
}

// Whole models: every layer's integers with the optimized kernels equal the reference ones.
void expect_same_model(const Model& model, const std::string& name) {
  Engine fast(model, Kernels::Optimized), reference(model, Kernels::Reference);
  Batch in{4, fast.input_shape(), {}};
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> d(fast.input_min(), fast.input_max());
  for (int64_t i = 0; i < in.n * in.shape.size(); ++i) in.values.push_back(d(rng));
  const auto want = reference.forward_all(in);
  const auto got = fast.forward_all(in);
  ASSERT_EQ(want.size(), got.size());
  for (size_t l = 0; l < want.size(); ++l)
    EXPECT_EQ(want[l].values, got[l].values) << name << " layer " << model.layers[l].name;
  // forward() and predict() run without every layer's output (Akida 1.0 layers hand bytes).
  EXPECT_EQ(reference.forward(in).values, fast.forward(in).values) << name;
  EXPECT_EQ(reference.predict(in).values, fast.predict(in).values) << name;
}

// The models the benchmark runs besides the .fbz fixtures, converted in memory: the DS-CNN
// example (shift groups, depthwise, global average), ECG (3x3/3 max pooling), TENNs (temporal).
TEST(FastKernels, ConvertedModelsEqualTheReference) {
  expect_same_model(cnn2snn::convert(cnn2snn::load_quantized_model(
                        std::string(CNN2SNN_SOURCE_DIR) + "/examples/ds_cnn_kws_i8_w8_a8.h5")),
                    "ds_cnn_kws_i8_w8_a8.h5");
  for (const char* name : {"h5/ecg_i8_w8_a8_quantizeml.h5", "onnx/tennst_int8_quantizeml.onnx"}) {
    const auto path = test_support::fixture(name);
    if (!std::filesystem::exists(path)) continue;  // the example above still ran
    expect_same_model(cnn2snn::convert(cnn2snn::load_quantized_model(path.string())), name);
  }
}

TEST(FastKernels, FixtureModelsEqualTheReference) {
  int models = 0;
  for (const auto& path : test_support::fixtures_with_extension("fbz", ".fbz")) {
    expect_same_model(read_fbz(path.string()), path.filename().string());
    ++models;
  }
  if (models == 0) GTEST_SKIP() << "no .fbz fixture in " << test_support::fixtures_dir();
}

// The Akida 1.0 fixtures (their layers hand levels to each other as bytes) under each
// instruction-set limit.
TEST(FastKernels, Akida1FixtureModelsEqualTheReferenceOnEachIsa) {
  int models = 0;
  for (const auto& path : test_support::fixtures_with_extension("fbz", ".fbz")) {
    const Model model = read_fbz(path.string());
    if (model.ip_version() != IpVersion::v1) continue;
    for_each_isa([&] { expect_same_model(model, path.filename().string()); });
    ++models;
  }
  if (models == 0) GTEST_SKIP() << "no Akida 1.0 .fbz fixture in " << test_support::fixtures_dir();
}

}  // namespace
}  // namespace akida
