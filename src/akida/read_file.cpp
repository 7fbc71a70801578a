#include "akida/read_file.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "akida/errors.h"

namespace akida {

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes,
                               const std::string& what) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) throw FormatError(path + ": no such file");
  if (!std::filesystem::is_regular_file(status)) throw FormatError(path + ": not a regular file");
  const auto size = std::filesystem::file_size(path, error);
  if (error) throw FormatError(path + ": cannot read its size: " + error.message());
  if (size > max_bytes)
    throw FormatError(path + ": file of " + std::to_string(size) +
                      " bytes is larger than the " + std::to_string(max_bytes) +
                      "-byte limit for " + what);
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (!in || !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw FormatError(path + ": cannot read the file");
  return bytes;
}

}  // namespace akida
