"""An independent numpy statement of QuantizeML's ONNX quantization arithmetic, to check the
quantizer's integers.

Written from QuantizeML's onnx_support sources (quantization/core: quantize_to_qfloat,
quantize_to_fixed_point, aligned_quantize, fold_zero_point, downscale, downshift,
input_scale_no_zp, _input_conv_zp_scale; layers: input_quantizer, conv2d, depthwise2d, dense1d,
add; transforms: fuse_batchnorm, reduce_math_constant_ops), straight numpy, nothing shared with
the C++ code. Calibration ranges are float32 (onnxruntime TensorData), so the ideal scales derived
from them are float32 divisions (numpy 2 keeps Python scalars weak; written explicitly here).

    expected = reference_initializers(float_model, quantized_model, ranges, bits)
    # {initializer name: numpy array} and {node name: "scale" attribute}

The reference follows the quantized graph (which layer reads which, the op_type flags) and reads
every number from the float model: its weights, BatchNormalization, normalisation and Clip
constants, and the calibration ranges.
"""
import numpy as np
import onnx
from onnx import numpy_helper, shape_inference


# ---- QuantizeML's core formulas --------------------------------------------------------------

def quantize_to_qfloat(x, bits):
    """Per row (axis 0): scale = (2^(b-1) - 1) / max(max|x|, 2^-16), q = clip(round(x * scale))."""
    axes = tuple(range(1, x.ndim))
    abs_max = np.maximum(np.abs(x).max(axis=axes, keepdims=True), 2.0 ** -16)
    scale = (2.0 ** (bits - 1) - 1) / abs_max
    q = np.clip(np.round(x * scale), -2 ** (bits - 1), 2 ** (bits - 1) - 1)
    return q.astype(np.int64), scale.reshape(-1)


def aligned_quantize(x, scale, bits=8, signed=True):
    value_bits = bits - 1 if signed else bits
    p = np.asarray(x, np.float64) * scale
    with np.errstate(divide="ignore"):
        int_bits = np.ceil(np.log2(np.abs(p + 2.0 ** -8)))
    shift = np.maximum(0, int_bits - value_bits).astype(np.int64)
    return np.round(p / 2.0 ** shift).astype(np.int64) << shift


def fixed_point(x, bits, signed, clamp=False, out_shift=False):
    """quantize_to_fixed_point, elementwise; x keeps its dtype (float32 ranges stay float32)."""
    mantissa_bits = bits - 1 if signed else bits
    y = np.abs(x)
    y = np.where(y == 0, x.dtype.type(0.5), y)
    whole = np.ceil(np.log2(y)).astype(np.int64)
    whole = np.where(y == 2.0 ** whole, whole + 1, whole)
    frac = mantissa_bits - whole
    if clamp:
        frac = np.minimum(frac, mantissa_bits)
    if out_shift:
        frac = np.clip(frac, -2 ** 5 + 1, 2 ** 5)
    scale = 2.0 ** frac
    low = -2 ** mantissa_bits if signed else 0
    mantissa = np.clip(np.round(x * scale), low, 2 ** mantissa_bits - 1).astype(np.int64)
    return mantissa, scale


def ideal_scale(range_max, bits):
    """input_scale_no_zp on a symmetric float32 range: (2^(b-1) - 1) / max(r, 1e-7), float32."""
    return np.float32(2 ** (bits - 1) - 1) / np.maximum(range_max, np.float32(1e-7))


def downscale(range_max, acc_scale, bits, force_fp):
    """(M, S_out, output scale)."""
    if not force_fp:
        ideal = ideal_scale(range_max, bits)
        m, s = fixed_point(ideal.astype(np.float64) / acc_scale, 8, signed=False, out_shift=True)
        return m, s.astype(np.float32), ideal.astype(np.float64)
    m, in_shift = fixed_point(1.0 / acc_scale, 8, signed=False)
    shift, out = downshift(range_max, in_shift, bits)
    return m, shift, out


def downshift(range_max, in_scale, bits):
    _, out_shift = fixed_point(range_max, bits, signed=True, clamp=True, out_shift=True)
    shift = out_shift / in_scale
    assert np.all(shift < 2.0 ** bits), "QuantizeML refuses a saturating shift"
    return (1.0 / shift).astype(np.float32), out_shift.astype(np.float64)


def input_conv_zp_scale(lo, hi):
    scale = np.float32(255) / (hi - lo)
    zp = -np.round(lo * scale)
    scale = np.where(zp < 0, np.float32(255) / hi, scale).astype(np.float32)
    return scale, np.maximum(0, zp).astype(np.int64)


# ---- the float model ------------------------------------------------------------------------

class FloatModel:
    def __init__(self, model):
        model = shape_inference.infer_shapes(model)
        self.inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        for n in model.graph.node:  # PyTorch writes constants as Constant nodes
            if n.op_type == "Constant" and n.attribute[0].name == "value":
                self.inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        self.nodes = list(model.graph.node)
        self.by_name = {n.name: n for n in self.nodes}
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.readers = {}
        for n in self.nodes:
            for i in n.input:
                self.readers.setdefault(i, []).append(n)
        self.shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
                       for v in list(model.graph.value_info) + list(model.graph.output)}
        self.input = model.graph.input[0].name
        self.attrs = lambda n: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}

    def const(self, name):
        return self.inits[name]

    def single_reader(self, tensor, op):
        readers = self.readers.get(tensor, [])
        return readers[0] if len(readers) == 1 and readers[0].op_type == op else None

    def batch_norm_after(self, tensor, w, b):
        """fuse_batchnorm in float32: W * g / sqrt(v + eps), (b - mean) * g / sqrt(v + eps) + beta."""
        bn = self.single_reader(tensor, "BatchNormalization")
        if bn is None:
            return w, b
        gamma, beta, mean, var = (self.const(i) for i in bn.input[1:5])
        eps = np.float32(self.attrs(bn).get("epsilon", 1e-5))
        factor = gamma / np.sqrt(var + eps)
        if b is None:
            b = np.zeros_like(mean)
        shape = (-1,) + (1,) * (w.ndim - 1)
        return w * factor.reshape(shape), (b - mean) * factor + beta

    def conv(self, name):
        node = self.by_name[name]
        w = self.const(node.input[1])
        b = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        groups = self.attrs(node).get("group", 1)
        channels = w.shape[1] * groups
        if groups > 1 and not (groups == channels == w.shape[0]):
            # A grouped conv is the full conv with zeros across groups.
            full = np.zeros((w.shape[0], channels) + w.shape[2:], np.float32)
            per_out, per_in = w.shape[0] // groups, w.shape[1]
            for f in range(w.shape[0]):
                g = f // per_out
                full[f, g * per_in:(g + 1) * per_in] = w[f]
            w = full
        return self.batch_norm_after(node.output[0], w, b)

    def gemm(self, name):
        node = self.by_name[name]
        if node.op_type == "MatMul":
            w = self.const(node.input[1]).T
            add = self.single_reader(node.output[0], "Add")
            b = next(self.const(i) for i in add.input if i in self.inits) if add else None
            return w, b
        attrs = self.attrs(node)
        w = self.const(node.input[1])
        w = w if attrs.get("transB", 0) else w.T
        b = self.const(node.input[2]) if len(node.input) > 2 else None
        return self.batch_norm_after(node.output[0], w, b)

    def normalisation(self):
        """reduce_math_constant_ops on the input chain: (scale, offset), float32."""
        scale, offset = np.float32(1), np.float32(0)
        tensor = self.input
        while True:
            readers = self.readers.get(tensor, [])
            if len(readers) == 1 and readers[0].op_type == "Transpose":  # channels last to first
                tensor = readers[0].output[0]
                continue
            if len(readers) == 1 and readers[0].op_type == "BatchNormalization":
                gamma, beta, mean, var = (self.const(i) for i in readers[0].input[1:5])
                eps = np.float32(self.attrs(readers[0]).get("epsilon", 1e-5))
                factor = gamma / np.sqrt(var + eps)
                scale, offset = scale * factor, offset * factor + (beta - mean * factor)
                tensor = readers[0].output[0]
                continue
            if len(readers) != 1 or readers[0].op_type not in ("Sub", "Div", "Mul", "Add"):
                return np.atleast_1d(scale).reshape(-1), np.atleast_1d(offset).reshape(-1)
            node = readers[0]
            const = self.const(node.input[1]).reshape(-1)
            if node.op_type == "Sub":
                offset = offset - const
            elif node.op_type == "Add":
                offset = offset + const
            elif node.op_type == "Mul":
                scale, offset = scale * const, offset * const
            else:
                scale, offset = scale / const, offset / const
            tensor = node.output[0]

    def chain_before(self, tensor, stop):
        """The nodes from `stop` (excluded) to the producer of `tensor`, walking back."""
        nodes = []
        while tensor in self.producer and self.producer[tensor].name != stop:
            nodes.append(self.producer[tensor])
            tensor = self.producer[tensor].input[0]
        return nodes

    def clip_max(self, output, main):
        clip = next(n for n in self.chain_before(output, main) if n.op_type == "Clip")
        return self.const(clip.input[2])


# ---- the reference -------------------------------------------------------------------------

def reference_initializers(float_model, quantized, ranges, weight_bits=8, activation_bits=8,
                           input_weight_bits=8):
    """{initializer name: array} and {node name: scale attribute} QuantizeML's formulas give."""
    fm = FloatModel(float_model)
    out, scales, zero_points = {}, {}, {}
    readers = {}
    for n in quantized.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    # Layers whose output an Add reads need power-of-two scales (_set_qlayers_metadata).
    force_fp = {i for n in quantized.graph.node if n.op_type.startswith("QuantizedAdd")
                for i in n.input[:2]}

    def rmax(name):
        lo, hi = ranges[name]
        return np.maximum(np.abs(lo), np.abs(hi)).astype(np.float32)

    for node in quantized.graph.node:
        op, name = node.op_type, node.name
        if op == "InputQuantizer":
            scale, offset = fm.normalisation()
            # The range measured is that of the tensor the first layer (a Conv) reads.
            first = next(n for n in quantized.graph.node if n.input[:1] == [node.output[0]])
            lo, hi = ranges[fm.by_name[first.name].input[0]]
            a, b = (lo - offset) / scale, (hi - offset) / scale
            in_lo, in_hi = np.minimum(a, b), np.maximum(a, b)
            zp_type = next(t for t in quantized.graph.initializer if t.name == node.input[2]).data_type
            signed = zp_type == onnx.TensorProto.INT8
            if signed:
                in_scale, zp = ideal_scale(np.maximum(np.abs(in_lo), np.abs(in_hi)), 8), np.zeros(len(lo), np.int64)
                out_scale, out_zp = ideal_scale(np.maximum(np.abs(lo), np.abs(hi)), 8), zp
            else:
                in_scale, zp = input_conv_zp_scale(in_lo, in_hi)
                out_scale, out_zp = input_conv_zp_scale(lo, hi)
            out["quantize_scale"] = (1.0 / in_scale.astype(np.float64)).astype(np.float32)
            out["quantize_zp"] = zp
            scales[node.output[0]] = out_scale.astype(np.float64)
            zero_points[node.output[0]] = out_zp
        elif op.startswith(("QuantizedConv2D", "QuantizedInputConv2D", "QuantizedDepthwise2D")):
            in_scale = scales[node.input[0]]
            w, b = fm.conv(name)
            depthwise = op.startswith("QuantizedDepthwise2D")
            first = node.input[0] == "quantize"
            kernel = w / (in_scale.reshape(-1, 1, 1, 1) if depthwise else in_scale.reshape(1, -1, 1, 1))
            q, s = quantize_to_qfloat(kernel.astype(np.float64), input_weight_bits if first else weight_bits)
            out[name + "_Wi"] = q
            if op.startswith("QuantizedInputConv2D"):
                zp = np.broadcast_to(zero_points[node.input[0]], (w.shape[1],))
                out[name + "_Xpad"] = zp
                dequantized = q / s.reshape(-1, 1, 1, 1)
                b = (np.zeros(w.shape[0], np.float32) if b is None else b) - \
                    (zp.astype(np.float32).reshape(1, -1, 1, 1) * dequantized).sum(axis=(1, 2, 3))
            if "Biased" in op:
                out[name + "_B"] = aligned_quantize(b, s)
            conv_node = fm.by_name[name]
            if "ReLUClipped" in op:
                out[name + "_max_value"] = aligned_quantize(fm.clip_max(node.output[0], name), s, signed=False)
            if "GlobalAvgPool" in op:
                _, _, x, y = fm.shapes[conv_node.output[0]]
                s = s * x * y
            m, shift, scale = downscale(rmax(node.output[0]), s, activation_bits, node.output[0] in force_fp)
            out[name + "_M"], out[name + "_S_out"] = m, shift
            scales[node.output[0]] = scale
        elif op.startswith("QuantizedDense1D"):
            in_scale = scales[node.input[0]]
            w, b = fm.gemm(name)
            if "Flatten" in op:
                per_channel = w.shape[1] // in_scale.size if in_scale.size > 1 else 1
                in_per_input = np.repeat(in_scale, per_channel) if in_scale.size > 1 else in_scale
            else:
                in_per_input = in_scale
            q, s = quantize_to_qfloat((w / in_per_input.reshape(1, -1)).astype(np.float64), weight_bits)
            out[name + "_Wi"] = q
            if b is not None:
                out[name + "_B"] = aligned_quantize(b, s)
            if "ReLUClipped" in op:
                out[name + "_max_value"] = aligned_quantize(fm.clip_max(node.output[0], name), s, signed=False)
            if "Scaled" in op:
                m, shift, scale = downscale(rmax(node.output[0]), s, activation_bits, node.output[0] in force_fp)
                out[name + "_M"], out[name + "_S_out"] = m, shift
                scales[node.output[0]] = scale
            else:
                scales[node.output[0]] = s
        elif op.startswith("QuantizedAdd"):
            a, b = scales[node.input[0]], scales[node.input[1]]
            for v in (a, b):
                assert np.all(2.0 ** np.round(np.log2(v)) == v), "Add inputs need power-of-two scales"
            common = np.maximum(a, b)
            out[name + "_x1_shift"] = (common / a).astype(np.int64)
            out[name + "_x2_shift"] = (common / b).astype(np.int64)
            if "Scaled" in op:
                shift, scale = downshift(rmax(node.output[0]), common, activation_bits)
                out[name + "_S_out"] = shift
                scales[node.output[0]] = scale
            else:
                scales[node.output[0]] = common
        elif op == "Dequantizer":
            out["dequantizer_scale"] = (1.0 / scales[node.input[0]]).astype(np.float32)
    return out, scales
