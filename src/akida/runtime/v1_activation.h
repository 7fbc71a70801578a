// The Akida 1.0 neuron, shared by the four v1 compute layers (InputConvolutional, Convolutional,
// SeparableConvolutional, FullyConnected): reading their variables, pooling the potentials and
// the threshold / act_step activation. docs/akida-v1.md gives the equation, its sources and what
// is established versus inferred.
//
//   p    = Σ w·x                       potentials (int64), one per position and neuron
//   p    = max pooling or global SUM    on potentials (the converter scales threshold and
//                                       act_step by H·W for global average pooling)
//   with activation:    out = clamp(ceil((p − threshold) / q), 0, 2^act_bits − 1)
//                       where q = act_step · 16 / 2^act_bits  (act_step is on a 4-bit scale)
//   without activation: out = p (int32 potential); predict() = (p − threshold) / act_step
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "akida/model.h"
#include "akida/runtime/geometry.h"
#include "akida/runtime/post_ops.h"

namespace akida::runtime {

// The weights variable `name` of a v1 layer, in the order the loops read them: row-major
// (kx, ky, C, F), F fastest. Files list v1 weight shapes reversed ([F, C, ky, kx]) but store
// the bytes in (kx, ky, C, F) order (checked on every v1 fixture: per-output-channel
// quantization puts a ±max value in every F-strided group, and the edge layer's 350
// connections per neuron only appear F-strided). Accepts any integer dtype (int8, int4, 1-bit).
// `rotate`: rotate the kernel by 180° (layers computing a true convolution correlate with it).
// Throws ShapeError naming the layer, variable and expected shape.
std::vector<int32_t> read_v1_weights(const Layer& layer, const std::string& name, int64_t kx,
                                     int64_t ky, int64_t channels, int64_t filters, bool rotate);

// Σ|w| per output channel of weights laid out with the filter axis last (for
// check_accumulator_bound()).
std::vector<int64_t> v1_filter_l1(const std::vector<int32_t>& weights, int64_t filters);

// read_v1_weights() deferred: the variable is checked at construction, but converted to int32
// only when values() is first called. The reference kernels behind the optimized ones run only
// the samples whose sums could leave int32, so most never need their weights, and converting
// them at start-up doubled the time and memory of preparing an Akida 1.0 model. Points into
// the layer: the layer must outlive this object (the Engine's copy of the model does).
class V1Weights {
 public:
  V1Weights() = default;
  V1Weights(const Layer& layer, const std::string& name, int64_t kx, int64_t ky, int64_t channels,
            int64_t filters, bool rotate);

  // Per output channel f, Σ over the rows r (kx·ky·C of them) of row_scale[r] · |w[r, f]|, read
  // from the variable; every row_scale is 1 when it is empty (Σ|w|, as v1_filter_l1()).
  std::vector<int64_t> filter_l1(const std::vector<int64_t>& row_scale = {}) const;
  // Σ|w| over the kernel taps, per (C, F) column: per channel for depthwise weights (F = 1).
  std::vector<int64_t> tap_l1() const;
  // read_v1_weights()'s result, computed on the first call. Not for concurrent first calls:
  // each thread runs its own clone of a kernel.
  const std::vector<int32_t>& values() const;

 private:
  // Σ over rows of row_scale[r] · |w[r, col]|, the elements seen as (rows, columns).
  std::vector<int64_t> column_l1(int64_t columns, const std::vector<int64_t>& row_scale) const;

  const Variable* variable_ = nullptr;
  int64_t kx_ = 0, ky_ = 0, channels_ = 0, filters_ = 0;
  bool rotate_ = false;
  mutable std::vector<int32_t> values_;
};

// The activation stage of one v1 layer, prepared once: per neuron, the potentials at which the
// output reaches each level. Reading threshold/act_step (or their 1.x names threshold_fire /
// threshold_fire_step), activation and act_bits; throws ShapeError naming the layer and field
// (missing variable, act_step not finite and > 0, act_bits outside 1..8).
class V1Activation {
 public:
  V1Activation() = default;
  V1Activation(const Layer& layer, int64_t neurons);

  bool enabled() const { return enabled_; }
  int act_bits() const { return act_bits_; }
  // The layer output for one potential of neuron `n`: the activation level when enabled, else
  // the potential itself (clamped to int32).
  int32_t output(int64_t potential, int64_t n) const;
  // output() of a (pixels, neurons) tensor, row-major.
  void outputs(const std::vector<int32_t>& potentials, std::vector<int32_t>& out) const;
  // What predict() returns for an output value of a layer without activation:
  // (potential − threshold) / act_step. Only meaningful when !enabled().
  float to_float(int32_t potential, int64_t n) const;
  // The level boundaries level-major, boundaries32()[(k − 1) · neurons + n], when every one fits
  // int32 (else empty): output() counts those a potential reaches. max_level() = 2^act_bits − 1.
  const std::vector<int32_t>& boundaries32() const { return levels32_by_level_; }
  const std::vector<int64_t>& thresholds() const { return threshold_; }
  const std::vector<float>& act_steps() const { return act_step_; }
  int32_t max_level() const { return max_level_; }

 private:
  bool enabled_ = false;
  int act_bits_ = 1;
  std::vector<int64_t> threshold_;
  std::vector<float> act_step_;
  // levels_[n * max_level + (k − 1)]: the smallest potential of neuron n whose output is >= k.
  std::vector<int64_t> levels_;
  // The same boundaries level-major, levels_by_level_[(k − 1) * neurons + n], for outputs().
  std::vector<int64_t> levels_by_level_;
  std::vector<int32_t> levels32_by_level_;  // the same when every boundary fits int32, else empty
  int32_t max_level_ = 1;
};

// The output stage of a v1 conv-like layer (pooling then activation) or of FullyConnected.
struct V1Output {
  PostOps pooling;  // pooling only: no bias, no ReLU, no scale (shared max / sum code)
  V1Activation activation;
};
V1Output prepare_v1_output(const Layer& layer, const ConvParams& params, const ConvPlan& plan);
V1Output prepare_v1_output(const Layer& layer, const Shape& potentials_shape);

// Turns the potentials (pooling.conv_shape values, (x, y, neuron) row-major; modified in place)
// into the layer output (pooling.out_shape values).
void apply_v1_output(const V1Output& stage, std::vector<int64_t>& potentials,
                     std::vector<int32_t>& out);

// The Akida 1.0 layer kinds that compute potentials (the four above).
bool is_v1_neural(LayerKind kind);

}  // namespace akida::runtime
