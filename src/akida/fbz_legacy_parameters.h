// Decoding of the typed parameter tables of pre-2.3 .fbz files (schema r0) into the key/value
// parameters of current files, so that every consumer sees one vocabulary (internal).
#pragma once

#include "akida/model.h"

namespace akida::fbs {
struct LayerParameters;
}

namespace akida::fbz {

struct KindAndParameters {
  LayerKind kind;
  Parameters parameters;  // the keys akida 2.3.3+ writes for this kind (layer_type excluded)
};

// Precondition: parameters.legacy_type() is not NONE. Throws (with no file or layer context: the
// caller adds it) UnsupportedError "typed parameters: unknown layer type N" for a union type this
// reader does not know, FormatError "typed parameters: ..." when the type disagrees with the
// 0-based kind beside it or a required table is missing.
KindAndParameters decode_legacy_parameters(const fbs::LayerParameters& parameters);

}  // namespace akida::fbz
