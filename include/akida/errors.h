// Exceptions thrown by the akida and cnn2snn libraries.
//
// Every message names where the problem is: the file, then the layer, then the field, e.g.
//   "model.fbz: layer 'conv_1': variable 'weights': shape [3, 3, 8] has 3 dimensions, expected 4".
// Use with_context() while unwinding to prepend the outer context (as ONNX's checker does).
#pragma once

#include <stdexcept>
#include <string>

namespace akida {

// Base of every error of this project; what() is the whole user-facing message.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file or buffer is not a valid model: truncated, corrupt, inconsistent sizes or offsets.
class FormatError : public Error {
 public:
  using Error::Error;
};

// A valid model uses something this project does not (yet) support.
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

// A model, input or argument is inconsistent: wrong shape, dtype, missing parameter or variable.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// Rethrows the in-flight exception `e` with "context: " prepended, keeping its type.
[[noreturn]] void rethrow_with_context(const std::exception& e, const std::string& context);

}  // namespace akida
