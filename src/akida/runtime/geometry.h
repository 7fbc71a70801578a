// Window geometry of convolution-like layers (kernel and pooling windows, padding), shared by
// the shape inference and the kernels so that both always agree.
#pragma once

#include <cstdint>
#include <string>

#include "akida/model.h"
#include "akida/shapes.h"

namespace akida::runtime {

// Values of the `padding` parameter.
enum class Padding : int32_t { Valid = 0, Same = 1, SameUpper = 2 };
// Values of the `pool_type` parameter. Average is a *global* average in Akida (1.0 and 2.0).
enum class PoolType : int32_t { None = 0, Max = 1, GlobalAverage = 2 };

// A 2-D window: sizes and strides along x (first spatial axis, rows) and y. The key names are
// kept for error messages (they differ between Akida 1.0 and 2.0 layers).
struct Window {
  int64_t size_x = 1, size_y = 1, stride_x = 1, stride_y = 1;
  std::string size_x_key, size_y_key;
};

struct ConvParams {
  Window kernel;
  Padding padding = Padding::Valid;
  PoolType pool = PoolType::None;
  Window pool_window;  // meaningful when pool == Max
};

// Reads kernel/padding/pooling parameters with the key names of the layer's generation
// (2.0: kernel_size, kernel_stride, pool_size, pool_stride; 1.0: kernel_width/height,
// stride_x/y, pooling_width/height, pooling_stride_x/y). A pool stride of -1 means "the pool size".
// Throws ShapeError (bad value) or UnsupportedError (unknown padding / pool type) naming the field.
ConvParams read_conv_params(const Layer& layer);

// One spatial axis of a sliding window: its output length and the padding inserted before it.
struct Axis {
  int64_t in = 0, out = 0, pad_before = 0;
};
// Same: out = ceil(in / stride), total pad = max((out - 1) * stride + size - in, 0), the smaller
// half before (SameUpper: the larger half before). Valid: out = (in - size) / stride + 1.
// Throws ShapeError naming the layer and `size_key` when a Valid window is larger than `in`.
Axis plan_axis(const Layer& layer, int64_t in, int64_t size, int64_t stride, Padding padding,
               const std::string& size_key, const char* axis_name);

// The geometry of a whole conv-like layer: the convolution output (before pooling) and the final
// output (after max or global-average pooling; pooling pads like the convolution).
struct ConvPlan {
  Axis x, y;            // convolution axes
  Axis pool_x, pool_y;  // max-pooling axes over the convolution output
  Shape conv_out;       // before pooling
  Shape out;            // after pooling
};
ConvPlan plan_conv(const Layer& layer, const ConvParams& params, const Shape& in,
                   int64_t out_channels);

// The dims an input layer (InputData, InputConv2D, InputConvolutional) declares: InputConv2D
// names them input_x / input_y; InputData and InputConvolutional input_width (x, the rows) /
// input_height (y). Throws ShapeError naming the layer and the missing or invalid field.
Shape declared_input_dims(const Layer& layer);

// Largest number of values one layer output may hold: a guard against hostile parameters
// that would make the runtime allocate gigabytes.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 27;
// Throws ShapeError naming the layer when a dimension is < 1 or the shape is too large.
void check_tensor_shape(const Layer& layer, const Shape& shape, const char* what);

}  // namespace akida::runtime
