// Each layer's integers, as QuantizeML's OnnxLayer.__quantize__ computes them (qmath.h has the
// formulas; docs/quantizer.md the sources):
//   InputQuantizer  input_layers.py  _compute_quantization_parameters (rescale folded)
//   Conv / InputConv  conv2d.py      kernel / input scale, per-filter qfloat, zero point folded
//                                    into the bias, aligned bias / max_value, downscale
//   Depthwise       depthwise2d.py   the same on (C, 1, kx, ky), input scale on axis 0
//   Dense           dense1d.py       input scale per flattened input, downscale when Scaled
//   Add             add.py           power-of-two alignment shifts, downshift when Scaled
//   Concat, Dequantizer
#include <cmath>
#include <numeric>

#include "akida/errors.h"
#include "cnn2snn/quantize/layers.h"
#include "cnn2snn/quantize/qmath.h"

namespace cnn2snn::quantize {
namespace {

using TP = onnx::TensorProto;

template <typename T>
T at(const std::vector<T>& v, size_t i) {
  return v.size() == 1 ? v.front() : v[i];
}

std::vector<double> to_doubles(const std::vector<float>& v) { return {v.begin(), v.end()}; }

class LayerQuantizer {
 public:
  LayerQuantizer(const FloatGraph& graph, const LayerPlan& plan, const QuantizationParams& params,
                 const CalibrationRanges& ranges)
      : g_(graph), plan_(plan), params_(params), ranges_(ranges) {}

  std::vector<QuantizedLayer> run();

 private:
  [[noreturn]] void fail(const Layer& layer, const std::string& why) const {
    throw akida::UnsupportedError(g_.source + ": node '" + layer.name + "': " + why);
  }
  const TensorRange& range(const Layer& layer) const;
  std::vector<float> range_max(const Layer& layer) const;
  // The output scale attribute's shape: {} when the range was one value for the tensor.
  std::vector<int64_t> scale_dims(const Layer& layer, size_t count) const;
  const QuantizedLayer& input(const Layer& layer, size_t i) const {
    return out_[static_cast<size_t>(layer.inputs.at(i))];
  }
  std::vector<int64_t> aligned_dims(const Layer& layer, size_t count) const {
    std::vector<int64_t> dims(layer.output_shape.size() + 1, 1);
    dims[1] = static_cast<int64_t>(count);
    return dims;
  }
  void add(QuantizedLayer& q, Initializer init) {
    q.inputs.push_back(init.name);
    q.initializers.push_back(std::move(init));
  }
  void output_stage(const Layer& layer, QuantizedLayer& q, const std::vector<double>& acc_scale);

  QuantizedLayer input_quantizer(const Layer& layer);
  QuantizedLayer conv(const Layer& layer);
  QuantizedLayer dense(const Layer& layer);
  QuantizedLayer add_layer(const Layer& layer);
  QuantizedLayer concat(const Layer& layer);
  QuantizedLayer dequantizer(const Layer& layer);

  const FloatGraph& g_;
  const LayerPlan& plan_;
  const QuantizationParams& params_;
  const CalibrationRanges& ranges_;
  std::vector<QuantizedLayer> out_;
};

const TensorRange& LayerQuantizer::range(const Layer& layer) const {
  auto it = ranges_.find(layer.calibrated_tensor);
  if (it == ranges_.end() || it->second.lowest.empty() ||
      it->second.lowest.size() != it->second.highest.size())
    fail(layer, "no calibration range for tensor '" + layer.calibrated_tensor + "'");
  return it->second;
}

std::vector<float> LayerQuantizer::range_max(const Layer& layer) const {
  // set_range_max_on_qnode: max(|lowest|, |highest|), float32.
  const TensorRange& r = range(layer);
  std::vector<float> out;
  for (size_t i = 0; i < r.lowest.size(); ++i)
    out.push_back(std::max(std::abs(r.lowest[i]), std::abs(r.highest[i])));
  return out;
}

std::vector<int64_t> LayerQuantizer::scale_dims(const Layer& layer, size_t count) const {
  const bool per_tensor = params_.per_tensor_activations || layer.output_shape.size() == 1;
  if (count == 1 && per_tensor) return {};
  return {static_cast<int64_t>(count)};
}

Initializer ints(const std::string& name, int32_t dtype, std::vector<int64_t> dims,
                 std::vector<int64_t> values) {
  return {name, dtype, std::move(dims), std::move(values), {}};
}

Initializer floats(const std::string& name, std::vector<int64_t> dims, std::vector<double> values) {
  return {name, TP::FLOAT, std::move(dims), {}, std::move(values)};
}

// ---- InputQuantizer ------------------------------------------------------------------------------

QuantizedLayer LayerQuantizer::input_quantizer(const Layer& layer) {
  QuantizedLayer q;
  q.op.base = "InputQuantizer";
  q.inputs = {g_.input_name};
  const TensorRange& r = range(layer);
  const InputRescale& rescale = g_.rescale;
  const size_t n = std::max({r.lowest.size(), rescale.scale.size(), rescale.offset.size()});
  // The range of the model input before the folded rescaling (float32, as numpy computes it),
  // broadcast against the rescale; the output keeps the range's own shape.
  std::vector<float> in_lo, in_hi;
  for (size_t i = 0; i < n; ++i) {
    const float s = at(rescale.scale, i), o = at(rescale.offset, i);
    const float a = (at(r.lowest, i) - o) / s, b = (at(r.highest, i) - o) / s;
    in_lo.push_back(std::min(a, b));
    in_hi.push_back(std::max(a, b));
  }
  const std::vector<float>& out_lo = r.lowest;
  const std::vector<float>& out_hi = r.highest;
  std::vector<float> in_scale, out_scale;
  std::vector<int64_t> in_zp(n, 0), out_zp(out_lo.size(), 0);
  try {
    if (!plan_.input_signed) {
      const ZeroPointScale in = input_conv_zp_scale(in_lo, in_hi);
      const ZeroPointScale out = input_conv_zp_scale(out_lo, out_hi);
      in_scale = in.scale, in_zp = in.zero_point, out_scale = out.scale, out_zp = out.zero_point;
      for (size_t i = 0; i < n; ++i) {
        const double ratio = static_cast<double>(in_scale[i]) / at(out_scale, i);
        const double expected = at(rescale.scale, i);
        if (std::abs(ratio - expected) > 1e-3 + 1e-7 * std::abs(expected))
          fail(layer, "impossible to quantize inputs when folding the input rescaling: the "
                      "input/output scales ratio " + std::to_string(ratio) + " is not the rescale " +
                      std::to_string(expected) + " (QuantizeML's check)");
      }
    } else {
      in_scale = input_scale_no_zp(in_lo, in_hi, 8);
      out_scale = input_scale_no_zp(out_lo, out_hi, 8);
      for (float o : rescale.offset)
        if (o != 0.0f)
          fail(layer, "impossible to quantize inputs when folding the input rescaling: the offset "
                      "must be zero when the input is signed (int8)");
    }
  } catch (const akida::UnsupportedError& e) {
    if (std::string(e.what()).rfind(g_.source, 0) == 0) throw;
    fail(layer, e.what());
  }
  const std::vector<int64_t> dims = scale_dims(layer, n);
  std::vector<double> quantize_scale;
  for (float s : in_scale) quantize_scale.push_back(static_cast<float>(1.0 / static_cast<double>(s)));
  add(q, floats("quantize_scale", dims, quantize_scale));
  add(q, ints("quantize_zp", plan_.input_signed ? TP::INT8 : TP::UINT8, dims, in_zp));
  q.ints_attributes.push_back({"perm", rescale.perm});
  q.scale = to_doubles(out_scale);
  q.scale_dims = scale_dims(layer, out_scale.size());
  q.zero_point = out_zp;
  q.output_dtype = plan_.input_signed ? TP::INT8 : TP::UINT8;
  return q;
}

// ---- neural layers -------------------------------------------------------------------------------

// The Scale / Shift of a layer's output, or the raw accumulator when it does not downscale.
void LayerQuantizer::output_stage(const Layer& layer, QuantizedLayer& q,
                                  const std::vector<double>& acc_scale) {
  const size_t filters = acc_scale.size();
  if (!layer.downscale) {
    q.scale = acc_scale;
    q.scale_dims = {static_cast<int64_t>(filters)};
    q.output_dtype = TP::INT32;
    return;
  }
  q.op.scaled = true;
  Downscale ds;
  try {
    ds = downscale(range_max(layer), acc_scale, layer.force_fp, params_.activation_bits);
  } catch (const akida::UnsupportedError& e) {
    fail(layer, e.what());
  }
  add(q, ints(layer.name + "_M", TP::UINT8, aligned_dims(layer, filters), ds.scale));
  add(q, floats(layer.name + "_S_out", aligned_dims(layer, filters), to_doubles(ds.shift)));
  q.scale = ds.output_scale;
  q.scale_dims = scale_dims(layer, q.scale.size());
  q.output_dtype = TP::INT8;
}

QuantizedLayer LayerQuantizer::conv(const Layer& layer) {
  const FloatNode& node = *layer.main;
  const QuantizedLayer& x = input(layer, 0);
  const bool depthwise = layer.kind == LayerKind::Depthwise;
  const bool input_conv = layer.reads_input && !plan_.input_signed;
  QuantizedLayer q;
  q.op.base = depthwise ? "QuantizedDepthwise2D" : input_conv ? "QuantizedInputConv2D" : "QuantizedConv2D";
  q.inputs = {plan_.layers[static_cast<size_t>(layer.inputs[0])].output};
  const int64_t filters = node.weights_shape[0], per_row = node.weights_shape[1];
  const int64_t window = node.kernel[0] * node.kernel[1];
  // Cross-layer equalization: the kernel divided by the input scale of its input channel
  // (axis 1; a depthwise kernel's channel is its filter, axis 0).
  std::vector<double> kernel(node.weights.size());
  for (size_t i = 0; i < kernel.size(); ++i) {
    const auto row = static_cast<int64_t>(i) / (per_row * window);
    const auto channel = depthwise ? row : static_cast<int64_t>(i) / window % per_row;
    kernel[i] = static_cast<double>(node.weights[i]) / at(x.scale, static_cast<size_t>(channel));
  }
  const int bits = layer.reads_input ? params_.input_weight_bits : params_.weight_bits;
  QFloat w = quantize_to_qfloat(kernel, filters, bits);
  std::vector<double> bias(node.bias.begin(), node.bias.end());
  if (input_conv) {
    // The zero point, per input channel, pads the input and is folded into the (mandatory) bias,
    // with the dequantized kernel to reduce the quantization error (fold_zero_point).
    std::vector<int64_t> zero_point(static_cast<size_t>(per_row));
    for (size_t c = 0; c < zero_point.size(); ++c) zero_point[c] = at(x.zero_point, c);
    add(q, ints(layer.name + "_Xpad", TP::UINT8, {per_row}, zero_point));
    bias.resize(static_cast<size_t>(filters), 0.0);
    for (int64_t f = 0; f < filters; ++f) {
      double folded = 0;
      for (int64_t c = 0; c < per_row; ++c)
        for (int64_t k = 0; k < window; ++k)
          folded += static_cast<double>(static_cast<float>(zero_point[static_cast<size_t>(c)])) *
                    (static_cast<double>(w.values[static_cast<size_t>((f * per_row + c) * window + k)]) /
                     w.scale[static_cast<size_t>(f)]);
      bias[static_cast<size_t>(f)] -= folded;
    }
  }
  add(q, ints(layer.name + "_Wi", TP::INT8, node.weights_shape, w.values));
  if (!bias.empty()) {
    q.op.biased = true;
    add(q, ints(layer.name + "_B", TP::INT32, {filters}, aligned_quantize(bias, w.scale, 8, true)));
  }
  const auto& p = node.pads;
  add(q, ints(layer.name + "_pads", TP::INT64, {8}, {0, 0, p[0], p[1], 0, 0, p[2], p[3]}));
  q.ints_attributes.push_back({"strides", {node.strides[0], node.strides[1]}});
  if (layer.pool) {
    q.op.max_pool = true;
    const FloatNode& pool = *layer.pool;
    q.ints_attributes.push_back({"pool_size", {pool.kernel[0], pool.kernel[1]}});
    q.ints_attributes.push_back({"pool_strides", {pool.strides[0], pool.strides[1]}});
    q.ints_attributes.push_back({"pool_pads", {pool.pads[0], pool.pads[1], pool.pads[2], pool.pads[3]}});
  }
  if (depthwise) q.int_attributes.push_back({"groups", node.group});
  if (bits == 4) q.int_attributes.push_back({"weights_bits", 4});  // this project's 4-bit marker
  if (layer.act) {
    q.op.relu = true;
    if (layer.act->op == FloatOp::Clip) {
      q.op.relu_clipped = true;
      add(q, ints(layer.name + "_max_value", TP::INT32, aligned_dims(layer, w.scale.size()),
                  aligned_quantize({static_cast<double>(layer.act->clip_max)}, w.scale, 8, false)));
    }
  }
  std::vector<double> acc_scale = w.scale;
  if (layer.gap) {
    // The global average pool is a sum: its 1 / (X * Y) lives in the scale.
    q.op.global_avg_pool = true;
    for (double& s : acc_scale) s *= static_cast<double>(node.output_shape[1] * node.output_shape[2]);
  }
  output_stage(layer, q, acc_scale);
  return q;
}

QuantizedLayer LayerQuantizer::dense(const Layer& layer) {
  const FloatNode& node = *layer.main;
  const QuantizedLayer& x = input(layer, 0);
  QuantizedLayer q;
  q.op.base = "QuantizedDense1D";
  q.op.flatten = layer.flatten;
  q.inputs = {plan_.layers[static_cast<size_t>(layer.inputs[0])].output};
  const int64_t filters = node.weights_shape[0], inputs = node.weights_shape[1];
  // Input n of a flattened (C, X, Y) input belongs to channel n / (X * Y).
  const int64_t per_channel = layer.flatten ? layer.input_shape[1] * layer.input_shape[2] : 1;
  std::vector<double> kernel(node.weights.size());
  for (size_t i = 0; i < kernel.size(); ++i) {
    const auto channel = static_cast<size_t>(static_cast<int64_t>(i) % inputs / per_channel);
    kernel[i] = static_cast<double>(node.weights[i]) / at(x.scale, channel);
  }
  const int bits = layer.reads_input ? params_.input_weight_bits : params_.weight_bits;
  const QFloat w = quantize_to_qfloat(kernel, filters, bits);
  add(q, ints(layer.name + "_Wi", TP::INT8, node.weights_shape, w.values));
  if (bits == 4) q.int_attributes.push_back({"weights_bits", 4});  // this project's 4-bit marker
  if (!node.bias.empty()) {
    q.op.biased = true;
    add(q, ints(layer.name + "_B", TP::INT32, {filters},
                aligned_quantize(to_doubles(node.bias), w.scale, 8, true)));
  }
  if (layer.act) {
    q.op.relu = true;
    if (layer.act->op == FloatOp::Clip) {
      q.op.relu_clipped = true;
      add(q, ints(layer.name + "_max_value", TP::INT32, {1, filters},
                  aligned_quantize({static_cast<double>(layer.act->clip_max)}, w.scale, 8, false)));
    }
  }
  output_stage(layer, q, w.scale);
  return q;
}

bool power_of_two(double v) {
  int exponent = 0;
  return v > 0 && std::isfinite(v) && std::frexp(v, &exponent) == 0.5;
}

QuantizedLayer LayerQuantizer::add_layer(const Layer& layer) {
  QuantizedLayer q;
  q.op.base = "QuantizedAdd";
  for (int i : layer.inputs) q.inputs.push_back(plan_.layers[static_cast<size_t>(i)].output);
  const std::vector<double>& a = input(layer, 0).scale;
  const std::vector<double>& b = input(layer, 1).scale;
  for (const auto* s : {&a, &b})
    for (double v : *s)
      if (!power_of_two(v))
        fail(layer, "an input scale " + std::to_string(v) +
                        " is not a power of two (QuantizedAdd only shifts its inputs)");
  const size_t n = std::max(a.size(), b.size());
  std::vector<double> out_scale;
  std::vector<int64_t> a_shift, b_shift;
  for (size_t i = 0; i < n; ++i) {
    out_scale.push_back(std::max(at(a, i), at(b, i)));
    a_shift.push_back(static_cast<int64_t>(out_scale.back() / at(a, i)));
    b_shift.push_back(static_cast<int64_t>(out_scale.back() / at(b, i)));
  }
  add(q, ints(layer.name + "_x1_shift", TP::INT32, aligned_dims(layer, n), a_shift));
  add(q, ints(layer.name + "_x2_shift", TP::INT32, aligned_dims(layer, n), b_shift));
  if (!layer.downscale) {
    q.scale = out_scale;
    q.scale_dims = {static_cast<int64_t>(n)};
    q.output_dtype = TP::INT32;
    return q;
  }
  q.op.scaled = true;
  Downshift ds;
  try {
    ds = downshift(range_max(layer), out_scale, params_.activation_bits);
  } catch (const akida::UnsupportedError& e) {
    fail(layer, e.what());
  }
  add(q, floats(layer.name + "_S_out", aligned_dims(layer, ds.shift.size()), to_doubles(ds.shift)));
  q.scale = ds.output_scale;
  q.scale_dims = scale_dims(layer, q.scale.size());
  q.output_dtype = TP::INT8;
  return q;
}

QuantizedLayer LayerQuantizer::concat(const Layer& layer) {
  QuantizedLayer q;
  q.op.base = "QuantizedConcat";
  for (size_t i = 0; i < layer.inputs.size(); ++i) {
    const Layer& in = plan_.layers[static_cast<size_t>(layer.inputs[i])];
    q.inputs.push_back(in.output);
    const std::vector<double>& s = input(layer, i).scale;
    for (int64_t c = 0; c < in.output_shape[0]; ++c) q.scale.push_back(at(s, static_cast<size_t>(c)));
  }
  q.scale_dims = {static_cast<int64_t>(q.scale.size())};
  q.output_dtype = input(layer, 0).output_dtype;
  return q;
}

QuantizedLayer LayerQuantizer::dequantizer(const Layer& layer) {
  const QuantizedLayer& x = input(layer, 0);
  QuantizedLayer q;
  q.op.base = "Dequantizer";
  q.inputs = {plan_.layers[static_cast<size_t>(layer.inputs[0])].output};
  std::vector<double> scale;
  for (double s : x.scale) scale.push_back(static_cast<float>(1.0 / s));
  add(q, floats("dequantizer_scale", x.scale_dims, scale));
  q.output_dtype = TP::FLOAT;
  return q;
}

std::vector<QuantizedLayer> LayerQuantizer::run() {
  for (const Layer& layer : plan_.layers) {
    switch (layer.kind) {
      case LayerKind::InputQuantizer: out_.push_back(input_quantizer(layer)); break;
      case LayerKind::Conv:
      case LayerKind::Depthwise: out_.push_back(conv(layer)); break;
      case LayerKind::Dense: out_.push_back(dense(layer)); break;
      case LayerKind::Add: out_.push_back(add_layer(layer)); break;
      case LayerKind::Concat: out_.push_back(concat(layer)); break;
      case LayerKind::Dequantizer: out_.push_back(dequantizer(layer)); break;
    }
  }
  return std::move(out_);
}

}  // namespace

std::vector<QuantizedLayer> quantize_layers(const FloatGraph& graph, const LayerPlan& plan,
                                            const QuantizationParams& params,
                                            const CalibrationRanges& ranges) {
  return LayerQuantizer(graph, plan, params, ranges).run();
}

}  // namespace cnn2snn::quantize
