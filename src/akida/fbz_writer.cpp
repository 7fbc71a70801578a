#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <cstdio>

#include "akida/errors.h"
#include "akida/atomic_file.h"
#include "akida/fbz.h"
#include "akida/fbz_common.h"
#include "akida/fbz_container.h"
#include "akida_model_generated.h"

namespace akida {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

Offset<fbs::Variable> build_variable(FlatBufferBuilder& fbb, const Variable& variable,
                                     LayerKind kind) {
  if (auto problem = fbz::data_size_problem(variable))
    throw ShapeError("variable '" + variable.name + "': " + *problem);
  const auto name = fbb.CreateString(variable.name);
  const auto shape = fbb.CreateVector(variable.shape);
  const auto data = fbb.CreateVector(variable.data);
  return fbs::CreateVariable(fbb, name, shape, data,
                             static_cast<uint8_t>(static_cast<int32_t>(variable.dtype)),
                             fbz::variable_flag(kind, variable.dtype));
}

Offset<fbs::LayerParameters> build_parameters(FlatBufferBuilder& fbb, const Layer& layer) {
  if (layer.has_param("layer_type"))
    throw ShapeError("parameter 'layer_type' must not be set: it is the layer's kind");
  Parameters all = layer.parameters;  // std::map: iterates in key order, as the files store it
  all["layer_type"] = code_of(layer.kind);
  std::vector<Offset<fbs::ParameterEntry>> entries;
  entries.reserve(all.size());
  for (const auto& [key, value] : all)
    entries.push_back(fbs::CreateParameterEntry(fbb, fbb.CreateString(key), value));
  const auto map = fbs::CreateParameterMap(fbb, fbb.CreateVector(entries));
  return fbs::CreateLayerParameters(fbb, 0, fbs::LegacyParameters_NONE, 0, map);
}

Offset<fbs::Layer> build_layer(FlatBufferBuilder& fbb, const Layer& layer) {
  std::vector<const Variable*> sorted;
  for (const auto& variable : layer.variables) sorted.push_back(&variable);
  std::sort(sorted.begin(), sorted.end(),
            [](const Variable* a, const Variable* b) { return a->name < b->name; });
  std::vector<Offset<fbs::Variable>> variables;
  for (const Variable* variable : sorted)
    variables.push_back(build_variable(fbb, *variable, layer.kind));
  const auto name = fbb.CreateString(layer.name);
  const auto variable_vector = fbb.CreateVector(variables);
  const auto parameters = build_parameters(fbb, layer);
  const auto inbound = fbb.CreateVectorOfStrings(layer.inbound);
  return fbs::CreateLayer(fbb, name, variable_vector, parameters, inbound);
}

std::vector<uint8_t> build_payload(const Model& model) {
  if (model.layers.empty()) throw ShapeError("the model has no layers");
  FlatBufferBuilder fbb(1 << 16);
  std::vector<Offset<fbs::Layer>> layers;
  for (const auto& layer : model.layers) {
    try {
      layers.push_back(build_layer(fbb, layer));
    } catch (const Error& e) {
      rethrow_with_context(e, "layer '" + layer.name + "'");
    }
  }
  const auto layer_vector = fbb.CreateVector(layers);
  const auto version = fbb.CreateString(kWriterVersion);
  fbb.Finish(fbs::CreateModel(fbb, layer_vector, version));  // no file identifier, like BrainChip's
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

}  // namespace

std::vector<uint8_t> to_fbz_bytes(const Model& model) {
  return fbz::compress_container(build_payload(model));
}

void write_fbz(const Model& model, const std::string& path) {
  std::vector<uint8_t> bytes;
  try {
    bytes = to_fbz_bytes(model);
  } catch (const Error& e) {
    rethrow_with_context(e, path);
  }
  write_file_atomically(path, bytes);
}

}  // namespace akida
