// The QuantizeML Keras front end: reads a model quantized by QuantizeML and saved by tf_keras as a
// legacy HDF5 `.h5` file into a QuantizedGraph.
//
// Such a file holds the float weights and the calibrated OutputQuantizer variables (range_max,
// rescaling_rate) only: every integer (weights, aligned biases, ReLU maxima, input shifts, output
// scales and shifts) is re-derived here with QuantizeML's own float32 arithmetic, as QuantizeML
// does when the model runs and as CNN2SNN does before converting it. The layers are grouped into
// blocks as CNN2SNN 2.19 splits them for Akida 2.0 (a block ends after an OutputQuantizer of fewer
// than 9 bits or at a multi-inbound layer; the first Dequantizer ends the model), and each block
// must match one of the Akida 2.0 patterns (see docs/quantizeml-h5.md and akida-spec §3.3).
//
// Blocks are named after their main layer (the conv or dense layer, or the Add / Concatenate /
// Dequantizer layer itself); Block::source_layers lists every Keras layer grouped in the block,
// skipped layers (Dropout, Rescaling, size-1 Reshape) included.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "cnn2snn/quantized_graph.h"

namespace cnn2snn {

// Reads `path`. Throws akida::FormatError (not an HDF5 file, truncated, no `model_config`,
// malformed config JSON, missing or mis-shaped weights) or akida::UnsupportedError (a valid model
// using a layer, option or block pattern this front end cannot represent; for invalid blocks the
// message lists every faulty block at once, as "Invalid block found during conversion: ...").
// Messages start with `path`, then name the layer and the field.
QuantizedGraph load_keras_h5(const std::string& path);
// The same from the bytes of an .h5 file in memory (HDF5's file-image API); `source` names them
// in errors as `path` does.
QuantizedGraph load_keras_h5(std::span<const uint8_t> image, const std::string& source);

}  // namespace cnn2snn
