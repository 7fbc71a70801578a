#include "cnn2snn/quantized_graph.h"

namespace cnn2snn {

const char* block_kind_name(BlockKind kind) {
  switch (kind) {
    case BlockKind::InputConv2D: return "InputConv2D";
    case BlockKind::Conv2D: return "Conv2D";
    case BlockKind::DepthwiseConv2D: return "DepthwiseConv2D";
    case BlockKind::Dense: return "Dense";
    case BlockKind::BufferTempConv: return "BufferTempConv";
    case BlockKind::DepthwiseBufferTempConv: return "DepthwiseBufferTempConv";
    case BlockKind::Add: return "Add";
    case BlockKind::Concatenate: return "Concatenate";
    case BlockKind::Dequantizer: return "Dequantizer";
    case BlockKind::SeparableConv2D: return "SeparableConv2D";
  }
  return "Unknown";
}

const Block* QuantizedGraph::find(const std::string& name) const {
  for (const auto& block : blocks)
    if (block.name == name) return &block;
  return nullptr;
}

}  // namespace cnn2snn
