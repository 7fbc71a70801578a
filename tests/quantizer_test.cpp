// The quantizer's pieces on their own: QuantizeML's formulas on hand-worked values, the graph
// passes, FloatModel on a committed PyTorch export (determinism across threads and batch sizes,
// errors, bounds against hostile files). End-to-end checks against onnxruntime and a numpy
// reference are in tests/py/test_quantizer.py.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <random>

#include "akida/errors.h"
#include "cnn2snn/quantize/float_reader.h"
#include "cnn2snn/quantize/qmath.h"
#include "cnn2snn/quantizer.h"
#include "test_support.h"

namespace {

using namespace cnn2snn;
using namespace cnn2snn::quantize;

const std::string kTorchCnn = std::string(CNN2SNN_SOURCE_DIR) + "/tests/data/torch/torch_cnn.onnx";

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

FloatArray images(int64_t count, uint32_t seed = 1) {
  FloatArray a{{count, 1, 28, 28}, {}};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  for (int64_t i = 0; i < count * 28 * 28; ++i) a.values.push_back(pixel(rng));
  return a;
}

using test_support::error_of;

// ---- QuantizeML's formulas, worked by hand ---------------------------------------------------

TEST(QuantizerMath, FixedPointScalesKeepEightBitsAndClipAtTheTop) {
  // 0.75: ceil(log2) = 0 -> 8 fractional bits, mantissa 192.
  FixedPoint a = quantize_to_fixed_point({0.75}, 8, false, false, true);
  EXPECT_EQ(a.mantissa[0], 192);
  EXPECT_EQ(a.scale[0], 256.0);
  // A power of two needs one more whole bit: 1.0 -> 7 fractional bits, 128.
  FixedPoint b = quantize_to_fixed_point({1.0}, 8, false, false, true);
  EXPECT_EQ(b.mantissa[0], 128);
  EXPECT_EQ(b.scale[0], 128.0);
  // Just below one rounds to 256, which 8 unsigned bits clip to 255 (no renormalisation).
  FixedPoint c = quantize_to_fixed_point({0.9999}, 8, false, false, true);
  EXPECT_EQ(c.mantissa[0], 255);
  // out_shift clips the fractional bits to [-31, 32]: 2^-40 keeps 2^32.
  FixedPoint d = quantize_to_fixed_point({std::ldexp(1.0, -40)}, 8, false, false, true);
  EXPECT_EQ(d.scale[0], std::ldexp(1.0, 32));
}

TEST(QuantizerMath, AlignedValuesAreEightBitMantissasShiftedLeft) {
  // 300 needs 9 bits: shift 2, round(75) << 2.
  EXPECT_EQ(aligned_quantize({300.0}, {1.0}, 8, true)[0], 300);
  EXPECT_EQ(aligned_quantize({301.0}, {1.0}, 8, true)[0], 300);
  EXPECT_EQ(aligned_quantize({-3000.0}, {1.0}, 8, true)[0], -3008);  // 12 bits: round(-93.75) << 5
  // Ties round to even; small values keep shift 0.
  EXPECT_EQ(aligned_quantize({2.5}, {1.0}, 8, true)[0], 2);
  EXPECT_EQ(aligned_quantize({0.0}, {3.0}, 8, true)[0], 0);
  // Unsigned (max_value): 8 value bits, 300 -> shift 1.
  EXPECT_EQ(aligned_quantize({301.0}, {1.0}, 8, false)[0], 300);
}

TEST(QuantizerMath, PerRowWeightsReachTheirLargestValue) {
  const QFloat q = quantize_to_qfloat({0.5, -0.25, 0.1, 2.0, -4.0, 1.0}, 2, 8);
  // Scales 254 and 31.75: -63.5 and 63.5 round to even, 25.4 and 31.75 to the nearest.
  EXPECT_EQ(q.values, (std::vector<int64_t>{127, -64, 25, 64, -127, 32}));
  EXPECT_DOUBLE_EQ(q.scale[0], 254.0);
  EXPECT_DOUBLE_EQ(q.scale[1], 31.75);
  const QFloat four = quantize_to_qfloat({0.5, -0.25, 0.1}, 1, 4);
  EXPECT_EQ(four.values, (std::vector<int64_t>{7, -4, 1}));  // scale 14: 7, -3.5 -> -4, 1.4
}

TEST(QuantizerMath, InputZeroPointAndItsNegativeCase) {
  const ZeroPointScale zp = input_conv_zp_scale({-1.0f, 0.5f}, {1.0f, 1.0f});
  EXPECT_FLOAT_EQ(zp.scale[0], 127.5f);
  EXPECT_EQ(zp.zero_point[0], 128);  // -round(-127.5) with ties to even
  EXPECT_FLOAT_EQ(zp.scale[1], 255.0f);  // lo > 0 (a negative zero point): 255 / hi, zero point 0
  EXPECT_EQ(zp.zero_point[1], 0);
  EXPECT_THROW(input_conv_zp_scale({1.0f}, {1.0f}), akida::UnsupportedError);
}

TEST(QuantizerMath, DownshiftRefusesASaturatingShift) {
  // A range of 1 takes scale 2^6; from an input scale of 2^-3 that is a left shift of 512.
  EXPECT_THROW(downshift({1.0f}, {0.125}, 8), akida::UnsupportedError);
  const Downshift d = downshift({3.0f}, {1.0}, 8);  // 3 needs 2 whole bits: 2^5 out scale
  EXPECT_EQ(d.output_scale[0], 32.0);
  EXPECT_EQ(d.shift[0], 1.0f / 32.0f);
}

// ---- graph passes ------------------------------------------------------------------------------

FloatGraph one_conv_graph(std::array<int64_t, 4> pads, int64_t stride) {
  FloatGraph g;
  g.input_dims = {1, 28, 28};
  g.rescale.output = "x";
  FloatNode conv;
  conv.op = FloatOp::Conv;
  conv.name = conv.output = "conv";
  conv.inputs = {"x"};
  conv.kernel = {3, 3};
  conv.strides = {stride, stride};
  conv.pads = pads;
  conv.output_shape = {4, (28 + pads[0] + pads[2] - 3) / stride + 1, (28 + pads[1] + pads[3] - 3) / stride + 1};
  g.nodes = {conv};
  g.output_name = "conv";
  return g;
}

TEST(QuantizerPasses, EndPadsShrinkToWhatTheOutputReaches) {
  FloatGraph g = one_conv_graph({1, 1, 1, 1}, 2);  // PyTorch's symmetric pads, stride 2
  unify_pads(g);
  EXPECT_EQ(g.nodes[0].pads, (std::array<int64_t, 4>{1, 1, 0, 0}));
  FloatGraph same = one_conv_graph({1, 1, 1, 1}, 1);  // every pad is reached
  unify_pads(same);
  EXPECT_EQ(same.nodes[0].pads, (std::array<int64_t, 4>{1, 1, 1, 1}));
}

TEST(QuantizerPasses, ActivationsMoveAfterTheMaxPool) {
  FloatGraph g = one_conv_graph({1, 1, 1, 1}, 1);
  FloatNode relu;
  relu.op = FloatOp::Relu;
  relu.name = "relu";
  relu.inputs = {"conv"};
  relu.output = "r";
  relu.output_shape = {4, 28, 28};
  FloatNode pool;
  pool.op = FloatOp::MaxPool;
  pool.name = "pool";
  pool.inputs = {"r"};
  pool.output = "p";
  pool.kernel = pool.strides = {2, 2};
  pool.output_shape = {4, 14, 14};
  g.nodes.push_back(relu);
  g.nodes.push_back(pool);
  g.output_name = "p";
  move_activations_after_max_pools(g);
  ASSERT_EQ(g.nodes[1].op, FloatOp::MaxPool);
  EXPECT_EQ(g.nodes[1].inputs, std::vector<std::string>{"conv"});
  EXPECT_EQ(g.nodes[2].op, FloatOp::Relu);
  EXPECT_EQ(g.nodes[2].inputs, std::vector<std::string>{g.nodes[1].output});
  EXPECT_EQ(g.nodes[2].output, "p");  // the pair keeps its final name
  EXPECT_EQ(g.nodes[2].output_shape, (std::vector<int64_t>{4, 14, 14}));
}

// ---- FloatModel -----------------------------------------------------------------------------

TEST(FloatModelTest, ReadsAPyTorchExport) {
  const FloatModel model = FloatModel::load(kTorchCnn);
  EXPECT_EQ(model.input_dims(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(model.output_dims(), (std::vector<int64_t>{10}));
  const FloatArray out = model.run(images(3));
  EXPECT_EQ(out.shape, (std::vector<int64_t>{3, 10}));
}

TEST(FloatModelTest, QuantizedBytesDoNotDependOnThreadsOrBatchSize) {
  const FloatModel model = FloatModel::load(kTorchCnn);
  QuantizationParams params;
  CalibrationOptions options;
  options.samples = images(20);
  options.progress = false;
  options.threads = 1;
  const std::string one = model.quantize(params, options);
  options.threads = 2;
  options.batch_size = 3;
  EXPECT_EQ(model.quantize(params, options), one);
  options.samples = images(20, 2);
  EXPECT_NE(model.quantize(params, options), one);  // the samples do matter
}

TEST(FloatModelTest, ErrorsNameTheFileAndTheField) {
  const FloatModel model = FloatModel::load(kTorchCnn);
  FloatArray nhwc{{2, 28, 28, 1}, std::vector<float>(2 * 28 * 28, 0.5f)};
  EXPECT_NE(error_of([&] { model.run(nhwc, "in.npy"); }).find("in.npy: shape (2, 28, 28, 1), expected (N, 1, 28, 28)"),
            std::string::npos);
  FloatArray nan = images(2);
  nan.values[28 * 28 + 5] = std::nanf("");
  EXPECT_NE(error_of([&] { model.run(nan); }).find("sample 1 holds NaN"), std::string::npos);
  QuantizationParams three;
  three.weight_bits = 3;
  EXPECT_NE(error_of([&] { model.quantize(three, {}); }).find("weight_bits 3"), std::string::npos);
  const std::string bytes = file_bytes(kTorchCnn);
  EXPECT_THROW(FloatModel::from_bytes(bytes.substr(0, bytes.size() / 2), "half.onnx"),
               akida::FormatError);
}

TEST(FloatModelTest, HostileSizesAreRefusedBeforeAllocating) {
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(file_bytes(kTorchCnn)));
  auto* dims = proto.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  dims->mutable_dim(2)->set_dim_value(65536);
  dims->mutable_dim(3)->set_dim_value(65536);
  const std::string error = error_of([&] { FloatModel::from_bytes(proto.SerializeAsString(), "big.onnx"); });
  EXPECT_NE(error.find("big.onnx: graph: input 'input': [1, 65536, 65536] holds more than"), std::string::npos)
      << error;
}

TEST(FloatModelTest, AQuantizedModelIsRefused) {
  const FloatModel model = FloatModel::load(kTorchCnn);
  CalibrationOptions options;
  options.num_samples = 4;
  options.progress = false;
  const std::string quantized = model.quantize({}, options);
  const std::string error = error_of([&] { FloatModel::from_bytes(quantized, "q.onnx"); });
  EXPECT_NE(error.find("already quantized"), std::string::npos) << error;
}

TEST(FloatModelTest, DefaultOutputNameFollowsQuantizeML) {
  QuantizationParams p;
  p.weight_bits = p.activation_bits = 4;
  EXPECT_EQ(default_quantized_path("dir/model.ONNX", p), "dir/model_i8_w4_a4.onnx");
  EXPECT_EQ(default_quantized_path("net_i8_w8_a8.onnx", p), "net_i8_w4_a4.onnx");
}

}  // namespace
