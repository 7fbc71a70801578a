#include "akida/runtime/geometry.h"

#include <algorithm>

#include "akida/errors.h"
#include "akida/runtime/layer_util.h"

namespace akida::runtime {

namespace {

constexpr int32_t kMaxWindow = 4096;

bool is_v1(const Layer& layer) { return info(layer.kind).ip == IpVersion::v1; }

Padding read_padding(const Layer& layer) {
  const int32_t value = layer.param("padding", 0);
  if (value < 0 || value > 2)
    throw UnsupportedError(layer_context(layer) + ": parameter 'padding' is " +
                           std::to_string(value) + ", expected 0 (Valid), 1 (Same) or 2 (SameUpper)");
  return static_cast<Padding>(value);
}

PoolType read_pool_type(const Layer& layer) {
  const int32_t value = layer.param("pool_type", 0);
  if (value < 0 || value > 2)
    throw UnsupportedError(layer_context(layer) + ": parameter 'pool_type' is " +
                           std::to_string(value) +
                           ", expected 0 (none), 1 (max) or 2 (global average)");
  return static_cast<PoolType>(value);
}

// A pool stride of -1 (or absent, i.e. 0) means "equal to the pool size".
int64_t pool_stride(const Layer& layer, const std::string& key, int64_t size) {
  const int32_t value = layer.param(key, -1);
  if (value == -1 || value == 0) return size;
  return param_in_range(layer, key, 1, kMaxWindow);
}

Window read_kernel(const Layer& layer) {
  Window w;
  if (is_v1(layer)) {
    w.size_x_key = "kernel_width";
    w.size_y_key = "kernel_height";
    w.size_x = param_in_range(layer, "kernel_width", 1, kMaxWindow);
    w.size_y = param_in_range(layer, "kernel_height", 1, kMaxWindow);
    w.stride_x = param_in_range(layer, "stride_x", 1, kMaxWindow);
    w.stride_y = param_in_range(layer, "stride_y", 1, kMaxWindow);
  } else {
    w.size_x_key = w.size_y_key = "kernel_size";
    w.size_x = w.size_y = param_in_range(layer, "kernel_size", 1, kMaxWindow);
    w.stride_x = w.stride_y = param_in_range(layer, "kernel_stride", 1, kMaxWindow);
  }
  return w;
}

Window read_pool_window(const Layer& layer) {
  Window w;
  if (is_v1(layer)) {
    w.size_x_key = "pooling_width";
    w.size_y_key = "pooling_height";
    w.size_x = param_in_range(layer, "pooling_width", 1, kMaxWindow);
    w.size_y = param_in_range(layer, "pooling_height", 1, kMaxWindow);
    w.stride_x = pool_stride(layer, "pooling_stride_x", w.size_x);
    w.stride_y = pool_stride(layer, "pooling_stride_y", w.size_y);
  } else {
    w.size_x_key = w.size_y_key = "pool_size";
    w.size_x = w.size_y = param_in_range(layer, "pool_size", 1, kMaxWindow);
    w.stride_x = w.stride_y = pool_stride(layer, "pool_stride", w.size_x);
  }
  return w;
}

}  // namespace

ConvParams read_conv_params(const Layer& layer) {
  ConvParams params;
  params.kernel = read_kernel(layer);
  params.padding = read_padding(layer);
  params.pool = read_pool_type(layer);
  if (params.pool == PoolType::Max) params.pool_window = read_pool_window(layer);
  return params;
}

Axis plan_axis(const Layer& layer, int64_t in, int64_t size, int64_t stride, Padding padding,
               const std::string& size_key, const char* axis_name) {
  Axis axis;
  axis.in = in;
  if (padding == Padding::Valid) {
    if (size > in)
      throw ShapeError(layer_context(layer) + ": parameter '" + size_key + "' is " +
                       std::to_string(size) + ", larger than the " + axis_name +
                       " dimension of its input (" + std::to_string(in) + ") with Valid padding");
    axis.out = (in - size) / stride + 1;
    return axis;
  }
  axis.out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((axis.out - 1) * stride + size - in, 0);
  // TensorFlow "same" puts the odd extra row/column after (verified on the fixtures,
  // docs/fbz-format.md); SameUpper puts the larger half first (akida-spec §1.1, not verified).
  axis.pad_before = padding == Padding::Same ? total / 2 : total - total / 2;
  return axis;
}

ConvPlan plan_conv(const Layer& layer, const ConvParams& params, const Shape& in,
                   int64_t out_channels) {
  ConvPlan plan;
  const Window& k = params.kernel;
  plan.x = plan_axis(layer, in.x, k.size_x, k.stride_x, params.padding, k.size_x_key, "x");
  plan.y = plan_axis(layer, in.y, k.size_y, k.stride_y, params.padding, k.size_y_key, "y");
  plan.conv_out = {plan.x.out, plan.y.out, out_channels};
  plan.out = plan.conv_out;
  if (params.pool == PoolType::Max) {
    const Window& p = params.pool_window;
    plan.pool_x = plan_axis(layer, plan.conv_out.x, p.size_x, p.stride_x, params.padding,
                            p.size_x_key, "x");
    plan.pool_y = plan_axis(layer, plan.conv_out.y, p.size_y, p.stride_y, params.padding,
                            p.size_y_key, "y");
    plan.out = {plan.pool_x.out, plan.pool_y.out, out_channels};
  } else if (params.pool == PoolType::GlobalAverage) {
    plan.out = {1, 1, out_channels};
  }
  check_tensor_shape(layer, plan.conv_out, "convolution output");
  return plan;
}

Shape declared_input_dims(const Layer& layer) {
  constexpr int32_t kMaxDim = 1 << 24;
  const bool xy_keys = layer.kind == LayerKind::InputConv2D;
  Shape dims;
  dims.x = required_param(layer, xy_keys ? "input_x" : "input_width", 1, kMaxDim);
  dims.y = required_param(layer, xy_keys ? "input_y" : "input_height", 1, kMaxDim);
  dims.c = required_param(layer, "input_channels", 1, kMaxDim);
  check_tensor_shape(layer, dims, "input");
  return dims;
}

void check_tensor_shape(const Layer& layer, const Shape& shape, const char* what) {
  if (shape.x < 1 || shape.y < 1 || shape.c < 1)
    throw ShapeError(layer_context(layer) + ": " + what + " shape " + to_string(shape) +
                     " has an empty dimension");
  // Each factor is checked before multiplying so that the product cannot overflow.
  if (shape.x > kMaxTensorElements || shape.y > kMaxTensorElements ||
      shape.c > kMaxTensorElements || shape.x * shape.y > kMaxTensorElements ||
      shape.size() > kMaxTensorElements)
    throw ShapeError(layer_context(layer) + ": " + what + " shape " + to_string(shape) +
                     " has more than " + std::to_string(kMaxTensorElements) + " values");
}

}  // namespace akida::runtime
