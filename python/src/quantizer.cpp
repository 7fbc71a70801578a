// Bindings of the quantizer (cnn2snn/quantizer.h) for the quantizeml package: float models in
// as serialized ONNX bytes, numpy arrays in and out, quantized models out as bytes (the Python
// side makes onnx.ModelProto objects of them).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>

#include "cnn2snn/quantizer.h"
#include "native.h"

namespace py = pybind11;

namespace cnn2snn_python {
namespace {

using FloatArrayIn = py::array_t<float, py::array::c_style | py::array::forcecast>;

cnn2snn::FloatArray to_float_array(const FloatArrayIn& array) {
  cnn2snn::FloatArray out;
  out.shape.assign(array.shape(), array.shape() + array.ndim());
  out.values.assign(array.data(), array.data() + array.size());
  return out;
}

py::array_t<float> to_numpy(const cnn2snn::FloatArray& array) {
  py::array_t<float> out(std::vector<py::ssize_t>(array.shape.begin(), array.shape.end()));
  std::memcpy(out.mutable_data(), array.values.data(), array.values.size() * sizeof(float));
  return out;
}

cnn2snn::QuantizationParams params(int input_weight_bits, int weight_bits, int activation_bits,
                                   bool per_tensor_activations, bool input_signed) {
  cnn2snn::QuantizationParams p;
  p.input_weight_bits = input_weight_bits;
  p.weight_bits = weight_bits;
  p.activation_bits = activation_bits;
  p.per_tensor_activations = per_tensor_activations;
  p.input_signed = input_signed;
  return p;
}

cnn2snn::CalibrationOptions calibration(std::optional<FloatArrayIn> samples, int64_t num_samples,
                                        int64_t batch_size, uint64_t seed, bool progress) {
  cnn2snn::CalibrationOptions o;
  if (samples) o.samples = to_float_array(*samples);
  o.num_samples = num_samples;
  o.batch_size = batch_size;
  o.seed = seed;
  o.progress = progress;
  return o;
}

// Runs `work(params, calibration options)` without the GIL (calibration takes long and runs
// threads that never call back into Python).
template <typename Work>
auto with_calibration(int input_weight_bits, int weight_bits, int activation_bits, bool per_tensor,
                      bool input_signed, std::optional<FloatArrayIn> samples, int64_t num_samples,
                      int64_t batch_size, uint64_t seed, bool progress, Work work) {
  const auto p = params(input_weight_bits, weight_bits, activation_bits, per_tensor, input_signed);
  const auto o = calibration(std::move(samples), num_samples, batch_size, seed, progress);
  py::gil_scoped_release release;
  return work(p, o);
}

py::dict ranges_to_dict(const cnn2snn::CalibrationRanges& ranges) {
  py::dict out;
  for (const auto& [name, r] : ranges)
    out[py::str(name)] = py::make_tuple(py::array_t<float>(r.lowest.size(), r.lowest.data()),
                                        py::array_t<float>(r.highest.size(), r.highest.data()));
  return out;
}

cnn2snn::CalibrationRanges ranges_from_dict(const py::dict& ranges) {
  cnn2snn::CalibrationRanges out;
  for (const auto& [name, value] : ranges) {
    const auto pair = value.cast<std::pair<FloatArrayIn, FloatArrayIn>>();
    cnn2snn::TensorRange r;
    r.lowest.assign(pair.first.data(), pair.first.data() + pair.first.size());
    r.highest.assign(pair.second.data(), pair.second.data() + pair.second.size());
    out[name.cast<std::string>()] = r;
  }
  return out;
}

}  // namespace

void bind_quantizer(py::module_& m) {
  py::class_<cnn2snn::FloatModel, std::shared_ptr<cnn2snn::FloatModel>>(m, "FloatModel")
      .def_static("load", [](const std::string& path) {
        return std::make_shared<cnn2snn::FloatModel>(cnn2snn::FloatModel::load(path));
      })
      .def_static("from_bytes", [](const py::bytes& bytes, const std::string& source) {
        return std::make_shared<cnn2snn::FloatModel>(
            cnn2snn::FloatModel::from_bytes(std::string(bytes), source));
      })
      .def_property_readonly("source", &cnn2snn::FloatModel::source)
      .def_property_readonly("input_dims", &cnn2snn::FloatModel::input_dims)
      .def_property_readonly("output_dims", &cnn2snn::FloatModel::output_dims)
      .def("run",
           [](const cnn2snn::FloatModel& self, const FloatArrayIn& inputs) {
             const cnn2snn::FloatArray in = to_float_array(inputs);
             cnn2snn::FloatArray out;
             {
               py::gil_scoped_release release;
               out = self.run(in);
             }
             return to_numpy(out);
           })
      .def("calibrate",
           [](const cnn2snn::FloatModel& self, int input_weight_bits, int weight_bits,
              int activation_bits, bool per_tensor, bool input_signed,
              std::optional<FloatArrayIn> samples, int64_t num_samples, int64_t batch_size,
              uint64_t seed, bool progress) {
             return ranges_to_dict(with_calibration(
                 input_weight_bits, weight_bits, activation_bits, per_tensor, input_signed,
                 std::move(samples), num_samples, batch_size, seed, progress,
                 [&](const auto& p, const auto& o) { return self.calibrate(p, o); }));
           })
      .def("quantize",
           [](const cnn2snn::FloatModel& self, int input_weight_bits, int weight_bits,
              int activation_bits, bool per_tensor, bool input_signed,
              std::optional<FloatArrayIn> samples, int64_t num_samples, int64_t batch_size,
              uint64_t seed, bool progress) {
             return py::bytes(with_calibration(
                 input_weight_bits, weight_bits, activation_bits, per_tensor, input_signed,
                 std::move(samples), num_samples, batch_size, seed, progress,
                 [&](const auto& p, const auto& o) { return self.quantize(p, o); }));
           })
      .def("quantize_calibrated",
           [](const cnn2snn::FloatModel& self, int input_weight_bits, int weight_bits,
              int activation_bits, bool per_tensor, bool input_signed, const py::dict& ranges) {
             const auto p = params(input_weight_bits, weight_bits, activation_bits, per_tensor, input_signed);
             return py::bytes(self.quantize_calibrated(p, ranges_from_dict(ranges)));
           });
}

}  // namespace cnn2snn_python
