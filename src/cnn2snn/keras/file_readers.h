// The Keras readers on a file already open (keras_reader.h and legacy_reader.h open the path or
// image they are given, then call these): one HDF5 open serves several readings, as
// fuzz_keras_h5 does for each input.
#pragma once

#include <optional>

#include "cnn2snn/keras/blocks.h"
#include "cnn2snn/keras/hdf5_file.h"
#include "cnn2snn/legacy_reader.h"
#include "cnn2snn/quantized_graph.h"

namespace cnn2snn::keras {

// load_keras_h5 (PatternSet::V2) / load_keras_h5_v1 (PatternSet::V1).
QuantizedGraph load(const Hdf5File& file, PatternSet patterns);
// is_legacy_cnn2snn_h5.
bool is_legacy(const Hdf5File& file);
// load_legacy_cnn2snn_h5.
QuantizedGraph load_legacy(const Hdf5File& file, std::optional<InputScaling> input_scaling);

}  // namespace cnn2snn::keras
