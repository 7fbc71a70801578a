#include "akida/runtime/layer_util.h"

#include <algorithm>
#include <limits>

#include "akida/errors.h"
#include "akida/runtime/vector_clones.h"

namespace akida::runtime {

std::string layer_context(const Layer& layer) {
  return "layer '" + layer.name + "' (" + std::string(name_of(layer.kind)) + ")";
}

std::string dims_string(const std::vector<uint32_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

namespace {

int32_t checked_range(const Layer& layer, const std::string& key, int32_t value, int32_t lo,
                      int32_t hi) {
  if (value < lo || value > hi)
    throw ShapeError(layer_context(layer) + ": parameter '" + key + "' is " +
                     std::to_string(value) + ", expected " + std::to_string(lo) + ".." +
                     std::to_string(hi));
  return value;
}

bool is_integer(DType dtype) { return dtype != DType::Float32; }

}  // namespace

int32_t param_in_range(const Layer& layer, const std::string& key, int32_t lo, int32_t hi) {
  return checked_range(layer, key, layer.param(key, 0), lo, hi);
}

int32_t required_param(const Layer& layer, const std::string& key, int32_t lo, int32_t hi) {
  if (!layer.has_param(key))
    throw ShapeError(layer_context(layer) + ": parameter '" + key + "' is missing");
  return checked_range(layer, key, layer.param(key), lo, hi);
}

const Variable* find_int_variable(const Layer& layer, const std::string& name,
                                  const std::vector<uint32_t>& expected) {
  const Variable* variable = layer.find_variable(name);
  if (!variable) return nullptr;
  const std::string where = layer_context(layer) + ": variable '" + name + "'";
  if (variable->shape != expected)
    throw ShapeError(where + " has shape " + dims_string(variable->shape) + ", expected " +
                     dims_string(expected));
  if (!is_integer(variable->dtype))
    throw ShapeError(where + " has dtype " + dtype_name(variable->dtype) +
                     ", expected an integer dtype");
  // Models built in memory (not read from a file) could disagree here; element access relies on it.
  if (variable->data.size() != variable->element_count() * dtype_size(variable->dtype))
    throw ShapeError(where + " holds " + std::to_string(variable->data.size()) + " bytes, its shape " +
                     dims_string(variable->shape) + " and dtype " + dtype_name(variable->dtype) +
                     " need " +
                     std::to_string(variable->element_count() * dtype_size(variable->dtype)));
  return variable;
}

const Variable& require_int_variable(const Layer& layer, const std::string& name,
                                     const std::vector<uint32_t>& expected) {
  if (const Variable* variable = find_int_variable(layer, name, expected)) return *variable;
  throw ShapeError(layer_context(layer) + ": variable '" + name + "' is missing");
}

std::vector<int64_t> per_channel_values(const Layer& layer, const std::string& name, size_t length,
                                        int64_t fallback, int64_t lo, int64_t hi) {
  const Variable* variable =
      find_int_variable(layer, name, {static_cast<uint32_t>(length)});
  if (!variable) return std::vector<int64_t>(length, fallback);
  std::vector<int64_t> values = variable->ints();
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] < lo || values[i] > hi)
      throw ShapeError(layer_context(layer) + ": variable '" + name + "'[" + std::to_string(i) +
                       "] is " + std::to_string(values[i]) + ", expected " + std::to_string(lo) +
                       ".." + std::to_string(hi));
  return values;
}

std::vector<int32_t> correlation_weights(const Variable& weights, int64_t kx, int64_t ky,
                                         int64_t channels, int64_t filters, bool rotate) {
  std::vector<int32_t> w = weights.ints32();
  if (!rotate) return w;
  // Rotating by 180° reverses the order of the (i, j) taps, each a plane of C·F values.
  const int64_t plane = channels * filters, taps = kx * ky;
  for (int64_t t = 0; t < taps / 2; ++t)
    std::swap_ranges(w.begin() + t * plane, w.begin() + (t + 1) * plane,
                     w.begin() + (taps - 1 - t) * plane);
  return w;
}

// Σ|w| per output channel (the last axis of `w`).
std::vector<int64_t> filter_l1(const std::vector<int32_t>& w, int64_t filters) {
  std::vector<int64_t> l1(filters, 0);
  for (size_t row = 0; row < w.size(); row += filters)
    for (int64_t f = 0; f < filters; ++f) l1[f] += std::abs(int64_t{w[row + f]});
  return l1;
}


namespace {

template <typename T>
__attribute__((always_inline)) inline void widen_range_impl(const T* values, int64_t n,
                                                            int32_t& lo, int32_t& hi) {
  T low = std::numeric_limits<T>::max(), high = std::numeric_limits<T>::min();
  for (int64_t i = 0; i < n; ++i) {
    low = std::min(low, values[i]);
    high = std::max(high, values[i]);
  }
  if (n == 0) return;
  lo = std::min<int32_t>(lo, low);
  hi = std::max<int32_t>(hi, high);
}

}  // namespace

AKIDA_VECTOR_CLONES
void widen_range(const int32_t* values, int64_t n, int32_t& lo, int32_t& hi) {
  widen_range_impl(values, n, lo, hi);
}

AKIDA_VECTOR_CLONES
void widen_range(const int16_t* values, int64_t n, int32_t& lo, int32_t& hi) {
  widen_range_impl(values, n, lo, hi);
}

}  // namespace akida::runtime
