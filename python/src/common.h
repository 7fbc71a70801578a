// Helpers shared by the bindings of akida.Model (model.cpp) and cnn2snn.QuantizedModel
// (converter.cpp): numpy arrays in and out of the libraries' types, error context, locking.
#pragma once

#include <pybind11/numpy.h>

#include <algorithm>
#include <mutex>
#include <string>

#include "akida/errors.h"
#include "akida/npy.h"

namespace cnn2snn_python {

// What the errors about an input array name, where the CLIs name the .npy file.
inline constexpr const char* kInputSource = "inputs";

// Runs `step`, prefixing `context` to akida errors that do not already start with it (as the
// CLIs' with_file_context does).
template <typename Step>
auto with_context(const std::string& context, Step step) {
  try {
    return step();
  } catch (const akida::Error& e) {
    if (std::string(e.what()).rfind(context, 0) == 0) throw;
    akida::rethrow_with_context(e, context);
  }
}

// The array as the CLIs would have read it from a .npy file (C order). akida::ShapeError naming
// kInputSource when it is no array, or when its dtype is none of the .npy dtypes the readers
// take: "inputs: input dtype is D, the model expects <expected>".
akida::NpyArray npy_array(const pybind11::object& input, const std::string& expected);

// Locks `mutex` with the GIL released: a thread holding the lock re-acquires the GIL when its
// computation ends, so waiting for the lock while holding the GIL could deadlock.
std::unique_lock<std::mutex> lock_without_gil(std::mutex& mutex);

// (N, x, y, c) numpy array of a batch's values.
template <typename T>
pybind11::array_t<T> batch_array(const akida::BatchOf<T>& batch) {
  pybind11::array_t<T> array({batch.n, batch.shape.x, batch.shape.y, batch.shape.c});
  std::copy(batch.values.begin(), batch.values.end(), array.mutable_data());
  return array;
}

}  // namespace cnn2snn_python
