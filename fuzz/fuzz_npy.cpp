// libFuzzer target: .npy arrays, through fuzz::npy_input (fuzz_targets.h).
#include <cstddef>
#include <cstdint>

#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::npy_input({data, size});
  return 0;
}
