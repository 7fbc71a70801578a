// libFuzzer target: QuantizeML ONNX models, through fuzz::onnx_input (fuzz_targets.h).
#include <cstddef>
#include <cstdint>

#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::onnx_input({data, size});
  return 0;
}
