// Every input a fuzzer found a problem with is kept in tests/regressions/FORMAT/ (FORMAT: fbz,
// keras_h5, onnx, npy; README.md there says what each one broke and which commit fixed it).
// Here each is read again by its reader, which must refuse it with the message its NAME.expect
// file gives (or load it, when NAME.expect says "loads"), and the fuzz target's whole run
// (fuzz/fuzz_targets.h: reading, converting, running) must complete. Under
// `scripts/test.sh --sanitize` the same run also catches memory errors and undefined behaviour.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "akida/npy.h"
#include "cnn2snn/keras_reader.h"
#include "cnn2snn/legacy_reader.h"
#include "cnn2snn/onnx_reader.h"
#include "fuzz_targets.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using Reader = std::function<void(std::span<const uint8_t>, const std::string&)>;

struct Format {
  Reader read;                                      // the reader the tools use
  std::function<void(std::span<const uint8_t>)> fuzz;  // the fuzz target's whole run
};

const std::map<std::string, Format>& formats() {
  static const std::map<std::string, Format> all = {
      {"fbz", {[](auto bytes, const auto& source) { akida::read_fbz_bytes(bytes, source); },
               fuzz::fbz_input}},
      {"keras_h5",
       {[](auto image, const auto& source) {
          if (cnn2snn::is_legacy_cnn2snn_h5(image, source))
            cnn2snn::load_legacy_cnn2snn_h5(image, source);
          else
            cnn2snn::load_keras_h5(image, source);
        },
        fuzz::keras_h5_input}},
      {"onnx", {[](auto bytes, const auto& source) { cnn2snn::load_onnx(bytes, source); },
                fuzz::onnx_input}},
      {"npy", {[](auto bytes, const auto& source) { akida::parse_npy(bytes, source); },
               fuzz::npy_input}},
  };
  return all;
}

std::string first_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The parts of the message an input may give: one per line. An input that trips libhdf5 gives
// one message when a sanitizer catches the library's overflow in the child (a crash) and another
// when an uninstrumented library reads past the buffer unnoticed.
std::vector<std::string> expected_parts(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> parts;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) parts.push_back(line);
  return parts;
}

fs::path regressions_dir() { return fs::path(CNN2SNN_SOURCE_DIR) / "tests" / "regressions"; }

// Every kept input of `format`, sorted.
std::vector<fs::path> inputs_of(const std::string& format) {
  std::vector<fs::path> inputs;
  const fs::path dir = regressions_dir() / format;
  if (!fs::is_directory(dir)) return inputs;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() != ".expect")
      inputs.push_back(entry.path());
  std::sort(inputs.begin(), inputs.end());
  return inputs;
}

TEST(Regressions, EveryKeptInputHasAnExpectationAndAKnownFormat) {
  for (const auto& entry : fs::directory_iterator(regressions_dir())) {
    if (!entry.is_directory()) continue;
    const std::string format = entry.path().filename();
    EXPECT_TRUE(formats().count(format)) << "unknown format folder " << entry.path();
    for (const fs::path& input : inputs_of(format)) {
      const fs::path expect = fs::path(input.string() + ".expect");
      EXPECT_TRUE(fs::exists(expect)) << input << " has no " << expect.filename();
      if (fs::exists(expect)) {
        EXPECT_FALSE(first_line(expect).empty()) << expect;
      }
    }
  }
}

TEST(Regressions, ReadersRefuseEachKeptInputAsExpected) {
  size_t count = 0;
  for (const auto& [format, reader] : formats())
    for (const fs::path& input : inputs_of(format)) {
      SCOPED_TRACE(input.string());
      const std::vector<std::string> expected = expected_parts(input.string() + ".expect");
      const Bytes bytes = test_support::file_bytes(input);
      const std::string source = format + "/" + input.filename().string();
      ++count;
      try {
        reader.read(bytes, source);
        EXPECT_EQ(expected, std::vector<std::string>{"loads"}) << "the input loads";
      } catch (const akida::Error& e) {
        const std::string message = e.what();
        EXPECT_EQ(message.rfind(source + ": ", 0), 0u) << "the error does not name the input: "
                                                       << message;
        EXPECT_TRUE(std::any_of(expected.begin(), expected.end(), [&](const std::string& part) {
          return message.find(part) != std::string::npos;
        })) << "expected a line of the .expect file in: " << message;
      }
    }
  EXPECT_GT(count, 0u) << "no kept input under " << regressions_dir();
}

// A crash, a sanitizer report or a broken invariant (fuzz/fuzz_support.h) ends this test's
// process: ctest reports it failed.
TEST(Regressions, FuzzTargetsCompleteOnEveryKeptInput) {
  for (const auto& [format, reader] : formats())
    for (const fs::path& input : inputs_of(format)) {
      SCOPED_TRACE(input.string());
      reader.fuzz(test_support::file_bytes(input));
    }
}

}  // namespace
