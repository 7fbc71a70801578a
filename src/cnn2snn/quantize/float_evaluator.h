// Running a FloatGraph in float32, one sample at a time: the evaluator behind
// `quantizeml run` and calibration.
//
// Every op computes what ONNX specifies, in float32 (sums accumulate in float32 in a fixed order,
// which differs from onnxruntime's by rounding only). The input is one sample in the model's
// own layout; the rescale (Transpose + per-channel x * scale + offset) comes first.
#pragma once

#include <string>
#include <vector>

#include "cnn2snn/quantize/float_graph.h"

namespace cnn2snn::quantize {

class FloatEvaluator {
 public:
  // Buffers of one evaluation; one per thread.
  struct Workspace {
    std::vector<float> rescaled;
    std::vector<std::vector<float>> outputs;  // per node
  };

  // Throws akida::UnsupportedError listing the graph's refusals (nodes it cannot evaluate).
  explicit FloatEvaluator(const FloatGraph& graph);

  // Evaluates one sample (graph.input_dims values); the outputs stay in `ws`.
  void run(const float* sample, Workspace& ws) const;
  // A tensor of the last run: the rescaled input or a node output. Throws std::out_of_range.
  const std::vector<float>& tensor(const Workspace& ws, const std::string& name) const;
  const std::vector<float>& output(const Workspace& ws) const { return tensor(ws, graph_.output_name); }

 private:
  const std::vector<float>& input_of(const Workspace& ws, size_t node, size_t i) const;

  const FloatGraph& graph_;
  std::vector<std::vector<int>> inputs_;  // per node: producer index, -1 = the rescaled input
  // Conv (not depthwise) weights as [c][kx][ky][f], Gemm weights as [n][f]: the loops run over
  // output channels innermost, where the compiler vectorizes them.
  std::vector<std::vector<float>> packed_;
  std::vector<int64_t> rescaled_shape_;
};

}  // namespace cnn2snn::quantize
