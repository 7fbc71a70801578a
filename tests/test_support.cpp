#include "test_support.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <system_error>

#include <unistd.h>

namespace test_support {

std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("CNN2SNN_FIXTURES")) return env;
  return std::filesystem::path(CNN2SNN_SOURCE_DIR) / ".." / "shared" / "fixtures";
}

std::filesystem::path fixture(const std::string& relative) { return fixtures_dir() / relative; }

std::vector<std::filesystem::path> fixtures_with_extension(const std::string& subdir,
                                                           const std::string& extension) {
  std::vector<std::filesystem::path> files;
  const auto dir = fixtures_dir() / subdir;
  if (!std::filesystem::is_directory(dir)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == extension)
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

namespace {
// Removes this process's temporary directories when it exits.
struct TempDirs {
  std::vector<std::filesystem::path> made;
  ~TempDirs() {
    std::error_code ignored;
    for (const auto& dir : made) std::filesystem::remove_all(dir, ignored);
  }
};
}  // namespace

std::filesystem::path temp_dir(const std::string& name) {
  // ctest runs each test in its own process, several at once: the process id keeps two tests
  // of one suite from deleting each other's files.
  static TempDirs dirs;
  auto dir = std::filesystem::temp_directory_path() /
             ("cnn2snn_test_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  dirs.made.push_back(dir);
  return dir;
}

std::vector<uint8_t> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::filesystem::path bin(const std::string& name) {
  return std::filesystem::path(CNN2SNN_BIN_DIR) / name;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace test_support
