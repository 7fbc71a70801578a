// The per-sample arithmetic of every block kind, written as the definitions read (one loop per
// formula), in int64. prepare.cpp has already checked that no sum, product or shift below can
// overflow int64 for any input the graph accepts, so nothing here needs a runtime overflow test.
#include <algorithm>
#include <cmath>

#include "akida/errors.h"
#include "cnn2snn/evaluator/evaluator_internal.h"

namespace cnn2snn::evaluator_detail {

int64_t saturate(int64_t value, int64_t lo, int64_t hi) { return std::clamp(value, lo, hi); }
int64_t signed_min(int bits) { return -(int64_t{1} << (bits - 1)); }
int64_t signed_max(int bits) { return (int64_t{1} << (bits - 1)) - 1; }
int64_t saturate_signed(int64_t value, int bits) {
  return saturate(value, signed_min(bits), signed_max(bits));
}

double round_half_to_even(double value) {
  const double below = std::floor(value);
  const double fraction = value - below;
  if (fraction < 0.5) return below;
  if (fraction > 0.5) return below + 1.0;
  return std::fmod(below, 2.0) == 0.0 ? below : below + 1.0;  // a tie: the even neighbour
}

namespace {

using akida::Shape;

size_t at(const Shape& s, int64_t x, int64_t y, int64_t c) {
  return static_cast<size_t>((x * s.y + y) * s.c + c);
}

// x[..., c] << input_shift[c]. (C++20 defines << on negative values as multiplication by 2^s.)
std::vector<int64_t> shift_input(const PreparedBlock& p, const std::vector<int64_t>& input) {
  const auto channels = static_cast<size_t>(p.input_shapes[0].c);
  std::vector<int64_t> shifted(input.size());
  for (size_t i = 0; i < input.size(); ++i) shifted[i] = input[i] << p.input_shift[i % channels];
  return shifted;
}

// Input position of output position `out` and kernel tap `tap`, possibly in the padding.
int64_t input_position(const Window& w, int64_t out, int64_t tap) {
  return out * w.stride + tap - w.pad_before;
}
bool inside(const Window& w, int64_t position) { return position >= 0 && position < w.in; }

// Correlation (no kernel flip) with weights (kx, ky, C, F); padded positions hold
// padding_value[c] (zeros unless InputConv2D).
std::vector<int64_t> conv2d(const PreparedBlock& p, const std::vector<int64_t>& x) {
  const Shape in = p.input_shapes[0], out = p.neural_shape;
  const std::vector<int64_t>& w = p.block->weights.values;
  const int64_t ky_size = p.conv_y.size, channels = in.c, filters = out.c;
  std::vector<int64_t> acc(static_cast<size_t>(out.size()), 0);
  for (int64_t ox = 0; ox < out.x; ++ox) {
    for (int64_t oy = 0; oy < out.y; ++oy) {
      int64_t* sums = &acc[at(out, ox, oy, 0)];
      for (int64_t kx = 0; kx < p.conv_x.size; ++kx) {
        const int64_t ix = input_position(p.conv_x, ox, kx);
        for (int64_t ky = 0; ky < ky_size; ++ky) {
          const int64_t iy = input_position(p.conv_y, oy, ky);
          const bool in_image = inside(p.conv_x, ix) && inside(p.conv_y, iy);
          for (int64_t c = 0; c < channels; ++c) {
            const int64_t value =
                in_image ? x[at(in, ix, iy, c)] : p.padding_value[static_cast<size_t>(c)];
            const int64_t* taps =
                &w[static_cast<size_t>(((kx * ky_size + ky) * channels + c) * filters)];
            for (int64_t f = 0; f < filters; ++f) sums[f] += value * taps[f];
          }
        }
      }
    }
  }
  return acc;
}

// Per-channel correlation with weights (kx, ky, C); padded positions hold 0.
std::vector<int64_t> depthwise_conv2d(const PreparedBlock& p, const std::vector<int64_t>& x) {
  const Shape in = p.input_shapes[0], out = p.neural_shape;
  const std::vector<int64_t>& w = p.block->weights.values;
  const int64_t ky_size = p.conv_y.size, channels = in.c;
  std::vector<int64_t> acc(static_cast<size_t>(out.size()), 0);
  for (int64_t ox = 0; ox < out.x; ++ox) {
    for (int64_t oy = 0; oy < out.y; ++oy) {
      for (int64_t kx = 0; kx < p.conv_x.size; ++kx) {
        const int64_t ix = input_position(p.conv_x, ox, kx);
        for (int64_t ky = 0; ky < ky_size; ++ky) {
          const int64_t iy = input_position(p.conv_y, oy, ky);
          if (!inside(p.conv_x, ix) || !inside(p.conv_y, iy)) continue;  // zero padding
          for (int64_t c = 0; c < channels; ++c)
            acc[at(out, ox, oy, c)] +=
                x[at(in, ix, iy, c)] * w[static_cast<size_t>((kx * ky_size + ky) * channels + c)];
        }
      }
    }
  }
  return acc;
}

// QuantizedSeparableConv2D: the exact depthwise sums (per channel, zero padding), then a 1x1
// convolution with the pointwise kernel (C, F); nothing is rounded or saturated in between.
std::vector<int64_t> separable_conv2d(const PreparedBlock& p, const std::vector<int64_t>& x) {
  PreparedBlock depthwise = p;  // the depthwise pass sees its own (kx, ky, C) output shape
  depthwise.neural_shape.c = p.input_shapes[0].c;
  const std::vector<int64_t> dw = depthwise_conv2d(depthwise, x);
  const std::vector<int64_t>& w = p.block->pointwise_weights.values;
  const int64_t channels = p.input_shapes[0].c, filters = p.neural_shape.c;
  const int64_t positions = p.neural_shape.x * p.neural_shape.y;
  std::vector<int64_t> acc(static_cast<size_t>(positions * filters), 0);
  for (int64_t pos = 0; pos < positions; ++pos)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t value = dw[static_cast<size_t>(pos * channels + c)];
      for (int64_t f = 0; f < filters; ++f)
        acc[static_cast<size_t>(pos * filters + f)] += value * w[static_cast<size_t>(c * filters + f)];
    }
  return acc;
}

// The (x, y, c)-flattened input times weights (X, F).
std::vector<int64_t> dense(const PreparedBlock& p, const std::vector<int64_t>& x) {
  const std::vector<int64_t>& w = p.block->weights.values;
  const auto filters = static_cast<size_t>(p.neural_shape.c);
  std::vector<int64_t> acc(filters, 0);
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t f = 0; f < filters; ++f) acc[f] += x[i] * w[i * filters + f];
  return acc;
}

// The new frame enters as the newest (back); the oldest (front) leaves.
void push_frame(PreparedBlock& p, std::vector<int64_t> frame) {
  p.fifo.pop_front();
  p.fifo.push_back(std::move(frame));
}

// out[x, y, f] = sum over t, c of W[t, c, f] * fifo[t][x, y, c], t = 0 the oldest frame.
std::vector<int64_t> buffer_temp_conv(const PreparedBlock& p) {
  const Shape in = p.input_shapes[0], out = p.neural_shape;
  const std::vector<int64_t>& w = p.block->weights.values;
  const int64_t channels = in.c, filters = out.c;
  std::vector<int64_t> acc(static_cast<size_t>(out.size()), 0);
  for (int64_t pos = 0; pos < in.x * in.y; ++pos) {
    for (size_t t = 0; t < p.fifo.size(); ++t) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t value = p.fifo[t][static_cast<size_t>(pos * channels + c)];
        for (int64_t f = 0; f < filters; ++f)
          acc[static_cast<size_t>(pos * filters + f)] +=
              value *
              w[static_cast<size_t>((static_cast<int64_t>(t) * channels + c) * filters + f)];
      }
    }
  }
  return acc;
}

// out[x, y, c] = sum over t of W[t, c] * fifo[t][x, y, c].
std::vector<int64_t> depthwise_buffer_temp_conv(const PreparedBlock& p) {
  const Shape in = p.input_shapes[0];
  const std::vector<int64_t>& w = p.block->weights.values;
  const int64_t channels = in.c;
  std::vector<int64_t> acc(static_cast<size_t>(in.size()), 0);
  for (size_t i = 0; i < acc.size(); ++i) {
    const auto c = static_cast<int64_t>(i) % channels;
    for (size_t t = 0; t < p.fifo.size(); ++t)
      acc[i] += p.fifo[t][i] * w[static_cast<size_t>(static_cast<int64_t>(t) * channels + c)];
  }
  return acc;
}

// Max over the window's positions inside the input (padded positions take no part).
std::vector<int64_t> max_pool(const PreparedBlock& p, const std::vector<int64_t>& acc) {
  const Shape in = p.neural_shape;
  const Shape out{p.pool_x.out, p.pool_y.out, in.c};
  std::vector<int64_t> pooled(static_cast<size_t>(out.size()), INT64_MIN);
  for (int64_t ox = 0; ox < out.x; ++ox)
    for (int64_t oy = 0; oy < out.y; ++oy)
      for (int64_t kx = 0; kx < p.pool_x.size; ++kx)
        for (int64_t ky = 0; ky < p.pool_y.size; ++ky) {
          const int64_t ix = input_position(p.pool_x, ox, kx);
          const int64_t iy = input_position(p.pool_y, oy, ky);
          if (!inside(p.pool_x, ix) || !inside(p.pool_y, iy)) continue;
          for (int64_t c = 0; c < in.c; ++c) {
            int64_t& best = pooled[at(out, ox, oy, c)];
            best = std::max(best, acc[at(in, ix, iy, c)]);
          }
        }
  return pooled;  // every TF window holds an input position, so no INT64_MIN survives
}

void apply_relu(const PreparedBlock& p, std::vector<int64_t>& values, int64_t channels) {
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t hi =
        p.relu_max.empty() ? INT64_MAX : p.relu_max[i % static_cast<size_t>(channels)];
    values[i] = saturate(values[i], 0, hi);
  }
}

// Sum over (x, y) per channel: the 1/(x*y) of an average lives in the output scale.
std::vector<int64_t> global_sum(const std::vector<int64_t>& values, int64_t channels) {
  std::vector<int64_t> sums(static_cast<size_t>(channels), 0);
  for (size_t i = 0; i < values.size(); ++i) sums[i % static_cast<size_t>(channels)] += values[i];
  return sums;
}

// y = sat(acc * scale, post_op_buffer_bits); shift < 0: (y + 2^(k-1)) >> k with k = -shift
// (arithmetic shift, so round half up, towards +inf); shift > 0: y << shift; then saturate to
// the output range.
int64_t apply_output_stage(const OutputStage& stage, int64_t acc, int64_t scale, int64_t shift) {
  int64_t y = saturate_signed(acc * scale, stage.post_op_buffer_bits);
  if (shift < 0) {
    const int64_t k = -shift;
    y = (y + (int64_t{1} << (k - 1))) >> k;
  } else if (shift > 0) {
    // Outputs are at most 32 bits wide: any |y| >= 2^31 shifted left by >= 1 saturates, so
    // clamping to +-2^31 first changes no result and keeps y << 31 below 2^63.
    y = saturate(y, -(int64_t{1} << 31), int64_t{1} << 31) << shift;
  }
  if (stage.output_signed) return saturate_signed(y, stage.output_bits);
  return saturate(y, 0, (int64_t{1} << stage.output_bits) - 1);
}

// LUT: the intermediate scale-out (the output-stage arithmetic, saturated to its signed
// output_bits), then the table entry of that value, the table being ordered from -2^(bits-1).
void apply_lut(const PreparedBlock& p, std::vector<int64_t>& values, int64_t channels) {
  const LutActivation& lut = *p.block->lut;
  const int64_t offset = int64_t{1} << (lut.scale_out.output_bits - 1);
  for (size_t i = 0; i < values.size(); ++i) {
    const size_t c = i % static_cast<size_t>(channels);
    const int64_t index =
        apply_output_stage(lut.scale_out, values[i], p.lut_scale[c], p.lut_shift[c]) + offset;
    values[i] = lut.table[static_cast<size_t>(index)];
  }
}

// Legacy activation: the number of the channel's level boundaries the value reaches.
void apply_levels(const PreparedBlock& p, std::vector<int64_t>& values, int64_t channels) {
  const auto& boundaries = p.block->levels->boundaries;
  for (size_t i = 0; i < values.size(); ++i) {
    const std::vector<int64_t>& b =
        boundaries.size() == 1 ? boundaries.front() : boundaries[i % static_cast<size_t>(channels)];
    values[i] = std::upper_bound(b.begin(), b.end(), values[i]) - b.begin();
  }
}

// The output stage per channel, or, without one, the accumulator saturated to buffer_bits.
void apply_output(const PreparedBlock& p, std::vector<int64_t>& values, int64_t channels) {
  const Block& block = *p.block;
  for (size_t i = 0; i < values.size(); ++i) {
    const size_t c = i % static_cast<size_t>(channels);
    values[i] = block.output ? apply_output_stage(*block.output, values[i], p.scale[c], p.shift[c])
                             : saturate_signed(values[i], block.buffer_bits);
  }
}

std::vector<int64_t> neural_op(PreparedBlock& p, const std::vector<int64_t>& input) {
  std::vector<int64_t> x = shift_input(p, input);
  switch (p.block->kind) {
    case BlockKind::InputConv2D:
    case BlockKind::Conv2D: return conv2d(p, x);
    case BlockKind::DepthwiseConv2D: return depthwise_conv2d(p, x);
    case BlockKind::SeparableConv2D: return separable_conv2d(p, x);
    case BlockKind::Dense: return dense(p, x);
    case BlockKind::BufferTempConv: push_frame(p, std::move(x)); return buffer_temp_conv(p);
    case BlockKind::DepthwiseBufferTempConv:
      push_frame(p, std::move(x));
      return depthwise_buffer_temp_conv(p);
    default: break;
  }
  return {};
}

std::vector<int64_t> eval_neural(PreparedBlock& p, const std::vector<int64_t>& input) {
  const Block& block = *p.block;
  std::vector<int64_t> acc = neural_op(p, input);
  const int64_t channels = p.neural_shape.c;
  for (size_t i = 0; i < acc.size(); ++i) {
    const int64_t bias = p.bias[i % static_cast<size_t>(channels)];
    acc[i] = saturate_signed(saturate_signed(acc[i], block.buffer_bits) + bias, block.buffer_bits);
  }
  if (block.pool.kind == PoolKind::Max) acc = max_pool(p, acc);
  // Akida 1.0 blocks sum before the ReLU (QConv2D > QGAP > QReLU), Akida 2.0 ones after it.
  const bool sum_first = block.pool.kind == PoolKind::GlobalAverage && block.global_pool_before_relu;
  if (sum_first) acc = global_sum(acc, channels);
  if (block.relu) apply_relu(p, acc, channels);
  if (block.lut) apply_lut(p, acc, channels);  // at the ReLU's place, before the global sum
  if (block.levels) apply_levels(p, acc, channels);
  if (block.pool.kind == PoolKind::GlobalAverage && !sum_first) acc = global_sum(acc, channels);
  apply_output(p, acc, channels);
  return acc;
}

std::vector<int64_t> eval_add(const PreparedBlock& p, const std::vector<int64_t>& a,
                              const std::vector<int64_t>& b) {
  const Block& block = *p.block;
  const auto channels = static_cast<size_t>(p.output_shape.c);
  std::vector<int64_t> sum(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const size_t c = i % channels;
    sum[i] = saturate_signed((a[i] << p.a_shift[c]) + (b[i] << p.b_shift[c]), block.buffer_bits);
  }
  if (block.relu) apply_relu(p, sum, p.output_shape.c);
  apply_output(p, sum, p.output_shape.c);
  return sum;
}

std::vector<int64_t> eval_concatenate(const PreparedBlock& p,
                                      const std::vector<const std::vector<int64_t>*>& inputs) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(p.output_shape.size()));
  const int64_t positions = p.output_shape.x * p.output_shape.y;
  for (int64_t pos = 0; pos < positions; ++pos)
    for (size_t i = 0; i < inputs.size(); ++i) {
      const auto channels = static_cast<size_t>(p.input_shapes[i].c);
      const auto first = inputs[i]->begin() + static_cast<std::ptrdiff_t>(pos * channels);
      out.insert(out.end(), first, first + static_cast<std::ptrdiff_t>(channels));
    }
  return out;
}

}  // namespace

std::vector<int64_t> eval_block(PreparedBlock& block,
                                const std::vector<const std::vector<int64_t>*>& inputs) {
  switch (block.block->kind) {
    case BlockKind::Add: return eval_add(block, *inputs[0], *inputs[1]);
    case BlockKind::Concatenate: return eval_concatenate(block, inputs);
    case BlockKind::Dequantizer: break;
    default: return eval_neural(block, *inputs[0]);
  }
  throw akida::UnsupportedError(block.block->name + ": a Dequantizer has no integer output");
}

std::vector<float> eval_dequantizer(const PreparedBlock& block, const std::vector<int64_t>& input) {
  const auto channels = static_cast<size_t>(block.output_shape.c);
  std::vector<float> out(input.size());
  // float32 throughout, as QuantizeML's Dequantizer and the ONNX Cast + Mul compute it.
  if (!block.dequant_divisors.empty()) {
    // Legacy CNN2SNN: the quotient in double, rounded once (Akida 1.0's predict() does the same).
    for (size_t i = 0; i < input.size(); ++i)
      out[i] = static_cast<float>(static_cast<double>(input[i]) /
                                  static_cast<double>(block.dequant_divisors[i % channels]));
    return out;
  }
  for (size_t i = 0; i < input.size(); ++i)
    out[i] = static_cast<float>(input[i]) * block.dequant_scales[i % channels];
  return out;
}

}  // namespace cnn2snn::evaluator_detail
