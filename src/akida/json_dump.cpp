#include "akida/json_dump.h"

namespace akida {
namespace {

nlohmann::json shape_json(const Shape& s) { return nlohmann::json::array({s.x, s.y, s.c}); }

nlohmann::json variable_json(const Variable& v) {
  nlohmann::json values = nlohmann::json::array();
  if (v.dtype == DType::Float32) {
    for (float f : v.floats()) values.push_back(f);
  } else {
    for (int64_t i : v.ints()) values.push_back(i);
  }
  return {{"shape", v.shape}, {"dtype", dtype_name(v.dtype)}, {"values", std::move(values)}};
}

nlohmann::json layer_json(const Layer& layer) {
  // layer_type is the kind in akida::Layer but a parameter in the files: show it as one.
  nlohmann::json parameters = {{"layer_type", code_of(layer.kind)}};
  for (const auto& [key, value] : layer.parameters) parameters[key] = value;
  nlohmann::json variables = nlohmann::json::object();
  for (const Variable& v : layer.variables) variables[v.name] = variable_json(v);
  return {{"name", layer.name},
          {"type", name_of(layer.kind)},
          {"inbound", layer.inbound},
          {"parameters", std::move(parameters)},
          {"variables", std::move(variables)}};
}

}  // namespace

nlohmann::json dump_json(const Model& model, const Shape& input_shape, const Shape& output_shape) {
  nlohmann::json layers = nlohmann::json::array();
  for (const Layer& layer : model.layers) layers.push_back(layer_json(layer));
  return {{"version", model.version ? nlohmann::json(*model.version) : nlohmann::json(nullptr)},
          {"ip_version", ip_version_name(model.ip_version())},
          {"input_shape", shape_json(input_shape)},
          {"output_shape", shape_json(output_shape)},
          {"layers", std::move(layers)}};
}

}  // namespace akida
