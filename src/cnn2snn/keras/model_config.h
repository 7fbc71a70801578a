// The Keras model graph, parsed from the `model_config` JSON of a legacy `.h5` file
// (docs/quantizeml-h5.md §2): Functional or Sequential, one inbound node per layer.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cnn2snn::keras {

struct KerasLayer {
  std::string class_name;             // "Custom>" (the registration package) stripped
  std::string name;
  nlohmann::json config;              // the layer's "config" object
  std::vector<std::string> inbound;   // inbound layer names, in call order
  std::vector<std::string> outbound;  // consumers, filled from the inbound lists
};

struct KerasModel {
  std::vector<KerasLayer> layers;     // model.layers order (topological)
  std::string input_layer, output_layer;
  std::map<std::string, size_t> index;

  const KerasLayer& layer(const std::string& name) const { return layers.at(index.at(name)); }
};

// Parses `json_text`. Throws akida::FormatError (bad JSON, missing keys) or
// akida::UnsupportedError (several inputs/outputs, shared layers), prefixed with `source`.
KerasModel parse_model_config(const std::string& json_text, const std::string& source);

}  // namespace cnn2snn::keras
