#include "common.h"

#include <optional>

namespace py = pybind11;

namespace cnn2snn_python {
namespace {

// The dtypes .npy inputs may have, by numpy's dtype.str; nullopt for the others.
std::optional<akida::NpyDType> npy_dtype(const py::array& array) {
  const auto descr = py::str(array.dtype().attr("str")).cast<std::string>();
  if (descr == "|u1") return akida::NpyDType::UInt8;
  if (descr == "|i1") return akida::NpyDType::Int8;
  if (descr == "<i4") return akida::NpyDType::Int32;
  if (descr == "<f4") return akida::NpyDType::Float32;
  return std::nullopt;
}

}  // namespace

akida::NpyArray npy_array(const py::object& input, const std::string& expected) {
  const py::array array = py::array::ensure(input, py::array::c_style);
  if (!array) throw akida::ShapeError(std::string(kInputSource) + ": not convertible to an array");
  const auto dtype = npy_dtype(array);
  if (!dtype)
    throw akida::ShapeError(std::string(kInputSource) + ": input dtype is " +
                            py::str(array.dtype()).cast<std::string>() + ", the model expects " +
                            expected);
  akida::NpyArray npy;
  npy.dtype = *dtype;
  npy.shape.assign(array.shape(), array.shape() + array.ndim());
  const auto* bytes = static_cast<const uint8_t*>(array.data());
  npy.data.assign(bytes, bytes + array.nbytes());
  return npy;
}

std::unique_lock<std::mutex> lock_without_gil(std::mutex& mutex) {
  std::unique_lock lock(mutex, std::defer_lock);
  py::gil_scoped_release release;
  lock.lock();
  return lock;
}

}  // namespace cnn2snn_python
