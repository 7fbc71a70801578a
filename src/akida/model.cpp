#include "akida/model.h"

#include <algorithm>
#include <cstring>

#include "akida/errors.h"

namespace akida {

std::optional<DType> dtype_from_code(int32_t code) {
  switch (code) {
    case 0: return DType::Int32;
    case 1: return DType::Float32;
    case 2: return DType::UInt8;
    case 3: return DType::Int8;
    case 6: return DType::Bit1;
    case 7: return DType::Int4;
    default: return std::nullopt;
  }
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Int32: return "int32";
    case DType::Float32: return "float32";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
    case DType::Bit1: return "bit1";
    case DType::Int4: return "int4";
  }
  return "unknown";
}

size_t dtype_size(DType dtype) {
  return (dtype == DType::Int32 || dtype == DType::Float32) ? 4 : 1;
}

size_t Variable::element_count() const {
  size_t count = 1;
  for (uint32_t d : shape) count *= d;
  return count;
}

int64_t Variable::int_at(size_t i) const {
  switch (dtype) {
    case DType::Int32: {
      int32_t v;
      std::memcpy(&v, data.data() + 4 * i, 4);  // files are little-endian, as is every target
      return v;
    }
    case DType::Float32: return static_cast<int64_t>(float_at(i));
    case DType::UInt8:
    case DType::Bit1: return data[i];
    case DType::Int8:
    case DType::Int4: return static_cast<int8_t>(data[i]);
  }
  return 0;
}

double Variable::float_at(size_t i) const {
  if (dtype != DType::Float32) return static_cast<double>(int_at(i));
  float v;
  std::memcpy(&v, data.data() + 4 * i, 4);
  return v;
}

std::vector<int64_t> Variable::ints() const {
  std::vector<int64_t> out(element_count());
  for (size_t i = 0; i < out.size(); ++i) out[i] = int_at(i);
  return out;
}

std::vector<int32_t> Variable::ints32() const {
  std::vector<int32_t> out(element_count());
  switch (dtype) {
    case DType::Int32: std::memcpy(out.data(), data.data(), out.size() * 4); break;
    case DType::UInt8:
    case DType::Bit1: std::copy_n(data.begin(), out.size(), out.begin()); break;
    case DType::Int8:
    case DType::Int4:
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int8_t>(data[i]);
      break;
    case DType::Float32:
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int32_t>(int_at(i));
      break;
  }
  return out;
}

std::vector<float> Variable::floats() const {
  std::vector<float> out(element_count());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(float_at(i));
  return out;
}

int32_t Layer::param(const std::string& key, int32_t fallback) const {
  auto it = parameters.find(key);
  return it == parameters.end() ? fallback : it->second;
}

const Variable* Layer::find_variable(const std::string& var_name) const {
  for (const auto& v : variables)
    if (v.name == var_name) return &v;
  return nullptr;
}

const Variable& Layer::variable(const std::string& var_name) const {
  if (const Variable* v = find_variable(var_name)) return *v;
  throw ShapeError("layer '" + name + "': missing variable '" + var_name + "'");
}

IpVersion Model::ip_version() const {
  for (const auto& layer : layers)
    if (info(layer.kind).ip == IpVersion::v1) return IpVersion::v1;
  return IpVersion::v2;
}

const Layer& Model::layer(const std::string& layer_name) const {
  for (const auto& l : layers)
    if (l.name == layer_name) return l;
  throw ShapeError("no layer named '" + layer_name + "'");
}

const char* ip_version_name(IpVersion ip) { return ip == IpVersion::v1 ? "1.0" : "2.0"; }

}  // namespace akida
