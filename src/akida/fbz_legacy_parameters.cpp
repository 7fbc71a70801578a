// How the typed fields were identified (details in docs/fbz-format.md): ei_fomo_v1.fbz (pre-2.3)
// and ei_inventory_v1.fbz (2.3.3) are the same network, so every typed field of its
// InputConvolutional, Convolutional and SeparableConvolutional layers was matched against the
// key/value parameters of the sibling; the dense nets ei_gesture (pre-2.3) and ei_fan (2.3.3)
// pin InputData and FullyConnected; variable shapes pin units, filters and channels.
#include "akida/fbz_legacy_parameters.h"

#include <string>

#include "akida/errors.h"
#include "akida_model_generated.h"

namespace akida::fbz {
namespace {

template <typename Table>
const Table& required(const Table* table, const char* what) {
  if (!table) throw FormatError(std::string("typed parameters: missing '") + what + "' table");
  return *table;
}

void add_activation(const fbs::LegacyActivation& activation, Parameters& out) {
  out["activation"] = activation.enabled() ? 1 : 0;
  out["act_bits"] = activation.bits();
}

void add_kernel(const fbs::LegacyKernel& kernel, Parameters& out) {
  out["kernel_width"] = kernel.width();
  out["kernel_height"] = kernel.height();
  out["padding"] = kernel.padding();
}

void add_strides(const fbs::LegacyStrides& strides, Parameters& out) {
  out["stride_x"] = strides.x();
  out["stride_y"] = strides.y();
}

void add_pooling(const fbs::LegacyPooling& pooling, Parameters& out) {
  out["pooling_width"] = pooling.width();
  out["pooling_height"] = pooling.height();
  out["pool_type"] = pooling.type();
  out["pooling_stride_x"] = pooling.stride_x();
  out["pooling_stride_y"] = pooling.stride_y();
}

void add_input_dims(const fbs::LegacyDims& dims, Parameters& out) {
  out["input_width"] = dims.width();
  out["input_height"] = dims.height();
}

// Only the integer learning settings fit Parameters; the four float ones (plasticity,
// competition) are dropped. The key names are those of akida's compile() arguments: no
// key/value file with edge learning has been seen to confirm them.
void add_learning(const fbs::LegacyLearning* learning, Parameters& out) {
  if (!learning || learning->learning_type() == 0) return;
  out["learning_type"] = learning->learning_type();
  out["num_weights"] = learning->num_weights();
  out["num_classes"] = learning->num_classes();
}

// The fields shared by layers with neurons; `count_key` is "units" or "filters".
void add_neural(const fbs::LegacyNeural& neural, const char* count_key, Parameters& out) {
  out[count_key] = neural.units();
  out["weights_bits"] = neural.weights_bits();
  add_activation(required(neural.activation(), "activation"), out);
  add_learning(neural.learning(), out);
}

Parameters input_data(const fbs::LegacyInputData& table) {
  Parameters out;
  add_input_dims(required(table.dims(), "dims"), out);
  out["input_channels"] = table.channels();
  out["input_signed"] = table.input_signed() ? 1 : 0;
  out["input_bits"] = table.bits();
  return out;
}

Parameters input_convolutional(const fbs::LegacyInputConvolutional& table) {
  Parameters out;
  add_input_dims(required(table.dims(), "dims"), out);
  out["input_channels"] = table.input_channels();
  out["filters"] = table.filters();
  out["weights_bits"] = table.weights_bits();
  out["padding_value"] = table.padding_value();
  add_kernel(required(table.kernel(), "kernel"), out);
  add_strides(required(table.strides(), "strides"), out);
  add_pooling(required(table.pooling(), "pooling"), out);
  add_activation(required(table.activation(), "activation"), out);
  return out;
}

Parameters fully_connected(const fbs::LegacyFullyConnected& table) {
  Parameters out;
  add_neural(required(table.neural(), "neural"), "units", out);
  return out;
}

Parameters convolutional(const fbs::LegacyConvolutional& table) {
  Parameters out;
  add_neural(required(table.neural(), "neural"), "filters", out);
  add_kernel(required(table.kernel(), "kernel"), out);
  add_pooling(required(table.pooling(), "pooling"), out);
  add_strides(required(table.strides(), "strides"), out);
  return out;
}

}  // namespace

KindAndParameters decode_legacy_parameters(const fbs::LayerParameters& parameters) {
  const auto type = parameters.legacy_type();
  // The union type is the layer_type code; the ubyte beside it is the same kind counted from 0.
  if (type != fbs::LegacyParameters_NONE && parameters.legacy_kind() + 1 != type)
    throw FormatError("typed parameters: kind " + std::to_string(parameters.legacy_kind()) +
                      " disagrees with table type " + std::to_string(type));
  switch (type) {
    case fbs::LegacyParameters_LegacyInputData:
      return {LayerKind::InputData,
              input_data(required(parameters.legacy_as_LegacyInputData(), "InputData"))};
    case fbs::LegacyParameters_LegacyInputConvolutional:
      return {LayerKind::InputConvolutional,
              input_convolutional(required(parameters.legacy_as_LegacyInputConvolutional(),
                                           "InputConvolutional"))};
    case fbs::LegacyParameters_LegacyFullyConnected:
      return {LayerKind::FullyConnected,
              fully_connected(
                  required(parameters.legacy_as_LegacyFullyConnected(), "FullyConnected"))};
    case fbs::LegacyParameters_LegacyConvolutional:
      return {LayerKind::Convolutional,
              convolutional(required(parameters.legacy_as_LegacyConvolutional(), "Convolutional"))};
    case fbs::LegacyParameters_LegacySeparableConvolutional: {
      const auto& separable = required(parameters.legacy_as_LegacySeparableConvolutional(),
                                       "SeparableConvolutional");
      return {LayerKind::SeparableConvolutional,
              convolutional(required(separable.conv(), "conv"))};
    }
    default:
      throw UnsupportedError("typed parameters: unknown layer type " + std::to_string(type));
  }
}

}  // namespace akida::fbz
