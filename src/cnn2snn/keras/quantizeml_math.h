// QuantizeML's quantization arithmetic, transcribed in float32 (QuantizeML stores every integer
// and every fractional-bit count in float32 TensorFlow tensors). Each function is named after the
// QuantizeML function it mirrors and cites where that is written (QuantizeML ~1.x sources, see
// /work/shared/docs/quantizeml-sources.md). Per-axis quantities are vectors; a vector of one value
// applies to every channel (TensorFlow broadcasting).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace cnn2snn::keras {

using Floats = std::vector<float>;

// Element c of a broadcastable vector (size 1 or > c).
inline float at(const Floats& v, size_t c) { return v.size() == 1 ? v[0] : v[c]; }
// Length of the broadcast of two vectors (1 or the longer one); 0 when incompatible.
size_t broadcast_size(size_t a, size_t b);

// QuantizeML's float arithmetic gave a value that is no integer at all where the model needs one
// (NaN, an infinity, beyond the integer type): degenerate weights or ranges, e.g. a range_max or
// rescaling_rate of 0. The readers catch it and throw akida::FormatError naming the file and the
// layer (converting such a float with static_cast is undefined behaviour).
class NotAnInteger : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// `value` (an integral float) as an int64_t / int32_t; throws NotAnInteger when it is not finite
// or out of range.
int64_t to_int64(float value);
int32_t to_int32(float value);

// qtensor.py pow2: 2.0^n in float32 (n an integer-valued float).
float pow2(float n);
// qtensor.py ceil_log2: ceil(log2(x)); -inf for 0. Computed exactly (see the .cpp: TensorFlow's
// float32 log(x)/log(2) can differ within an ulp of a power of two).
float ceil_log2(float x);
// TensorFlow's tf.math.round: round half to even.
float round_half_to_even(float x);
// qtensor.py saturate: clip to [-2^value_bits, 2^value_bits - 1].
float saturate(float x, int value_bits);
// fixed_point.py FixedPoint.max_frac_bits: value_bits - ceil_log2(range), optionally clamped to
// at most value_bits.
float max_frac_bits(int value_bits, float range, bool clamp = true);
// fixed_point.py FixedPoint.quantize with given frac_bits: saturate(round(x * 2^frac)).
float quantize(float x, int value_bits, float frac_bits);
// fixed_point.py FixedPoint.rescale: floor(values * 2^(frac_to - frac_from) + 0.5), saturated to
// value_bits (a left shift, or a right shift rounding half up).
float rescale(float value, float frac_from, float frac_to, int value_bits);

// weight_quantizer.py WeightQuantizer.call (QFloat branch): per-axis ranges max|w|, scales
// max(range / (2^vb - 1), 1e-6), integer weights saturate(round(w / scale)), frac 0.
struct QuantizedWeights {
  std::vector<int64_t> values;  // same layout as the float weights
  Floats scales;                // one per slice along `axis` (or one)
};
// `shape` is the kernel's; `axis` < 0 counts from the end; per_tensor ignores it.
QuantizedWeights quantize_weights(const Floats& w, const std::vector<int64_t>& shape, int axis,
                                  bool per_tensor, int value_bits);

// aligned_weight_quantizer.py AlignedWeightQuantizer.call: quantize `x` (bias, ReLU max_value,
// padding value) with the scales of the tensor it is added to / compared with (`other_scales`),
// at the most precise frac_bits that fits value_bits but not beyond `other_frac`, then upscale to
// `other_frac`: the result is in the other tensor's integer units.
struct AlignedValues {
  std::vector<int64_t> values;  // per element of the broadcast of x and the scales
  Floats shift;                 // other_frac - frac, per element
};
// per_tensor_range: bitwidth <= 4 (one range for all) as QuantizeML chooses; otherwise one range
// per element of x.
AlignedValues quantize_aligned(const Floats& x, int value_bits, bool per_tensor_range,
                               const Floats& other_scales, const Floats& other_frac,
                               int other_value_bits);

// qfloat.py QFloat.quantize_scales: FixedPoint.quantize(scales, scale_bits,
// max_frac_bits(scale_bits, scales, clamp=False)); returns the integer scales and their frac.
struct QuantizedScales {
  Floats values;
  Floats frac;
};
QuantizedScales quantize_scales(const Floats& scales, int scale_bits);

}  // namespace cnn2snn::keras
