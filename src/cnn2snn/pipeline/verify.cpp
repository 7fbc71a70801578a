// `verify`: the proof that a conversion is right. The reference evaluator (QuantizeML's
// arithmetic on the QuantizedGraph) and the Akida runtime (the converted model) run the same
// integer batch; every block must equal the Akida layer of the same name, value for value.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "akida/errors.h"
#include "akida/progress.h"
#include "cnn2snn/evaluator.h"
#include "cnn2snn/pipeline.h"

namespace cnn2snn {
namespace {

// Position of sample k's i-th value (row-major: sample, then x, y, c).
Difference difference_at(const akida::Shape& s, int64_t k, double expected, double actual) {
  return Difference{k / s.size(), k / (s.y * s.c) % s.x, k / s.c % s.y, k % s.c, expected, actual};
}

// Counts the differing values, their largest |difference| and the first of them.
template <typename T>
void count_differences(const akida::BatchOf<T>& expected, const akida::BatchOf<T>& actual,
                       LayerComparison& row) {
  row.compared_values = static_cast<int64_t>(expected.values.size());
  for (size_t i = 0; i < expected.values.size(); ++i) {
    if (expected.values[i] == actual.values[i]) continue;
    const auto e = static_cast<double>(expected.values[i]);
    const auto a = static_cast<double>(actual.values[i]);
    if (++row.differing_values == 1)
      row.difference = difference_at(expected.shape, static_cast<int64_t>(i), e, a);
    row.max_abs_difference = std::max(row.max_abs_difference, std::abs(a - e));
  }
}

// The samples whose largest value (the first on ties) is at the same position on both sides.
template <typename T>
int64_t top1_agreeing(const akida::BatchOf<T>& expected, const akida::BatchOf<T>& actual) {
  const auto size = static_cast<std::ptrdiff_t>(expected.shape.size());
  int64_t agreeing = 0;
  for (int64_t n = 0; n < expected.n && size > 0; ++n) {
    const auto e = expected.values.begin() + n * size, a = actual.values.begin() + n * size;
    agreeing += std::max_element(e, e + size) - e == std::max_element(a, a + size) - a;
  }
  return agreeing;
}

// Fills the verdict of a layer whose block output is known; `is_output` adds the top-1
// agreement.
template <typename T>
void compare(const akida::BatchOf<T>& expected, const akida::BatchOf<T>& actual,
             LayerComparison& row, bool is_output) {
  if (expected.shape != actual.shape || expected.n != actual.n ||
      expected.values.size() != actual.values.size()) {
    row.verdict = LayerVerdict::Different;
    row.detail = "evaluator gives " + std::to_string(expected.n) + " x " +
                 akida::to_string(expected.shape) + ", Akida " + std::to_string(actual.n) +
                 " x " + akida::to_string(actual.shape);
    return;
  }
  count_differences(expected, actual, row);
  row.verdict = row.difference ? LayerVerdict::Different : LayerVerdict::Equal;
  if (is_output) row.top1_agreeing = top1_agreeing(expected, actual);
}

// A row not compared yet.
LayerComparison unverified_row(std::string layer, std::string kind, akida::Shape shape) {
  LayerComparison row;
  row.layer = std::move(layer);
  row.kind = std::move(kind);
  row.shape = shape;
  return row;
}

// Both sides' float outputs of a final Dequantizer, each from a fresh start (FIFOs empty).
void compare_predictions(Evaluator& evaluator, akida::Engine& engine, const akida::Batch& batch,
                         LayerComparison& row) {
  evaluator.reset();
  engine.reset();
  compare(evaluator.predict(batch), engine.predict(batch), row, /*is_output=*/true);
}

// An Akida 1.0 layer without activation outputs its potential p, where the block's accumulator
// is acc + bias = p − threshold (the converter puts −bias in threshold): the Akida side in the
// block's units, per channel (the last axis). Other layers are returned unchanged.
akida::Batch in_block_units(const akida::Layer& layer, akida::Batch batch) {
  const bool v1_neural = layer.kind == akida::LayerKind::InputConvolutional ||
                         layer.kind == akida::LayerKind::Convolutional ||
                         layer.kind == akida::LayerKind::SeparableConvolutional ||
                         layer.kind == akida::LayerKind::FullyConnected;
  const akida::Variable* threshold = layer.find_variable("threshold");
  if (!v1_neural || layer.param("activation") != 0 || threshold == nullptr) return batch;
  const std::vector<int64_t> t = threshold->ints();
  const auto channels = static_cast<size_t>(batch.shape.c);
  if (t.size() != channels) return batch;  // the runtime refused such a layer already
  for (size_t i = 0; i < batch.values.size(); ++i)
    batch.values[i] = static_cast<int32_t>(batch.values[i] - t[i % channels]);
  return batch;
}

}  // namespace

double LayerComparison::differing_fraction() const {
  return compared_values == 0 ? 0.0
                              : static_cast<double>(differing_values) /
                                    static_cast<double>(compared_values);
}

const LayerComparison* VerifyReport::output() const {
  for (auto row = layers.rbegin(); row != layers.rend(); ++row)
    if (row->top1_agreeing) return &*row;
  return nullptr;
}

bool VerifyReport::all_equal() const {
  return std::none_of(layers.begin(), layers.end(), [](const LayerComparison& l) {
    return l.verdict == LayerVerdict::Different;
  });
}

VerifyReport verify(const QuantizedGraph& graph, const akida::Model& model,
                    const akida::Batch& batch, bool show_progress) {
  // Samples to run: once on each side, and once more on each for a final Dequantizer's floats.
  const bool floats = !graph.blocks.empty() && graph.blocks.back().kind == BlockKind::Dequantizer;
  const int64_t passes = floats ? 4 : 2;
  akida::Progress progress("verify, " + std::to_string(passes) + " passes", batch.n * passes,
                           show_progress && akida::Progress::stderr_is_terminal());
  Evaluator evaluator(graph);
  akida::Engine engine(model);
  evaluator.set_progress(&progress);
  engine.set_progress(&progress);
  // Fresh objects: both start with empty FIFOs, so the batch is the same sequence of frames.
  const std::vector<akida::Batch> expected = evaluator.run_all(batch);
  const std::vector<akida::Batch> actual = engine.forward_all(batch);

  std::map<std::string, size_t> block_index;
  for (size_t i = 0; i < graph.blocks.size(); ++i) block_index[graph.blocks[i].name] = i;

  VerifyReport report;
  report.samples = batch.n;
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const akida::Layer& layer = model.layers[l];
    LayerComparison row = unverified_row(layer.name, std::string(akida::name_of(layer.kind)),
                                         engine.output_shapes()[l]);
    const auto found = block_index.find(layer.name);
    if (found == block_index.end()) {
      if (layer.kind != akida::LayerKind::InputData) {
        row.verdict = LayerVerdict::Different;
        row.detail = "no block of this name in the quantized model";
      }
    } else if (graph.blocks[found->second].kind == BlockKind::Dequantizer) {
      // Only a final Dequantizer has floats to compare: predict() returns the last layer's.
      if (l + 1 == model.layers.size() && found->second + 1 == graph.blocks.size())
        compare_predictions(evaluator, engine, batch, row);
      else
        row.detail = "a Dequantizer before the end: its floats are not observable";
    } else {
      compare(expected[found->second], in_block_units(layer, actual[l]), row,
              /*is_output=*/l + 1 == model.layers.size());
    }
    block_index.erase(layer.name);
    report.layers.push_back(std::move(row));
  }
  // Akida 1.0 folds a final Dequantizer into the last layer's act_step: predict() gives its
  // floats, (p − threshold) / act_step, to compare with the Dequantizer's.
  const auto folded = block_index.find(graph.blocks.empty() ? "" : graph.blocks.back().name);
  if (folded != block_index.end() && graph.blocks.back().kind == BlockKind::Dequantizer &&
      !model.layers.empty() && akida::name_of(model.layers.back().kind) != "InputData" &&
      model.layers.back().find_variable("act_step") != nullptr) {
    LayerComparison row =
        unverified_row(folded->first, "Dequantizer (in " + model.layers.back().name + ")",
                       engine.output_shapes().back());
    compare_predictions(evaluator, engine, batch, row);
    report.layers.push_back(std::move(row));
    block_index.erase(folded);
  }
  for (const auto& [name, index] : block_index) {
    LayerComparison row = unverified_row(name, block_kind_name(graph.blocks[index].kind), {});
    row.verdict = LayerVerdict::Different;
    row.detail = "no Akida layer of this name in the converted model";
    report.layers.push_back(std::move(row));
  }
  progress.finish();
  return report;
}

namespace {

std::string value_text(double v) {
  std::ostringstream out;
  out.precision(9);  // enough to tell two float32 values apart
  out << v;
  return out.str();
}

std::string verdict_text(const LayerComparison& row) {
  switch (row.verdict) {
    case LayerVerdict::Equal: return "equal";
    case LayerVerdict::NotCompared:
      return row.detail.empty() ? "not compared (inserted by the converter)"
                                : "not compared (" + row.detail + ")";
    case LayerVerdict::Different: break;
  }
  if (!row.difference) return "DIFFERENT: " + row.detail;
  const Difference& d = *row.difference;
  return "DIFFERENT (first at sample " + std::to_string(d.sample) + ", x " + std::to_string(d.x) +
         ", y " + std::to_string(d.y) + ", c " + std::to_string(d.c) + ": evaluator " +
         value_text(d.expected) + ", akida " + value_text(d.actual) + ")";
}

}  // namespace

std::string count_with_percentage(int64_t count, int64_t total, const std::string& unit) {
  std::string text = std::to_string(count) + " of " + std::to_string(total);
  if (!unit.empty()) text += " " + unit;
  if (total <= 0) return text;
  std::string percent;
  if (count == 0 || count == total) {
    percent = count == 0 ? "0" : "100";
  } else {
    // Three significant digits, never rounded to 0% or 100% (%.3g is plain down to 0.0001).
    const double value = 100.0 * static_cast<double>(count) / static_cast<double>(total);
    char digits[16];
    std::snprintf(digits, sizeof digits, "%.3g", value);
    percent = value < 0.0001 ? "<0.0001" : std::string(digits) == "100" ? ">99.9" : digits;
  }
  text += " (";
  text += percent;
  text += "%)";
  return text;
}

std::string format_report(const VerifyReport& report) {
  std::vector<std::array<std::string, 6>> rows{
      {"Layer", "Kind", "Output shape", "Differing values", "Max |diff|", "Result"}};
  for (const LayerComparison& l : report.layers) {
    const bool counted = l.compared_values > 0;
    rows.push_back({l.layer, l.kind, akida::to_string(l.shape),
                    counted ? count_with_percentage(l.differing_values, l.compared_values) : "-",
                    counted ? value_text(l.max_abs_difference) : "-", verdict_text(l)});
  }
  std::array<size_t, 5> width{};
  for (const auto& row : rows)
    for (size_t i = 0; i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::string text;
  for (const auto& row : rows) {
    for (size_t i = 0; i < width.size(); ++i)
      text += row[i] + std::string(width[i] - row[i].size() + 2, ' ');
    text += row[5] + "\n";
  }
  if (const LayerComparison* out = report.output())
    text += "top-1 agreement on " + out->layer + ": " +
            count_with_percentage(*out->top1_agreeing, report.samples, "samples") + "\n";
  return text;
}

}  // namespace cnn2snn
