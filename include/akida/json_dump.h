// A JSON view of an Akida model, for tools and tests:
//   {"version": "2.17.0" | null, "ip_version": "1.0" | "2.0",
//    "input_shape": [x, y, c], "output_shape": [x, y, c],
//    "layers": [{"name": ..., "type": "Conv2D", "inbound": [names...],
//                "parameters": {"layer_type": 14, key: int, ...},
//                "variables": {NAME: {"shape": [...], "dtype": "int8",
//                                     "values": [flat, row-major, as stored]}}}]}
// Integer variables give JSON integers; float32 variables give JSON numbers holding the exact
// float32 value (printed with enough digits to read back the same float).
#pragma once

#include <nlohmann/json.hpp>

#include "akida/errors.h"
#include "akida/model.h"
#include "akida/shapes.h"

namespace akida {

// With the given shapes (model_input_shape and the last of infer_output_shapes).
nlohmann::json dump_json(const Model& model, const Shape& input_shape, const Shape& output_shape);

// With shapes inferred from the model. Throws what infer_output_shapes throws (ShapeError naming
// the layer): a model whose shapes cannot be inferred cannot be dumped.
inline nlohmann::json dump_json(const Model& model) {
  const std::vector<Shape> shapes = infer_output_shapes(model);
  if (shapes.empty()) throw ShapeError("dump_json: the model has no layers");
  return dump_json(model, model_input_shape(model), shapes.back());
}

}  // namespace akida
