// Reading every real .fbz fixture, checking it against facts decoded independently (a separate
// Python decoder, listed in ../shared/docs/fixture-layers.txt), writing it back and re-reading.
#include <gtest/gtest.h>
#include <snappy.h>

#include <filesystem>
#include <map>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "test_support.h"

namespace {

using akida::DType;
using akida::LayerKind;
using akida::Model;
using akida::Parameters;

struct ExpectedVariable {
  const char* name;
  std::vector<uint32_t> shape;
  int32_t dtype_code;
};

struct ExpectedLayer {
  size_t index;
  const char* name;
  LayerKind kind;
  std::vector<std::string> inbound;
  std::vector<ExpectedVariable> variables;  // all of them, in file order
};

struct ExpectedFixture {
  const char* file;
  std::optional<std::string> version;
  size_t layer_count;
  size_t payload_bytes;  // the Snappy block's uncompressed length
  std::vector<ExpectedLayer> layers;
};

// From fixture-layers.txt (decoded with a separate Python reader), one or more layers per file.
const std::vector<ExpectedFixture>& expected_fixtures() {
  static const std::vector<ExpectedFixture> fixtures = {
      {"ei_fan_v1_2.3.3.fbz", "2.3.3", 4, 2884,
       {{0, "sequential_6_input", LayerKind::InputData, {}, {}},
        {1, "dense", LayerKind::FullyConnected, {"sequential_6_input"},
         {{"act_step", {20}, 1}, {"threshold", {20}, 0}, {"weights", {20, 39, 1, 1}, 7}}}}},
      {"ei_gesture_v1_pre2.3.fbz", std::nullopt, 5, 4916,
       {{1, "dense", LayerKind::FullyConnected, {"sequential_6_input"},
         {{"act_step", {35}, 1}, {"threshold", {35}, 0}, {"weights", {35, 51, 1, 1}, 3}}},
        {4, "y_pred", LayerKind::FullyConnected, {"dense_2"},
         {{"act_step", {4}, 1}, {"threshold", {4}, 0}, {"weights", {4, 10, 1, 1}, 7}}}}},
      {"ei_inventory_v1.fbz", "2.3.3", 8, 100988,
       {{0, "conv_0", LayerKind::InputConvolutional, {},
         {{"act_step", {16}, 1}, {"threshold", {16}, 0}, {"weights", {16, 3, 3, 3}, 3},
          {"wta_groups", {16}, 0}}},
        {4, "separable_4", LayerKind::SeparableConvolutional, {"conv_3"},
         {{"act_step", {128}, 1}, {"threshold", {128}, 0}, {"weights", {1, 64, 3, 3}, 7},
          {"weights_pw", {128, 64, 1, 1}, 7}}}}},
      {"ei_fomo_v1.fbz", std::nullopt, 8, 97540,
       {{7, "conv2d_1", LayerKind::Convolutional, {"conv2d"},
         {{"act_step", {2}, 1}, {"threshold", {2}, 0}, {"weights", {2, 32, 1, 1}, 7}}}}},
      {"akidanet_vww_i8_w8_a8_v2_2.11.fbz", "2.11.0", 26, 259428,
       {{0, "conv_0", LayerKind::InputConv2D, {},
         {{"bias", {8}, 3}, {"bias_shift", {8}, 2}, {"max_value", {8}, 2},
          {"max_value_shift", {8}, 2}, {"output_scales", {8}, 2}, {"output_shift", {8}, 3},
          {"padding_value", {3}, 2}, {"weights", {3, 3, 3, 8}, 3}}},
        {4, "dw_separable_4", LayerKind::DepthwiseConv2D, {"conv_3"},
         {{"bias", {32}, 3}, {"bias_shift", {32}, 2}, {"input_shift", {32}, 2},
          {"output_scales", {32}, 2}, {"output_shift", {32}, 3}, {"weights", {3, 3, 32, 1}, 3}}}}},
      {"hotdog_edge_v1_2021.fbz", std::nullopt, 16, 1928752,
       {{15, "akida_edge_layer", LayerKind::FullyConnected, {"spike_generator"},
         {{"threshold_fire", {10}, 0}, {"threshold_fire_step", {10}, 1},
          {"threshold_learning", {10}, 0}, {"thswap", {10}, 0},
          {"weights", {10, 2048, 1, 1}, 6}}}}},
      {"tennst_int8_v2_2.17.fbz", "2.17.0", 19, 1094536,
       {{0, "InputData_1", LayerKind::InputData, {}, {}},
        {1, "b6882e2b-3f26-46ac-88e2-a849e7b90584", LayerKind::BufferTempConv, {"InputData_1"},
         {{"bias", {8}, 3}, {"bias_shift", {8}, 2}, {"input_shift", {2}, 2},
          {"max_value", {8}, 2}, {"max_value_shift", {8}, 2}, {"output_scales", {8}, 2},
          {"output_shift", {8}, 3}, {"weights", {1, 1, 10, 8}, 3}}},
        {18, "dequantizer", LayerKind::Dequantizer, {"node_Conv_16"}, {{"scales", {3}, 1}}}}},
      {"tenn_v1.fbz", "2.17.0", 3, 37060,
       {{2, "dense", LayerKind::FullyConnected, {"separable_conv2d"},
         {{"act_step", {10}, 1}, {"threshold", {10}, 0}, {"weights", {10, 3136, 1, 1}, 7}}}}},
  };
  return fixtures;
}

size_t uncompressed_length(const std::vector<uint8_t>& container) {
  size_t n = 0;
  EXPECT_TRUE(snappy::GetUncompressedLength(reinterpret_cast<const char*>(container.data()),
                                            container.size(), &n));
  return n;
}

std::vector<uint8_t> first_bytes(const akida::Variable& variable, size_t count) {
  return {variable.data.begin(), variable.data.begin() + count};
}

Model read_fixture(const std::string& name) {
  return akida::read_fbz(test_support::fixture("fbz/" + name).string());
}

TEST(FbzFixtures, EveryFixtureHasExpectations) {
  const auto files = test_support::fixtures_with_extension("fbz", ".fbz");
  if (files.empty()) GTEST_SKIP() << "no .fbz fixtures (../shared/fixtures absent)";
  for (const auto& path : files) {
    bool listed = false;
    for (const auto& expected : expected_fixtures())
      listed = listed || path.filename() == expected.file;
    EXPECT_TRUE(listed) << path << " has no expectations in this test: add them";
  }
}

TEST(FbzFixtures, ReadMatchesIndependentDecoding) {
  for (const auto& expected : expected_fixtures()) {
    SCOPED_TRACE(expected.file);
    const auto path = test_support::fixture(std::string("fbz/") + expected.file);
    SKIP_WITHOUT_FIXTURE(path);
    // BrainChip's writer leaves the whole worst-case Snappy buffer: 32 + n + n/6 bytes.
    EXPECT_EQ(std::filesystem::file_size(path),
              32 + expected.payload_bytes + expected.payload_bytes / 6);
    const Model model = akida::read_fbz(path.string());
    EXPECT_EQ(model.version, expected.version);
    ASSERT_EQ(model.layers.size(), expected.layer_count);
    for (const auto& layer : expected.layers) {
      SCOPED_TRACE(layer.name);
      const auto& actual = model.layers.at(layer.index);
      EXPECT_EQ(actual.name, layer.name);
      EXPECT_EQ(actual.kind, layer.kind);
      EXPECT_EQ(actual.inbound, layer.inbound);
      EXPECT_FALSE(actual.has_param("layer_type"));
      ASSERT_EQ(actual.variables.size(), layer.variables.size());
      for (size_t v = 0; v < layer.variables.size(); ++v) {
        EXPECT_EQ(actual.variables[v].name, layer.variables[v].name);
        EXPECT_EQ(actual.variables[v].shape, layer.variables[v].shape);
        EXPECT_EQ(static_cast<int32_t>(actual.variables[v].dtype), layer.variables[v].dtype_code);
      }
    }
  }
}

TEST(FbzFixtures, VariableBytesMatchIndependentDecoding) {
  const auto fan = test_support::fixture("fbz/ei_fan_v1_2.3.3.fbz");
  SKIP_WITHOUT_FIXTURE(fan);
  const Model model = akida::read_fbz(fan.string());
  EXPECT_EQ(first_bytes(model.layer("dense").variable("weights"), 8),
            (std::vector<uint8_t>{3, 249, 6, 254, 6, 253, 255, 7}));
  EXPECT_EQ(model.layer("dense").variable("threshold").int_at(0), 6);
  EXPECT_EQ(model.layer("dense").variable("threshold").int_at(1), 8);

  const Model tennst = read_fixture("tennst_int8_v2_2.17.fbz");
  EXPECT_EQ(first_bytes(tennst.layer("node_Conv_1").variable("weights"), 8),
            (std::vector<uint8_t>{239, 223, 19, 49, 0, 201, 17, 254}));
  EXPECT_EQ(first_bytes(tennst.layer("dequantizer").variable("scales"), 8),
            (std::vector<uint8_t>{125, 117, 185, 57, 57, 116, 60, 57}));

  const Model hotdog = read_fixture("hotdog_edge_v1_2021.fbz");
  EXPECT_EQ(first_bytes(hotdog.layer("akida_edge_layer").variable("weights"), 8),
            (std::vector<uint8_t>{0, 0, 0, 1, 0, 0, 1, 0}));
  const Model fomo = read_fixture("ei_fomo_v1.fbz");
  EXPECT_EQ(first_bytes(fomo.layer("conv_0").variable("weights"), 8),
            (std::vector<uint8_t>{189, 97, 228, 35, 230, 250, 7, 69}));
}

TEST(FbzFixtures, KeyValueParametersAsStored) {
  const auto fan_path = test_support::fixture("fbz/ei_fan_v1_2.3.3.fbz");
  SKIP_WITHOUT_FIXTURE(fan_path);
  const Model fan = akida::read_fbz(fan_path.string());
  EXPECT_EQ(fan.layer("sequential_6_input").parameters,
            (Parameters{{"input_bits", 4}, {"input_channels", 39}, {"input_height", 1},
                        {"input_signed", 0}, {"input_width", 1}}));
  // activation 0 is omitted as a FlatBuffers default but its key is listed: it is kept.
  EXPECT_EQ(fan.layer("y_pred").parameters,
            (Parameters{{"act_bits", 1}, {"activation", 0}, {"units", 4}, {"weights_bits", 4}}));
  const Model tennst = read_fixture("tennst_int8_v2_2.17.fbz");
  EXPECT_EQ(tennst.layer("b6882e2b-3f26-46ac-88e2-a849e7b90584").parameters,
            (Parameters{{"activation", 1}, {"buffer_bits", 32}, {"fifo_size", 5}, {"filters", 8},
                        {"output_bits", 8}, {"post_op_buffer_bits", 32}, {"weights_bits", 8}}));
}

TEST(FbzFixtures, WriteThenReadGivesTheSameModel) {
  const auto files = test_support::fixtures_with_extension("fbz", ".fbz");
  if (files.empty()) GTEST_SKIP() << "no .fbz fixtures (../shared/fixtures absent)";
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    const Model model = akida::read_fbz(path.string());
    const auto bytes = akida::to_fbz_bytes(model);
    const size_t n = uncompressed_length(bytes);
    EXPECT_EQ(bytes.size(), 32 + n + n / 6);
    const Model again = akida::read_fbz_bytes(bytes, "rewritten.fbz");
    Model expected = model;
    expected.version = akida::kWriterVersion;  // the layout written is the current one
    EXPECT_EQ(again, expected);
    // Writing is deterministic: the same model gives the same bytes.
    EXPECT_EQ(akida::to_fbz_bytes(again), bytes);
  }
}

// The typed parameters of pre-2.3 files decode to the keys and values that akida 2.3.3 wrote for
// the same network (ei_fomo and ei_inventory come from the same project at two commits).
TEST(FbzFixtures, PreVersion23ParametersMatchTheir233Sibling) {
  const auto fomo_path = test_support::fixture("fbz/ei_fomo_v1.fbz");
  SKIP_WITHOUT_FIXTURE(fomo_path);
  const Model fomo = akida::read_fbz(fomo_path.string());
  const Model inventory = read_fixture("ei_inventory_v1.fbz");
  ASSERT_EQ(fomo.layers.size(), inventory.layers.size());
  for (size_t i = 0; i < fomo.layers.size(); ++i) {
    SCOPED_TRACE(fomo.layers[i].name);
    EXPECT_EQ(fomo.layers[i].kind, inventory.layers[i].kind);
    EXPECT_EQ(fomo.layers[i].parameters, inventory.layers[i].parameters);
  }
  // And literally, from the 2.3.3 file's key/value table:
  EXPECT_EQ(fomo.layer("conv_0").parameters,
            (Parameters{{"act_bits", 4}, {"activation", 1}, {"filters", 16},
                        {"input_channels", 3}, {"input_height", 224}, {"input_width", 224},
                        {"kernel_height", 3}, {"kernel_width", 3}, {"padding", 1},
                        {"padding_value", 0}, {"pool_type", 0}, {"pooling_height", -1},
                        {"pooling_stride_x", -1}, {"pooling_stride_y", -1},
                        {"pooling_width", -1}, {"stride_x", 2}, {"stride_y", 2},
                        {"weights_bits", 8}}));
}

TEST(FbzFixtures, PreVersion23DenseNetHasTheKeysOf233DenseNet) {
  const auto gesture_path = test_support::fixture("fbz/ei_gesture_v1_pre2.3.fbz");
  SKIP_WITHOUT_FIXTURE(gesture_path);
  const Model gesture = akida::read_fbz(gesture_path.string());
  // input_channels 51 = the inputs of dense's weights [35, 51, 1, 1]; units = their outputs.
  EXPECT_EQ(gesture.layer("sequential_6_input").parameters,
            (Parameters{{"input_bits", 4}, {"input_channels", 51}, {"input_height", 1},
                        {"input_signed", 0}, {"input_width", 1}}));
  // The first dense layer has 8-bit weights (dtype int8), the others 4-bit (int4).
  EXPECT_EQ(gesture.layer("dense").parameters,
            (Parameters{{"act_bits", 4}, {"activation", 1}, {"units", 35}, {"weights_bits", 8}}));
  EXPECT_EQ(gesture.layer("y_pred").parameters,
            (Parameters{{"act_bits", 1}, {"activation", 0}, {"units", 4}, {"weights_bits", 4}}));
}

TEST(FbzFixtures, EdgeLearningFileDecodesPoolingPaddingAndLearning) {
  const auto path = test_support::fixture("fbz/hotdog_edge_v1_2021.fbz");
  SKIP_WITHOUT_FIXTURE(path);
  const Model hotdog = akida::read_fbz(path.string());
  const auto& conv_0 = hotdog.layer("conv_0");
  EXPECT_EQ(conv_0.kind, LayerKind::InputConvolutional);
  EXPECT_EQ(conv_0.param("padding_value"), 128);
  EXPECT_EQ(conv_0.param("input_width"), 224);
  const auto& pooled = hotdog.layer("separable_6");
  EXPECT_EQ(pooled.param("pool_type"), 1);
  EXPECT_EQ(pooled.param("pooling_width"), 2);
  EXPECT_EQ(pooled.param("pooling_height"), 2);
  EXPECT_EQ(pooled.param("pooling_stride_x"), 2);
  EXPECT_EQ(pooled.param("pooling_stride_y"), 2);
  EXPECT_EQ(pooled.param("filters"), 256);
  EXPECT_EQ(hotdog.layer("separable_13").param("pool_type"), 2);
  EXPECT_EQ(hotdog.layer("separable_13").param("pooling_width"), -1);
  const auto& edge = hotdog.layer("akida_edge_layer");
  EXPECT_EQ(edge.parameters,
            (Parameters{{"act_bits", 1}, {"activation", 0}, {"learning_type", 1},
                        {"num_classes", 10}, {"num_weights", 350}, {"units", 10},
                        {"weights_bits", 1}}));
}

TEST(FbzWriter, WriteFileIsAtomicAndReadable) {
  const auto fan = test_support::fixture("fbz/ei_fan_v1_2.3.3.fbz");
  SKIP_WITHOUT_FIXTURE(fan);
  const Model model = akida::read_fbz(fan.string());
  const auto dir = test_support::temp_dir("fbz_write");
  const auto out = (dir / "out.fbz").string();
  akida::write_fbz(model, out);
  akida::write_fbz(model, out);  // replacing an existing file
  Model expected = model;
  expected.version = akida::kWriterVersion;
  EXPECT_EQ(akida::read_fbz(out), expected);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u) << "a temporary file was left behind";
}

TEST(FbzWriter, UnwritableDirectoryNamesThePath) {
  Model model;
  model.layers.push_back({"input", LayerKind::InputData, {{"input_bits", 8}}, {}, {}});
  const std::string path = "/nonexistent_dir_for_fbz_test/model.fbz";
  try {
    akida::write_fbz(model, path);
    FAIL() << "expected an error";
  } catch (const akida::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(FbzWriter, RejectsInconsistentModels) {
  Model model;
  model.layers.push_back({"input", LayerKind::InputData, {{"input_bits", 8}}, {}, {}});
  model.layers.push_back({"dense", LayerKind::Dense1D, {{"units", 2}},
                          {{"weights", {2, 3}, DType::Int8, {1, 2, 3, 4, 5}}}, {"input"}});
  try {
    akida::to_fbz_bytes(model);
    FAIL() << "expected a ShapeError";
  } catch (const akida::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'dense': variable 'weights'"), std::string::npos)
        << e.what();
  }
  model.layers[1].variables[0].data.push_back(6);
  EXPECT_NO_THROW(akida::to_fbz_bytes(model));
  model.layers[1].parameters["layer_type"] = 25;
  EXPECT_THROW(akida::to_fbz_bytes(model), akida::ShapeError);
  EXPECT_THROW(akida::to_fbz_bytes(Model{}), akida::ShapeError);
}

TEST(FbzWriter, SortsVariablesByName) {
  Model model;
  model.layers.push_back({"input", LayerKind::InputData, {}, {}, {}});
  model.layers.push_back({"dense", LayerKind::Dense1D, {{"units", 1}},
                          {{"weights", {1}, DType::Int8, {7}}, {"bias", {1}, DType::Int8, {9}}},
                          {"input"}});
  const Model again = akida::read_fbz_bytes(akida::to_fbz_bytes(model), "sorted.fbz");
  ASSERT_EQ(again.layers[1].variables.size(), 2u);
  EXPECT_EQ(again.layers[1].variables[0].name, "bias");
  EXPECT_EQ(again.layers[1].variables[1].name, "weights");
  EXPECT_EQ(again.layers[1].variables[1].data, std::vector<uint8_t>{7});
  EXPECT_EQ(again.layers[0].parameters, Parameters{});
}

}  // namespace
