// Reading and writing Akida .fbz model files (see docs/fbz-format.md and schema/akida_model.fbs).
//
// A .fbz file is one raw Snappy block, padded to Snappy's maximum compressed length, holding a
// FlatBuffer without file identifier. Every generation seen in the wild is read (pre-2.3 typed
// parameters, 2.3.3 and later key/value parameters); the writer emits the current layout.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "akida/model.h"

namespace akida {

// Reads a model from a .fbz file. Throws FormatError (corrupt, truncated, hostile content) or
// UnsupportedError (a valid file with an unknown layer type or dtype); messages start with `path`.
// Never allocates more than a small multiple of the file's declared, bounded payload size.
Model read_fbz(const std::string& path);
// The same from bytes in memory; `source` names them in error messages.
Model read_fbz_bytes(std::span<const uint8_t> bytes, const std::string& source);

// Serializes in the current layout (version string, key/value parameters, padded Snappy block).
// Throws ShapeError when a variable's data size disagrees with its shape and dtype.
std::vector<uint8_t> to_fbz_bytes(const Model& model);
// Writes atomically (write_file_atomically, atomic_file.h). Throws Error naming `path`.
void write_fbz(const Model& model, const std::string& path);

// The version string the writer records in files it makes.
inline constexpr const char* kWriterVersion = "2.17.0";

}  // namespace akida
