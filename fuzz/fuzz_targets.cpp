#include "fuzz_targets.h"

#include "akida/fbz.h"
#include "akida/npy.h"
#include "cnn2snn/converter_v1.h"
#include "cnn2snn/keras_reader.h"
#include "cnn2snn/legacy_reader.h"
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
  bool legacy = false;
  if (refused([&] { legacy = cnn2snn::is_legacy_cnn2snn_h5(image, "fuzz.h5"); })) return;
  cnn2snn::QuantizedGraph graph;
  if (legacy) {
    if (!refused([&] { graph = cnn2snn::load_legacy_cnn2snn_h5(image, "fuzz.h5"); }))
      exercise_graph(graph, /*v1=*/true, seed);
    return;
  }
  if (!refused([&] { graph = cnn2snn::load_keras_h5(image, "fuzz.h5"); }))
    exercise_graph(graph, /*v1=*/false, seed);
  if (!refused([&] { graph = cnn2snn::load_keras_h5_v1(image, "fuzz.h5"); }))
    exercise_graph(graph, /*v1=*/true, seed);
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
