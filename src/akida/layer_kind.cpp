#include "akida/layer_kind.h"

namespace akida {

const LayerKindInfo& info(LayerKind kind) {
  for (const auto& entry : kLayerKinds)
    if (entry.kind == kind) return entry;
  // Unreachable for a valid enumerator: the static_assert ties the table to the list.
  return kLayerKinds.front();
}

std::optional<LayerKind> kind_from_code(int32_t code) {
  for (const auto& entry : kLayerKinds)
    if (code_of(entry.kind) == code) return entry.kind;
  return std::nullopt;
}

std::optional<LayerKind> kind_from_name(std::string_view name) {
  for (const auto& entry : kLayerKinds)
    if (entry.name == name) return entry.kind;
  return std::nullopt;
}

}  // namespace akida
