// The native half of the Python packages `akida` and `cnn2snn` (module `_cnn2snn_native`).
//
// The bindings stay thin: they move numpy arrays in and out of the libraries' types and turn the
// libraries' exceptions into Python ones. Everything shaped like BrainChip's Python API (Layer
// objects, enums, predict_classes, evaluate, context managers) lives in the pure-Python facades,
// where it is cheap to change.
#pragma once

#include <pybind11/pybind11.h>

namespace cnn2snn_python {

// Registers the exception classes and the translator from akida::Error and its subclasses.
void bind_errors(pybind11::module_& m);
// akida::Model with its engine: loading, saving, summary, layers, forward/predict, statistics.
void bind_model(pybind11::module_& m);
// QuantizedGraph loading, compatibility checks and conversion.
void bind_converter(pybind11::module_& m);
// The float ONNX quantizer (FloatModel: run, calibrate, quantize).
void bind_quantizer(pybind11::module_& m);

}  // namespace cnn2snn_python
