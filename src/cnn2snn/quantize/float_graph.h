// The quantizer's float graph: what a float ONNX model becomes once read, constant-folded and
// sanitized (sanitize.cpp), before calibration and quantization.
//
// It holds only the operations QuantizeML's ONNX quantizer can turn into com.brainchip nodes
// (plus the input rescaling it folds into its InputQuantizer), each with its float weights in
// ONNX's own layouts. Activations are channels first, per sample: (C, X, Y) for images, (F) for
// flat tensors (the batch dimension is implicit everywhere).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace cnn2snn::quantize {

enum class FloatOp {
  Conv,           // (grouped / depthwise) correlation, weights (F, C / group, kx, ky), bias (F)
  Gemm,           // y = x W^T + b on a flat input, weights (F, N)
  Relu,
  Clip,           // clip(x, clip_min, clip_max)
  MaxPool,        // kernel, strides, pads; padded positions never win
  GlobalAvgPool,  // mean over (X, Y), output (C, 1, 1)
  Add,            // two activations of the same shape
  Concat,         // two activations, channel axis
  Flatten,        // (C, X, Y) -> (C * X * Y), channels first
};
const char* float_op_name(FloatOp op);

struct FloatNode {
  FloatOp op = FloatOp::Conv;
  std::string name;     // the ONNX node's name (QuantizeML names its quantized node after it)
  std::string op_type;  // the ONNX op_type it came from, for messages
  std::vector<std::string> inputs;  // activation tensors
  std::string output;
  std::vector<int64_t> output_shape;  // without batch

  // Conv / Gemm
  std::vector<int64_t> weights_shape;
  std::vector<float> weights;
  std::vector<float> bias;  // empty: none
  int64_t group = 1;
  // Conv / MaxPool: ONNX order, strides (x, y), pads [x0, y0, x1, y1]
  std::array<int64_t, 2> kernel{1, 1};
  std::array<int64_t, 2> strides{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0};
  // Clip
  float clip_min = 0, clip_max = 0;
};

// Input normalisation folded into the InputQuantizer (QuantizeML insert_rescaling): the first
// layer sees Transpose(x, perm) * scale[c] + offset[c].
struct InputRescale {
  std::vector<int64_t> perm{0, 1, 2, 3};
  std::vector<float> scale;   // one value, or one per channel
  std::vector<float> offset;  // one value, or one per channel
  std::string output;         // the tensor the first layer reads (the model input if no rescale)
  std::vector<std::string> source_nodes;  // the ONNX nodes it replaces
};

struct FloatGraph {
  std::string source;      // file name, for messages
  std::string graph_name;  // the ONNX graph's name
  std::string input_name;
  std::vector<int64_t> input_dims;  // without batch, in the model's own layout (rank 3)
  InputRescale rescale;
  std::vector<FloatNode> nodes;     // topological order
  std::string output_name;
  std::vector<int64_t> output_dims;  // without batch
  // Nodes that cannot be represented, "node 'NAME' (OpType): why" each; the tensors they would
  // produce are produced by no node, and nodes reading them were left out without a record.
  std::vector<std::string> refusals;

  // The channels-first (C, X, Y) shape the first layer reads.
  std::vector<int64_t> rescaled_shape() const;
};

}  // namespace cnn2snn::quantize
