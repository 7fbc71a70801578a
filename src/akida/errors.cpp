#include "akida/errors.h"

namespace akida {

[[noreturn]] void rethrow_with_context(const std::exception& e, const std::string& context) {
  const std::string message = context + ": " + e.what();
  if (dynamic_cast<const FormatError*>(&e)) throw FormatError(message);
  if (dynamic_cast<const UnsupportedError*>(&e)) throw UnsupportedError(message);
  if (dynamic_cast<const ShapeError*>(&e)) throw ShapeError(message);
  throw Error(message);
}

}  // namespace akida
