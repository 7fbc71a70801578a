// QuantizeML 4-bit models → Akida 1.0: the converted model, written to .fbz bytes and read back,
// run by akida::Engine gives exactly the integers the reference cnn2snn::Evaluator gives, at every
// layer, for random uint8 inputs (the v1 pattern models of tools/quantizeml_h5 --all-v1). Also the
// variable derivation on a hand-made graph, and the rules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <string>

#include "akida/engine.h"
#include "akida/errors.h"
#include "akida/fbz.h"
#include "akida/runtime/v1_activation.h"
#include "cnn2snn/converter_v1.h"
#include "cnn2snn/evaluator.h"
#include "cnn2snn/legacy_reader.h"
#include "test_support.h"

namespace {

using cnn2snn::Block;
using cnn2snn::BlockKind;
using cnn2snn::QuantizedGraph;

std::filesystem::path source_dir() { return CNN2SNN_SOURCE_DIR; }

// Models made by tools.quantizeml_h5 with `option` (--all-v1, --all-legacy) into a folder.
std::filesystem::path generated_models(const std::string& option) {
  const auto d = test_support::temp_dir("converter_v1_models" + option);
  const std::string command = "cd '" + source_dir().string() +
                              "' && /usr/bin/python3 -m tools.quantizeml_h5 " + option + " '" +
                              d.string() + "' > /dev/null 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return d;
}

// The 21 v1 pattern models, generated once per test binary run.
std::filesystem::path v1_models() {
  static const std::filesystem::path dir = generated_models("--all-v1");
  return dir;
}

std::vector<std::filesystem::path> h5_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".h5") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

akida::Batch random_images(const akida::Shape& shape, int64_t n, uint32_t seed) {
  akida::Batch batch{n, shape, {}};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pixel(0, 255);
  for (int64_t i = 0; i < n * shape.size(); ++i) batch.values.push_back(pixel(rng));
  return batch;
}

struct Comparison {
  int64_t values = 0;      // integers compared
  int64_t mismatches = 0;  // of which different
  int64_t on_exact = 0;    // of which at an exact neuron (fitted activation or potentials)
  int64_t unexplained = 0;  // differences at a fallback neuron not on a disagreeing level
                            // boundary of BrainChip's formula (docs/akida-v1.md)
  std::string first;       // the first mismatch, described
};

// Every block's evaluator output against its Akida layer's output. A layer without activation
// outputs the potential p, the evaluator acc + bias = p − threshold.
Comparison compare(const QuantizedGraph& graph, const akida::Model& model, const akida::Batch& in) {
  cnn2snn::Evaluator evaluator(graph);
  akida::Engine engine(model);
  const auto expected = evaluator.run_all(in);
  const auto actual = engine.forward_all(in);
  Comparison result;
  for (size_t b = 0; b < graph.blocks.size(); ++b) {
    const Block& block = graph.blocks[b];
    if (block.kind == BlockKind::Dequantizer) continue;
    size_t layer = 0;
    while (model.layers[layer].name != block.name) ++layer;
    const auto neuron = cnn2snn::v1_neuron_variables(graph, b);
    const akida::Batch& want = expected[b];
    const akida::Batch& got = actual[layer];
    EXPECT_EQ(want.values.size(), got.values.size()) << block.name;
    if (want.values.size() != got.values.size()) continue;
    const auto channels = static_cast<size_t>(want.shape.c);
    for (size_t i = 0; i < want.values.size(); ++i) {
      const size_t n = i % channels;
      const int64_t value = neuron.activation ? got.values[i] : got.values[i] - neuron.threshold[n];
      ++result.values;
      if (value == want.values[i]) continue;
      if (++result.mismatches == 1)
        result.first = "layer '" + block.name + "' value " + std::to_string(i) + " neuron " +
                       std::to_string(n) + ": evaluator " + std::to_string(want.values[i]) +
                       ", akida " + std::to_string(value) + " (threshold " +
                       std::to_string(neuron.threshold[n]) + ", act_step " +
                       std::to_string(neuron.act_step[n]) + ")";
    }
  }
  return result;
}

// One converted layer alone, fed the evaluator's output of the block before it: an InputData of
// that block's activation bits, then the layer (the first layer reads the model input itself).
akida::Model single_layer(const QuantizedGraph& graph, const akida::Model& model, size_t block) {
  const Block& b = graph.blocks[block];
  akida::Model one;
  one.version = model.version;
  for (const auto& l : model.layers)
    if (l.name == b.name) one.layers.push_back(l);
  if (b.inbound.empty()) {
    if (model.layers.front().kind == akida::LayerKind::InputData)
      one.layers.insert(one.layers.begin(), model.layers.front());
    return one;
  }
  const Block& prev = *graph.find(b.inbound.front());
  const akida::Shape s = cnn2snn::v1_output_shapes(graph).at(prev.name);
  akida::Layer input;
  input.name = prev.name;  // the layer's inbound name
  input.kind = akida::LayerKind::InputData;
  input.parameters = {{"input_bits", cnn2snn::v1_act_bits(prev)}, {"input_channels", int32_t(s.c)},
                      {"input_height", int32_t(s.y)}, {"input_signed", 0},
                      {"input_width", int32_t(s.x)}};
  one.layers.insert(one.layers.begin(), input);
  return one;
}

// Whether accumulator x = acc + bias (QuantizeML units) lies where the two level boundaries of
// docs/akida-v1.md disagree: B_n = ceil((n·2^k − 2^(k−1)) / s) (QuantizeML, round half up) and
// L_n = round_half_even(A/2) + floor((n − 1)·A) + 1 (Akida, A the float32 step).
bool on_disagreeing_boundary(int64_t x, int64_t s, int32_t shift, int32_t bits) {
  const int64_t k = -shift;
  if (k < 1 || k > 40) return false;
  const float a = std::ldexp(1.0f, static_cast<int>(k)) / static_cast<float>(s);
  const int64_t r = static_cast<int64_t>(std::nearbyint(0.5f * a));
  for (int64_t n = 1; n < (int64_t{1} << bits); ++n) {
    const int64_t num = n * (int64_t{1} << k) - (int64_t{1} << (k - 1));
    const int64_t quantizeml = (num + s - 1) / s;
    const int64_t akida =
        r + static_cast<int64_t>(std::floor(static_cast<long double>(n - 1) * a)) + 1;
    if (x >= std::min(quantizeml, akida) && x < std::max(quantizeml, akida)) return true;
  }
  return false;
}

// Each layer on the evaluator's own inputs: a difference is this layer's, not inherited.
Comparison compare_layers(const QuantizedGraph& graph, const akida::Model& model,
                          const akida::Batch& in, std::map<std::string, int64_t>& per_layer) {
  cnn2snn::Evaluator evaluator(graph);
  const auto expected = evaluator.run_all(in);
  Comparison result;
  for (size_t b = 0; b < graph.blocks.size(); ++b) {
    const Block& block = graph.blocks[b];
    if (block.kind == BlockKind::Dequantizer) continue;
    akida::Engine engine(single_layer(graph, model, b));
    size_t source = 0;
    if (!block.inbound.empty())
      while (graph.blocks[source].name != block.inbound.front()) ++source;
    const akida::Batch& layer_in = block.inbound.empty() ? in : expected[source];
    const akida::Batch got = engine.forward(layer_in);
    // The same layer without activation gives its potentials p; x = p + bias·positions.
    akida::Model potentials_model = single_layer(graph, model, b);
    potentials_model.layers.back().parameters["activation"] = 0;
    const akida::Batch potentials = akida::Engine(potentials_model).forward(layer_in);
    const auto neuron = cnn2snn::v1_neuron_variables(graph, b);
    const akida::Batch& want = expected[b];
    const auto channels = static_cast<size_t>(want.shape.c);
    for (size_t i = 0; i < want.values.size(); ++i) {
      const size_t n = i % channels;
      const int64_t value = neuron.activation ? got.values[i] : got.values[i] - neuron.threshold[n];
      ++result.values;
      if (value == want.values[i]) continue;
      ++result.mismatches;
      if (neuron.exact[n]) {
        ++result.on_exact;  // a fitted neuron, or a potential: must always be equal
      } else {
        const auto& o = *block.output;
        const float step = std::ldexp(1.0f, -(o.shift.size() == 1 ? o.shift[0] : o.shift[n])) /
                           static_cast<float>(o.scale.size() == 1 ? o.scale[0] : o.scale[n]);
        // A fallback neuron has BrainChip's threshold = −bias·positions + round(0.5f·step).
        const int64_t x = potentials.values[i] -
                          (neuron.threshold[n] - static_cast<int64_t>(std::nearbyint(0.5f * step)));
        if (!on_disagreeing_boundary(x, o.scale.size() == 1 ? o.scale[0] : o.scale[n],
                                     o.shift.size() == 1 ? o.shift[0] : o.shift[n], o.output_bits))
          ++result.unexplained;
      }
      if (++per_layer[block.name] == 1)
        result.first += "; layer '" + block.name + "' neuron " + std::to_string(n) + ": evaluator " +
                       std::to_string(want.values[i]) + ", akida " + std::to_string(value) +
                       " (threshold " + std::to_string(neuron.threshold[n]) + ", act_step " +
                       std::to_string(neuron.act_step[n]) + ")";
    }
  }
  return result;
}

// Whether every neuron of every activated layer was fitted (docs/akida-v1.md "Exact threshold
// and act_step"); `fitted` / `fallback` collect the activated layers with every neuron fitted /
// at least one neuron on BrainChip's formula ("name(fitted/neurons)"); `neurons` counts
// {fitted, all} activated neurons.
bool all_activations_fitted(const QuantizedGraph& graph, const std::string& model,
                            std::vector<std::string>& fitted, std::vector<std::string>& fallback,
                            std::pair<int64_t, int64_t>& neurons) {
  bool all = true;
  for (size_t b = 0; b < graph.blocks.size(); ++b) {
    if (graph.blocks[b].kind == BlockKind::Dequantizer) continue;
    const auto neuron = cnn2snn::v1_neuron_variables(graph, b);
    if (!neuron.activation) continue;
    const auto exact = std::count(neuron.exact.begin(), neuron.exact.end(), true);
    neurons.first += exact;
    neurons.second += static_cast<int64_t>(neuron.exact.size());
    (neuron.all_exact() ? fitted : fallback)
        .push_back(model + ":" + graph.blocks[b].name + "(" + std::to_string(exact) + "/" +
                   std::to_string(neuron.exact.size()) + ")");
    all = all && neuron.all_exact();
  }
  return all;
}

// Fitted layers (and potentials) must be exact for every value; a layer that kept BrainChip's
// formula may differ, but only on the level boundaries that formula gets wrong.
TEST(ConverterV1, EveryV1PatternModelEqualsTheEvaluator) {
  const auto files = h5_files(v1_models());
  ASSERT_EQ(files.size(), 21u);
  int64_t total = 0, compared_exact = 0;
  std::vector<std::string> fitted, fallback;
  std::pair<int64_t, int64_t> neurons{0, 0};
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    const QuantizedGraph graph = cnn2snn::load_keras_h5_v1(file.string());
    if (file.filename() == "v1_conv_relu_last.h5" || file.filename() == "v1_input_conv_relu_last.h5" ||
        file.filename() == "v1_dense_relu_last.h5") {
      // The last ReLU has no OutputQuantizer (the model ends there): cnn2snn's v1_relu_checks
      // refuses it ("output_quantizer is mandatory"), and so does check_v1.
      EXPECT_THROW(cnn2snn::convert_to_akida_v1(graph), akida::UnsupportedError);
      continue;
    }
    const akida::Model converted = cnn2snn::convert_to_akida_v1(graph);
    // The proof runs on what a user gets: the model written and read back.
    const auto bytes = akida::to_fbz_bytes(converted);
    const akida::Model model = akida::read_fbz_bytes(bytes, file.string());
    const akida::Batch in = random_images(graph.input_shape, 256, 7);
    std::map<std::string, int64_t> per_layer;
    const Comparison own = compare_layers(graph, model, in, per_layer);
    total += own.values;
    std::string layers;
    for (const auto& [name, count] : per_layer) layers += " " + name + ":" + std::to_string(count);
    EXPECT_EQ(own.on_exact, 0) << "fitted layers differ: " << own.mismatches << " of "
                               << own.values << " values (" << layers << "); first: " << own.first;
    EXPECT_EQ(own.unexplained, 0) << "fallback differences not explained by BrainChip's boundary "
                                  << "rounding (" << layers << "); first: " << own.first;
    if (all_activations_fitted(graph, file.stem().string(), fitted, fallback, neurons)) {
      // Every layer exact: so is the whole model, each layer fed the one before it.
      const Comparison c = compare(graph, model, in);
      compared_exact += c.values;
      EXPECT_EQ(c.mismatches, 0) << "whole model: " << c.mismatches << " of " << c.values
                                 << " values differ; first: " << c.first;
    }
  }
  std::string names;
  for (const auto& f : fallback) names += " " + f;
  std::cout << "[ V1 fit ] " << neurons.first << " of " << neurons.second
            << " activated neurons fitted exactly; " << fitted.size()
            << " activated layers fitted entirely, " << fallback.size()
            << " with neurons on BrainChip's formula (fitted/neurons):"
            << (names.empty() ? " none" : names) << "; whole models compared: " << compared_exact
            << " values\n";
  EXPECT_GT(total, 0);
  // The exactness assertion above must have had fitted neurons to check.
  EXPECT_GT(neurons.first, 0) << "no neuron was fitted: the exact check never ran";
}

// A one-neuron graph: InputConv2D, bias, ReLU, output scale and shift.
QuantizedGraph one_neuron(int64_t bias, int64_t scale, int32_t shift, int32_t bits) {
  QuantizedGraph g;
  g.input_shape = {4, 4, 1};
  g.input_bits = 8;
  Block b;
  b.name = "conv";
  b.kind = BlockKind::InputConv2D;
  b.weights = {{3, 3, 1, 1}, std::vector<int64_t>(9, 1)};
  b.padding = cnn2snn::PaddingKind::Same;
  b.bias = {bias};
  b.relu = true;
  b.relu_max = {100000};
  b.output = cnn2snn::OutputStage{{scale}, {shift}, 32, bits, false};
  g.blocks.push_back(b);
  return g;
}

// The level the runtime's own V1Activation gives potential p (one neuron).
int32_t akida_level(int64_t threshold, float act_step, int32_t bits, int64_t p) {
  akida::Layer layer;
  layer.name = "l";
  layer.kind = akida::LayerKind::FullyConnected;
  layer.parameters = {{"activation", 1}, {"act_bits", bits}};
  akida::Variable t{"threshold", {1}, akida::DType::Int32, std::vector<uint8_t>(4)};
  std::memcpy(t.data.data(), &threshold, 4);  // little-endian: the low 32 bits
  akida::Variable a{"act_step", {1}, akida::DType::Float32, std::vector<uint8_t>(4)};
  std::memcpy(a.data.data(), &act_step, 4);
  layer.variables = {a, t};
  return akida::runtime::V1Activation(layer, 1).output(p, 0);
}

// QuantizeML's level of accumulator x (bias included): round half up of x·s/2^k, 0..2^bits − 1.
int64_t quantizeml_level(int64_t x, int64_t s, int32_t k, int32_t bits) {
  if (x <= 0) return 0;
  return std::min((x * s + (int64_t{1} << (k - 1))) >> k, (int64_t{1} << bits) - 1);
}

// s = 7, k = 6 (docs/akida-v1.md): B_m = ceil((2m − 1)·32/7) = 5, 14, 23, 32, 42, ..., 133.
// 4 bits: q >= (42 − 5)/4 = 9.25 (m = 5) but q < (87 − 5 + 1)/9 = 9.22 (m = 10): no exact
// variables, BrainChip's kept: A = 64/7f, threshold = −100 + round(4.571) = −95 (one above
// B_1 − 1 − bias = −96: x = 5 is level 1 in QuantizeML, 0 here).
// 2 bits: boundaries 5, 14, 23, q ∈ [9, 9.5): threshold −96, q = 9, act_step = 9/4.
// Legacy CNN2SNN models (tools.quantizeml_h5 --all-legacy): each converted layer, fed the
// evaluator's input, equals the evaluator wherever its neurons were fitted (and for potentials);
// a neuron on BrainChip's legacy formula may differ only on a level boundary where that formula
// (threshold + floor((m − 1)·q) + 1) and the float model's (Block::levels) disagree.
TEST(ConverterV1, EveryLegacyPatternModelEqualsTheEvaluator) {
  const auto files = h5_files(generated_models("--all-legacy"));
  ASSERT_EQ(files.size(), 27u);
  std::pair<int64_t, int64_t> neurons{0, 0};
  int64_t compared = 0, whole = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    ASSERT_TRUE(cnn2snn::is_legacy_cnn2snn_h5(file.string()));
    const QuantizedGraph graph = cnn2snn::load_legacy_cnn2snn_h5(file.string());
    const akida::Model model =
        akida::read_fbz_bytes(akida::to_fbz_bytes(cnn2snn::convert_to_akida_v1(graph)), file.string());
    const akida::Batch in = random_images(graph.input_shape, 64, 11);
    const auto expected = cnn2snn::Evaluator(graph).run_all(in);
    bool all_fitted = true;
    for (size_t b = 0; b < graph.blocks.size(); ++b) {
      const Block& block = graph.blocks[b];
      if (block.kind == BlockKind::Dequantizer) continue;
      size_t source = 0;
      if (!block.inbound.empty())
        while (graph.blocks[source].name != block.inbound.front()) ++source;
      const akida::Batch got =
          akida::Engine(single_layer(graph, model, b)).forward(block.inbound.empty() ? in : expected[source]);
      const auto neuron = cnn2snn::v1_neuron_variables(graph, b);
      if (neuron.activation) {
        neurons.first += std::count(neuron.exact.begin(), neuron.exact.end(), true);
        neurons.second += static_cast<int64_t>(neuron.exact.size());
        all_fitted = all_fitted && neuron.all_exact();
      }
      const akida::Batch& want = expected[b];
      ASSERT_EQ(want.values.size(), got.values.size()) << block.name;
      const auto channels = static_cast<size_t>(want.shape.c);
      for (size_t i = 0; i < want.values.size(); ++i) {
        const size_t n = i % channels;
        const int64_t value = neuron.activation ? got.values[i] : got.values[i] - neuron.threshold[n];
        ++compared;
        if (value == want.values[i]) continue;
        ASSERT_TRUE(neuron.activation && !neuron.exact[n])
            << block.name << " neuron " << n << " (fitted or potential): evaluator "
            << want.values[i] << ", akida " << value;
        // Explained only if some level's two boundaries straddle the difference: the runtime's
        // level is the count of its own boundaries the potential reaches, the evaluator's the
        // count of the float model's; they differ by at most the levels whose boundaries differ.
        const auto& mine = block.levels->boundaries[block.levels->boundaries.size() == 1 ? 0 : n];
        const auto runtime = akida::runtime::V1Activation(
            [&] {
              akida::Layer l = model.layers[0];
              for (const auto& layer : model.layers)
                if (layer.name == block.name) l = layer;
              return l;
            }(),
            static_cast<int64_t>(channels));
        int64_t disagreeing = 0;
        for (size_t m = 0; m < mine.size(); ++m) {
          // Runtime boundary of level m + 1: the smallest potential with output > m.
          int64_t lo = mine[m] - (int64_t{1} << 40), hi = mine[m] + (int64_t{1} << 40);
          while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (runtime.output(mid, static_cast<int64_t>(n)) > static_cast<int32_t>(m)) hi = mid;
            else lo = mid + 1;
          }
          if (lo != mine[m]) ++disagreeing;
        }
        EXPECT_GT(disagreeing, 0) << block.name << " neuron " << n
                                  << ": differs although every boundary agrees";
      }
    }
    if (all_fitted) {
      const Comparison c = compare(graph, model, in);
      whole += c.values;
      EXPECT_EQ(c.mismatches, 0) << "whole model: " << c.first;
    }
  }
  std::cout << "[ legacy fit ] " << neurons.first << " of " << neurons.second
            << " activated neurons fitted exactly; " << compared << " values compared layer by "
            << "layer, " << whole << " in whole models with every neuron fitted\n";
  EXPECT_GT(neurons.first, 0) << "no neuron was fitted: the exact check never ran";
}

TEST(ConverterV1, NeuronVariablesFitOrFollowOutputsPy) {
  EXPECT_EQ(cnn2snn::quantizeml_v1_boundaries(7, -6, 2, 32), (std::vector<int64_t>{5, 14, 23}));
  EXPECT_EQ(cnn2snn::quantizeml_v1_boundaries(7, -6, 4, 32),
            (std::vector<int64_t>{5, 14, 23, 32, 42, 51, 60, 69, 78, 87, 96, 106, 115, 124, 133}));
  auto g = one_neuron(100, 7, -6, 4);
  auto v = cnn2snn::v1_neuron_variables(g, 0);
  EXPECT_EQ(v.threshold, std::vector<int64_t>{-95});
  EXPECT_EQ(v.act_step, std::vector<float>{64.0f / 7.0f});
  EXPECT_EQ(v.exact, std::vector<bool>{false});
  EXPECT_TRUE(cnn2snn::check_v1(g).empty());
  EXPECT_EQ(akida_level(-95, 64.0f / 7.0f, 4, 5 - 100), 0);  // BrainChip's error at level 1
  g.blocks[0].output->output_bits = 2;
  v = cnn2snn::v1_neuron_variables(g, 0);
  EXPECT_EQ(v.threshold, std::vector<int64_t>{-96});
  EXPECT_EQ(v.act_step, std::vector<float>{2.25f});
  EXPECT_EQ(v.exact, std::vector<bool>{true});
  for (int64_t x = -20; x <= 40; ++x)
    EXPECT_EQ(akida_level(-96, 2.25f, 2, x - 100), quantizeml_level(x, 7, 6, 2)) << "x " << x;
}

// s = 15, k = 8: A = 256/15 = 17.0667, BrainChip's threshold round(8.533) = 9 puts level 1 at
// x = 10, QuantizeML at B_1 = ceil(128/15) = 9. Boundaries 9, 26, 43, ..., 128, 146, ..., 248:
// q ∈ [137/8, 120/7) = [17.125, 17.1429), so threshold 8 − bias, act_step 17.125 (exact in
// float32), and every accumulator gets QuantizeML's level.
TEST(ConverterV1, FitIsExactWhereBrainChipIsOffAtLevelOne) {
  const auto boundaries = cnn2snn::quantizeml_v1_boundaries(15, -8, 4, 32);
  ASSERT_TRUE(boundaries);
  EXPECT_EQ(*boundaries, (std::vector<int64_t>{9, 26, 43, 60, 77, 94, 111, 128, 146, 163, 180,
                                               197, 214, 231, 248}));
  const auto fit = cnn2snn::fit_v1_neuron(*boundaries, -3, 4);
  ASSERT_TRUE(fit);
  EXPECT_EQ(fit->threshold, 11);  // B_1 − 1 − offset, offset = bias = −3
  EXPECT_EQ(fit->act_step, 17.125f);
  const auto v = cnn2snn::v1_neuron_variables(one_neuron(-3, 15, -8, 4), 0);
  EXPECT_EQ(v.threshold, std::vector<int64_t>{11});
  EXPECT_EQ(v.act_step, std::vector<float>{17.125f});
  EXPECT_EQ(v.exact, std::vector<bool>{true});
  for (int64_t x = -50; x <= 400; ++x)  // p = x − bias
    ASSERT_EQ(akida_level(11, 17.125f, 4, x + 3), quantizeml_level(x, 15, 8, 4)) << "x " << x;
  // BrainChip's variables are one off at x = 9: level 0 instead of 1.
  const float a = 256.0f / 15.0f;
  EXPECT_EQ(akida_level(3 + 9, a, 4, 9 + 3), 0);
  EXPECT_EQ(quantizeml_level(9, 15, 8, 4), 1);
}

// The interval is empty (s = 7, k = 6 above); boundaries not non-decreasing, or of the wrong
// count, give no fit either.
TEST(ConverterV1, FitRefusesWhatNoFloatCanGive) {
  EXPECT_FALSE(cnn2snn::fit_v1_neuron(*cnn2snn::quantizeml_v1_boundaries(7, -6, 4, 32), 0, 4));
  EXPECT_FALSE(cnn2snn::fit_v1_neuron({5, 4, 23}, 0, 2));
  EXPECT_FALSE(cnn2snn::fit_v1_neuron({5, 14}, 0, 2));
  // Saturation of x·s before the top level: those boundaries are not QuantizeML's levels.
  EXPECT_FALSE(cnn2snn::quantizeml_v1_boundaries(1, -30, 4, 32));
}

TEST(ConverterV1, RulesReportEveryViolationWithLayerValueAndLimit) {
  QuantizedGraph g;
  g.source = "m.h5";
  g.input_shape = {8, 8, 3};
  g.input_bits = 8;
  Block in;
  in.name = "stem";
  in.kind = BlockKind::InputConv2D;
  in.weights = {{3, 3, 3, 2}, std::vector<int64_t>(54, 1)};
  in.padding = cnn2snn::PaddingKind::Same;
  in.relu = true;  // unbounded, and no output quantizer
  Block conv;
  conv.name = "conv";
  conv.kind = BlockKind::Conv2D;
  conv.inbound = {"stem"};
  conv.weights = {{4, 4, 2, 1}, std::vector<int64_t>(32, 9)};  // 4x4, 9 > 7 for 4 bits
  conv.weights_bits = 4;
  conv.padding = cnn2snn::PaddingKind::Same;
  conv.lut.emplace();  // Akida 2.0 only
  g.blocks = {in, conv};
  const auto problems = cnn2snn::check_v1(g);
  std::string all;
  for (const auto& p : problems) all += cnn2snn::to_string(p) + "\n";
  EXPECT_NE(all.find("layer 'stem': output: in AkidaVersion.v1, output_quantizer is mandatory"),
            std::string::npos) << all;
  EXPECT_NE(all.find("layer 'stem': relu_max: in AkidaVersion.v1, unbounded QuantizedReLU is not "
                     "supported"), std::string::npos) << all;
  EXPECT_NE(all.find("layer 'conv': weights[0]: 9 does not fit 4-bit weights (-7..7)"),
            std::string::npos) << all;
  EXPECT_NE(all.find("layer 'conv': kernel_size: kernel 4x4 not supported (Conv2D: 1, 3, 5, 7)"),
            std::string::npos) << all;
  EXPECT_NE(all.find("layer 'conv': lut: Akida 1.0 has no LUT activation"), std::string::npos)
      << all;
  try {
    cnn2snn::convert_to_akida_v1(g);
    FAIL() << "expected UnsupportedError";
  } catch (const akida::UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("m.h5: cannot convert to Akida 1.0:"), std::string::npos);
  }
}

}  // namespace
