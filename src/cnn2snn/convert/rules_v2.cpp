// The Akida 2.0 compatibility rules and the check_v2() driver.
//
// Sources of the limits: akida-spec §3.3 "v2 checks" (BrainChip's converter), §1.3 (storage of the
// variables), §4.1 (Akida 2.0 hardware documentation). Each rule reports the layer, the field, the
// value and the limit.
#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "akida/errors.h"
#include "cnn2snn/converter.h"
#include "convert_internal.h"

namespace cnn2snn {

namespace {

using namespace convert_detail;
using Findings = std::vector<Incompatibility>;


bool has_v2_layer(BlockKind kind) { return kind != BlockKind::SeparableConv2D; }

std::string kind_name(BlockKind kind) {
  return has_v2_layer(kind) ? std::string(akida::name_of(akida_kind(kind))) : block_kind_name(kind);
}
std::string str(int64_t v) { return std::to_string(v); }

template <typename Container>
std::string join(const Container& values) {
  std::string text;
  for (const auto& v : values) text += (text.empty() ? "" : ", ") + str(v);
  return text;
}

bool contains(const std::vector<int64_t>& set, int64_t v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

// Checks each value of `values` with `fits`; reports "field[i]: <value> <why>".
template <typename T, typename Fits>
void check_each(Findings& out, const Block& block, const std::string& field,
                const std::vector<T>& values, Fits fits, const std::string& why) {
  for (size_t i = 0; i < values.size(); ++i)
    if (!fits(values[i]))
      report(out, block, field + "[" + str(static_cast<int64_t>(i)) + "]",
             str(static_cast<int64_t>(values[i])) + " " + why);
}

// --- structure ---------------------------------------------------------------------------------

void check_kind(const RuleInput& in, Findings& out) {
  if (!has_v2_layer(in.block.kind))
    report(out, in.block, "kind", kind_name(in.block.kind) + " has no Akida 2.0 layer (QuantizeML "
                                  "models for Akida 2.0 use DepthwiseConv2D then Conv2D)");
  if (in.block.levels)
    report(out, in.block, "levels", "a legacy CNN2SNN activation: such models convert to Akida 1.0 "
                                    "only");
}

void check_block_name(const RuleInput& in, Findings& out) {
  if (in.block.name.empty()) {
    report(out, in.block, "name", "block " + str(static_cast<int64_t>(in.index)) + " has no name");
    return;
  }
  for (size_t i = 0; i < in.index; ++i)
    if (in.graph.blocks[i].name == in.block.name)
      report(out, in.block, "name", "another block (" + str(static_cast<int64_t>(i)) +
                                        ") has the same name");
}

void check_inbound(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  for (const auto& name : b.inbound) {
    const auto end = in.graph.blocks.begin() + static_cast<std::ptrdiff_t>(in.index);
    if (std::none_of(in.graph.blocks.begin(), end, [&](const Block& e) { return e.name == name; }))
      report(out, b, "inbound", "'" + name + "' is not an earlier block");
  }
  const int64_t n = static_cast<int64_t>(b.inbound.size());
  if (b.kind == BlockKind::Add && n != 2)
    report(out, b, "inbound", str(n) + " inbound blocks, Add takes exactly 2");
  else if (b.kind == BlockKind::Concatenate && n < 2)
    report(out, b, "inbound", str(n) + " inbound blocks, Concatenate takes at least 2");
  else if (b.kind != BlockKind::Add && b.kind != BlockKind::Concatenate && n > 1)
    report(out, b, "inbound", str(n) + " inbound blocks, " + kind_name(b.kind) + " takes 1");
}

// Expected rank of the kernel and what its axes are, for messages.
std::pair<size_t, const char*> kernel_rank(BlockKind kind) {
  switch (kind) {
    case BlockKind::InputConv2D:
    case BlockKind::Conv2D: return {4, "(kx, ky, C, F)"};
    case BlockKind::DepthwiseConv2D: return {3, "(kx, ky, C)"};
    case BlockKind::Dense: return {2, "(X, F)"};
    case BlockKind::BufferTempConv: return {3, "(T, C, F)"};
    case BlockKind::DepthwiseBufferTempConv: return {2, "(T, C)"};
    default: return {0, ""};
  }
}

void check_weights_shape(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const auto& shape = b.weights.shape;
  const auto [rank, axes] = kernel_rank(b.kind);
  if (shape.size() != rank) {
    report(out, b, "weights", "shape has " + str(static_cast<int64_t>(shape.size())) +
                                  " dimensions, " + kind_name(b.kind) + " expects " + axes);
    return;
  }
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 1) {
      report(out, b, "weights", "shape [" + join(shape) + "] has a dimension < 1");
      return;
    }
    count *= d;
  }
  if (static_cast<int64_t>(b.weights.values.size()) != count)
    report(out, b, "weights", str(static_cast<int64_t>(b.weights.values.size())) +
                                  " values for shape [" + join(shape) + "] (" + str(count) + ")");
  const bool temporal =
      b.kind == BlockKind::BufferTempConv || b.kind == BlockKind::DepthwiseBufferTempConv;
  if (temporal && shape[0] != b.fifo_size)
    report(out, b, "weights", "T = " + str(shape[0]) + " differs from fifo_size " +
                                  str(b.fifo_size));
}

template <typename T>
void check_length(Findings& out, const Block& b, const std::string& field,
                  const std::vector<T>& values, int64_t channels, bool may_be_empty) {
  const int64_t n = static_cast<int64_t>(values.size());
  if ((n == 0 && may_be_empty) || n == 1 || n == channels) return;
  report(out, b, field, str(n) + " values, expected " + (may_be_empty ? "none, " : "") + "1 or " +
                            str(channels) + " (one per channel)");
}

void check_channel_vectors(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (!is_neural(b.kind)) {
    if (b.kind == BlockKind::Dequantizer && b.scales.empty())
      report(out, b, "scales", "no value, expected 1 or one per channel");
    return;
  }
  if (b.weights.shape.size() != kernel_rank(b.kind).first) return;  // weights-shape reports it
  const int64_t filters = output_channels(b), channels = input_channels(b);
  check_length(out, b, "bias", b.bias, filters, true);
  check_length(out, b, "relu_max", b.relu_max, filters, true);
  check_length(out, b, "bias_shift", b.bias_shift, filters, true);
  check_length(out, b, "relu_max_shift", b.relu_max_shift, filters, true);
  check_length(out, b, "input_shift", b.input_shift, channels, true);
  check_length(out, b, "padding_value", b.padding_value, channels, true);
  if (b.output) {
    check_length(out, b, "output.scale", b.output->scale, filters, false);
    check_length(out, b, "output.shift", b.output->shift, filters, false);
  }
  if (b.lut) {
    check_length(out, b, "lut.scale_out.scale", b.lut->scale_out.scale, filters, false);
    check_length(out, b, "lut.scale_out.shift", b.lut->scale_out.shift, filters, false);
  }
}

// --- block values ------------------------------------------------------------------------------

void check_input_layer(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (b.kind == BlockKind::InputConv2D && in.index != 0)
    report(out, b, "kind", "InputConv2D must be the first block, it is block " +
                               str(static_cast<int64_t>(in.index)));
  if (b.kind == BlockKind::InputConv2D && !b.inbound.empty())
    report(out, b, "inbound", "InputConv2D reads the model input, not '" + b.inbound.front() + "'");
  if (in.index > 0 && b.inbound.empty() && !needs_input_data(in.graph))
    report(out, b, "inbound", "reads the model input, which the first block (InputConv2D) "
                              "already consumes");
}

void check_input_data(const RuleInput& in, Findings& out) {
  if (in.index != 0 || !needs_input_data(in.graph)) return;
  const QuantizedGraph& g = in.graph;
  if (!g.input_signed)
    report(out, in.block, "input_signed",
           "the model input is unsigned; an InputData layer takes signed inputs only (an unsigned "
           "8-bit image needs an InputConv2D first block)");
  if (g.input_bits < 1 || g.input_bits > 8)
    report(out, in.block, "input_bits", str(g.input_bits) + " bits, InputData takes 1 to 8");
}

void check_input_conv_input(const RuleInput& in, Findings& out) {
  const QuantizedGraph& g = in.graph;
  if (g.input_bits != 8 || g.input_signed)
    report(out, in.block, "input_bits",
           std::string(g.input_signed ? "signed " : "unsigned ") + str(g.input_bits) +
               "-bit input, InputConv2D takes unsigned 8-bit images");
  if (!contains({1, 3}, g.input_shape.c))
    report(out, in.block, "input_channels",
           str(g.input_shape.c) + " channels, InputConv2D takes 1 or 3");
}

void check_weights_bits(const RuleInput& in, Findings& out) {
  if (!contains({4, 8}, in.block.weights_bits))
    report(out, in.block, "weights_bits", str(in.block.weights_bits) + " bits, expected 4 or 8");
}

// A source buffer narrower than Akida's saturates sums that Akida keeps: the outputs would
// differ wherever a sum reaches the narrower bound. (A wider one, QuantizeML's 32-bit default on
// the ONNX path, saturates only beyond 2^27, which Akida's own layers accept.)
void check_buffer_bits(const RuleInput& in, Findings& out) {
  const int32_t akida = akida_buffer_bits(in.block.kind);
  if (in.block.buffer_bits < akida)
    report(out, in.block, "buffer_bits",
           str(in.block.buffer_bits) + " bits: the quantized model saturates its sums to " +
               str(in.block.buffer_bits) + " bits, Akida 2.0 to " + str(akida) +
               ", so their outputs would differ (expected at least " + str(akida) + ")");
}

void check_weights_range(const RuleInput& in, Findings& out) {
  const int32_t bits = in.block.weights_bits;
  if (bits < 1 || bits > 8) return;  // weights-bits reports it
  const int64_t hi = (int64_t{1} << (bits - 1)) - 1, lo = -hi - 1;
  const auto& w = in.block.weights.values;
  const auto bad = std::find_if(w.begin(), w.end(), [&](int64_t v) { return v < lo || v > hi; });
  if (bad != w.end())
    report(out, in.block, "weights[" + str(bad - w.begin()) + "]",
           str(*bad) + " does not fit " + str(bits) + "-bit weights (" + str(lo) + ".." + str(hi) +
               ")");
}

void check_square_kernel(const RuleInput& in, Findings& out) {
  if (kernel_x(in.block) != kernel_y(in.block))
    report(out, in.block, "kernel_size",
           "kernel " + str(kernel_x(in.block)) + "x" + str(kernel_y(in.block)) +
               " is not square");
}

void check_kernel_size(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const int64_t k = kernel_x(b);
  if (kernel_y(b) != k) return;  // square-kernel reports it
  const std::vector<int64_t> allowed = b.kind == BlockKind::InputConv2D ? std::vector<int64_t>{3, 4, 5, 7}
                                       : b.kind == BlockKind::Conv2D
                                           ? std::vector<int64_t>{1, 3, 5, 7}
                                           : std::vector<int64_t>{3, 5, 7};
  if (!contains(allowed, k))
    report(out, b, "kernel_size", "kernel " + str(k) + "x" + str(k) + " not supported (" +
                                      kind_name(b.kind) + ": " + join(allowed) + ")");
}

void check_kernel_stride(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const int64_t k = kernel_x(b), s = b.stride;
  if (b.kind == BlockKind::InputConv2D) {
    // Largest stride per kernel size (akida-spec §4.1).
    const std::map<int64_t, int64_t> max_stride = {{3, 3}, {4, 4}, {5, 5}, {7, 6}};
    const auto it = max_stride.find(k);
    if (it != max_stride.end() && (s < 1 || s > it->second))
      report(out, b, "kernel_stride", "stride " + str(s) + " with kernel " + str(k) +
                                          " not supported (InputConv2D: 1.." +
                                          str(it->second) + ")");
    return;
  }
  if (s == 1 || (s == 2 && k == 3)) return;
  report(out, b, "kernel_stride",
         "stride " + str(s) + " with kernel " + str(k) + "x" + str(k) + " not supported (" +
             kind_name(b.kind) + ": 1, or 2 with a 3x3 kernel)");
}

void check_pooling(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const PoolKind pool = b.pool.kind;
  if (pool == PoolKind::Max && !is_spatial_conv(b.kind))
    report(out, b, "pool", "max pooling not supported on " + kind_name(b.kind) +
                               " (only InputConv2D, Conv2D, DepthwiseConv2D)");
  if (pool == PoolKind::GlobalAverage && b.kind != BlockKind::Conv2D)
    report(out, b, "pool", "global average pooling not supported on " + kind_name(b.kind) +
                               " (only Conv2D)");
}

void check_max_pool_window(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (b.pool.kind != PoolKind::Max) return;
  const int64_t size = b.pool.size, stride = b.pool.stride;
  const bool ok = b.kind == BlockKind::InputConv2D
                      ? stride == 2 && (size == 2 || size == 3)
                      : size == 2 && (stride == 1 || stride == 2);
  if (!ok)
    report(out, b, "pool", "max pooling size " + str(size) + " stride " + str(stride) +
                               " not supported (" + kind_name(b.kind) +
                               (b.kind == BlockKind::InputConv2D
                                    ? ": size 2 or 3, stride 2)"
                                    : ": size 2, stride 1 or 2)"));
}

std::string padding_name(PaddingKind padding) {
  switch (padding) {
    case PaddingKind::Valid: return "Valid";
    case PaddingKind::Same: return "Same";
    case PaddingKind::SameUpper: return "SameUpper";
  }
  return "unknown";
}

// Akida pools with its layer's one padding, the convolution's: the pool must use that padding
// to compute what the model does (akida-spec §3.3). A 1x1 conv is written Same, so it counts as
// Same.
void check_max_pool_padding(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (b.pool.kind != PoolKind::Max) return;
  const bool one_by_one = kernel_x(b) == 1 && kernel_y(b) == 1;
  const PaddingKind conv = akida_padding(b);
  if (b.pool.padding != conv)
    report(out, b, "pool.padding",
           "max pooling padding " + padding_name(b.pool.padding) +
               " differs from the convolution's padding " + padding_name(conv) +
               (one_by_one ? " (a 1x1 convolution counts as Same)" : "") +
               ": Akida pools with the convolution's padding");
}

// Every channel of `values` can be stored as an 8-bit value << shift the way the lowering will
// store it (stored_value_shift: the source's own shift when the block has one).
void check_value_shift(Findings& out, const Block& b, const std::string& field,
                       const std::vector<int64_t>& values, const std::vector<int32_t>& shifts,
                       bool is_signed) {
  const size_t n = shifts.size() > values.size() && !values.empty() ? shifts.size() : values.size();
  for (size_t i = 0; i < n; ++i) {
    if (stored_value_shift(values, shifts, i, is_signed)) continue;
    std::string why = is_signed ? "is not an int8 value shifted left (value << shift with value in "
                                  "-128..127, shift in 0..31)"
                                : "is not a uint8 value shifted left (value << shift with value in "
                                  "0..255, shift in 0..31)";
    if (!shifts.empty())
      why += " with the quantizer's shift " + str(static_cast<int64_t>(channel_value(shifts, i)));
    report(out, b, field + "[" + str(static_cast<int64_t>(i)) + "]",
           str(static_cast<int64_t>(channel_value(values, i))) + " " + why);
  }
}

void check_bias(const RuleInput& in, Findings& out) {
  check_value_shift(out, in.block, "bias", in.block.bias, in.block.bias_shift, true);
}

void check_relu_max(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (!b.relu_max.empty() && !b.relu) report(out, b, "relu_max", "set on a block without ReLU");
  check_value_shift(out, b, "relu_max", b.relu_max, b.relu_max_shift, false);
}

// LUT (akida-spec §1.3 step 6, §4.1): Akida reads its 2048 lut_values (int32) with a signed
// 11-bit index computed by activation_scales (uint8) and activation_shift (int8, clipped like
// output_shift); a layer has one activation, one post_op_buffer_bits, and no max pooling with a
// LUT (BrainChip's hardware documentation; QuantizeML's ONNX body would pool first).
// An output stage's shifts. BrainChip stores them clipped to >= 1 - buffer_bits
// (stored_output_shift): a shift below that would make Akida's values a power of two larger
// than the quantized model's, so it is refused, as one above 31.
void check_shifts(Findings& out, const Block& b, const std::string& field,
                  const std::string& akida_name, const std::vector<int32_t>& shifts) {
  const int32_t floor = 1 - akida_buffer_bits(b.kind);
  check_each(out, b, field, shifts, [&](int32_t v) { return v >= floor && v <= 31; },
             "is out of range (" + akida_name + " must be " + str(floor) +
                 "..31: Akida clips it to >= " + str(floor) +
                 ", which would scale the values by a power of two)");
}

void check_lut(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (!b.lut) return;
  const LutActivation& lut = *b.lut;
  const OutputStage& s = lut.scale_out;
  if (!is_spatial_conv(b.kind))
    report(out, b, "lut", "LUT activations only on InputConv2D, Conv2D and DepthwiseConv2D, not " +
                              kind_name(b.kind));
  if (b.relu) report(out, b, "lut", "set together with a ReLU: an Akida layer has one activation");
  if (b.pool.kind == PoolKind::Max)
    report(out, b, "pool", "max pooling cannot be combined with a LUT activation");
  if (!s.output_signed || s.output_bits != 11)
    report(out, b, "lut.scale_out.output_bits",
           str(s.output_bits) + (s.output_signed ? " signed" : " unsigned") +
               " bits, Akida's LUT index is a signed 11-bit value");
  if (lut.table.size() != 2048)
    report(out, b, "lut.table",
           str(static_cast<int64_t>(lut.table.size())) + " values, Akida's LUT holds 2048");
  check_each(out, b, "lut.table", lut.table,
             [](int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; },
             "does not fit lut_values (int32)");
  check_each(out, b, "lut.scale_out.scale", s.scale, [](int64_t v) { return v >= 0 && v <= 255; },
             "does not fit activation_scales (uint8, 0..255)");
  check_shifts(out, b, "lut.scale_out.shift", "activation_shift", s.shift);
  const int32_t post_op = b.output ? b.output->post_op_buffer_bits : 32;
  if (s.post_op_buffer_bits != post_op)
    report(out, b, "lut.scale_out.post_op_buffer_bits",
           str(s.post_op_buffer_bits) + " bits differ from the layer's post_op_buffer_bits " +
               str(post_op) + " (one parameter serves both scale-outs)");
}

void check_activation(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (b.relu)
    report(out, b, "relu", "ReLU not supported on " + kind_name(b.kind));
  if (b.lut) report(out, b, "lut", "LUT activation not supported on " + kind_name(b.kind));
  if (b.pool.kind != PoolKind::None)
    report(out, b, "pool", "pooling not supported on " + kind_name(b.kind));
}

void check_output_stage(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (!b.output) return;
  const OutputStage& o = *b.output;
  if (b.kind == BlockKind::Concatenate || b.kind == BlockKind::Dequantizer) {
    report(out, b, "output", kind_name(b.kind) + " has no output stage");
    return;
  }
  if (b.kind == BlockKind::Add) {
    // Add's inputs are power-of-two scaled: akida's Add has output_shift but no output_scales.
    check_each(out, b, "output.scale", o.scale, [](int64_t v) { return v == 1; },
               "is not 1 (Add has no output scales)");
  } else {
    check_each(out, b, "output.scale", o.scale, [](int64_t v) { return v >= 0 && v <= 255; },
               "does not fit output_scales (uint8, 0..255)");
  }
  check_shifts(out, b, "output.shift", "output_shift", o.shift);
  if (!contains({4, 8}, o.output_bits))
    report(out, b, "output.output_bits", str(o.output_bits) + " bits, expected 4 or 8");
  // Akida 2.0 saturates every output to the signed range of output_bits (post_ops.h: 8-bit ReLU
  // outputs clip at 127): an unsigned QuantizeML output (an Akida 1.0 quantization) would lose
  // its upper half, silently.
  if (!o.output_signed && o.output_bits >= 1 && o.output_bits <= 31)
    report(out, b, "output.output_signed",
           "unsigned " + str(o.output_bits) + "-bit outputs (0.." +
               str((int64_t{1} << o.output_bits) - 1) +
               "): Akida 2.0 saturates outputs to the signed range (at most " +
               str((int64_t{1} << (o.output_bits - 1)) - 1) +
               "); quantize with signed output quantizers for Akida 2.0");
  if (o.post_op_buffer_bits < 1 || o.post_op_buffer_bits > 32)
    report(out, b, "output.post_op_buffer_bits",
           str(o.post_op_buffer_bits) + " bits, expected 1..32");
}

void check_input_shift(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (b.kind == BlockKind::InputConv2D) {
    check_each(out, b, "input_shift", b.input_shift, [](int32_t v) { return v == 0; },
               "is not 0 (InputConv2D has no input_shift)");
    return;
  }
  check_each(out, b, "input_shift", b.input_shift, [](int32_t v) { return v >= 0 && v <= 7; },
             "is out of range (0..7)");
}

void check_padding_value(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  if (b.kind == BlockKind::InputConv2D) {
    check_each(out, b, "padding_value", b.padding_value,
               [](int64_t v) { return v >= 0 && v <= 255; }, "is not a uint8 value (0..255)");
    return;
  }
  check_each(out, b, "padding_value", b.padding_value, [](int64_t v) { return v == 0; },
             "is not 0 (only InputConv2D pads with a value)");
}

void check_fifo_size(const RuleInput& in, Findings& out) {
  if (in.block.fifo_size < 2 || in.block.fifo_size > 10)
    report(out, in.block, "fifo_size", str(in.block.fifo_size) + " frames, expected 2..10");
}

void check_add_shifts(const RuleInput& in, Findings& out) {
  const Block& b = in.block;
  const auto fits = [](int32_t v) { return v >= 0 && v <= 255; };
  check_each(out, b, "a_shift", b.a_shift, fits, "does not fit uint8 (0..255)");
  check_each(out, b, "b_shift", b.b_shift, fits, "does not fit uint8 (0..255)");
}

// --- shapes ------------------------------------------------------------------------------------

void check_dims(const RuleInput& in, Findings& out) {
  if (in.dims_error) report(out, in.block, "dims", *in.dims_error);
}

void check_input_channels(const RuleInput& in, Findings& out) {
  if (!in.input_shapes || in.input_shapes->size() != 1) return;
  const Block& b = in.block;
  const akida::Shape& s = in.input_shapes->front();
  if (b.kind == BlockKind::Dense) {
    if (s.size() != input_channels(b))
      report(out, b, "weights", "has " + str(input_channels(b)) + " rows, the input " +
                                    akida::to_string(s) + " has " + str(s.size()) + " values");
  } else if (s.c != input_channels(b)) {
    report(out, b, "weights", "has " + str(input_channels(b)) + " input channels, the input " +
                                  akida::to_string(s) + " has " + str(s.c));
  }
}

void check_dense_input_flat(const RuleInput& in, Findings& out) {
  if (!in.input_shapes || in.input_shapes->size() != 1) return;
  const akida::Shape& s = in.input_shapes->front();
  if (s.x != 1 || s.y != 1)
    report(out, in.block, "input", "shape " + akida::to_string(s) +
                                       " is not flat, Dense1D takes (1, 1, X)");
}

void check_dense_input_shift(const RuleInput& in, Findings& out) {
  if (!in.input_shapes || in.input_shapes->size() != 1) return;
  const Block& b = in.block;
  const auto c = static_cast<size_t>(in.input_shapes->front().c);
  if (b.input_shift.size() <= 1 || c == 0) return;
  for (size_t i = c; i < b.input_shift.size(); ++i)
    if (b.input_shift[i] != b.input_shift[i % c]) {
      report(out, b, "input_shift[" + str(static_cast<int64_t>(i)) + "]",
             str(b.input_shift[i]) + " differs from the shift of its channel (" +
                 str(b.input_shift[i % c]) + " at index " + str(static_cast<int64_t>(i % c)) +
                 "): Akida shifts each input channel");
      return;
    }
}

void check_channel_limits(const RuleInput& in, Findings& out) {
  if (!in.input_shapes || in.input_shapes->size() != 1) return;
  const Block& b = in.block;
  const akida::Shape& s = in.input_shapes->front();
  constexpr int64_t kMax = 2048;
  if (b.kind == BlockKind::Dense && s.size() > kMax)
    report(out, b, "input", str(s.size()) + " values, Dense1D takes at most " + str(kMax));
  if (b.kind != BlockKind::Dense && b.kind != BlockKind::InputConv2D && s.c > kMax)
    report(out, b, "input", str(s.c) + " channels, " + kind_name(b.kind) + " takes at most " +
                                str(kMax));
  const int64_t max_filters = b.kind == BlockKind::InputConv2D ? 512 : kMax;
  if ((b.kind == BlockKind::InputConv2D || b.kind == BlockKind::BufferTempConv) &&
      output_channels(b) > max_filters)
    report(out, b, "filters", str(output_channels(b)) + " filters, " + kind_name(b.kind) +
                                  " has at most " + str(max_filters));
}

void check_spatial_limits(const RuleInput& in, Findings& out) {
  if (!in.input_shapes || in.input_shapes->size() != 1) return;
  const akida::Shape& s = in.input_shapes->front();
  constexpr int64_t kMax = 4096;
  if (s.x > kMax || s.y > kMax)
    report(out, in.block, "input", "shape " + akida::to_string(s) + ", " +
                                       kind_name(in.block.kind) + " takes at most " + str(kMax) +
                                       " x " + str(kMax));
}

void check_per_channel_lengths(const RuleInput& in, Findings& out) {
  if (!in.input_shapes || in.input_shapes->empty()) return;
  const Block& b = in.block;
  const int64_t channels = in.input_shapes->front().c;
  if (b.kind == BlockKind::Dequantizer) check_length(out, b, "scales", b.scales, channels, false);
  if (b.kind == BlockKind::Add) {
    check_length(out, b, "a_shift", b.a_shift, channels, true);
    check_length(out, b, "b_shift", b.b_shift, channels, true);
  }
  if (b.kind == BlockKind::Add && b.output) {
    check_length(out, b, "output.scale", b.output->scale, channels, false);
    check_length(out, b, "output.shift", b.output->shift, channels, false);
  }
}

using K = BlockKind;
const std::vector<BlockKind> kNeural = {K::InputConv2D, K::Conv2D, K::DepthwiseConv2D,
                                        K::Dense, K::BufferTempConv, K::DepthwiseBufferTempConv};
const std::vector<BlockKind> kSpatial = {K::InputConv2D, K::Conv2D, K::DepthwiseConv2D};
const std::vector<BlockKind> kNonNeural = {K::Add, K::Concatenate, K::Dequantizer};
// The blocks whose sums saturate to buffer_bits, in the evaluator as on Akida.
const std::vector<BlockKind> kBuffered = {K::InputConv2D, K::Conv2D, K::DepthwiseConv2D,
                                          K::Dense, K::Add};

}  // namespace

const std::vector<Rule>& v2_rules() {
  using S = RuleStage;
  static const std::vector<Rule> rules = {
      {"v2-kind", "Blocks are of a kind Akida 2.0 has a layer for (no SeparableConv2D).",
       S::Structure, {}, check_kind},
      {"block-name", "Every block has a name, and no two blocks share one.", S::Structure, {},
       check_block_name},
      {"inbound",
       "Inbound names are earlier blocks; Add takes exactly 2, Concatenate at least 2, every "
       "other block at most 1 (none: the model input).",
       S::Structure, {}, check_inbound},
      {"weights-shape",
       "A kernel has the dims of its kind (InputConv2D/Conv2D (kx, ky, C, F), DepthwiseConv2D "
       "(kx, ky, C), Dense (X, F), BufferTempConv (T, C, F), DepthwiseBufferTempConv (T, C)), "
       "T equal to fifo_size, and one value per element.",
       S::Structure, kNeural, check_weights_shape},
      {"channel-vectors",
       "Per-channel vectors (bias, relu_max, output scale and shift, input_shift, padding_value, "
       "Dequantizer scales) hold one value or one per channel.",
       S::Structure, {}, check_channel_vectors},
      {"input-layer",
       "InputConv2D is only the first block and reads the model input, which no other block "
       "then reads.",
       S::Block, {}, check_input_layer},
      {"input-data",
       "A model that starts with an InputData layer (first block not an InputConv2D) takes a "
       "signed input of at most 8 bits.",
       S::Block, {}, check_input_data},
      {"input-conv-input", "InputConv2D takes an unsigned 8-bit image of 1 or 3 channels.",
       S::Block, {K::InputConv2D}, check_input_conv_input},
      {"weights-bits", "Weights have 4 or 8 bits.", S::Block, kNeural, check_weights_bits},
      {"buffer-bits",
       "The quantized model's accumulator (buffer_bits) is at least as wide as Akida 2.0's "
       "(28 bits for the neural layers, 32 for Add).",
       S::Block, kBuffered, check_buffer_bits},
      {"weights-range", "Every weight fits the signed range of weights_bits.", S::Block, kNeural,
       check_weights_range},
      {"square-kernel", "Convolution kernels are square.", S::Block, kSpatial,
       check_square_kernel},
      {"kernel-size",
       "Kernel sizes: InputConv2D 3, 4, 5 or 7; Conv2D 1, 3, 5 or 7; DepthwiseConv2D 3, 5 or 7.",
       S::Block, kSpatial, check_kernel_size, RuleScope::Hardware},
      {"kernel-stride",
       "Strides: InputConv2D at most 3 (3x3), 4 (4x4), 5 (5x5) or 6 (7x7); Conv2D and "
       "DepthwiseConv2D 1, or 2 with a 3x3 kernel.",
       S::Block, kSpatial, check_kernel_stride, RuleScope::Hardware},
      {"pooling",
       "Max pooling only on InputConv2D, Conv2D and DepthwiseConv2D; global average pooling "
       "only on Conv2D.",
       S::Block, kNeural, check_pooling},
      {"max-pool-window",
       "Max pooling windows: InputConv2D size 2 or 3 with stride 2; Conv2D and DepthwiseConv2D "
       "size 2 with stride 1 or 2.",
       S::Block, kSpatial, check_max_pool_window, RuleScope::Hardware},
      {"max-pool-padding",
       "A max pooling has the padding of its convolution (a 1x1 convolution counts as Same), "
       "the only one Akida pools with.",
       S::Block, kSpatial, check_max_pool_padding},
      {"bias",
       "Each bias is exactly an int8 value shifted left (bias << bias_shift, shift 0..31), by "
       "the bias quantizer's own shift when the source records one (Keras).",
       S::Block, kNeural, check_bias},
      {"relu-max",
       "Each ReLU bound is exactly a uint8 value shifted left (max_value << max_value_shift, "
       "shift 0..31; the quantizer's own shift when recorded), and only a ReLU has one.",
       S::Block, kNeural, check_relu_max},
      {"no-activation", "Add, Concatenate and Dequantizer have no ReLU, LUT or pooling.",
       S::Block, kNonNeural, check_activation},
      {"lut",
       "A LUT activation is on InputConv2D, Conv2D or DepthwiseConv2D, without ReLU or max "
       "pooling, with a uint8 activation scale, an activation shift in range, a signed 11-bit "
       "index, 2048 int32 table values and the layer's post_op_buffer_bits.",
       S::Block, kNeural, check_lut},
      {"output-stage",
       "Output scales are uint8 (Add: 1); output shifts lie in 1 - buffer_bits..31 (BrainChip "
       "clips lower ones, which would change the outputs); outputs have 4 or 8 bits; "
       "Concatenate and Dequantizer have no output stage.",
       S::Block, {}, check_output_stage},
      {"input-shift", "Input shifts lie in 0..7; InputConv2D has none.", S::Block, kNeural,
       check_input_shift},
      {"padding-value", "Padding values are uint8, and only InputConv2D has non-zero ones.",
       S::Block, kNeural, check_padding_value},
      {"fifo-size", "Temporal convolutions buffer 2 to 10 frames.", S::Block,
       {K::BufferTempConv, K::DepthwiseBufferTempConv}, check_fifo_size, RuleScope::Hardware},
      {"add-shifts", "Add input shifts (a_shift, b_shift, per channel) are uint8.", S::Block,
       {K::Add},
       check_add_shifts},
      {"dims",
       "Every layer's dims follow from its inputs (a Valid kernel fits its input, Add inputs "
       "are equal, Concatenate inputs share x and y).",
       S::Shape, {}, check_dims},
      {"input-channels",
       "A kernel's input channels equal its input's channels (Dense: its rows equal the input "
       "size).",
       S::Shape, kNeural, check_input_channels},
      {"dense-input-flat",
       "Dense1D inputs are flat: (1, 1, X) (the converted layer flattens other inputs in (x, y, "
       "c) order, which the hardware does not).", S::Shape, {K::Dense},
       check_dense_input_flat, RuleScope::Hardware},
      {"dense-input-shift",
       "A Dense1D block's input shifts are the same for every position of an input channel "
       "(Akida shifts per input channel).",
       S::Shape, {K::Dense}, check_dense_input_shift},
      {"channel-limits",
       "Inputs have at most 2048 channels (Dense1D: 2048 values); InputConv2D has at most 512 "
       "filters, BufferTempConv at most 2048.",
       S::Shape, kNeural, check_channel_limits, RuleScope::Hardware},
      {"spatial-limits",
       "Inputs of Conv2D, DepthwiseConv2D and temporal convolutions are at most 4096 x 4096.",
       S::Shape, {K::Conv2D, K::DepthwiseConv2D, K::BufferTempConv, K::DepthwiseBufferTempConv},
       check_spatial_limits, RuleScope::Hardware},
      {"per-channel-lengths",
       "Add input shifts hold none, one value or one per input channel; Add output shifts and "
       "Dequantizer scales one value or one per input channel.",
       S::Shape, {K::Add, K::Dequantizer}, check_per_channel_lengths},
  };
  return rules;
}

namespace {

void run_stage(RuleStage stage, RuleScope scope, const RuleInput& in, Findings& out) {
  for (const Rule& rule : v2_rules())
    if (rule.stage == stage && rule.scope == scope && rule.applies_to(in.block.kind))
      rule.check(in, out);
}

// Dims known for each layer of the converted model, with the error of each layer whose dims
// could not be computed (layers fed by such a layer are left out silently, to report the cause
// once).
struct LayerDims {
  std::map<std::string, akida::Shape> shape;
  std::map<std::string, std::string> error;
};

LayerDims compute_dims(const QuantizedGraph& graph) {
  LayerDims dims;
  try {
    dims.shape = v2_output_shapes(graph);
    return dims;
  } catch (const akida::Error&) {
    // Find the culprits: add layers one by one, dropping those that fail or depend on one
    // (quadratic, but only on this failure path).
  }
  akida::Model model;
  std::set<std::string> dropped;
  const std::vector<akida::Layer> layers = convert_detail::lower_layers_without_variables(graph);
  for (const akida::Layer& layer : layers) {
    if (std::any_of(layer.inbound.begin(), layer.inbound.end(),
                    [&](const std::string& n) { return dropped.count(n) != 0; })) {
      dropped.insert(layer.name);
      continue;
    }
    model.layers.push_back(layer);
    try {
      akida::infer_output_shapes(model);
    } catch (const akida::Error& e) {
      model.layers.pop_back();
      dropped.insert(layer.name);
      dims.error[layer.name] = e.what();
    }
  }
  if (!model.layers.empty()) {
    const auto shapes = akida::infer_output_shapes(model);
    for (size_t i = 0; i < shapes.size(); ++i) dims.shape[model.layers[i].name] = shapes[i];
  }
  return dims;
}

// Dims of the block's inputs, or nullopt when one of them is unknown.
std::optional<std::vector<akida::Shape>> block_inputs(const QuantizedGraph& graph,
                                                      const Block& block, const LayerDims& dims) {
  std::vector<akida::Shape> inputs;
  if (block.inbound.empty()) {
    if (!needs_input_data(graph)) return std::vector<akida::Shape>{graph.input_shape};
    const auto it = dims.shape.find(input_data_name(graph));
    if (it == dims.shape.end()) return std::nullopt;
    return std::vector<akida::Shape>{it->second};
  }
  for (const auto& name : block.inbound) {
    const auto it = dims.shape.find(name);
    if (it == dims.shape.end()) return std::nullopt;
    inputs.push_back(it->second);
  }
  return inputs;
}

}  // namespace

namespace {

Findings run_rules(const QuantizedGraph& graph, RuleScope scope) {
  Findings out;
  if (graph.blocks.empty()) return {{"", "blocks", "the graph has no blocks"}};

  // Structure first, everywhere: the other stages read tensors the structure rules vouch for.
  // Structure rules are all Conversion rules, and run for either scope.
  std::vector<Findings> per_block(graph.blocks.size());
  bool well_formed = true;
  for (size_t i = 0; i < graph.blocks.size(); ++i) {
    run_stage(RuleStage::Structure, RuleScope::Conversion, {graph, graph.blocks[i], i},
              per_block[i]);
    well_formed = well_formed && per_block[i].empty();
  }
  std::optional<LayerDims> dims;
  if (well_formed) dims = compute_dims(graph);
  if (dims && needs_input_data(graph)) {
    // The inserted InputData layer is no block: report its own dims problem on the graph.
    const auto it = dims->error.find(input_data_name(graph));
    if (it != dims->error.end()) out.push_back({"", "input_shape", it->second});
  }

  for (size_t i = 0; i < graph.blocks.size(); ++i) {
    const Block& block = graph.blocks[i];
    Findings& found = per_block[i];
    if (found.empty()) run_stage(RuleStage::Block, scope, {graph, block, i}, found);
    if (dims) {
      const auto inputs = block_inputs(graph, block, *dims);
      const auto error = dims->error.find(block.name);
      RuleInput in{graph, block, i};
      in.input_shapes = inputs ? &*inputs : nullptr;
      in.dims_error = error != dims->error.end() ? &error->second : nullptr;
      run_stage(RuleStage::Shape, scope, in, found);
    }
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

}  // namespace

std::vector<Incompatibility> check_v2(const QuantizedGraph& graph) {
  return run_rules(graph, RuleScope::Conversion);
}

std::vector<Incompatibility> check_v2_hardware(const QuantizedGraph& graph) {
  if (!check_v2(graph).empty()) return {};
  return run_rules(graph, RuleScope::Hardware);
}

}  // namespace cnn2snn
