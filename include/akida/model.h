// The Akida model: an ordered list of layers (topological order, as in .fbz files), each with a
// kind, integer parameters, typed variables and the names of its inbound layers.
//
// This is a plain value type: the .fbz reader builds it, the converter builds it, the writer,
// the summary, the JSON dump and the runtime read it. It owns all its data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "akida/layer_kind.h"

namespace akida {

// Variable element types, by their .fbz dtype code.
enum class DType : int32_t {
  Int32 = 0,
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  Bit1 = 6,  // 1-bit (0/1) weights of edge-learning layers, one value per byte
  Int4 = 7,  // 4-bit signed (-7..7), one value per byte
};

// The dtype with this code, if the code is known.
std::optional<DType> dtype_from_code(int32_t code);
// "int32", "float32", "uint8", "int8", "bit1", "int4".
const char* dtype_name(DType dtype);
// Bytes one element takes in a .fbz variable (4 for int32/float32, else 1).
size_t dtype_size(DType dtype);

struct Variable {
  std::string name;
  std::vector<uint32_t> shape;  // row-major, as stored in the file
  DType dtype = DType::Int8;
  std::vector<uint8_t> data;    // raw little-endian bytes, element_count() * dtype_size(dtype)

  size_t element_count() const;  // product of shape (1 for an empty shape)
  // Element i as an integer (any integer dtype) / as a float (float32, or an integer converted).
  // Preconditions: i < element_count(); data has the size the shape and dtype imply.
  int64_t int_at(size_t i) const;
  double float_at(size_t i) const;
  std::vector<int64_t> ints() const;
  // Every element of an integer dtype (all of them fit int32), read in one pass.
  std::vector<int32_t> ints32() const;
  std::vector<float> floats() const;

  bool operator==(const Variable&) const = default;
};

// Layer parameters as stored in .fbz files since akida 2.3.3: int32 values keyed by name, sorted
// by key. Keys whose value is 0 are kept (the files list them). `layer_type` is not in this map:
// it is Layer::kind.
using Parameters = std::map<std::string, int32_t>;

struct Layer {
  std::string name;
  LayerKind kind = LayerKind::InputData;
  Parameters parameters;
  std::vector<Variable> variables;   // sorted by name, as in the files
  std::vector<std::string> inbound;  // names of inbound layers; empty for the first layer

  // The parameter's value, or `fallback` when absent.
  int32_t param(const std::string& key, int32_t fallback = 0) const;
  bool has_param(const std::string& key) const { return parameters.count(key) != 0; }
  const Variable* find_variable(const std::string& name) const;
  // Throws ShapeError "layer 'NAME': missing variable 'VAR'" when absent.
  const Variable& variable(const std::string& name) const;

  bool operator==(const Layer&) const = default;
};

struct Model {
  // The akida version string the file carries ("2.17.0"); none in files older than about 2.3.
  std::optional<std::string> version;
  std::vector<Layer> layers;

  // The generation the layers belong to: v1 if any layer kind is a 1.0 kind, else v2.
  IpVersion ip_version() const;
  // Throws ShapeError naming the missing layer.
  const Layer& layer(const std::string& name) const;

  bool operator==(const Model&) const = default;
};

// "1.0" or "2.0".
const char* ip_version_name(IpVersion ip);

}  // namespace akida
