// Reading and writing NumPy .npy files (the format NumPy documents in numpy.lib.format):
// magic "\x93NUMPY", a major/minor version byte pair, a little-endian header length (2 bytes in
// version 1, 4 bytes in versions 2 and 3), then an ASCII Python dict literal with the keys
// 'descr', 'fortran_order' and 'shape', padded with spaces and ended by '\n'; then the raw data.
//
// Only what Akida models consume and produce is supported: uint8, int8, int32 and float32
// little-endian, C order, any rank. Readers distrust their input: the header length is bounded,
// the shape product is checked for overflow and the data size must equal the rest of the file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "akida/engine.h"

namespace akida {

enum class NpyDType { UInt8, Int8, Int32, Float32 };

// "uint8", "int8", "int32", "float32".
const char* npy_dtype_name(NpyDType dtype);
// The NumPy descr string the writer emits: "|u1", "|i1", "<i4", "<f4".
const char* npy_descr(NpyDType dtype);
// Bytes per element.
size_t npy_dtype_size(NpyDType dtype);
// A shape as NumPy prints it: "(2, 3)", "(5,)", "()".
std::string npy_shape_text(const std::vector<int64_t>& shape);

// A C-ordered array: data holds element_count() * npy_dtype_size(dtype) little-endian bytes.
struct NpyArray {
  NpyDType dtype = NpyDType::UInt8;
  std::vector<int64_t> shape;  // empty for a 0-d array (one element)
  std::vector<uint8_t> data;

  size_t element_count() const;
  // Element i as an integer (integer dtypes) or a float (float32). Precondition: i in range.
  int64_t int_at(size_t i) const;
  float float_at(size_t i) const;

  bool operator==(const NpyArray&) const = default;
};

// Largest header the reader accepts (NumPy's own readers refuse headers over 10000 bytes by
// default; simple dtypes need under 200).
inline constexpr size_t kMaxNpyHeaderBytes = 65536;

// Largest .npy file read (4 GiB): inputs are batches of small samples.
inline constexpr uint64_t kMaxNpyFileBytes = uint64_t{1} << 32;

// Parses .npy bytes; `source` names them in error messages. Throws FormatError (bad magic,
// truncated, malformed header, size mismatch) or UnsupportedError (other dtypes, big-endian,
// fortran_order True, unknown version); every message starts with `source`.
NpyArray parse_npy(std::span<const uint8_t> bytes, const std::string& source);
// Reads a file; errors start with `path`.
NpyArray read_npy(const std::string& path);

// Version 1.0 bytes. Throws ShapeError when data's size disagrees with shape and dtype.
std::vector<uint8_t> to_npy_bytes(const NpyArray& array);
// Writes atomically (write_file_atomically, atomic_file.h). Throws Error naming `path`.
void write_npy(const NpyArray& array, const std::string& path);

// An integer array as a batch of samples of `sample` dims: shape (N, x, y, c), or (N, c) when
// the sample is 1x1xc (dense networks). Throws ShapeError naming `source`, the array's shape and
// the expected one; float32 arrays are refused (model inputs are integers).
Batch to_batch(const NpyArray& array, const Shape& sample, const std::string& source);
// (N, x, y, c) arrays of the batch's values: int32 / float32.
NpyArray to_npy(const Batch& batch);
NpyArray to_npy(const FloatBatch& batch);

}  // namespace akida
