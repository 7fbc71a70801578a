// Building the akida::Variables of converted layers, shared by the Akida 1.0 and 2.0 lowerings.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "akida/model.h"

namespace cnn2snn::convert_detail {

// One byte per value (int8, uint8, int4 and the like): the rules guarantee the values fit, and the
// cast keeps the two's-complement byte of negative values.
template <typename T>
akida::Variable byte_variable(const std::string& name, std::vector<uint32_t> shape,
                              akida::DType dtype, const std::vector<T>& values) {
  akida::Variable v{name, std::move(shape), dtype, {}};
  v.data.reserve(values.size());
  for (T value : values) v.data.push_back(static_cast<uint8_t>(value));
  return v;
}

// int32, 4 little-endian bytes per value.
inline akida::Variable int32_variable(const std::string& name, std::vector<uint32_t> shape,
                                      const std::vector<int64_t>& values) {
  akida::Variable v{name, std::move(shape), akida::DType::Int32, {}};
  v.data.resize(values.size() * 4);
  for (size_t i = 0; i < values.size(); ++i) {
    const auto word = static_cast<uint32_t>(static_cast<int32_t>(values[i]));
    for (size_t byte = 0; byte < 4; ++byte)
      v.data[i * 4 + byte] = static_cast<uint8_t>(word >> (8 * byte));
  }
  return v;
}

// float32 vector.
inline akida::Variable float_variable(const std::string& name, const std::vector<float>& values) {
  akida::Variable v{name, {static_cast<uint32_t>(values.size())}, akida::DType::Float32, {}};
  v.data.resize(values.size() * 4);
  std::memcpy(v.data.data(), values.data(), v.data.size());  // little-endian targets only
  return v;
}

// A (kx, ky, inner) kernel rotated 180 degrees on its two spatial axes: the Akida layers that
// compute a true convolution (2.0 Conv2D/DepthwiseConv2D, 1.0 Convolutional and the separable
// depthwise) store their kernels so.
inline std::vector<int64_t> rotated_kernel(const std::vector<int64_t>& w, int64_t kx, int64_t ky,
                                           int64_t inner) {
  std::vector<int64_t> out(w.size());
  for (int64_t i = 0; i < kx; ++i)
    for (int64_t j = 0; j < ky; ++j)
      std::copy_n(w.begin() + ((kx - 1 - i) * ky + (ky - 1 - j)) * inner, inner,
                  out.begin() + (i * ky + j) * inner);
  return out;
}

}  // namespace cnn2snn::convert_detail
