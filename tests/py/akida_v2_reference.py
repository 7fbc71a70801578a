"""Straightforward numpy reference of Akida 2.0 integer inference (test oracle).

Written from ``docs/fbz-format.md`` ("Verified Akida 2.0 arithmetic") and ``akida-spec.md``
§1.3 / §7, with no code shared with the C++ runtime under test.  It favours readability over
speed: every intermediate is an int64 numpy array, and each step of the documented per-layer
pipeline is one line below.

Per compute layer (Conv2D, DepthwiseConv2D, InputConv2D, Dense1D):

    x      = x << input_shift[c]                      (per input channel, when the variable exists)
    acc    = conv(x, w)  -> saturate(buffer_bits)     (InputConv2D correlates with the stored kernel;
                                                       Conv2D / DepthwiseConv2D convolve, i.e.
                                                       correlate with the kernel rotated 180 deg)
    acc    = acc + (bias << bias_shift) -> saturate(buffer_bits)
    acc    = maxpool(acc)                             (pool_type 1)
    acc    = clip(acc, 0, max_value << max_value_shift)   (activation 1 = ReLU)
    acc    = sum over x, y                            (pool_type 2 = global average, 1/(H*W) is
                                                       folded into output_scales)
    y      = acc * output_scales -> saturate(post_op_buffer_bits)
    y      = (y + 2^(k-1)) >> k   if output_shift = -k < 0,   y << s if output_shift = s > 0
    out    = saturate(y, output_bits)                 (signed)
    (a layer without output_scales outputs its accumulator unchanged)

Tensors are (N, X, Y, C) with X the first spatial axis.
"""

import numpy as np

from fbz_oracle import FbzModel, Layer

# layer_type codes observed in .fbz files (fbz-format.md)
INPUT_DATA = 1
CONV2D = 14
INPUT_CONV2D = 15
DEPTHWISE_CONV2D = 16
DEQUANTIZER = 19
DENSE1D = 25

ACT_RELU = 1
PAD_SAME = 1
POOL_MAX = 1
POOL_GLOBAL_AVG = 2


def saturate_signed(x: np.ndarray, bits: int) -> np.ndarray:
    lo = -(1 << (bits - 1))
    hi = (1 << (bits - 1)) - 1
    return np.clip(x, lo, hi)


def same_padding(size: int, kernel: int, stride: int):
    """TensorFlow SAME: output ceil(size/stride); the smaller half of the padding goes before."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    before = total // 2
    return out, before, total - before


def pad_spatial(x: np.ndarray, kernel: int, stride: int, same: bool, pad_values=None):
    """Pad axes 1 and 2 of an (N, X, Y, C) tensor for a kernel/stride.

    pad_values: per-channel value of padded positions (InputConv2D's padding_value), else 0.
    """
    n, sx, sy, c = x.shape
    if not same:
        return x
    _, bx, ax = same_padding(sx, kernel, stride)
    _, by, ay = same_padding(sy, kernel, stride)
    padded = np.empty((n, sx + bx + ax, sy + by + ay, c), dtype=np.int64)
    padded[...] = 0 if pad_values is None else np.asarray(pad_values, dtype=np.int64)
    padded[:, bx:bx + sx, by:by + sy, :] = x
    return padded


def windows(padded: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """All kernel x kernel windows at the given stride: shape (N, X', Y', C, kx, ky)."""
    view = np.lib.stride_tricks.sliding_window_view(padded, (kernel, kernel), axis=(1, 2))
    return view[:, ::stride, ::stride]


def correlate(x, w, stride, same, pad_values=None):
    """Cross-correlation of x (N, X, Y, C) with w (kx, ky, C, F); int64 result (N, X', Y', F)."""
    k = w.shape[0]
    assert w.shape[1] == k, "square kernels only"
    win = windows(pad_spatial(x, k, stride, same, pad_values), k, stride)  # (N, X', Y', C, kx, ky)
    n, ox, oy = win.shape[:3]
    # Bring the window to (kx, ky, C) order to match the weights, then one integer matmul.
    patches = win.transpose(0, 1, 2, 4, 5, 3).reshape(n * ox * oy, -1)
    out = patches @ w.astype(np.int64).reshape(-1, w.shape[3])
    return out.reshape(n, ox, oy, w.shape[3])


def depthwise_correlate(x, w, stride, same):
    """Per-channel cross-correlation of x (N, X, Y, C) with w (kx, ky, C, 1)."""
    k = w.shape[0]
    win = windows(pad_spatial(x, k, stride, same), k, stride)  # (N, X', Y', C, kx, ky)
    return np.einsum("nxycab,abc->nxyc", win, w[:, :, :, 0].astype(np.int64))


def rotate180(w):
    """Flip both spatial axes: a true convolution is a correlation with this kernel."""
    return w[::-1, ::-1]


def max_pool(acc, size, stride, same):
    """TF max pooling; SAME-padded positions are ignored (never win the max)."""
    if stride == -1:
        stride = size
    if same:
        lowest = np.iinfo(np.int64).min
        c = acc.shape[3]
        padded = pad_spatial(acc, size, stride, True, [lowest] * c)
    else:
        padded = acc
    win = windows(padded, size, stride)
    return win.max(axis=(4, 5))


def output_stage(layer: Layer, acc):
    """Scale-out per output channel: multiply, saturate, rounded shift, saturate."""
    scales = layer.var("output_scales")
    if scales is None:  # no output quantizer: the accumulator is the output
        return acc
    y = saturate_signed(acc * scales.astype(np.int64), layer.param("post_op_buffer_bits", 32))
    shift = layer.var("output_shift").astype(np.int64)
    right = np.maximum(-shift, 0)
    left = np.maximum(shift, 0)
    # Round half up: add 2^(k-1) then arithmetic shift right by k (only where k > 0).
    half = np.where(right > 0, np.left_shift(1, np.maximum(right - 1, 0)), 0)
    y = np.right_shift(y + half, right)
    y = np.left_shift(y, left)
    return saturate_signed(y, layer.param("output_bits", 8))


def neural_layer(layer: Layer, x: np.ndarray) -> np.ndarray:
    """The shared v2 pipeline for InputConv2D, Conv2D, DepthwiseConv2D and Dense1D."""
    kind = layer.layer_type
    x = x.astype(np.int64)
    input_shift = layer.var("input_shift")
    if input_shift is not None:
        x = np.left_shift(x, input_shift.astype(np.int64))  # broadcasts over the channel axis

    w = layer.var("weights")
    same = layer.param("padding") == PAD_SAME
    stride = layer.param("kernel_stride", 1)
    if kind == INPUT_CONV2D:
        acc = correlate(x, w, stride, same, pad_values=layer.var("padding_value"))
    elif kind == CONV2D:
        acc = correlate(x, rotate180(w), stride, same)
    elif kind == DEPTHWISE_CONV2D:
        acc = depthwise_correlate(x, rotate180(w), stride, same)
    elif kind == DENSE1D:
        if x.shape[1:3] != (1, 1):
            raise NotImplementedError("Dense1D reference expects a (1, 1, X) input, got %s" % (x.shape[1:],))
        acc = (x.reshape(x.shape[0], -1) @ w.astype(np.int64)).reshape(x.shape[0], 1, 1, -1)
    else:
        raise NotImplementedError("layer type %d" % kind)

    buffer_bits = layer.param("buffer_bits", 32)
    acc = saturate_signed(acc, buffer_bits)

    bias = layer.var("bias")
    if bias is not None:
        bias_shift = layer.var("bias_shift")
        aligned = np.left_shift(bias.astype(np.int64),
                                0 if bias_shift is None else bias_shift.astype(np.int64))
        acc = saturate_signed(acc + aligned, buffer_bits)

    pool_type = layer.param("pool_type")
    if pool_type == POOL_MAX:
        acc = max_pool(acc, layer.param("pool_size"), layer.param("pool_stride", -1), same)

    if layer.param("activation") == ACT_RELU:
        max_value = layer.var("max_value")
        if max_value is None:
            acc = np.maximum(acc, 0)
        else:
            ceiling = np.left_shift(max_value.astype(np.int64), layer.var("max_value_shift").astype(np.int64))
            acc = np.clip(acc, 0, ceiling)
    elif layer.param("activation") != 0:
        raise NotImplementedError("activation %d" % layer.param("activation"))

    if pool_type == POOL_GLOBAL_AVG:
        acc = acc.sum(axis=(1, 2), keepdims=True)
    elif pool_type not in (0, POOL_MAX):
        raise NotImplementedError("pool_type %d" % pool_type)

    return output_stage(layer, acc)


def input_shape(model: FbzModel):
    """(X, Y, C) expected by the first layer."""
    first = model.layers[0]
    if first.layer_type == INPUT_DATA:
        return (first.param("input_width"), first.param("input_height"), first.param("input_channels"))
    if first.layer_type == INPUT_CONV2D:
        return (first.param("input_x"), first.param("input_y"), first.param("input_channels"))
    raise NotImplementedError("first layer type %s" % first.layer_type)


def run(model: FbzModel, inputs: np.ndarray):
    """Run a sequential Akida 2.0 model on integer inputs (N, X, Y, C).

    Returns (outputs, ints): ``outputs`` is the final result (float32 after a Dequantizer, else
    integers); ``ints`` maps each layer name to its integer output (int64).
    """
    if model.version is None:
        raise NotImplementedError("pre-2.3 files are Akida 1.0 only")
    x = np.asarray(inputs).astype(np.int64)
    if x.shape[1:] != input_shape(model):
        raise ValueError("input shape %s, model expects %s" % (x.shape[1:], input_shape(model)))
    ints = {}
    previous = None
    for layer in model.layers:
        if layer.inbound != ([] if previous is None else [previous]):
            raise NotImplementedError("reference handles sequential models only (%s)" % layer.name)
        kind = layer.layer_type
        if kind == INPUT_DATA:
            pass  # "does not modify its inputs"
        elif kind == DEQUANTIZER:
            scales = layer.var("scales").astype(np.float32)
            return x.astype(np.float32) * scales, ints
        else:
            x = neural_layer(layer, x)
        ints[layer.name] = x
        previous = layer.name
    return x, ints


def last_integer_layer(model: FbzModel) -> str:
    """Name of the layer whose integers `akida run --forward` reports (before a final Dequantizer)."""
    if model.layers[-1].layer_type == DEQUANTIZER:
        return model.layers[-2].name
    return model.layers[-1].name
