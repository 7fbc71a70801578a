// From the sanitized float graph to QuantizeML's quantized layers:
//   plan_layers()      groups float nodes into the patterns QuantizeML quantizes
//                      (quantization/register_patterns.py and quantize.py quantize_calibrated),
//   quantize_layers()  computes each layer's integer initializers and output scale from the
//                      calibration ranges (the layers' __quantize__, qmath.h),
//   write_model()      assembles the QuantizeML ONNX model (onnx_writer.cpp).
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <string>
#include <vector>

#include "cnn2snn/quantize/float_graph.h"
#include "cnn2snn/quantize/functions.h"
#include "cnn2snn/quantizer.h"

namespace cnn2snn::quantize {

enum class LayerKind { InputQuantizer, Conv, Depthwise, Dense, Add, Concat, Dequantizer };

struct Layer {
  LayerKind kind = LayerKind::Conv;
  std::string name;    // node name (the float Conv / Gemm / Add node's)
  std::string output;  // output tensor: the float output of the pattern's last node
  std::string calibrated_tensor;  // the float tensor whose range sets the output scale
  std::vector<int> inputs;  // indices of the layers it reads
  // The float nodes of the pattern (null when absent).
  const FloatNode* main = nullptr;  // Conv, Gemm, Add, Concat
  const FloatNode* pool = nullptr;  // MaxPool
  const FloatNode* act = nullptr;   // Relu or Clip
  bool gap = false;                 // a GlobalAveragePool ends the pattern
  bool flatten = false;             // a Flatten starts it (Dense)
  std::vector<int64_t> input_shape;   // of the first input, without batch
  std::vector<int64_t> output_shape;  // without batch
  // QuantizeML's _set_qlayers_metadata: downscale (int8 output, "Scaled") and force_fp
  // (power-of-two output scale, for the inputs of an Add).
  bool downscale = true;
  bool force_fp = false;
  bool reads_input = false;  // reads the InputQuantizer (its weights take input_weight_bits)
};

struct LayerPlan {
  std::vector<Layer> layers;  // InputQuantizer first, Dequantizer last, topological order
  bool input_signed = false;  // int8 input (else uint8 with a zero point, for an InputConv2D)
  // The tensors calibration must measure (InputQuantizer: the rescaled input).
  std::vector<std::string> calibrated_tensors() const;
};

// Groups the graph's nodes. Throws akida::UnsupportedError listing every node that cannot be
// quantized (the graph's own refusals first), one per line.
LayerPlan plan_layers(const FloatGraph& graph, const QuantizationParams& params);

// A named initializer, in the dtype QuantizeML writes.
struct Initializer {
  std::string name;
  int32_t dtype = 0;  // onnx::TensorProto::DataType
  std::vector<int64_t> dims;
  std::vector<int64_t> ints;     // integer dtypes
  std::vector<double> floats;    // float dtypes
};

// One quantized node: what the writer serializes.
struct QuantizedLayer {
  OpTypeParts op;
  std::vector<std::string> inputs;  // activation tensors, then the initializers' names
  std::vector<Initializer> initializers;
  std::vector<std::pair<std::string, std::vector<int64_t>>> ints_attributes;  // in order
  std::vector<std::pair<std::string, int64_t>> int_attributes;                // after them
  std::vector<double> scale;           // the output scale (attribute "scale", float64)
  std::vector<int64_t> scale_dims;     // its shape ({} for a scalar)
  int32_t output_dtype = 0;
  std::vector<int64_t> zero_point;     // InputQuantizer: the output zero point (per channel)
};

// Quantizes every layer of the plan, in order. Throws akida::UnsupportedError naming the node
// when QuantizeML's arithmetic refuses (an impossible input rescaling, a saturating shift).
std::vector<QuantizedLayer> quantize_layers(const FloatGraph& graph, const LayerPlan& plan,
                                            const QuantizationParams& params,
                                            const CalibrationRanges& ranges);

// The QuantizeML ONNX model of the quantized layers.
onnx::ModelProto write_model(const FloatGraph& graph, const LayerPlan& plan,
                             const std::vector<QuantizedLayer>& layers,
                             const QuantizationParams& params);

}  // namespace cnn2snn::quantize
