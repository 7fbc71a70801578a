#include <Python.h>

#include "akida/errors.h"
#include "native.h"

namespace py = pybind11;

namespace cnn2snn_python {
namespace {

// The classes live for the whole interpreter: the module keeps a reference, and the translator
// only needs the borrowed pointers.
struct ErrorClasses {
  PyObject* error = nullptr;
  PyObject* format = nullptr;
  PyObject* shape = nullptr;
  PyObject* unsupported = nullptr;
};
ErrorClasses classes;

// A class deriving from every base in `bases` (a tuple), with a docstring.
PyObject* new_error(py::module_& m, const char* name, py::tuple bases, const char* doc) {
  const std::string qualified = std::string("akida.") + name;  // what users import them as
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::handle(cls));  // add_object steals nothing: it increfs
  return cls;
}

}  // namespace

// Why several bases: callers that only know Python's conventions catch ValueError for bad files
// and inputs and RuntimeError / NotImplementedError for what is not supported, while callers who
// know this project can catch Error for everything it raises.
void bind_errors(py::module_& m) {
  classes.error = new_error(m, "Error", py::make_tuple(py::handle(PyExc_RuntimeError)),
                            "Base of every error raised by the akida and cnn2snn libraries.");
  classes.format = new_error(
      m, "FormatError",
      py::make_tuple(py::handle(classes.error), py::handle(PyExc_ValueError)),
      "A file or buffer is not a valid model: truncated, corrupt or inconsistent.");
  classes.shape = new_error(
      m, "ShapeError", py::make_tuple(py::handle(classes.error), py::handle(PyExc_ValueError)),
      "A model, input or argument is inconsistent: wrong shape, dtype, range or missing field.");
  classes.unsupported = new_error(
      m, "UnsupportedError",
      py::make_tuple(py::handle(classes.error), py::handle(PyExc_NotImplementedError)),
      "A valid model uses something this project does not (yet) support.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const akida::FormatError& e) {
      PyErr_SetString(classes.format, e.what());
    } catch (const akida::ShapeError& e) {
      PyErr_SetString(classes.shape, e.what());
    } catch (const akida::UnsupportedError& e) {
      PyErr_SetString(classes.unsupported, e.what());
    } catch (const akida::Error& e) {
      PyErr_SetString(classes.error, e.what());
    }
  });
}

}  // namespace cnn2snn_python

PYBIND11_MODULE(_cnn2snn_native, m) {
  m.doc() = "Native bindings of the cnn2snn project (use the akida and cnn2snn packages instead)";
  cnn2snn_python::bind_errors(m);
  cnn2snn_python::bind_model(m);
  cnn2snn_python::bind_converter(m);
  cnn2snn_python::bind_quantizer(m);
#ifdef CNN2SNN_SOURCE_DIR
  // Where the bundled examples are when the package runs from a build tree.
  m.attr("source_dir") = CNN2SNN_SOURCE_DIR;
#else
  m.attr("source_dir") = py::none();
#endif
}
