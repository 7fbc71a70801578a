// Output shapes of Akida layers, computed from their parameters and variables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "akida/model.h"

namespace akida {

// One sample's dims: (x, y, c), x being the first spatial axis (rows), as Akida prints them.
struct Shape {
  int64_t x = 0, y = 0, c = 0;
  int64_t size() const { return x * y * c; }
  bool operator==(const Shape&) const = default;
};
// "[x, y, c]", as in Akida summaries.
std::string to_string(const Shape& shape);

// The model's input dims, from its first layer's parameters. Throws ShapeError naming the layer.
Shape model_input_shape(const Model& model);
// Output dims of every layer, in model order. Throws ShapeError naming the layer and field when
// parameters or inbound layers are inconsistent (unknown inbound, missing parameter, kernel
// larger than its padded input, etc.).
std::vector<Shape> infer_output_shapes(const Model& model);

}  // namespace akida
