// The QuantizeML ONNX front end, on BrainChip's TENNs model and on small hand-built models.
//
// Expected values come from two independent sources: the ONNX file's own initializers, read with
// Python's onnx package (numpy_helper.to_array) and written here literally, and BrainChip's own
// conversion of the same file (tennst_int8_v2_2.17.fbz) read with akida::read_fbz.
#include "cnn2snn/onnx_reader.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <random>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "test_support.h"

namespace {

using cnn2snn::Block;
using cnn2snn::BlockKind;
using cnn2snn::load_onnx;
using cnn2snn::PaddingKind;
using cnn2snn::QuantizedGraph;

std::filesystem::path tennst_onnx() {
  return test_support::fixture("onnx/tennst_int8_quantizeml.onnx");
}

const Block& block(const QuantizedGraph& g, const std::string& name) {
  for (const Block& b : g.blocks)
    if (b.name == name) return b;
  throw std::runtime_error("no block " + name);
}

// Element of a row-major IntTensor at `index`.
int64_t at(const cnn2snn::IntTensor& t, std::vector<int64_t> index) {
  int64_t flat = 0;
  for (size_t i = 0; i < index.size(); ++i) flat = flat * t.shape[i] + index[i];
  return t.values.at(static_cast<size_t>(flat));
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs load_onnx expecting an error of type E whose message holds every `parts`.
template <typename E>
void expect_error(const std::filesystem::path& path, std::vector<std::string> parts) {
  try {
    load_onnx(path.string());
    FAIL() << "no error for " << path;
  } catch (const E& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path.string(), 0), 0u) << what;
    for (const std::string& p : parts) EXPECT_NE(what.find(p), std::string::npos) << what;
  } catch (const std::exception& e) {
    FAIL() << "wrong error type: " << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// The real model.

TEST(OnnxReader, TennstStructure) {
  const auto path = tennst_onnx();
  SKIP_WITHOUT_FIXTURE(path);
  const QuantizedGraph g = load_onnx(path.string());

  // Node names and op types as listed by onnx (graph.node), InputQuantizer excluded.
  const std::vector<std::pair<std::string, BlockKind>> expected = {
      {"b6882e2b-3f26-46ac-88e2-a849e7b90584", BlockKind::BufferTempConv},
      {"node_Conv_1", BlockKind::Conv2D},
      {"a23889d5-0a9e-4488-b9cd-20eac87bac70", BlockKind::BufferTempConv},
      {"node_Conv_3", BlockKind::Conv2D},
      {"00735f69-fc5e-4f77-8683-f43418822bd4", BlockKind::BufferTempConv},
      {"node_Conv_5", BlockKind::Conv2D},
      {"125afaaf-53c7-4c1f-8d76-75c5650f4e4b", BlockKind::DepthwiseBufferTempConv},
      {"node_Conv_7", BlockKind::Conv2D},
      {"node_Conv_8", BlockKind::DepthwiseConv2D},
      {"node_Conv_9", BlockKind::Conv2D},
      {"b3fa60b4-7d7e-4a8b-b6c9-250308d773f8", BlockKind::DepthwiseBufferTempConv},
      {"node_Conv_11", BlockKind::Conv2D},
      {"node_Conv_12", BlockKind::DepthwiseConv2D},
      {"node_Conv_13", BlockKind::Conv2D},
      {"bc15fc46-21a5-45d8-a075-bfa55fdc036e", BlockKind::BufferTempConv},
      {"node_Conv_15", BlockKind::Conv2D},
      {"node_Conv_16", BlockKind::Conv2D},
      {"dequantizer", BlockKind::Dequantizer},
  };
  ASSERT_EQ(g.blocks.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].first);
    EXPECT_EQ(g.blocks[i].name, expected[i].first);
    EXPECT_EQ(g.blocks[i].kind, expected[i].second);
    // A chain: the first block reads the model input (the InputQuantizer's output).
    if (i == 0)
      EXPECT_TRUE(g.blocks[i].inbound.empty());
    else
      EXPECT_EQ(g.blocks[i].inbound, std::vector<std::string>{expected[i - 1].first});
  }

  // ONNX input (N, 2, 96, 128), perm [0, 1, 2, 3], zero point int8 [0, 0].
  EXPECT_EQ(g.input_shape, (akida::Shape{96, 128, 2}));
  EXPECT_EQ(g.input_bits, 8);
  EXPECT_TRUE(g.input_signed);
  ASSERT_TRUE(g.input_quantizer.has_value());
  EXPECT_TRUE(g.input_quantizer->channels_first);
  EXPECT_TRUE(g.input_quantizer->is_signed);
  EXPECT_EQ(g.input_quantizer->zero_point, (std::vector<int64_t>{0, 0}));
  // quantize_scale, float32 [1.094488263130188, 1.251968502998352].
  EXPECT_EQ(g.input_quantizer->scale, (std::vector<float>{1.094488263130188f, 1.251968502998352f}));

  for (const Block& b : g.blocks) {
    if (b.kind == BlockKind::Dequantizer) continue;
    SCOPED_TRACE(b.name);
    EXPECT_TRUE(b.output.has_value());    // every op_type ends with "Scaled"
    EXPECT_EQ(b.output->output_bits, 8);  // Clip(-128, 127) in every body
    EXPECT_TRUE(b.output->output_signed);
    EXPECT_EQ(b.relu, b.name != "node_Conv_16");  // the only op without "ReLU"
    EXPECT_TRUE(b.relu_max.empty());
    EXPECT_EQ(b.buffer_bits, 32);
  }
}

TEST(OnnxReader, TennstValuesMatchTheOnnxInitializers) {
  const auto path = tennst_onnx();
  SKIP_WITHOUT_FIXTURE(path);
  const QuantizedGraph g = load_onnx(path.string());

  // node_Conv_1_Wi (F=16, C=8, 3, 3): W[3,5,1,2] = 18, W[0,0,0,0] = 42, W[15,7,2,0] = -11.
  const Block& c1 = block(g, "node_Conv_1");
  ASSERT_EQ(c1.weights.shape, (std::vector<int64_t>{3, 3, 8, 16}));
  EXPECT_EQ(at(c1.weights, {1, 2, 5, 3}), 18);
  EXPECT_EQ(at(c1.weights, {0, 0, 0, 0}), 42);
  EXPECT_EQ(at(c1.weights, {2, 0, 7, 15}), -11);
  EXPECT_EQ(c1.stride, 2);
  // pads [0, 0, 0, 0, 0, 0, 1, 1] on a 96x128 input, 3x3, stride 2: TF same (odd pad after).
  EXPECT_EQ(c1.padding, PaddingKind::Same);
  EXPECT_EQ(c1.bias.size(), 16u);
  EXPECT_EQ(std::vector<int64_t>(c1.bias.begin(), c1.bias.begin() + 4),
            (std::vector<int64_t>{0, 0, 0, 0}));
  // node_Conv_1_M [240, 185, 200, 140, ...], node_Conv_1_S_out [32768, 32768, 16384, 32768, ...].
  EXPECT_EQ(std::vector<int64_t>(c1.output->scale.begin(), c1.output->scale.begin() + 4),
            (std::vector<int64_t>{240, 185, 200, 140}));
  EXPECT_EQ(std::vector<int32_t>(c1.output->shift.begin(), c1.output->shift.begin() + 4),
            (std::vector<int32_t>{-15, -15, -14, -15}));

  // node_Conv_16: B [380928, -119808, -372736], M [178, 175, 217], S_out [2^19, 2^18, 2^19],
  // W[2, 100, 0, 0] = 16.
  const Block& c16 = block(g, "node_Conv_16");
  EXPECT_EQ(c16.bias, (std::vector<int64_t>{380928, -119808, -372736}));
  EXPECT_EQ(c16.output->scale, (std::vector<int64_t>{178, 175, 217}));
  EXPECT_EQ(c16.output->shift, (std::vector<int32_t>{-19, -18, -19}));
  EXPECT_EQ(at(c16.weights, {0, 0, 100, 2}), 16);

  // node_Conv_15_pads [0, 0, 1, 1, 0, 0, 1, 1]: 3x3, stride 1.
  EXPECT_EQ(block(g, "node_Conv_15").padding, PaddingKind::Same);

  // node_Conv_8_Wi (96, 1, 3, 3), channel 10: [[46, 13, -13], [88, 64, -10], [-127, -58, 3]].
  const Block& dw = block(g, "node_Conv_8");
  ASSERT_EQ(dw.weights.shape, (std::vector<int64_t>{3, 3, 96}));
  EXPECT_EQ(at(dw.weights, {0, 1, 10}), 13);
  EXPECT_EQ(at(dw.weights, {1, 1, 10}), 64);
  EXPECT_EQ(at(dw.weights, {2, 0, 10}), -127);

  // b6882e2b..._Wi (8, 10, 1, 1) = (F, C*T) with C = 2, T = 5: W[2, :] =
  // [63, -57, -121, 89, 73, -65, -69, 63, 127, -38], index c*T + t.
  const Block& btc = block(g, "b6882e2b-3f26-46ac-88e2-a849e7b90584");
  EXPECT_EQ(btc.fifo_size, 5);
  ASSERT_EQ(btc.weights.shape, (std::vector<int64_t>{5, 2, 8}));
  const std::vector<int64_t> w2 = {63, -57, -121, 89, 73, -65, -69, 63, 127, -38};
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t t = 0; t < 5; ++t) EXPECT_EQ(at(btc.weights, {t, c, 2}), w2[c * 5 + t]);
  // _M [191, 180, 166, 137, 156, 246, 204, 191], _S_out [2^15, 2^14, 2^15, 2^14, 2^15, 2^15,
  // 2^16, 2^14], _B all 0.
  EXPECT_EQ(btc.output->scale, (std::vector<int64_t>{191, 180, 166, 137, 156, 246, 204, 191}));
  EXPECT_EQ(btc.output->shift, (std::vector<int32_t>{-15, -14, -15, -14, -15, -15, -16, -14}));
  EXPECT_EQ(btc.bias, std::vector<int64_t>(8, 0));

  // 125afaaf..._Wi (80, 5, 1, 1) = (C, T): W[7] = [-11, -127, -59, 117, 30]; its _S_out holds
  // 0.03125 = 2^-5 at channel 69 (a left shift), with _M 164 there.
  const Block& dbtc = block(g, "125afaaf-53c7-4c1f-8d76-75c5650f4e4b");
  ASSERT_EQ(dbtc.weights.shape, (std::vector<int64_t>{5, 80}));
  const std::vector<int64_t> w7 = {-11, -127, -59, 117, 30};
  for (int64_t t = 0; t < 5; ++t) EXPECT_EQ(at(dbtc.weights, {t, 7}), w7[t]);
  EXPECT_EQ(dbtc.output->shift.at(69), 5);
  EXPECT_EQ(dbtc.output->scale.at(69), 164);

  // dequantizer_scale float32 [0.0003537348529789597, 0.0001797237346181646,
  // 0.00029069348238408566].
  EXPECT_EQ(block(g, "dequantizer").scales,
            (std::vector<float>{0.0003537348529789597f, 0.0001797237346181646f,
                                0.00029069348238408566f}));
}

// One per-channel fbz variable value (variables of one element apply to every channel).
int64_t channel_value(const akida::Variable& v, size_t i) {
  return v.int_at(v.element_count() == 1 ? 0 : i);
}

// BrainChip's converter made tennst_int8_v2_2.17.fbz from this ONNX file: every neural layer must
// hold our weights (rotated 180° for Conv2D / DepthwiseConv2D, which Akida computes as a true
// convolution), bias << bias_shift == our bias, output_scales == scale, output_shift == shift.
TEST(OnnxReader, TennstMatchesBrainChipConversion) {
  const auto onnx_path = tennst_onnx();
  const auto fbz_path = test_support::fixture("fbz/tennst_int8_v2_2.17.fbz");
  SKIP_WITHOUT_FIXTURE(onnx_path);
  SKIP_WITHOUT_FIXTURE(fbz_path);
  const QuantizedGraph g = load_onnx(onnx_path.string());
  const akida::Model fbz = akida::read_fbz(fbz_path.string());
  int checked = 0;
  for (const Block& b : g.blocks) {
    if (b.kind == BlockKind::Dequantizer) continue;
    SCOPED_TRACE(b.name);
    const akida::Layer& layer = fbz.layer(b.name);
    const akida::Variable& w = layer.variable("weights");
    const auto& s = b.weights.shape;
    ASSERT_EQ(w.element_count(), b.weights.values.size());
    if (b.kind == BlockKind::Conv2D || b.kind == BlockKind::DepthwiseConv2D) {
      const bool dw = b.kind == BlockKind::DepthwiseConv2D;
      const int64_t kx = s[0], ky = s[1], c = s[2], f = dw ? 1 : s[3];
      for (int64_t x = 0; x < kx; ++x)
        for (int64_t y = 0; y < ky; ++y)
          for (int64_t i = 0; i < c; ++i)
            for (int64_t o = 0; o < f; ++o) {
              const int64_t ours = dw ? at(b.weights, {x, y, i}) : at(b.weights, {x, y, i, o});
              const size_t theirs =
                  static_cast<size_t>(((kx - 1 - x) * ky + (ky - 1 - y)) * c * f + i * f + o);
              ASSERT_EQ(ours, w.int_at(theirs)) << x << "," << y << "," << i << "," << o;
            }
      // padding 1 = Same in the .fbz parameters (0 = Valid, omitted).
      EXPECT_EQ(layer.param("padding"), b.padding == PaddingKind::Same ? 1 : 0);
    } else {
      // BufferTempConv (1, 1, T*C, F) indexed t*C + c, DepthwiseBufferTempConv (1, 1, T, C): the
      // Block's (T, C, F) / (T, C) flattened the same way.
      for (size_t i = 0; i < b.weights.values.size(); ++i)
        ASSERT_EQ(b.weights.values[i], w.int_at(i)) << i;
    }
    const akida::Variable& bias = layer.variable("bias");
    const akida::Variable& bias_shift = layer.variable("bias_shift");
    const akida::Variable& scales = layer.variable("output_scales");
    const akida::Variable& shift = layer.variable("output_shift");
    const size_t filters = b.bias.size();
    ASSERT_EQ(bias.element_count(), filters);
    for (size_t i = 0; i < filters; ++i) {
      EXPECT_EQ(channel_value(bias, i) << channel_value(bias_shift, i), b.bias[i]) << i;
      EXPECT_EQ(channel_value(scales, i), b.output->scale[b.output->scale.size() == 1 ? 0 : i]);
      EXPECT_EQ(channel_value(shift, i), b.output->shift[b.output->shift.size() == 1 ? 0 : i]);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 17);
}

// ---------------------------------------------------------------------------------------------
// Hostile files.

TEST(OnnxReader, TruncatedFileIsAFormatError) {
  const auto path = tennst_onnx();
  SKIP_WITHOUT_FIXTURE(path);
  const std::string bytes = read_bytes(path);
  const auto bad = test_support::temp_dir("onnx_truncated") / "truncated.onnx";
  write_bytes(bad, bytes.substr(0, bytes.size() / 2 + 7));
  expect_error<akida::FormatError>(bad, {"not an ONNX model"});
}

TEST(OnnxReader, RandomBytesAreAFormatError) {
  std::mt19937 rng(1234);
  std::string bytes(4096, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
  const auto bad = test_support::temp_dir("onnx_random") / "random.onnx";
  write_bytes(bad, bytes);
  expect_error<akida::FormatError>(bad, {"ONNX"});
}

TEST(OnnxReader, MissingFileIsAFormatError) {
  const auto missing = test_support::temp_dir("onnx_missing") / "absent.onnx";
  expect_error<akida::FormatError>(missing, {"no such file"});
}

// A one-node model built with the protobuf API: int8 input (N, C, X, Y) straight into `op_type`,
// whose function declares `formals` (QuantizeML's operand names) and clips to [-128, 127].
struct TinyModel {
  onnx::ModelProto model;
  onnx::NodeProto* node;

  TinyModel(const std::string& op_type, std::vector<std::string> formals,
            std::vector<int64_t> input_dims) {
    model.set_ir_version(10);
    auto* std_opset = model.add_opset_import();
    std_opset->set_version(21);
    auto* brn = model.add_opset_import();
    brn->set_domain("com.brainchip");
    brn->set_version(1);
    onnx::GraphProto* g = model.mutable_graph();
    g->set_name("tiny");
    auto* in = g->add_input();
    in->set_name("x");
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::INT8);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    for (int64_t d : input_dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
    g->add_output()->set_name("y");
    node = g->add_node();
    node->set_name("tiny_node");
    node->set_op_type(op_type);
    node->set_domain("com.brainchip");
    node->add_input("x");
    node->add_output("y");
    onnx::FunctionProto* f = model.add_functions();
    f->set_name(op_type);
    f->set_domain("com.brainchip");
    f->add_input("X");
    for (const std::string& formal : formals) f->add_input(formal);
    f->add_output("Y");
    add_constant(*f, "lo", -128.0f);
    add_constant(*f, "hi", 127.0f);
    auto* clip = f->add_node();
    clip->set_op_type("Clip");
    clip->add_input("Yq");
    clip->add_input("lo");
    clip->add_input("hi");
    clip->add_output("Y");
  }
  static void add_constant(onnx::FunctionProto& f, const std::string& name, float v) {
    auto* c = f.add_node();
    c->set_op_type("Constant");
    c->add_output(name);
    auto* a = c->add_attribute();
    a->set_name("value_float");
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  // An initializer bound to the next node input, its data as raw little-endian bytes.
  template <typename V>
  onnx::TensorProto& add_input(const std::string& name, int32_t dtype, std::vector<int64_t> dims,
                               const std::vector<V>& values) {
    node->add_input(name);
    onnx::TensorProto* t = model.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(dtype);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(
        std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(V)));
    return *t;
  }
  void add_ints_attr(const std::string& name, std::vector<int64_t> v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  std::filesystem::path save(const std::string& test) const {
    const auto path = test_support::temp_dir(test) / "model.onnx";
    write_bytes(path, model.SerializeAsString());
    return path;
  }
};

// A QuantizedConv2DScaled on a (C=2, 4, 4) input with a (F=1, 2, 3, 3) kernel.
TinyModel tiny_conv(std::vector<int64_t> pads, int64_t stride,
                    std::vector<int64_t> dims = {2, 4, 4},
                    const std::string& op_type = "QuantizedConv2DScaled") {
  TinyModel m(op_type, {"W", "pads", "Scale", "Shift"}, dims);
  std::vector<int8_t> w(18);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i);
  m.add_input<int8_t>("w", onnx::TensorProto::INT8, {1, 2, 3, 3}, w);
  m.add_input<int64_t>("pads", onnx::TensorProto::INT64, {8}, pads);
  m.add_input<uint8_t>("scale", onnx::TensorProto::UINT8, {1, 1, 1, 1}, {200});
  m.add_input<float>("shift", onnx::TensorProto::FLOAT, {1, 1, 1, 1}, {64.0f});
  m.add_ints_attr("strides", {stride, stride});
  return m;
}

TEST(OnnxReader, TinyConvLayoutAndPaddingKinds) {
  {
    const auto path = tiny_conv({0, 0, 1, 1, 0, 0, 1, 1}, 1).save("onnx_tiny_same");
    const QuantizedGraph g = load_onnx(path.string());
    ASSERT_EQ(g.blocks.size(), 1u);
    const Block& b = g.blocks[0];
    EXPECT_EQ(g.input_shape, (akida::Shape{4, 4, 2}));
    EXPECT_TRUE(g.input_signed);
    EXPECT_FALSE(g.input_quantizer.has_value());
    EXPECT_EQ(b.padding, PaddingKind::Same);
    // W[f=0][c][kx][ky] = c*9 + kx*3 + ky.
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t x = 0; x < 3; ++x)
        for (int64_t y = 0; y < 3; ++y) EXPECT_EQ(at(b.weights, {x, y, c, 0}), c * 9 + x * 3 + y);
    EXPECT_EQ(b.output->scale, std::vector<int64_t>{200});
    EXPECT_EQ(b.output->shift, std::vector<int32_t>{-6});
    EXPECT_TRUE(b.bias.empty());
  }
  // Stride 2 on 4x4: TF same pads (0 before, 1 after); SameUpper puts the 1 before.
  EXPECT_EQ(load_onnx(tiny_conv({0, 0, 0, 0, 0, 0, 1, 1}, 2).save("onnx_tiny_s2").string())
                .blocks[0]
                .padding,
            PaddingKind::Same);
  EXPECT_EQ(load_onnx(tiny_conv({0, 0, 1, 1, 0, 0, 0, 0}, 2).save("onnx_tiny_up").string())
                .blocks[0]
                .padding,
            PaddingKind::SameUpper);
  EXPECT_EQ(load_onnx(tiny_conv({0, 0, 0, 0, 0, 0, 0, 0}, 1).save("onnx_tiny_valid").string())
                .blocks[0]
                .padding,
            PaddingKind::Valid);
  expect_error<akida::UnsupportedError>(
      tiny_conv({0, 0, 2, 0, 0, 0, 0, 0}, 1).save("onnx_tiny_bad_pads"),
      {"tiny_node", "QuantizedConv2DScaled", "pads"});
}

// A QuantizedConv2DLUTScaled: tiny_conv's formals plus ActScale / ActShift / LUT_values, and the
// LUT chain Clip(-1024, 1023) -> Cast -> Gather(LUT_values) placed before the final Clip.
TinyModel tiny_lut(size_t table_size) {
  TinyModel m("QuantizedConv2DLUTScaled",
              {"W", "pads", "ActScale", "ActShift", "LUT_values", "Scale", "Shift"}, {2, 4, 4});
  m.add_input<int8_t>("w", onnx::TensorProto::INT8, {1, 2, 3, 3}, std::vector<int8_t>(18, 1));
  m.add_input<int64_t>("pads", onnx::TensorProto::INT64, {8}, {0, 0, 1, 1, 0, 0, 1, 1});
  m.add_input<uint8_t>("act_scale", onnx::TensorProto::UINT8, {1, 1, 1, 1}, {160});
  m.add_input<float>("act_shift", onnx::TensorProto::FLOAT, {1, 1, 1, 1}, {4096.0f});
  // ONNX order: position k holds input value k (k < 1024) or k - 2048; value v -> 7 v + 1.
  std::vector<int32_t> table(table_size);
  for (size_t k = 0; k < table_size; ++k) {
    const int32_t v = k < table_size / 2 ? static_cast<int32_t>(k)
                                         : static_cast<int32_t>(k) - static_cast<int32_t>(table_size);
    table[k] = 7 * v + 1;
  }
  m.add_input<int32_t>("lut", onnx::TensorProto::INT32, {static_cast<int64_t>(table_size)}, table);
  m.add_input<uint8_t>("scale", onnx::TensorProto::UINT8, {1, 1, 1, 1}, {200});
  m.add_input<float>("shift", onnx::TensorProto::FLOAT, {1, 1, 1, 1}, {64.0f});
  m.add_ints_attr("strides", {1, 1});
  onnx::FunctionProto& f = *m.model.mutable_functions(0);
  TinyModel::add_constant(f, "lo11", -1024.0f);
  TinyModel::add_constant(f, "hi11", 1023.0f);
  auto add = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = f.add_node();
    n->set_op_type(op);
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
  };
  add("Clip", {"Conv/q", "lo11", "hi11"}, "Ys");
  add("Cast", {"Ys"}, "Ys/input_cast");
  add("Gather", {"LUT_values", "Ys/input_cast"}, "Ys/output_cast");
  // Move the final Clip (node 2) back to the end, where QuantizeML's bodies have it.
  for (int i = 2; i + 1 < f.node_size(); ++i) f.mutable_node()->SwapElements(i, i + 1);
  return m;
}

TEST(OnnxReader, LutReordersTheTableByInputValue) {
  const QuantizedGraph g = load_onnx(tiny_lut(2048).save("onnx_tiny_lut").string());
  const Block& b = g.blocks.at(0);
  ASSERT_TRUE(b.lut.has_value());
  EXPECT_FALSE(b.relu);
  EXPECT_EQ(b.lut->scale_out.scale, std::vector<int64_t>{160});
  EXPECT_EQ(b.lut->scale_out.shift, std::vector<int32_t>{-12});  // / 4096
  EXPECT_EQ(b.lut->scale_out.output_bits, 11);
  EXPECT_TRUE(b.lut->scale_out.output_signed);
  ASSERT_EQ(b.lut->table.size(), 2048u);
  EXPECT_EQ(b.lut->table[0], 7 * -1024 + 1);  // ONNX position 1024
  EXPECT_EQ(b.lut->table[1023], 7 * -1 + 1);  // ONNX position 2047
  EXPECT_EQ(b.lut->table[1024], 1);           // ONNX position 0
  EXPECT_EQ(b.lut->table[2047], 7 * 1023 + 1);
  EXPECT_EQ(b.output->output_bits, 8);  // the final Clip still sets the output range
  expect_error<akida::ShapeError>(tiny_lut(1024).save("onnx_tiny_lut_short"),
                                  {"tiny_node", "LUT_values", "expected 2048"});
}

// tiny_conv with MaxPool(kernel_shape 3, strides 2, pads=pool_pads) on its 4x4 output.
TinyModel tiny_conv_max_pool(std::vector<int64_t> conv_pads, std::vector<int64_t> pool_pads) {
  TinyModel m = tiny_conv(conv_pads, 1, {2, 4, 4}, "QuantizedConv2DMaxPoolScaled");
  m.add_ints_attr("pool_size", {3, 3});
  m.add_ints_attr("pool_strides", {2, 2});
  m.add_ints_attr("pool_pads", pool_pads);
  return m;
}

TEST(OnnxReader, MaxPoolKeepsItsOwnPadding) {
  // Pool 3, stride 2 on the 4x4 conv output: TF-same pads total max(3 - 2, 0) = 1, after:
  // [x0, y0, x1, y1] = [0, 0, 1, 1], out (4 + 1 - 3) / 2 + 1 = 2; Valid: (4 - 3) / 2 + 1 = 1.
  const std::vector<int64_t> same_conv = {0, 0, 1, 1, 0, 0, 1, 1};
  {
    const QuantizedGraph g =
        load_onnx(tiny_conv_max_pool(same_conv, {0, 0, 1, 1}).save("onnx_pool_same").string());
    const Block& b = g.blocks.at(0);
    EXPECT_EQ(b.padding, PaddingKind::Same);
    EXPECT_EQ(b.pool.kind, cnn2snn::PoolKind::Max);
    EXPECT_EQ(b.pool.size, 3);
    EXPECT_EQ(b.pool.stride, 2);
    EXPECT_EQ(b.pool.padding, PaddingKind::Same);
  }
  {
    // A Valid pool after a Same conv is read as such (the converter refuses it, not the reader).
    const QuantizedGraph g =
        load_onnx(tiny_conv_max_pool(same_conv, {0, 0, 0, 0}).save("onnx_pool_valid").string());
    EXPECT_EQ(g.blocks.at(0).padding, PaddingKind::Same);
    EXPECT_EQ(g.blocks.at(0).pool.padding, PaddingKind::Valid);
  }
  expect_error<akida::UnsupportedError>(
      tiny_conv_max_pool(same_conv, {1, 1, 1, 1}).save("onnx_pool_bad"),
      {"tiny_node", "attribute 'pool_pads' [1, 1, 1, 1]", "Valid [0, 0, 0, 0]",
       "Same [0, 0, 1, 1]"});
}

// Two 1x1 QuantizedConv2DScaled nodes "a" and "b" on an int8 (C=2, 1, 1) input, then the
// QuantizedAdd "add" of their outputs with multipliers Xs, Ys of shape (1, 2, 1, 1).
TinyModel tiny_add(const std::vector<int32_t>& xs, const std::vector<int32_t>& ys) {
  TinyModel m = tiny_conv({0, 0, 0, 0, 0, 0, 0, 0}, 1, {2, 1, 1});
  onnx::TensorProto* w = m.model.mutable_graph()->mutable_initializer(0);  // W (F=2, C=2, 1, 1)
  w->clear_dims();
  for (int64_t d : {2, 2, 1, 1}) w->add_dims(d);
  w->set_raw_data(std::string(4, '\1'));
  m.node->set_name("a");
  onnx::NodeProto* b = m.model.mutable_graph()->add_node();
  *b = *m.node;
  b->set_name("b");
  b->set_output(0, "y2");
  onnx::NodeProto* add = m.model.mutable_graph()->add_node();
  add->set_name("add");
  add->set_op_type("QuantizedAdd");
  add->set_domain("com.brainchip");
  for (const char* input : {"y", "y2"}) add->add_input(input);
  add->add_output("z");
  m.node = add;  // add_input binds the next operands to the Add
  m.add_input<int32_t>("xs", onnx::TensorProto::INT32, {1, 2, 1, 1}, xs);
  m.add_input<int32_t>("ys", onnx::TensorProto::INT32, {1, 2, 1, 1}, ys);
  onnx::FunctionProto* f = m.model.add_functions();
  f->set_name("QuantizedAdd");
  f->set_domain("com.brainchip");
  for (const char* formal : {"X", "Y", "Xs", "Ys"}) f->add_input(formal);
  f->add_output("Z");
  m.model.mutable_graph()->mutable_output(0)->set_name("z");
  return m;
}

TEST(OnnxReader, AddTakesPerChannelShifts) {
  // Xs {1, 8} = {2^0, 2^3}, Ys {4, 1} = {2^2, 2^0}.
  const QuantizedGraph g = load_onnx(tiny_add({1, 8}, {4, 1}).save("onnx_add").string());
  ASSERT_EQ(g.blocks.size(), 3u);
  const Block& add = block(g, "add");
  EXPECT_EQ(add.kind, BlockKind::Add);
  EXPECT_EQ(add.inbound, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(add.a_shift, (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(add.b_shift, (std::vector<int32_t>{2, 0}));
  // One channel's factor is not a power of two: the field and the value are named.
  expect_error<akida::UnsupportedError>(tiny_add({1, 8}, {4, 3}).save("onnx_add_bad"),
                                        {"node 'add'", "input 'Ys'", "3 is not a power of two"});
}

TEST(OnnxReader, DenseFlattenReordersChannelsFirstToChannelsLast) {
  // Input (C=2, X=2, Y=3); W (F=1, 12) indexed c*6 + x*3 + y in ONNX's channels-first Flatten.
  TinyModel m("QuantizedDense1DFlatten", {"W"}, {2, 2, 3});
  std::vector<int8_t> w(12);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i);
  m.add_input<int8_t>("w", onnx::TensorProto::INT8, {1, 12}, w);
  const QuantizedGraph g = load_onnx(m.save("onnx_dense").string());
  const Block& b = g.blocks.at(0);
  EXPECT_EQ(b.kind, BlockKind::Dense);
  ASSERT_EQ(b.weights.shape, (std::vector<int64_t>{12, 1}));
  EXPECT_FALSE(b.output.has_value());  // no "Scaled": the raw accumulator
  for (int64_t x = 0; x < 2; ++x)
    for (int64_t y = 0; y < 3; ++y)
      for (int64_t c = 0; c < 2; ++c)
        EXPECT_EQ(b.weights.values[(x * 3 + y) * 2 + c], c * 6 + x * 3 + y);
}

TEST(OnnxReader, UnknownBrainChipOpIsUnsupported) {
  TinyModel m("QuantizedFrobnicate2D", {}, {2, 4, 4});
  expect_error<akida::UnsupportedError>(m.save("onnx_unknown_op"),
                                        {"node 'tiny_node'", "QuantizedFrobnicate2D"});
  TinyModel suffix("QuantizedConv2DBiasedSparkly", {}, {2, 4, 4});
  expect_error<akida::UnsupportedError>(suffix.save("onnx_unknown_suffix"),
                                        {"tiny_node", "unknown suffix 'Sparkly'"});
}

TEST(OnnxReader, EveryUnsupportedNodeIsReportedInOneError) {
  // Two convs with unknown suffixes, both feeding the Add: both are named in one error; the Add,
  // fed only by refused nodes, is not reported again.
  TinyModel m = tiny_add({1, 1}, {1, 1});
  m.model.mutable_graph()->mutable_node(0)->set_op_type("QuantizedConv2DSparkly");
  m.model.mutable_graph()->mutable_node(1)->set_op_type("QuantizedConv2DFizzy");
  const auto path = m.save("onnx_two_bad_nodes");
  try {
    load_onnx(path.string());
    FAIL() << "expected UnsupportedError";
  } catch (const akida::UnsupportedError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path.string() + ": 2 nodes cannot be converted:", 0), 0u) << what;
    EXPECT_NE(what.find("\nnode 'a' (QuantizedConv2DSparkly): "), std::string::npos) << what;
    EXPECT_NE(what.find("unknown suffix 'Sparkly'"), std::string::npos) << what;
    EXPECT_NE(what.find("\nnode 'b' (QuantizedConv2DFizzy): "), std::string::npos) << what;
    EXPECT_EQ(what.find("node 'add'"), std::string::npos) << what;
  }
}

TEST(OnnxReader, RawDataSizeDisagreeingWithDimsIsAFormatError) {
  TinyModel m = tiny_conv({0, 0, 1, 1, 0, 0, 1, 1}, 1);
  // Claim a (1, 2, 3, 3) kernel (18 bytes) but store 10 bytes.
  onnx::TensorProto* w = m.model.mutable_graph()->mutable_initializer(0);
  w->set_raw_data(std::string(10, '\1'));
  expect_error<akida::FormatError>(
      m.save("onnx_bad_raw"),
      {"node 'tiny_node' (QuantizedConv2DScaled)", "input 'W'", "18 bytes", "raw_data has 10"});
  // Huge dims are refused before any allocation.
  w->clear_dims();
  for (int64_t d : {int64_t{1} << 20, int64_t{1} << 20, int64_t{2}, int64_t{1}}) w->add_dims(d);
  expect_error<akida::FormatError>(m.save("onnx_huge_dims"),
                                   {"tiny_node", "input 'W'", "elements"});
}

TEST(OnnxReader, NonPowerOfTwoShiftIsUnsupported) {
  TinyModel m = tiny_conv({0, 0, 1, 1, 0, 0, 1, 1}, 1);
  onnx::TensorProto* shift = m.model.mutable_graph()->mutable_initializer(3);
  const float three = 3.0f;
  shift->set_raw_data(std::string(reinterpret_cast<const char*>(&three), sizeof three));
  expect_error<akida::UnsupportedError>(m.save("onnx_bad_shift"),
                                        {"tiny_node", "input 'Shift'", "power of two"});
}

// The node name becomes the Akida layer's name, which JSON dumps and Python hold as UTF-8 (found
// by fuzz_onnx: `akida dump` of the converted model threw nlohmann's type_error). Messages quote
// such names escaped.
TEST(OnnxReader, NodeNameThatIsNotUtf8) {
  TinyModel m = tiny_conv({0, 0, 1, 1, 0, 0, 1, 1}, 1);
  m.node->set_name("conv\xff");
  expect_error<akida::FormatError>(m.save("onnx_name_utf8"),
                                   {"node 'conv\\xff' (QuantizedConv2DScaled): node name is not "
                                    "valid UTF-8"});
  m.node->set_name("conv\xc3\xa9");  // é
  EXPECT_EQ(load_onnx(m.save("onnx_name_utf8_ok").string()).blocks.at(0).name, "conv\xc3\xa9");
}

TEST(OnnxReader, StandardOnnxNodeIsUnsupported) {
  TinyModel m = tiny_conv({0, 0, 1, 1, 0, 0, 1, 1}, 1);
  m.node->set_domain("");
  expect_error<akida::UnsupportedError>(m.save("onnx_std_node"), {"tiny_node", "domain"});
}

}  // namespace
