#include "fuzz_support.h"

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <bit>
#include <map>
#include <random>

#include "akida/engine.h"
#include "akida/fbz.h"
#include "akida/json_dump.h"
#include "akida/shapes.h"
#include "akida/summary.h"
#include "cnn2snn/converter.h"
#include "cnn2snn/converter_v1.h"
#include "cnn2snn/pipeline.h"

namespace fuzz {
namespace {

// Work bounds for running a model on one sample: a fuzzer execution should take milliseconds.
constexpr int64_t kMaxValues = int64_t{1} << 15;      // every layer's outputs together
constexpr int64_t kMaxMultiplies = int64_t{1} << 19;  // see work_of()
// The JSON dump of long weight arrays repeats one loop: dumped only for models with fewer values.
constexpr size_t kMaxDumpedValues = size_t{1} << 14;

size_t variable_values(const akida::Model& model) {
  size_t values = 0;
  for (const auto& layer : model.layers)
    for (const auto& variable : layer.variables) values += variable.data.size();
  return values;
}

// An upper bound of one sample's multiply-adds for a layer: each input value meets at most every
// weight once (convolutions, dense layers), plus pooling windows over the output.
int64_t work_of(const akida::Layer& layer, int64_t input_values, int64_t output_values) {
  int64_t weights = 1;
  for (const auto& variable : layer.variables) weights += static_cast<int64_t>(variable.element_count());
  const int64_t window = std::max<int64_t>(
      1, int64_t{layer.param("pool_size", 1)} * layer.param("pool_size", 1) +
             int64_t{layer.param("pooling_width", 1)} * layer.param("pooling_height", 1));
  if (input_values > kMaxMultiplies / weights || output_values > kMaxMultiplies / window)
    return kMaxMultiplies + 1;
  return input_values * weights + output_values * window;
}

bool small_enough(const akida::Model& model, const std::vector<akida::Shape>& shapes) {
  std::map<std::string, int64_t> values_of;
  int64_t values = 0, work = 0;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const akida::Layer& layer = model.layers[i];
    int64_t input = i == 0 ? akida::model_input_shape(model).size() : 0;
    for (const auto& name : layer.inbound) input += values_of[name];
    values += shapes[i].size();
    work += work_of(layer, input, shapes[i].size());
    if (values > kMaxValues || work > kMaxMultiplies) return false;
    values_of[layer.name] = shapes[i].size();
  }
  return true;
}

akida::Batch one_sample(const akida::Engine& engine, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int32_t> value(engine.input_min(), engine.input_max());
  akida::Batch batch{1, engine.input_shape(), {}};
  batch.values.resize(static_cast<size_t>(batch.shape.size()));
  for (int32_t& v : batch.values) v = value(random);
  return batch;
}

// Bit for bit (floats included: both kernels must compute the same float operations).
template <typename T>
bool same_values(const akida::BatchOf<T>& a, const akida::BatchOf<T>& b) {
  return a.n == b.n && a.shape == b.shape &&
         std::equal(a.values.begin(), a.values.end(), b.values.begin(), b.values.end(),
                    [](T x, T y) { return std::bit_cast<uint32_t>(x) == std::bit_cast<uint32_t>(y); });
}

void run_both_kernels(const akida::Model& model, uint64_t seed) {
  std::optional<akida::Engine> reference;
  if (refused([&] { reference.emplace(model, akida::Kernels::Reference); })) return;
  std::optional<akida::Engine> fast;
  if (refused([&] { fast.emplace(model, akida::Kernels::Optimized); }))
    fail("the optimized kernels refuse a model the reference kernels accept");
  const akida::Batch input = one_sample(*reference, seed);
  const auto expected = reference->forward_all(input);
  const auto actual = fast->forward_all(input);
  for (size_t i = 0; i < expected.size(); ++i)
    if (!same_values(expected[i], actual[i]))
      fail("optimized and reference kernels differ at layer '" + model.layers[i].name + "'");
  reference->reset();
  fast->reset();
  if (!same_values(reference->predict(input), fast->predict(input)))
    fail("optimized and reference predict() differ");
}

// The writer stores each layer's variables sorted by name (as BrainChip's files are); the
// reader keeps the order it finds.
akida::Model sorted_variables(akida::Model model) {
  for (auto& layer : model.layers)
    std::sort(layer.variables.begin(), layer.variables.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
  return model;
}

}  // namespace

void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::abort();
}

uint64_t seed_of(std::span<const uint8_t> bytes) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (uint8_t b : bytes) hash = (hash ^ b) * 1099511628211ull;
  return hash;
}

void exercise_model(const akida::Model& model, uint64_t seed) {
  std::vector<akida::Shape> shapes;
  const bool has_shapes = !refused([&] { shapes = akida::infer_output_shapes(model); });
  refused([&] { akida::summary(model); });
  if (variable_values(model) <= kMaxDumpedValues) refused([&] { akida::dump_json(model).dump(); });
  std::vector<uint8_t> bytes;
  if (!refused([&] { bytes = akida::to_fbz_bytes(model); })) {
    akida::Model back;
    if (refused([&] { back = akida::read_fbz_bytes(bytes, "round trip"); }))
      fail("the .fbz reader refuses what the writer wrote");
    if (back.layers != sorted_variables(model).layers)
      fail("the .fbz round trip changed the layers");
  }
  if (has_shapes && small_enough(model, shapes)) run_both_kernels(model, seed);
}

void exercise_graph(const cnn2snn::QuantizedGraph& graph, bool v1, uint64_t seed) {
  if (v1) {
    refused([&] { cnn2snn::check_v1(graph); });
  } else {
    refused([&] { cnn2snn::check_v2(graph); });
    refused([&] { cnn2snn::check_v2_hardware(graph); });
  }
  akida::Model model;
  if (refused([&] { model = v1 ? cnn2snn::convert_to_akida_v1(graph)
                               : cnn2snn::convert_to_akida_v2(graph); }))
    return;
  exercise_model(model, seed);
  std::vector<akida::Shape> shapes;
  if (refused([&] { shapes = akida::infer_output_shapes(model); })) return;
  if (!small_enough(model, shapes)) return;
  refused([&] {
    const akida::Batch batch = cnn2snn::random_input_batch(graph, 1, seed);
    const cnn2snn::VerifyReport report = cnn2snn::verify(graph, model, batch);
    // Akida 1.0 cannot reproduce every level boundary (docs/akida-v1.md): only 2.0 must agree.
    if (!v1 && !report.all_equal())
      fail("the converted model differs from the reference evaluator:\n" +
           cnn2snn::format_report(report));
  });
}

}  // namespace fuzz
