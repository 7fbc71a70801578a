#include "akida/fbz_common.h"

namespace akida::fbz {

std::string shape_string(const std::vector<uint32_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::optional<std::string> data_size_problem(const std::vector<uint32_t>& shape, DType dtype,
                                             size_t data_bytes) {
  const std::string described = "shape " + shape_string(shape) + " of " + dtype_name(dtype);
  size_t needed = dtype_size(dtype);
  for (uint32_t dim : shape)
    if (__builtin_mul_overflow(needed, size_t{dim}, &needed))
      return described + " has more elements than memory can hold";
  if (needed == data_bytes) return std::nullopt;
  return "data has " + std::to_string(data_bytes) + " bytes, " + described +
         " needs " + std::to_string(needed);
}

uint8_t variable_flag(LayerKind kind, DType dtype) {
  return (info(kind).ip == IpVersion::v1 && dtype_size(dtype) == 1) ? 0 : 1;
}

}  // namespace akida::fbz
