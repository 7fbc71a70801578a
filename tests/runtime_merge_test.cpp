// Merge kernels (Add, Concatenate) on tiny inputs, expected values worked out in the comments, and
// a branching model run by the engine. Tensors are (x, y, c) row-major.
#include <gtest/gtest.h>

#include "akida/errors.h"
#include "runtime_test_helpers.h"

namespace akida {
namespace {

using namespace runtime_test;

// Runs one multi-input layer's reference kernel on one sample.
std::vector<int32_t> run_merge(const Layer& l, const std::vector<Shape>& shapes,
                               const std::vector<std::vector<int32_t>>& inputs) {
  auto kernel = make_reference_kernel(l, shapes);
  std::vector<const std::vector<int32_t>*> pointers;
  for (const auto& input : inputs) pointers.push_back(&input);
  std::vector<int32_t> out;
  kernel->eval(pointers, out);
  return out;
}

Parameters add_params(int buffer_bits, int output_bits) {
  return {{"buffer_bits", buffer_bits}, {"post_op_buffer_bits", 32}, {"output_bits", output_bits}};
}

// The message of the ShapeError `f` throws ("" when it throws nothing).
template <typename F>
std::string shape_error_of(F f) {
  try {
    f();
  } catch (const ShapeError& e) {
    return e.what();
  }
  return "";
}

TEST(AddKernel, ShiftsSumsAndShiftsTheOutputPerChannel) {
  // a_shift (1, 0), b_shift (0, 2): c0 = (a << 1) + b, c1 = a + (b << 2).
  //   pixel 0: a (-4, -5), b (1, 2):    c0 = -8 + 1 = -7,     c1 = -5 + 8 = 3
  //   pixel 1: a (100, 7), b (90, -3):  c0 = 200 + 90 = 290,  c1 = 7 - 12 = -5
  // output_shift (-1, 1):
  //   c0: (-7 + 1) >> 1 = -3 (-3.5 rounds half up), (290 + 1) >> 1 = 145 -> saturated 127
  //   c1: 3 << 1 = 6, -5 << 1 = -10
  const Layer add = layer("add", LayerKind::Add, add_params(32, 8),
                          {u8("a_shift", {2}, {1, 0}), u8("b_shift", {2}, {0, 2}),
                           i8("output_shift", {2}, {-1, 1})});
  EXPECT_EQ(run_merge(add, {{1, 2, 2}, {1, 2, 2}}, {{-4, -5, 100, 7}, {1, 2, 90, -3}}),
            (std::vector<int32_t>{-3, 6, 127, -10}));
}

TEST(AddKernel, SumSaturatesToBufferBitsBeforeTheOutputShift) {
  // a_shift (1, 1): c0 = 200 + 100 = 300, c1 = -200 - 100 = -300.
  // buffer_bits 9 -> [-256, 255]: (255, -256). output_shift (-1, -1), 16-bit output:
  //   (255 + 1) >> 1 = 128, (-256 + 1) >> 1 = -128 (floor of -127.5).
  // (Without the buffer saturation: 150 and -150.)
  const Layer add = layer("add", LayerKind::Add, add_params(9, 16),
                          {u8("a_shift", {2}, {1, 1}), u8("b_shift", {2}, {0, 0}),
                           i8("output_shift", {2}, {-1, -1})});
  EXPECT_EQ(run_merge(add, {{1, 1, 2}, {1, 1, 2}}, {{100, -100}, {100, -100}}),
            (std::vector<int32_t>{128, -128}));
}

TEST(AddKernel, ReluActivationThenOutputBits) {
  // No shifts: (-3 + 1, 50 + 100) = (-2, 150); ReLU (0, 150); 8-bit output (0, 127).
  const Layer add = layer("add", LayerKind::Add, merged(add_params(32, 8), {{"activation", 1}}));
  EXPECT_EQ(run_merge(add, {{1, 1, 2}, {1, 1, 2}}, {{-3, 50}, {1, 100}}),
            (std::vector<int32_t>{0, 127}));
}

TEST(AddKernel, ErrorsNameTheLayerAndField) {
  const Layer add = layer("add", LayerKind::Add, add_params(32, 8),
                          {u8("a_shift", {2}, {1, 0}), u8("b_shift", {2}, {0, 2})});
  EXPECT_EQ(shape_error_of([&] { make_reference_kernel(add, {{1, 1, 2}, {1, 1, 2}, {1, 1, 2}}); }),
            "layer 'add' (Add): has 3 inputs, expected 2");
  EXPECT_EQ(shape_error_of([&] { make_reference_kernel(add, {{1, 1, 2}, {1, 1, 3}}); }),
            "layer 'add' (Add): input 1 has shape [1, 1, 3], expected [1, 1, 2] like input 0");
  EXPECT_EQ(shape_error_of([&] { make_reference_kernel(add, {{1, 1, 3}, {1, 1, 3}}); }),
            "layer 'add' (Add): variable 'a_shift' has shape [2], expected [3]");
  Layer bad_shift = add;
  bad_shift.variables[0] = u8("a_shift", {2}, {40, 0});
  EXPECT_EQ(shape_error_of([&] { make_reference_kernel(bad_shift, {{1, 1, 2}, {1, 1, 2}}); }),
            "layer 'add' (Add): variable 'a_shift'[0] is 40, expected 0..31");
  Layer no_bits = add;
  no_bits.parameters.erase("output_bits");
  EXPECT_EQ(shape_error_of([&] { make_reference_kernel(no_bits, {{1, 1, 2}, {1, 1, 2}}); }),
            "layer 'add' (Add): parameter 'output_bits' is missing");
}

TEST(ConcatenateKernel, JoinsChannelsPixelByPixelInInboundOrder) {
  // a (1, 2, 1): p0 1, p1 2.   b (1, 2, 2): p0 (10, 11), p1 (20, 21).
  // out (1, 2, 3): p0 (1, 10, 11), p1 (2, 20, 21).
  const Layer concat = layer("concat", LayerKind::Concatenate, {});
  auto kernel = make_reference_kernel(concat, {{1, 2, 1}, {1, 2, 2}});
  EXPECT_EQ(kernel->output_shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(run_merge(concat, {{1, 2, 1}, {1, 2, 2}}, {{1, 2}, {10, 11, 20, 21}}),
            (std::vector<int32_t>{1, 10, 11, 2, 20, 21}));
}

TEST(ConcatenateKernel, SpatialMismatchNamesTheLayer) {
  const Layer concat = layer("concat", LayerKind::Concatenate, {});
  EXPECT_EQ(shape_error_of([&] { make_reference_kernel(concat, {{1, 2, 1}, {2, 1, 1}}); }),
            "layer 'concat' (Concatenate): input 1 has shape [2, 1, 1], its x and y differ "
            "from input 0's [1, 2, 1]");
}

// InputData (1, 1, 2) int8 -> Add(input, input) with a_shift 1: 3x, 8-bit ->
// Concatenate(add, input).
Model branching_model() {
  Model m;
  m.layers.push_back(layer("input", LayerKind::InputData,
                           {{"input_width", 1}, {"input_height", 1}, {"input_channels", 2},
                            {"input_bits", 8}, {"input_signed", 1}}));
  m.layers.push_back(layer("add", LayerKind::Add, add_params(32, 8),
                           {u8("a_shift", {2}, {1, 1}), u8("b_shift", {2}, {0, 0})},
                           {"input", "input"}));
  m.layers.push_back(layer("concat", LayerKind::Concatenate, {}, {}, {"add", "input"}));
  return m;
}

TEST(EngineMerge, BranchingModelEndToEnd) {
  // sample 0: (5, -7)   -> add (15, -21)               -> concat (15, -21, 5, -7)
  // sample 1: (50, -60) -> add (150, -180) -> (127, -128) -> concat (127, -128, 50, -60)
  Engine engine(branching_model());
  EXPECT_EQ(engine.output_shapes(), (std::vector<Shape>{{1, 1, 2}, {1, 1, 2}, {1, 1, 4}}));
  const Batch out = engine.forward(Batch{2, {1, 1, 2}, {5, -7, 50, -60}});
  EXPECT_EQ(out.shape, (Shape{1, 1, 4}));
  EXPECT_EQ(out.values, (std::vector<int32_t>{15, -21, 5, -7, 127, -128, 50, -60}));
}

}  // namespace
}  // namespace akida
