#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <set>
#include <string_view>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "akida/fbz_common.h"
#include "akida/fbz_container.h"
#include "akida/fbz_legacy_parameters.h"
#include "akida/read_file.h"
#include "akida/utf8.h"
#include "akida_model_generated.h"

namespace akida {
namespace {

// The smallest FlatBuffer holding a model table: root offset, vtable, table.
constexpr size_t kMinPayloadBytes = 12;
// Depth of the deepest table path (Model > Layer > LayerParameters > separable > conv > neural >
// learning) plus vectors, with margin; the table count only bounds the verifier's work.
constexpr flatbuffers::uoffset_t kVerifierMaxDepth = 32;
constexpr flatbuffers::uoffset_t kVerifierMaxTables = 1u << 20;

bool starts_with(std::span<const uint8_t> bytes, std::string_view magic) {
  return bytes.size() >= magic.size() &&
         std::equal(magic.begin(), magic.end(), bytes.begin(),
                    [](char m, uint8_t b) { return static_cast<uint8_t>(m) == b; });
}

// ONNX files are protobufs starting with field 1 (ir_version, a small varint), then usually a
// string field (producer_name 2, ...) or the graph (7).
bool looks_like_onnx(std::span<const uint8_t> bytes) {
  if (bytes.size() < 3 || bytes[0] != 0x08 || bytes[1] >= 0x80) return false;
  const uint8_t next = bytes[2];
  return (next & 7u) == 2 && (next >> 3) >= 2 && (next >> 3) <= 20;
}

// A recognizable other format, named for the error message, or nullptr.
const char* other_format(std::span<const uint8_t> bytes) {
  if (starts_with(bytes, "\x89HDF\r\n\x1a\n")) return "an HDF5 file, e.g. a Keras .h5 model";
  if (starts_with(bytes, "PK\x03\x04")) return "a zip archive";
  if (starts_with(bytes, "\x1f\x8b")) return "a gzip file";
  if (starts_with(bytes, "\xff\x06\x00\x00sNaPpY")) return "a framed Snappy stream";
  if (looks_like_onnx(bytes)) return "an ONNX/protobuf file";
  return nullptr;
}

std::vector<uint8_t> payload_of(std::span<const uint8_t> bytes, const std::string& source) {
  if (bytes.empty()) throw FormatError(source + ": not an Akida .fbz model (empty file)");
  if (const char* format = other_format(bytes))
    throw FormatError(source + ": not an Akida .fbz model (" + format + ")");
  auto payload = fbz::decompress_container(bytes, source);
  if (payload.size() < kMinPayloadBytes)
    throw FormatError(source + ": not an Akida .fbz model (payload of " +
                      std::to_string(payload.size()) + " bytes is too small for a model)");
  return payload;
}

const fbs::Model& verified_root(const std::vector<uint8_t>& payload, const std::string& source) {
  flatbuffers::Verifier verifier(payload.data(), payload.size(), kVerifierMaxDepth,
                                 kVerifierMaxTables);
  if (!verifier.VerifyBuffer<fbs::Model>(nullptr))
    throw FormatError(source + ": not an Akida .fbz model, or corrupt (the payload is not a "
                               "valid model FlatBuffer: an offset, length or field is out of "
                               "bounds)");
  return *flatbuffers::GetRoot<fbs::Model>(payload.data());
}

// A FlatBuffers string holds UTF-8 by definition; names go on to JSON dumps and Python strings.
std::string utf8_text(const flatbuffers::String& stored, const std::string& what) {
  std::string text = stored.str();
  if (!is_utf8(text)) throw FormatError(what + " '" + escaped(text) + "' is not valid UTF-8");
  return text;
}

Variable read_variable(const fbs::Variable& stored) {
  Variable variable;
  variable.name = stored.name()->str();  // checked by read_layer
  try {
    if (!stored.shape()) throw FormatError("missing field 'shape'");
    if (!stored.data()) throw FormatError("missing field 'data'");
    const auto dtype = dtype_from_code(stored.dtype());
    if (!dtype)
      throw UnsupportedError("unknown dtype code " + std::to_string(stored.dtype()));
    variable.dtype = *dtype;
    variable.shape.assign(stored.shape()->begin(), stored.shape()->end());
    // Checked before copying, so that a lying shape is reported as such.
    const size_t stored_bytes = stored.data()->size();
    if (auto problem = fbz::data_size_problem(variable.shape, variable.dtype, stored_bytes))
      throw FormatError(*problem);
    variable.data.assign(stored.data()->begin(), stored.data()->end());
  } catch (const Error& e) {
    rethrow_with_context(e, "variable '" + variable.name + "'");
  }
  return variable;
}

fbz::KindAndParameters read_current_parameters(const fbs::ParameterMap& map) {
  if (!map.entries()) throw FormatError("parameters: missing entry list");
  Parameters parameters;
  std::optional<int32_t> layer_type;
  for (const auto* entry : *map.entries()) {
    if (!entry->key()) throw FormatError("parameters: an entry has no key");
    const std::string key = utf8_text(*entry->key(), "parameters: key");
    if (key == "layer_type") {
      if (layer_type) throw FormatError("parameters: key 'layer_type' appears twice");
      layer_type = entry->value();
    } else if (!parameters.emplace(key, entry->value()).second) {
      throw FormatError("parameters: key '" + key + "' appears twice");
    }
  }
  if (!layer_type) throw FormatError("parameters: missing key 'layer_type'");
  const auto kind = kind_from_code(*layer_type);
  if (!kind) throw UnsupportedError("unknown layer_type " + std::to_string(*layer_type));
  return {*kind, std::move(parameters)};
}

fbz::KindAndParameters read_parameters(const fbs::LayerParameters* stored) {
  if (stored && stored->current()) return read_current_parameters(*stored->current());
  if (stored && stored->legacy_type() != fbs::LegacyParameters_NONE)
    return fbz::decode_legacy_parameters(*stored);
  throw FormatError("missing field 'parameters'");
}

Layer read_layer(const fbs::Layer& stored, const std::set<std::string>& earlier_layers) {
  Layer layer;
  layer.name = stored.name()->str();  // checked by read_model
  auto [kind, parameters] = read_parameters(stored.parameters());
  layer.kind = kind;
  layer.parameters = std::move(parameters);
  if (stored.variables()) {
    std::set<std::string> names;
    for (const auto* variable : *stored.variables()) {
      if (!variable->name()) throw FormatError("a variable has no name");
      // Layers look variables up by name: a second one of a name would be silently ignored.
      const std::string name = utf8_text(*variable->name(), "variable name");
      if (!names.insert(name).second) throw FormatError("variable '" + name + "' appears twice");
      layer.variables.push_back(read_variable(*variable));
    }
  }
  if (stored.inbound())
    for (const auto* name : *stored.inbound()) {
      const std::string inbound = utf8_text(*name, "inbound layer name");
      if (!earlier_layers.count(inbound))
        throw FormatError("inbound layer '" + inbound + "' is not an earlier layer");
      layer.inbound.push_back(inbound);
    }
  return layer;
}

Model read_model(const fbs::Model& root, const std::string& source) {
  Model model;
  if (root.version()) model.version = utf8_text(*root.version(), source + ": version string");
  if (!root.layers() || root.layers()->size() == 0)
    throw FormatError(source + ": the model has no layers");
  std::set<std::string> earlier_layers;
  for (flatbuffers::uoffset_t i = 0; i < root.layers()->size(); ++i) {
    const auto& stored = *root.layers()->Get(i);
    if (!stored.name())
      throw FormatError(source + ": layer #" + std::to_string(i) + " has no name");
    const std::string name =
        utf8_text(*stored.name(), source + ": layer #" + std::to_string(i) + " name");
    try {
      if (earlier_layers.count(name)) throw FormatError("a second layer has this name");
      model.layers.push_back(read_layer(stored, earlier_layers));
    } catch (const Error& e) {
      rethrow_with_context(e, source + ": layer '" + name + "'");
    }
    earlier_layers.insert(name);
  }
  return model;
}

}  // namespace

Model read_fbz_bytes(std::span<const uint8_t> bytes, const std::string& source) {
  const auto payload = payload_of(bytes, source);
  return read_model(verified_root(payload, source), source);
}

Model read_fbz(const std::string& path) {
  // A valid file is at most the padded size of the largest accepted payload.
  constexpr uint64_t kMaxFileBytes = 32 + fbz::kMaxPayloadBytes + fbz::kMaxPayloadBytes / 6;
  return read_fbz_bytes(read_file(path, kMaxFileBytes, "an Akida .fbz model"), path);
}

}  // namespace akida
