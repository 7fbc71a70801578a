#include "akida/json_dump.h"

#include <gtest/gtest.h>

#include <cstring>

namespace akida {
namespace {

Variable raw_variable(const std::string& name, std::vector<uint32_t> shape, DType dtype,
                      std::vector<uint8_t> bytes) {
  Variable v;
  v.name = name;
  v.shape = std::move(shape);
  v.dtype = dtype;
  v.data = std::move(bytes);
  return v;
}

std::vector<uint8_t> float_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

Model small_v2_model() {
  Model m;
  m.version = "2.11.0";
  Layer dense;
  dense.name = "classifier";
  dense.kind = LayerKind::Dense1D;
  dense.parameters = {{"units", 2}, {"output_bits", 8}, {"activation", 0}};
  // int8 weights (2, 2): 0x80 = -128, 0x7f = 127, 0xff = -1.
  dense.variables.push_back(raw_variable("weights", {2, 2}, DType::Int8, {0x80, 0x7f, 0xff, 0x00}));
  // int32 little-endian: -2 then 70000 (0x00011170).
  dense.variables.push_back(
      raw_variable("bias32", {2}, DType::Int32, {0xfe, 0xff, 0xff, 0xff, 0x70, 0x11, 0x01, 0x00}));
  Layer deq;
  deq.name = "dequantizer";
  deq.kind = LayerKind::Dequantizer;
  deq.inbound = {"classifier"};
  deq.variables.push_back(
      raw_variable("scales", {2}, DType::Float32, float_bytes({0.1f, -3.0e-8f})));
  m.layers = {dense, deq};
  return m;
}

TEST(JsonDump, ModelFields) {
  const auto j = dump_json(small_v2_model(), Shape{1, 1, 2}, Shape{1, 1, 2});
  EXPECT_EQ(j.at("version"), "2.11.0");
  EXPECT_EQ(j.at("ip_version"), "2.0");
  EXPECT_EQ(j.at("input_shape"), nlohmann::json::array({1, 1, 2}));
  EXPECT_EQ(j.at("output_shape"), nlohmann::json::array({1, 1, 2}));
  ASSERT_EQ(j.at("layers").size(), 2u);
  const auto& dense = j.at("layers")[0];
  EXPECT_EQ(dense.at("name"), "classifier");
  EXPECT_EQ(dense.at("type"), "Dense1D");
  EXPECT_EQ(dense.at("inbound"), nlohmann::json::array());
  const nlohmann::json parameters = {
      {"layer_type", 25}, {"units", 2}, {"output_bits", 8}, {"activation", 0}};
  EXPECT_EQ(dense.at("parameters"), parameters);
  EXPECT_EQ(j.at("layers")[1].at("inbound"), nlohmann::json::array({"classifier"}));
  EXPECT_EQ(j.at("layers")[1].at("parameters"), nlohmann::json({{"layer_type", 19}}));
}

TEST(JsonDump, IntegerVariablesAreExactIntegers) {
  const auto j = dump_json(small_v2_model(), Shape{1, 1, 2}, Shape{1, 1, 2});
  const auto& vars = j.at("layers")[0].at("variables");
  EXPECT_EQ(vars.at("weights").at("shape"), nlohmann::json::array({2, 2}));
  EXPECT_EQ(vars.at("weights").at("dtype"), "int8");
  EXPECT_EQ(vars.at("weights").at("values"), nlohmann::json::array({-128, 127, -1, 0}));
  EXPECT_TRUE(vars.at("weights").at("values")[0].is_number_integer());
  EXPECT_EQ(vars.at("bias32").at("dtype"), "int32");
  EXPECT_EQ(vars.at("bias32").at("values"), nlohmann::json::array({-2, 70000}));
}

TEST(JsonDump, FloatVariablesKeepTheirExactFloat32ValueThroughText) {
  const auto j = dump_json(small_v2_model(), Shape{1, 1, 2}, Shape{1, 1, 2});
  const auto reread = nlohmann::json::parse(j.dump());
  const auto& scales = reread.at("layers")[1].at("variables").at("scales");
  EXPECT_EQ(scales.at("dtype"), "float32");
  EXPECT_EQ(static_cast<float>(scales.at("values")[0].get<double>()), 0.1f);
  EXPECT_EQ(scales.at("values")[0].get<double>(), static_cast<double>(0.1f));
  EXPECT_EQ(scales.at("values")[1].get<double>(), static_cast<double>(-3.0e-8f));
}

TEST(JsonDump, V1ModelWithoutVersionAndSmallDtypes) {
  Model m;
  Layer fc;
  fc.name = "dense";
  fc.kind = LayerKind::FullyConnected;
  fc.variables.push_back(raw_variable("weights", {3, 1, 1, 1}, DType::Int4, {0xf9, 0x07, 0x00}));
  fc.variables.push_back(raw_variable("edge", {2}, DType::Bit1, {1, 0}));
  m.layers = {fc};
  const auto j = dump_json(m, Shape{1, 1, 1}, Shape{1, 1, 3});
  EXPECT_TRUE(j.at("version").is_null());
  EXPECT_EQ(j.at("ip_version"), "1.0");
  const auto& vars = j.at("layers")[0].at("variables");
  EXPECT_EQ(vars.at("weights").at("dtype"), "int4");
  EXPECT_EQ(vars.at("weights").at("values"), nlohmann::json::array({-7, 7, 0}));
  EXPECT_EQ(vars.at("edge").at("dtype"), "bit1");
  EXPECT_EQ(vars.at("edge").at("values"), nlohmann::json::array({1, 0}));
}

}  // namespace
}  // namespace akida
