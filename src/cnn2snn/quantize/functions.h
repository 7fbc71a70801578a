// The ONNX function bodies of QuantizeML's com.brainchip ops (build_subgraph), built from the
// op_type alone as QuantizeML does, node for node and name for name (docs/quantizeml-onnx.md §3;
// tools/quantizeml_onnx/functions.py writes the same bodies in Python, and the tests compare).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

namespace cnn2snn::quantize {

inline constexpr const char* kBrainChipDomain = "com.brainchip";
inline constexpr int64_t kOnnxOpset = 21;
inline constexpr int64_t kIrVersion = 10;

// The op_type QuantizeML serializes: base + [Flatten] + [Biased] + [MaxPool | GlobalAvgPool] +
// [ReLU | ReLUClipped] + [Scaled].
struct OpTypeParts {
  std::string base;  // "QuantizedConv2D", "QuantizedInputConv2D", "QuantizedDepthwise2D",
                     // "QuantizedDense1D", "QuantizedAdd", "QuantizedConcat", "InputQuantizer",
                     // "Dequantizer"
  bool flatten = false, biased = false, max_pool = false, global_avg_pool = false;
  bool relu = false, relu_clipped = false, scaled = false;
  std::string op_type() const;
};

// The FunctionProto defining `parts.op_type()` (domain com.brainchip, opset ("", 21)); the
// final scale-out saturates to `output_bits` signed bits (QuantizeML: always 8).
onnx::FunctionProto make_function(const OpTypeParts& parts, int output_bits);

}  // namespace cnn2snn::quantize
