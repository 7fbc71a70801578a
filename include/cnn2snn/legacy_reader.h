// The legacy CNN2SNN Keras front end: models quantized by cnn2snn itself (cnn2snn < 2.0:
// QuantizedConv2D / QuantizedSeparableConv2D / QuantizedDense with a weight `quantizer`,
// QuantizedReLU / ActivationDiscreteRelu), saved as Keras `.h5` files. They always convert to
// Akida 1.0, as BrainChip's cnn2snn does.
//
// Such a file holds float weights; the integers are derived here as cnn2snn does: weights
// w_int = clip(round(w · sf), ±(2^(b−1) − 1)) with the quantizer's float32 scale factor sf, and
// each activation `step · clip(ceil((x − step/2) / step), 0, 2^b − 1)` on the float
// pre-activation x = acc / k + bias (k = input scale · sf) becomes integer level boundaries on
// the accumulator (Block::levels). See docs/akida-v1.md "Legacy CNN2SNN models".
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "cnn2snn/quantized_graph.h"

namespace cnn2snn {

// cnn2snn's input_scaling: input_akida = scale · input_keras + shift (a Rescaling layer at the
// start of the model gives scale = 1 / rescaling scale, shift = −offset / rescaling scale).
struct InputScaling {
  double scale = 1.0;
  double shift = 0.0;
};

// Whether the Keras `.h5` at `path` is a legacy CNN2SNN model: a layer config holds a weight
// `quantizer` object (MaxQuantizer, MaxPerAxisQuantizer, StdWeightQuantizer). QuantizeML models
// hold a `quant_config` instead. Throws akida::FormatError when the file cannot be read.
bool is_legacy_cnn2snn_h5(const std::string& path);
// The same for the bytes of an .h5 file in memory; `source` names them in errors.
bool is_legacy_cnn2snn_h5(std::span<const uint8_t> image, const std::string& source);

// Reads `path` into a graph for Akida 1.0 (graph.legacy_cnn2snn is set). `input_scaling` is
// cnn2snn.convert's argument (the CLI's deprecated -sc/-sh); it must be absent when the model
// starts with a Rescaling layer. Throws akida::FormatError (unreadable file or config, missing or
// mis-shaped weights) or akida::UnsupportedError (a layer or option Akida 1.0 cannot run: the
// first one, since every later layer of these sequential models depends on it), naming the file,
// the layer and the field. check_v1() then lists every rule violation of a graph that loads.
QuantizedGraph load_legacy_cnn2snn_h5(const std::string& path,
                                      std::optional<InputScaling> input_scaling = std::nullopt);
// The same from the bytes of an .h5 file in memory; `source` names them in errors.
QuantizedGraph load_legacy_cnn2snn_h5(std::span<const uint8_t> image, const std::string& source,
                                      std::optional<InputScaling> input_scaling = std::nullopt);

}  // namespace cnn2snn
