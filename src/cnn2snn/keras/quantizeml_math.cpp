#include "cnn2snn/keras/quantizeml_math.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <limits>
#include <string>

namespace cnn2snn::keras {

size_t broadcast_size(size_t a, size_t b) {
  if (a == b || b == 1) return a;
  if (a == 1) return b;
  return 0;
}

namespace {
template <typename Int>
Int to_integer(float value) {
  // The bounds are powers of two, exact as floats: [min, -min) is what converts.
  constexpr float lo = static_cast<float>(std::numeric_limits<Int>::min());
  if (!(value >= lo && value < -lo))
    throw NotAnInteger("a value derived by QuantizeML's arithmetic is " + std::to_string(value) +
                       ", not an integer of " + std::to_string(sizeof(Int) * 8) +
                       " bits (degenerate weights or quantizer ranges?)");
  return static_cast<Int>(value);
}
}  // namespace

int64_t to_int64(float value) { return to_integer<int64_t>(value); }
int32_t to_int32(float value) { return to_integer<int32_t>(value); }

float pow2(float n) {
  if (std::isnan(n)) return n;
  // Beyond +-1000 the result is infinite or 0 anyway; the int conversion needs a bounded value.
  if (n > 1000.0f) return std::numeric_limits<float>::infinity();
  if (n < -1000.0f) return 0.0f;
  return std::ldexp(1.0f, static_cast<int>(n));
}

// TensorFlow computes log2 as float32 log(x) / log(2) (tf.experimental.numpy.log2 on Eigen's
// vectorized log), which is not exact near powers of two: e.g. for x one ulp above 2^3 a
// correctly rounded float32 log gives 3.0, so ceil gives 3 where the exact answer is 4, and at
// x = 2^13 it gives 13.000001 -> 14. Eigen's own rounding is not reproducible here, so this takes
// the exact value (frexp): results differ from TensorFlow only for ratios within about one float32
// ulp of a power of two.
float ceil_log2(float x) {
  if (std::isnan(x) || x < 0.0f) return std::numeric_limits<float>::quiet_NaN();
  if (x == 0.0f) return -std::numeric_limits<float>::infinity();
  if (std::isinf(x)) return x;
  int exponent = 0;
  const float mantissa = std::frexp(x, &exponent);  // x = mantissa * 2^exponent, [0.5, 1)
  return static_cast<float>(mantissa == 0.5f ? exponent - 1 : exponent);
}

float round_half_to_even(float x) {
  // tf.math.round rounds half to even, which is nearbyint in the default rounding mode.
  if (std::fegetround() != FE_TONEAREST) std::fesetround(FE_TONEAREST);
  return std::nearbyint(x);
}

float saturate(float x, int value_bits) {
  const float int_max = std::ldexp(1.0f, value_bits);
  return std::clamp(x, -int_max, int_max - 1.0f);
}

float max_frac_bits(int value_bits, float range, bool clamp) {
  const float bits = static_cast<float>(value_bits);
  const float frac = bits - ceil_log2(range);
  return clamp ? std::min(frac, bits) : frac;
}

float quantize(float x, int value_bits, float frac_bits) {
  const float scaled = x * pow2(frac_bits);  // tf.math.multiply(x, pow2(frac_bits))
  return saturate(round_half_to_even(scaled), value_bits);
}

float rescale(float value, float frac_from, float frac_to, int value_bits) {
  const float shifted = value * pow2(frac_to - frac_from);
  return saturate(std::floor(shifted + 0.5f), value_bits);  // floor_through(values + 0.5)
}

QuantizedWeights quantize_weights(const Floats& w, const std::vector<int64_t>& shape, int axis,
                                  bool per_tensor, int value_bits) {
  const auto rank = static_cast<int>(shape.size());
  const int a = axis < 0 ? axis + rank : axis;
  // Elements of slice c along `a` sit at (index / inner) % shape[a].
  int64_t inner = 1;
  for (int i = a + 1; i < rank; ++i) inner *= shape[static_cast<size_t>(i)];
  const int64_t channels = per_tensor ? 1 : shape[static_cast<size_t>(a)];
  auto channel_of = [&](size_t i) {
    return per_tensor ? size_t{0} : static_cast<size_t>((static_cast<int64_t>(i) / inner) % channels);
  };
  Floats ranges(static_cast<size_t>(channels), 0.0f);
  for (size_t i = 0; i < w.size(); ++i)
    ranges[channel_of(i)] = std::max(ranges[channel_of(i)], std::fabs(w[i]));
  QuantizedWeights q;
  // QFloat.optimal_scales: range / int_max, then tf.maximum(scales, 1e-6) (float32(1e-6)).
  const auto int_max = static_cast<float>((int64_t{1} << value_bits) - 1);
  for (float r : ranges) q.scales.push_back(std::max(r / int_max, 1e-6f));
  q.values.resize(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    const float scaled = w[i] / q.scales[channel_of(i)];  // QFloat.quantize: x / scales
    q.values[i] = to_int64(quantize(scaled, value_bits, 0.0f));
  }
  return q;
}

AlignedValues quantize_aligned(const Floats& x, int value_bits, bool per_tensor_range,
                               const Floats& other_scales, const Floats& other_frac,
                               int other_value_bits) {
  const size_t n = broadcast_size(broadcast_size(x.size(), other_scales.size()), other_frac.size());
  float tensor_range = 0.0f;
  for (float v : x) tensor_range = std::max(tensor_range, std::fabs(v));
  AlignedValues out;
  for (size_t c = 0; c < n; ++c) {
    const float range = per_tensor_range ? tensor_range : std::fabs(at(x, c));
    const float scale = at(other_scales, c);
    // QFloat.max_frac_bits(ranges / scales), then clamped to the other tensor's frac_bits.
    const float frac = std::min(max_frac_bits(value_bits, range / scale), at(other_frac, c));
    const float q = quantize(at(x, c) / scale, value_bits, frac);
    // QFloat.upscale(other_frac, other_value_bits)
    out.values.push_back(to_int64(rescale(q, frac, at(other_frac, c), other_value_bits)));
    out.shift.push_back(at(other_frac, c) - frac);
  }
  return out;
}

QuantizedScales quantize_scales(const Floats& scales, int scale_bits) {
  QuantizedScales q;
  for (float s : scales) {
    const float frac = max_frac_bits(scale_bits, s, /*clamp=*/false);
    q.frac.push_back(frac);
    q.values.push_back(quantize(s, scale_bits, frac));
  }
  return q;
}

}  // namespace cnn2snn::keras
