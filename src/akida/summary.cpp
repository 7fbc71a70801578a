#include "akida/summary.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "akida/errors.h"

namespace akida {
namespace {

using Row = std::vector<std::string>;

std::vector<size_t> column_widths(const std::vector<Row>& rows) {
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const Row& row : rows)
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  return widths;
}

// Python's "{:W.W}" cells joined by two spaces: left-aligned, padded, trailing spaces kept.
std::string format_row(const Row& row, const std::vector<size_t>& widths) {
  std::string line;
  for (size_t i = 0; i < row.size(); ++i) {
    if (i) line += "  ";
    line += row[i];
    line.append(widths[i] - row[i].size(), ' ');
  }
  return line + "\n";
}

// The separator is two characters per column wider than the cells, as in the vendor's tables.
size_t separator_width(const std::vector<size_t>& widths) {
  return std::accumulate(widths.begin(), widths.end(), size_t{0}) + 2 * widths.size();
}

// Python's "{:^W}": the odd space goes to the right.
std::string centered(const std::string& text, size_t width) {
  if (text.size() >= width) return text + "\n";
  const size_t pad = width - text.size();
  return std::string(pad / 2, ' ') + text + std::string(pad - pad / 2, ' ') + "\n";
}

// "=== <text> ===" over `width`: s = max((width - len) / 2, 1); ceil(s - 1) '=' on the left,
// floor(s - 1) on the right (akida-spec §4.4; the published lines of widths 53, 54 and 64 agree).
std::string sequence_line(const std::string& text, size_t width) {
  const double s =
      std::max((static_cast<double>(width) - static_cast<double>(text.size())) / 2, 1.0);
  const auto left = static_cast<size_t>(std::ceil(s - 1));
  const auto right = static_cast<size_t>(std::floor(s - 1));
  return std::string(left, '=') + " " + text + " " + std::string(right, '=') + "\n";
}

std::string model_table(const Model& model, const Shape& input_shape, const Shape& output_shape) {
  const std::vector<Row> rows = {
      {"Input shape", "Output shape", "Sequences", "Layers"},
      {to_string(input_shape), to_string(output_shape), "1", std::to_string(model.layers.size())}};
  const auto widths = column_widths(rows);
  const size_t width = separator_width(widths);
  return centered("Model Summary", width) + std::string(width, '_') + "\n" +
         format_row(rows[0], widths) + std::string(width, '=') + "\n" +
         format_row(rows[1], widths) + std::string(width, '_') + "\n\n";
}

std::string layer_table(const Model& model, const std::vector<Shape>& output_shapes) {
  std::vector<Row> rows = {{"Layer (type)", "Output shape", "Kernel shape"}};
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    rows.push_back({layer.name + " (" + std::string(info(layer.kind).label) + ")",
                    to_string(output_shapes[i]), kernel_shape_text(layer)});
    // The vendor prints the pointwise kernel of a separable layer on a row of its own.
    if (layer.kind == LayerKind::SeparableConvolutional)
      rows.push_back({"", "", kernel_shape_text(layer, "weights_pw")});
  }
  const auto widths = column_widths(rows);
  const size_t width = separator_width(widths);
  const std::string separator = std::string(width, '_') + "\n";
  // An unmapped model is one software sequence from the first layer to the last.
  const std::string sequence =
      "SW/" + model.layers.front().name + "-" + model.layers.back().name + " (Software)";
  std::string text =
      separator + format_row(rows[0], widths) + "\n" + sequence_line(sequence, width) + "\n";
  for (size_t r = 1; r < rows.size(); ++r) text += format_row(rows[r], widths) + separator;
  return text;
}

}  // namespace

std::string kernel_shape_text(const Layer& layer, const std::string& variable) {
  const Variable* v = layer.find_variable(variable);
  if (!v) return "N/A";
  // Akida 1.0 layers store weights as (neurons, features, y, x) and the vendor prints them as
  // (x, y, features, neurons): e.g. the stored FullyConnected (10, 3136, 1, 1) prints
  // (1, 1, 3136, 10) in the published MNIST summary. Akida 2.0 layers store and print the same.
  std::vector<uint32_t> dims = v->shape;
  if (info(layer.kind).ip == IpVersion::v1) std::reverse(dims.begin(), dims.end());
  std::string text = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(dims[i]);
  }
  if (dims.size() == 1) text += ",";  // Python's 1-tuple
  return text + ")";
}

// Which layers are listed and counted: every layer of the model, InputData included. The
// published unmapped summaries (DS-CNN v2: 11 layers from conv_0 to dequantizer; devhub DS-CNN
// v1: 6 layers; MNIST/CIFAR v1 examples: 3 and 5 layers) all start with an input convolution
// and have no InputData layer, so they neither confirm nor refute how an InputData layer
// appears; the vendor's "Layers" column is len(model.layers), which holds it, so it is listed.
std::string summary(const Model& model, const Shape& input_shape,
                    const std::vector<Shape>& output_shapes) {
  if (model.layers.empty()) throw ShapeError("summary: the model has no layers");
  if (output_shapes.size() != model.layers.size())
    throw ShapeError("summary: " + std::to_string(output_shapes.size()) + " output shapes for " +
                     std::to_string(model.layers.size()) + " layers");
  return model_table(model, input_shape, output_shapes.back()) + layer_table(model, output_shapes);
}

}  // namespace akida
