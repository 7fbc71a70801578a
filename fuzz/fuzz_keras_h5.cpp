// libFuzzer target: Keras .h5 models (HDF5 file images), through fuzz::keras_h5_input (fuzz_targets.h).
#include <cstddef>
#include <cstdint>

#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::keras_h5_input({data, size});
  return 0;
}
