// Reading a whole input file (.fbz, .npy, .onnx) with its size checked before anything is
// allocated from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace akida {

// The bytes of the regular file at `path`. Throws FormatError "PATH: no such file", "PATH: not a
// regular file", "PATH: cannot read ..." and, before allocating, "PATH: file of N bytes is
// larger than the M-byte limit for WHAT" when the file holds more than `max_bytes`.
std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes,
                               const std::string& what);

}  // namespace akida
