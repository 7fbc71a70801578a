// Names in model files (layers, variables, parameter keys, ONNX nodes) end up in JSON
// (`akida dump`, `cnn2snn check --json`) and in Python str objects, both of which require UTF-8:
// readers refuse a name that is not valid UTF-8 where they read it, naming the field.
#pragma once

#include <string>
#include <string_view>

namespace akida {

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF).
bool is_utf8(std::string_view text);

// `text` with every byte outside printable ASCII written as \xHH, to show a name that is not
// UTF-8 in an error message.
std::string escaped(std::string_view text);

// `text` as it is when it is UTF-8, else escaped(): for error messages quoting names from files.
std::string printable(std::string_view text);

}  // namespace akida
