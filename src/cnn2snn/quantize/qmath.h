// QuantizeML's ONNX quantization arithmetic (quantizeml/onnx_support/quantization/core and the
// layers' __quantize__), element for element, in the precisions numpy gives it.
//
// Sources (read for facts, docs/quantizer.md lists them): quantize_to_qfloat,
// quantize_to_fixed_point, dequantize (core/weights.py), aligned_quantize, fold_zero_point
// (core/fixed_point.py), downscale / downscale_qf / downscale_fp / downshift (core/outputs.py),
// input_scale_no_zp, _input_conv_zp_scale (core/input_scale.py). numpy computes in float64
// except where its inputs are float32 arrays: calibration ranges are onnxruntime TensorData,
// which must be float32, so range-derived "ideal" scales are float32 divisions (numpy 2 keeps a
// Python scalar's operation in the array's float32).
//
// Rounding: np.round is round-half-to-even (std::nearbyint in the default rounding mode).
#pragma once

#include <cstdint>
#include <vector>

namespace cnn2snn::quantize {

// quantize_to_qfloat(x, bitwidth, signed=True, axis=0): x holds `rows` rows (axis 0) of equal
// length; per row, abs_max = max(max|x|, 2^-16), scale = (2^(b-1) - 1) / abs_max,
// q = clip(round(x * scale), -2^(b-1), 2^(b-1) - 1).
struct QFloat {
  std::vector<int64_t> values;
  std::vector<double> scale;  // per row
};
QFloat quantize_to_qfloat(const std::vector<double>& x, int64_t rows, int bitwidth);

// aligned_quantize(x, scale, bitwidth, signed): p = x * scale;
// shift = max(0, ceil(log2|p + 2^-8|) - (bitwidth - signed)); q = round(p / 2^shift) << shift.
std::vector<int64_t> aligned_quantize(const std::vector<double>& x,
                                      const std::vector<double>& scale, int bitwidth, bool is_signed);

// quantize_to_fixed_point(x, bitwidth, signed, clamp, axis=0, out_shift) on 1-D x (one value per
// element): the mantissa and the power-of-two scale 2^frac_bits of each value.
struct FixedPoint {
  std::vector<int64_t> mantissa;
  std::vector<double> scale;  // 2^frac_bits
};
FixedPoint quantize_to_fixed_point(const std::vector<double>& x, int bitwidth, bool is_signed,
                                   bool clamp, bool out_shift);
// The same on float32 values (numpy keeps log2 and comparisons in float32 then).
FixedPoint quantize_to_fixed_point_f32(const std::vector<float>& x, int bitwidth, bool is_signed,
                                       bool clamp, bool out_shift);

// The integer output stage of a layer: y = clip(floor(acc / shift * scale + 1/2)), and the float
// scale of y (float = int / output_scale).
struct Downscale {
  std::vector<int64_t> scale;      // M (uint8 values)
  std::vector<float> shift;        // S_out, a power of two (a divisor)
  std::vector<double> output_scale;
};
// downscale(range_max, i_scale, force_fp, bitwidth): downscale_qf, or downscale_fp when force_fp
// (the output scale must be a power of two, as an Add's inputs need). range_max holds one value
// or one per i_scale element.
Downscale downscale(const std::vector<float>& range_max, const std::vector<double>& i_scale,
                    bool force_fp, int bitwidth);
// downshift(range_max, i_scale, bitwidth): the power-of-two division S_out that brings a tensor
// of power-of-two scale i_scale into `bitwidth` bits; {S_out, output scale}. Throws
// akida::UnsupportedError when the shift would reach 2^bitwidth (QuantizeML's "Cannot rescale
// inputs ... as it will saturate").
struct Downshift {
  std::vector<float> shift;
  std::vector<double> output_scale;
};
Downshift downshift(const std::vector<float>& range_max, const std::vector<double>& i_scale,
                    int bitwidth);

// input_scale_no_zp: (2^(b-1) - 1) / max(|lo|, |hi|, 1e-7), in float32.
std::vector<float> input_scale_no_zp(const std::vector<float>& lo, const std::vector<float>& hi,
                                     int bitwidth);
// _input_conv_zp_scale: uint8 inputs, scale = 255 / (hi - lo), zero point -round(lo * scale);
// a negative zero point (lo > 0) gives scale 255 / hi and zero point 0. Throws
// akida::UnsupportedError when a channel has lo >= hi.
struct ZeroPointScale {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
};
ZeroPointScale input_conv_zp_scale(const std::vector<float>& lo, const std::vector<float>& hi);

double round_half_even(double x);

}  // namespace cnn2snn::quantize
