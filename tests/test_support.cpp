#include "test_support.h"

#include <algorithm>
#include <cstdlib>

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

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("cnn2snn_test_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::filesystem::path bin(const std::string& name) {
  return std::filesystem::path(CNN2SNN_BIN_DIR) / name;
}

}  // namespace test_support
