#!/usr/bin/env python3
"""The value/shift variables BrainChip's cnn2snn 2.19 writes when it converts a QuantizeML Keras
.h5 to Akida 2.0, derived independently of the C++ front end (numpy, float32, from the .h5 alone).

Only the quantization parameters are propagated (frac_bits, scales, value bits per layer), never
activations. Written from QuantizeML's and CNN2SNN's own sources (shared/docs/quantizeml-sources.md):

  QuantizeML (what each layer records)
    tensor_inputs (layers_base.py)   integer input -> FixedPoint(bits - signed, frac 0); a layer with
                                     a buffer expands a per-axis input to its largest frac_bits
                                     (input_shift = max - frac; not DepthwiseConv2D nor ReLU),
                                     else promotes it
    WeightQuantizer                  scales = max(max|w| over every axis but `axis` / (2^vb - 1), 1e-6)
    conv / dense                     accumulator QFloat: frac = input frac, scales = weight scales
                                     (times the input scale for a QFloat input)
    AlignedWeightQuantizer           frac = min(max_frac_bits(vb, |x| / scales), other frac);
    (bias, ReLU max_value)           q = saturate(round(x / scales * 2^frac), vb); shift = other - frac
    OutputQuantizer                  QFloat: qscales = saturate(round(s * 2^fq), scale_bits) with
                                     s = scales * rescaling_rate, fq = scale_bits - ceil_log2(s);
                                     shift = max_frac_bits(vb, range_max) - (frac + fq)
    QuantizedAdd                     a_shift = max(a.frac, b.frac) - a.frac (b_shift likewise)
  CNN2SNN 2.19 (what it stores)
    conv_common.py set_conv_variables_v2   bias = qweights >> shift (int8), bias_shift = shift;
                                           input_shift = the layer's recorded input_shift
    activations.py set_relu_variables      max_value = qweights >> shift (uint8), max_value_shift
    outputs.py set_output_v2_variables     output_scales = qscales, output_shift =
                                           max(shift, 1 - buffer_bits) (buffer_bits: the Akida
                                           layer's, QuantizeML buffer_bitwidth + 1)
    add.py _set_add_variables              a_shift, b_shift as recorded

variables(path) -> {akida_layer_name: {variable_name: np.ndarray}}: only what CNN2SNN sets
(variables it leaves at Akida's defaults are absent).
"""
import json

import h5py
import numpy as np

from quantizeml_reference_values import ceil_log2, variable

f32 = np.float32
NEURAL = ("QuantizedConv2D", "QuantizedDepthwiseConv2D", "QuantizedDense")
# Layers CNN2SNN folds into the block of the neural/Add layer before them.
FOLDED = ("QuantizedMaxPool2D", "QuantizedReLU", "QuantizedGlobalAveragePooling2D",
          "QuantizedFlatten", "QuantizedReshape", "QuantizedDropout")


class QState:
    """The QTensor leaving a layer: FixedPoint (scales None) or QFloat; frac/scales per channel or
    one value."""

    def __init__(self, value_bits, frac, scales=None):
        self.value_bits = value_bits
        self.frac = np.atleast_1d(np.asarray(frac, dtype=f32))
        self.scales = None if scales is None else np.atleast_1d(np.asarray(scales, dtype=f32))

    @property
    def per_tensor(self):
        return self.frac.size == 1 and (self.scales is None or self.scales.size == 1)


def saturate(x, value_bits):
    return np.clip(x, -2.0 ** value_bits, 2.0 ** value_bits - 1)


def max_frac_bits(value_bits, ranges, clamp=True):
    frac = f32(value_bits) - ceil_log2(np.asarray(ranges, dtype=f32)).astype(f32)
    return np.minimum(frac, f32(value_bits)) if clamp else frac


def weight_scales(kernel, value_bits, axis):
    if axis is None:
        ranges = np.abs(kernel).max()
    else:
        axis = axis % kernel.ndim
        ranges = np.abs(kernel).max(axis=tuple(a for a in range(kernel.ndim) if a != axis))
    return np.maximum((np.asarray(ranges, dtype=f32) / f32(2 ** value_bits - 1)).astype(f32),
                      f32(1e-6))


def aligned(x, bitwidth, signed, other):
    """AlignedWeightQuantizer(x, other): (q, shift) with q the unshifted integers."""
    value_bits = bitwidth - 1 if signed else bitwidth
    x = np.asarray(x, dtype=f32)
    ranges = np.abs(x) if bitwidth > 4 else np.abs(x).max()
    frac = np.minimum(max_frac_bits(value_bits, (ranges / other.scales).astype(f32)), other.frac)
    q = saturate(np.round((x / other.scales).astype(f32) * (2.0 ** frac).astype(f32)), value_bits)
    return q.astype(np.int64), (other.frac - frac).astype(np.int64)


def output_quantizer(cfg, state, range_max, rate):
    """OutputQuantizer.call: (output state, qscales or None for a FixedPoint input, shift)."""
    bits = cfg.get("bitwidth", 8)
    value_bits = bits - 1 if cfg.get("signed", True) else bits
    scale_bits = cfg.get("scale_bits", 8)
    frac_in, qscales = state.frac, None  # no qscales on a FixedPoint input
    if state.scales is not None:
        s = (state.scales * rate).astype(f32)
        fq = max_frac_bits(scale_bits, s, clamp=False)
        qscales = saturate(np.round((s * (2.0 ** fq).astype(f32)).astype(f32)),
                           scale_bits).astype(np.int64)
        frac_in = frac_in + fq
    frac_out = max_frac_bits(value_bits, range_max)
    return QState(value_bits, frac_out), qscales, (frac_out - frac_in).astype(np.int64)


class Reference:
    def __init__(self, path):
        self.h5 = h5py.File(path, "r")
        config = json.loads(self.h5.attrs["model_config"])["config"]
        self.layers = {ly["config"]["name"]: ly for ly in config["layers"]}
        self.order = [ly["config"]["name"] for ly in config["layers"]]
        self.states = {}
        self.shapes = {}
        self.owner = {}   # keras layer -> the Akida layer (block) it belongs to
        self.out = {}     # akida layer -> {variable: values}

    def inbound(self, name):
        nodes = self.layers[name].get("inbound_nodes") or []
        if not nodes:
            return []
        node = nodes[0]
        if isinstance(node, dict):  # Keras 3 style
            args = node["args"][0]
            args = args if isinstance(args, list) else [args]
            return [a["config"]["keras_history"][0] for a in args]
        return [entry[0] for entry in node]

    def weight(self, name, suffix):
        return variable(self.h5, name, suffix)

    def run(self):
        for name in self.order:
            layer = self.layers[name]
            cls = layer["class_name"].replace("Custom>", "")
            cfg = layer["config"]
            qc = cfg.get("quant_config") or {}
            ins = [self.states[i] for i in self.inbound(name)]
            owner = None
            if cls in NEURAL or cls == "QuantizedAdd":
                owner = name
                self.out[name] = {}
            elif cls in FOLDED and ins:
                owner = self.owner.get(self.inbound(name)[0])
            self.owner[name] = owner
            self.shapes[name] = self.shape_of(name, cls, cfg)
            state = getattr(self, "layer_" + cls, self.layer_identity)(name, cls, cfg, qc, ins)
            oq = qc.get("output_quantizer")
            if oq:
                state, qscales, shift = output_quantizer(
                    oq, state, self.weight(name, "/range_max"), self.weight(name, "/rescaling_rate"))
                if owner is not None:
                    buffer_bits = self.layers[owner]["config"]["quant_config"].get("buffer_bitwidth", 32)
                    if qscales is not None:
                        self.out[owner]["output_scales"] = qscales
                    self.out[owner]["output_shift"] = np.maximum(shift, 1 - buffer_bits)
            self.states[name] = state
        return self.out

    # ---- layers ----
    def layer_identity(self, name, cls, cfg, qc, ins):
        return ins[0] if ins else None

    def layer_InputLayer(self, name, cls, cfg, qc, ins):
        dtype = cfg.get("dtype", "float32")
        return QState(7 if dtype == "int8" else 8, 0.0)

    def layer_QuantizedRescaling(self, name, cls, cfg, qc, ins):
        scale = cfg["scale"]
        scale = f32(scale[0] if isinstance(scale, list) else scale)
        s = ins[0]
        return QState(s.value_bits, s.frac, scale if s.scales is None else s.scales * scale)

    def buffer_inputs(self, name, state, value_bits, may_expand):
        if not state.per_tensor and may_expand:
            top = state.frac.max()
            self.out[self.owner[name]]["input_shift"] = (top - state.frac).astype(np.int64)
            return QState(value_bits, top, state.scales)
        return QState(value_bits, state.frac, state.scales)

    def neural(self, name, cls, cfg, qc, ins):
        depthwise = cls == "QuantizedDepthwiseConv2D"
        buffer_bits = qc.get("buffer_bitwidth", 32)
        state = self.buffer_inputs(name, ins[0], buffer_bits - 1, not depthwise)
        wq = qc.get("weight_quantizer", {})
        bits = wq.get("bitwidth", 8)
        kernel = self.weight(name, "/depthwise_kernel" if depthwise else "/kernel")
        scales = weight_scales(kernel, bits - 1, wq.get("axis", -1))
        if depthwise:
            scales = scales.reshape(-1)
        acc_scales = scales if state.scales is None else (state.scales[0] * scales).astype(f32)
        acc = QState(buffer_bits - 1, state.frac, acc_scales)
        if cfg.get("use_bias"):
            bq = qc.get("bias_quantizer", {})
            q, shift = aligned(self.weight(name, "/bias"), bq.get("bitwidth", 8),
                               bq.get("signed", True), acc)
            self.out[name]["bias"] = q
            self.out[name]["bias_shift"] = shift
        return acc

    layer_QuantizedConv2D = layer_QuantizedDepthwiseConv2D = layer_QuantizedDense = neural

    def layer_QuantizedReLU(self, name, cls, cfg, qc, ins):
        s = ins[0]
        state = QState(qc.get("buffer_bitwidth", 32), s.frac, 1.0 if s.scales is None else s.scales)
        max_value = cfg.get("max_value", 6)
        if max_value is not None:
            mq = qc.get("max_value_quantizer", {})
            q, shift = aligned(max_value, mq.get("bitwidth", 8), mq.get("signed", False), state)
            self.out[self.owner[name]]["max_value"] = q
            self.out[self.owner[name]]["max_value_shift"] = shift
        return state

    def layer_QuantizedGlobalAveragePooling2D(self, name, cls, cfg, qc, ins):
        s = ins[0]
        h, w, _ = self.shapes[self.inbound(name)[0]]
        scales = (s.scales / f32(h * w)).astype(f32) if s.scales is not None else f32(1.0 / (h * w))
        return QState(qc.get("buffer_bitwidth", 32) - 1, s.frac, scales)

    def layer_QuantizedAdd(self, name, cls, cfg, qc, ins):
        a, b = ins
        frac = np.maximum(a.frac, b.frac)
        self.out[name]["a_shift"] = (frac - a.frac).astype(np.int64)
        self.out[name]["b_shift"] = (frac - b.frac).astype(np.int64)
        if cfg.get("average"):
            frac = frac + 1
        return QState(qc.get("buffer_bitwidth", 32) - 1, frac)

    def layer_QuantizedConcatenate(self, name, cls, cfg, qc, ins):
        fracs = [np.broadcast_to(s.frac, (self.shapes[i][-1],))
                 for s, i in zip(ins, self.inbound(name))]
        frac = np.concatenate(fracs)
        return QState(max(s.value_bits for s in ins), frac[:1] if np.all(frac == frac[0]) else frac)

    # ---- shapes (x, y, c), only what GlobalAveragePooling2D and Concatenate need ----
    def shape_of(self, name, cls, cfg):
        if cls == "InputLayer":
            return tuple(cfg["batch_input_shape"][1:])
        ins = [self.shapes[i] for i in self.inbound(name)]
        if cls == "QuantizedConcatenate":
            return ins[0][:-1] + (sum(i[-1] for i in ins),)
        if cls in ("QuantizedConv2D", "QuantizedDepthwiseConv2D", "QuantizedMaxPool2D"):
            size = cfg.get("pool_size") or cfg["kernel_size"]
            strides = cfg.get("strides") or size
            spatial = tuple(
                -(-n // st) if cfg["padding"] == "same" else (n - k) // st + 1
                for n, k, st in zip(ins[0][:2], size, strides))
            return spatial + (cfg.get("filters") or ins[0][-1],)
        if cls == "QuantizedDense":
            return (1, 1, cfg["units"])
        if cls == "QuantizedGlobalAveragePooling2D":
            return (1, 1, ins[0][-1])
        return ins[0] if ins else None


def variables(path):
    return Reference(path).run()
