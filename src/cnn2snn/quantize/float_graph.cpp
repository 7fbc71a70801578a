#include "cnn2snn/quantize/float_graph.h"

namespace cnn2snn::quantize {

const char* float_op_name(FloatOp op) {
  switch (op) {
    case FloatOp::Conv: return "Conv";
    case FloatOp::Gemm: return "Gemm";
    case FloatOp::Relu: return "Relu";
    case FloatOp::Clip: return "Clip";
    case FloatOp::MaxPool: return "MaxPool";
    case FloatOp::GlobalAvgPool: return "GlobalAveragePool";
    case FloatOp::Add: return "Add";
    case FloatOp::Concat: return "Concat";
    case FloatOp::Flatten: return "Flatten";
  }
  return "?";
}

std::vector<int64_t> FloatGraph::rescaled_shape() const {
  // perm acts on (N, d0, d1, d2): output axis i takes input axis perm[i].
  std::vector<int64_t> shape;
  for (size_t i = 1; i < 4; ++i) shape.push_back(input_dims[static_cast<size_t>(rescale.perm[i]) - 1]);
  return shape;
}

}  // namespace cnn2snn::quantize
