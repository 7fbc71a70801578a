#include "cnn2snn/quantize/qmath.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "akida/errors.h"

namespace cnn2snn::quantize {
namespace {

// Element i of a vector holding one value or one per element (numpy broadcasting of (1,) / (F,)).
template <typename T>
T at(const std::vector<T>& v, size_t i) {
  return v.size() == 1 ? v.front() : v[i];
}

size_t broadcast_size(size_t a, size_t b) { return a == 1 ? b : a; }

// The whole-part bit count of quantize_to_fixed_point: ceil(log2 y), one more when y is exactly
// a power of two (8 needs 4 bits), with y = 0 read as 0.5.
template <typename F>
int whole_bits(F y) {
  if (y == F(0)) y = F(0.5);
  int bits = static_cast<int>(std::ceil(std::log2(y)));
  if (y == static_cast<F>(std::ldexp(1.0, bits))) ++bits;
  return bits;
}

template <typename F>
FixedPoint fixed_point(const std::vector<F>& x, int bitwidth, bool is_signed, bool clamp,
                       bool out_shift) {
  const int mantissa_bits = is_signed ? bitwidth - 1 : bitwidth;
  const double mantissa_min = is_signed ? -std::ldexp(1.0, mantissa_bits) : 0.0;
  const double mantissa_max = std::ldexp(1.0, mantissa_bits) - 1;
  FixedPoint out;
  for (F value : x) {
    if (std::isinf(value))
      throw akida::UnsupportedError("quantize_to_fixed_point: infinite value");
    int frac = mantissa_bits - whole_bits<F>(std::abs(value));
    if (clamp) frac = std::min(frac, mantissa_bits);
    // Akida's output_shift is a 6-bit signed value; ONNX divides by 2^frac (QuantizeML clips).
    if (out_shift) frac = std::clamp(frac, -(1 << 5) + 1, 1 << 5);
    const double scale = std::ldexp(1.0, frac);
    const double m = std::clamp(round_half_even(static_cast<double>(value) * scale), mantissa_min,
                                mantissa_max);
    out.mantissa.push_back(static_cast<int64_t>(m));
    out.scale.push_back(scale);
  }
  return out;
}

}  // namespace

double round_half_even(double x) { return std::nearbyint(x); }

QFloat quantize_to_qfloat(const std::vector<double>& x, int64_t rows, int bitwidth) {
  const size_t n = x.size() / static_cast<size_t>(rows);
  const double int_max = std::ldexp(1.0, bitwidth - 1) - 1;
  const double int_min = -std::ldexp(1.0, bitwidth - 1);
  QFloat out;
  out.values.resize(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    const auto begin = x.begin() + static_cast<std::ptrdiff_t>(r * n);
    double abs_max = 0;
    for (auto it = begin; it != begin + static_cast<std::ptrdiff_t>(n); ++it)
      abs_max = std::max(abs_max, std::abs(*it));
    abs_max = std::max(abs_max, std::ldexp(1.0, -16));
    const double scale = int_max / abs_max;
    for (size_t i = 0; i < n; ++i) {
      const double q = std::clamp(round_half_even(begin[static_cast<std::ptrdiff_t>(i)] * scale),
                                  int_min, int_max);
      out.values[r * n + i] = static_cast<int64_t>(q);
    }
    out.scale.push_back(scale);
  }
  return out;
}

std::vector<int64_t> aligned_quantize(const std::vector<double>& x,
                                      const std::vector<double>& scale, int bitwidth,
                                      bool is_signed) {
  const int value_bits = is_signed ? bitwidth - 1 : bitwidth;
  const size_t n = broadcast_size(x.size(), scale.size());
  std::vector<int64_t> out;
  for (size_t i = 0; i < n; ++i) {
    const double projected = at(x, i) * at(scale, i);
    const double int_bits = std::ceil(std::log2(std::abs(projected + std::ldexp(1.0, -8))));
    // log2(0) is -inf: no shift.
    const int shift = static_cast<int>(std::max(0.0, int_bits - value_bits));
    const auto mantissa = static_cast<int64_t>(round_half_even(projected / std::ldexp(1.0, shift)));
    out.push_back(mantissa * (int64_t{1} << shift));
  }
  return out;
}

FixedPoint quantize_to_fixed_point(const std::vector<double>& x, int bitwidth, bool is_signed,
                                   bool clamp, bool out_shift) {
  return fixed_point(x, bitwidth, is_signed, clamp, out_shift);
}

FixedPoint quantize_to_fixed_point_f32(const std::vector<float>& x, int bitwidth, bool is_signed,
                                       bool clamp, bool out_shift) {
  return fixed_point(x, bitwidth, is_signed, clamp, out_shift);
}

std::vector<float> input_scale_no_zp(const std::vector<float>& lo, const std::vector<float>& hi,
                                     int bitwidth) {
  const auto int_max = static_cast<float>(std::ldexp(1.0, bitwidth - 1) - 1);
  std::vector<float> out;
  for (size_t i = 0; i < lo.size(); ++i) {
    const float range = std::max(std::max(std::abs(lo[i]), std::abs(hi[i])), 1e-7f);
    out.push_back(int_max / range);
  }
  return out;
}

ZeroPointScale input_conv_zp_scale(const std::vector<float>& lo, const std::vector<float>& hi) {
  ZeroPointScale out;
  for (size_t i = 0; i < lo.size(); ++i) {
    if (!(lo[i] < hi[i]))
      throw akida::UnsupportedError("input channel " + std::to_string(i) + ": calibration range [" +
                                    std::to_string(lo[i]) + ", " + std::to_string(hi[i]) +
                                    "] is empty: cannot derive a uint8 input scale");
    float scale = 255.0f / (hi[i] - lo[i]);
    const float zero_point = -static_cast<float>(round_half_even(lo[i] * scale));
    // Akida has no negative zero point: a positive range is quantized as [-hi, hi].
    if (zero_point < 0) scale = 255.0f / hi[i];
    out.scale.push_back(scale);
    out.zero_point.push_back(static_cast<int64_t>(std::max(0.0f, zero_point)));
  }
  return out;
}

Downshift downshift(const std::vector<float>& range_max, const std::vector<double>& i_scale,
                    int bitwidth) {
  // The power of two that brings range_max into `bitwidth` signed bits.
  const FixedPoint target = quantize_to_fixed_point_f32(range_max, bitwidth, true, true, true);
  const size_t n = broadcast_size(range_max.size(), i_scale.size());
  Downshift out;
  for (size_t i = 0; i < n; ++i) {
    const double shift = at(target.scale, i) / at(i_scale, i);
    if (!(shift < std::ldexp(1.0, bitwidth)))
      throw akida::UnsupportedError("cannot rescale inputs to " + std::to_string(bitwidth) +
                                    " bits: the shift " + std::to_string(shift) +
                                    " would saturate (QuantizeML downshift)");
    out.shift.push_back(static_cast<float>(1.0 / shift));  // ONNX divides by S_out
  }
  out.output_scale = target.scale;  // shaped like range_max, as QuantizeML's
  return out;
}

Downscale downscale(const std::vector<float>& range_max, const std::vector<double>& i_scale,
                    bool force_fp, int bitwidth) {
  constexpr int kScaleBits = 8;
  const size_t n = broadcast_size(range_max.size(), i_scale.size());
  Downscale out;
  if (force_fp) {
    // Multiply by 1 / i_scale as an 8-bit fixed point, then shift to a power-of-two scale.
    std::vector<double> inverse;
    for (double s : i_scale) inverse.push_back(1.0 / s);
    const FixedPoint m = quantize_to_fixed_point(inverse, kScaleBits, false, false, false);
    const Downshift shifted = downshift(range_max, m.scale, bitwidth);
    for (size_t i = 0; i < n; ++i) out.scale.push_back(at(m.mantissa, i));
    out.shift = shifted.shift;
    out.output_scale = shifted.output_scale;
    return out;
  }
  // The ideal output scale of a symmetric range, in float32 (TensorData ranges are float32).
  std::vector<float> ideal;
  for (float r : range_max) ideal.push_back(input_scale_no_zp({-r}, {r}, bitwidth).front());
  std::vector<double> ratio;
  for (size_t i = 0; i < n; ++i) ratio.push_back(static_cast<double>(at(ideal, i)) / at(i_scale, i));
  const FixedPoint m = quantize_to_fixed_point(ratio, kScaleBits, false, false, true);
  for (size_t i = 0; i < n; ++i) {
    out.scale.push_back(m.mantissa[i]);
    out.shift.push_back(static_cast<float>(m.scale[i]));
  }
  out.output_scale.assign(ideal.begin(), ideal.end());  // shaped like range_max, as QuantizeML's
  return out;
}

}  // namespace cnn2snn::quantize
