// Reading a float ONNX model (PyTorch, tf2onnx, onnx.helper exports) into a FloatGraph, with the
// sanitizing QuantizeML's ONNX quantizer applies first (quantization/transforms: sanitize):
//   * constants folded, including the Shape / Gather / Unsqueeze / Concat chains that compute a
//     Reshape target (the batch size stays symbolic);
//   * Identity, Dropout and Cast-to-float dropped; Reshape / Squeeze / Flatten that only flatten
//     (C, X, Y) become Flatten; ReduceMean / AveragePool over the whole image become
//     GlobalAveragePool; MatMul (+ Add) becomes Gemm; Gemm's alpha / beta / transB folded;
//   * BatchNormalization folded into the Conv / Gemm before it (fuse_batchnorm);
//   * the input normalisation (Transpose [0, 3, 1, 2], Sub / Mul / Div / Add by constants,
//     BatchNormalization) before the first layer folded into one per-channel scale and offset
//     (reduce_math_constant_ops + insert_rescaling), later folded into the InputQuantizer;
//   * grouped convolutions other than depthwise expanded to full ones (zero weights across
//     groups; QuantizeML refuses them);
//   * Conv / MaxPool end pads reduced to what the output reaches (unify_pads_format);
//   * Relu / Clip before a MaxPool moved after it (invert_activation_maxpool).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "cnn2snn/quantize/float_graph.h"

namespace cnn2snn::quantize {

// Unsupported nodes are recorded in graph.refusals, not thrown (the quantizer reports them with
// its own refusals, in one error). Throws akida::FormatError (inconsistent initializers, a
// tensor used before it is produced) or akida::UnsupportedError for what makes the whole model
// unreadable: not exactly one float32 input of rank 4 with fixed (C, X, Y), more than one
// output, or com.brainchip nodes (an already quantized model). Messages start with `source`.
FloatGraph read_float_graph(const onnx::ModelProto& model, const std::string& source);

// Applied by read_float_graph; exposed for the tests.
void unify_pads(FloatGraph& graph);
void move_activations_after_max_pools(FloatGraph& graph);

}  // namespace cnn2snn::quantize
