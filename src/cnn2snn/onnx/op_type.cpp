// op_type grammar of QuantizeML's ONNX export (akida-spec §2.5): a base, then optional suffixes in
// a fixed order. BrainChip's converter picks the longest registered base that prefixes op_type;
// we do the same, then insist the rest is exactly a sequence of known suffixes, so that a typo or
// a new QuantizeML variant is reported instead of silently losing an operation.
#include <array>
#include <string_view>

#include "cnn2snn/onnx/onnx_common.h"

namespace cnn2snn::onnx_reader {
namespace {

struct BaseName {
  std::string_view name;
  Base base;
  bool supported;
};

// Transposed convolutions exist in QuantizeML but have no Block kind yet.
constexpr std::array<BaseName, 13> kBases = {{
    {"InputQuantizer", Base::InputQuantizer, true},
    {"Dequantizer", Base::Dequantizer, true},
    {"QuantizedConv2D", Base::Conv2D, true},
    {"QuantizedInputConv2D", Base::InputConv2D, true},
    {"QuantizedDepthwise2D", Base::Depthwise2D, true},
    {"QuantizedDense1D", Base::Dense1D, true},
    {"QuantizedAdd", Base::Add, true},
    {"QuantizedConcat", Base::Concat, true},
    {"QuantizedBufferTempConv", Base::BufferTempConv, true},
    {"QuantizedDepthwiseBufferTempConv", Base::DepthwiseBufferTempConv, true},
    {"QuantizedConv2DTranspose", Base::Conv2D, false},
    {"QuantizedDepthwise2DTranspose", Base::Depthwise2D, false},
    {"QuantizedDepthwiseConv2DTranspose", Base::Depthwise2D, false},
}};

bool eat(std::string_view& rest, std::string_view suffix) {
  if (!rest.starts_with(suffix)) return false;
  rest.remove_prefix(suffix.size());
  return true;
}

bool is_conv_like(Base b) {
  return b == Base::Conv2D || b == Base::InputConv2D || b == Base::Depthwise2D;
}
bool is_neural(Base b) {
  return is_conv_like(b) || b == Base::Dense1D || b == Base::BufferTempConv ||
         b == Base::DepthwiseBufferTempConv;
}

// The suffixes each base can carry in QuantizeML's export.
void check_suffixes(const OpType& op, const Where& where) {
  auto refuse = [&](const char* what) {
    where.fail<akida::UnsupportedError>(std::string("op_type: suffix '") + what +
                                        "' is not valid on this operation");
  };
  if (op.flatten && op.base != Base::Dense1D) refuse("Flatten");
  if (op.biased && !is_neural(op.base)) refuse("Biased");
  if (op.pool != PoolKind::None && !is_conv_like(op.base))
    refuse(op.pool == PoolKind::Max ? "MaxPool" : "GlobalAvgPool");
  if (op.activation != Activation::None && !is_neural(op.base)) refuse("ReLU/LUT");
  if (op.scaled && !is_neural(op.base) && op.base != Base::Add) refuse("Scaled");
  // QuantizeML exports LUTs on convolutions only (conv2d / conv2d_transpose build_subgraph).
  if (op.activation == Activation::LUT && !is_conv_like(op.base)) refuse("LUT");
}

}  // namespace

OpType parse_op_type(const std::string& op_type, const Where& where) {
  const BaseName* best = nullptr;
  for (const BaseName& b : kBases)
    if (std::string_view(op_type).starts_with(b.name) &&
        (best == nullptr || b.name.size() > best->name.size()))
      best = &b;
  if (best == nullptr)
    where.fail<akida::UnsupportedError>("op_type '" + op_type + "' is not a known QuantizeML op");
  if (!best->supported)
    where.fail<akida::UnsupportedError>("op_type: " + std::string(best->name) +
                                        " is not supported yet");
  OpType op;
  op.base = best->base;
  std::string_view rest = std::string_view(op_type).substr(best->name.size());
  op.flatten = eat(rest, "Flatten");
  op.biased = eat(rest, "Biased");
  if (eat(rest, "MaxPool"))
    op.pool = PoolKind::Max;
  else if (eat(rest, "GlobalAvgPool"))
    op.pool = PoolKind::GlobalAverage;
  if (eat(rest, "ReLUClipped"))
    op.activation = Activation::ReLUClipped;
  else if (eat(rest, "ReLU"))
    op.activation = Activation::ReLU;
  else if (eat(rest, "LUT"))
    op.activation = Activation::LUT;
  op.scaled = eat(rest, "Scaled");
  if (!rest.empty())
    where.fail<akida::UnsupportedError>("op_type '" + op_type + "': unknown suffix '" +
                                        std::string(rest) + "' after " + std::string(best->name));
  check_suffixes(op, where);
  return op;
}

}  // namespace cnn2snn::onnx_reader
