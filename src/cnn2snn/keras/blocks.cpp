#include "cnn2snn/keras/blocks.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "akida/errors.h"
#include "cnn2snn/refusals.h"

namespace cnn2snn::keras {

[[noreturn]] void unsupported(const std::string& source, const KerasLayer& layer,
                              const std::string& message) {
  throw akida::UnsupportedError(layer_context(source, layer) + ": " + message);
}
[[noreturn]] void malformed(const std::string& source, const KerasLayer& layer,
                            const std::string& message) {
  throw akida::FormatError(layer_context(source, layer) + ": " + message);
}

int64_t config_int(const std::string& source, const KerasLayer& layer,
                   const nlohmann::json& object,
                   const std::string& key, int64_t fallback, int64_t lo, int64_t hi,
                   const std::string& where) {
  if (!object.is_object() || !object.contains(key) || object[key].is_null()) return fallback;
  const nlohmann::json& v = object[key];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
    malformed(source, layer, "field '" + where + key + "' " + v.dump() + " is not an integer in [" +
                                 std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v.get<int64_t>();
}

namespace {

using nlohmann::json;

std::string dims_text(const Dims& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

// A pair field (kernel_size, strides, pool_size): two positive integers (one integer means both).
std::pair<int64_t, int64_t> pair_field(const std::string& source, const KerasLayer& layer,
                                       const std::string& key,
                                       std::optional<int64_t> fallback = std::nullopt) {
  const json& config = layer.config;
  if (!config.contains(key) || config[key].is_null()) {
    if (fallback) return {*fallback, *fallback};
    malformed(source, layer, "field '" + key + "' is missing");
  }
  json value = config[key];
  if (value.is_number_integer()) value = json::array({value, value});
  if (!value.is_array() || value.size() != 2 || !value[0].is_number_integer() ||
      !value[1].is_number_integer())
    malformed(source, layer, "field '" + key + "' " + value.dump() + " is not two integers");
  const auto a = value[0].get<int64_t>(), b = value[1].get<int64_t>();
  if (a < 1 || b < 1 || a > (int64_t{1} << 20) || b > (int64_t{1} << 20))
    malformed(source, layer, "field '" + key + "' " + value.dump() + " is not two positive sizes");
  return {a, b};
}

// A pair field that must hold two equal values.
int64_t square_field(const std::string& source, const KerasLayer& layer, const std::string& key,
                     std::optional<int64_t> fallback = std::nullopt) {
  const auto [a, b] = pair_field(source, layer, key, fallback);
  if (a != b)
    unsupported(source, layer, "field '" + key + "' [" + std::to_string(a) + ", " +
                                   std::to_string(b) + "]: only square values are supported");
  return a;
}

bool same_padding(const std::string& source, const KerasLayer& layer) {
  const std::string padding = layer.config.value("padding", "valid");
  if (padding != "same" && padding != "valid")
    unsupported(source, layer, "field 'padding' '" + padding + "': expected 'same' or 'valid'");
  return padding == "same";
}

void check_channels_last(const std::string& source, const KerasLayer& layer) {
  const json& format = layer.config.contains("data_format") ? layer.config["data_format"] : json();
  if (format.is_string() && format.get<std::string>() != "channels_last")
    unsupported(source, layer, "field 'data_format' '" + format.get<std::string>() +
                                   "': only channels_last is supported");
}

// Saturates at INT64_MAX: such sizes fail every later check (Akida shapes are bounded).
int64_t product(const Dims& dims) {
  int64_t p = 1;
  for (int64_t d : dims)
    if (__builtin_mul_overflow(p, d, &p)) return INT64_MAX;
  return p;
}

int64_t positive_int(const std::string& source, const KerasLayer& layer, const std::string& key) {
  const json& v = layer.config.contains(key) ? layer.config[key] : json();
  if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > (int64_t{1} << 24))
    malformed(source, layer, "field '" + key + "' is not a positive integer");
  return v.get<int64_t>();
}

Dims input_dims(const std::string& source, const KerasLayer& layer) {
  const json shape = layer.config.value("batch_input_shape", json());
  if (!shape.is_array() || shape.size() < 2)
    malformed(source, layer, "field 'batch_input_shape' is missing or not [batch, dims...]");
  // (x, y, c) or (n): a rank above 3 is nothing Akida runs, and would let dims products overflow.
  if (shape.size() > 4)
    unsupported(source, layer, "field 'batch_input_shape' " + shape.dump() +
                                   ": more than 3 dimensions besides the batch");
  Dims dims;
  for (size_t i = 1; i < shape.size(); ++i) {
    if (!shape[i].is_number_integer() || shape[i].get<int64_t>() < 1 ||
        shape[i].get<int64_t>() > (int64_t{1} << 20))
      unsupported(source, layer, "field 'batch_input_shape' " + shape.dump() +
                                     ": every dimension but the batch must be a known size");
    dims.push_back(shape[i].get<int64_t>());
  }
  return dims;
}

Dims reshape_dims(const std::string& source, const KerasLayer& layer, const Dims& in) {
  const json target = layer.config.value("target_shape", json());
  if (!target.is_array()) malformed(source, layer, "field 'target_shape' is not a list");
  // Some dims, each no larger than the input holds: no product below can overflow.
  if (target.empty() || target.size() > 3)
    unsupported(source, layer, "field 'target_shape' " + target.dump() + ": expected 1 to 3 dims");
  Dims out;
  int64_t known = 1, unknown_at = -1;
  for (const json& d : target) {
    if (!d.is_number_integer()) malformed(source, layer, "field 'target_shape' is not integers");
    const auto v = d.get<int64_t>();
    if (v == -1 && unknown_at < 0) {
      unknown_at = static_cast<int64_t>(out.size());
      out.push_back(1);
      continue;
    }
    if (v < 1 || __builtin_mul_overflow(known, v, &known) || known > product(in))
      malformed(source, layer, "field 'target_shape' " + target.dump() + " does not fit input " +
                                   dims_text(in));
    out.push_back(v);
  }
  if (unknown_at >= 0 && known > 0) out[static_cast<size_t>(unknown_at)] = product(in) / known;
  if (product(out) != product(in))
    malformed(source, layer, "field 'target_shape' " + target.dump() + " does not fit input " +
                                 dims_text(in));
  return out;
}

// Output dims of one layer from its inbound dims.
std::optional<Dims> layer_dims(const std::string& source, const KerasLayer& layer,
                               const std::vector<Dims>& in) {
  const std::string& cls = layer.class_name;
  if (cls == "InputLayer") return input_dims(source, layer);
  if (in.empty()) return std::nullopt;
  const Dims& x = in[0];
  auto spatial = [&]() {
    if (x.size() != 3)
      unsupported(source, layer, "input dims " + dims_text(x) + ": expected (x, y, c)");
  };
  if (cls == "QuantizedConv2D" || cls == "QuantizedDepthwiseConv2D" ||
      cls == "QuantizedSeparableConv2D") {
    spatial();
    const ConvWindow w = conv_window(layer, source);
    const int64_t filters = cls != "QuantizedDepthwiseConv2D" ? positive_int(source, layer, "filters")
                                                     : x[2] * config_int(source, layer, layer.config, "depth_multiplier", 1, 1, 1 << 20);
    const Dims out = {w.x.out(x[0]), w.y.out(x[1]), filters};
    if (out[0] < 1 || out[1] < 1)
      unsupported(source, layer, "kernel " + std::to_string(w.x.size) + "x" +
                                     std::to_string(w.y.size) + " is larger than input " +
                                     dims_text(x));
    return out;
  }
  if (cls == "QuantizedMaxPool2D") {
    spatial();
    const Window w = pool_window(layer, source);
    const Dims out = {w.out(x[0]), w.out(x[1]), x[2]};
    if (out[0] < 1 || out[1] < 1)
      unsupported(source, layer, "pool_size is larger than input " + dims_text(x));
    return out;
  }
  if (cls == "QuantizedGlobalAveragePooling2D") {
    spatial();
    if (layer.config.value("keepdims", false)) return Dims{1, 1, x[2]};
    return Dims{x[2]};
  }
  if (x.empty()) unsupported(source, layer, "its input has no dimension");
  if (cls == "QuantizedDense") {
    Dims out = x;
    out.back() = positive_int(source, layer, "units");
    return out;
  }
  if (cls == "QuantizedFlatten") return Dims{product(x)};
  if (cls == "QuantizedReshape") return reshape_dims(source, layer, x);
  if (cls == "QuantizedConcatenate") {
    if (in.size() != 2 || in[0].size() != in[1].size()) return std::nullopt;
    Dims out = in[0];
    out.back() += in[1].back();
    return out;
  }
  return x;  // element-wise layers (ReLU, Add, Rescaling, Dropout, Dequantizer, Activation...)
}

bool is_skippable(const KerasLayer& layer, const std::vector<Dims>& dims, const KerasModel& model) {
  static const std::set<std::string> kSkippable = {
      "InputLayer", "Rescaling", "QuantizedRescaling", "Activation", "Softmax", "Dropout",
      "QuantizedDropout"};
  if (kSkippable.count(layer.class_name)) return true;
  if (layer.class_name != "QuantizedReshape" || layer.inbound.size() != 1) return false;
  // A Reshape that only adds or removes size-1 dims changes nothing (same non-1 dims in order).
  auto non_one = [](const Dims& d) {
    Dims out;
    std::copy_if(d.begin(), d.end(), std::back_inserter(out), [](int64_t v) { return v != 1; });
    return out;
  };
  return non_one(dims[model.index.at(layer.inbound[0])]) ==
         non_one(dims[model.index.at(layer.name)]);
}

// ---- patterns (akida-spec §3.3, cnn2snn block_converter.py _V2_PATTERN_CONVERTERS) ----
struct Pattern {
  BlockKind kind;
  std::vector<std::string> layers;
};

// Dense blocks, optionally after QFlatten, QReshape or both (the same in v1 and v2).
void add_dense_patterns(std::vector<Pattern>& p) {
  const std::vector<std::vector<std::string>> prefixes = {
      {}, {"QuantizedFlatten"}, {"QuantizedReshape"}, {"QuantizedReshape", "QuantizedFlatten"}};
  for (const auto& prefix : prefixes)
    for (const auto& tail : std::vector<std::vector<std::string>>{
             {"QuantizedDense"}, {"QuantizedDense", "QuantizedReLU"}}) {
      Pattern dense{BlockKind::Dense, prefix};
      dense.layers.insert(dense.layers.end(), tail.begin(), tail.end());
      p.push_back(dense);
    }
}

const std::vector<Pattern>& input_patterns() {
  static const std::vector<Pattern> patterns = {
      {BlockKind::InputConv2D, {"QuantizedConv2D", "QuantizedReLU"}},
      {BlockKind::InputConv2D, {"QuantizedConv2D", "QuantizedMaxPool2D", "QuantizedReLU"}},
  };
  return patterns;
}

const std::vector<Pattern>& block_patterns() {
  static const std::vector<Pattern> patterns = [] {
    std::vector<Pattern> p = {
        {BlockKind::Conv2D, {"QuantizedConv2D"}},
        {BlockKind::Conv2D, {"QuantizedConv2D", "QuantizedReLU"}},
        {BlockKind::Conv2D, {"QuantizedConv2D", "QuantizedMaxPool2D", "QuantizedReLU"}},
        {BlockKind::Conv2D, {"QuantizedConv2D", "QuantizedReLU", "QuantizedGlobalAveragePooling2D"}},
        {BlockKind::Conv2D, {"QuantizedConv2D", "QuantizedGlobalAveragePooling2D"}},
        {BlockKind::DepthwiseConv2D, {"QuantizedDepthwiseConv2D"}},
        {BlockKind::DepthwiseConv2D, {"QuantizedDepthwiseConv2D", "QuantizedReLU"}},
        {BlockKind::DepthwiseConv2D,
         {"QuantizedDepthwiseConv2D", "QuantizedMaxPool2D", "QuantizedReLU"}},
    };
    add_dense_patterns(p);
    p.push_back({BlockKind::Add, {"QuantizedAdd"}});
    p.push_back({BlockKind::Concatenate, {"QuantizedConcatenate"}});
    p.push_back({BlockKind::Dequantizer, {"Dequantizer"}});
    return p;
  }();
  return patterns;
}

// Akida 1.0 patterns (akida-spec §3.3 "v1 patterns"; the input patterns are the v2 ones).
const std::vector<Pattern>& v1_block_patterns() {
  static const std::vector<Pattern> patterns = [] {
    const std::string conv = "QuantizedConv2D", sep = "QuantizedSeparableConv2D",
                      gap = "QuantizedGlobalAveragePooling2D", pool = "QuantizedMaxPool2D",
                      relu = "QuantizedReLU";
    std::vector<Pattern> p;
    for (const auto& [kind, main] : {std::pair{BlockKind::Conv2D, conv},
                                     std::pair{BlockKind::SeparableConv2D, sep}}) {
      p.push_back({kind, {main}});
      p.push_back({kind, {main, relu}});
      p.push_back({kind, {main, pool, relu}});
      p.push_back({kind, {main, gap, relu}});
      p.push_back({kind, {main, gap}});
    }
    add_dense_patterns(p);
    p.push_back({BlockKind::Dequantizer, {"Dequantizer"}});
    return p;
  }();
  return patterns;
}

std::optional<BlockKind> match(const std::vector<Pattern>& patterns,
                               const std::vector<std::string>& types) {
  for (const Pattern& p : patterns)
    if (p.layers == types) return p.kind;
  return std::nullopt;
}

// The patterns sharing a layer type with the faulty block (all of them when none does), as
// " - A > B" lines, like cnn2snn's _display_supported_patterns.
std::string compatible_patterns(const std::vector<Pattern>& patterns,
                                const std::vector<std::string>& types) {
  std::string shown, all;
  for (const Pattern& p : patterns) {
    std::string line = " -";
    for (size_t i = 0; i < p.layers.size(); ++i) line += (i ? " > " : " ") + p.layers[i];
    line += "\n";
    all += line;
    const bool shares = std::any_of(p.layers.begin(), p.layers.end(), [&](const std::string& t) {
      return std::find(types.begin(), types.end(), t) != types.end();
    });
    if (shares) shown += line;
  }
  return shown.empty() ? all : shown;
}

bool holds_block_boundary(const KerasLayer& layer) {
  const json* oq = output_quantizer_config(layer);
  // v2: only an OutputQuantizer of fewer than 9 bits ends a block (blocks.py _search_block_v2).
  // A bitwidth that is no integer is reported when the quantizer is read (as 8 bits here).
  int64_t bits = 8;
  if (oq && oq->contains("bitwidth") && (*oq)["bitwidth"].is_number_integer())
    bits = (*oq)["bitwidth"].get<int64_t>();
  return (oq && bits < 9) || layer.inbound.size() > 1 ||
         layer.class_name == "InputQuantizer";
}

// blocks.py _search_block_v2: walk back while the previous layer neither ends a block nor has
// several inbounds.
// blocks.py _search_block_v1: any OutputQuantizer ends a block, and it must sit on a ReLU.
bool holds_block_boundary_v1(const std::string& source, const KerasLayer& layer,
                             const KerasLayer& next) {
  if (output_quantizer_config(layer)) {
    if (layer.class_name != "QuantizedReLU")
      throw akida::UnsupportedError(source + ": Model incompatible with akida v1 version. The layer " +
                                    layer.name + " followed by " + next.name + " is not valid.");
    return true;
  }
  return layer.class_name == "InputQuantizer";
}

std::vector<size_t> search_block(const KerasModel& model, size_t index, PatternSet patterns,
                                 const std::string& source) {
  std::vector<size_t> chain = {index};
  while (true) {
    const KerasLayer& layer = model.layers[chain.front()];
    if (layer.inbound.size() != 1) break;
    const size_t prev = model.index.at(layer.inbound[0]);
    const bool boundary = patterns == PatternSet::V1
                              ? holds_block_boundary_v1(source, model.layers[prev], layer)
                              : holds_block_boundary(model.layers[prev]);
    if (boundary) break;
    chain.insert(chain.begin(), prev);
  }
  return chain;
}

}  // namespace

std::string layer_context(const std::string& source, const KerasLayer& layer) {
  return source + ": layer '" + layer.name + "' (" + layer.class_name + ")";
}

const json* output_quantizer_config(const KerasLayer& layer) {
  // Pointers into layer.config: no temporary json may be involved.
  if (!layer.config.contains("quant_config")) return nullptr;
  const json& qc = layer.config["quant_config"];
  if (!qc.is_object() || !qc.contains("output_quantizer")) return nullptr;
  const json& oq = qc["output_quantizer"];
  return oq.is_object() ? &oq : nullptr;
}

ConvWindow conv_window(const KerasLayer& layer, const std::string& source) {
  check_channels_last(source, layer);
  ConvWindow w;
  std::tie(w.x.size, w.y.size) = pair_field(source, layer, "kernel_size");
  w.x.stride = w.y.stride = square_field(source, layer, "strides", 1);
  if (square_field(source, layer, "dilation_rate", 1) != 1)
    unsupported(source, layer, "field 'dilation_rate': only 1 is supported");
  if (config_int(source, layer, layer.config, "groups", 1, INT64_MIN, INT64_MAX) != 1)
    unsupported(source, layer, "field 'groups': only 1 is supported");
  const json& pad_value = layer.config.contains("padding_value") ? layer.config["padding_value"]
                                                                 : json();
  w.x.same = w.y.same = same_padding(source, layer) || !pad_value.is_null();
  return w;
}

Window pool_window(const KerasLayer& layer, const std::string& source) {
  check_channels_last(source, layer);
  Window w;
  w.size = square_field(source, layer, "pool_size");
  w.stride = square_field(source, layer, "strides", w.size);
  w.same = same_padding(source, layer);
  return w;
}

LayerWeights read_layer_weights(const Hdf5File& file, const KerasLayer& layer) {
  const std::string group = "/model_weights/" + layer.name;
  const auto names = file.string_list_attribute(group, "weight_names");
  if (!names)
    malformed(file.path(), layer, "group '" + group + "' or its attribute 'weight_names' is missing");
  LayerWeights out;
  for (const std::string& full : *names) {
    std::string role = full.substr(0, full.rfind(':'));
    if (role.ends_with("output_quantizer/rescaling_rate")) role = "rescaling_rate";
    else if (role.ends_with("output_quantizer/range_max")) role = "range_max";
    else role = role.substr(role.rfind('/') + 1);
    if (!file.exists(group + "/" + full))
      malformed(file.path(), layer, "variable '" + full + "' (listed in weight_names) is missing");
    out[role] = file.float_dataset(group + "/" + full);
  }
  return out;
}

const FloatArray& layer_weight(const std::string& source, const KerasLayer& layer,
                               const LayerWeights& w, const std::string& role) {
  const auto found = w.find(role);
  if (found == w.end())
    malformed(source, layer, "variable '" + role + "' is missing from model_weights");
  return found->second;
}

void require_weight_shape(const std::string& source, const KerasLayer& layer,
                          const std::string& role, const FloatArray& a, const Dims& expected) {
  if (a.shape != expected)
    malformed(source, layer, "variable '" + role + "': shape " + dims_text(a.shape) +
                                 ", expected " + dims_text(expected));
}

std::vector<Dims> infer_dims(const KerasModel& model, const std::string& source) {
  std::vector<Dims> dims(model.layers.size());
  std::vector<bool> refused(model.layers.size(), false);
  Refusals refusals(source);
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const KerasLayer& layer = model.layers[i];
    std::vector<Dims> in;
    for (const std::string& name : layer.inbound) {
      const size_t producer = model.index.at(name);
      refused[i] = refused[i] || refused[producer];
      in.push_back(dims[producer]);
    }
    if (refused[i]) continue;  // fed by a refused layer: reported there
    try {
      if (auto d = with_json_errors(source, layer, [&] { return layer_dims(source, layer, in); }))
        dims[i] = *d;
    } catch (const akida::UnsupportedError& e) {
      refusals.add(e);
      refused[i] = true;
    }
  }
  refusals.throw_if_any("layer");
  return dims;
}

std::vector<SplitBlock> split_into_blocks(const KerasModel& model, const std::vector<Dims>& dims,
                                          const std::string& source, PatternSet patterns) {
  const std::vector<Pattern>& table =
      patterns == PatternSet::V1 ? v1_block_patterns() : block_patterns();
  // Everything from the first Dequantizer on is dropped; the Dequantizer is a block of its own.
  size_t end = model.layers.size();
  for (size_t i = 0; i < model.layers.size(); ++i)
    if (model.layers[i].class_name == "Dequantizer") {
      end = i;
      break;
    }
  std::vector<std::vector<size_t>> chains;
  std::vector<int> block_of(model.layers.size(), -1);
  if (end < model.layers.size()) {
    chains.push_back({end});
    block_of[end] = 0;
  }
  // blocks.py: from the head to the bottom, a layer ends a block when it is the last one, has
  // several consumers, or feeds the first layer of a block already found.
  for (size_t i = end; i-- > 0;) {
    const KerasLayer& layer = model.layers[i];
    bool ends = chains.empty() || layer.outbound.size() > 1;
    if (!ends && layer.outbound.size() == 1) {
      const size_t next = model.index.at(layer.outbound[0]);
      ends = std::any_of(chains.begin(), chains.end(),
                         [&](const std::vector<size_t>& c) { return c.front() == next; });
    }
    if (ends) {
      chains.push_back(search_block(model, i, patterns, source));
      for (size_t j : chains.back()) block_of[j] = static_cast<int>(chains.size() - 1);
    } else if (block_of[i] < 0) {
      throw akida::UnsupportedError(layer_context(source, layer) +
                                    ": Impossible to append the layer into a block");
    }
  }
  std::reverse(chains.begin(), chains.end());

  std::vector<SplitBlock> blocks;
  std::string faulty;
  bool first = true;
  for (const auto& chain : chains) {
    SplitBlock block;
    block.layers = chain;
    std::vector<std::string> types;
    for (size_t i : chain)
      if (!is_skippable(model.layers[i], dims, model)) {
        block.main.push_back(i);
        types.push_back(model.layers[i].class_name);
      }
    block.skipped = block.main.empty();
    if (!block.skipped) {
      // block_converters_generator.py _get_input_block_converter: the first mappable block on a
      // 1- or 3-channel uint8 input may be an input pattern.
      const KerasLayer& input = model.layer(model.input_layer);
      const Dims& in = dims[model.index.at(model.input_layer)];
      const bool image = !in.empty() && (in.back() == 1 || in.back() == 3) &&
                         input.config.value("dtype", "float32") == "uint8";
      std::optional<BlockKind> kind;
      if (first && image) kind = match(input_patterns(), types);
      if (!kind) kind = match(table, types);
      first = false;
      if (!kind) {
        faulty += "Invalid block found during conversion:\n";
        for (size_t i : block.main)
          faulty += " " + model.layers[i].class_name + " (" + model.layers[i].name + ")\n";
        faulty += "Compatible patterns that contain the faulty layers are:\n" +
                  compatible_patterns(table, types);
      } else {
        block.kind = *kind;
      }
    }
    blocks.push_back(std::move(block));
  }
  if (!faulty.empty()) throw akida::UnsupportedError(source + ": " + faulty);
  return blocks;
}

}  // namespace cnn2snn::keras
