#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>

#include "akida/errors.h"
#include "akida/fbz.h"
#include "akida/npy.h"
#include "akida/shapes.h"
#include "akida/summary.h"
#include "common.h"
#include "native.h"
#include "py_model.h"

namespace py = pybind11;

namespace cnn2snn_python {
namespace {

// Samples per forward_all() call: bounds the memory every layer's outputs take, without changing
// results (samples run one after the other either way, FIFO state included).
constexpr int64_t kStatisticsChunk = 16;

py::list shape_list(const akida::Shape& s) { return py::cast(std::vector<int64_t>{s.x, s.y, s.c}); }

// A variable as a numpy array of its dtype; bit1 and int4 values take one byte each in the model
// (see akida::Variable), so they become uint8 and int8 arrays.
py::array variable_array(const akida::Variable& v, const std::string& context) {
  if (v.data.size() != v.element_count() * akida::dtype_size(v.dtype))
    throw akida::FormatError(context + ": variable '" + v.name + "': " +
                             std::to_string(v.data.size()) + " bytes do not fit its shape");
  const std::vector<py::ssize_t> shape(v.shape.begin(), v.shape.end());
  py::dtype dtype;
  switch (v.dtype) {
    case akida::DType::Int32: dtype = py::dtype::of<int32_t>(); break;
    case akida::DType::Float32: dtype = py::dtype::of<float>(); break;
    case akida::DType::UInt8:
    case akida::DType::Bit1: dtype = py::dtype::of<uint8_t>(); break;
    case akida::DType::Int8:
    case akida::DType::Int4: dtype = py::dtype::of<int8_t>(); break;
  }
  py::array array(dtype, shape);
  if (!v.data.empty()) std::memcpy(array.mutable_data(), v.data.data(), v.data.size());
  return array;
}

py::dict layer_dict(const akida::Layer& layer, const akida::Shape* output_shape,
                    const std::string& source) {
  py::dict d;
  d["name"] = layer.name;
  d["layer_type"] = std::string(akida::name_of(layer.kind));
  d["parameters"] = py::cast(layer.parameters);
  py::dict variables;
  for (const auto& v : layer.variables)
    variables[py::str(v.name)] = variable_array(v, source + ": layer '" + layer.name + "'");
  d["variables"] = variables;
  d["inbounds"] = py::cast(layer.inbound);
  d["output_shape"] = output_shape ? py::object(shape_list(*output_shape)) : py::object(py::none());
  return d;
}

// The array as the CLI would have read it from a .npy file, refused with the CLI's messages when
// its dtype is not the model's (uint8, or int8 for models with signed inputs): the vendor's
// runtime refuses other dtypes rather than converting them.
akida::Batch input_batch(const py::object& input, akida::Engine& engine) {
  const auto expected = engine.input_signed() ? akida::NpyDType::Int8 : akida::NpyDType::UInt8;
  const akida::NpyArray npy = npy_array(input, akida::npy_dtype_name(expected));
  if (npy.dtype != expected)
    throw akida::ShapeError(std::string(kInputSource) + ": input dtype is " +
                            akida::npy_dtype_name(npy.dtype) + ", the model expects " +
                            akida::npy_dtype_name(expected));
  return akida::to_batch(npy, engine.input_shape(), kInputSource);
}

// The layer Engine::forward() returns: the one before a final Dequantizer, else the last.
size_t forward_layer(const akida::Model& model) {
  const akida::Layer& last = model.layers.back();
  if (last.kind != akida::LayerKind::Dequantizer || last.inbound.empty())
    return model.layers.size() - 1;
  for (size_t i = 0; i < model.layers.size(); ++i)
    if (model.layers[i].name == last.inbound.front()) return i;
  return model.layers.size() - 1;
}

void count_events(const std::vector<akida::Batch>& outputs, std::vector<LayerStatistics>& stats) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    stats[i].outputs += static_cast<int64_t>(outputs[i].values.size());
    stats[i].events += std::count_if(outputs[i].values.begin(), outputs[i].values.end(),
                                     [](int32_t v) { return v != 0; });
  }
}

// Engine::forward() plus every layer's event count, chunk by chunk (see kStatisticsChunk).
akida::Batch forward_with_statistics(PyModel& self, const akida::Batch& inputs) {
  akida::Engine& engine = self.engine();
  const size_t out_layer = forward_layer(self.model());
  std::vector<LayerStatistics> stats;
  for (const auto& layer : self.model().layers) stats.push_back({layer.name, 0, 0});
  akida::Batch result{inputs.n, engine.output_shapes()[out_layer], {}};
  result.values.reserve(inputs.n * result.shape.size());
  const int64_t sample = inputs.shape.size();
  for (int64_t first = 0; first < inputs.n; first += kStatisticsChunk) {
    const int64_t count = std::min(kStatisticsChunk, inputs.n - first);
    akida::Batch chunk{count, inputs.shape,
                       {inputs.values.begin() + first * sample,
                        inputs.values.begin() + (first + count) * sample}};
    const std::vector<akida::Batch> outputs = engine.forward_all(chunk);
    count_events(outputs, stats);
    const auto& out = outputs[out_layer].values;
    result.values.insert(result.values.end(), out.begin(), out.end());
  }
  // A Dequantizer's outputs are floats, not events.
  if (self.model().layers.back().kind == akida::LayerKind::Dequantizer) stats.back().outputs = 0;
  self.statistics = std::move(stats);
  return result;
}

std::unique_lock<std::mutex> lock_model(PyModel& self) { return lock_without_gil(self.mutex()); }

py::array run_forward(PyModel& self, const py::object& input) {
  const auto lock = lock_model(self);
  const akida::Batch batch = input_batch(input, self.engine());
  akida::Batch result;
  {
    py::gil_scoped_release release;
    result = with_context(kInputSource, [&] { return forward_with_statistics(self, batch); });
  }
  return batch_array(result);
}

py::array run_predict(PyModel& self, const py::object& input) {
  const auto lock = lock_model(self);
  const akida::Batch batch = input_batch(input, self.engine());
  akida::FloatBatch result;
  {
    py::gil_scoped_release release;
    result = with_context(kInputSource, [&] { return self.engine().predict(batch); });
  }
  return batch_array(result);
}

py::list statistics_list(PyModel& self) {
  const auto lock = lock_model(self);
  py::list out;
  for (const auto& s : self.statistics)
    out.append(py::make_tuple(s.name, s.outputs, s.events));
  return out;
}

std::shared_ptr<PyModel> load_file(const std::string& path) {
  return std::make_shared<PyModel>(akida::read_fbz(path), path);
}

std::shared_ptr<PyModel> load_bytes(const py::bytes& bytes, const std::string& source) {
  const std::string_view view = bytes;
  const auto* data = reinterpret_cast<const uint8_t*>(view.data());
  return std::make_shared<PyModel>(akida::read_fbz_bytes({data, view.size()}, source), source);
}

}  // namespace

PyModel::PyModel(akida::Model model, std::string source)
    : model_(std::move(model)), source_(std::move(source)) {}

const std::vector<akida::Shape>& PyModel::shapes() {
  if (!shapes_)
    shapes_ = with_context(source_, [&] { return akida::infer_output_shapes(model_); });
  return *shapes_;
}

akida::Engine& PyModel::engine() {
  if (!engine_)
    engine_ = with_context(source_, [&] { return std::make_unique<akida::Engine>(model_); });
  return *engine_;
}

void bind_model(py::module_& m) {
  py::class_<PyModel, std::shared_ptr<PyModel>>(m, "Model")
      .def_static("from_file", &load_file, py::arg("path"))
      .def_static("from_bytes", &load_bytes, py::arg("data"), py::arg("source") = "<bytes>")
      .def_property_readonly("source", &PyModel::source)
      .def_property_readonly("version", [](const PyModel& s) { return s.model().version; })
      .def_property_readonly("ip_version",
                             [](const PyModel& s) {
                               return s.model().ip_version() == akida::IpVersion::v1 ? "v1" : "v2";
                             })
      .def_property_readonly("input_shape",
                             [](PyModel& s) {
                               return shape_list(with_context(
                                   s.source(), [&] { return akida::model_input_shape(s.model()); }));
                             })
      .def_property_readonly("output_shape",
                             [](PyModel& s) { return shape_list(s.shapes().back()); })
      .def_property_readonly("input_signed",
                             [](PyModel& s) {
                               const auto lock = lock_model(s);
                               return s.engine().input_signed();
                             })
      .def("layer_count", [](const PyModel& s) { return s.model().layers.size(); })
      .def("layers",
           [](PyModel& s) {
             // Shapes are optional here: a model the runtime cannot handle still lists its layers.
             const std::vector<akida::Shape>* shapes = nullptr;
             try {
               shapes = &s.shapes();
             } catch (const akida::Error&) {
             }
             py::list out;
             for (size_t i = 0; i < s.model().layers.size(); ++i)
               out.append(layer_dict(s.model().layers[i], shapes ? &(*shapes)[i] : nullptr,
                                     s.source()));
             return out;
           })
      .def("summary",
           [](PyModel& s) {
             return with_context(s.source(), [&] { return akida::summary(s.model()); });
           })
      .def("save", [](const PyModel& s, const std::string& path) { akida::write_fbz(s.model(), path); },
           py::arg("path"))
      .def("to_buffer",
           [](const PyModel& s) {
             const std::vector<uint8_t> bytes = akida::to_fbz_bytes(s.model());
             return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
           })
      .def("forward", &run_forward, py::arg("inputs"))
      .def("predict", &run_predict, py::arg("inputs"))
      .def("statistics", &statistics_list)
      .def("reset", [](PyModel& s) {
        const auto lock = lock_model(s);
        if (s.has_engine()) s.engine().reset();
      });
}

}  // namespace cnn2snn_python
