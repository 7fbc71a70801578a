// One QuantizeML custom node -> one Block. Values are moved, never changed: the weights only
// change layout (ONNX's channels-first order -> the Block's documented layouts).
#include <algorithm>
#include <cmath>

#include "cnn2snn/onnx/node_inputs.h"

namespace cnn2snn::onnx_reader {
namespace {

using akida::Shape;
using akida::UnsupportedError;
using TP = onnx::TensorProto;

std::string str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// A per-channel vector stored as any shape holding 1 or `channels` values (QuantizeML aligns
// them to the output rank, e.g. Scale (1, F, 1, 1) or bias (F, 1, 1)).
std::vector<int64_t> per_channel(const IntTensor& t, int64_t channels, const NodeInputs& in,
                                 const std::string& formal, bool allow_scalar = true) {
  const auto n = static_cast<int64_t>(t.values.size());
  if (n != channels && !(allow_scalar && n == 1))
    in.where().fail<akida::ShapeError>(in.field(formal) + ": shape " + str(t.shape) + " holds " +
                                       std::to_string(n) + " values, expected " +
                                       (allow_scalar ? "1 or " : "") + std::to_string(channels));
  return t.values;
}

int64_t square(const std::vector<int64_t>& v, const NodeInputs& in, const std::string& what) {
  if (v.size() != 2 || v[0] != v[1] || v[0] <= 0)
    in.where().fail<UnsupportedError>(what + " " + str(v) + ": only two equal positive values " +
                                      "(square) are supported");
  return v[0];
}

// log2 of a positive power of two stored as a float; nullopt for anything else.
std::optional<int32_t> exact_log2(double v) {
  if (!(v > 0) || !std::isfinite(v)) return std::nullopt;
  int exp = 0;
  if (std::frexp(v, &exp) != 0.5) return std::nullopt;
  return exp - 1;
}

// Output bits and signedness from the scale-out Clip bounds: [-2^(b-1), 2^(b-1)-1] or [0, 2^b-1].
void set_range_bits(OutputStage& out, const NodeInputs& in, std::pair<double, double> range) {
  const auto [lo, hi] = range;
  auto bits = exact_log2(hi + 1);
  if (bits && lo == -(hi + 1)) {
    out.output_bits = *bits + 1;
    out.output_signed = true;
  } else if (bits && lo == 0) {
    out.output_bits = *bits;
    out.output_signed = false;
  } else {
    in.where().fail<UnsupportedError>("function body: Clip range [" + std::to_string(lo) + ", " +
                                      std::to_string(hi) + "] is not an integer range");
  }
}

void set_output_range(OutputStage& out, const NodeInputs& in) {
  auto range = in.clip_range();
  if (!range) in.where().fail("function body: a 'Scaled' op without a final Clip");
  set_range_bits(out, in, *range);
}

// y = floor(acc / Shift * Scale + 0.5) with the formals `scale_formal` (uint8, absent: 1) and
// `shift_formal` (a power of two): the IR's multiply then rounded shift by -log2(Shift). The
// saturation range is the caller's to set.
OutputStage scale_and_shift(const NodeInputs& in, int64_t channels, const std::string& scale_formal,
                            const std::string& shift_formal) {
  OutputStage out;
  if (!scale_formal.empty()) {
    IntTensor scale = in.ints_of(scale_formal, TP::UINT8);
    out.scale = per_channel(scale, channels, in, scale_formal);
  } else {
    out.scale = {1};
  }
  std::vector<double> shift = in.floats(shift_formal);
  if (static_cast<int64_t>(shift.size()) != channels && shift.size() != 1)
    in.where().fail<akida::ShapeError>(in.field(shift_formal) + ": holds " +
                                       std::to_string(shift.size()) + " values, expected 1 or " +
                                       std::to_string(channels));
  for (double s : shift) {
    auto k = exact_log2(s);
    if (!k || *k < -62 || *k > 62)
      in.where().fail<UnsupportedError>(in.field(shift_formal) + ": " + std::to_string(s) +
                                        " is not a power of two in [2^-62, 2^62]");
    out.shift.push_back(-*k);
  }
  return out;
}

// "Scaled": the final scale-out, saturated to the body's last Clip.
OutputStage output_stage(const NodeInputs& in, int64_t channels, bool has_scale) {
  OutputStage out = scale_and_shift(in, channels, has_scale ? "Scale" : "", "Shift");
  set_output_range(out, in);
  return out;
}

// "LUT" (QuantizeML conv2d build_subgraph): scale-out with ActScale / ActShift saturated to the
// Clip feeding the Gather (11 bits), then Gather(LUT_values, index). LUT_values (int32, 2^b
// values) is stored [0 .. N-1, -N .. -1] so that negative indices wrap; the IR orders it by
// index value from -N (cnn2snn onnx_conversion/activation.py reorders the same way).
LutActivation lut_activation(const NodeInputs& in, int64_t channels) {
  LutActivation lut;
  lut.scale_out = scale_and_shift(in, channels, "ActScale", "ActShift");
  auto range = in.gather_index_range("LUT_values");
  if (!range)
    in.where().fail("function body: a 'LUT' op without Gather(LUT_values, Cast(Clip(...)))");
  set_range_bits(lut.scale_out, in, *range);
  if (!lut.scale_out.output_signed || lut.scale_out.output_bits > 20)
    in.where().fail<UnsupportedError>("function body: the LUT index range [" +
                                      std::to_string(range->first) + ", " +
                                      std::to_string(range->second) +
                                      "] is not a signed range of at most 20 bits");
  const IntTensor table = in.ints_of("LUT_values", TP::INT32);
  const size_t size = size_t{1} << lut.scale_out.output_bits, half = size / 2;
  if (table.values.size() != size)
    in.where().fail<akida::ShapeError>(in.field("LUT_values") + ": shape " + str(table.shape) +
                                       " holds " + std::to_string(table.values.size()) +
                                       " values, expected " + std::to_string(size) +
                                       " (one per index of the LUT Clip range)");
  lut.table.assign(table.values.begin() + static_cast<std::ptrdiff_t>(half), table.values.end());
  lut.table.insert(lut.table.end(), table.values.begin(),
                   table.values.begin() + static_cast<std::ptrdiff_t>(half));
  return lut;
}

// Bias, ReLU, output stage: the tail every neural block shares.
void set_post_ops(Block& b, const OpType& op, const NodeInputs& in, int64_t filters) {
  if (op.biased) b.bias = per_channel(in.ints_of("bias", TP::INT32), filters, in, "bias", false);
  b.relu = op.activation == Activation::ReLU || op.activation == Activation::ReLUClipped;
  if (op.activation == Activation::ReLUClipped)
    b.relu_max = per_channel(in.ints("max_value"), filters, in, "max_value");
  if (op.activation == Activation::LUT) b.lut = lut_activation(in, filters);
  // The ONNX bodies compute in float without saturating the accumulator: 32 is the widest
  // accumulator the IR knows. The converter sets Akida's own buffer_bits.
  b.buffer_bits = 32;
  if (op.scaled) b.output = output_stage(in, filters, true);
}

IntTensor int8_weights(const NodeInputs& in, size_t rank) {
  IntTensor w = in.ints_of("W", TP::INT8);
  if (w.shape.size() != rank)
    in.where().fail<akida::ShapeError>(in.field("W") + ": shape " + str(w.shape) + " has " +
                                       std::to_string(w.shape.size()) + " dimensions, expected " +
                                       std::to_string(rank));
  return w;
}

// The weights' bit width: QuantizeML's ONNX export has 8-bit weights only; this project's
// quantizer marks 4-bit layers (-w 4) with an INT attribute "weights_bits" (the kernel is still
// stored int8, within -8..7). The values alone cannot tell: real QuantizeML exports have 8-bit
// layers whose weights all lie within -8..7 (tennst).
int32_t weight_bits(const NodeInputs& in) {
  const int64_t bits = in.int_attr("weights_bits").value_or(8);
  if (bits != 4 && bits != 8)
    in.where().fail<UnsupportedError>("attribute 'weights_bits' " + std::to_string(bits) +
                                      ": expected 4 or 8");
  return static_cast<int32_t>(bits);
}

// ---- padding ----
struct AxisPads {
  int64_t lo, hi;  // TensorFlow "SAME": the odd pad goes after (hi)
};
AxisPads same_pads(int64_t size, int64_t kernel, int64_t stride) {
  const int64_t rem = size % stride;
  const int64_t total = std::max<int64_t>(kernel - (rem == 0 ? stride : rem), 0);
  return {total / 2, total - total / 2};
}
int64_t out_size(int64_t size, int64_t before, int64_t after, int64_t kernel, int64_t stride) {
  return (size + before + after - kernel) / stride + 1;
}

// ONNX Pad order for (N, C, X, Y): [n0, c0, x0, y0, n1, c1, x1, y1]. Same is checked first, as
// BrainChip's converter does (with a 1x1 kernel, zero pads are both Same and Valid: same result).
PaddingKind padding_kind(const std::vector<int64_t>& p, Shape in_shape, int64_t k, int64_t s,
                         const NodeInputs& in) {
  if (p.size() != 8 || p[0] || p[1] || p[4] || p[5])
    in.where().fail<UnsupportedError>(in.field("pads") + ": " + str(p) +
                                      ": expected 8 values with no batch/channel padding");
  const AxisPads ax = same_pads(in_shape.x, k, s), ay = same_pads(in_shape.y, k, s);
  const int64_t x0 = p[2], y0 = p[3], x1 = p[6], y1 = p[7];
  if (x0 == ax.lo && x1 == ax.hi && y0 == ay.lo && y1 == ay.hi) return PaddingKind::Same;
  // SameUpper puts the odd pad before. Symmetric pads (the larger pad on both sides, as PyTorch)
  // are the same operation when the extra trailing row/column is never reached.
  auto upper_axis = [&](int64_t size, AxisPads a, int64_t b0, int64_t b1) {
    if (b0 != a.hi) return false;
    if (b1 == a.lo) return true;
    return b1 == a.hi && out_size(size, b0, b1, k, s) == out_size(size, a.hi, a.lo, k, s);
  };
  if ((ax.lo != ax.hi || ay.lo != ay.hi) && upper_axis(in_shape.x, ax, x0, x1) &&
      upper_axis(in_shape.y, ay, y0, y1))
    return PaddingKind::SameUpper;
  if (!x0 && !y0 && !x1 && !y1) return PaddingKind::Valid;
  in.where().fail<UnsupportedError>(
      in.field("pads") + ": " + str(p) + " is neither Valid, Same [0, 0, " + std::to_string(ax.lo) +
      ", " + std::to_string(ay.lo) + ", 0, 0, " + std::to_string(ax.hi) + ", " +
      std::to_string(ay.hi) + "] nor SameUpper for input " + akida::to_string(in_shape) +
      ", kernel " + std::to_string(k) + ", stride " + std::to_string(s));
}

// Spatial size after the conv padding chosen.
Shape conv_output(Shape in_shape, PaddingKind padding, int64_t k, int64_t s, int64_t filters) {
  if (padding == PaddingKind::Valid)
    return {out_size(in_shape.x, 0, 0, k, s), out_size(in_shape.y, 0, 0, k, s), filters};
  const AxisPads ax = same_pads(in_shape.x, k, s), ay = same_pads(in_shape.y, k, s);
  return {out_size(in_shape.x, ax.lo, ax.hi, k, s), out_size(in_shape.y, ay.lo, ay.hi, k, s),
          filters};
}

// MaxPool(pads=@pool_pads) on the conv output: [x0, y0, x1, y1] are the pool's own TF-same pads
// (Same) or zero (Valid); when those coincide, Same is taken, as for the conv (padding_kind).
// Whether Akida, which pools with the conv's padding, can run it is the converter's check.
Shape apply_max_pool(Block& b, Shape conv_out, bool conv_pads_zero, const NodeInputs& in) {
  const int64_t size = square(in.ints_attr("pool_size").value_or(std::vector<int64_t>{}), in,
                              "attribute 'pool_size'");
  const int64_t stride = square(in.ints_attr("pool_strides").value_or(std::vector<int64_t>{}), in,
                                "attribute 'pool_strides'");
  const std::vector<int64_t> pads = in.ints_attr("pool_pads").value_or(std::vector<int64_t>(4, 0));
  const AxisPads ax = same_pads(conv_out.x, size, stride), ay = same_pads(conv_out.y, size, stride);
  const std::vector<int64_t> same = {ax.lo, ay.lo, ax.hi, ay.hi}, zero(4, 0);
  if (pads != same && pads != zero)
    in.where().fail<UnsupportedError>("attribute 'pool_pads' " + str(pads) + ": neither Valid " +
                                      str(zero) + " nor Same " + str(same));
  const PaddingKind padding = pads == same ? PaddingKind::Same : PaddingKind::Valid;
  // Zero conv pads always compute the Valid conv (padding_kind may have called it Same, its
  // same-pads being zero too): name it as a Valid pool, so that the Akida layer, whose one
  // padding serves both, can pool as the model does.
  if (conv_pads_zero && padding == PaddingKind::Valid) b.padding = PaddingKind::Valid;
  b.pool = {PoolKind::Max, size, stride, padding};
  return {out_size(conv_out.x, pads[0], pads[2], size, stride),
          out_size(conv_out.y, pads[1], pads[3], size, stride), conv_out.c};
}

// ONNX W (F, C, kx, ky) -> (kx, ky, C, F); depthwise (C, 1, kx, ky) -> (kx, ky, C).
IntTensor conv_kernel(const IntTensor& w, bool depthwise) {
  const int64_t f = w.shape[0], c = w.shape[1], kx = w.shape[2], ky = w.shape[3];
  IntTensor out;
  out.shape = depthwise ? std::vector<int64_t>{kx, ky, f} : std::vector<int64_t>{kx, ky, c, f};
  out.values.resize(w.values.size());
  for (int64_t o = 0; o < f; ++o)
    for (int64_t i = 0; i < c; ++i)
      for (int64_t x = 0; x < kx; ++x)
        for (int64_t y = 0; y < ky; ++y)
          out.values[((x * ky + y) * c + i) * f + o] = w.values[((o * c + i) * kx + x) * ky + y];
  return out;
}

Block convert_conv(Block b, const OpType& op, const NodeInputs& in, Shape& out_shape) {
  const Shape x = in.shape("X");
  const bool depthwise = op.base == Base::Depthwise2D;
  IntTensor w = int8_weights(in, 4);
  b.weights_bits = weight_bits(in);
  const int64_t filters = w.shape[0];
  const int64_t in_channels = depthwise ? filters : w.shape[1];
  if (in_channels != x.c || (depthwise && w.shape[1] != 1))
    in.where().fail<akida::ShapeError>(in.field("W") + ": shape " + str(w.shape) +
                                       " does not fit an input of " + std::to_string(x.c) +
                                       " channels");
  if (depthwise && in.int_attr("group").value_or(in.int_attr("groups").value_or(x.c)) != x.c)
    in.where().fail<UnsupportedError>("attribute 'groups': expected one group per channel");
  const int64_t k = square({w.shape[2], w.shape[3]}, in, "kernel");
  b.stride = square(in.ints_attr("strides").value_or(std::vector<int64_t>{1, 1}), in,
                    "attribute 'strides'");
  const std::vector<int64_t> pads =
      in.has("pads") ? in.ints("pads").values : std::vector<int64_t>(8, 0);
  b.padding = padding_kind(pads, x, k, b.stride, in);
  b.weights = conv_kernel(w, depthwise);
  if (op.base == Base::InputConv2D && in.has("x_pad_value")) {
    b.padding_value = per_channel(in.ints("x_pad_value"), x.c, in, "x_pad_value");
    for (int64_t v : b.padding_value)
      if (v < 0 || v > 255)
        in.where().fail<UnsupportedError>(in.field("x_pad_value") + ": " + std::to_string(v) +
                                          " is not a uint8 value");
  }
  Shape conv_out = conv_output(x, b.padding, k, b.stride, filters);
  if (conv_out.x <= 0 || conv_out.y <= 0)
    in.where().fail<akida::ShapeError>("kernel " + std::to_string(k) + " is larger than input " +
                                       akida::to_string(x));
  out_shape = conv_out;
  const bool pads_zero = std::all_of(pads.begin(), pads.end(), [](int64_t v) { return v == 0; });
  if (op.pool == PoolKind::Max) out_shape = apply_max_pool(b, conv_out, pads_zero, in);
  if (op.pool == PoolKind::GlobalAverage) {
    b.pool = {PoolKind::GlobalAverage, 0, 0};
    out_shape = {1, 1, filters};
  }
  set_post_ops(b, op, in, filters);
  return b;
}

// Gemm(X, W, transB=1): W is (F, N). With "Flatten" the input is flattened channels first
// (c, x, y) in ONNX but (x, y, c) in the IR: reorder the N axis.
Block convert_dense(Block b, const OpType& op, const NodeInputs& in, Shape& out_shape) {
  const Shape x = in.shape("X");
  IntTensor w = int8_weights(in, 2);
  b.weights_bits = weight_bits(in);
  const int64_t f = w.shape[0], n = w.shape[1];
  if (n != x.size() || (!op.flatten && (x.x != 1 || x.y != 1)))
    in.where().fail<akida::ShapeError>(in.field("W") + ": shape " + str(w.shape) +
                                       " does not fit input " + akida::to_string(x) +
                                       (op.flatten ? "" : " (without Flatten)"));
  b.weights.shape = {n, f};
  b.weights.values.resize(w.values.size());
  for (int64_t i = 0; i < x.x; ++i)
    for (int64_t j = 0; j < x.y; ++j)
      for (int64_t c = 0; c < x.c; ++c)
        for (int64_t o = 0; o < f; ++o)
          b.weights.values[((i * x.y + j) * x.c + c) * f + o] =
              w.values[o * n + (c * x.x + i) * x.y + j];
  out_shape = {1, 1, f};
  set_post_ops(b, op, in, f);
  return b;
}

// The FIFO body: FifoOp gives (N, C, T, X, Y) (DepthwiseBufferTempConv multiplies it by W (C, T)
// and sums axis 2); BufferTempConv transposes/reshapes it to (N, C*T, X, Y) with index c*T + t
// for its 1x1 Conv. FifoOp pushes the new frame last, so t = T-1 is the newest, t = 0 the oldest
// (the .fbz of the same model holds the same weights at slot t, newest last).
Block convert_temporal(Block b, const OpType& op, const NodeInputs& in, Shape& out_shape) {
  const Shape x = in.shape("X");
  const int64_t t = in.int_attr("fifo_size").value_or(0);
  if (t < 1 || t > 1024)
    in.where().fail<UnsupportedError>("attribute 'fifo_size' " + std::to_string(t) +
                                      ": expected 1..1024");
  b.fifo_size = static_cast<int32_t>(t);
  IntTensor w = int8_weights(in, 4);
  b.weights_bits = weight_bits(in);
  if (w.shape[2] != 1 || w.shape[3] != 1)
    in.where().fail<UnsupportedError>(in.field("W") + ": shape " + str(w.shape) +
                                      ": only 1x1 temporal kernels are supported");
  int64_t filters = x.c;
  if (op.base == Base::BufferTempConv) {
    filters = w.shape[0];
    if (w.shape[1] != x.c * t)
      in.where().fail<akida::ShapeError>(in.field("W") + ": shape " + str(w.shape) +
                                         ", expected (F, C*T) = (F, " + std::to_string(x.c * t) +
                                         ") for " + std::to_string(x.c) + " channels, fifo " +
                                         std::to_string(t));
    b.weights.shape = {t, x.c, filters};
    b.weights.values.resize(w.values.size());
    for (int64_t f = 0; f < filters; ++f)
      for (int64_t c = 0; c < x.c; ++c)
        for (int64_t s = 0; s < t; ++s)
          b.weights.values[(s * x.c + c) * filters + f] = w.values[f * x.c * t + c * t + s];
  } else {
    if (w.shape[0] != x.c || w.shape[1] != t)
      in.where().fail<akida::ShapeError>(in.field("W") + ": shape " + str(w.shape) +
                                         ", expected (C, T, 1, 1) = (" + std::to_string(x.c) +
                                         ", " + std::to_string(t) + ", 1, 1)");
    b.weights.shape = {t, x.c};
    b.weights.values.resize(w.values.size());
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t s = 0; s < t; ++s) b.weights.values[s * x.c + c] = w.values[c * t + s];
  }
  out_shape = {x.x, x.y, filters};
  set_post_ops(b, op, in, filters);
  return b;
}

// Xs / Ys multiply each input by a power of two per channel (the alignment to the common scale;
// QuantizeML stores them (1, C, 1, 1)): one left shift per channel, or one for all.
std::vector<int32_t> input_shifts(const NodeInputs& in, const std::string& formal,
                                  int64_t channels) {
  std::vector<int32_t> shifts;
  for (int64_t v : per_channel(in.ints(formal), channels, in, formal)) {
    auto k = exact_log2(static_cast<double>(v));
    if (!k || *k > 31)
      in.where().fail<UnsupportedError>(in.field(formal) + ": " + std::to_string(v) +
                                        " is not a power of two in [1, 2^31]");
    shifts.push_back(*k);
  }
  return shifts;
}

void two_inbound(Block& b, const NodeInputs& in) {
  for (const char* formal : {"X", "Y"}) {
    std::string p = in.producer(formal);
    if (p.empty())
      in.where().fail<UnsupportedError>(in.field(formal) + ": a two-input op on the model input " +
                                        "is not supported");
    b.inbound.push_back(p);
  }
}

Block convert_merge(Block b, const OpType& op, const NodeInputs& in, Shape& out_shape) {
  const Shape a = in.shape("X"), c = in.shape("Y");
  two_inbound(b, in);
  if (op.base == Base::Add) {
    if (a != c)
      in.where().fail<akida::ShapeError>("inputs of shapes " + akida::to_string(a) + " and " +
                                         akida::to_string(c) + " cannot be added");
    b.a_shift = input_shifts(in, "Xs", a.c);
    b.b_shift = input_shifts(in, "Ys", a.c);
    if (op.scaled) b.output = output_stage(in, a.c, false);
    out_shape = a;
  } else {
    if (a.x != c.x || a.y != c.y)
      in.where().fail<akida::ShapeError>("inputs of shapes " + akida::to_string(a) + " and " +
                                         akida::to_string(c) + " cannot be concatenated");
    out_shape = {a.x, a.y, a.c + c.c};
  }
  return b;
}

Block convert_dequantizer(Block b, const NodeInputs& in, Shape& out_shape) {
  out_shape = in.shape("X");
  std::vector<double> s = in.floats("scale");
  if (static_cast<int64_t>(s.size()) != out_shape.c && s.size() != 1)
    in.where().fail<akida::ShapeError>(in.field("scale") + ": holds " + std::to_string(s.size()) +
                                       " values, expected 1 or " + std::to_string(out_shape.c));
  b.scales.assign(s.begin(), s.end());
  return b;
}

BlockKind kind_of(Base base) {
  switch (base) {
    case Base::Conv2D: return BlockKind::Conv2D;
    case Base::InputConv2D: return BlockKind::InputConv2D;
    case Base::Depthwise2D: return BlockKind::DepthwiseConv2D;
    case Base::Dense1D: return BlockKind::Dense;
    case Base::Add: return BlockKind::Add;
    case Base::Concat: return BlockKind::Concatenate;
    case Base::BufferTempConv: return BlockKind::BufferTempConv;
    case Base::DepthwiseBufferTempConv: return BlockKind::DepthwiseBufferTempConv;
    default: return BlockKind::Dequantizer;
  }
}

}  // namespace

Block convert_node(const onnx::NodeProto& node, const OpType& op, GraphState& state) {
  NodeInputs in(node, state);
  Block b;
  b.name = node.name();
  b.source_layers = {node.name()};
  b.kind = kind_of(op.base);
  if (op.base != Base::Add && op.base != Base::Concat) {
    std::string p = in.producer("X");
    if (!p.empty()) b.inbound = {p};
  }
  Shape out_shape;
  switch (op.base) {
    case Base::Conv2D:
    case Base::InputConv2D:
    case Base::Depthwise2D: b = convert_conv(std::move(b), op, in, out_shape); break;
    case Base::Dense1D: b = convert_dense(std::move(b), op, in, out_shape); break;
    case Base::BufferTempConv:
    case Base::DepthwiseBufferTempConv:
      b = convert_temporal(std::move(b), op, in, out_shape);
      break;
    case Base::Add:
    case Base::Concat: b = convert_merge(std::move(b), op, in, out_shape); break;
    case Base::Dequantizer: b = convert_dequantizer(std::move(b), in, out_shape); break;
    case Base::InputQuantizer:
      in.where().fail<UnsupportedError>("InputQuantizer is only supported as the first node");
  }
  state.shapes[node.output(0)] = out_shape;
  state.producers[node.output(0)] = node.name();
  return b;
}

InputQuantizer convert_input_quantizer(const onnx::NodeProto& node, GraphState& state,
                                       const std::vector<int64_t>& dims, Shape& integer_shape) {
  NodeInputs in(node, state);
  const std::vector<int64_t> perm = in.ints_attr("perm").value_or(std::vector<int64_t>{0, 1, 2, 3});
  InputQuantizer q;
  // Only a channel move is allowed, as in BrainChip's converter: identity (the float input is
  // already (N, C, X, Y)) or (N, X, Y, C) -> (N, C, X, Y).
  if (perm == std::vector<int64_t>{0, 1, 2, 3})
    q.channels_first = true;
  else if (perm != std::vector<int64_t>{0, 3, 1, 2})
    in.where().fail<UnsupportedError>("attribute 'perm' " + str(perm) +
                                      ": only [0, 1, 2, 3] or [0, 3, 1, 2] are supported");
  integer_shape = {dims[perm[2]], dims[perm[3]], dims[perm[1]]};
  const onnx::TensorProto& zp = in.initializer("zp");
  if (zp.data_type() != TP::INT8 && zp.data_type() != TP::UINT8)
    in.where().fail<UnsupportedError>(in.field("zp") + ": dtype " + dtype_name(zp.data_type()) +
                                      ", expected int8 or uint8");
  q.is_signed = zp.data_type() == TP::INT8;
  q.bits = 8;
  q.zero_point = per_channel(in.ints("zp"), integer_shape.c, in, "zp");
  for (double s : in.floats("scale")) {
    if (!(s > 0) || !std::isfinite(s))
      in.where().fail(in.field("scale") + ": " + std::to_string(s) + " is not a positive scale");
    q.scale.push_back(static_cast<float>(s));
  }
  if (q.scale.size() != 1 && static_cast<int64_t>(q.scale.size()) != integer_shape.c)
    in.where().fail<akida::ShapeError>(in.field("scale") + ": holds " +
                                       std::to_string(q.scale.size()) + " values, expected 1 or " +
                                       std::to_string(integer_shape.c));
  state.shapes[node.output(0)] = integer_shape;
  state.producers[node.output(0)] = "";
  return q;
}

}  // namespace cnn2snn::onnx_reader
