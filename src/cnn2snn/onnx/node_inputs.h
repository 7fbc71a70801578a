// A custom node's inputs and attributes, by the names its ONNX function gives them.
//
// QuantizeML names the operands of every custom op by its function definition (X, W, bias, pads,
// Scale, Shift, max_value, x_pad_value, Xs, Ys, scale, zp), and some are optional, so a node's
// actual inputs are only meaningful through the function's formal input list.
#pragma once

#include <optional>

#include "cnn2snn/onnx/onnx_common.h"

namespace cnn2snn::onnx_reader {

class NodeInputs {
 public:
  NodeInputs(const onnx::NodeProto& node, const GraphState& state);

  const Where& where() const { return where_; }
  const onnx::NodeProto& node() const { return node_; }
  bool has(const std::string& formal) const;
  // "input 'W' (tensor 'node_Conv_1_Wi')", for messages.
  std::string field(const std::string& formal) const;

  // The initializer bound to `formal`; FormatError when absent or not an initializer.
  const onnx::TensorProto& initializer(const std::string& formal) const;
  IntTensor ints(const std::string& formal) const;
  // As ints(), requiring dtype `data_type` (an onnx::TensorProto::DataType).
  IntTensor ints_of(const std::string& formal, int32_t data_type) const;
  std::vector<double> floats(const std::string& formal) const;

  // An activation input: its tensor name, shape and producing block ("" = the model input).
  const std::string& tensor(const std::string& formal) const;
  akida::Shape shape(const std::string& formal) const;
  std::string producer(const std::string& formal) const;

  // Attributes.
  std::optional<std::vector<int64_t>> ints_attr(const std::string& name) const;
  std::optional<int64_t> int_attr(const std::string& name) const;

  // The output range of the function body's final Clip (the scale-out saturation), if any.
  std::optional<std::pair<double, double>> clip_range() const;
  // The range of the Clip whose output, cast, indexes the Gather reading `table` (the LUT's
  // intermediate scale-out); nullopt when the body has no such chain.
  std::optional<std::pair<double, double>> gather_index_range(const std::string& table) const;

 private:
  const onnx::NodeProto& node_;
  const GraphState& state_;
  Where where_;
  const onnx::FunctionProto* function_ = nullptr;
  std::map<std::string, std::string> actual_;  // formal -> actual tensor name
};

}  // namespace cnn2snn::onnx_reader
