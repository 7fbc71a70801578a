// Structure of a QuantizeML Keras model before any arithmetic: the output dims of every layer,
// and the split of the layers into blocks (one block = one future Akida layer) as CNN2SNN 2.19
// does it for Akida 2.0 (cnn2snn/quantizeml/blocks.py split_model_into_blocks, and
// block_converters_generator.py for the skippable layers and the pattern check).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cnn2snn/keras/hdf5_file.h"
#include "cnn2snn/keras/model_config.h"
#include "cnn2snn/quantized_graph.h"

namespace cnn2snn::keras {

using Dims = std::vector<int64_t>;  // one sample's dims, no batch axis

// A square window (kernel or pool) with TF padding. Conv2D with a padding_value pads explicitly
// with TF "SAME" pads (QuantizeML convolution.py apply_padding), so `same` is then true.
struct Window {
  int64_t size = 1, stride = 1;
  bool same = false;
  int64_t out(int64_t in) const { return same ? (in + stride - 1) / stride : (in - size) / stride + 1; }
};
// A convolution's window along x and y. Kernels may be non-square here (the quantized graph and
// the evaluator handle them; whether Akida can is a converter rule); strides are square.
struct ConvWindow {
  Window x, y;
};
// kernel_size/strides/padding of a Conv2D or DepthwiseConv2D (dilation 1, channels_last).
ConvWindow conv_window(const KerasLayer& layer, const std::string& source);
// pool_size/strides/padding of a MaxPool2D.
Window pool_window(const KerasLayer& layer, const std::string& source);
// "<source>: layer '<name>' (<class>)"
std::string layer_context(const std::string& source, const KerasLayer& layer);
// Throw akida::UnsupportedError / akida::FormatError "<layer_context>: <message>".
[[noreturn]] void unsupported(const std::string& source, const KerasLayer& layer,
                              const std::string& message);
[[noreturn]] void malformed(const std::string& source, const KerasLayer& layer,
                            const std::string& message);

// The integer field `key` of `object` (a layer's config or a part of it), `fallback` when absent
// or null; FormatError "... field '<where><key>' ... is not an integer in [lo, hi]" for anything
// else (a float or a string there must not reach a typed json::value(), which would convert a
// float out of range, undefined behaviour, or throw nlohmann's own type_error).
int64_t config_int(const std::string& source, const KerasLayer& layer, const nlohmann::json& object,
                   const std::string& key, int64_t fallback, int64_t lo, int64_t hi,
                   const std::string& where = "");

// Runs `step` on `layer`'s config: an nlohmann exception (a field of an unexpected JSON type read
// with a typed default) becomes FormatError naming the layer.
template <typename Step>
auto with_json_errors(const std::string& source, const KerasLayer& layer, Step step) {
  try {
    return step();
  } catch (const nlohmann::json::exception& e) {
    malformed(source, layer, std::string("a config field has an unexpected type: ") + e.what());
  }
}

// Float variables of one layer, by role: kernel, depthwise_kernel, pointwise_kernel, bias,
// range_max, rescaling_rate (the last path components of the names in the layer's weight_names,
// under /model_weights/<layer>). Throws akida::FormatError naming the layer when the group, its
// weight_names or a listed variable is missing.
using LayerWeights = std::map<std::string, FloatArray>;
LayerWeights read_layer_weights(const Hdf5File& file, const KerasLayer& layer);
// The variable `role` of `w`; FormatError "<layer context>: variable 'role' is missing" if absent.
const FloatArray& layer_weight(const std::string& source, const KerasLayer& layer,
                               const LayerWeights& w, const std::string& role);
// FormatError naming the layer, the variable, its shape and the expected one unless they match.
void require_weight_shape(const std::string& source, const KerasLayer& layer,
                          const std::string& role, const FloatArray& a, const Dims& expected);

// Output dims of every layer (same order as model.layers). Throws akida::FormatError /
// UnsupportedError naming the layer and the field when a config is malformed or inconsistent.
std::vector<Dims> infer_dims(const KerasModel& model, const std::string& source);

// The output quantizer config of a layer (quant_config.output_quantizer), or nullptr.
const nlohmann::json* output_quantizer_config(const KerasLayer& layer);

struct SplitBlock {
  std::vector<size_t> layers;  // every layer of the block, in order (indices in model.layers)
  std::vector<size_t> main;    // the non-skippable ones: they form the pattern
  BlockKind kind = BlockKind::Conv2D;
  bool skipped = false;        // only skippable layers: no Akida layer
};

// Which Akida generation's block patterns a model is split with (cnn2snn registers one pattern
// table per AkidaVersion).
enum class PatternSet {
  V2,  // block_converter.py _V2_PATTERN_CONVERTERS
  // Akida 1.0 (conv.py/separable_convolution.py/dense.py _PATTERNS_V1): QConv2D / QDense /
  // QSeparableConv2D blocks, GlobalAveragePooling *before* the ReLU, no Add / Concatenate /
  // DepthwiseConv2D, and a block may only follow a QuantizedReLU's OutputQuantizer
  // (blocks.py _search_block_v1).
  V1,
};

// Splits the model into blocks in topological order and checks every block against the
// patterns of `patterns`. Layers after the first Dequantizer are left out. Throws
// akida::UnsupportedError listing every faulty block at once, or naming a layer that fits no block.
std::vector<SplitBlock> split_into_blocks(const KerasModel& model, const std::vector<Dims>& dims,
                                          const std::string& source,
                                          PatternSet patterns = PatternSet::V2);

}  // namespace cnn2snn::keras
