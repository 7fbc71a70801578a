#include "akida/runtime/v1_activation.h"
#include "akida/runtime/vector_clones.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "akida/errors.h"
#include "akida/runtime/layer_util.h"

namespace akida::runtime {

namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
// Above every potential a layer can produce (they are int32 after pooling): a level boundary
// that large is never reached.
constexpr int64_t kNeverReached = int64_t{1} << 62;

// Files written before about akida 2.3 name the variables after the 1.x API.
const Variable* find_either(const Layer& layer, const char* name, const char* old_name) {
  if (const Variable* v = layer.find_variable(name)) return v;
  return layer.find_variable(old_name);
}

std::vector<int64_t> read_thresholds(const Layer& layer, int64_t neurons) {
  const Variable* v = find_either(layer, "threshold", "threshold_fire");
  if (!v) throw ShapeError(layer_context(layer) + ": variable 'threshold' is missing");
  return per_channel_values(layer, v->name, neurons, 0, kInt32Min, kInt32Max);
}

std::vector<float> read_act_steps(const Layer& layer, int64_t neurons) {
  const Variable* v = find_either(layer, "act_step", "threshold_fire_step");
  if (!v) throw ShapeError(layer_context(layer) + ": variable 'act_step' is missing");
  const std::string where = layer_context(layer) + ": variable '" + v->name + "'";
  const std::vector<uint32_t> expected{static_cast<uint32_t>(neurons)};
  if (v->shape != expected)
    throw ShapeError(where + " has shape " + dims_string(v->shape) + ", expected " +
                     dims_string(expected));
  if (v->dtype != DType::Float32 || v->data.size() != v->element_count() * 4)
    throw ShapeError(where + " must hold float32 values");
  std::vector<float> steps = v->floats();
  for (size_t i = 0; i < steps.size(); ++i)
    if (!std::isfinite(steps[i]) || steps[i] <= 0.0f)
      throw ShapeError(where + "[" + std::to_string(i) + "] is " + std::to_string(steps[i]) +
                       ", expected a finite value > 0");
  return steps;
}

// floor(multiple · q) for q = act_step · 16 / 2^act_bits, exactly: a float32 is M · 2^E with
// an integer M < 2^24, so q = M · 2^(E + 4 − act_bits) is a dyadic rational and no rounding of
// act_step is involved (the stored float is the value the rule uses; docs/akida-v1.md).
int64_t floor_multiple_of_interval(int64_t multiple, float act_step, int act_bits) {
  int exponent = 0;
  const double mantissa = std::frexp(static_cast<double>(act_step), &exponent);  // [0.5, 1)
  const int64_t m = static_cast<int64_t>(std::ldexp(mantissa, 24));  // exact: 24-bit significand
  const int shift = exponent - 24 + 4 - act_bits;
  const int64_t a = multiple * m;  // multiple < 2^8, m < 2^24: fits easily
  if (a == 0) return 0;
  if (shift >= 0) return shift > 30 ? kNeverReached : a << shift;  // a < 2^32: a << 30 < 2^62
  return -shift >= 63 ? 0 : a >> -shift;
}

}  // namespace

namespace {

// The weights variable of a v1 layer, checked: listed [F, C, ky, kx], any integer dtype.
const Variable& v1_weights_variable(const Layer& layer, const std::string& name, int64_t kx,
                                    int64_t ky, int64_t channels, int64_t filters) {
  return require_int_variable(
      layer, name,
      {static_cast<uint32_t>(filters), static_cast<uint32_t>(channels), static_cast<uint32_t>(ky),
       static_cast<uint32_t>(kx)});
}

}  // namespace

std::vector<int32_t> read_v1_weights(const Layer& layer, const std::string& name, int64_t kx,
                                     int64_t ky, int64_t channels, int64_t filters, bool rotate) {
  // The flat order is the 2.0 layout's; only the declared shape differs.
  return correlation_weights(v1_weights_variable(layer, name, kx, ky, channels, filters), kx, ky,
                             channels, filters, rotate);
}

std::vector<int64_t> v1_filter_l1(const std::vector<int32_t>& weights, int64_t filters) {
  return filter_l1(weights, filters);
}

namespace {

// V1Weights::column_l1 on the variable's elements of type T (one loop per dtype, not a dtype
// switch per element: Akida 1.0 models hold millions of weights). Saturates at the int64
// maximum, which check_accumulator_bound() refuses: int32 weights scaled by a depthwise Σ|w|
// could overflow. Byte weights under moderate scales cannot, and take a loop without checks.
template <typename T>
void add_column_l1(const uint8_t* data, int64_t rows, int64_t columns,
                   const std::vector<int64_t>& row_scale, std::vector<int64_t>& l1) {
  constexpr int64_t kSaturated = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMaxAbs = int64_t{1} << (8 * sizeof(T));  // above every |w| of type T
  const int64_t max_scale =
      row_scale.empty() ? 1 : *std::max_element(row_scale.begin(), row_scale.end());
  if (rows > 0 && max_scale >= 0 && max_scale <= kSaturated / kMaxAbs / rows) {
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t scale = row_scale.empty() ? 1 : row_scale[r];
      const uint8_t* row = data + r * columns * static_cast<int64_t>(sizeof(T));
      for (int64_t f = 0; f < columns; ++f) {
        T w;
        std::memcpy(&w, row + f * static_cast<int64_t>(sizeof(T)), sizeof(T));
        l1[f] += scale * std::abs(int64_t{w});
      }
    }
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t scale = row_scale.empty() ? 1 : row_scale[r];
    for (int64_t f = 0; f < columns; ++f) {
      T w;
      std::memcpy(&w, data + (r * columns + f) * sizeof(T), sizeof(T));
      int64_t term = 0;
      if (__builtin_mul_overflow(scale, std::abs(int64_t{w}), &term) ||
          __builtin_add_overflow(l1[f], term, &l1[f]))
        l1[f] = kSaturated;
    }
  }
}

}  // namespace

V1Weights::V1Weights(const Layer& layer, const std::string& name, int64_t kx, int64_t ky,
                     int64_t channels, int64_t filters, bool rotate)
    : variable_(&v1_weights_variable(layer, name, kx, ky, channels, filters)),
      kx_(kx), ky_(ky), channels_(channels), filters_(filters), rotate_(rotate) {}

std::vector<int64_t> V1Weights::column_l1(int64_t columns,
                                          const std::vector<int64_t>& row_scale) const {
  std::vector<int64_t> l1(static_cast<size_t>(columns), 0);
  const int64_t rows = kx_ * ky_ * channels_ * filters_ / columns;
  const uint8_t* data = variable_->data.data();
  switch (variable_->dtype) {
    case DType::Int32: add_column_l1<int32_t>(data, rows, columns, row_scale, l1); break;
    case DType::UInt8:
    case DType::Bit1: add_column_l1<uint8_t>(data, rows, columns, row_scale, l1); break;
    case DType::Int8:
    case DType::Int4: add_column_l1<int8_t>(data, rows, columns, row_scale, l1); break;
    case DType::Float32: break;  // refused by require_int_variable()
  }
  return l1;
}

std::vector<int64_t> V1Weights::filter_l1(const std::vector<int64_t>& row_scale) const {
  return column_l1(filters_, row_scale);
}

std::vector<int64_t> V1Weights::tap_l1() const { return column_l1(channels_ * filters_, {}); }

const std::vector<int32_t>& V1Weights::values() const {
  if (values_.empty())
    values_ = correlation_weights(*variable_, kx_, ky_, channels_, filters_, rotate_);
  return values_;
}

V1Activation::V1Activation(const Layer& layer, int64_t neurons) {
  enabled_ = param_in_range(layer, "activation", 0, 1) == 1;
  threshold_ = read_thresholds(layer, neurons);
  act_step_ = read_act_steps(layer, neurons);
  if (!enabled_) return;
  // The hardware supports 1, 2 and 4 bits; the rule is the same for any width up to 8.
  act_bits_ = required_param(layer, "act_bits", 1, 8);
  max_level_ = (int32_t{1} << act_bits_) - 1;
  levels_.resize(neurons * max_level_);
  for (int64_t n = 0; n < neurons; ++n)
    for (int32_t k = 1; k <= max_level_; ++k)
      // ceil((p − threshold) / q) >= k  ⇔  p − threshold > (k − 1)·q
      //                                 ⇔  p >= threshold + floor((k − 1)·q) + 1.
      levels_[n * max_level_ + (k - 1)] =
          threshold_[n] + floor_multiple_of_interval(k - 1, act_step_[n], act_bits_) + 1;
  levels_by_level_.resize(levels_.size());
  for (int64_t n = 0; n < neurons; ++n)
    for (int32_t k = 0; k < max_level_; ++k)
      levels_by_level_[k * neurons + n] = levels_[n * max_level_ + k];
  // int32 potentials compared with int32 boundaries: twice the lanes, same answers.
  if (std::all_of(levels_.begin(), levels_.end(),
                  [](int64_t v) { return v >= kInt32Min && v <= kInt32Max; }))
    levels32_by_level_.assign(levels_by_level_.begin(), levels_by_level_.end());
}

int32_t V1Activation::output(int64_t potential, int64_t n) const {
  if (!enabled_) return static_cast<int32_t>(std::clamp(potential, kInt32Min, kInt32Max));
  const int64_t* level = &levels_[n * max_level_];
  int32_t out = 0;
  // Boundaries are non-decreasing in k: count those the potential reaches.
  while (out < max_level_ && potential >= level[out]) ++out;
  return out;
}

namespace {

// Per value: the number of its neuron's level boundaries it reaches (the boundaries are
// non-decreasing, so this is the count output() stops at). Level-major boundaries
// (levels[k * neurons + n]) make the inner loop run over neurons, without a data-dependent
// branch.
template <typename Level>
inline void count_levels_impl(const int32_t* potentials, int64_t pixels, int64_t neurons,
                              const Level* levels, int32_t max_level, int32_t* out) {
  for (int64_t p = 0; p < pixels; ++p) {
    const int32_t* v = potentials + p * neurons;
    int32_t* o = out + p * neurons;
    for (int64_t n = 0; n < neurons; ++n) o[n] = 0;
    for (int32_t k = 0; k < max_level; ++k) {
      const Level* level = levels + k * neurons;
      for (int64_t n = 0; n < neurons; ++n) o[n] += Level{v[n]} >= level[n];
    }
  }
}

AKIDA_AVX2_CLONES
void count_levels(const int32_t* potentials, int64_t pixels, int64_t neurons,
                  const int64_t* levels, int32_t max_level, int32_t* out) {
  count_levels_impl(potentials, pixels, neurons, levels, max_level, out);
}

AKIDA_AVX2_CLONES
void count_levels(const int32_t* potentials, int64_t pixels, int64_t neurons,
                  const int32_t* levels, int32_t max_level, int32_t* out) {
  count_levels_impl(potentials, pixels, neurons, levels, max_level, out);
}

}  // namespace

void V1Activation::outputs(const std::vector<int32_t>& potentials, std::vector<int32_t>& out) const {
  out.resize(potentials.size());
  const auto neurons = static_cast<int64_t>(threshold_.size());
  if (!enabled_ || neurons == 0) {
    std::copy(potentials.begin(), potentials.end(), out.begin());  // int32 already
    return;
  }
  const int64_t pixels = static_cast<int64_t>(potentials.size()) / neurons;
  if (!levels32_by_level_.empty())
    count_levels(potentials.data(), pixels, neurons, levels32_by_level_.data(), max_level_,
                 out.data());
  else
    count_levels(potentials.data(), pixels, neurons, levels_by_level_.data(), max_level_,
                 out.data());
}

float V1Activation::to_float(int32_t potential, int64_t n) const {
  return static_cast<float>((static_cast<double>(potential) - static_cast<double>(threshold_[n])) /
                            static_cast<double>(act_step_[n]));
}

namespace {

// Pooling only: the v2 output stage with every arithmetic step disabled pools with the same code
// (max over the window, global sum) and leaves the potentials unchanged otherwise.
PostOps pooling_only(const Shape& conv_shape, const Shape& out_shape) {
  PostOps ops;
  ops.conv_shape = conv_shape;
  ops.out_shape = out_shape;
  ops.buffer_bits = 63;          // no saturation of the int64 potentials while pooling
  ops.post_op_buffer_bits = 63;  // unused: no scale
  ops.output_bits = 32;          // potentials leave the layer as int32
  return ops;
}

}  // namespace

V1Output prepare_v1_output(const Layer& layer, const ConvParams& params, const ConvPlan& plan) {
  V1Output stage{pooling_only(plan.conv_out, plan.out), V1Activation(layer, plan.out.c)};
  stage.pooling.pool = params.pool;
  stage.pooling.pool_x = plan.pool_x;
  stage.pooling.pool_y = plan.pool_y;
  stage.pooling.pool_window = params.pool_window;
  return stage;
}

V1Output prepare_v1_output(const Layer& layer, const Shape& potentials_shape) {
  return {pooling_only(potentials_shape, potentials_shape),
          V1Activation(layer, potentials_shape.c)};
}

void apply_v1_output(const V1Output& stage, std::vector<int64_t>& potentials,
                     std::vector<int32_t>& out) {
  std::vector<int32_t> pooled;
  apply_post_ops(stage.pooling, potentials, pooled);
  stage.activation.outputs(pooled, out);
}

bool is_v1_neural(LayerKind kind) {
  return kind == LayerKind::InputConvolutional || kind == LayerKind::Convolutional ||
         kind == LayerKind::SeparableConvolutional || kind == LayerKind::FullyConnected;
}

}  // namespace akida::runtime
