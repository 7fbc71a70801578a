// The isolation of libhdf5 in a child process (src/cnn2snn/keras/hdf5_child.h): a crash or a
// hang in the child becomes one akida::FormatError naming the file and what was read, and no
// process is left behind (the child is reaped: waitpid finds no such child any more).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "akida/errors.h"
#include "cnn2snn/keras/hdf5_child.h"
#include "cnn2snn/keras/hdf5_direct.h"
#include "cnn2snn/keras/hdf5_file.h"
#include "cnn2snn/keras_reader.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using cnn2snn::keras::DirectHdf5File;
using cnn2snn::keras::Hdf5Child;
using cnn2snn::keras::Hdf5File;

fs::path source_file(const std::string& relative) { return fs::path(CNN2SNN_SOURCE_DIR) / relative; }

// True when `pid` is no child of this process any more (reaped), false while it is one.
bool reaped(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) < 0 && errno == ECHILD;
}

TEST(Hdf5Child, ReadsInAChildThatIsReapedWithTheFile) {
  pid_t pid = -1;
  {
    const Hdf5File file(source_file("examples/ds_cnn_kws_i8_w8_a8.h5").string());
    pid = file.child_pid();
    ASSERT_GT(pid, 0);
    EXPECT_NE(pid, getpid());
    EXPECT_FALSE(reaped(pid)) << "the child is not running";
    EXPECT_TRUE(file.string_attribute("/", "model_config").has_value());
    EXPECT_FALSE(file.exists("/no/such/group"));
  }
  EXPECT_TRUE(reaped(pid)) << "the child outlived its Hdf5File";
}

// A kept input on which Debian's libhdf5 1.10.8 dereferences a wild pointer (fuzz_keras_h5).
TEST(Hdf5Child, ALibraryCrashIsAnErrorNamingTheFileAndTheObject) {
  const std::string path = source_file("tests/regressions/keras_h5/libhdf5_segv.h5").string();
  const std::string message = test_support::error_of([&] { cnn2snn::load_keras_h5(path); });
  EXPECT_EQ(message, path + ": the HDF5 library crashed (SIGSEGV) reading attribute "
                            "'model_config' of '/': the file is corrupt");
}

TEST(Hdf5Child, ACrashWhileOpeningIsAnError) {
  pid_t pid = -1;
  const std::string message = test_support::error_of([&] {
    const Hdf5Child child("crash.h5", 100, []() -> DirectHdf5File {
      std::raise(SIGABRT);
      std::_Exit(0);
    });
    pid = child.pid();
  });
  EXPECT_EQ(message, "crash.h5: the HDF5 library crashed (SIGABRT) opening the file: the file is "
                     "corrupt");
  EXPECT_EQ(pid, -1) << "the constructor returned";
}

TEST(Hdf5Child, AChildThatDoesNotAnswerIsStoppedAfterTheTimeLimit) {
  setenv("CNN2SNN_HDF5_TIMEOUT", "1", 1);
  const std::string message = test_support::error_of([&] {
    const Hdf5Child child("hang.h5", 100, []() -> DirectHdf5File {
      for (;;) pause();
    });
  });
  unsetenv("CNN2SNN_HDF5_TIMEOUT");
  EXPECT_EQ(message, "hang.h5: the HDF5 library did not answer within 1 s (CNN2SNN_HDF5_TIMEOUT) "
                     "opening the file: the file is corrupt");
}

// After a crash the file object stays usable for errors only: each later read repeats the error
// (the child is gone), none hangs or starts another process.
TEST(Hdf5Child, ReadsAfterACrashRepeatTheError) {
  const std::string path = source_file("tests/regressions/keras_h5/libhdf5_segv.h5").string();
  const Hdf5File file(path);
  const std::string first = test_support::error_of([&] { file.string_attribute("/", "model_config"); });
  EXPECT_NE(first.find("crashed (SIGSEGV)"), std::string::npos) << first;
  EXPECT_EQ(test_support::error_of([&] { file.exists("/model_weights"); }), first);
  EXPECT_EQ(file.child_pid(), -1);
}

// The fork server (Hdf5ForkServer) forks the children instead of this process: the same reads,
// the same errors. A child done with its file in step waits, idle, for the next file; one that
// crashed is gone, replaced by a new one; all are gone with the server.
bool gone(pid_t pid) { return kill(pid, 0) < 0 && errno == ESRCH; }

using cnn2snn::keras::Hdf5Answer;
using cnn2snn::keras::Hdf5ForkServer;
using cnn2snn::keras::Hdf5Request;
using cnn2snn::keras::Hdf5Target;

// Opens `bytes` through `server` and reads the model's config; returns the child's pid.
pid_t read_config_served(Hdf5ForkServer& server, const std::vector<uint8_t>& bytes) {
  Hdf5Child child("model.h5", bytes.size(), Hdf5Target{"", bytes}, &server);
  EXPECT_EQ(child.ask(Hdf5Request::kStringAttribute, "/", "model_config", "reading"),
            Hdf5Answer::kValue);
  const uint64_t size = child.read_u64();
  std::string config(size, '\0');
  child.read_bytes(config.data(), size);
  EXPECT_NE(config.find("\"layers\""), std::string::npos);
  return child.pid();
}

TEST(Hdf5ForkServer, ForksAChildThatServesFileAfterFileUntilTheServerEnds) {
  const std::string path = source_file("examples/ds_cnn_kws_i8_w8_a8.h5").string();
  const auto bytes = test_support::file_bytes(path);
  pid_t pid = -1;
  {
    Hdf5ForkServer server;
    {
      Hdf5Child child(path, bytes.size(), Hdf5Target{path, {}}, &server);
      pid = child.pid();
      ASSERT_GT(pid, 0);
      EXPECT_NE(pid, server.pid());
      EXPECT_TRUE(reaped(pid)) << "forked by this process, not by the server";
      EXPECT_FALSE(gone(pid)) << "the child is not running";
    }
    EXPECT_FALSE(gone(pid)) << "the idle child was stopped";
    for (int round = 0; round < 3; ++round)
      EXPECT_EQ(read_config_served(server, bytes), pid) << "the idle child was not reused";
    // A file libhdf5 refuses is an error answer: the child stays in step for the next file.
    const std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + 4096);
    const std::string message = test_support::error_of(
        [&] { Hdf5Child("cut.h5", truncated.size(), Hdf5Target{"", truncated}, &server); });
    EXPECT_NE(message.find("cut.h5"), std::string::npos) << message;
    EXPECT_EQ(read_config_served(server, bytes), pid);
  }
  EXPECT_TRUE(gone(pid)) << "the idle child outlived the server";
}

TEST(Hdf5ForkServer, ALibraryCrashInAServedChildIsTheSameErrorAndANewChildServesNext) {
  Hdf5ForkServer server;
  const std::string path = source_file("tests/regressions/keras_h5/libhdf5_segv.h5").string();
  const auto crashing = test_support::file_bytes(path);
  const auto model = test_support::file_bytes(source_file("examples/ds_cnn_kws_i8_w8_a8.h5"));
  const pid_t first = read_config_served(server, model);
  pid_t crashed = -1;
  {
    Hdf5Child child(path, crashing.size(), Hdf5Target{"", crashing}, &server);
    crashed = child.pid();
    EXPECT_EQ(crashed, first) << "the idle child was not reused";
    const std::string message = test_support::error_of([&] {
      child.ask(Hdf5Request::kStringAttribute, "/", "model_config",
                "reading attribute 'model_config' of '/'");
    });
    EXPECT_EQ(message, path + ": the HDF5 library crashed (SIGSEGV) reading attribute "
                              "'model_config' of '/': the file is corrupt");
    EXPECT_EQ(child.pid(), -1);
  }
  EXPECT_TRUE(gone(crashed));
  const pid_t next = read_config_served(server, model);
  EXPECT_NE(next, crashed);
  EXPECT_FALSE(gone(next));
}

}  // namespace
