// load_keras_h5: HDF5 + model_config -> blocks -> the integers QuantizeML derives from the float
// weights, block by block.
//
// QuantizeML computes with QTensors: a FixedPoint (integer values, value_bits, frac_bits) or a
// QFloat (a FixedPoint times float32 scales). QState below is the description of the QTensor
// flowing out of each layer (never its values): it is propagated layer by layer exactly as the
// QuantizeML layers do it, and every integer a block needs (bias aligned on the accumulator, ReLU
// maximum, input shifts, output scales and shifts, dequantizer scales) follows from it.
#include "cnn2snn/keras_reader.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "akida/errors.h"
#include "cnn2snn/keras/blocks.h"
#include "cnn2snn/keras/file_readers.h"
#include "cnn2snn/keras/hdf5_file.h"
#include "cnn2snn/keras/model_config.h"
#include "cnn2snn/keras/quantizeml_math.h"
#include "cnn2snn/refusals.h"

namespace cnn2snn {
namespace keras {
namespace {

using nlohmann::json;

// The QTensor leaving a layer. frac (and, for a QFloat, scales) hold one value per channel or one
// value for all (per-tensor).
struct QState {
  bool qfloat = false;
  int value_bits = 8;
  Floats frac = {0.0f};
  Floats scales = {1.0f};

  // QTensor.per_tensor: a scalar frac_bits and, for a QFloat, a scalar scale.
  bool per_tensor() const { return frac.size() == 1 && (!qfloat || scales.size() == 1); }
};

std::vector<int64_t> to_ints(const Floats& v) {
  std::vector<int64_t> out;
  for (float x : v) out.push_back(to_int64(x));
  return out;
}

// Shifts QuantizeML records as integer-valued floats.
std::vector<int32_t> to_int32s(const Floats& v) {
  std::vector<int32_t> out;
  for (float x : v) out.push_back(static_cast<int32_t>(x));
  return out;
}

bool uniform(const Floats& v) {
  return std::all_of(v.begin(), v.end(), [&](float x) { return x == v[0]; });
}


class Lowering {
 public:
  Lowering(const Hdf5File& file, const KerasModel& model, const std::vector<Dims>& dims)
      : file_(file), model_(model), dims_(dims), source_(file.path()) {}

  QuantizedGraph run(const std::vector<SplitBlock>& blocks) {
    QuantizedGraph graph;
    graph.source = source_;
    set_input(graph);
    Refusals refusals(source_);
    for (const SplitBlock& split : blocks) {
      if (fed_by_refused(split)) {
        mark_refused(split);  // its inputs are unknown; the cause is reported already
        continue;
      }
      const size_t main = split.main.empty() ? split.layers.front() : split.main.front();
      try {
        with_json_errors(source_, model_.layers[main], [&] {
          if (split.skipped)
            pass_through(split);
          else
            graph.blocks.push_back(lower(split));
        });
      } catch (const akida::UnsupportedError& e) {
        refusals.add(e);
        mark_refused(split);
      } catch (const NotAnInteger& e) {
        throw akida::FormatError(layer_context(source_, model_.layers[main]) + ": " + e.what());
      }
    }
    refusals.throw_if_any("layer");
    return graph;
  }

 private:
  // ---- messages ----
  [[noreturn]] void unsupported(const KerasLayer& layer, const std::string& message) const {
    throw akida::UnsupportedError(layer_context(source_, layer) + ": " + message);
  }
  [[noreturn]] void malformed(const KerasLayer& layer, const std::string& message) const {
    throw akida::FormatError(layer_context(source_, layer) + ": " + message);
  }

  // ---- config access ----
  static json quant_config(const KerasLayer& layer) {
    const json qc = layer.config.value("quant_config", json::object());
    return qc.is_object() ? qc : json::object();
  }
  int int_field(const KerasLayer& layer, const json& object, const std::string& key, int fallback,
                int lo, int hi, const std::string& where) const {
    return static_cast<int>(config_int(source_, layer, object, key, fallback, lo, hi, where));
  }
  bool bool_field(const KerasLayer& layer, const json& object, const std::string& key,
                  bool fallback, const std::string& where) const {
    if (!object.contains(key) || object[key].is_null()) return fallback;
    if (!object[key].is_boolean()) malformed(layer, "field '" + where + key + "' is not a boolean");
    return object[key].get<bool>();
  }
  // The buffer_bitwidth of quant_config (QuantizationParams.buffer_bits = 32 when absent).
  int buffer_bitwidth(const KerasLayer& layer) const {
    return int_field(layer, quant_config(layer), "buffer_bitwidth", 32, 2, 32, "quant_config.");
  }

  // ---- weights ----
  LayerWeights weights(const KerasLayer& layer) const { return read_layer_weights(file_, layer); }
  const FloatArray& weight(const KerasLayer& layer, const LayerWeights& w,
                           const std::string& role) const {
    return layer_weight(source_, layer, w, role);
  }
  void require_shape(const KerasLayer& layer, const std::string& role, const FloatArray& a,
                     const std::vector<int64_t>& expected) const {
    require_weight_shape(source_, layer, role, a, expected);
  }

  const Dims& dims_of(const std::string& name) const { return dims_[model_.index.at(name)]; }
  int64_t channels_of(const std::string& name) const {
    const Dims& d = dims_of(name);
    return d.empty() ? 0 : d.back();
  }

  // ---- the model input ----
  void set_input(QuantizedGraph& graph) {
    const KerasLayer& input = model_.layer(model_.input_layer);
    const Dims& d = dims_of(input.name);
    if (d.size() == 3) graph.input_shape = {d[0], d[1], d[2]};
    else if (d.size() == 1) graph.input_shape = {1, 1, d[0]};
    else unsupported(input, "field 'batch_input_shape': only (x, y, c) or (n) inputs are supported");
    // layers_base.py tensor_inputs: integer inputs become FixedPoint(values, bits (- 1 if
    // signed), 0); float inputs are first cast to QuantizationParams.input_dtype (uint8).
    const std::string dtype = input.config.value("dtype", "float32");
    QState state;
    if (dtype == "uint8" || dtype.starts_with("float")) {
      graph.input_bits = 8, graph.input_signed = false, state.value_bits = 8;
    } else if (dtype == "int8") {
      graph.input_bits = 8, graph.input_signed = true, state.value_bits = 7;
    } else {
      unsupported(input, "field 'dtype' '" + dtype + "': expected uint8 or int8");
    }
    input_state_ = state;
  }

  QState state_of(const std::string& layer) const {
    const auto found = states_.find(layer);
    return found == states_.end() ? input_state_ : found->second;
  }

  bool fed_by_refused(const SplitBlock& split) const {
    for (size_t i : split.layers)
      for (const std::string& in : model_.layers[i].inbound)
        if (refused_.count(in)) return true;
    return false;
  }
  void mark_refused(const SplitBlock& split) {
    for (size_t i : split.layers) refused_.insert(model_.layers[i].name);
  }

  // A block of skippable layers only: no Akida layer, but Rescaling still changes the input scale.
  void pass_through(const SplitBlock& split) {
    Block scratch;
    for (size_t i : split.layers) {
      const KerasLayer& layer = model_.layers[i];
      states_[layer.name] = apply(layer, scratch);
      producer_[layer.name] = layer.inbound.empty() ? "" : producer_.at(layer.inbound[0]);
    }
  }

  Block lower(const SplitBlock& split) {
    Block block;
    block.kind = split.kind;
    const KerasLayer* main = nullptr;
    for (size_t i : split.main) {
      const std::string& cls = model_.layers[i].class_name;
      if (cls != "QuantizedFlatten" && cls != "QuantizedReshape" && !main) main = &model_.layers[i];
    }
    block.name = main->name;
    const KerasLayer& first = model_.layers[split.layers.front()];
    for (const std::string& in : first.inbound) {
      const std::string producer = producer_.at(in);
      if (producer.empty() && first.inbound.size() > 1)
        unsupported(first, "a multi-input layer fed by the model input is not supported");
      if (!producer.empty()) block.inbound.push_back(producer);
    }
    QState state;
    for (size_t k = 0; k < split.layers.size(); ++k) {
      const KerasLayer& layer = model_.layers[split.layers[k]];
      block.source_layers.push_back(layer.name);
      state = apply(layer, block);
      if (const json* oq = output_quantizer_config(layer)) {
        if (k + 1 != split.layers.size())
          unsupported(layer, "an OutputQuantizer inside a block (bitwidth >= 9) is not supported");
        state = output_quantizer(layer, *oq, state, block);
      }
      states_[layer.name] = state;
    }
    for (size_t i : split.layers) producer_[model_.layers[i].name] = block.name;
    return block;
  }

  // ---- one layer: the QTensor it outputs, and what it contributes to the block ----
  QState apply(const KerasLayer& layer, Block& block) {
    const std::string& cls = layer.class_name;
    if (cls == "InputLayer") return input_state_;
    const QState in = state_of(layer.inbound.at(0));
    if (cls == "QuantizedRescaling" || cls == "Rescaling") return rescaling(layer, in);
    if (cls == "QuantizedDropout" || cls == "Dropout") return in;
    if (cls == "QuantizedConv2D" || cls == "QuantizedDepthwiseConv2D" || cls == "QuantizedDense")
      return neural(layer, in, block);
    if (cls == "QuantizedSeparableConv2D") return separable(layer, in, block);
    if (cls == "QuantizedMaxPool2D") return max_pool(layer, in, block);
    if (cls == "QuantizedReLU") return relu(layer, in, block);
    if (cls == "QuantizedGlobalAveragePooling2D") return global_average(layer, in, block);
    if (cls == "QuantizedFlatten" || cls == "QuantizedReshape") return reshape(layer, in);
    if (cls == "QuantizedAdd") return add(layer, block);
    if (cls == "QuantizedConcatenate") return concatenate(layer);
    if (cls == "Dequantizer") return dequantizer(in, block);
    unsupported(layer, "this layer cannot be evaluated on quantized tensors here (a float layer "
                       "before the Dequantizer?)");
  }

  // rescaling.py QuantizedRescaling.call: QFloat(inputs, scale), or scales * scale on a QFloat.
  QState rescaling(const KerasLayer& layer, QState in) const {
    json scale = layer.config.value("scale", json());
    json offset = layer.config.value("offset", json(0));
    if (scale.is_array() && scale.size() == 1) scale = scale[0];
    if (!scale.is_number()) unsupported(layer, "field 'scale': only a scalar scale is supported");
    const bool zero_offset = offset.is_number() ? offset.get<double>() == 0.0
                             : offset.is_array() && std::all_of(offset.begin(), offset.end(),
                                                                [](const json& v) {
                                                                  return v.is_number() &&
                                                                         v.get<double>() == 0.0;
                                                                });
    if (!zero_offset) unsupported(layer, "field 'offset': only a zero offset is supported");
    const auto s = static_cast<float>(scale.get<double>());
    if (!(s > 0.0f) || !std::isfinite(s)) unsupported(layer, "field 'scale': must be positive");
    if (in.qfloat) {
      for (float& v : in.scales) v = v * s;
    } else {
      in.qfloat = true;
      in.scales = {s};
    }
    return in;
  }

  // layers_base.py tensor_inputs for a layer with a buffer: a per-axis input is expanded to its
  // largest frac_bits (the per-channel left shifts are the input_shift), a per-tensor one is
  // promoted. Depthwise convs and ReLUs never expand.
  QState buffer_inputs(const KerasLayer& layer, QState in, int value_bits, bool may_expand,
                       std::vector<int32_t>* input_shift) const {
    if (!in.per_tensor() && may_expand) {
      const float max_frac = *std::max_element(in.frac.begin(), in.frac.end());
      std::vector<int32_t> shifts;
      for (float f : in.frac) {
        if (max_frac - f >= static_cast<float>(value_bits))
          unsupported(layer, "input_shift " + std::to_string(max_frac - f) + " saturates the " +
                                 std::to_string(value_bits) + "-bit buffer");
        shifts.push_back(to_int32(max_frac - f));
      }
      if (input_shift) *input_shift = shifts;
      else if (!std::all_of(shifts.begin(), shifts.end(), [](int32_t s) { return s == 0; }))
        unsupported(layer, "per-channel input shifts are not representable before this layer");
      in.frac = {max_frac};
    } else if (value_bits < in.value_bits) {
      unsupported(layer, "cannot reduce value bits from " + std::to_string(in.value_bits) + " to " +
                             std::to_string(value_bits));
    }
    in.value_bits = value_bits;
    return in;
  }

  // convolution.py / depthwise_convolution.py / dense.py call + the kernel's WeightQuantizer.
  QState neural(const KerasLayer& layer, QState in, Block& block) {
    const bool depthwise = layer.class_name == "QuantizedDepthwiseConv2D";
    const bool dense = layer.class_name == "QuantizedDense";
    const json qc = quant_config(layer);
    // "Limit buffer bitwidth" to 28 (value bits 27, signed): buffer_bits is the signed width.
    const int buffer = std::min(28, buffer_bitwidth(layer));
    block.buffer_bits = buffer;
    const Dims& x = dims_of(layer.inbound.at(0));
    const int64_t channels = x.back();
    if (in.qfloat && in.scales.size() > 1)
      unsupported(layer, "input with per-channel scales: QuantizeML multiplies the input scale "
                         "into the accumulator's, which needs a per-tensor input");
    in = buffer_inputs(layer, in, buffer - 1, !depthwise, &block.input_shift);

    const LayerWeights w = weights(layer);
    const FloatArray& kernel = weight(layer, w, depthwise ? "depthwise_kernel" : "kernel");
    const int64_t filters = dims_of(layer.name).back();
    std::vector<int64_t> expected;
    if (dense) {
      if (x.size() > 1 && x.size() != 3) unsupported(layer, "Dense needs a flat input");
      if (x.size() == 3 && x[0] * x[1] != 1)
        unsupported(layer, "Dense needs a flat input (add a Flatten): input is spatial");
      expected = {channels, filters};
    } else {
      const ConvWindow win = conv_window(layer, source_);
      block.stride = win.x.stride;
      block.padding = win.x.same ? PaddingKind::Same : PaddingKind::Valid;
      if (depthwise && int_field(layer, layer.config, "depth_multiplier", 1, INT32_MIN, INT32_MAX, "") != 1)
        unsupported(layer, "field 'depth_multiplier': only 1 is supported");
      expected = {win.x.size, win.y.size, channels, depthwise ? 1 : filters};
    }
    require_shape(layer, depthwise ? "depthwise_kernel" : "kernel", kernel, expected);

    const json wq = qc.value("weight_quantizer", json::object());
    const int bits = int_field(layer, wq, "bitwidth", 8, 2, 16, "quant_config.weight_quantizer.");
    const bool is_signed = bool_field(layer, wq, "signed", true, "quant_config.weight_quantizer.");
    if (bool_field(layer, wq, "fp_quantizer", false, "quant_config.weight_quantizer."))
      unsupported(layer, "field 'quant_config.weight_quantizer.fp_quantizer': power-of-two "
                         "weights are not supported");
    const bool per_tensor = wq.contains("axis") && wq["axis"].is_null();
    const int axis = per_tensor ? -1 : int_field(layer, wq, "axis", -1, -4, 3,
                                                 "quant_config.weight_quantizer.");
    const QuantizedWeights q =
        quantize_weights(kernel.values, kernel.shape, axis, per_tensor, is_signed ? bits - 1 : bits);
    block.weights.shape = expected;
    if (depthwise) block.weights.shape.pop_back();  // (kx, ky, C, 1) -> (kx, ky, C)
    block.weights.values = q.values;
    block.weights_bits = bits;

    // The accumulator: QFloat(fp, scales) with frac_bits = input frac + 0 (weights have none) and
    // scales = weight scales, times the input's scale when the input is a QFloat
    // (tensor ops: qf_qf_convolution / qf_qf_matmul compute input.scales * filters.scales).
    QState acc = in;
    acc.qfloat = true;
    if (in.qfloat) {
      if (depthwise) unsupported(layer, "a QFloat input to a DepthwiseConv2D is not supported");
      acc.scales.clear();
      for (float s : q.scales) acc.scales.push_back(in.scales[0] * s);
    } else {
      acc.scales = q.scales;
    }
    if (layer.config.contains("padding_value") && !layer.config["padding_value"].is_null())
      padding_value(layer, in, bits, block);
    if (layer.config.value("use_bias", false)) bias(layer, weight(layer, w, "bias"), acc, filters, block);
    return acc;
  }

  // A WeightQuantizer of quant_config (`key`): the bit width, and whether it is per-tensor
  // ("axis": null) or along which axis.
  struct WeightQuantizerConfig {
    int bits = 8;
    bool per_tensor = false;
    int axis = -1;
  };
  WeightQuantizerConfig weight_quantizer(const KerasLayer& layer, const std::string& key) const {
    const json wq = quant_config(layer).value(key, json::object());
    const std::string where = "quant_config." + key + ".";
    WeightQuantizerConfig c;
    c.bits = int_field(layer, wq, "bitwidth", 8, 2, 16, where);
    if (!bool_field(layer, wq, "signed", true, where))
      unsupported(layer, "field '" + where + "signed': unsigned weights are not supported");
    if (bool_field(layer, wq, "fp_quantizer", false, where))
      unsupported(layer, "field '" + where + "fp_quantizer': power-of-two weights are not supported");
    c.per_tensor = wq.contains("axis") && wq["axis"].is_null();
    c.axis = c.per_tensor ? -1 : int_field(layer, wq, "axis", -1, -4, 3, where);
    return c;
  }

  // separable_convolution.py QuantizedSeparableConv2D.call: per-tensor inputs only; the
  // depthwise output is a QFloat of scales in.scales * dw.scales (exact integers), the pointwise
  // output one of scales (in.scales * dw.scales) * pw.scales; the bias is aligned on that. No
  // buffer cap at 28 bits here (unlike convolution.py).
  QState separable(const KerasLayer& layer, QState in, Block& block) {
    if (!in.per_tensor())
      unsupported(layer, "inputs must be quantized per-tensor (QuantizedSeparableConv2D asserts "
                         "it)");
    if (int_field(layer, layer.config, "depth_multiplier", 1, INT32_MIN, INT32_MAX, "") != 1)
      unsupported(layer, "field 'depth_multiplier': only 1 is supported");
    const int buffer = buffer_bitwidth(layer);
    block.buffer_bits = buffer;
    in = buffer_inputs(layer, in, buffer - 1, true, &block.input_shift);
    const ConvWindow win = conv_window(layer, source_);
    block.stride = win.x.stride;
    block.padding = win.x.same ? PaddingKind::Same : PaddingKind::Valid;
    const int64_t channels = dims_of(layer.inbound.at(0)).back();
    const int64_t filters = dims_of(layer.name).back();
    const LayerWeights w = weights(layer);
    const FloatArray& dw = weight(layer, w, "depthwise_kernel");
    const FloatArray& pw = weight(layer, w, "pointwise_kernel");
    require_shape(layer, "depthwise_kernel", dw, {win.x.size, win.y.size, channels, 1});
    require_shape(layer, "pointwise_kernel", pw, {1, 1, channels, filters});
    const WeightQuantizerConfig dwq = weight_quantizer(layer, "dw_weight_quantizer");
    const WeightQuantizerConfig pwq = weight_quantizer(layer, "pw_weight_quantizer");
    const QuantizedWeights qdw =
        quantize_weights(dw.values, dw.shape, dwq.axis, dwq.per_tensor, dwq.bits - 1);
    const QuantizedWeights qpw =
        quantize_weights(pw.values, pw.shape, pwq.axis, pwq.per_tensor, pwq.bits - 1);
    if (qdw.scales.size() != 1)
      unsupported(layer, "field 'quant_config.dw_weight_quantizer.axis': a per-channel depthwise "
                         "scale cannot be carried into the pointwise sum");
    block.weights = {{win.x.size, win.y.size, channels}, qdw.values};
    block.weights_bits = dwq.bits;
    block.pointwise_weights = {{channels, filters}, qpw.values};
    block.pointwise_weights_bits = pwq.bits;

    const float dw_scale = in.qfloat ? in.scales[0] * qdw.scales[0] : qdw.scales[0];
    QState acc = in;
    acc.qfloat = true;
    acc.scales.clear();
    for (float s : qpw.scales) acc.scales.push_back(dw_scale * s);
    if (layer.config.value("use_bias", false))
      bias(layer, weight(layer, w, "bias"), acc, filters, block);
    return acc;
  }

  // convolution.py: padding values are quantized like the weights (AlignedWeightQuantizer of the
  // weight bitwidth, signed) and aligned on the QFloat input they pad.
  void padding_value(const KerasLayer& layer, const QState& in, int bits, Block& block) const {
    if (!in.qfloat)
      unsupported(layer, "field 'padding_value': QuantizeML requires a QFloat input (a Rescaling "
                         "before the layer)");
    Floats values;
    const json& pv = layer.config["padding_value"];
    for (const json& v : pv.is_array() ? pv : json::array({pv})) {
      if (!v.is_number()) malformed(layer, "field 'padding_value' holds a non-number");
      values.push_back(static_cast<float>(v.get<double>()));
    }
    const int64_t channels = dims_of(layer.inbound.at(0)).back();
    if (values.size() != 1 && static_cast<int64_t>(values.size()) != channels)
      malformed(layer, "field 'padding_value': expected 1 or " + std::to_string(channels) + " values");
    block.padding_value =
        quantize_aligned(values, bits - 1, bits <= 4, in.scales, in.frac, in.value_bits).values;
  }

  // The bias AlignedWeightQuantizer (quant_config.bias_quantizer, default 8-bit signed): aligned
  // on the accumulator, then added to it.
  void bias(const KerasLayer& layer, const FloatArray& b, const QState& acc, int64_t filters,
            Block& block) const {
    require_shape(layer, "bias", b, {filters});
    const json bq = quant_config(layer).value("bias_quantizer", json::object());
    const int bits = int_field(layer, bq, "bitwidth", 8, 2, 16, "quant_config.bias_quantizer.");
    const bool is_signed = bool_field(layer, bq, "signed", true, "quant_config.bias_quantizer.");
    const AlignedValues aligned = quantize_aligned(b.values, is_signed ? bits - 1 : bits, bits <= 4,
                                                   acc.scales, acc.frac, acc.value_bits);
    block.bias = aligned.values;
    block.bias_shift = to_int32s(aligned.shift);
  }

  // pooling.py QuantizedMaxPool2D: TF max pooling with the pool's own padding. Whether Akida
  // can pool that way (it pools with the conv's padding) is the converter's check.
  QState max_pool(const KerasLayer& layer, const QState& in, Block& block) const {
    const Window pool = pool_window(layer, source_);
    block.pool = {PoolKind::Max, pool.size, pool.stride,
                  pool.same ? PaddingKind::Same : PaddingKind::Valid};
    return in;
  }

  // activations.py QuantizedReLU.call: a FixedPoint becomes QFloat(fp, 1); inputs are promoted to
  // the (unsigned) buffer_bitwidth; max_value is quantized by an 8-bit unsigned
  // AlignedWeightQuantizer on the inputs (accumulator units).
  QState relu(const KerasLayer& layer, QState in, Block& block) const {
    for (const char* key : {"negative_slope", "threshold"})
      if (layer.config.contains(key) && !layer.config[key].is_null() &&
          layer.config[key].get<double>() != 0.0)
        unsupported(layer, "field '" + std::string(key) + "': only 0 is supported");
    if (!in.qfloat) {
      in.qfloat = true;
      in.scales = {1.0f};
    }
    in = buffer_inputs(layer, in, buffer_bitwidth(layer), /*may_expand=*/false, nullptr);
    block.relu = true;
    // Only the Akida 1.0 patterns put a global average pooling before the ReLU.
    block.global_pool_before_relu = block.pool.kind == PoolKind::GlobalAverage;
    // QuantizedReLU(max_value=6): the default applies when the key is absent.
    const json max_value = layer.config.contains("max_value") ? layer.config["max_value"] : json(6.0);
    if (max_value.is_null()) return in;
    if (!max_value.is_number() || !(max_value.get<double>() > 0.0))
      malformed(layer, "field 'max_value' is not a positive number");
    const json mq = quant_config(layer).value("max_value_quantizer", json::object());
    const int bits = int_field(layer, mq, "bitwidth", 8, 2, 16, "quant_config.max_value_quantizer.");
    const bool is_signed = bool_field(layer, mq, "signed", false, "quant_config.max_value_quantizer.");
    const AlignedValues aligned =
        quantize_aligned({static_cast<float>(max_value.get<double>())}, is_signed ? bits - 1 : bits,
                         bits <= 4, in.scales, in.frac, in.value_bits);
    block.relu_max = aligned.values;
    block.relu_max_shift = to_int32s(aligned.shift);
    return in;
  }

  // pooling.py QuantizedGlobalAveragePooling2D.call: a sum, with the 1/(H*W) in the scales
  // (QFloat / spatial_size in float32), or QFloat(sum, float32(1. / spatial_size)) on a
  // FixedPoint input.
  QState global_average(const KerasLayer& layer, QState in, Block& block) const {
    in = buffer_inputs(layer, in, buffer_bitwidth(layer), /*may_expand=*/true, nullptr);
    const Dims& x = dims_of(layer.inbound.at(0));
    const int64_t spatial = x[0] * x[1];
    if (in.qfloat) {
      for (float& s : in.scales) s = s / static_cast<float>(spatial);
    } else {
      in.qfloat = true;
      in.scales = {static_cast<float>(1.0 / static_cast<double>(spatial))};
    }
    block.pool = {PoolKind::GlobalAverage, 0, 0};
    return in;
  }

  // Flatten / Reshape keep the QTensor; per-axis frac_bits or scales follow the channels only
  // when the channel axis is kept.
  QState reshape(const KerasLayer& layer, const QState& in) const {
    const Dims& from = dims_of(layer.inbound.at(0));
    const Dims& to = dims_of(layer.name);
    const bool per_axis = in.frac.size() > 1 || (in.qfloat && in.scales.size() > 1);
    int64_t size = 1;
    for (int64_t d : from) size *= d;
    if (per_axis && (from.empty() || to.empty() || from.back() != to.back() || size != from.back()))
      unsupported(layer, "a per-axis quantized tensor can only be reshaped when it is a vector");
    return in;
  }

  // add.py QuantizedAdd.call: both FixedPoint inputs are aligned on the larger frac_bits in the
  // signed buffer (a.align(b): the per-channel max, so per-axis inputs give per-channel shifts),
  // summed, optionally halved (>> 1 folds into frac_bits).
  QState add(const KerasLayer& layer, Block& block) const {
    if (layer.inbound.size() != 2) unsupported(layer, "QuantizedAdd needs exactly two inputs");
    const QState a = state_of(layer.inbound[0]), b = state_of(layer.inbound[1]);
    if (a.qfloat || b.qfloat)
      unsupported(layer, "QuantizedAdd only accepts FixedPoint inputs (an OutputQuantizer before "
                         "each input)");
    const int buffer = buffer_bitwidth(layer);
    block.buffer_bits = buffer;
    const size_t n = broadcast_size(a.frac.size(), b.frac.size());
    QState out;
    out.value_bits = buffer - 1;
    out.frac.clear();
    for (size_t c = 0; c < n; ++c) {
      const float frac = std::max(at(a.frac, c), at(b.frac, c));
      out.frac.push_back(frac);
      block.a_shift.push_back(to_int32(frac - at(a.frac, c)));
      block.b_shift.push_back(to_int32(frac - at(b.frac, c)));
    }
    if (bool_field(layer, layer.config, "average", false, ""))
      for (float& f : out.frac) f += 1.0f;
    if (uniform(out.frac)) out.frac.resize(1);
    return out;
  }

  // QuantizedConcatenate: FixedPoint inputs, concatenated with their frac_bits.
  QState concatenate(const KerasLayer& layer) const {
    const int axis = int_field(layer, layer.config, "axis", -1, INT32_MIN, INT32_MAX, "");
    if (layer.inbound.size() != 2 || (axis != -1 && axis != 3))
      unsupported(layer, "only two inputs concatenated on the channel axis are supported");
    QState out;
    out.frac.clear();
    out.value_bits = 0;
    for (const std::string& name : layer.inbound) {
      const QState s = state_of(name);
      if (s.qfloat) unsupported(layer, "QuantizedConcatenate only accepts FixedPoint inputs");
      out.value_bits = std::max(out.value_bits, s.value_bits);
      for (int64_t c = 0; c < channels_of(name); ++c)
        out.frac.push_back(at(s.frac, static_cast<size_t>(c)));
    }
    if (uniform(out.frac)) out.frac.resize(1);
    return out;
  }

  // quantizers.py Dequantizer: x.to_float() = values / 2^frac (* scales): one float32 factor
  // per channel (dividing by a power of two is exact).
  QState dequantizer(const QState& in, Block& block) const {
    const size_t n = broadcast_size(in.frac.size(), in.qfloat ? in.scales.size() : 1);
    for (size_t c = 0; c < n; ++c) {
      const float scale = in.qfloat ? at(in.scales, c) : 1.0f;
      block.scales.push_back(std::ldexp(scale, -to_int32(at(in.frac, c))));
    }
    return in;
  }

  // output_quantizer.py OutputQuantizer.call.
  QState output_quantizer(const KerasLayer& layer, const json& config, const QState& in,
                          Block& block) const {
    const std::string where = "quant_config.output_quantizer.";
    const int bits = int_field(layer, config, "bitwidth", 8, 1, 32, where);
    const bool is_signed = bool_field(layer, config, "signed", true, where);
    const int scale_bits = int_field(layer, config, "scale_bits", 8, 1, 24, where);
    const int buffer = int_field(layer, config, "buffer_bitwidth", 32, 2, 32, where);
    const int value_bits = is_signed ? bits - 1 : bits;
    const LayerWeights w = weights(layer);
    const FloatArray& range_max = weight(layer, w, "range_max");
    const FloatArray& rate = weight(layer, w, "rescaling_rate");
    const int64_t channels = channels_of(layer.name);
    for (const auto* v : {&range_max, &rate})
      if (v->values.size() != 1 && static_cast<int64_t>(v->values.size()) != channels)
        malformed(layer, "variable '" + std::string(v == &rate ? "rescaling_rate" : "range_max") +
                             "': expected 1 or " + std::to_string(channels) + " values");

    OutputStage stage;
    Floats frac_in = in.frac;
    int in_value_bits = in.value_bits;
    if (in.qfloat) {
      // scales * rescaling_rate, promote to buffer_bitwidth, then to_fixed_point(scale_bits):
      // values * qscales, frac_bits + qscales' frac_bits.
      Floats scales;
      for (size_t c = 0; c < broadcast_size(in.scales.size(), rate.values.size()); ++c)
        scales.push_back(at(in.scales, c) * at(rate.values, c));
      if (buffer < in.value_bits)
        unsupported(layer, "field '" + where + "buffer_bitwidth' " + std::to_string(buffer) +
                               " is below the input's " + std::to_string(in.value_bits) + " bits");
      const QuantizedScales q = quantize_scales(scales, scale_bits);
      stage.scale = to_ints(q.values);
      Floats sum;
      for (size_t c = 0; c < broadcast_size(frac_in.size(), q.frac.size()); ++c)
        sum.push_back(at(frac_in, c) + at(q.frac, c));
      frac_in = sum;
      in_value_bits = in.value_bits;  // the check below uses the QFloat's own value bits
    } else {
      stage.scale = {1};
    }
    if (in_value_bits <= value_bits)
      unsupported(layer, "Quantizing a " + std::to_string(in_value_bits) + "-bit QTensor to " +
                             std::to_string(value_bits) + "-bit is pointless.");
    // rescale to frac_out = max_frac_bits(value_bits, range_max): shift = frac_out - frac_in.
    QState out;
    out.value_bits = value_bits;
    out.frac.clear();
    for (float r : range_max.values) out.frac.push_back(max_frac_bits(value_bits, r));
    for (size_t c = 0; c < broadcast_size(out.frac.size(), frac_in.size()); ++c) {
      const float shift = at(out.frac, c) - at(frac_in, c);
      if (!(shift < static_cast<float>(value_bits)))
        unsupported(layer, "output shift " + std::to_string(shift) + " saturates the " +
                               std::to_string(value_bits) + "-bit output (range_max too small?)");
      stage.shift.push_back(to_int32(shift));
    }
    // QuantizeML saturates the product to value bits `buffer` (a signed width of buffer + 1);
    // CNN2SNN gives Akida post_op_buffer_bits = buffer_bitwidth: this keeps CNN2SNN's value.
    stage.post_op_buffer_bits = buffer;
    stage.output_bits = bits;
    stage.output_signed = is_signed;
    // An unsigned QuantizeML output saturates to [-2^bits, 2^bits - 1]; it is [0, 2^bits - 1]
    // only when the values cannot be negative, i.e. after a ReLU.
    if (!is_signed && !block.relu)
      unsupported(layer, "an unsigned OutputQuantizer without a ReLU is not supported");
    block.output = stage;
    return out;
  }

  const Hdf5File& file_;
  const KerasModel& model_;
  const std::vector<Dims>& dims_;
  std::string source_;
  QState input_state_;
  std::map<std::string, QState> states_;        // the QTensor leaving each layer
  std::map<std::string, std::string> producer_;  // layer -> block producing it ("" = model input)
  std::set<std::string> refused_;                // layers of refused blocks
};

}  // namespace
}  // namespace keras

namespace keras {

QuantizedGraph load(const Hdf5File& file, PatternSet patterns) {
  const std::string& path = file.path();
  const auto config = file.string_attribute("/", "model_config");
  if (!config)
    throw akida::FormatError(path + ": HDF5 file without a 'model_config' attribute: not a Keras "
                                    "model file (a weights-only file?)");
  const KerasModel model = parse_model_config(*config, path);
  const std::vector<Dims> dims = infer_dims(model, path);
  const std::vector<SplitBlock> blocks = split_into_blocks(model, dims, path, patterns);
  return Lowering(file, model, dims).run(blocks);
}

}  // namespace keras

QuantizedGraph load_keras_h5(const std::string& path) {
  return keras::load(keras::Hdf5File(path), keras::PatternSet::V2);
}

QuantizedGraph load_keras_h5(std::span<const uint8_t> image, const std::string& source) {
  return keras::load(keras::Hdf5File(image, source), keras::PatternSet::V2);
}

QuantizedGraph load_keras_h5_v1(const std::string& path) {
  return keras::load(keras::Hdf5File(path), keras::PatternSet::V1);
}

QuantizedGraph load_keras_h5_v1(std::span<const uint8_t> image, const std::string& source) {
  return keras::load(keras::Hdf5File(image, source), keras::PatternSet::V1);
}

}  // namespace cnn2snn
