#include <pybind11/stl.h>

#include <memory>
#include <mutex>

#include "cnn2snn/converter.h"
#include "cnn2snn/evaluator.h"
#include "cnn2snn/pipeline.h"
#include "common.h"
#include "native.h"
#include "py_model.h"

namespace py = pybind11;

namespace cnn2snn_python {
namespace {

// A loaded QuantizeML model, the format it came in (the facade refuses ONNX for Akida 1.0
// before converting, as BrainChip's check_model_compatibility does) and the reference evaluator
// that runs it, built on first use.
struct PyGraph {
  PyGraph(cnn2snn::QuantizedGraph g, std::string f) : graph(std::move(g)), format(std::move(f)) {}

  cnn2snn::QuantizedGraph graph;
  std::string format;  // "keras" or "onnx"
  std::unique_ptr<cnn2snn::Evaluator> evaluator;
  // The evaluator keeps FIFO state and is not reentrant; calls run with the GIL released.
  std::mutex mutex;
};

const char* format_name(cnn2snn::ModelFormat format) {
  switch (format) {
    case cnn2snn::ModelFormat::KerasH5: return "keras";
    case cnn2snn::ModelFormat::Onnx: return "onnx";
    case cnn2snn::ModelFormat::AkidaFbz: return "akida";
    case cnn2snn::ModelFormat::Unknown: break;
  }
  return "unknown";
}

std::shared_ptr<PyGraph> load(const std::string& path,
                              std::optional<std::pair<double, double>> input_scaling) {
  std::optional<cnn2snn::InputScaling> scaling;
  if (input_scaling) scaling = cnn2snn::InputScaling{input_scaling->first, input_scaling->second};
  auto graph = cnn2snn::load_quantized_model(path, scaling);
  // Loading succeeded, so the format is one of the two the loader accepts.
  return std::make_shared<PyGraph>(std::move(graph),
                                   format_name(cnn2snn::detect_model_format(path)));
}

// The evaluator (built on the first call, its errors naming the model) and the integer batch of
// `input`, as `cnn2snn run` reads a .npy file. The caller holds self.mutex.
std::pair<cnn2snn::Evaluator*, akida::Batch> evaluator_input(PyGraph& self,
                                                             const py::object& input) {
  if (!self.evaluator)
    self.evaluator = with_context(self.graph.source, [&] {
      return std::make_unique<cnn2snn::Evaluator>(self.graph);
    });
  const std::string integers = self.graph.input_signed ? "int8" : "uint8";
  const akida::NpyArray array = npy_array(
      input, integers + (self.graph.input_quantizer ? " (or float32 for its InputQuantizer)" : ""));
  return {self.evaluator.get(), cnn2snn::model_input_batch(self.graph, array, kInputSource)};
}

// `compute(evaluator, batch)` with the GIL released, the model locked.
template <typename Compute>
auto run_evaluator(PyGraph& self, const py::object& input, Compute compute) {
  const auto lock = lock_without_gil(self.mutex);
  auto [evaluator, batch] = evaluator_input(self, input);
  py::gil_scoped_release release;
  return with_context(kInputSource, [&] { return compute(*evaluator, batch); });
}

py::array run_forward(PyGraph& self, const py::object& input) {
  return batch_array(run_evaluator(
      self, input, [](cnn2snn::Evaluator& e, const akida::Batch& b) { return e.run(b); }));
}

py::array run_predict(PyGraph& self, const py::object& input) {
  return batch_array(run_evaluator(
      self, input, [](cnn2snn::Evaluator& e, const akida::Batch& b) { return e.predict(b); }));
}

// (forward, predict) from one pass of the evaluator.
py::tuple run_forward_and_predict(PyGraph& self, const py::object& input) {
  auto [integers, floats] =
      run_evaluator(self, input, [](cnn2snn::Evaluator& e, const akida::Batch& b) {
        akida::Batch ints;
        akida::FloatBatch predictions = e.predict(b, &ints);
        return std::pair{std::move(ints), std::move(predictions)};
      });
  return py::make_tuple(batch_array(integers), batch_array(floats));
}

std::shared_ptr<PyModel> convert(const PyGraph& self) {
  akida::Model model;
  {
    py::gil_scoped_release release;
    model = cnn2snn::convert(self.graph);
  }
  return std::make_shared<PyModel>(std::move(model), self.graph.source);
}

py::list blocks(const PyGraph& self) {
  py::list out;
  for (const auto& block : self.graph.blocks)
    out.append(py::make_tuple(block.name, cnn2snn::block_kind_name(block.kind), block.inbound));
  return out;
}

std::vector<std::string> check_v2(const PyGraph& self) {
  std::vector<std::string> out;
  for (const auto& incompatibility : cnn2snn::check_v2(self.graph))
    out.push_back(cnn2snn::to_string(incompatibility));
  return out;
}

}  // namespace

void bind_converter(py::module_& m) {
  py::class_<PyGraph, std::shared_ptr<PyGraph>>(m, "QuantizedGraph")
      .def_property_readonly("source", [](const PyGraph& s) { return s.graph.source; })
      .def_property_readonly("format", [](const PyGraph& s) { return s.format; })
      .def_property_readonly("input_shape",
                             [](const PyGraph& s) {
                               const auto& i = s.graph.input_shape;
                               return std::vector<int64_t>{i.x, i.y, i.c};
                             })
      .def_property_readonly("input_bits", [](const PyGraph& s) { return s.graph.input_bits; })
      .def_property_readonly("input_signed", [](const PyGraph& s) { return s.graph.input_signed; })
      .def_property_readonly("legacy", [](const PyGraph& s) { return s.graph.legacy_cnn2snn; })
      .def("blocks", &blocks)
      .def("check_v2", &check_v2)
      .def("convert", &convert)
      .def("forward", &run_forward, py::arg("inputs"))
      .def("predict", &run_predict, py::arg("inputs"))
      .def("forward_and_predict", &run_forward_and_predict, py::arg("inputs"));
  m.def("load_quantized_model", &load, py::arg("path"), py::arg("input_scaling") = py::none());
  m.def("target_akida_version",
        [] { return cnn2snn::to_string(cnn2snn::target_akida_version()); });
  m.def("version", [] { return cnn2snn::version(); });
}

}  // namespace cnn2snn_python
