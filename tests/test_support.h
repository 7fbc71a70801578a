// Shared helpers for the test suite.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace test_support {

// ../shared/fixtures beside the project root (or $CNN2SNN_FIXTURES when set).
std::filesystem::path fixtures_dir();
// The path of a fixture file, e.g. fixture("fbz/tenn_v1.fbz"). Tests call GTEST_SKIP() with a
// clear message when it is absent (a user's clone without ../shared): see SKIP_WITHOUT_FIXTURE.
std::filesystem::path fixture(const std::string& relative);
// Every fixture file with this extension under fixtures_dir()/subdir, sorted.
std::vector<std::filesystem::path> fixtures_with_extension(const std::string& subdir,
                                                           const std::string& extension);
// A fresh, empty temporary directory for one test process, removed when the process exits.
std::filesystem::path temp_dir(const std::string& name);
// The bytes of a file (empty when it cannot be read).
std::vector<uint8_t> file_bytes(const std::filesystem::path& path);
// Built executables: bin("akida").
std::filesystem::path bin(const std::string& name);
// The message of the exception `f` throws ("" when it throws none).
std::string error_of(const std::function<void()>& f);

}  // namespace test_support

#define SKIP_WITHOUT_FIXTURE(path)                                                        \
  do {                                                                                    \
    if (!std::filesystem::exists(path))                                                   \
      GTEST_SKIP() << "fixture " << (path) << " is absent (../shared/fixtures not beside " \
                                              "the project)";                           \
  } while (0)
