// Writing a file so that readers never see it half written.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace akida {

// Writes `bytes` to a temporary file beside `path` (same directory, so the rename cannot cross
// file systems), then renames it over `path`: an interrupted or failed write leaves the previous
// file, or none, never a partial one. Throws akida::Error naming `path`.
void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace akida
