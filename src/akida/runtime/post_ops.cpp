#include "akida/runtime/post_ops.h"

#include <algorithm>
#include <limits>

#include "akida/errors.h"
#include "akida/runtime/layer_util.h"
#include "akida/runtime/vector_clones.h"

namespace akida::runtime {

namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();

// activation 2: the intermediate scale-out (same bounds as output_scales / output_shift, so the
// same int64 argument holds) and the table, whose int32 values keep a * output_scales in int64.
void read_lut(const Layer& layer, int64_t channels, PostOps& ops) {
  ops.lut = true;
  ops.lut_scales = per_channel_values(layer, "activation_scales", channels, 1, 0, kInt32Max);
  const auto shift = per_channel_values(layer, "activation_shift", channels, 0, -62, 31);
  ops.lut_shift.assign(shift.begin(), shift.end());
  const Variable& table =
      require_int_variable(layer, "lut_values", {static_cast<uint32_t>(kLutSize)});
  ops.lut_values = table.ints();
}

void read_activation(const Layer& layer, int64_t channels, PostOps& ops) {
  const int32_t activation = layer.param("activation", 0);
  if (activation == 2) return read_lut(layer, channels, ops);
  if (activation != 0 && activation != 1)
    throw UnsupportedError(layer_context(layer) + ": parameter 'activation' is " +
                           std::to_string(activation) + ", expected 0 (none), 1 (ReLU) or 2 (LUT)");
  ops.relu = activation == 1;
  if (!ops.relu || !layer.find_variable("max_value")) return;
  // max_value (uint8) << max_value_shift (uint8; 31 in real files means "unbounded"): bounded
  // to 2^31 << 31 so that the product stays inside int64.
  const auto max_value = per_channel_values(layer, "max_value", channels, 0, 0, kInt32Max);
  const auto max_shift = per_channel_values(layer, "max_value_shift", channels, 0, 0, 31);
  ops.relu_max.resize(channels);
  for (int64_t f = 0; f < channels; ++f) ops.relu_max[f] = max_value[f] << max_shift[f];
}

void read_bias(const Layer& layer, int64_t channels, PostOps& ops) {
  if (!layer.find_variable("bias")) return;
  // |bias| <= 2^31 and shift <= 31 keep bias << shift inside int64.
  const auto bias = per_channel_values(layer, "bias", channels, 0, kInt32Min, kInt32Max);
  const auto shift = per_channel_values(layer, "bias_shift", channels, 0, 0, 31);
  ops.bias.resize(channels);
  for (int64_t f = 0; f < channels; ++f) ops.bias[f] = bias[f] * (int64_t{1} << shift[f]);
}

void read_output_stage(const Layer& layer, int64_t channels, PostOps& ops) {
  ops.scaled = layer.find_variable("output_scales") || layer.find_variable("output_shift");
  if (!ops.scaled) return;
  // Scales up to 2^31 times a value saturated to <= 32 bits stay inside int64; so does a left
  // shift <= 31 of a value saturated to post_op_buffer_bits <= 32.
  ops.output_scales = per_channel_values(layer, "output_scales", channels, 1, 0, kInt32Max);
  const auto shift = per_channel_values(layer, "output_shift", channels, 0, -62, 31);
  ops.output_shift.assign(shift.begin(), shift.end());
}

PostOps prepare_common(const Layer& layer, const Shape& conv_shape) {
  PostOps ops;
  ops.conv_shape = conv_shape;
  ops.out_shape = conv_shape;
  // Outputs are int32 tensors, hence every width <= 32.
  ops.buffer_bits = required_param(layer, "buffer_bits", 1, 32);
  ops.post_op_buffer_bits = required_param(layer, "post_op_buffer_bits", 1, 32);
  ops.output_bits = required_param(layer, "output_bits", 1, 32);
  read_bias(layer, conv_shape.c, ops);
  read_activation(layer, conv_shape.c, ops);
  read_output_stage(layer, conv_shape.c, ops);
  return ops;
}

// Max over each pooling window; positions in the padding are skipped (TF semantics). Every
// window holds at least one real position because the padding before is < the window size.
template <typename T>
inline void max_pool_impl(const PostOps& ops, const T* in, T* out) {
  const Shape& s = ops.conv_shape;
  const Shape& o = ops.out_shape;
  for (int64_t ox = 0; ox < o.x; ++ox) {
    for (int64_t oy = 0; oy < o.y; ++oy) {
      T* dst = &out[(ox * o.y + oy) * o.c];
      std::fill(dst, dst + o.c, std::numeric_limits<T>::min());
      const int64_t x0 = ox * ops.pool_window.stride_x - ops.pool_x.pad_before;
      const int64_t y0 = oy * ops.pool_window.stride_y - ops.pool_y.pad_before;
      for (int64_t i = std::max<int64_t>(x0, 0); i < std::min(x0 + ops.pool_window.size_x, s.x); ++i)
        for (int64_t j = std::max<int64_t>(y0, 0); j < std::min(y0 + ops.pool_window.size_y, s.y); ++j) {
          const T* src = &in[(i * s.y + j) * s.c];
          for (int64_t f = 0; f < s.c; ++f) dst[f] = std::max(dst[f], src[f]);
        }
    }
  }
}

std::vector<int64_t> max_pool(const PostOps& ops, const std::vector<int64_t>& in) {
  std::vector<int64_t> out(static_cast<size_t>(ops.out_shape.size()));
  runtime::max_pool(ops, in.data(), out.data());  // the pointer overload below
  return out;
}

// The 11-bit intermediate scale-out, then the table read (index = value + kLutSize / 2).
void apply_lut(const PostOps& ops, std::vector<int64_t>& v) {
  const size_t channels = static_cast<size_t>(ops.conv_shape.c);
  for (size_t p = 0; p < v.size(); p += channels)
    for (size_t f = 0; f < channels; ++f) {
      int64_t y = saturate(v[p + f] * ops.lut_scales[f], ops.post_op_buffer_bits);
      y = saturate(apply_shift(y, ops.lut_shift[f]), kLutBits);
      v[p + f] = ops.lut_values[static_cast<size_t>(y + kLutSize / 2)];
    }
}

std::vector<int64_t> global_sum(const PostOps& ops, const std::vector<int64_t>& in) {
  const auto channels = static_cast<size_t>(ops.conv_shape.c);
  // At most 2^27 values of at most 2^31: the sum stays below 2^58.
  std::vector<int64_t> out(channels, 0);
  for (size_t p = 0; p < in.size(); p += channels)
    for (size_t f = 0; f < channels; ++f) out[f] += in[p + f];
  for (auto& v : out) v = saturate(v, ops.buffer_bits);  // [INFERRED] the sum lives in the buffer
  return out;
}

}  // namespace

AKIDA_VECTOR_CLONES
void max_pool(const PostOps& ops, const int64_t* in, int64_t* out) { max_pool_impl(ops, in, out); }

AKIDA_VECTOR_CLONES
void max_pool(const PostOps& ops, const int32_t* in, int32_t* out) { max_pool_impl(ops, in, out); }

PostOps prepare_post_ops(const Layer& layer, const ConvParams& params, const ConvPlan& plan) {
  PostOps ops = prepare_common(layer, plan.conv_out);
  ops.pool = params.pool;
  ops.pool_x = plan.pool_x;
  ops.pool_y = plan.pool_y;
  ops.pool_window = params.pool_window;
  ops.out_shape = plan.out;
  return ops;
}

PostOps prepare_post_ops(const Layer& layer, const Shape& conv_shape) {
  return prepare_common(layer, conv_shape);
}

AKIDA_VECTOR_CLONES
void apply_post_ops(const PostOps& ops, std::vector<int64_t>& acc, std::vector<int32_t>& out) {
  const auto channels = static_cast<size_t>(ops.conv_shape.c);
  // Loops over pixels, then channels (f), rather than i % channels (a division per value),
  // with the saturation bounds computed once: simple loops the compiler vectorizes.
  const int64_t buffer_max = saturate(INT64_MAX, ops.buffer_bits);
  const int64_t buffer_min = saturate(INT64_MIN, ops.buffer_bits);
  const std::vector<int64_t> bias = ops.bias.empty() ? std::vector<int64_t>(channels, 0) : ops.bias;
  for (size_t p = 0; p < acc.size(); p += channels)
    for (size_t f = 0; f < channels; ++f) {
      const int64_t a = std::clamp(acc[p + f], buffer_min, buffer_max);
      acc[p + f] = std::clamp(a + bias[f], buffer_min, buffer_max);
    }
  std::vector<int64_t> pooled;
  std::vector<int64_t>* values = &acc;
  if (ops.pool == PoolType::Max) {
    pooled = max_pool(ops, acc);
    values = &pooled;
  }
  // ReLU before the global sum (Neural > ReLU > GAP, akida-spec §1.3 step 4); max pooling and
  // ReLU commute, so their order does not matter.
  std::vector<int64_t>& v = *values;
  if (ops.relu) {
    for (size_t p = 0; p < v.size(); p += channels)
      for (size_t f = 0; f < channels; ++f) {
        v[p + f] = std::max<int64_t>(v[p + f], 0);
        if (!ops.relu_max.empty()) v[p + f] = std::min(v[p + f], ops.relu_max[f]);
      }
  }
  if (ops.lut) apply_lut(ops, v);  // at the ReLU's place (QuantizeML conv2d body: LUT, then GAP)
  if (ops.pool == PoolType::GlobalAverage) {
    pooled = global_sum(ops, v);
    values = &pooled;
  }
  const std::vector<int64_t>& final_values = *values;
  out.resize(final_values.size());
  for (size_t p = 0; p < final_values.size(); p += channels)
    for (size_t f = 0; f < channels; ++f) {
      int64_t y = final_values[p + f];
      if (ops.scaled) {
        y = saturate(y * ops.output_scales[f], ops.post_op_buffer_bits);
        y = apply_shift(y, ops.output_shift[f]);
      }
      out[p + f] = static_cast<int32_t>(saturate(y, ops.output_bits));
    }
}

void check_accumulator_bound(const Layer& layer, const std::vector<int64_t>& weight_l1,
                             const std::vector<int32_t>& input_shift) {
  const int64_t max_weight_l1 =
      weight_l1.empty() ? 0 : *std::max_element(weight_l1.begin(), weight_l1.end());
  const int32_t max_input_shift =
      input_shift.empty() ? 0 : *std::max_element(input_shift.begin(), input_shift.end());
  // |acc| <= Σ|w| * 2^31 * 2^shift must stay below 2^63.
  const int64_t limit = std::numeric_limits<int64_t>::max() >> (31 + max_input_shift);
  if (max_weight_l1 > limit)
    throw UnsupportedError(layer_context(layer) + ": the sum of |weights| of one output (" +
                           std::to_string(max_weight_l1) + ") with input_shift up to " +
                           std::to_string(max_input_shift) +
                           " could overflow the 64-bit accumulator");
}

}  // namespace akida::runtime
