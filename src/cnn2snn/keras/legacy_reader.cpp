// load_legacy_cnn2snn_h5: a legacy CNN2SNN-quantized Keras model -> QuantizedGraph (Akida 1.0).
//
// Sources (facts only): cnn2snn 2.19.1 quantization_ops.py (weight quantizers),
// quantization_layers.py (the quantized activations), weights_ops.py (how BrainChip derives the
// Akida 1.0 variables), converter.py (input_scaling and the Rescaling layer); the file layout is
// in docs/quantizeml-h5.md §8.
#include "cnn2snn/legacy_reader.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "akida/errors.h"
#include "cnn2snn/keras/blocks.h"
#include "cnn2snn/keras/file_readers.h"
#include "cnn2snn/keras/hdf5_file.h"
#include "cnn2snn/keras/model_config.h"

namespace cnn2snn {
namespace keras {
namespace {

using nlohmann::json;

const std::set<std::string> kNeural = {"QuantizedConv2D", "QuantizedSeparableConv2D",
                                       "QuantizedDense"};
const std::set<std::string> kActivations = {"QuantizedReLU", "ActivationDiscreteRelu"};

int int_field(const std::string& source, const KerasLayer& layer, const json& object,
              const std::string& key, const std::string& prefix, int lo, int hi) {
  const json& v = object.contains(key) ? object[key] : json();
  if (!v.is_number_integer()) malformed(source, layer, "field '" + prefix + key + "' is not an integer");
  const int value = v.get<int>();
  if (value < lo || value > hi)
    unsupported(source, layer, "field '" + prefix + key + "' " + std::to_string(value) +
                                   ": expected " + std::to_string(lo) + " to " + std::to_string(hi));
  return value;
}

// A weight quantizer (quantization_ops.py): its integers and float32 scale factors, one per
// output channel (the last axis) or one for all.
struct QuantizedKernel {
  std::vector<int64_t> values;
  std::vector<float> scale_factor;  // per last-axis channel
  int bits = 4;
};

QuantizedKernel quantize_kernel(const std::string& source, const KerasLayer& layer,
                                const std::string& key, const FloatArray& w) {
  const json& q = layer.config.contains(key) ? layer.config[key] : json();
  if (!q.is_object() || !q.contains("config") || !q["config"].is_object())
    malformed(source, layer, "field '" + key + "' is not a serialized weight quantizer");
  const std::string cls = q.value("class_name", "");
  const std::string prefix = key + ".config.";
  QuantizedKernel out;
  out.bits = int_field(source, layer, q["config"], "bitwidth", prefix, 2, 8);
  const float kmax = static_cast<float>((1 << (out.bits - 1)) - 1);
  const size_t channels = w.shape.empty() ? 1 : static_cast<size_t>(w.shape.back());
  std::vector<float> range;  // per channel, or one value
  if (cls == "MaxPerAxisQuantizer") {
    range.assign(channels, 0.0f);
    for (size_t i = 0; i < w.values.size(); ++i)
      range[i % channels] = std::max(range[i % channels], std::fabs(w.values[i]));
  } else if (cls == "MaxQuantizer") {
    float m = 0.0f;
    for (float v : w.values) m = std::max(m, std::fabs(v));
    range = {m};
  } else if (cls == "StdWeightQuantizer") {
    // threshold · std(w) (tf.math.reduce_std: the population deviation). Computed in double and
    // rounded once, where TensorFlow accumulates in float32: the last bit may differ.
    const json& t = q["config"].contains("threshold") ? q["config"]["threshold"] : json();
    if (!t.is_number()) malformed(source, layer, "field '" + prefix + "threshold' is not a number");
    double mean = 0, var = 0;
    for (float v : w.values) mean += v;
    mean /= static_cast<double>(w.values.size());
    for (float v : w.values) var += (v - mean) * (v - mean);
    var /= static_cast<double>(w.values.size());
    range = {t.get<float>() * static_cast<float>(std::sqrt(var))};
  } else {
    unsupported(source, layer, "field '" + key + ".class_name' '" + cls +
                                   "': expected MaxQuantizer, MaxPerAxisQuantizer or "
                                   "StdWeightQuantizer");
  }
  for (float r : range) {
    if (!(r > 0.0f) || !std::isfinite(r))
      unsupported(source, layer, "field '" + key + "': the weights' range is " +
                                     std::to_string(r) + " (all-zero or invalid weights)");
    // A range so small that kmax / r overflows would make 0 × inf = NaN below, which no
    // integer represents (found by fuzz_keras_h5: UBSan, NaN converted to int64_t).
    const float scale_factor = kmax / r;  // float32, as TensorFlow
    if (!std::isfinite(scale_factor))
      unsupported(source, layer, "field '" + key + "': the weights' range " + std::to_string(r) +
                                     " is too small (invalid weights)");
    out.scale_factor.push_back(scale_factor);
  }
  out.values.reserve(w.values.size());
  for (size_t i = 0; i < w.values.size(); ++i) {
    const float sf = out.scale_factor.size() == 1 ? out.scale_factor[0] : out.scale_factor[i % channels];
    const float scaled = w.values[i] * sf;  // float32 product, then tf.round (half to even)
    out.values.push_back(static_cast<int64_t>(std::clamp(std::nearbyint(scaled), -kmax, kmax)));
  }
  return out;
}

// The quantized activation's step (quantization_layers.py), float32:
// QuantizedReLU max_value / (2^b − 1); ActivationDiscreteRelu min(2^b − 1, 6) / (2^b − 1).
float activation_step(const std::string& source, const KerasLayer& layer, int bits) {
  const float levels = static_cast<float>((1 << bits) - 1);
  if (layer.class_name == "ActivationDiscreteRelu") return std::min(levels, 6.0f) / levels;
  const json& m = layer.config.contains("max_value") ? layer.config["max_value"] : json();
  const float max_value = m.is_null() ? levels : m.is_number() ? m.get<float>() : -1.0f;
  if (!(max_value > 0.0f) || !std::isfinite(max_value))
    unsupported(source, layer, "field 'max_value': expected a positive number");
  return max_value / levels;
}

class LegacyLowering {
 public:
  LegacyLowering(const Hdf5File& file, const KerasModel& model,
                 std::optional<InputScaling> scaling)
      : file_(file), model_(model), source_(file.path()), user_scaling_(scaling) {}

  QuantizedGraph run() {
    graph_.source = source_;
    graph_.legacy_cnn2snn = true;
    read_input();
    // The first refusal ends the reading: in a sequential model every later layer depends on it.
    for (size_t i = next_; i < model_.layers.size();)
      i = with_json_errors(source_, at(i), [&] { return lower_block(i); });
    if (graph_.blocks.empty())
      throw akida::UnsupportedError(source_ + ": no QuantizedConv2D, QuantizedSeparableConv2D or "
                                              "QuantizedDense layer to convert");
    return std::move(graph_);
  }

 private:
  const KerasLayer& at(size_t i) const { return model_.layers[i]; }

  // InputLayer, then an optional Rescaling: the input shape and the input scaling.
  void read_input() {
    for (const KerasLayer& layer : model_.layers)
      if (layer.inbound.size() > 1 || layer.outbound.size() > 1)
        unsupported(source_, layer, "Akida 1.0 models are sequential: every layer has one input "
                                    "and one consumer");
    const KerasLayer& input = at(0);
    json shape = input.config.value("batch_input_shape", json());
    if (shape.is_null()) shape = input.config.value("batch_shape", json());
    if (!shape.is_array() || shape.size() != 4)
      unsupported(source_, input, "field 'batch_input_shape': expected [batch, x, y, channels]");
    for (size_t d = 1; d < 4; ++d)
      if (!shape[d].is_number_integer() || shape[d].get<int64_t>() < 1 ||
          shape[d].get<int64_t>() > (int64_t{1} << 20))
        unsupported(source_, input, "field 'batch_input_shape' " + shape.dump() +
                                        ": every dimension but the batch must be a known size");
    dims_ = {shape[1].get<int64_t>(), shape[2].get<int64_t>(), shape[3].get<int64_t>()};
    graph_.input_shape = {dims_[0], dims_[1], dims_[2]};
    next_ = 1;
    InputScaling scaling = user_scaling_.value_or(InputScaling{});
    if (next_ < model_.layers.size() && at(next_).class_name == "Rescaling") {
      const KerasLayer& r = at(next_);
      if (user_scaling_)
        unsupported(source_, r, "If a Rescaling layer is present in the model, 'input_scaling' "
                                "argument must be None");
      const json& scale = r.config.value("scale", json());
      const json& offset = r.config.value("offset", json(0.0));
      if (!scale.is_number() || !offset.is_number() || scale.get<double>() == 0.0)
        unsupported(source_, r, "fields 'scale' and 'offset': expected one non-zero scale and "
                                "one offset (per-channel rescaling is not supported)");
      // converter.py _get_rescaling_layer_params
      scaling = {1.0 / scale.get<double>(), -offset.get<double>() / scale.get<double>()};
      ++next_;
    }
    if (!(scaling.scale > 0.0))
      unsupported(source_, at(0), "input scaling " + std::to_string(scaling.scale) +
                                      ": the scale factor must be strictly positive");
    input_scale_ = scaling.scale;
    input_shift_ = scaling.shift;
  }

  // One neural layer with its optional Flatten/Reshape before it (Dense), pooling and
  // activation after it. Returns the index of the next layer.
  size_t lower_block(size_t i) {
    std::vector<std::string> grouped;
    bool flattened = false;
    while (i < model_.layers.size() && !kNeural.count(at(i).class_name)) {
      const KerasLayer& layer = at(i);
      if (layer.class_name == "Flatten" || layer.class_name == "Reshape") {
        flattened = true;
      } else if (layer.class_name == "Dropout") {
      } else if (layer.class_name == "Activation" && i + 1 == model_.layers.size() &&
                 !graph_.blocks.empty()) {
        return i + 1;  // the final softmax (or linear) is no Akida layer, as in cnn2snn
      } else {
        unsupported(source_, layer, "layer type '" + layer.class_name +
                                        "' cannot be converted to Akida 1.0 (expected "
                                        "QuantizedConv2D, QuantizedSeparableConv2D, "
                                        "QuantizedDense, MaxPooling2D, GlobalAveragePooling2D, "
                                        "QuantizedReLU, ActivationDiscreteRelu, Flatten, Reshape)");
      }
      grouped.push_back(layer.name);
      ++i;
    }
    if (i == model_.layers.size()) return i;
    if (!graph_.blocks.empty() && !previous_step_)
      unsupported(source_, at(i), "follows '" + graph_.blocks.back().name +
                                      "', which has no activation: only the last layer of an "
                                      "Akida 1.0 model may output potentials");
    const KerasLayer& neural = at(i);
    if (flattened && neural.class_name != "QuantizedDense")
      unsupported(source_, neural, "a Flatten or Reshape can only come before a QuantizedDense");
    Block block;
    block.name = neural.name;
    block.source_layers = grouped;
    block.source_layers.push_back(neural.name);
    if (!graph_.blocks.empty()) block.inbound = {graph_.blocks.back().name};
    block.buffer_bits = 32;
    const LayerWeights weights = read_layer_weights(file_, neural);
    const std::vector<float> sf = lower_neural(neural, weights, block);
    ++i;
    // Optional pooling, then the optional activation.
    int64_t positions = 1;
    if (i < model_.layers.size() && at(i).class_name == "MaxPooling2D") {
      const Window w = pool_window(at(i), source_);
      block.pool = {PoolKind::Max, w.size, w.stride, w.same ? PaddingKind::Same : PaddingKind::Valid};
      dims_ = {w.out(dims_[0]), w.out(dims_[1]), dims_[2]};
      block.source_layers.push_back(at(i++).name);
    } else if (i < model_.layers.size() && at(i).class_name == "GlobalAveragePooling2D") {
      block.pool = {PoolKind::GlobalAverage, 0, 1, PaddingKind::Valid};
      block.global_pool_before_relu = true;  // conv > GAP > (folded BN) > activation
      positions = dims_[0] * dims_[1];
      dims_ = {1, 1, dims_[2]};
      block.source_layers.push_back(at(i++).name);
    }
    const KerasLayer* activation =
        i < model_.layers.size() && kActivations.count(at(i).class_name) ? &at(i) : nullptr;
    const std::vector<long double> k = accumulator_units(sf);
    const std::vector<float> bias = read_bias(neural, weights, dims_[2]);
    const std::vector<long double> shifted = input_shift_terms(block);
    if (activation) {
      block.source_layers.push_back(activation->name);
      set_levels(*activation, k, bias, shifted, positions, block);
      ++i;
    } else {
      set_potential_output(k, bias, shifted, block);
      previous_step_.reset();
    }
    graph_.blocks.push_back(std::move(block));
    if (!activation) add_dequantizer(k, positions);
    return i;
  }

  // Kind, geometry and integer weights of the block; returns the weight scale factors per neuron.
  std::vector<float> lower_neural(const KerasLayer& layer, const LayerWeights& w, Block& block) {
    auto weight = [&](const std::string& role) -> const FloatArray& {
      return layer_weight(source_, layer, w, role);
    };
    auto require_shape = [&](const std::string& role, const FloatArray& a, const Dims& expected) {
      require_weight_shape(source_, layer, role, a, expected);
    };
    const int64_t channels = dims_[2];
    const bool first = graph_.blocks.empty();
    if (layer.class_name == "QuantizedDense") {
      const int64_t units = positive(layer, "units"), inputs = dims_[0] * dims_[1] * dims_[2];
      const FloatArray& kernel = weight("kernel");
      require_shape("kernel", kernel, {inputs, units});
      const QuantizedKernel q = quantize_kernel(source_, layer, "quantizer", kernel);
      block.kind = BlockKind::Dense;
      block.weights = {{inputs, units}, q.values};
      block.weights_bits = q.bits;
      dims_ = {1, 1, units};
      if (first) graph_.input_bits = 4;
      return per_neuron(q.scale_factor, units);
    }
    const ConvWindow win = conv_window(layer, source_);
    if (win.x.size != win.y.size)
      unsupported(source_, layer, "field 'kernel_size': only square kernels are supported");
    block.stride = win.x.stride;
    block.padding = win.x.same ? PaddingKind::Same : PaddingKind::Valid;
    const int64_t filters = positive(layer, "filters");
    std::vector<float> sf;
    if (layer.class_name == "QuantizedSeparableConv2D") {
      const FloatArray& dw = weight("depthwise_kernel");
      const FloatArray& pw = weight("pointwise_kernel");
      require_shape("depthwise_kernel", dw, {win.x.size, win.y.size, channels, 1});
      require_shape("pointwise_kernel", pw, {1, 1, channels, filters});
      const QuantizedKernel qdw = quantize_kernel(source_, layer, "quantizer_dw", dw);
      const QuantizedKernel qpw = quantize_kernel(source_, layer, "quantizer", pw);
      if (qdw.scale_factor.size() != 1)
        unsupported(source_, layer, "field 'quantizer_dw': a per-channel depthwise scale cannot "
                                    "be carried into the pointwise sum");
      block.kind = BlockKind::SeparableConv2D;
      block.weights = {{win.x.size, win.y.size, channels}, qdw.values};
      block.weights_bits = qdw.bits;
      block.pointwise_weights = {{channels, filters}, qpw.values};
      block.pointwise_weights_bits = qpw.bits;
      // weights_ops.py: "the weights scale factor can be seen as the product of the DW and PW
      // scale factors" (float32).
      for (float pw_sf : per_neuron(qpw.scale_factor, filters)) sf.push_back(qdw.scale_factor[0] * pw_sf);
      if (first) graph_.input_bits = 4;
    } else {
      const FloatArray& kernel = weight("kernel");
      require_shape("kernel", kernel, {win.x.size, win.y.size, channels, filters});
      const QuantizedKernel q = quantize_kernel(source_, layer, "quantizer", kernel);
      // The first convolution on a 1- or 3-channel image is Akida's InputConvolutional.
      const bool image = first && (channels == 1 || channels == 3);
      block.kind = image ? BlockKind::InputConv2D : BlockKind::Conv2D;
      block.weights = {{win.x.size, win.y.size, channels, filters}, q.values};
      block.weights_bits = q.bits;
      sf = per_neuron(q.scale_factor, filters);
      if (first) graph_.input_bits = image ? 8 : 4;
    }
    dims_ = {win.x.out(dims_[0]), win.y.out(dims_[1]), filters};
    if (dims_[0] < 1 || dims_[1] < 1)
      unsupported(source_, layer, "the kernel is larger than its input");
    return sf;
  }

  // k[n]: accumulator units per float unit of the pre-activation: the block's input is
  // input_akida = scale · input_keras (first block) or level = input / step (later blocks),
  // its weights w_int = w · sf.
  std::vector<long double> accumulator_units(const std::vector<float>& sf) const {
    const long double input = previous_step_ ? 1.0L / *previous_step_ : input_scale_;
    std::vector<long double> k;
    for (float s : sf) k.push_back(input * static_cast<long double>(s));
    return k;
  }

  // shift · Σw[n] (first block only): the input shift pads and offsets the accumulator
  // (weights_ops.py adds it to the threshold of an InputConvolutional).
  std::vector<long double> input_shift_terms(Block& block) const {
    const size_t neurons = static_cast<size_t>(dims_[2]);
    std::vector<long double> terms(neurons, 0.0L);
    if (input_shift_ == 0.0 || block.inbound.size() > 0) return terms;
    const KerasLayer& layer = model_.layer(block.name);
    if (block.kind != BlockKind::InputConv2D)
      unsupported(source_, layer, "input scaling shift " + std::to_string(input_shift_) +
                                      ": only an InputConvolutional first layer takes a shift");
    if (input_shift_ != std::floor(input_shift_) || input_shift_ < 0 || input_shift_ > 255)
      unsupported(source_, layer, "input scaling shift " + std::to_string(input_shift_) +
                                      ": Akida pads with an integer value in 0..255");
    const auto shift = static_cast<int64_t>(input_shift_);
    block.padding_value = {shift};
    for (size_t i = 0; i < block.weights.values.size(); ++i)
      terms[i % neurons] += static_cast<long double>(block.weights.values[i] * shift);
    return terms;
  }

  // The activation as level boundaries on the accumulator (sum over `positions` with a global
  // pooling): level >= m ⇔ mean pre-activation (acc / P − shift·Σw) / k + bias > (m − ½)·step
  // ⇔ acc > R_m = P · (k · ((m − ½)·step − bias) + shift·Σw).
  void set_levels(const KerasLayer& layer, const std::vector<long double>& k,
                  const std::vector<float>& bias, const std::vector<long double>& shifted,
                  int64_t positions, Block& block) {
    const int bits = int_field(source_, layer, layer.config, "bitwidth", "", 1, 8);
    const float step = activation_step(source_, layer, bits);
    LevelActivation levels;
    levels.bits = bits;
    const auto P = static_cast<long double>(positions);
    for (size_t n = 0; n < k.size(); ++n) {
      std::vector<int64_t> boundaries;
      for (int m = 1; m < (1 << bits); ++m) {
        const long double edge = P * (k[n] * ((m - 0.5L) * step - bias[n]) + shifted[n]);
        if (!(std::fabs(edge) < 0x1p60L))
          unsupported(source_, layer, "neuron " + std::to_string(n) +
                                          ": a level boundary is beyond 2^60 (invalid weights, "
                                          "bias or step)");
        boundaries.push_back(static_cast<int64_t>(std::floor(edge)) + 1);
      }
      levels.boundaries.push_back(std::move(boundaries));
      levels.spacing.push_back(static_cast<double>(P * k[n] * step));
      levels.first_edge.push_back(static_cast<double>(P * (k[n] * (0.5L * step - bias[n]) + shifted[n])));
    }
    block.levels = std::move(levels);
    previous_step_ = step;
  }

  // A block without activation outputs its accumulator plus an integer bias
  // ceil(k · bias − shift·Σw) per position (BrainChip: threshold = floor(−that)); the float
  // output is then acc / (P · k) (the Dequantizer added after it).
  void set_potential_output(const std::vector<long double>& k, const std::vector<float>& bias,
                            const std::vector<long double>& shifted, Block& block) const {
    for (size_t n = 0; n < k.size(); ++n) {
      const long double b = std::ceil(k[n] * bias[n] - shifted[n]);
      if (!(std::fabs(b) < 0x1p60L))
        unsupported(source_, model_.layer(block.name), "bias of neuron " + std::to_string(n) +
                                                           " is beyond 2^60 accumulator units");
      block.bias.push_back(static_cast<int64_t>(b));
    }
  }

  void add_dequantizer(const std::vector<long double>& k, int64_t positions) {
    Block d;
    d.name = graph_.blocks.back().name + "/dequantizer";
    d.kind = BlockKind::Dequantizer;
    d.inbound = {graph_.blocks.back().name};
    for (long double v : k) {
      d.divisors.push_back(static_cast<float>(v * positions));
      d.scales.push_back(static_cast<float>(1.0L / (v * positions)));
    }
    graph_.blocks.push_back(std::move(d));
  }

  std::vector<float> read_bias(const KerasLayer& layer, const LayerWeights& w,
                               int64_t neurons) const {
    if (!layer.config.value("use_bias", true))
      return std::vector<float>(static_cast<size_t>(neurons), 0.0f);
    const FloatArray& bias = layer_weight(source_, layer, w, "bias");
    require_weight_shape(source_, layer, "bias", bias, {neurons});
    return bias.values;
  }

  int64_t positive(const KerasLayer& layer, const std::string& key) const {
    return int_field(source_, layer, layer.config, key, "", 1, 1 << 20);
  }

  static std::vector<float> per_neuron(const std::vector<float>& v, int64_t neurons) {
    return v.size() == 1 ? std::vector<float>(static_cast<size_t>(neurons), v[0]) : v;
  }

  const Hdf5File& file_;
  const KerasModel& model_;
  std::string source_;
  std::optional<InputScaling> user_scaling_;
  QuantizedGraph graph_;
  Dims dims_;
  size_t next_ = 0;
  double input_scale_ = 1.0, input_shift_ = 0.0;
  std::optional<float> previous_step_;  // the step of the previous block's activation
};

KerasModel read_model(const Hdf5File& file) {
  const auto config = file.string_attribute("/", "model_config");
  if (!config) throw akida::FormatError(file.path() + ": no 'model_config' attribute: not a Keras model");
  return parse_model_config(*config, file.path());
}

}  // namespace
}  // namespace keras

namespace keras {

bool is_legacy(const Hdf5File& file) {
  const auto config = file.string_attribute("/", "model_config");
  if (!config) return false;
  for (const KerasLayer& layer : parse_model_config(*config, file.path()).layers) {
    const auto quantizer = layer.config.find("quantizer");
    if (quantizer != layer.config.end() && quantizer->is_object() &&
        quantizer->value("class_name", "").ends_with("Quantizer"))
      return true;
  }
  return false;
}

QuantizedGraph load_legacy(const Hdf5File& file, std::optional<InputScaling> scaling) {
  const KerasModel model = read_model(file);
  return LegacyLowering(file, model, scaling).run();
}

}  // namespace keras

bool is_legacy_cnn2snn_h5(const std::string& path) {
  return keras::is_legacy(keras::Hdf5File(path));
}

bool is_legacy_cnn2snn_h5(std::span<const uint8_t> image, const std::string& source) {
  return keras::is_legacy(keras::Hdf5File(image, source));
}

QuantizedGraph load_legacy_cnn2snn_h5(const std::string& path,
                                      std::optional<InputScaling> input_scaling) {
  return keras::load_legacy(keras::Hdf5File(path), input_scaling);
}

QuantizedGraph load_legacy_cnn2snn_h5(std::span<const uint8_t> image, const std::string& source,
                                      std::optional<InputScaling> input_scaling) {
  return keras::load_legacy(keras::Hdf5File(image, source), input_scaling);
}

}  // namespace cnn2snn
