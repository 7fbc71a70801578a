"""Weight initialization, OutputQuantizer placement and calibration.

This mirrors what `quantizeml.models.quantize()` does after its float model is built (facts from
QuantizeML models/quantize.py and models/calibrate.py; see docs/quantizeml-h5.md):

1. `place_output_quantizers`: an OutputQuantizer goes on the inbound(s) of every layer that
   requires aligned inputs, walking back over layers that cannot hold one.  Per-tensor when the
   quantized tensor is a vector (prod(shape) == shape[-1]) or `per_tensor_activations`, else
   per-axis.  ReLU gets {bitwidth, signed, axis}, GAP/other {bitwidth, axis}, plus buffer_bitwidth.
2. `calibrate`: range_max = max |activation| observed on calibration samples (float network);
   then cross-layer equalization (CLE): when the quantizer's input is a QFloat and a single
   "equalizable" layer follows, range_max is replaced by the ideal power-of-two aligned value
   (2^b - 1) * 2^(floor(log2(range_max)) - b), rescaling_rate = ideal / calibrated, and the
   next layer's kernel is divided by rescaling_rate along its input-channel axis.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .model import (ALIGNED_INPUTS, NEURAL, NO_OUTPUT_QUANTIZER, Model, Layer, output_shapes)
from .numerics import forward


# ------------------------------------------------------------------------------------------------
# Weights
# ------------------------------------------------------------------------------------------------

def _fed_by_raw_integers(model: Model, ly: Layer) -> bool:
    """True when the layer sees the raw 0..255 model input (no Rescaling on the way)."""
    cur = ly
    while cur.inbound:
        prev = model.layer(cur.inbound[0])
        if prev.class_name == "InputLayer":
            return True
        if prev.class_name != "QuantizedDropout":
            return False
        cur = prev
    return False


def init_weights(model: Model, rng: np.random.Generator, bias_range=(0.0, 0.2)) -> None:
    """He-normal kernels (std = sqrt(2 / fan_in)) and small positive biases, drawn in layer order.

    A positive bias keeps every ReLU channel alive, so no per-axis range_max is zero.  Layers fed
    by the raw 0..255 input get their kernel divided by 128 so that activations are O(1), as a
    trained network that learned the input scale would (the ECG model has no Rescaling)."""
    shapes = output_shapes(model)
    for ly in model.layers:
        if ly.class_name not in NEURAL:
            continue
        in_shape = shapes[ly.inbound[0]]
        c = ly.config
        if ly.class_name == "QuantizedConv2D":
            kshape = tuple(c["kernel_size"]) + (in_shape[-1], c["filters"])
            fan_in = int(np.prod(kshape[:3]))
            n_out = c["filters"]
            key = "kernel"
        elif ly.class_name == "QuantizedDepthwiseConv2D":
            kshape = tuple(c["kernel_size"]) + (in_shape[-1], 1)
            fan_in = int(np.prod(c["kernel_size"]))
            n_out = in_shape[-1]
            key = "depthwise_kernel"
        elif ly.class_name == "QuantizedSeparableConv2D":
            # depthwise part: unit-gain kernel (std sqrt(1/k^2)); pointwise part: He on C inputs
            dw_shape = tuple(c["kernel_size"]) + (in_shape[-1], 1)
            dw_std = np.sqrt(1.0 / np.prod(c["kernel_size"]))
            if _fed_by_raw_integers(model, ly):
                dw_std /= 128.0
            w = {"depthwise_kernel": (rng.standard_normal(dw_shape) * dw_std).astype(np.float32),
                 "pointwise_kernel": (rng.standard_normal((1, 1, in_shape[-1], c["filters"]))
                                      * np.sqrt(2.0 / in_shape[-1])).astype(np.float32)}
            if c["use_bias"]:
                w["bias"] = rng.uniform(bias_range[0], bias_range[1],
                                        c["filters"]).astype(np.float32)
            ly.weights = w
            continue
        else:
            kshape = (in_shape[-1], c["units"])
            fan_in = in_shape[-1]
            n_out = c["units"]
            key = "kernel"
        std = np.sqrt(2.0 / fan_in)
        if _fed_by_raw_integers(model, ly):
            std /= 128.0
        w = {key: (rng.standard_normal(kshape) * std).astype(np.float32)}
        if c["use_bias"]:
            w["bias"] = rng.uniform(bias_range[0], bias_range[1], n_out).astype(np.float32)
        ly.weights = w


def _feeds_relu(model: Model, ly: Layer) -> bool:
    """True when the layer output goes (through an optional MaxPool) into a ReLU: the place of a
    BatchNormalization in the zoo blocks (conv -> [pool] -> BN -> ReLU)."""
    outs = model.outbound(ly.name)
    # v1 blocks may also put a GlobalAveragePooling before the ReLU (conv -> GAP -> BN -> ReLU)
    while len(outs) == 1 and outs[0].class_name in ("QuantizedMaxPool2D",
                                                    "QuantizedGlobalAveragePooling2D"):
        outs = model.outbound(outs[0].name)
    return len(outs) == 1 and outs[0].class_name == "QuantizedReLU"


def normalize_like_batchnorm(model: Model, samples: np.ndarray, rng: np.random.Generator,
                             beta_range=(0.3, 1.0), gamma_range=(0.5, 1.0)) -> None:
    """Data-dependent rescaling of every biased layer that feeds a ReLU, as if a BatchNormalization trained
    on `samples` had been folded into it (which is what QuantizeML's sanitize does to the zoo
    models): each output channel gets mean beta and standard deviation gamma on the samples.

    Layers are processed in order so that each one sees the already-normalized activations; the
    result has no dead ReLU channel and activations of the order of the ReLU max_value."""
    for ly in model.layers:
        if ly.class_name not in NEURAL or "bias" not in ly.weights or not _feeds_relu(model, ly):
            continue
        y = forward(model, samples)[ly.name]
        y = y.reshape(-1, y.shape[-1])
        mean, std = y.mean(axis=0), y.std(axis=0)
        std = np.where(std > 1e-6, std, 1.0)
        n = y.shape[-1]
        beta = rng.uniform(beta_range[0], beta_range[1], n)
        gamma = rng.uniform(gamma_range[0], gamma_range[1], n)
        scale = gamma / std
        if "pointwise_kernel" in ly.weights:
            key = "pointwise_kernel"  # separable: the pointwise part holds the output channels
        else:
            key = "depthwise_kernel" if "depthwise_kernel" in ly.weights else "kernel"
        kernel = ly.weights[key].astype(np.float64)
        if key == "depthwise_kernel":
            kernel = kernel * scale[:, None]  # (kh, kw, C, 1): output channel is axis -2
        else:
            kernel = kernel * scale           # output channel is the last axis
        bias = (ly.weights["bias"].astype(np.float64) - mean) * scale + beta
        ly.weights[key] = kernel.astype(np.float32)
        ly.weights["bias"] = bias.astype(np.float32)


# ------------------------------------------------------------------------------------------------
# OutputQuantizer placement (QuantizeML models/quantize.py `_prepare_output_quantizers`)
# ------------------------------------------------------------------------------------------------

def _preceding_holders(model: Model, ly: Layer) -> List[str]:
    """Inbound layers that can hold an OutputQuantizer, skipping inputs and no-OQ layers."""
    names = []
    for n in ly.inbound:
        prev = model.layer(n)
        if prev.class_name == "InputLayer":
            continue
        if prev.class_name in NO_OUTPUT_QUANTIZER:
            names.extend(_preceding_holders(model, prev))
        else:
            names.append(n)
    return names


def place_output_quantizers(model: Model) -> None:
    shapes = output_shapes(model)
    configs: Dict[str, Dict] = {}
    for ly in reversed(model.layers):
        if ly.class_name not in ALIGNED_INPUTS:
            continue
        for name in _preceding_holders(model, ly):
            holder = model.layer(name)
            shape = shapes[name]
            vector = int(np.prod(shape)) == shape[-1]
            per_tensor = vector or model.per_tensor_activations
            if name in configs:
                # already set by a later layer: only per-tensor may override per-axis
                cur = configs[name]["axis"]
                configs[name]["axis"] = ("per-tensor" if per_tensor or cur == "per-tensor"
                                         else "per-axis")
                continue
            axis = "per-tensor" if per_tensor else "per-axis"
            if holder.class_name == "QuantizedReLU":
                params = {"bitwidth": model.activation_bits,
                          "signed": model.activation_bits >= 8, "axis": axis}
            elif holder.class_name == "QuantizedGlobalAveragePooling2D":
                before = _preceding_holders(model, holder)
                after_relu = bool(before) and model.layer(before[0]).class_name == "QuantizedReLU"
                bits = model.activation_bits if after_relu else model.output_bits
                params = {"bitwidth": bits, "axis": axis}
            else:
                params = {"bitwidth": model.output_bits, "axis": axis}
            params["buffer_bitwidth"] = model.buffer_bits
            configs[name] = params
    for ly in model.layers:
        ly.output_quantizer = configs.get(ly.name)


# ------------------------------------------------------------------------------------------------
# Calibration + cross-layer equalization (QuantizeML models/calibrate.py)
# ------------------------------------------------------------------------------------------------

# Layers _get_next_layer may walk through (skippable_layers in calibrate.py).
_CLE_SKIPPABLE = {"QuantizedDropout", "QuantizedMaxPool2D", "QuantizedGlobalAveragePooling2D",
                  "Dequantizer"}
_RESHAPING = {"QuantizedReshape", "QuantizedFlatten"}


def _cle_next_layer(model: Model, ly: Layer, per_tensor: bool, shapes
                    ) -> Tuple[Optional[Layer], List]:
    reshape_ops: List = []
    cur = ly
    while True:
        outs = model.outbound(cur.name)
        if len(outs) != 1:
            return None, reshape_ops
        nxt = outs[0]
        if nxt.class_name in NEURAL:
            return nxt, reshape_ops
        if nxt.class_name in _CLE_SKIPPABLE or (per_tensor and nxt.class_name in _RESHAPING):
            cur = nxt
            continue
        if nxt.class_name in _RESHAPING and not reshape_ops:
            reshape_ops.append((shapes[cur.name], shapes[nxt.name]))
            cur = nxt
            continue
        return None, reshape_ops


def _floor_log2(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.floor(np.log2(x.astype(np.float32)))


def ideal_range_max(range_max: np.ndarray, bitwidth: int) -> np.ndarray:
    """FixedPoint(2^b - 1, b, b - floor_log2(range_max)).to_float(): the largest value of the
    power-of-two grid just below range_max (0 stays 0)."""
    frac = bitwidth - _floor_log2(range_max)
    with np.errstate(over="ignore"):
        return (np.float32(2 ** bitwidth - 1) * np.exp2(-frac)).astype(np.float32)


def observed_ranges(model: Model, samples: np.ndarray) -> Dict[str, np.ndarray]:
    acts = forward(model, samples)
    ranges = {}
    for ly in model.layers:
        oq = ly.output_quantizer
        if oq is None:
            continue
        a = np.abs(acts[ly.name])
        if oq["axis"] == "per-axis":
            r = a.reshape(-1, a.shape[-1]).max(axis=0)
        else:
            r = np.asarray(a.max())
        ranges[ly.name] = r.astype(np.float32)
    return ranges


def calibrate(model: Model, samples: np.ndarray, equalize: bool = True) -> None:
    """Set range_max / rescaling_rate of every OutputQuantizer (in place)."""
    shapes = output_shapes(model)
    ranges = observed_ranges(model, samples)
    for ly in model.layers:
        oq = ly.output_quantizer
        if oq is None:
            ly.quantizer_vars = {}
            continue
        rm = ranges[ly.name]
        ly.quantizer_vars = {"range_max": rm, "rescaling_rate": np.ones_like(rm)}
        # The OutputQuantizer only has qscales (and so can apply a rescaling rate) when its input
        # is a QFloat; QuantizedAdd works on FixedPoint, every other holder here yields QFloat.
        if not equalize or ly.class_name == "QuantizedAdd":
            continue
        per_tensor = oq["axis"] == "per-tensor"
        nxt, reshape_ops = _cle_next_layer(model, ly, per_tensor, shapes)
        if nxt is None:
            continue
        ideal = ideal_range_max(rm, oq["bitwidth"])
        if np.all(ideal == rm):
            continue
        calibrated = rm.copy()
        stored_ideal = ideal.copy()
        if not per_tensor:
            # dead channel: ideal is exactly 0, force a rate of 1 (calibrate.py does the same)
            calibrated[ideal == 0] = 1
            ideal[ideal == 0] = 1
        rate = (ideal / calibrated).astype(np.float32)
        ly.quantizer_vars = {"range_max": stored_ideal, "rescaling_rate": rate}
        key = "depthwise_kernel" if "depthwise_kernel" in nxt.weights else "kernel"
        kernel = nxt.weights[key]
        shape = kernel.shape
        if reshape_ops and reshape_ops[0][0][-1] != reshape_ops[0][1][-1]:
            # undo the Flatten on the kernel rows: (X*Y*C, F) -> (X, Y, C, F)
            kernel = kernel.reshape(tuple(reshape_ops[0][0]) + (shape[-1],))
        kernel = kernel / np.expand_dims(rate, -1)
        nxt.weights[key] = kernel.reshape(shape).astype(np.float32)
