// libFuzzer target: .fbz models, through fuzz::fbz_input (fuzz_targets.h).
#include <cstddef>
#include <cstdint>

#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::fbz_input({data, size});
  return 0;
}
