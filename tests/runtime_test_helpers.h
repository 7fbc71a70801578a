// Builders of tiny hand-made Akida models for the shape and runtime tests.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "akida/engine.h"
#include "akida/model.h"

namespace runtime_test {

// A variable of integer dtype (int8, uint8 or int32) holding `values`, little-endian.
inline akida::Variable int_var(const std::string& name, std::vector<uint32_t> shape,
                               akida::DType dtype, const std::vector<int64_t>& values) {
  akida::Variable v{name, std::move(shape), dtype, {}};
  for (int64_t value : values) {
    if (dtype == akida::DType::Int32) {
      const int32_t word = static_cast<int32_t>(value);
      uint8_t bytes[4];
      std::memcpy(bytes, &word, 4);
      v.data.insert(v.data.end(), bytes, bytes + 4);
    } else {
      v.data.push_back(static_cast<uint8_t>(value));
    }
  }
  return v;
}
inline akida::Variable i8(const std::string& name, std::vector<uint32_t> shape,
                          const std::vector<int64_t>& values) {
  return int_var(name, std::move(shape), akida::DType::Int8, values);
}
inline akida::Variable u8(const std::string& name, std::vector<uint32_t> shape,
                          const std::vector<int64_t>& values) {
  return int_var(name, std::move(shape), akida::DType::UInt8, values);
}
inline akida::Variable i32(const std::string& name, std::vector<uint32_t> shape,
                           const std::vector<int64_t>& values) {
  return int_var(name, std::move(shape), akida::DType::Int32, values);
}
inline akida::Variable f32(const std::string& name, std::vector<uint32_t> shape,
                           const std::vector<float>& values) {
  akida::Variable v{name, std::move(shape), akida::DType::Float32, {}};
  v.data.resize(values.size() * 4);
  std::memcpy(v.data.data(), values.data(), v.data.size());
  return v;
}

inline akida::Layer layer(const std::string& name, akida::LayerKind kind,
                          akida::Parameters parameters, std::vector<akida::Variable> variables = {},
                          std::vector<std::string> inbound = {}) {
  return akida::Layer{name, kind, std::move(parameters), std::move(variables), std::move(inbound)};
}

// Raw-accumulator output stage: 32-bit buffers, 32-bit output, no activation.
inline akida::Parameters raw_output_params() {
  return {{"buffer_bits", 32}, {"post_op_buffer_bits", 32}, {"output_bits", 32}};
}

inline akida::Parameters merged(akida::Parameters a, const akida::Parameters& b) {
  for (const auto& [key, value] : b) a[key] = value;
  return a;
}

// Runs one layer's reference kernel on one sample.
inline std::vector<int32_t> run_layer(const akida::Layer& l, const akida::Shape& in,
                                      const std::vector<int32_t>& input) {
  auto kernel = akida::make_reference_kernel(l, {in});
  std::vector<int32_t> out;
  kernel->eval({&input}, out);
  return out;
}

}  // namespace runtime_test
