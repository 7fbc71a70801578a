"""Float (non-quantized) forward pass of a model description, in numpy float64.

Used only for calibration (observing activation ranges), so it follows TensorFlow/Keras float
semantics: 'same' padding puts the extra pixel at the bottom/right, max pooling ignores padded
cells, Dense acts on the last axis.  np.einsum (no BLAS) keeps results bit-reproducible across
machines.
"""

from __future__ import annotations

from typing import Dict

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .model import Model, conv_out_len


def _same_pads(n: int, k: int, s: int):
    out = conv_out_len(n, k, s, "same")
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _patches(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, padding: str, pad_value=0.0):
    """(N, H, W, C) -> (N, OH, OW, C, kh, kw) windows, TF padding rules."""
    if padding == "same":
        pt, pb = _same_pads(x.shape[1], kh, sh)
        pl, pr = _same_pads(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    win = sliding_window_view(x, (kh, kw), axis=(1, 2))
    return win[:, ::sh, ::sw]


def conv2d(x, kernel, bias, strides, padding):
    kh, kw = kernel.shape[:2]
    p = _patches(x, kh, kw, strides[0], strides[1], padding)
    y = np.einsum("nhwcij,ijcf->nhwf", p, kernel.astype(np.float64))
    return y if bias is None else y + bias


def depthwise_conv2d(x, kernel, bias, strides, padding):
    kh, kw = kernel.shape[:2]
    p = _patches(x, kh, kw, strides[0], strides[1], padding)
    y = np.einsum("nhwcij,ijc->nhwc", p, kernel[..., 0].astype(np.float64))
    return y if bias is None else y + bias


def max_pool(x, pool, strides, padding):
    p = _patches(x, pool[0], pool[1], strides[0], strides[1], padding, pad_value=-np.inf)
    return p.max(axis=(-2, -1))


def forward(model: Model, x: np.ndarray, weights: Dict[str, Dict[str, np.ndarray]] = None):
    """Run the float network on a batch x; returns {layer name: activation (float64)}.

    weights defaults to the layers' own weights (pass a dict to override)."""
    acts: Dict[str, np.ndarray] = {}
    for ly in model.layers:
        c = ly.config
        w = ly.weights if weights is None else weights[ly.name]
        ins = [acts[n] for n in ly.inbound]
        k = ly.class_name
        bias = w.get("bias")
        bias = None if bias is None else bias.astype(np.float64)
        if k == "InputLayer":
            y = x.astype(np.float64)
        elif k == "QuantizedConv2D":
            y = conv2d(ins[0], w["kernel"], bias, c["strides"], c["padding"])
        elif k == "QuantizedDepthwiseConv2D":
            y = depthwise_conv2d(ins[0], w["depthwise_kernel"], bias, c["strides"], c["padding"])
        elif k == "QuantizedSeparableConv2D":
            y = depthwise_conv2d(ins[0], w["depthwise_kernel"], None, c["strides"], c["padding"])
            y = conv2d(y, w["pointwise_kernel"], bias, (1, 1), "valid")
        elif k == "QuantizedDense":
            y = np.einsum("...k,kf->...f", ins[0], w["kernel"].astype(np.float64))
            y = y if bias is None else y + bias
        elif k == "QuantizedReLU":
            y = np.maximum(ins[0], 0.0)
            if c["max_value"] is not None:
                y = np.minimum(y, c["max_value"])
        elif k == "QuantizedMaxPool2D":
            y = max_pool(ins[0], c["pool_size"], c["strides"], c["padding"])
        elif k == "QuantizedGlobalAveragePooling2D":
            y = ins[0].mean(axis=(1, 2))
        elif k == "QuantizedAdd":
            y = ins[0] + ins[1]
        elif k == "QuantizedConcatenate":
            y = np.concatenate(ins, axis=c["axis"])
        elif k == "QuantizedReshape":
            y = ins[0].reshape((ins[0].shape[0],) + tuple(c["target_shape"]))
        elif k == "QuantizedFlatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif k == "QuantizedRescaling":
            y = ins[0] * c["scale"] + c["offset"]
        elif k == "Activation":
            if c["activation"] != "softmax":
                raise ValueError(f"unsupported activation {c['activation']}")
            e = np.exp(ins[0] - ins[0].max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
        elif k in ("Dequantizer", "QuantizedDropout"):
            y = ins[0]
        else:
            raise ValueError(f"unsupported class {k}")
        acts[ly.name] = y
    return acts
