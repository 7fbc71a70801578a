"""Builds QuantizeML-style ONNX models layer by layer, with weights calibrated on random data.

Each layer method mirrors one QuantizeML OnnxLayer: it adds one com.brainchip node (plus its
function, the first time its op_type appears) and the initializers named and typed as the real
export names them (`<node>_Wi`, `_B`, `_pads`, `_M`, `_S_out`, ...; see docs/quantizeml-onnx.md).

Weights are random but realistic: int8 kernels whose largest magnitude per filter is 127 (what
per-axis quantization produces), biases and max values as "aligned" integers (an 8-bit mantissa
shifted left), and output scales calibrated the way QuantizeML does it: every layer is simulated
in int64 on a sequence of random frames, the calibration range of each output channel gives the
ideal ratio 127 / range, quantized to an 8-bit scale M (128..255) and a power-of-two divisor
S_out. The simulation below is the generator's own calibration tool only; the tests check the
resulting models with onnxruntime and an independent numpy computation.
"""
import hashlib
import math
import uuid

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from .functions import BRAINCHIP, ONNX_OPSET, make_function, make_temporal_function, op_type_of

IR_VERSION = 10
ONNX_DTYPES = {"int8": TensorProto.INT8, "uint8": TensorProto.UINT8,
               "int32": TensorProto.INT32, "float32": TensorProto.FLOAT}


# Calibrated ranges map to HEADROOM * 127: data drawn like the calibration frames then rarely
# saturates (QuantizeML calibrates on many more samples than the 24 frames used here).
HEADROOM = 0.8


class Tensor:
    """A tensor of the quantized graph and its calibration values (int64, frames first)."""

    def __init__(self, name, values, scale, dtype):
        self.name = name
        self.values = values
        self.scale = np.asarray(scale, np.float64)  # float value = int value / scale
        self.dtype = dtype

    @property
    def channels(self):
        return self.values.shape[1]

    @property
    def shape(self):  # without the batch dimension
        return tuple(self.values.shape[1:])


# ---------------------------------------------------------------------------------------------
# Integer arithmetic helpers
# ---------------------------------------------------------------------------------------------

def aligned_int(x, bits=8, signed=True):
    """QuantizeML quantization/core aligned_quantize: an integer made of a `bits`-bit mantissa
    shifted left (int32), how biases and max values are stored."""
    x = np.asarray(x, np.float64)
    mant_bits = bits - 1 if signed else bits
    int_bits = np.ceil(np.log2(np.abs(x) + 2.0 ** -8))
    shift = np.maximum(0, int_bits - mant_bits).astype(np.int64)
    mant = np.round(x / 2.0 ** shift).astype(np.int64)
    return (mant << shift).astype(np.int32)


def scale_and_shift(ratio):
    """ratio ~= M / S_out with M in 128..255 (uint8) and S_out a power of two (float32): the
    8-bit fixed-point output scale of QuantizeML's downscale (quantize_to_fixed_point)."""
    ratio = np.asarray(ratio, np.float64)
    k = 8 - np.ceil(np.log2(ratio))
    m = np.round(ratio * 2.0 ** k)
    k = np.where(m >= 256, k - 1, k)
    m = np.round(ratio * 2.0 ** k)
    return m.astype(np.uint8), (2.0 ** k).astype(np.float32)


def coarse_scale_and_shift(ratio):
    """scale_and_shift with M rounded to a multiple of 32 (3 significant bits): the LUT's
    intermediate scale-out then stays exact in the float32 ONNX body (acc / S * M) for every
    |acc| < 2^21, where an 8-bit M would need |acc| < 2^16. A generator choice, not QuantizeML's
    (which would use any M in 128..255)."""
    m, s_out = scale_and_shift(ratio)
    m = np.round(m.astype(np.float64) / 32.0) * 32.0
    s_out = np.where(m == 256, s_out / 2, s_out).astype(np.float32)
    m = np.where(m == 256, 128, m)
    return m.astype(np.uint8), s_out


# The functions QuantizeML tabulates in a LUT (onnx_support subgraph_ops.activation).
LUT_FUNCTIONS = {
    "gelu": lambda x: 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0))),
    "swish": lambda x: x / (1.0 + np.exp(-x)),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.1 * x),
}
LUT_BITS, LUT_OUT_BITS = 11, 14  # QuantizeML compute_lut_values(bitwidth=11, out_bitwidth=14)
# |acc| bound under which the LUT scale-out is exact in float32 with a 3-bit M (see above).
LUT_EXACT_ACC = 2 ** 21


def lut_table(function, in_scale):
    """QuantizeML compute_lut_values: the function at the 2^11 inputs i / in_scale, stored in
    the order [0 .. 1023, -1024 .. -1] (Gather reads negative indices from the end), quantized to
    14 bits with one power-of-two scale. Returns (int32 table, its float scale)."""
    half = 2 ** (LUT_BITS - 1)
    q = np.array(list(range(half)) + list(range(-half, 0)), np.float64)
    f = LUT_FUNCTIONS[function]((q / in_scale).astype(np.float32).astype(np.float64))
    out_scale = 2.0 ** np.floor(np.log2((2 ** (LUT_OUT_BITS - 1) - 1) / np.abs(f).max()))
    table = np.clip(np.round(f * out_scale), -(2 ** (LUT_OUT_BITS - 1)), 2 ** (LUT_OUT_BITS - 1) - 1)
    return table.astype(np.int32), out_scale


def scale_out(acc, m, s_out, bits=8):
    """floor(acc / S * M + 0.5) saturated to signed `bits`: exact in float64 for our ranges."""
    y = np.floor(acc.astype(np.float64) / s_out.astype(np.float64) * m.astype(np.float64) + 0.5)
    return np.clip(y, -2 ** (bits - 1), 2 ** (bits - 1) - 1).astype(np.int64)


def same_pads(size, kernel, stride, mode):
    """(before, after) for one spatial axis. mode: "valid", "same" (TensorFlow: the smaller
    half before), "same_upper" (the larger half before) or "symmetric" (larger half on both
    sides, as PyTorch) -- BrainChip cnn2snn onnx_conversion/padding.py compute_conv_pads."""
    if mode == "valid":
        return 0, 0
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    small, large = total // 2, total - total // 2
    return {"same": (small, large), "same_upper": (large, small),
            "symmetric": (large, large)}[mode]


def _onnx_pads(px, py):
    """ONNX Pad pads for (N, C, X, Y): [0, 0, x0, y0, 0, 0, x1, y1] (transform_pads_into_array)."""
    return np.array([0, 0, px[0], py[0], 0, 0, px[1], py[1]], np.int64)


def _pad(x, pads, value=None):
    """Pads (T, C, X, Y) with 0 or a per-channel value."""
    t, c, xs, ys = x.shape
    out = np.empty((t, c, xs + pads[2] + pads[6], ys + pads[3] + pads[7]), np.int64)
    out[...] = 0 if value is None else np.asarray(value, np.int64)[None, :, None, None]
    out[:, :, pads[2]:pads[2] + xs, pads[3]:pads[3] + ys] = x
    return out


def _correlate(xp, w, stride, depthwise=False):
    """Cross-correlation of a padded (T, C, X, Y) input with W (F, C or 1, kx, ky)."""
    kx, ky = w.shape[2:]
    ox = (xp.shape[2] - kx) // stride + 1
    oy = (xp.shape[3] - ky) // stride + 1
    acc = np.zeros((xp.shape[0], w.shape[0], ox, oy), np.int64)
    w = w.astype(np.int64)
    for a in range(kx):
        for b in range(ky):
            patch = xp[:, :, a:a + stride * (ox - 1) + 1:stride, b:b + stride * (oy - 1) + 1:stride]
            if depthwise:
                acc += patch * w[None, :, 0, a, b, None, None]
            else:
                acc += np.einsum("tchw,fc->tfhw", patch, w[:, :, a, b])
    return acc


def _max_pool(y, size, stride, pads):
    """ONNX MaxPool with pads [x0, y0, x1, y1] (padding never wins the max)."""
    low = np.iinfo(np.int64).min // 4
    t, c, xs, ys = y.shape
    yp = np.full((t, c, xs + pads[0] + pads[2], ys + pads[1] + pads[3]), low, np.int64)
    yp[:, :, pads[0]:pads[0] + xs, pads[1]:pads[1] + ys] = y
    ox = (yp.shape[2] - size) // stride + 1
    oy = (yp.shape[3] - size) // stride + 1
    out = np.full((t, c, ox, oy), low, np.int64)
    for a in range(size):
        for b in range(size):
            out = np.maximum(out, yp[:, :, a:a + stride * (ox - 1) + 1:stride,
                                        b:b + stride * (oy - 1) + 1:stride])
    return out


def _fifo_windows(x, fifo_size):
    """(T, C, X, Y) frames -> (T, C, fifo_size, X, Y): frame t sees frames t-fifo+1..t, oldest
    first, zeros before the first frame (the FIFO starts empty)."""
    t = x.shape[0]
    padded = np.concatenate([np.zeros((fifo_size - 1,) + x.shape[1:], np.int64), x])
    return np.stack([padded[i:i + t] for i in range(fifo_size)], axis=2)


# ---------------------------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------------------------

class ModelBuilder:
    """Accumulates nodes, initializers and functions of one QuantizeML-style model."""

    def __init__(self, name, input_shape, seed, frames=24):
        self.name = name
        self.input_shape = tuple(input_shape)  # (C, X, Y) or the pre-perm layout
        self.rng = np.random.default_rng(seed)
        self.frames = frames
        self.nodes, self.initializers, self.functions = [], [], []
        self._tensors = []  # every node output but the Dequantizer's, for value_info
        self.layer_index = 0
        self.model_id = hashlib.sha256(name.encode()).hexdigest() + "_quantized"
        self.output = None

    # -- bookkeeping ---------------------------------------------------------------------------

    def _register(self, op_type):
        if all(f.name != op_type for f in self.functions):
            self.functions.append(make_function(op_type))
            if "BufferTempConv" in op_type:
                helper_name = ("DepthwiseBufferTempConv" if "Depthwise" in op_type
                               else "BufferTempConv")
                if all(f.name != helper_name for f in self.functions):
                    self.functions.append(make_temporal_function(helper_name))

    def _init(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def _names(self, op, out_op):
        """Float-graph style names: layer k is "node_<Op>_<k>", its output "<op>_<k>"."""
        k = self.layer_index
        self.layer_index += 1
        node_name = f"node_{op}_{k}"
        out_name = out_op if k == 0 else f"{out_op}_{k}"
        return node_name, out_name

    def _uuid_name(self):
        """QuantizeML names the temporal nodes with uuid4(); here a deterministic look-alike."""
        k = self.layer_index
        self.layer_index += 1
        digest = hashlib.sha256(f"{self.name}/{k}".encode()).digest()[:16]
        return str(uuid.UUID(bytes=digest, version=4))

    def _add_node(self, op_type, name, inputs, output, attrs, out_values, out_scale, dtype):
        self._register(op_type)
        node = helper.make_node(op_type, inputs, [output], name=name, domain=BRAINCHIP)
        for key, value in attrs:
            node.attribute.append(helper.make_attribute(key, value))
        # The float output scale, kept for dequantization (OnnxLayer.quantize).
        node.attribute.append(helper.make_attribute(
            "scale", numpy_helper.from_array(np.asarray(out_scale, np.float64))))
        self.nodes.append(node)
        tensor = Tensor(output, out_values, out_scale, dtype)
        self._tensors.append(tensor)
        return tensor

    # -- calibration -----------------------------------------------------------------------------

    def _output_stage(self, y, acc_scale, fp_output):
        """Chooses M / S_out from the calibration range of y (N, F, ...) and applies them.
        fp_output: the output scale must be one power of two (inputs of Add, which only
        shift its inputs: QuantizeML register_node_format(requires_fp_inputs))."""
        axes = (0,) + tuple(range(2, y.ndim))
        ranges = np.maximum(np.abs(y).max(axis=axes), 1).astype(np.float64)
        ratio = HEADROOM * 127.0 / ranges
        if fp_output:
            # rounded in log2: the widest channel may then use up to sqrt(2) * HEADROOM of int8
            exponent = np.round(np.log2(np.min(acc_scale * ratio)))
            ratio = 2.0 ** exponent / acc_scale
        m, s_out = scale_and_shift(ratio)
        out = scale_out(y, m.reshape((1, -1) + (1,) * (y.ndim - 2)),
                        s_out.reshape((1, -1) + (1,) * (y.ndim - 2)))
        if fp_output:
            out_scale = np.full(y.shape[1], 2.0 ** exponent)
        else:
            out_scale = acc_scale * m.astype(np.float64) / s_out.astype(np.float64)
        return m, s_out, out, out_scale

    def _kernel(self, shape):
        """A random int8 kernel, each filter (axis 0) reaching +-127 like per-axis weights."""
        w = self.rng.standard_normal(shape)
        w *= 127.0 / np.abs(w.reshape(shape[0], -1)).max(axis=1).reshape((-1,) + (1,) * (len(shape) - 1))
        return np.round(w).astype(np.int8)

    def _acc_scale(self, filters):
        """The float scale of the accumulator: any positive number works for the integer
        pipeline; these mimic a float kernel of max magnitude 0.05..2 over inputs in +-4."""
        return 127.0 * 127.0 / (self.rng.uniform(0.05, 2.0, filters) * 4.0)

    def _bias(self, acc, fold=None):
        """Aligned int32 biases of the order of the accumulator spread (minus `fold`)."""
        spread = acc.std(axis=tuple(i for i in range(acc.ndim) if i != 1)) + 1.0
        bias = self.rng.normal(0.0, 0.5, acc.shape[1]) * spread
        if fold is not None:
            bias = bias - fold
        return aligned_int(bias)

    def _activation(self, y, activation):
        """ReLU or ReLUClipped (Min with an aligned unsigned max_value, ~60 % of the max)."""
        if activation is None:
            return y, None
        y = np.maximum(y, 0)
        if activation == "ReLU":
            return y, None
        peak = y.max(axis=tuple(i for i in range(y.ndim) if i != 1)).astype(np.float64)
        max_value = aligned_int(np.maximum(0.6 * peak, 1.0), signed=False)
        shape = (1, -1) + (1,) * (y.ndim - 2)
        return np.minimum(y, max_value.astype(np.int64).reshape(shape)), max_value.reshape(shape)

    def _lut(self, y, acc_scale, acc_bound, function, name, inputs):
        """LUT activation (QuantizeML conv2d __quantize__ "LUT"): one float range for the whole
        tensor gives the 11-bit index scale; per channel M_act / S_act bring the accumulator to
        it; the table maps each index to the 14-bit function value. Appends `_M_act`, `_S_act`,
        `_LUT`; returns the table values and their (per-tensor) scale."""
        if np.max(acc_bound) >= LUT_EXACT_ACC:
            raise ValueError(f"{name}: accumulators up to {np.max(acc_bound)} could make the "
                             "float32 LUT scale-out inexact")
        axes = tuple(i for i in range(y.ndim) if i != 1)
        float_range = (np.maximum(np.abs(y).max(axis=axes), 1) / acc_scale).max()
        in_scale = HEADROOM * (2 ** (LUT_BITS - 1) - 1) / float_range
        m, s_act = coarse_scale_and_shift(in_scale / acc_scale)
        shape = (1, -1) + (1,) * (y.ndim - 2)
        index = scale_out(y, m.reshape(shape), s_act.reshape(shape), bits=LUT_BITS)
        table, out_scale = lut_table(function, in_scale)
        inputs += [self._init(name + "_M_act", m.reshape(shape)),
                   self._init(name + "_S_act", s_act.reshape(shape)),
                   self._init(name + "_LUT", table)]
        return table.astype(np.int64)[index], np.full(y.shape[1], out_scale)

    # -- layers ----------------------------------------------------------------------------------

    def input_quantizer(self, signed=True, perm=None):
        """InputQuantizer: float (N, ...) -> Transpose(perm) -> QuantizeLinear per channel.
        Signed inputs get int8 with zero point 0, unsigned ones uint8 with a zero point."""
        shape = self.input_shape
        perm = list(perm) if perm is not None else [0, 1, 2, 3]
        out_shape = tuple(((1,) + shape)[p] for p in perm)[1:]
        c = out_shape[0]
        span = self.rng.uniform(0.5, 4.0, c)
        if signed:
            q_scale = (span / 127.0).astype(np.float32)
            zp = np.zeros(c, np.int8)
            low = -span
        else:
            low = -self.rng.uniform(0.0, 1.0, c) * span
            q_scale = (span / 255.0).astype(np.float32)
            zp = np.clip(np.round(-low / q_scale), 0, 255).astype(np.uint8)
        # Calibration frames, in the quantizer's output layout, spanning the quantizer range.
        width = 2 * span if signed else span
        x = self.rng.uniform(0.0, 1.0, (self.frames,) + out_shape) * width[None, :, None, None] \
            + low[None, :, None, None]
        lo, hi = (-128, 127) if signed else (0, 255)
        q = np.clip(np.round(x / q_scale[None, :, None, None]) + zp.astype(np.int64)[None, :, None, None], lo, hi)
        self.graph_input = helper.make_tensor_value_info(
            "input", TensorProto.FLOAT, ["N"] + list(shape))
        inputs = ["input", self._init("quantize_scale", q_scale), self._init("quantize_zp", zp)]
        self.input_zero_point = zp
        return self._add_node("InputQuantizer", "quantize", inputs, "quantize", [("perm", perm)],
                              q.astype(np.int64), 1.0 / q_scale.astype(np.float64),
                              "int8" if signed else "uint8")

    def conv(self, x, filters, kernel=3, stride=1, padding="same", biased=True, activation="ReLU",
             pool=None, pool_size=2, pool_stride=2, fp_output=False, lut="gelu"):
        """QuantizedConv2D, or QuantizedInputConv2D on a uint8 input (bias mandatory, padding
        with the input zero point). pool: None, "max" or "gap"; activation "LUT" tabulates the
        function `lut`."""
        input_conv = x.dtype == "uint8"
        biased = biased or input_conv
        base = "QuantizedInputConv2D" if input_conv else "QuantizedConv2D"
        op_type = op_type_of(base, biased=biased, pool=pool, activation=activation, scaled=True)
        out_op = {"ReLU": "relu", "ReLUClipped": "hardtanh", "LUT": lut, None: None}[activation] \
            or {"max": "max_pool2d", "gap": "mean", None: "conv2d"}[pool]
        name, out = self._names("Conv", out_op)
        c, xs, ys = x.shape
        w = self._kernel((filters, c, kernel, kernel))
        pads = _onnx_pads(same_pads(xs, kernel, stride, padding),
                          same_pads(ys, kernel, stride, padding))
        pad_value = self.input_zero_point if input_conv else None
        acc = _correlate(_pad(x.values, pads, pad_value), w, stride)
        inputs = [x.name]
        if input_conv:
            inputs.append(self._init(name + "_Xpad", pad_value))
        inputs.append(self._init(name + "_Wi", w))
        fold = None
        if input_conv:  # QuantizeML folds the zero point into the bias (fold_zero_point)
            fold = (w.astype(np.float64) * pad_value.astype(np.float64)[None, :, None, None]).sum(axis=(1, 2, 3))
        if biased:
            bias = self._bias(acc, fold)
            acc = acc + bias.astype(np.int64)[None, :, None, None]
            inputs.append(self._init(name + "_B", bias))
        inputs.append(self._init(name + "_pads", pads))
        attrs = [("strides", [stride, stride])]
        acc_scale = self._acc_scale(filters)
        if pool == "max":
            # BrainChip's converter accepts a max pool only after a TF-"same" conv (or a 1x1
            # one) and wants the pool's own TF-"same" pads on the conv output (padding.py).
            if padding != "same" and kernel != 1:
                raise ValueError(f"{name}: MaxPool needs a 'same' padded (or 1x1) conv")
            conv_out = acc.shape[2:]
            ppads = [*same_pads(conv_out[0], pool_size, pool_stride, "same"),
                     *same_pads(conv_out[1], pool_size, pool_stride, "same")]
            ppads = [ppads[0], ppads[2], ppads[1], ppads[3]]  # [x0, y0, x1, y1]
            acc = _max_pool(acc, pool_size, pool_stride, ppads)
            attrs += [("pool_size", [pool_size, pool_size]),
                      ("pool_strides", [pool_stride, pool_stride]), ("pool_pads", ppads)]
        if activation == "LUT":
            bound = np.abs(w.astype(np.int64)).sum(axis=(1, 2, 3)) * (255 if input_conv else 128)
            y, max_value = acc, None
            bound = bound + (np.abs(bias.astype(np.int64)) if biased else 0)
            y, acc_scale = self._lut(y, acc_scale, bound, lut, name, inputs)
        else:
            y, max_value = self._activation(acc, activation)
        if max_value is not None:
            inputs.append(self._init(name + "_max_value", max_value))
        if pool == "gap":
            acc_scale = acc_scale * y.shape[2] * y.shape[3]
            y = y.sum(axis=(2, 3), keepdims=True)
        m, s_out, values, out_scale = self._output_stage(y, acc_scale, fp_output)
        inputs += [self._init(name + "_M", m.reshape(1, -1, 1, 1)),
                   self._init(name + "_S_out", s_out.reshape(1, -1, 1, 1))]
        return self._add_node(op_type, name, inputs, out, attrs, values, out_scale, "int8")

    def depthwise(self, x, kernel=3, stride=1, padding="same", biased=True, activation="ReLU",
                  fp_output=False, lut="gelu"):
        """QuantizedDepthwise2D: W (C, 1, kx, ky), Conv group = C (attribute "groups")."""
        op_type = op_type_of("QuantizedDepthwise2D", biased=biased, activation=activation,
                             scaled=True)
        out_op = {"ReLU": "relu", "ReLUClipped": "hardtanh", "LUT": lut,
                  None: "conv2d"}[activation]
        name, out = self._names("Conv", out_op)
        c, xs, ys = x.shape
        w = self._kernel((c, 1, kernel, kernel))
        pads = _onnx_pads(same_pads(xs, kernel, stride, padding),
                          same_pads(ys, kernel, stride, padding))
        acc = _correlate(_pad(x.values, pads), w, stride, depthwise=True)
        inputs = [x.name, self._init(name + "_Wi", w)]
        if biased:
            bias = self._bias(acc)
            acc = acc + bias.astype(np.int64)[None, :, None, None]
            inputs.append(self._init(name + "_B", bias))
        inputs.append(self._init(name + "_pads", pads))
        acc_scale = self._acc_scale(c)
        if activation == "LUT":
            bound = np.abs(w.astype(np.int64)).sum(axis=(1, 2, 3)) * 128
            bound = bound + (np.abs(bias.astype(np.int64)) if biased else 0)
            y, acc_scale = self._lut(acc, acc_scale, bound, lut, name, inputs)
            max_value = None
        else:
            y, max_value = self._activation(acc, activation)
        if max_value is not None:
            inputs.append(self._init(name + "_max_value", max_value))
        m, s_out, values, out_scale = self._output_stage(y, acc_scale, fp_output)
        inputs += [self._init(name + "_M", m.reshape(1, -1, 1, 1)),
                   self._init(name + "_S_out", s_out.reshape(1, -1, 1, 1))]
        # QuantizedDepthwise2D appends "groups" after "strides".
        return self._add_node(op_type, name, inputs, out,
                              [("strides", [stride, stride]), ("groups", c)],
                              values, out_scale, "int8")

    def dense(self, x, units, biased=True, activation=None, scaled=True):
        """QuantizedDense1D: Gemm(transB=1) with W (F, N). A 4-D input is flattened channels
        first ("Flatten" in op_type); a 2-D one (the output of a Dense) is used as is. Without
        "Scaled" the output is the raw int32 accumulator."""
        flatten = x.values.ndim == 4
        op_type = op_type_of("QuantizedDense1D", flatten=flatten, biased=biased,
                             activation=activation, scaled=scaled)
        out_op = {"ReLU": "relu", "ReLUClipped": "hardtanh", None: "linear"}[activation]
        name, out = self._names("Gemm", out_op)
        flat = x.values.reshape(x.values.shape[0], -1)
        w = self._kernel((units, flat.shape[1]))
        acc = flat @ w.astype(np.int64).T
        inputs = [x.name, self._init(name + "_Wi", w)]
        if biased:
            bias = self._bias(acc)
            acc = acc + bias.astype(np.int64)[None, :]
            inputs.append(self._init(name + "_B", bias))
        y, max_value = self._activation(acc, activation)
        if max_value is not None:
            inputs.append(self._init(name + "_max_value", max_value))
        acc_scale = self._acc_scale(units)
        if not scaled:
            return self._add_node(op_type, name, inputs, out, [], y, acc_scale, "int32")
        m, s_out, values, out_scale = self._output_stage(y, acc_scale, False)
        inputs += [self._init(name + "_M", m.reshape(1, -1)),
                   self._init(name + "_S_out", s_out.reshape(1, -1))]
        return self._add_node(op_type, name, inputs, out, [], values, out_scale, "int8")

    def buffer_temp_conv(self, x, filters, fifo_size, biased=True, activation="ReLU",
                         fp_output=False):
        """QuantizedBufferTempConv: FIFO of fifo_size frames, then a 1x1 conv over C*T
        channels with W (F, C*T, 1, 1), index c*T + t (t = 0 the oldest frame)."""
        return self._temporal(x, filters, fifo_size, biased, activation, False, fp_output)

    def depthwise_buffer_temp_conv(self, x, fifo_size, activation="ReLU", fp_output=False):
        """QuantizedDepthwiseBufferTempConv: W (C, T, 1, 1), bias (C, 1, 1) always present."""
        return self._temporal(x, x.channels, fifo_size, True, activation, True, fp_output)

    def _temporal(self, x, filters, fifo_size, biased, activation, depthwise, fp_output):
        base = "QuantizedDepthwiseBufferTempConv" if depthwise else "QuantizedBufferTempConv"
        op_type = op_type_of(base, biased=biased, activation=activation, scaled=True)
        name = self._uuid_name()
        k = self.layer_index - 1
        out_op = {"ReLU": "relu", "ReLUClipped": "hardtanh", None: "conv3d"}[activation]
        out = out_op if k == 0 else f"{out_op}_{k}"
        c = x.channels
        windows = _fifo_windows(x.values, fifo_size)  # (T, C, fifo, X, Y)
        if depthwise:
            w = self._kernel((c, fifo_size, 1, 1))
            acc = np.einsum("tckxy,ck->tcxy", windows, w[:, :, 0, 0].astype(np.int64))
        else:
            w = self._kernel((filters, c * fifo_size, 1, 1))
            w3 = w[:, :, 0, 0].reshape(filters, c, fifo_size).astype(np.int64)
            acc = np.einsum("tckxy,fck->tfxy", windows, w3)
        inputs = [x.name, self._init(name + "_Wi", w)]
        if biased:
            bias = self._bias(acc)
            acc = acc + bias.astype(np.int64)[None, :, None, None]
            inputs.append(self._init(name + "_B", bias.reshape(-1, 1, 1) if depthwise else bias))
        y, max_value = self._activation(acc, activation)
        if max_value is not None:
            inputs.append(self._init(name + "_max_value", max_value))
        m, s_out, values, out_scale = self._output_stage(y, self._acc_scale(filters), fp_output)
        inputs += [self._init(name + "_M", m.reshape(1, -1, 1, 1)),
                   self._init(name + "_S_out", s_out.reshape(1, -1, 1, 1))]
        # fifo_name comes from the float model, where the first layer reads "input" directly
        # (the InputQuantizer and its "quantize" tensor are inserted by QuantizeML).
        float_input = "input" if x.name == "quantize" else x.name
        attrs = [("fifo_name", f"{float_input}_fifo"), ("fifo_size", fifo_size),
                 ("model_id", self.model_id)]
        return self._add_node(op_type, name, inputs, out, attrs, values, out_scale, "int8")

    def add(self, a, b, scaled=True):
        """QuantizedAdd: a * Xs + b * Ys with Xs, Ys = max(scale_a, scale_b) / scale (int32,
        powers of two), then a rounded division by the power of two S_out (Scaled) or the
        raw int32 sum."""
        for t in (a, b):
            if not np.all(t.scale == t.scale[0]) or \
                    2.0 ** np.round(np.log2(t.scale[0])) != t.scale[0]:
                raise ValueError(f"Add input {t.name}: scale is not one power of two")
        op_type = op_type_of("QuantizedAdd", scaled=scaled)
        name, out = self._names("Add", "add")
        out_scale = np.maximum(a.scale, b.scale)
        xs = (out_scale / a.scale).astype(np.int32)
        ys = (out_scale / b.scale).astype(np.int32)
        total = a.values * xs.astype(np.int64)[None, :, None, None] + \
            b.values * ys.astype(np.int64)[None, :, None, None]
        inputs = [a.name, b.name, self._init(name + "_x1_shift", xs.reshape(1, -1, 1, 1)),
                  self._init(name + "_x2_shift", ys.reshape(1, -1, 1, 1))]
        if not scaled:
            return self._add_node(op_type, name, inputs, out, [], total, out_scale, "int32")
        exponent = np.ceil(np.log2(max(np.abs(total).max(), 1) / 127.0))
        s_out = np.full(a.channels, 2.0 ** exponent, np.float32)
        values = scale_out(total, np.ones(1), s_out.reshape(1, -1, 1, 1))
        inputs.append(self._init(name + "_S_out", s_out.reshape(1, -1, 1, 1)))
        return self._add_node(op_type, name, inputs, out, [], values, out_scale / 2.0 ** exponent,
                              "int8")

    def concat(self, a, b):
        """QuantizedConcat: Concat on the channel axis, no weights, scales concatenated."""
        name, out = self._names("Concat", "cat")
        return self._add_node("QuantizedConcat", name, [a.name, b.name], out, [],
                              np.concatenate([a.values, b.values], axis=1),
                              np.concatenate([a.scale, b.scale]), "int8")

    def dequantizer(self, x):
        """Dequantizer: DequantizeLinear(X, 1 / scale); output "<input>/dequantize"."""
        self._register("Dequantizer")
        scale = self._init("dequantizer_scale", (1.0 / x.scale).astype(np.float32))
        node = helper.make_node("Dequantizer", [x.name, scale], [f"{x.name}/dequantize"],
                                name="dequantizer", domain=BRAINCHIP)
        self.nodes.append(node)
        self.output = Tensor(node.output[0], x.values.astype(np.float64) / x.scale.reshape(
            (1, -1) + (1,) * (x.values.ndim - 2)), x.scale, "float32")
        return self.output

    # -- model -----------------------------------------------------------------------------------

    def build(self):
        """The ModelProto: IR 10, opsets ("", 21) and ("com.brainchip", 1), graph "main_graph",
        value_info for every intermediate tensor, functions in first-use order."""
        if self.output is None:
            raise ValueError(f"{self.name}: a model must end with a Dequantizer")
        value_infos = []
        for t in self._tensors:
            if t.name != self.output.name:
                value_infos.append(helper.make_tensor_value_info(
                    t.name, ONNX_DTYPES[t.dtype], ["N"] + list(t.shape)))
        output = helper.make_tensor_value_info(self.output.name, TensorProto.FLOAT,
                                               ["N"] + list(self.output.shape))
        graph = helper.make_graph(self.nodes, "main_graph", [self.graph_input], [output],
                                  self.initializers, value_info=value_infos)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET),
                                                        helper.make_opsetid(BRAINCHIP, 1)],
                                  functions=self.functions)
        model.ir_version = IR_VERSION
        return model
