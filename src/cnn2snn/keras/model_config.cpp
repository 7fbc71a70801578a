#include "cnn2snn/keras/model_config.h"

#include "akida/errors.h"

namespace cnn2snn::keras {
namespace {

using nlohmann::json;

class ConfigParser {
 public:
  explicit ConfigParser(std::string source) : source_(std::move(source)) {}

  KerasModel parse(const std::string& text) {
    json root;
    try {
      root = json::parse(text);
    } catch (const json::exception& e) {
      fail("attribute 'model_config' is not valid JSON: " + std::string(e.what()));
    }
    if (!root.is_object() || !root.contains("config") || !root["config"].is_object())
      fail("attribute 'model_config': no 'config' object");
    const std::string kind = root.value("class_name", "");
    const json& config = root["config"];
    if (!config.contains("layers") || !config["layers"].is_array() || config["layers"].empty())
      fail("attribute 'model_config': no 'layers' list");
    KerasModel model;
    if (kind == "Functional" || kind == "Model") {
      parse_functional(config, model);
    } else if (kind == "Sequential") {
      parse_sequential(config, model);
    } else {
      unsupported("model class '" + kind + "': expected Functional or Sequential");
    }
    link(model);
    return model;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw akida::FormatError(source_ + ": " + message);
  }
  [[noreturn]] void unsupported(const std::string& message) const {
    throw akida::UnsupportedError(source_ + ": " + message);
  }

  KerasLayer base_layer(const json& entry, size_t position) const {
    if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string() ||
        !entry.contains("config") || !entry["config"].is_object())
      fail("model_config layer #" + std::to_string(position) +
           ": needs 'class_name' and 'config'");
    KerasLayer layer;
    layer.class_name = entry["class_name"].get<std::string>();
    if (const auto gt = layer.class_name.rfind('>'); gt != std::string::npos)
      layer.class_name = layer.class_name.substr(gt + 1);
    layer.config = entry["config"];
    const json& name = entry.contains("name") ? entry["name"] : layer.config.value("name", json());
    if (!name.is_string() || name.get<std::string>().empty())
      fail("model_config layer #" + std::to_string(position) + ": no 'name'");
    layer.name = name.get<std::string>();
    return layer;
  }

  // inbound_nodes = [[[name, node_index, tensor_index, kwargs], ...]]: one node per layer.
  std::vector<std::string> inbound_of(const json& entry, const std::string& name) const {
    const json nodes = entry.value("inbound_nodes", json::array());
    if (!nodes.is_array()) fail("layer '" + name + "': field 'inbound_nodes' is not a list");
    if (nodes.empty()) return {};
    if (nodes.size() > 1)
      unsupported("layer '" + name + "': field 'inbound_nodes': a layer called " +
                  std::to_string(nodes.size()) + " times (shared layer) is not supported");
    std::vector<std::string> names;
    for (const json& item : nodes[0]) {
      if (!item.is_array() || item.empty() || !item[0].is_string())
        fail("layer '" + name + "': field 'inbound_nodes': expected [name, node, tensor, {}]");
      if (item.size() > 2 && item[2].is_number() && item[2] != 0)
        unsupported("layer '" + name + "': inbound '" + item[0].get<std::string>() +
                    "': only single-output layers are supported");
      names.push_back(item[0].get<std::string>());
    }
    return names;
  }

  // input_layers / output_layers: [[name, 0, 0], ...] or, for one tensor, [name, 0, 0].
  std::string single_endpoint(const json& config, const std::string& key) const {
    const json list = config.value(key, json());
    std::vector<std::string> names;
    if (list.is_array() && !list.empty() && list[0].is_string()) {
      names.push_back(list[0].get<std::string>());
    } else if (list.is_array()) {
      for (const json& item : list)
        if (item.is_array() && !item.empty() && item[0].is_string())
          names.push_back(item[0].get<std::string>());
    }
    if (names.empty()) fail("attribute 'model_config': field '" + key + "' is missing or empty");
    if (names.size() > 1) {
      std::string all;
      for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
      unsupported("Model must have only one " +
                  std::string(key == "input_layers" ? "input" : "output") + " layer. Receives [" +
                  all + "]");
    }
    return names[0];
  }

  void parse_functional(const json& config, KerasModel& model) const {
    size_t position = 0;
    for (const json& entry : config["layers"]) {
      KerasLayer layer = base_layer(entry, position++);
      layer.inbound = inbound_of(entry, layer.name);
      model.layers.push_back(std::move(layer));
    }
    model.input_layer = single_endpoint(config, "input_layers");
    model.output_layer = single_endpoint(config, "output_layers");
  }

  // A chain; without a leading InputLayer the first layer's batch_input_shape defines the input.
  void parse_sequential(const json& config, KerasModel& model) const {
    size_t position = 0;
    for (const json& entry : config["layers"]) {
      KerasLayer layer = base_layer(entry, position++);
      if (model.layers.empty() && layer.class_name != "InputLayer") {
        if (!layer.config.contains("batch_input_shape"))
          fail("Sequential model: the first layer '" + layer.name +
               "' has no 'batch_input_shape' (the input shape must be fully defined)");
        KerasLayer input;
        input.class_name = "InputLayer";
        input.name = layer.name + "_input";
        input.config = {{"batch_input_shape", layer.config["batch_input_shape"]},
                        {"dtype", layer.config.value("dtype", "float32")}};
        model.layers.push_back(std::move(input));
      }
      if (!model.layers.empty()) layer.inbound = {model.layers.back().name};
      model.layers.push_back(std::move(layer));
    }
    model.input_layer = model.layers.front().name;
    model.output_layer = model.layers.back().name;
  }

  void link(KerasModel& model) const {
    for (size_t i = 0; i < model.layers.size(); ++i) {
      if (!model.index.emplace(model.layers[i].name, i).second)
        fail("model_config: two layers are named '" + model.layers[i].name + "'");
    }
    for (KerasLayer& layer : model.layers) {
      for (const std::string& in : layer.inbound) {
        const auto found = model.index.find(in);
        if (found == model.index.end() || found->second >= model.index.at(layer.name))
          fail("layer '" + layer.name + "': inbound layer '" + in +
               "' is unknown or does not come before it");
        model.layers[found->second].outbound.push_back(layer.name);
      }
    }
    for (const std::string* endpoint : {&model.input_layer, &model.output_layer})
      if (!model.index.count(*endpoint))
        fail("model_config: input/output layer '" + *endpoint + "' is not a layer of the model");
    if (model.layer(model.input_layer).class_name != "InputLayer")
      fail("model_config: input layer '" + model.input_layer + "' is not an InputLayer");
  }

  std::string source_;
};

}  // namespace

KerasModel parse_model_config(const std::string& json_text, const std::string& source) {
  try {
    return ConfigParser(source).parse(json_text);
  } catch (const json::exception& e) {
    // A field of an unexpected JSON type read with a typed default.
    throw akida::FormatError(source + ": attribute 'model_config': " + e.what());
  }
}

}  // namespace cnn2snn::keras
