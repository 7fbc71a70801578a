// The QuantizeML Keras .h5 front end, on the real ECG file, the generated DS-CNN example and the
// generated pattern models, and on broken files.
//
// Expected integers come from tests/py/quantizeml_reference_values.py, an independent numpy
// float32 derivation written from QuantizeML's formulas (akida-spec §2.1-2.2), run once:
//   /usr/bin/python3 tests/py/quantizeml_reference_values.py
//       ../shared/fixtures/h5/ecg_i8_w8_a8_quantizeml.h5 conv2d re_lu
// and pasted below. Shapes are checked by the reference evaluator, which validates every block
// against its inbound shapes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "akida/engine.h"
#include "akida/errors.h"
#include "cnn2snn/converter.h"
#include "cnn2snn/evaluator.h"
#include "cnn2snn/keras_reader.h"
#include "test_support.h"

namespace {

using cnn2snn::Block;
using cnn2snn::BlockKind;
using cnn2snn::load_keras_h5;
using cnn2snn::QuantizedGraph;

std::filesystem::path ecg_h5() { return test_support::fixture("h5/ecg_i8_w8_a8_quantizeml.h5"); }
std::filesystem::path source_dir() { return CNN2SNN_SOURCE_DIR; }

const Block& block(const QuantizedGraph& g, const std::string& name) {
  for (const Block& b : g.blocks)
    if (b.name == name) return b;
  throw std::runtime_error("no block " + name);
}

std::vector<std::string> names(const QuantizedGraph& g) {
  std::vector<std::string> out;
  for (const Block& b : g.blocks) out.push_back(b.name);
  return out;
}

// Runs /usr/bin/python3 with `arguments` from the project root (the test setup writes or patches
// .h5 files with the generator and h5py).
bool run_python(const std::string& arguments) {
  const std::string command =
      "cd '" + source_dir().string() + "' && /usr/bin/python3 " + arguments + " > /dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}
bool python(const std::string& code) { return run_python("-c \"" + code + "\""); }

template <typename E>
std::string error_of(const std::filesystem::path& path) {
  try {
    load_keras_h5(path.string());
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << path << " loaded without error";
  return "";
}

TEST(KerasReader, EcgBlocksAndShapes) {
  SKIP_WITHOUT_FIXTURE(ecg_h5());
  const QuantizedGraph g = load_keras_h5(ecg_h5().string());
  EXPECT_EQ(g.input_shape, (akida::Shape{128, 128, 1}));
  EXPECT_EQ(g.input_bits, 8);
  EXPECT_FALSE(g.input_signed);
  EXPECT_EQ(names(g), (std::vector<std::string>{"conv2d", "conv2d_1", "conv2d_2", "dense",
                                                "dense_1", "dequantizer"}));
  const Block& conv = block(g, "conv2d");
  EXPECT_EQ(conv.kind, BlockKind::InputConv2D);
  EXPECT_EQ(conv.source_layers,
            (std::vector<std::string>{"input_1", "conv2d", "max_pooling2d", "re_lu"}));
  EXPECT_TRUE(conv.inbound.empty());
  EXPECT_EQ(conv.weights.shape, (std::vector<int64_t>{3, 3, 1, 16}));
  EXPECT_EQ(conv.padding, cnn2snn::PaddingKind::Same);
  EXPECT_EQ(conv.pool.kind, cnn2snn::PoolKind::Max);
  EXPECT_EQ(conv.pool.size, 3);
  EXPECT_EQ(conv.pool.stride, 3);
  EXPECT_TRUE(conv.relu);
  EXPECT_TRUE(conv.relu_max.empty());  // max_value null: unbounded ReLU
  EXPECT_EQ(conv.buffer_bits, 28);
  EXPECT_TRUE(conv.input_shift.empty());
  ASSERT_TRUE(conv.output.has_value());
  EXPECT_EQ(conv.output->output_bits, 8);
  EXPECT_TRUE(conv.output->output_signed);

  const Block& conv1 = block(g, "conv2d_1");
  EXPECT_EQ(conv1.kind, BlockKind::Conv2D);
  EXPECT_EQ(conv1.inbound, (std::vector<std::string>{"conv2d"}));
  EXPECT_EQ(conv1.source_layers,
            (std::vector<std::string>{"dropout", "conv2d_1", "max_pooling2d_1", "re_lu_1"}));
  const Block& dense = block(g, "dense");
  EXPECT_EQ(dense.kind, BlockKind::Dense);
  EXPECT_EQ(dense.weights.shape, (std::vector<int64_t>{1600, 96}));
  EXPECT_TRUE(dense.output.has_value());
  const Block& last = block(g, "dense_1");
  EXPECT_EQ(last.kind, BlockKind::Dense);
  EXPECT_FALSE(last.output.has_value());  // no OutputQuantizer: the raw accumulator
  EXPECT_FALSE(last.relu);
  const Block& deq = block(g, "dequantizer");
  EXPECT_EQ(deq.kind, BlockKind::Dequantizer);
  EXPECT_EQ(deq.scales.size(), 5u);

  // The evaluator validates every block's shapes against its inbound ones.
  cnn2snn::Evaluator evaluator(g);
  EXPECT_EQ(evaluator.output_shape("conv2d"), (akida::Shape{43, 43, 16}));
  EXPECT_EQ(evaluator.output_shape("conv2d_2"), (akida::Shape{5, 5, 64}));
  EXPECT_EQ(evaluator.output_shape("dense_1"), (akida::Shape{1, 1, 5}));
}

TEST(KerasReader, EcgConv2dIntegersMatchTheNumpyReference) {
  SKIP_WITHOUT_FIXTURE(ecg_h5());
  const QuantizedGraph g = load_keras_h5(ecg_h5().string());
  const Block& conv = block(g, "conv2d");
  // quantizeml_reference_values.py: "weights_first_filter" (w[:, :, 0, 0], row-major)
  const std::vector<int64_t> first_filter = {47, -127, -44, -119, -88, -95, 32, -74, -23};
  for (size_t i = 0; i < first_filter.size(); ++i)
    EXPECT_EQ(conv.weights.values[i * 16], first_filter[i]) << "tap " << i;
  // "weights_flat_head"
  const std::vector<int64_t> head = {47, 19, -65, 127, -123, 58, 78, -113, 21, 51,
                                     -60, -51, 87, -5, -32, 75, -127, -15, -71, -66};
  EXPECT_EQ(std::vector<int64_t>(conv.weights.values.begin(), conv.weights.values.begin() + 20),
            head);
  // "bias": aligned on the accumulator (frac 0): e.g. bias[0] / scale = 137.08 needs 8 bits, so
  // it is quantized at frac -1 (round(68.54) = 69) and shifted back: 138.
  EXPECT_EQ(conv.bias, (std::vector<int64_t>{138, -176, 148, 106, 12, 20, -116, 17, 2, 52, 119,
                                             166, -288, 134, 16, 18}));
  // "output_scale" / "output_shift" (re_lu: per-tensor range_max 31.875 -> frac_out 2, but
  // per-channel accumulator scales, so per-channel output scales and shifts)
  EXPECT_EQ(conv.output->scale, (std::vector<int64_t>{231, 213, 196, 172, 147, 131, 176, 163, 227,
                                                      172, 239, 241, 144, 128, 230, 232}));
  EXPECT_EQ(conv.output->shift, (std::vector<int32_t>{-14, -14, -14, -13, -11, -11, -13, -12, -11,
                                                      -12, -14, -14, -14, -13, -12, -12}));
  EXPECT_EQ(conv.output->post_op_buffer_bits, 32);
}

// conv2d_2's kernel holds an exact tie: w / scale == -12.5 in float32 at flat index 8058
// (kx 1, ky 0, c 29, f 58), found by quantizeml_reference_values.py. tf.math.round rounds half
// to even: -12 (std::round, half away from zero, would give -13).
TEST(KerasReader, EcgWeightTieRoundsHalfToEven) {
  SKIP_WITHOUT_FIXTURE(ecg_h5());
  const QuantizedGraph g = load_keras_h5(ecg_h5().string());
  const Block& conv = block(g, "conv2d_2");
  ASSERT_EQ(conv.weights.shape, (std::vector<int64_t>{3, 3, 32, 64}));
  EXPECT_EQ(conv.weights.values[8058], -12);
  EXPECT_EQ(conv.weights.values[((1 * 3 + 0) * 32 + 29) * 64 + 58], -12);
}

TEST(KerasReader, DsCnnExample) {
  const auto path = source_dir() / "examples" / "ds_cnn_kws_i8_w8_a8.h5";
  ASSERT_TRUE(std::filesystem::exists(path));
  const QuantizedGraph g = load_keras_h5(path.string());
  EXPECT_EQ(g.input_shape, (akida::Shape{49, 10, 1}));
  ASSERT_EQ(g.blocks.size(), 11u);
  EXPECT_EQ(g.blocks[0].name, "conv_0");
  EXPECT_EQ(g.blocks[0].kind, BlockKind::InputConv2D);
  EXPECT_EQ(g.blocks[0].source_layers,
            (std::vector<std::string>{"input", "rescaling", "conv_0", "conv_0/relu"}));
  EXPECT_EQ(g.blocks[0].relu_max.size(), 64u);  // ReLU 3.75 on per-channel accumulator scales
  for (int k = 1; k <= 4; ++k) {
    const Block& dw = block(g, "dw_separable_" + std::to_string(k));
    EXPECT_EQ(dw.kind, BlockKind::DepthwiseConv2D);
    EXPECT_EQ(dw.weights.shape, (std::vector<int64_t>{3, 3, 64}));
    EXPECT_TRUE(dw.input_shift.empty());  // depthwise layers never shift their inputs
    ASSERT_TRUE(dw.output.has_value());   // the OutputQuantizer sits on the DW layer itself
    EXPECT_EQ(dw.output->shift.size(), 64u);
    const Block& pw = block(g, "pw_separable_" + std::to_string(k));
    EXPECT_EQ(pw.kind, BlockKind::Conv2D);
    EXPECT_EQ(pw.input_shift.size(), 64u);  // per-axis inputs expanded to the largest frac
  }
  const Block& gap = block(g, "pw_separable_4");
  EXPECT_EQ(gap.pool.kind, cnn2snn::PoolKind::GlobalAverage);
  const Block& dense = block(g, "dense_5");
  EXPECT_EQ(dense.kind, BlockKind::Dense);
  EXPECT_EQ(dense.source_layers,
            (std::vector<std::string>{"reshape_1", "flatten", "dense_5"}));
  EXPECT_EQ(g.blocks.back().kind, BlockKind::Dequantizer);  // act_softmax after it is dropped
  cnn2snn::Evaluator evaluator(g);
  EXPECT_EQ(evaluator.output_shape("dense_5"), (akida::Shape{1, 1, 33}));
}

class KerasPatternModels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test_support::temp_dir("keras_patterns");
    generated_ = run_python("-m tools.quantizeml_h5 --all '" + dir_.string() + "'");
  }
  static std::filesystem::path dir_;
  static bool generated_;
};
std::filesystem::path KerasPatternModels::dir_;
bool KerasPatternModels::generated_ = false;

BlockKind expected_kind(const std::string& stem) {
  if (stem.starts_with("input_conv2d")) return BlockKind::InputConv2D;
  if (stem.starts_with("conv2d")) return BlockKind::Conv2D;
  if (stem.starts_with("depthwise")) return BlockKind::DepthwiseConv2D;
  if (stem.starts_with("dense")) return BlockKind::Dense;
  if (stem.starts_with("add")) return BlockKind::Add;
  if (stem.starts_with("concatenate")) return BlockKind::Concatenate;
  return BlockKind::Dequantizer;
}

TEST_F(KerasPatternModels, EveryPatternModelLoads) {
  if (!generated_) GTEST_SKIP() << "/usr/bin/python3 with h5py is needed to generate the models";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().extension() != ".h5") continue;
    ++count;
    const std::string stem = entry.path().stem().string();
    SCOPED_TRACE(stem);
    try {
      const QuantizedGraph g = load_keras_h5(entry.path().string());
      const BlockKind kind = expected_kind(stem);
      const bool found = std::any_of(g.blocks.begin(), g.blocks.end(),
                                     [&](const Block& b) { return b.kind == kind; });
      EXPECT_TRUE(found) << "no block of kind " << cnn2snn::block_kind_name(kind);
      EXPECT_EQ(g.blocks.back().kind, BlockKind::Dequantizer);
      cnn2snn::Evaluator evaluator(g);  // shapes and values consistent
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  EXPECT_GE(count, 40);
}

// QuantizedAdd aligns its per-axis inputs channel by channel (add.py: a.align(b) takes the
// per-channel max of frac_bits). Both inputs come from 8-bit signed OutputQuantizers, so
// frac[c] = max_frac_bits(7, range_max[c]) = 7 - ceil(log2(range_max[c])); e.g. in add.h5,
// conv_a/relu range_max[0] = 1.838 gives frac 6 and stem_relu range_max[0] = 2.874 frac 5, so
// channel 0 shifts b by 1. Every value below, from the generated files (seeded, so stable):
//   import h5py, json, numpy as np
//   f = h5py.File(path)
//   add = next(l for l in json.loads(f.attrs['model_config'])['config']['layers']
//              if l['name'] == 'add')
//   def frac(n):
//       return 7 - np.ceil(np.log2(f['model_weights'][n][n]['output_quantizer']['range_max:0'][()]))
//   fa, fb = [frac(node[0]) for node in add['inbound_nodes'][0]]
//   print(np.maximum(fa, fb) - fa, np.maximum(fa, fb) - fb)
TEST_F(KerasPatternModels, AddShiftsAlignEachChannel) {
  if (!generated_) GTEST_SKIP() << "/usr/bin/python3 with h5py is needed to generate the models";
  struct Expected {
    std::string file;
    std::vector<std::string> inbound;
    std::vector<int32_t> a_shift, b_shift;
  };
  const std::vector<Expected> cases = {
      {"add.h5", {"conv_a", "stem_conv"}, {0, 0, 0, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0, 0, 1}},
      {"add_last.h5", {"conv_a", "stem_conv"}, {0, 0, 1, 0, 0, 0, 0, 1}, {0, 0, 0, 0, 0, 0, 1, 0}},
      {"add_two_branches.h5", {"conv_a", "conv_b"}, {0, 0, 0, 1, 0, 1, 0, 0},
       {0, 0, 0, 0, 0, 0, 0, 0}},
  };
  for (const Expected& e : cases) {
    SCOPED_TRACE(e.file);
    const QuantizedGraph g = load_keras_h5((dir_ / e.file).string());
    const Block* add = g.find("add");
    ASSERT_NE(add, nullptr);
    EXPECT_EQ(add->kind, BlockKind::Add);
    EXPECT_EQ(add->inbound, e.inbound);
    EXPECT_EQ(add->a_shift, e.a_shift);
    EXPECT_EQ(add->b_shift, e.b_shift);

    // End to end: the Akida Add layer holds the same shifts, and the converted model computes
    // exactly what the evaluator does (inputs cycling through the whole input range).
    const akida::Model model = cnn2snn::convert_to_akida_v2(g);
    const akida::Layer* layer = nullptr;
    for (const akida::Layer& l : model.layers)
      if (l.name == "add") layer = &l;
    ASSERT_NE(layer, nullptr);
    EXPECT_EQ(layer->variable("a_shift").ints(),
              std::vector<int64_t>(e.a_shift.begin(), e.a_shift.end()));
    EXPECT_EQ(layer->variable("b_shift").ints(),
              std::vector<int64_t>(e.b_shift.begin(), e.b_shift.end()));
    akida::Engine engine(model);
    akida::Batch input{2, g.input_shape, {}};
    const int32_t span = engine.input_max() - engine.input_min() + 1;
    for (int64_t i = 0; i < 2 * g.input_shape.size(); ++i)
      input.values.push_back(engine.input_min() + static_cast<int32_t>((i * 37) % span));
    cnn2snn::Evaluator evaluator(g);
    const akida::Batch want = evaluator.run(input);
    EXPECT_EQ(want.values.size(), static_cast<size_t>(2 * want.shape.size()));
    EXPECT_EQ(engine.forward(input).values, want.values);
  }
}

TEST(KerasReaderErrors, NotAnHdf5File) {
  const auto dir = test_support::temp_dir("keras_not_h5");
  const auto path = dir / "model.h5";
  std::ofstream(path) << "this is not an HDF5 file";
  const std::string message = error_of<akida::FormatError>(path);
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("not an HDF5 file"), std::string::npos) << message;
}

TEST(KerasReaderErrors, TruncatedFile) {
  SKIP_WITHOUT_FIXTURE(ecg_h5());
  const auto dir = test_support::temp_dir("keras_truncated");
  for (const double fraction : {0.5, 0.02}) {
    const auto path = dir / ("ecg_" + std::to_string(static_cast<int>(fraction * 100)) + ".h5");
    std::filesystem::copy_file(ecg_h5(), path, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(
        path, static_cast<uintmax_t>(static_cast<double>(std::filesystem::file_size(path)) * fraction));
    const std::string message = error_of<akida::FormatError>(path);
    EXPECT_EQ(message.rfind(path.string(), 0), 0u) << message;
  }
}

TEST(KerasReaderErrors, Hdf5WithoutModelConfig) {
  const auto dir = test_support::temp_dir("keras_no_config");
  const auto path = dir / "weights_only.h5";
  if (!python("import h5py, numpy; f = h5py.File('" + path.string() +
              "', 'w'); f['model_weights/dense/kernel:0'] = numpy.zeros((2, 2), 'f4')"))
    GTEST_SKIP() << "h5py is needed";
  const std::string message = error_of<akida::FormatError>(path);
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("model_config"), std::string::npos) << message;
}

// Copies a generated pattern model and rewrites layer classes in its model_config with h5py.
std::filesystem::path patched_model(const std::string& name,
                                    const std::vector<std::pair<std::string, std::string>>& classes) {
  const auto dir = test_support::temp_dir("keras_patched_" + name);
  const auto original = dir / "concatenate.h5", path = dir / (name + ".h5");
  if (!run_python("-m tools.quantizeml_h5 --pattern concatenate -o '" + original.string() + "'"))
    return {};
  std::string code = "import json, h5py, shutil; shutil.copy('" + original.string() + "', '" +
                     path.string() + "'); f = h5py.File('" + path.string() +
                     "', 'r+'); c = json.loads(f.attrs['model_config']); "
                     "layers = {l['name']: l for l in c['config']['layers']}; ";
  for (const auto& [layer, cls] : classes)
    code += "layers['" + layer + "']['class_name'] = '" + cls + "'; ";
  code += "f.attrs['model_config'] = json.dumps(c).encode('utf8'); f.close()";
  return python(code) ? path : std::filesystem::path();
}

TEST(KerasReaderErrors, UnsupportedLayersAreAllNamedAtOnce) {
  const auto path = patched_model("two_faulty", {{"conv_a", "Custom>QuantizedConv2DTranspose"},
                                                 {"head_conv", "Custom>QuantizedSeparableConv2D"}});
  if (path.empty()) GTEST_SKIP() << "h5py is needed";
  const std::string message = error_of<akida::UnsupportedError>(path);
  EXPECT_EQ(message.rfind(path.string(), 0), 0u) << message;
  EXPECT_NE(message.find("Invalid block found during conversion"), std::string::npos) << message;
  EXPECT_NE(message.find("QuantizedConv2DTranspose (conv_a)"), std::string::npos) << message;
  EXPECT_NE(message.find("QuantizedSeparableConv2D (head_conv)"), std::string::npos) << message;
  EXPECT_NE(message.find("Compatible patterns"), std::string::npos) << message;
}

TEST(KerasReaderErrors, MissingWeightNamesTheLayerAndVariable) {
  const auto dir = test_support::temp_dir("keras_missing_weight");
  const auto path = dir / "ecg.h5";
  if (!std::filesystem::exists(ecg_h5())) GTEST_SKIP() << "ECG fixture absent";
  std::filesystem::copy_file(ecg_h5(), path);
  if (!python("import h5py; f = h5py.File('" + path.string() +
              "', 'r+'); del f['model_weights/conv2d_1/conv2d_1/bias:0']; f.close()"))
    GTEST_SKIP() << "h5py is needed";
  const std::string message = error_of<akida::FormatError>(path);
  EXPECT_NE(message.find("layer 'conv2d_1'"), std::string::npos) << message;
  EXPECT_NE(message.find("bias"), std::string::npos) << message;
}

}  // namespace
