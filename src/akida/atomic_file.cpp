#include "akida/atomic_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "akida/errors.h"

namespace akida {

void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  // Same directory as the target, so that the rename cannot cross file systems.
  std::string temp_name = ".";
  temp_name += target.filename().string();
  // The process id and a random number: no other writer, process or thread, picks it.
  temp_name += ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}());
  const fs::path temp = target.parent_path() / temp_name;
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot create a temporary file beside it");
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      throw Error(path + ": write failed");
    }
  }
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw Error(path + ": cannot write: " + ec.message());
  }
}

}  // namespace akida
