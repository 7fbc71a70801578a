// Private pieces of the QuantizeML ONNX reader shared by its source files.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "akida/errors.h"
#include "akida/shapes.h"
#include "akida/utf8.h"
#include "cnn2snn/quantized_graph.h"

namespace cnn2snn::onnx_reader {

// Where an error is: "<file>: node '<name>' (<op_type>)", or "<file>: graph" outside nodes.
class Where {
 public:
  Where(const std::string& source, const onnx::NodeProto* node) : source_(source), node_(node) {}
  std::string prefix() const;
  // Names quoted from the file may hold any bytes: a message that is not UTF-8 is escaped.
  template <typename E = akida::FormatError>
  [[noreturn]] void fail(const std::string& message) const {
    throw E(akida::printable(prefix() + ": " + message));
  }

 private:
  const std::string& source_;
  const onnx::NodeProto* node_;
};

// ---- files ----
// Protobuf cannot parse messages of 2 GiB or more; QuantizeML models are far smaller.
inline constexpr size_t kMaxModelBytes = size_t{1} << 30;
// An ONNX model from a file or from serialized bytes (`source` names them in errors). Throws
// akida::FormatError naming the file: unreadable, over 1 GiB (checked before reading), not a
// protobuf ModelProto, or without a graph of nodes.
onnx::ModelProto parse_model_file(const std::string& path);
onnx::ModelProto parse_model_bytes(std::span<const uint8_t> bytes, const std::string& source);

// ---- initializers ----
// Largest element count accepted for one initializer (far above any Akida layer).
inline constexpr int64_t kMaxElements = int64_t{1} << 28;

// The initializer's dims, checked (non-negative, bounded product).
std::vector<int64_t> checked_dims(const onnx::TensorProto& t, const Where& where,
                                  const std::string& field);
// Integer initializer (INT8, UINT8, INT16, INT32, INT64) as an IntTensor. Throws FormatError when
// the stored data size disagrees with dims, UnsupportedError for other dtypes or external data.
IntTensor read_ints(const onnx::TensorProto& t, const Where& where, const std::string& field);
// FLOAT or DOUBLE initializer as floats, same checks.
std::vector<double> read_floats(const onnx::TensorProto& t, const Where& where,
                                const std::string& field);
const char* dtype_name(int32_t data_type);

// ---- op types ----
enum class Base {
  InputQuantizer,
  Dequantizer,
  Conv2D,
  InputConv2D,
  Depthwise2D,
  Dense1D,
  Add,
  Concat,
  BufferTempConv,
  DepthwiseBufferTempConv,
};
enum class Activation { None, ReLU, ReLUClipped, LUT };

struct OpType {
  Base base = Base::Conv2D;
  bool flatten = false;
  bool biased = false;
  PoolKind pool = PoolKind::None;
  Activation activation = Activation::None;
  bool scaled = false;
};
// Parses op_type by the longest known base, then the suffixes in their fixed order. Throws
// UnsupportedError naming the node for anything else (unknown or unsupported base, stray suffix,
// suffix the base does not take).
OpType parse_op_type(const std::string& op_type, const Where& where);

// ---- one node ----
// What the node mapping needs from the graph: initializers by name, the function defining each
// custom op, the shape (x, y, c) of every tensor produced so far and who produced it.
struct GraphState {
  std::string source;
  std::map<std::string, const onnx::TensorProto*> initializers;
  std::map<std::string, const onnx::FunctionProto*> functions;  // com.brainchip, by op_type
  std::map<std::string, akida::Shape> shapes;                   // activation tensors
  std::map<std::string, std::string> producers;                 // tensor -> block ("" = input)
};

// The Block for one custom node (not InputQuantizer); records its output shape in `state`.
Block convert_node(const onnx::NodeProto& node, const OpType& op, GraphState& state);
// The input quantizer of an InputQuantizer node whose input has dims `input_dims` (N first).
InputQuantizer convert_input_quantizer(const onnx::NodeProto& node, GraphState& state,
                                       const std::vector<int64_t>& input_dims,
                                       akida::Shape& integer_shape);

}  // namespace cnn2snn::onnx_reader
