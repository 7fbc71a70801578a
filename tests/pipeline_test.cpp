// The cnn2snn pipeline (pipeline.h): loading by content, the target-version environment, inputs,
// and verify's comparison, including that it does see a difference.
#include "cnn2snn/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>

#include "akida/errors.h"
#include "akida/npy.h"
#include "cnn2snn/evaluator.h"
#include "test_support.h"

namespace {

using cnn2snn::AkidaVersion;
using cnn2snn::LayerVerdict;
using cnn2snn::ModelFormat;

const std::string kDsCnn = std::string(CNN2SNN_SOURCE_DIR) + "/examples/ds_cnn_kws_i8_w8_a8.h5";
const std::string kDsCnnSamples = std::string(CNN2SNN_SOURCE_DIR) + "/examples/ds_cnn_kws_samples.npy";

// Sets or clears the target variable for one test, restoring it afterwards.
class TargetEnvironment : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv(cnn2snn::kTargetVersionVariable)) saved_ = v;
    unsetenv(cnn2snn::kTargetVersionVariable);
  }
  void TearDown() override {
    if (saved_)
      setenv(cnn2snn::kTargetVersionVariable, saved_->c_str(), 1);
    else
      unsetenv(cnn2snn::kTargetVersionVariable);
  }
  std::optional<std::string> saved_;
};

std::string write_file(const std::string& name, const std::string& bytes) {
  const auto path = test_support::temp_dir("pipeline") / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}


TEST(PipelineLoad, DetectsFormatsByContent) {
  EXPECT_EQ(cnn2snn::detect_model_format(kDsCnn), ModelFormat::KerasH5);
  EXPECT_EQ(cnn2snn::detect_model_format(write_file("garbage.h5", "definitely not a model")),
            ModelFormat::Unknown);
  EXPECT_EQ(cnn2snn::detect_model_format(write_file("empty.onnx", "")), ModelFormat::Unknown);
  EXPECT_THROW(cnn2snn::detect_model_format("/nonexistent/model.h5"), akida::FormatError);
  const auto onnx = test_support::fixture("onnx/tennst_int8_quantizeml.onnx");
  const auto fbz = test_support::fixture("fbz/tennst_int8_v2_2.17.fbz");
  SKIP_WITHOUT_FIXTURE(onnx);
  SKIP_WITHOUT_FIXTURE(fbz);
  EXPECT_EQ(cnn2snn::detect_model_format(onnx.string()), ModelFormat::Onnx);
  EXPECT_EQ(cnn2snn::detect_model_format(fbz.string()), ModelFormat::AkidaFbz);
}

TEST(PipelineLoad, RefusesFbzAndUnknownFilesClearly) {
  const std::string garbage = write_file("garbage.bin", "definitely not a model");
  const std::string message = test_support::error_of([&] { cnn2snn::load_quantized_model(garbage); });
  EXPECT_EQ(message.rfind(garbage + ": not a quantized model", 0), 0u) << message;
  const auto fbz = test_support::fixture("fbz/tennst_int8_v2_2.17.fbz");
  SKIP_WITHOUT_FIXTURE(fbz);
  EXPECT_THROW(cnn2snn::load_quantized_model(fbz.string()), akida::UnsupportedError);
  EXPECT_NE(test_support::error_of([&] { cnn2snn::load_quantized_model(fbz.string()); })
                .find("is already an Akida model"),
            std::string::npos);
}

TEST_F(TargetEnvironment, ReadsTheVariableAsBrainChipDoes) {
  EXPECT_EQ(cnn2snn::target_akida_version(), AkidaVersion::v2);
  setenv(cnn2snn::kTargetVersionVariable, "v1", 1);
  EXPECT_EQ(cnn2snn::target_akida_version(), AkidaVersion::v1);
  setenv(cnn2snn::kTargetVersionVariable, "v2", 1);
  EXPECT_EQ(cnn2snn::target_akida_version(), AkidaVersion::v2);
  setenv(cnn2snn::kTargetVersionVariable, "v3", 1);
  EXPECT_EQ(test_support::error_of([] { cnn2snn::target_akida_version(); }),
            "CNN2SNN_TARGET_AKIDA_VERSION=v3 must be one of ['v1', 'v2']");
}

TEST_F(TargetEnvironment, ScopedVersionRestoresValueAndAbsence) {
  {
    cnn2snn::ScopedAkidaVersion v1(AkidaVersion::v1);
    EXPECT_EQ(cnn2snn::target_akida_version(), AkidaVersion::v1);
    {
      cnn2snn::ScopedAkidaVersion v2(AkidaVersion::v2);
      EXPECT_STREQ(std::getenv(cnn2snn::kTargetVersionVariable), "v2");
    }
    EXPECT_STREQ(std::getenv(cnn2snn::kTargetVersionVariable), "v1");
  }
  EXPECT_EQ(std::getenv(cnn2snn::kTargetVersionVariable), nullptr);
  // Also when unwinding, and a previous invalid value comes back as it was.
  setenv(cnn2snn::kTargetVersionVariable, "bogus", 1);
  try {
    cnn2snn::ScopedAkidaVersion v2(AkidaVersion::v2);
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  EXPECT_STREQ(std::getenv(cnn2snn::kTargetVersionVariable), "bogus");
}

// v1 routes to convert_to_akida_v1: an 8-bit QuantizeML graph is refused by its rules, naming
// the file, the layer and the field.
TEST_F(TargetEnvironment, ConvertV1RunsTheV1RulesOnTheGraph) {
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(kDsCnn);
  cnn2snn::ScopedAkidaVersion v1(AkidaVersion::v1);
  EXPECT_THROW(cnn2snn::convert(graph), akida::UnsupportedError);
  const std::string message = test_support::error_of([&] { cnn2snn::convert(graph); });
  EXPECT_NE(message.find(kDsCnn + ": cannot convert to Akida 1.0:"), std::string::npos) << message;
  EXPECT_NE(message.find("weights_bits: 8 bits"), std::string::npos) << message;
}

// Loading for v1: cnn2snn's v1 block search (the 8-bit model's GAP > Reshape is not a v1
// pattern), ONNX refused as BrainChip does. Legacy CNN2SNN models load for Akida 1.0 whatever
// the target.
TEST_F(TargetEnvironment, LoadingForV1) {
  cnn2snn::ScopedAkidaVersion v1(AkidaVersion::v1);
  EXPECT_NE(test_support::error_of([&] { cnn2snn::load_quantized_model(kDsCnn); })
                .find(kDsCnn + ": Model incompatible with akida v1 version."),
            std::string::npos);
  const std::string legacy =
      std::string(CNN2SNN_SOURCE_DIR) + "/examples/ds_cnn_kws_iq8_wq4_aq4_laq1.h5";
  EXPECT_TRUE(cnn2snn::load_quantized_model(legacy).legacy_cnn2snn);
  {
    cnn2snn::ScopedAkidaVersion v2(AkidaVersion::v2);
    const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(legacy);
    EXPECT_EQ(cnn2snn::convert(graph).ip_version(), akida::IpVersion::v1);
  }
  const auto onnx = test_support::fixture("onnx/tennst_int8_quantizeml.onnx");
  SKIP_WITHOUT_FIXTURE(onnx);
  EXPECT_NE(test_support::error_of([&] { cnn2snn::load_quantized_model(onnx.string()); })
                .find(onnx.string() + ": Akida v1 does not support ONNX models. Use Akida v2 "
                                      "instead."),
            std::string::npos);
}

TEST(PipelineInputs, RandomBatchesStayInRangeAndRepeat) {
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(kDsCnn);
  ASSERT_FALSE(graph.input_signed);
  const akida::Batch full = cnn2snn::random_input_batch(graph, 4, 7);
  EXPECT_EQ(full.n, 4);
  EXPECT_EQ(full.shape, graph.input_shape);
  EXPECT_EQ(*std::min_element(full.values.begin(), full.values.end()), 0);
  EXPECT_EQ(*std::max_element(full.values.begin(), full.values.end()), 255);
  EXPECT_EQ(cnn2snn::random_input_batch(graph, 4, 7).values, full.values);
  EXPECT_NE(cnn2snn::random_input_batch(graph, 4, 8).values, full.values);
  const akida::Batch small = cnn2snn::random_input_batch(graph, 4, 7, 4);
  EXPECT_EQ(*std::min_element(small.values.begin(), small.values.end()), 0);
  EXPECT_EQ(*std::max_element(small.values.begin(), small.values.end()), 4);
  cnn2snn::QuantizedGraph signed_graph = graph;
  signed_graph.input_signed = true;
  const akida::Batch s = cnn2snn::random_input_batch(signed_graph, 4, 7, 3);
  EXPECT_EQ(*std::min_element(s.values.begin(), s.values.end()), -3);
  EXPECT_EQ(*std::max_element(s.values.begin(), s.values.end()), 3);
}

TEST(PipelineInputs, ChecksDtypes) {
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(kDsCnn);
  akida::NpyArray floats{akida::NpyDType::Float32, {1, 49, 10, 1},
                         std::vector<uint8_t>(49 * 10 * 4)};
  EXPECT_THROW(cnn2snn::model_input_batch(graph, floats, "in.npy"), akida::ShapeError);
  akida::NpyArray int8s{akida::NpyDType::Int8, {1, 49, 10, 1}, std::vector<uint8_t>(49 * 10)};
  const std::string message = test_support::error_of([&] { cnn2snn::model_input_batch(graph, int8s, "in.npy"); });
  EXPECT_EQ(message, "in.npy: input dtype is int8, the model expects uint8");
}

TEST(PipelineVerify, ConvertedExampleEqualsTheEvaluator) {
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(kDsCnn);
  const akida::Model model = cnn2snn::convert(graph);
  const akida::Batch batch =
      cnn2snn::model_input_batch(graph, akida::read_npy(kDsCnnSamples), kDsCnnSamples);
  const cnn2snn::VerifyReport report = cnn2snn::verify(graph, model, batch);
  EXPECT_TRUE(report.all_equal()) << cnn2snn::format_report(report);
  ASSERT_EQ(report.layers.size(), model.layers.size());
  for (const auto& layer : report.layers) {
    EXPECT_EQ(layer.verdict, LayerVerdict::Equal) << layer.layer;
    EXPECT_GT(layer.compared_values, 0) << layer.layer;
    EXPECT_EQ(layer.differing_values, 0) << layer.layer;
    EXPECT_EQ(layer.max_abs_difference, 0.0) << layer.layer;
  }
  EXPECT_EQ(report.samples, batch.n);
  ASSERT_NE(report.output(), nullptr);
  EXPECT_EQ(report.output()->layer, "dequantizer");
  EXPECT_EQ(*report.output()->top1_agreeing, batch.n);
}

// A converted model with one layer's weights zeroed: verify must name that layer and the first
// differing value, and keep the layers before it equal.
TEST(PipelineVerify, FindsTheFirstDifferingLayerAndValue) {
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(kDsCnn);
  akida::Model model = cnn2snn::convert(graph);
  const auto target = std::find_if(model.layers.begin(), model.layers.end(),
                                   [](const akida::Layer& l) { return l.name == "pw_separable_2"; });
  ASSERT_NE(target, model.layers.end());
  for (akida::Variable& v : target->variables)
    if (v.name == "weights") std::fill(v.data.begin(), v.data.end(), 0);
  const akida::Batch batch = cnn2snn::random_input_batch(graph, 2, 1);
  const cnn2snn::VerifyReport report = cnn2snn::verify(graph, model, batch);
  EXPECT_FALSE(report.all_equal());
  const auto index = static_cast<size_t>(target - model.layers.begin());
  for (size_t i = 0; i < index; ++i)
    EXPECT_EQ(report.layers[i].verdict, LayerVerdict::Equal) << report.layers[i].layer;
  const cnn2snn::LayerComparison& bad = report.layers[index];
  EXPECT_EQ(bad.layer, "pw_separable_2");
  EXPECT_EQ(bad.kind, "Conv2D");
  ASSERT_EQ(bad.verdict, LayerVerdict::Different);
  ASSERT_TRUE(bad.difference.has_value());
  EXPECT_NE(bad.difference->expected, bad.difference->actual);
  EXPECT_LT(bad.difference->sample, batch.n);
  EXPECT_LT(bad.difference->x, bad.shape.x);
  EXPECT_LT(bad.difference->y, bad.shape.y);
  EXPECT_LT(bad.difference->c, bad.shape.c);
  const std::string text = cnn2snn::format_report(report);
  EXPECT_NE(text.find("pw_separable_2"), std::string::npos);
  EXPECT_NE(text.find("DIFFERENT (first at sample"), std::string::npos) << text;
}

// The DS-CNN example converted, and its classifier's variable `name` (dense_5, (64, 33) weights,
// 33 biases), for a test to perturb.
akida::Variable& classifier_variable(akida::Model& model, const std::string& name) {
  akida::Layer& dense = *std::find_if(model.layers.begin(), model.layers.end(),
                                      [](const akida::Layer& l) { return l.name == "dense_5"; });
  return *std::find_if(dense.variables.begin(), dense.variables.end(),
                       [&](const akida::Variable& v) { return v.name == name; });
}

// The classifier's bias of class 14 (the generated DS-CNN's usual top-1) set to -128: dense_5
// has no output stage, so channel 14 drops by exactly (bias + 128) << bias_shift on every sample
// and nothing else changes.
TEST(PipelineVerify, CountsDifferingValuesAndTop1Agreement) {
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(kDsCnn);
  akida::Model model = cnn2snn::convert(graph);
  constexpr size_t kClass = 14;
  akida::Variable& bias = classifier_variable(model, "bias");
  const int64_t old_bias = static_cast<int8_t>(bias.data[kClass]);
  ASSERT_GT(old_bias, -128);
  bias.data[kClass] = static_cast<uint8_t>(int8_t{-128});
  const int64_t shift = classifier_variable(model, "bias_shift").ints()[kClass];
  const akida::Batch batch = cnn2snn::random_input_batch(graph, 16, 5);
  const cnn2snn::VerifyReport report = cnn2snn::verify(graph, model, batch);

  const auto row = [&](const std::string& name) {
    return *std::find_if(report.layers.begin(), report.layers.end(),
                         [&](const auto& l) { return l.layer == name; });
  };
  const cnn2snn::LayerComparison d = row("dense_5");
  EXPECT_EQ(d.verdict, LayerVerdict::Different);
  EXPECT_EQ(d.compared_values, 16 * 33);
  EXPECT_EQ(d.differing_values, 16);  // channel 14 of every sample
  EXPECT_EQ(d.max_abs_difference, static_cast<double>((old_bias + 128) << shift));
  EXPECT_DOUBLE_EQ(d.differing_fraction(), 1.0 / 33);
  EXPECT_FALSE(d.top1_agreeing.has_value());  // not the output
  EXPECT_EQ(row("pw_separable_4").differing_values, 0);
  EXPECT_EQ(row("pw_separable_4").compared_values, 16 * 64);

  const cnn2snn::LayerComparison out = row("dequantizer");
  ASSERT_EQ(report.output(), &report.layers.back());
  EXPECT_EQ(out.differing_values, 16);
  ASSERT_TRUE(out.top1_agreeing.has_value());

  const std::string text = cnn2snn::format_report(report);
  EXPECT_NE(text.find("16 of 528 (3.03%)"), std::string::npos) << text;
  EXPECT_NE(text.find("top-1 agreement on dequantizer: "), std::string::npos) << text;
}

// Class 14's weights zeroed: on the bundled samples (mostly class 14) the top-1 moves. The
// agreement is counted here from the two sides' predictions.
TEST(PipelineVerify, Top1AgreementCountsSamplesWithTheSameArgmax) {
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(kDsCnn);
  akida::Model model = cnn2snn::convert(graph);
  akida::Variable& weights = classifier_variable(model, "weights");
  for (size_t i = 14; i < weights.data.size(); i += 33) weights.data[i] = 0;  // classes fastest
  const akida::Batch batch =
      cnn2snn::model_input_batch(graph, akida::read_npy(kDsCnnSamples), kDsCnnSamples);
  const cnn2snn::VerifyReport report = cnn2snn::verify(graph, model, batch);
  const akida::FloatBatch want = cnn2snn::Evaluator(graph).predict(batch);
  const akida::FloatBatch got = akida::Engine(model).predict(batch);
  const auto classes = static_cast<std::ptrdiff_t>(want.shape.size());
  int64_t agreeing = 0;
  for (int64_t n = 0; n < batch.n; ++n) {
    const auto w = want.values.begin() + n * classes, g = got.values.begin() + n * classes;
    agreeing += std::max_element(w, w + classes) - w == std::max_element(g, g + classes) - g;
  }
  EXPECT_LT(agreeing, batch.n) << "the perturbation should move some top-1";
  ASSERT_NE(report.output(), nullptr);
  EXPECT_EQ(report.output()->layer, "dequantizer");
  EXPECT_EQ(*report.output()->top1_agreeing, agreeing);
  EXPECT_NE(cnn2snn::format_report(report).find(
                "top-1 agreement on dequantizer: " +
                cnn2snn::count_with_percentage(agreeing, batch.n, "samples")),
            std::string::npos);
}

TEST(PipelineVerify, PercentagesAreNeverRoundedToTheEnds) {
  using cnn2snn::count_with_percentage;
  EXPECT_EQ(count_with_percentage(3, 4000), "3 of 4000 (0.075%)");
  EXPECT_EQ(count_with_percentage(0, 7), "0 of 7 (0%)");
  EXPECT_EQ(count_with_percentage(7, 7), "7 of 7 (100%)");
  EXPECT_EQ(count_with_percentage(1, 3), "1 of 3 (33.3%)");
  EXPECT_EQ(count_with_percentage(9999, 10000), "9999 of 10000 (>99.9%)");
  EXPECT_EQ(count_with_percentage(1, 100000000), "1 of 100000000 (<0.0001%)");
  EXPECT_EQ(count_with_percentage(6, 8, "samples"), "6 of 8 samples (75%)");
  EXPECT_EQ(count_with_percentage(0, 0), "0 of 0");
}

TEST(PipelineVerify, ReportsALayerMissingFromTheModel) {
  const cnn2snn::QuantizedGraph graph = cnn2snn::load_quantized_model(kDsCnn);
  akida::Model model = cnn2snn::convert(graph);
  model.layers.back().name = "renamed";  // the Dequantizer no longer matches its block
  const cnn2snn::VerifyReport report =
      cnn2snn::verify(graph, model, cnn2snn::random_input_batch(graph, 1, 0));
  EXPECT_FALSE(report.all_equal());
  const auto missing = std::find_if(report.layers.begin(), report.layers.end(),
                                    [](const auto& l) { return l.layer == "dequantizer"; });
  ASSERT_NE(missing, report.layers.end());
  EXPECT_EQ(missing->verdict, LayerVerdict::Different);
  EXPECT_NE(missing->detail.find("no Akida layer"), std::string::npos);
}

}  // namespace
