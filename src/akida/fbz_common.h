// Checks shared by the .fbz reader and writer (internal).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "akida/model.h"

namespace akida::fbz {

// "[16, 3, 3, 3]".
std::string shape_string(const std::vector<uint32_t>& shape);

// Why `variable`'s data cannot hold its shape and dtype ("data has 10 bytes, shape [3, 4] of
// int32 needs 48"), or nullopt when it can. Safe for shapes whose product overflows size_t.
std::optional<std::string> data_size_problem(const std::vector<uint32_t>& shape, DType dtype,
                                             size_t data_bytes);
inline std::optional<std::string> data_size_problem(const Variable& variable) {
  return data_size_problem(variable.shape, variable.dtype, variable.data.size());
}

// The flag Variable.f4 written by akida 2.11+: 1, except on the 1-byte (int8/int4/bit1)
// variables of Akida 1.0 layers, where BrainChip's files leave it unset. Its meaning is unknown;
// the reader ignores it, the writer reproduces it.
uint8_t variable_flag(LayerKind kind, DType dtype);

}  // namespace akida::fbz
