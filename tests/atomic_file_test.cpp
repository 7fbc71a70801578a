// write_file_atomically: the target holds the old bytes or the new ones, never a part, and no
// temporary file stays behind after a success or a failure. (tests/cli/atomic_write.sh kills a
// real convert midway.)
#include "akida/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "akida/errors.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AtomicFile, WritesANewFileWithNothingElseBesideIt) {
  const fs::path dir = test_support::temp_dir("atomic_new");
  const Bytes bytes = {1, 2, 3, 0, 255};
  akida::write_file_atomically((dir / "out.bin").string(), bytes);
  EXPECT_EQ(test_support::file_bytes(dir / "out.bin"), bytes);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, ReplacesAnExistingFileKeepingItsPermissions) {
  const fs::path dir = test_support::temp_dir("atomic_replace");
  const fs::path target = dir / "out.bin";
  akida::write_file_atomically(target.string(), Bytes(100, 7));
  ASSERT_EQ(::chmod(target.c_str(), 0640), 0);
  const Bytes shorter = {9, 9};
  akida::write_file_atomically(target.string(), shorter);
  EXPECT_EQ(test_support::file_bytes(target), shorter);
  struct stat info {};
  ASSERT_EQ(::stat(target.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0640u);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, WritesAnEmptyFile) {
  const fs::path dir = test_support::temp_dir("atomic_empty");
  akida::write_file_atomically((dir / "empty").string(), {});
  EXPECT_TRUE(fs::is_regular_file(dir / "empty"));
  EXPECT_EQ(fs::file_size(dir / "empty"), 0u);
}

TEST(AtomicFile, AFailedRenameLeavesTheTargetAndNoTemporaryFile) {
  // The target is a non-empty directory: the temporary file is written, the rename fails.
  const fs::path dir = test_support::temp_dir("atomic_rename_fails");
  const fs::path target = dir / "model.fbz";
  fs::create_directories(target / "inside");
  try {
    akida::write_file_atomically(target.string(), Bytes{1, 2, 3});
    FAIL() << "writing over a directory succeeded";
  } catch (const akida::Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(target.string() + ": cannot replace the file", 0), 0u) << message;
  }
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  EXPECT_EQ(entries(dir), std::vector<std::string>{"model.fbz"});
}

TEST(AtomicFile, AMissingFolderIsAnErrorNamingThePath) {
  const fs::path dir = test_support::temp_dir("atomic_no_folder");
  const fs::path target = dir / "absent" / "out.npy";
  try {
    akida::write_file_atomically(target.string(), Bytes{1});
    FAIL() << "writing into a missing folder succeeded";
  } catch (const akida::Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(target.string() + ": cannot create a temporary file beside it", 0), 0u)
        << message;
  }
  EXPECT_TRUE(entries(dir).empty());
}

TEST(AtomicFile, ARelativePathWritesInTheWorkingDirectory) {
  const fs::path dir = test_support::temp_dir("atomic_relative");
  const fs::path previous = fs::current_path();
  fs::current_path(dir);
  akida::write_file_atomically("plain.bin", Bytes{4, 5});
  fs::current_path(previous);
  EXPECT_EQ(test_support::file_bytes(dir / "plain.bin"), (Bytes{4, 5}));
  EXPECT_EQ(entries(dir), std::vector<std::string>{"plain.bin"});
}

}  // namespace
