// The text of BrainChip's `Model.summary()` for an unmapped model (akida-spec §4.4): a
// "Model Summary" table (input shape, output shape, sequences, layers), then the layer table
// ("Layer (type)", "Output shape", "Kernel shape") under one software sequence line.
#pragma once

#include <string>
#include <vector>

#include "akida/model.h"
#include "akida/shapes.h"

namespace akida {

// The summary from given shapes: `input_shape` of the model and `output_shapes` of every layer,
// in model order (what infer_output_shapes returns). Throws ShapeError when the model has no
// layers or the counts disagree. Every line ends with '\n'; cells keep their trailing padding,
// as the vendor's format strings do.
std::string summary(const Model& model, const Shape& input_shape,
                    const std::vector<Shape>& output_shapes);

// The summary with shapes inferred from the model. Throws what infer_output_shapes throws.
inline std::string summary(const Model& model) {
  return summary(model, model_input_shape(model), infer_output_shapes(model));
}

// How the vendor prints a kernel: the "weights" variable's dims as a Python tuple, e.g.
// "(3, 3, 64, 1)" or "(64, 33)"; "N/A" when the layer has no such variable.
std::string kernel_shape_text(const Layer& layer, const std::string& variable = "weights");

}  // namespace akida
