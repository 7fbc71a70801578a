// One function per reader, each what its libFuzzer target (fuzz/fuzz_FORMAT.cpp) runs on one
// input: the fuzzers call them, and so does tests/regressions_test.cpp on every input a fuzzer
// once found (tests/regressions/FORMAT/), so that the normal suite replays them.
#pragma once

#include <cstdint>
#include <span>

namespace fuzz {

// .fbz bytes: the Snappy container, the FlatBuffer, the typed parameters of pre-2.3 files ->
// akida::Model -> exercise_model() (summary, JSON dump, round trip, both kernels on one sample).
void fbz_input(std::span<const uint8_t> bytes);
// Keras .h5 bytes as an HDF5 file image: the legacy CNN2SNN reader (Akida 1.0) or the QuantizeML
// reader (its 2.0 or 1.0 block patterns, by the input's hash) -> exercise_graph() (checks,
// converter, verify).
void keras_h5_input(std::span<const uint8_t> image);
// QuantizeML ONNX bytes: protobuf, graph building -> exercise_graph() for Akida 2.0.
void onnx_input(std::span<const uint8_t> bytes);
// .npy bytes: parse_npy -> the writer's bytes parse back equal; input batches as `akida run`
// makes them.
void npy_input(std::span<const uint8_t> bytes);

}  // namespace fuzz
