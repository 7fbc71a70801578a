// The Akida layer kinds, from one list.
//
// Each entry: X(Kind, layer_type code in .fbz files, IP generation, summary label).
// The codes are the values of `layer_type` in real .fbz files (and of akida's LayerType enum);
// gaps in the numbering belong to layer kinds no longer supported by BrainChip's runtime.
// The summary label is what BrainChip's `Model.summary()` prints: short forms for Akida 1.0 layers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace akida {

enum class IpVersion { v1, v2, any };

#define AKIDA_LAYER_KINDS(X)                                                        \
  X(InputData, 1, any, "InputData")                                                \
  X(InputConvolutional, 2, v1, "InputConv.")                                        \
  X(FullyConnected, 3, v1, "Fully.")                                                \
  X(Convolutional, 4, v1, "Conv.")                                                  \
  X(SeparableConvolutional, 5, v1, "Sep.Conv.")                                     \
  X(Add, 6, v2, "Add")                                                              \
  X(Concatenate, 12, v2, "Concatenate")                                             \
  X(Conv2D, 14, v2, "Conv2D")                                                       \
  X(InputConv2D, 15, v2, "InputConv2D")                                             \
  X(DepthwiseConv2D, 16, v2, "DepthwiseConv2D")                                     \
  X(Conv2DTranspose, 17, v2, "Conv2DTranspose")                                     \
  X(ExtractToken, 18, v2, "ExtractToken")                                           \
  X(Dequantizer, 19, any, "Dequantizer")                                            \
  X(DepthwiseConv2DTranspose, 20, v2, "DepthwiseConv2DTranspose")                   \
  X(BufferTempConv, 21, v2, "BufferTempConv")                                       \
  X(DepthwiseBufferTempConv, 22, v2, "DepthwiseBufferTempConv")                     \
  X(Dense1D, 25, v2, "Dense1D")                                                     \
  X(StatefulRecurrent, 26, v2, "StatefulRecurrent")                                 \
  X(Quantizer, 27, v2, "Quantizer")

enum class LayerKind : int32_t {
#define AKIDA_KIND_ENUM(name, code, ip, label) name = code,
  AKIDA_LAYER_KINDS(AKIDA_KIND_ENUM)
#undef AKIDA_KIND_ENUM
};

struct LayerKindInfo {
  LayerKind kind;
  std::string_view name;   // class name, e.g. "Conv2D"
  IpVersion ip;            // generation the kind belongs to (`any`: both)
  std::string_view label;  // summary label, e.g. "Conv." for v1 Convolutional
};

inline constexpr std::array kLayerKinds = {
#define AKIDA_KIND_INFO(name, code, ip, label) \
  LayerKindInfo{LayerKind::name, #name, IpVersion::ip, label},
    AKIDA_LAYER_KINDS(AKIDA_KIND_INFO)
#undef AKIDA_KIND_INFO
};

#define AKIDA_KIND_COUNT(name, code, ip, label) +1
static_assert(kLayerKinds.size() == 0 AKIDA_LAYER_KINDS(AKIDA_KIND_COUNT),
              "every layer kind has exactly one info entry");
#undef AKIDA_KIND_COUNT

// Info for a kind (every enumerator is in the table).
const LayerKindInfo& info(LayerKind kind);
// The kind with this .fbz layer_type code, if there is one.
std::optional<LayerKind> kind_from_code(int32_t code);
// The kind with this class name ("Conv2D"), if there is one.
std::optional<LayerKind> kind_from_name(std::string_view name);
inline std::string_view name_of(LayerKind kind) { return info(kind).name; }
inline int32_t code_of(LayerKind kind) { return static_cast<int32_t>(kind); }

}  // namespace akida
