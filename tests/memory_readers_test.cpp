// The in-memory entry points of the Keras and ONNX readers (the fuzzers' way in) read exactly
// what the path-based ones read, and name their `source` in errors as the path-based ones name
// the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "akida/errors.h"
#include "cnn2snn/converter.h"
#include "cnn2snn/converter_v1.h"
#include "cnn2snn/keras/hdf5_file.h"
#include "cnn2snn/keras_reader.h"
#include "cnn2snn/legacy_reader.h"
#include "cnn2snn/onnx_reader.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

fs::path example(const std::string& name) { return fs::path(CNN2SNN_SOURCE_DIR) / "examples" / name; }

TEST(MemoryReaders, KerasImageReadsWhatThePathReads) {
  const fs::path path = example("ds_cnn_kws_i8_w8_a8.h5");
  const Bytes image = test_support::file_bytes(path);
  EXPECT_FALSE(cnn2snn::is_legacy_cnn2snn_h5(image, path.string()));
  const akida::Model from_path = cnn2snn::convert_to_akida_v2(cnn2snn::load_keras_h5(path.string()));
  const akida::Model from_image =
      cnn2snn::convert_to_akida_v2(cnn2snn::load_keras_h5(image, path.string()));
  EXPECT_EQ(from_image, from_path);
  EXPECT_GT(from_image.layers.size(), 5u);
}

TEST(MemoryReaders, LegacyKerasImageReadsWhatThePathReads) {
  const fs::path path = example("ds_cnn_kws_iq8_wq4_aq4_laq1.h5");
  const Bytes image = test_support::file_bytes(path);
  ASSERT_TRUE(cnn2snn::is_legacy_cnn2snn_h5(image, path.string()));
  const akida::Model from_path =
      cnn2snn::convert_to_akida_v1(cnn2snn::load_legacy_cnn2snn_h5(path.string()));
  const akida::Model from_image =
      cnn2snn::convert_to_akida_v1(cnn2snn::load_legacy_cnn2snn_h5(image, path.string()));
  EXPECT_EQ(from_image, from_path);
}

TEST(MemoryReaders, OnnxBytesReadWhatThePathReads) {
  const fs::path path = test_support::fixture("onnx/tennst_int8_quantizeml.onnx");
  SKIP_WITHOUT_FIXTURE(path);
  const akida::Model from_path = cnn2snn::convert_to_akida_v2(cnn2snn::load_onnx(path.string()));
  const akida::Model from_bytes =
      cnn2snn::convert_to_akida_v2(cnn2snn::load_onnx(test_support::file_bytes(path), path.string()));
  EXPECT_EQ(from_bytes, from_path);
}

TEST(MemoryReaders, ErrorsNameTheSource) {
  const Bytes garbage(600, 0x42);
  try {
    cnn2snn::load_keras_h5(garbage, "memory.h5");
    FAIL() << "garbage loaded as Keras";
  } catch (const akida::FormatError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("memory.h5: not an HDF5 file", 0), 0u) << e.what();
  }
  Bytes truncated = test_support::file_bytes(example("ds_cnn_kws_i8_w8_a8.h5"));
  truncated.resize(3000);
  try {
    cnn2snn::load_keras_h5(truncated, "cut.h5");
    FAIL() << "a truncated image loaded";
  } catch (const akida::FormatError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("cut.h5: ", 0), 0u) << e.what();
  }
  try {
    cnn2snn::load_onnx(garbage, "memory.onnx");
    FAIL() << "garbage loaded as ONNX";
  } catch (const akida::FormatError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("memory.onnx: not an ONNX model", 0), 0u) << e.what();
  }
}

// HDF5's core driver takes two images opened under one name for the same file: each must get
// its own name, or the second would read the first's content.
TEST(MemoryReaders, TwoImagesOpenAtOnceStaySeparate) {
  const Bytes first = test_support::file_bytes(example("ds_cnn_kws_i8_w8_a8.h5"));
  const Bytes second = test_support::file_bytes(example("ds_cnn_kws_iq8_wq4_aq4_laq1.h5"));
  const cnn2snn::keras::Hdf5File a(first, "a.h5");
  const cnn2snn::keras::Hdf5File b(second, "b.h5");
  const auto config_a = a.string_attribute("/", "model_config");
  const auto config_b = b.string_attribute("/", "model_config");
  ASSERT_TRUE(config_a && config_b);
  EXPECT_NE(*config_a, *config_b);
  EXPECT_EQ(config_a->find("Quantizer\""), std::string::npos) << "a.h5 is not the legacy model";
  EXPECT_NE(config_b->find("MaxPerAxisQuantizer"), std::string::npos) << config_b->substr(0, 200);
}

}  // namespace
