// The QuantizeML ONNX front end: reads a model quantized by QuantizeML and exported to ONNX
// (custom nodes of domain "com.brainchip", each also defined as an ONNX function) into a
// QuantizedGraph.
//
// One custom node becomes one Block, named after the node (BrainChip's converter names the Akida
// layers the same way). The node's op_type is parsed as
//   base + ["Flatten"] + ["Biased"] + ["MaxPool"|"GlobalAvgPool"] + ["ReLU"|"ReLUClipped"|"LUT"]
//        + ["Scaled"]
// and its integer initializers are moved into the Block's layouts, unchanged in value (no kernel
// flip, no bias split: that is the converter's job). InputQuantizer fills
// QuantizedGraph::input_quantizer; the first Dequantizer ends the model.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "cnn2snn/quantized_graph.h"

namespace cnn2snn {

// Reads `path`. Throws akida::FormatError (not a valid ONNX file, truncated, inconsistent
// initializers, missing inputs) or akida::UnsupportedError (a valid model using an op, option or
// layout the QuantizedGraph cannot represent). Messages start with `path`, then name the node
// (name and op_type) and the field. Every unsupported node is reported in the one
// UnsupportedError, one per line after a "N nodes cannot be converted:" header (nodes fed only by
// refused nodes are not reported again). Files larger than 1 GiB are refused before being read.
QuantizedGraph load_onnx(const std::string& path);
// The same from the bytes of an ONNX file in memory; `source` names them in errors as `path` does.
QuantizedGraph load_onnx(std::span<const uint8_t> bytes, const std::string& source);

}  // namespace cnn2snn
