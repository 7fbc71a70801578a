// libFuzzer target: Keras .h5 models (HDF5 file images), through fuzz::keras_h5_input (fuzz_targets.h).
#include <cstddef>
#include <cstdint>

#include "cnn2snn/keras/hdf5_child.h"
#include "fuzz_targets.h"

// Before libFuzzer reads the corpus: libhdf5's child processes are forked by a server forked
// now, while this process is small, instead of by the fuzzer grown large (hdf5_child.h).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cnn2snn::keras::Hdf5ForkServer::start_for_process();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::keras_h5_input({data, size});
  return 0;
}
