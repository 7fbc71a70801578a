#include "fuzz_targets.h"

#include "akida/fbz.h"
#include "akida/npy.h"
#include <optional>

#include "cnn2snn/keras/file_readers.h"
#include "cnn2snn/onnx_reader.h"
#include "fuzz_support.h"

namespace fuzz {

void fbz_input(std::span<const uint8_t> bytes) {
  akida::Model model;
  if (refused([&] { model = akida::read_fbz_bytes(bytes, "fuzz.fbz"); })) return;
  exercise_model(model, seed_of(bytes));
}

void keras_h5_input(std::span<const uint8_t> image) {
  const uint64_t seed = seed_of(image);
  // One HDF5 open per input (opening costs more than most readings): the readers on the open
  // file (keras/file_readers.h), as load_keras_h5 and load_legacy_cnn2snn_h5 call them.
  std::optional<cnn2snn::keras::Hdf5File> file;
  if (refused([&] { file.emplace(image, "fuzz.h5"); })) return;
  bool legacy = false;
  if (refused([&] { legacy = cnn2snn::keras::is_legacy(*file); })) return;
  cnn2snn::QuantizedGraph graph;
  if (legacy) {
    if (!refused([&] { graph = cnn2snn::keras::load_legacy(*file, std::nullopt); }))
      exercise_graph(graph, /*v1=*/true, seed);
    return;
  }
  // QuantizeML models: the Akida 2.0 or the 1.0 block patterns, one or the other by the input's
  // hash, so that each execution reads the file once.
  const bool v1 = (seed >> 7) & 1;
  const auto patterns = v1 ? cnn2snn::keras::PatternSet::V1 : cnn2snn::keras::PatternSet::V2;
  if (!refused([&] { graph = cnn2snn::keras::load(*file, patterns); }))
    exercise_graph(graph, v1, seed);
}

void onnx_input(std::span<const uint8_t> bytes) {
  cnn2snn::QuantizedGraph graph;
  if (refused([&] { graph = cnn2snn::load_onnx(bytes, "fuzz.onnx"); })) return;
  exercise_graph(graph, /*v1=*/false, seed_of(bytes));
}

void npy_input(std::span<const uint8_t> bytes) {
  akida::NpyArray array;
  if (refused([&] { array = akida::parse_npy(bytes, "fuzz.npy"); })) return;
  akida::NpyArray back;
  if (refused([&] { back = akida::parse_npy(akida::to_npy_bytes(array), "round trip"); }))
    fail("the .npy reader refuses what the writer wrote");
  if (!(back == array)) fail("the .npy round trip changed the array");
  // The sample shape `akida run` would ask for: the array's own trailing dims.
  const auto& s = array.shape;
  if (s.size() == 4 && s[1] > 0 && s[2] > 0 && s[3] > 0)
    refused([&] { akida::to_batch(array, {s[1], s[2], s[3]}, "fuzz.npy"); });
  if (s.size() == 2 && s[1] > 0) refused([&] { akida::to_batch(array, {1, 1, s[1]}, "fuzz.npy"); });
}

}  // namespace fuzz
