"""Legacy CNN2SNN-quantized Keras `.h5` files (what `cnn2snn.quantize()` + `model.save()` wrote).

Before QuantizeML, CNN2SNN quantized Keras models itself (akida-spec §3.5).
`cnn2snn.quantize(model, weight_quantization, activ_quantization, input_weight_quantization)`
folded the BatchNormalizations, then replaced Conv2D / SeparableConv2D / Dense by QuantizedConv2D /
QuantizedSeparableConv2D / QuantizedDense (weights quantized on the fly by a *weight quantizer*
object stored in the layer config) and ReLU by a quantized activation. The saved file keeps the
**float** weights; the quantizer is re-applied at conversion time: w_q = clip(round(w * sf), -kmax,
kmax) / sf with kmax = 2^(bits-1) - 1 and sf = kmax / max|w| (per output channel for
MaxPerAxisQuantizer).

Facts used here (see docs/quantizeml-h5.md §8 for the source of each one):

* class names are the **bare** Python class names (`QuantizedConv2D`, no `Custom>` prefix): the
  legacy layers are not registered, `cnn2snn.load_quantized_model` passes a `custom_objects` dict
  (`cnn2snn_objects`) to `load_model`;
* `get_config()` = the Keras base class config + `quantizer` (and `quantizer_dw` before it for the
  separable layer), minus the "unsupported args" (`data_format`, `activation`, `groups` for Conv;
  `data_format`, `activation`, `depth_multiplier` for SeparableConv; `activation` for Dense);
* a weight quantizer is a Keras `Layer`, so its config is `{name, trainable, dtype, bitwidth}`
  (+ `threshold` for StdWeightQuantizer), serialized as `{"class_name", "config"}`;
* `QuantizedReLU` config = `{name, trainable, dtype, bitwidth, max_value}`,
  `ActivationDiscreteRelu` = `{name, trainable, dtype, bitwidth}`; neither has weights.

Two "flavours" of the Keras serialization are supported: "tf2" (tf.keras 2.4-2.12: objects as
{"class_name", "config"}; the default, the era of the Akida 1.0 zoo files) and "tf_keras2.15"
(tf_keras 2.13+ serialization_lib: objects as {"module", "class_name", "config",
"registered_name"}, what cnn2snn 2.19.1 + tf_keras 2.15 would write).
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import h5py
import numpy as np

from .model import Layer, conv_out_len
from .numerics import conv2d as _conv2d, depthwise_conv2d as _dw_conv2d, max_pool as _max_pool
from .writer import _names_attr, default_training_config

FLAVOURS = {"tf2": "2.8.0", "tf_keras2.15": "2.15.0"}
DEFAULT_FLAVOUR = "tf2"

NEURAL = {"QuantizedConv2D", "QuantizedSeparableConv2D", "QuantizedDense"}
ACTIVATIONS = {"QuantizedReLU", "ActivationDiscreteRelu"}
WEIGHT_QUANTIZERS = {"MaxQuantizer", "MaxPerAxisQuantizer", "StdWeightQuantizer"}
# Keras built-ins (bare names in any Keras version)
BUILTINS = {"InputLayer", "Rescaling", "MaxPooling2D", "GlobalAveragePooling2D", "Reshape",
            "Flatten", "Activation"}
# Python module of each class, for the tf_keras 2.15 serialization of the quantizers
_QUANTIZER_MODULE = "cnn2snn.quantization_ops"


@dataclass
class LegacyModel:
    """A legacy CNN2SNN Keras model: layers in topological order, first one an InputLayer.

    sequential=True writes a `Sequential` model_config (layers without inbound_nodes; the
    InputLayer is in the config but not in `model.layers`, hence not in the weights)."""
    name: str
    layers: List[Layer]
    outputs: List[str]
    sequential: bool = False

    def layer(self, name: str) -> Layer:
        for ly in self.layers:
            if ly.name == name:
                return ly
        raise KeyError(name)

    def outbound(self, name: str) -> List[Layer]:
        return [ly for ly in self.layers if name in ly.inbound]


# ------------------------------------------------------------------------------------------------
# Builders (semantic parameters only; weights are set by `init_legacy_weights`)
# ------------------------------------------------------------------------------------------------

def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def quantizer(class_name: str = "MaxPerAxisQuantizer", bitwidth: int = 4, threshold=3) -> Dict:
    """Semantic weight quantizer: {"class_name", "bitwidth"[, "threshold"]}."""
    if class_name not in WEIGHT_QUANTIZERS:
        raise ValueError(f"unknown weight quantizer {class_name}")
    q = {"class_name": class_name, "bitwidth": int(bitwidth)}
    if class_name == "StdWeightQuantizer":
        q["threshold"] = float(threshold)
    return q


def input_layer(name, shape, dtype="float32"):
    return Layer("InputLayer", name, {"shape": tuple(shape), "dtype": dtype})


def rescaling(name, inbound, scale, offset=0):
    return Layer("Rescaling", name, {"scale": scale, "offset": offset}, [inbound])


def qconv2d(name, inbound, filters, kernel_size, bits=4, strides=1, padding="same",
            use_bias=True, wq="MaxPerAxisQuantizer"):
    return Layer("QuantizedConv2D", name,
                 {"filters": filters, "kernel_size": _pair(kernel_size), "strides": _pair(strides),
                  "padding": padding, "use_bias": use_bias, "quantizer": quantizer(wq, bits)},
                 [inbound])


def qseparable_conv2d(name, inbound, filters, kernel_size, bits=4, strides=1, padding="same",
                      use_bias=True, wq="MaxPerAxisQuantizer", wq_dw="MaxQuantizer"):
    # cnn2snn.quantize: quantizer = MaxPerAxisQuantizer(bits), quantizer_dw = MaxQuantizer(bits)
    return Layer("QuantizedSeparableConv2D", name,
                 {"filters": filters, "kernel_size": _pair(kernel_size), "strides": _pair(strides),
                  "padding": padding, "use_bias": use_bias, "quantizer": quantizer(wq, bits),
                  "quantizer_dw": quantizer(wq_dw, bits)}, [inbound])


def qdense(name, inbound, units, bits=4, use_bias=True, wq="MaxPerAxisQuantizer"):
    return Layer("QuantizedDense", name,
                 {"units": units, "use_bias": use_bias, "quantizer": quantizer(wq, bits)},
                 [inbound])


def qrelu(name, inbound, bitwidth=4, max_value=6.0):
    """QuantizedReLU(bitwidth, max_value); max_value None -> 2^bitwidth - 1 (layer default)."""
    if max_value is None:
        max_value = 2.0 ** bitwidth - 1
    return Layer("QuantizedReLU", name, {"bitwidth": int(bitwidth), "max_value": float(max_value)},
                 [inbound])


def discrete_relu(name, inbound, bitwidth=1):
    return Layer("ActivationDiscreteRelu", name, {"bitwidth": int(bitwidth)}, [inbound])


def max_pool(name, inbound, pool_size=2, strides=None, padding="valid"):
    strides = pool_size if strides is None else strides
    return Layer("MaxPooling2D", name, {"pool_size": _pair(pool_size), "strides": _pair(strides),
                                        "padding": padding}, [inbound])


def global_avg_pool(name, inbound):
    return Layer("GlobalAveragePooling2D", name, {"keepdims": False}, [inbound])


def reshape(name, inbound, target_shape):
    return Layer("Reshape", name, {"target_shape": tuple(target_shape)}, [inbound])


def flatten(name, inbound):
    return Layer("Flatten", name, {}, [inbound])


def activation(name, inbound, fn="softmax"):
    return Layer("Activation", name, {"activation": fn}, [inbound])


# ------------------------------------------------------------------------------------------------
# Quantization semantics (cnn2snn quantization_ops.py / quantization_layers.py)
# ------------------------------------------------------------------------------------------------

def activation_step(ly: Layer) -> float:
    """Quantization step of a legacy quantized activation.

    QuantizedReLU: max_value / (2^b - 1); ActivationDiscreteRelu: min(2^b - 1, 6) / (2^b - 1)."""
    levels = 2.0 ** ly.config["bitwidth"] - 1
    if ly.class_name == "QuantizedReLU":
        return float(np.float32(ly.config["max_value"]) / np.float32(levels))
    return float(np.float32(min(levels, 6.0) / levels))


def activation_max(ly: Layer) -> float:
    return activation_step(ly) * (2.0 ** ly.config["bitwidth"] - 1)


def quantized_activation(ly: Layer, x: np.ndarray) -> np.ndarray:
    """step * clip(ceil((x - step/2) / step), 0, 2^b - 1)
    (QuantizedActivation.quantized_activation)."""
    step = activation_step(ly)
    levels = 2.0 ** ly.config["bitwidth"] - 1
    return step * np.clip(np.ceil((x - 0.5 * step) / step), 0, levels)


def scale_factor(w: np.ndarray, q: Dict) -> np.ndarray:
    """sf of a weight quantizer (float32 like TF): kmax / range, range per last axis for
    MaxPerAxisQuantizer, max|w| for MaxQuantizer, threshold * std(w) for StdWeightQuantizer."""
    w = np.asarray(w, dtype=np.float32)
    kmax = np.float32(2.0 ** (q["bitwidth"] - 1) - 1)
    if q["class_name"] == "MaxPerAxisQuantizer":
        rng = np.abs(w).reshape(-1, w.shape[-1]).max(axis=0)
    elif q["class_name"] == "MaxQuantizer":
        rng = np.abs(w).max()
    else:
        rng = np.float32(q["threshold"]) * w.std()
    return (kmax / rng).astype(np.float32)


def quantize_weights(w: np.ndarray, q: Dict) -> Tuple[np.ndarray, np.ndarray]:
    """(integer weights, sf): clip(round(w * sf), -kmax, kmax), round half to even like tf.round."""
    sf = scale_factor(w, q)
    kmax = 2.0 ** (q["bitwidth"] - 1) - 1
    wi = np.clip(np.round(np.asarray(w, np.float32) * sf), -kmax, kmax)
    return wi.astype(np.int32), sf


def dequantized_weights(w: np.ndarray, q: Dict) -> np.ndarray:
    wi, sf = quantize_weights(w, q)
    return wi.astype(np.float64) / sf.astype(np.float64)


# ------------------------------------------------------------------------------------------------
# Shapes and forward pass
# ------------------------------------------------------------------------------------------------

def output_shapes(model: LegacyModel) -> Dict[str, Tuple[int, ...]]:
    shapes: Dict[str, Tuple[int, ...]] = {}
    for ly in model.layers:
        c = ly.config
        ins = [shapes[n] for n in ly.inbound]
        k = ly.class_name
        if k == "InputLayer":
            out = tuple(c["shape"])
        elif k in ("QuantizedConv2D", "QuantizedSeparableConv2D"):
            h, w, _ = ins[0]
            out = (conv_out_len(h, c["kernel_size"][0], c["strides"][0], c["padding"]),
                   conv_out_len(w, c["kernel_size"][1], c["strides"][1], c["padding"]),
                   c["filters"])
        elif k == "MaxPooling2D":
            h, w, ch = ins[0]
            out = (conv_out_len(h, c["pool_size"][0], c["strides"][0], c["padding"]),
                   conv_out_len(w, c["pool_size"][1], c["strides"][1], c["padding"]), ch)
        elif k == "QuantizedDense":
            out = ins[0][:-1] + (c["units"],)
        elif k == "GlobalAveragePooling2D":
            out = (ins[0][-1],)
        elif k == "Reshape":
            out = tuple(c["target_shape"])
            if int(np.prod(out)) != int(np.prod(ins[0])):
                raise ValueError(f"{ly.name}: cannot reshape {ins[0]} to {out}")
        elif k == "Flatten":
            out = (int(np.prod(ins[0])),)
        else:
            out = ins[0]
        shapes[ly.name] = out
    return shapes


def forward(model: LegacyModel, x: np.ndarray, quantized: bool = True) -> Dict[str, np.ndarray]:
    """Keras forward pass (float64).  quantized=True is what the saved legacy model computes
    (weights through their quantizer, activations through the quantized activation); False is the
    float model (ReLU clipped at the activation's max)."""
    acts: Dict[str, np.ndarray] = {}
    for ly in model.layers:
        c = ly.config
        w = ly.weights
        k = ly.class_name
        ins = [acts[n] for n in ly.inbound]
        bias = None if "bias" not in w else w["bias"].astype(np.float64)

        def kern(key, qkey="quantizer"):
            return dequantized_weights(w[key], c[qkey]) if quantized else w[key].astype(np.float64)

        if k == "InputLayer":
            y = np.asarray(x, dtype=np.float64)
        elif k == "Rescaling":
            y = ins[0] * c["scale"] + c["offset"]
        elif k == "QuantizedConv2D":
            y = _conv2d(ins[0], kern("kernel"), bias, c["strides"], c["padding"])
        elif k == "QuantizedSeparableConv2D":
            y = _dw_conv2d(ins[0], kern("depthwise_kernel", "quantizer_dw"), None, c["strides"],
                           c["padding"])
            y = _conv2d(y, kern("pointwise_kernel"), bias, (1, 1), "valid")
        elif k == "QuantizedDense":
            y = np.einsum("...k,kf->...f", ins[0], kern("kernel"))
            y = y if bias is None else y + bias
        elif k in ACTIVATIONS:
            y = (quantized_activation(ly, ins[0]) if quantized
                 else np.clip(ins[0], 0.0, activation_max(ly)))
        elif k == "MaxPooling2D":
            y = _max_pool(ins[0], c["pool_size"], c["strides"], c["padding"])
        elif k == "GlobalAveragePooling2D":
            y = ins[0].mean(axis=(1, 2))
        elif k == "Reshape":
            y = ins[0].reshape((ins[0].shape[0],) + tuple(c["target_shape"]))
        elif k == "Flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif k == "Activation":
            if c["activation"] != "softmax":
                raise ValueError(f"unsupported activation {c['activation']}")
            e = np.exp(ins[0] - ins[0].max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
        else:
            raise ValueError(f"unsupported class {k}")
        acts[ly.name] = y
    return acts


# ------------------------------------------------------------------------------------------------
# Weights: seeded He init, then a BatchNorm-like normalization on calibration samples
# ------------------------------------------------------------------------------------------------

def _fed_by_raw_input(model: LegacyModel, ly: Layer) -> bool:
    prev = model.layer(ly.inbound[0])
    return prev.class_name == "InputLayer"


def _following_activation(model: LegacyModel, ly: Layer) -> Optional[Layer]:
    """The quantized activation this neural layer feeds, possibly through MaxPool / GAP (the
    place of the folded BatchNormalization in conv -> [pool] -> BN -> ReLU blocks)."""
    outs = model.outbound(ly.name)
    while len(outs) == 1 and outs[0].class_name in ("MaxPooling2D", "GlobalAveragePooling2D"):
        outs = model.outbound(outs[0].name)
    if len(outs) == 1 and outs[0].class_name in ACTIVATIONS:
        return outs[0]
    return None


def init_legacy_weights(model: LegacyModel, samples: np.ndarray, seed: int) -> None:
    """Deterministic realistic float weights, in place.

    1. He-normal kernels (separable: unit-gain depthwise, He pointwise), biases U(0, 0.1); a layer
       fed by the raw 0..255 input (no Rescaling) gets its kernel divided by 128.
    2. In layer order, each neural layer that feeds a quantized activation is rescaled per output
       channel, as a folded BatchNormalization trained on the data would be, so that on the
       samples (propagated through the *quantized* model, i.e. what the saved file computes) the
       pre-activation has mean beta*M and std gamma*M, M = the activation's max value:
       multi-bit activations beta in [0.1, 0.35], gamma in [0.15, 0.35] (most levels used, a few
       percent clipped); 1-bit activations beta in [0.4, 0.6] (about half of the units fire).
       Classifier layers (no activation) keep their He weights."""
    rng = np.random.default_rng(seed)
    shapes = output_shapes(model)
    for ly in model.layers:
        if ly.class_name not in NEURAL:
            continue
        c = ly.config
        cin = shapes[ly.inbound[0]][-1]
        gain = 1.0 / 128.0 if _fed_by_raw_input(model, ly) else 1.0
        if ly.class_name == "QuantizedConv2D":
            kshape = tuple(c["kernel_size"]) + (cin, c["filters"])
            w = {"kernel": rng.standard_normal(kshape) * np.sqrt(2.0 / np.prod(kshape[:3])) * gain}
            n_out = c["filters"]
        elif ly.class_name == "QuantizedSeparableConv2D":
            kh, kw = c["kernel_size"]
            w = {"depthwise_kernel": rng.standard_normal((kh, kw, cin, 1))
                 * np.sqrt(1.0 / (kh * kw)) * gain,
                 "pointwise_kernel": rng.standard_normal((1, 1, cin, c["filters"]))
                 * np.sqrt(2.0 / cin)}
            n_out = c["filters"]
        else:
            w = {"kernel": rng.standard_normal((cin, c["units"])) * np.sqrt(2.0 / cin) * gain}
            n_out = c["units"]
        if c["use_bias"]:
            w["bias"] = rng.uniform(0.0, 0.1, n_out)
        ly.weights = {k: v.astype(np.float32) for k, v in w.items()}

    for ly in model.layers:
        if ly.class_name not in NEURAL or not ly.config["use_bias"]:
            continue
        act = _following_activation(model, ly)
        if act is None:
            continue
        y = forward(model, samples, quantized=True)[ly.name]
        y = y.reshape(-1, y.shape[-1])
        mean, std = y.mean(axis=0), y.std(axis=0)
        std = np.where(std > 1e-6, std, 1.0)
        m = activation_max(act)
        n = y.shape[-1]
        if act.config["bitwidth"] == 1:
            beta, gamma = rng.uniform(0.4, 0.6, n) * m, rng.uniform(0.15, 0.3, n) * m
        else:
            beta, gamma = rng.uniform(0.1, 0.35, n) * m, rng.uniform(0.15, 0.35, n) * m
        scale = gamma / std
        key = "kernel" if "kernel" in ly.weights else "pointwise_kernel"
        ly.weights[key] = (ly.weights[key].astype(np.float64) * scale).astype(np.float32)
        ly.weights["bias"] = ((ly.weights["bias"].astype(np.float64) - mean) * scale
                              + beta).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# Keras JSON
# ------------------------------------------------------------------------------------------------

def _snake(name: str) -> str:
    # keras generic_utils.to_snake_case
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def _serialize(class_name: str, config: Dict, flavour: str, builtin_module: Optional[str] = None,
               custom_module: Optional[str] = None) -> Dict:
    if flavour == "tf2":
        return {"class_name": class_name, "config": config}
    if builtin_module is not None:
        return {"module": builtin_module, "class_name": class_name, "config": config,
                "registered_name": None}
    return {"module": custom_module, "class_name": class_name, "config": config,
            "registered_name": class_name}


def _initializer(class_name: str, flavour: str) -> Dict:
    cfg = {"seed": None} if class_name.startswith("Glorot") else {}
    return _serialize(class_name, cfg, flavour, builtin_module="keras.initializers")


def _quantizer_names(model: LegacyModel) -> Dict[Tuple[str, str], str]:
    """Keras auto-names of the quantizer objects: snake_case(class) uniquified with _1, _2, ... in
    creation order (cnn2snn.quantize creates `quantizer` before `quantizer_dw`)."""
    counts: Dict[str, int] = {}
    names = {}
    for ly in model.layers:
        for key in ("quantizer", "quantizer_dw"):
            q = ly.config.get(key)
            if q is None:
                continue
            base = _snake(q["class_name"])
            n = counts.get(base, 0)
            names[(ly.name, key)] = base if n == 0 else f"{base}_{n}"
            counts[base] = n + 1
    return names


def _quantizer_config(q: Dict, name: str, flavour: str) -> Dict:
    # WeightQuantizer is a keras Layer: Layer.get_config() + bitwidth (+ threshold for Std)
    cfg = {"name": name, "trainable": True, "dtype": "float32", "bitwidth": q["bitwidth"]}
    if q["class_name"] == "StdWeightQuantizer":
        cfg["threshold"] = q["threshold"]
    return _serialize(q["class_name"], cfg, flavour, custom_module=_QUANTIZER_MODULE)


def _conv_base(c: Dict, flavour: str) -> Dict:
    """tf.keras Conv.get_config() keys after name/trainable/dtype."""
    return {"filters": c["filters"], "kernel_size": list(c["kernel_size"]),
            "strides": list(c["strides"]), "padding": c["padding"],
            "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
            "activation": "linear", "use_bias": c["use_bias"],
            "kernel_initializer": _initializer("GlorotUniform", flavour),
            "bias_initializer": _initializer("Zeros", flavour),
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None}


def layer_config(ly: Layer, flavour: str = DEFAULT_FLAVOUR,
                 qnames: Optional[Dict[Tuple[str, str], str]] = None) -> Dict:
    """The layer "config" dict as tf.keras get_config() + cnn2snn return it (key order included)."""
    c = ly.config
    k = ly.class_name
    qnames = qnames or {}

    def qcfg(key):
        default = _snake(c[key]["class_name"])
        return _quantizer_config(c[key], qnames.get((ly.name, key), default), flavour)

    if k == "InputLayer":
        return {"batch_input_shape": [None] + list(c["shape"]), "dtype": c["dtype"],
                "sparse": False, "ragged": False, "name": ly.name}
    cfg = {"name": ly.name, "trainable": True, "dtype": "float32"}
    if k == "QuantizedConv2D":
        cfg.update(_conv_base(c, flavour))
        cfg["quantizer"] = qcfg("quantizer")
        for arg in ("data_format", "activation", "groups"):  # QuantizedConv2D.unsupported_args
            cfg.pop(arg)
    elif k == "QuantizedSeparableConv2D":
        cfg.update(_conv_base(c, flavour))
        # SeparableConv.get_config = dict(Conv config + separable keys): new keys appended
        cfg.update({"depth_multiplier": 1,
                    "depthwise_initializer": _initializer("GlorotUniform", flavour),
                    "pointwise_initializer": _initializer("GlorotUniform", flavour),
                    "depthwise_regularizer": None, "pointwise_regularizer": None,
                    "depthwise_constraint": None, "pointwise_constraint": None})
        cfg["quantizer_dw"] = qcfg("quantizer_dw")
        cfg["quantizer"] = qcfg("quantizer")
        for arg in ("data_format", "activation", "depth_multiplier"):
            cfg.pop(arg)
    elif k == "QuantizedDense":
        cfg.update({"units": c["units"], "activation": "linear", "use_bias": c["use_bias"],
                    "kernel_initializer": _initializer("GlorotUniform", flavour),
                    "bias_initializer": _initializer("Zeros", flavour),
                    "kernel_regularizer": None, "bias_regularizer": None,
                    "activity_regularizer": None, "kernel_constraint": None,
                    "bias_constraint": None})
        cfg["quantizer"] = qcfg("quantizer")
        cfg.pop("activation")
    elif k == "QuantizedReLU":
        cfg["bitwidth"] = c["bitwidth"]
        # get_config stores self.max_value_.numpy(): a float32, JSON-encoded as its double value
        cfg["max_value"] = float(np.float32(c["max_value"]))
    elif k == "ActivationDiscreteRelu":
        cfg["bitwidth"] = c["bitwidth"]
    elif k == "Rescaling":
        cfg.update({"scale": c["scale"], "offset": c["offset"]})
    elif k == "MaxPooling2D":
        cfg.update({"pool_size": list(c["pool_size"]), "padding": c["padding"],
                    "strides": list(c["strides"]), "data_format": "channels_last"})
    elif k == "GlobalAveragePooling2D":
        cfg.update({"data_format": "channels_last", "keepdims": c["keepdims"]})
    elif k == "Reshape":
        cfg["target_shape"] = list(c["target_shape"])
    elif k == "Flatten":
        cfg["data_format"] = "channels_last"
    elif k == "Activation":
        cfg["activation"] = c["activation"]
    else:
        raise ValueError(f"unsupported class {k}")
    return cfg


def model_config(model: LegacyModel, flavour: str = DEFAULT_FLAVOUR) -> Dict:
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; known: {', '.join(FLAVOURS)}")
    qnames = _quantizer_names(model)
    if model.sequential:
        return {"class_name": "Sequential",
                "config": {"name": model.name,
                           "layers": [{"class_name": ly.class_name,
                                       "config": layer_config(ly, flavour, qnames)}
                                      for ly in model.layers]}}
    layers = [{"class_name": ly.class_name, "config": layer_config(ly, flavour, qnames),
               "name": ly.name,
               "inbound_nodes": [[[n, 0, 0, {}] for n in ly.inbound]] if ly.inbound else []}
              for ly in model.layers]
    cfg = {"name": model.name}
    if flavour == "tf_keras2.15":
        cfg["trainable"] = True
    cfg.update({"layers": layers,
                "input_layers": [[ly.name, 0, 0] for ly in model.layers
                                 if ly.class_name == "InputLayer"],
                "output_layers": [[n, 0, 0] for n in model.outputs]})
    return {"class_name": "Functional", "config": cfg}


def weight_entries(ly: Layer) -> List[Tuple[str, np.ndarray]]:
    """(variable name, value) in layer.weights order; legacy quantized layers add no variable."""
    return [(f"{ly.name}/{short}:0", ly.weights[short])
            for short in ("kernel", "depthwise_kernel", "pointwise_kernel", "bias")
            if short in ly.weights]


def param_count(ly: Layer) -> int:
    return int(sum(np.size(v) for _, v in weight_entries(ly)))


def validate(model: LegacyModel) -> None:
    seen = set()
    if not model.layers or model.layers[0].class_name != "InputLayer":
        raise ValueError("first layer must be an InputLayer")
    for i, ly in enumerate(model.layers):
        if ly.name in seen:
            raise ValueError(f"duplicate layer name {ly.name}")
        for n in ly.inbound:
            if n not in seen:
                raise ValueError(f"{ly.name}: inbound {n} is not defined before it")
        if model.sequential and i > 0 and ly.inbound != [model.layers[i - 1].name]:
            raise ValueError(f"{ly.name}: a Sequential model must be a chain")
        seen.add(ly.name)
    for n in model.outputs:
        if n not in seen:
            raise ValueError(f"output {n} is not a layer")
    output_shapes(model)


# ------------------------------------------------------------------------------------------------
# Writer (same HDF5 layout as writer.write_h5, see docs/quantizeml-h5.md §1)
# ------------------------------------------------------------------------------------------------

def write_legacy_h5(model: LegacyModel, path: str, flavour: str = DEFAULT_FLAVOUR,
                    training_config: Optional[dict] = "default") -> None:
    validate(model)
    for ly in model.layers:
        if ly.class_name in NEURAL and not ly.weights:
            raise ValueError(f"{ly.name}: weights not initialized")
    if training_config == "default":
        training_config = default_training_config()
    keras_version = FLAVOURS[flavour]
    weighted = [ly for ly in model.layers
                if not (model.sequential and ly.class_name == "InputLayer")]
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model_config(model, flavour)).encode("utf8")
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = _names_attr([ly.name for ly in weighted])
        mw.attrs["backend"] = b"tensorflow"
        mw.attrs["keras_version"] = keras_version.encode("utf8")
        for ly in sorted(weighted, key=lambda x: x.name):
            g = mw.create_group(ly.name)
            entries = weight_entries(ly)
            g.attrs["weight_names"] = _names_attr([n for n, _ in entries])
            for name, value in entries:
                value = np.asarray(value, dtype=np.float32)
                g.create_dataset(name, value.shape, dtype=np.float32)[...] = value
        top = mw.create_group("top_level_model_weights")
        top.attrs["weight_names"] = _names_attr([])


# ------------------------------------------------------------------------------------------------
# Pattern models covering the legacy CNN2SNN -> Akida 1.0 layer mapping
# ------------------------------------------------------------------------------------------------

class _G:
    def __init__(self, shape, rescale=False, name="input_1"):
        self.layers: List[Layer] = [input_layer(name, shape)]
        self.cur = name
        if rescale:
            self.add(rescaling("rescaling", self.cur, 1.0 / 255, 0))

    def add(self, layer: Layer) -> str:
        self.layers.append(layer)
        self.cur = layer.name
        return layer.name

    def stem(self, filters=8, bits=8):
        """InputConvolutional block on the 3-channel image (the first layer has 8-bit weights)."""
        self.add(qconv2d("stem_conv", self.cur, filters, 3, bits=bits))
        return self.add(qrelu("stem_relu", self.cur, 4, 6.0))

    def model(self, name, head=None, sequential=False) -> LegacyModel:
        if head == "conv":
            self.add(qconv2d("head_conv", self.cur, 4, 1))
        elif head == "dense":
            self.add(qdense("head_dense", self.cur, 4))
        return LegacyModel(name, self.layers, [self.cur], sequential)


def _act(g: _G, name, kind="relu", bits=4, max_value=6.0):
    if kind == "relu":
        return g.add(qrelu(name, g.cur, bits, max_value))
    return g.add(discrete_relu(name, g.cur, bits))


def _l_input_conv(name, channels=3, k=3, s=1, padding="same", pool=False, act="relu", bits=4,
                  max_value=6.0, rescale=False, wbits=8, head="conv", sequential=False):
    g = _G((8, 8, channels), rescale)
    g.add(qconv2d("conv", g.cur, 8, k, bits=wbits, strides=s, padding=padding))
    if pool:
        g.add(max_pool("conv_maxpool", g.cur, 2, 2, padding))  # pool padding = conv padding
    _act(g, "conv_relu", act, bits, max_value)
    return g.model(name, head, sequential)


def _l_block(name, kind="conv", pool=False, gap=False, act="relu", bits=4, max_value=6.0,
             wbits=4, wq="MaxPerAxisQuantizer", head="conv"):
    g = _G((8, 8, 3))
    g.stem()
    if kind == "conv":
        g.add(qconv2d("conv", g.cur, 16, 3, bits=wbits, wq=wq))
    else:
        g.add(qseparable_conv2d("separable", g.cur, 16, 3, bits=wbits, wq=wq))
    base = g.cur
    if pool:
        g.add(max_pool(f"{base}_maxpool", g.cur, 2, 2, "same"))
    if gap:
        g.add(global_avg_pool(f"{base}_global_avg", g.cur))
        head = "dense" if head else None
    if act is not None:
        _act(g, f"{base}_relu", act, bits, max_value)
    return g.model(name, head)


def _l_dense(name, source="flatten", relu=True, bits=4, head="dense"):
    g = _G((8, 8, 3))
    g.stem()
    if source == "flatten":
        g.add(flatten("flatten", g.cur))
    else:  # DS-CNN tail: separable + GAP + ReLU -> Reshape (1,1,C) -> Flatten
        g.add(qseparable_conv2d("separable", g.cur, 16, 3))
        g.add(global_avg_pool("separable_global_avg", g.cur))
        g.add(qrelu("separable_relu", g.cur, bits, 6.0))
        g.add(reshape("reshape_1", g.cur, (1, 1, 16)))
        g.add(flatten("flatten", g.cur))
    g.add(qdense("dense", g.cur, 10))
    if relu:
        g.add(qrelu("dense_relu", g.cur, bits, 6.0))
    return g.model(name, head)


_LEGACY_FACTORIES: Dict[str, Callable[[], LegacyModel]] = {
    # InputConvolutional: QuantizedConv2D [+ MaxPooling2D] + quantized activation, 1 or 3 channels
    "input_conv_relu": lambda: _l_input_conv("input_conv_relu"),
    "input_conv_relu_c1_k5_s2_rescaling": lambda: _l_input_conv(
        "input_conv_relu_c1_k5_s2_rescaling", channels=1, k=5, s=2, rescale=True),
    "input_conv_relu_valid": lambda: _l_input_conv("input_conv_relu_valid", padding="valid"),
    "input_conv_maxpool_relu": lambda: _l_input_conv("input_conv_maxpool_relu", pool=True),
    "input_conv_discrete_relu": lambda: _l_input_conv("input_conv_discrete_relu",
                                                      act="discrete", bits=4),
    "input_conv_relu_w4_a2": lambda: _l_input_conv("input_conv_relu_w4_a2", wbits=4, bits=2,
                                                   max_value=3.0),
    "input_conv_relu_sequential": lambda: _l_input_conv("input_conv_relu_sequential",
                                                        rescale=True, sequential=True),
    # Convolutional
    "conv_relu": lambda: _l_block("conv_relu"),
    "conv_relu_last": lambda: _l_block("conv_relu_last", head=None),
    "conv_maxpool_relu": lambda: _l_block("conv_maxpool_relu", pool=True),
    "conv_gap_relu": lambda: _l_block("conv_gap_relu", gap=True),
    "conv_last": lambda: _l_block("conv_last", act=None, head=None),
    "conv_gap_last": lambda: _l_block("conv_gap_last", gap=True, act=None, head=None),
    "conv_relu_a1": lambda: _l_block("conv_relu_a1", bits=1),
    "conv_relu_a2_w2": lambda: _l_block("conv_relu_a2_w2", bits=2, wbits=2, max_value=3.0),
    "conv_discrete_relu_a1": lambda: _l_block("conv_discrete_relu_a1", act="discrete", bits=1),
    "conv_discrete_relu_a2": lambda: _l_block("conv_discrete_relu_a2", act="discrete", bits=2),
    "conv_relu_std_quantizer": lambda: _l_block("conv_relu_std_quantizer",
                                                wq="StdWeightQuantizer"),
    "conv_relu_max_quantizer": lambda: _l_block("conv_relu_max_quantizer", wq="MaxQuantizer"),
    # SeparableConvolutional (fused depthwise + pointwise)
    "separable_relu": lambda: _l_block("separable_relu", kind="separable"),
    "separable_maxpool_relu": lambda: _l_block("separable_maxpool_relu", kind="separable",
                                               pool=True),
    "separable_gap_relu": lambda: _l_block("separable_gap_relu", kind="separable", gap=True),
    "separable_gap_relu_a1": lambda: _l_block("separable_gap_relu_a1", kind="separable",
                                              gap=True, bits=1),
    "separable_last": lambda: _l_block("separable_last", kind="separable", act=None, head=None),
    # FullyConnected
    "dense_flatten_relu": lambda: _l_dense("dense_flatten_relu"),
    "dense_flatten_last": lambda: _l_dense("dense_flatten_last", relu=False, head=None),
    "dense_reshape_flatten": lambda: _l_dense("dense_reshape_flatten", source="gap",
                                              relu=False, head=None),
}


def legacy_pattern_names() -> List[str]:
    return list(_LEGACY_FACTORIES)


def _pattern_seed(name: str) -> int:
    return zlib.crc32(("legacy:" + name).encode("utf8"))


def legacy_pattern_model(name: str) -> LegacyModel:
    """Build and initialize one legacy pattern model (deterministic: seed = crc32 of the name,
    calibrated on 32 uniform 0..255 samples)."""
    if name not in _LEGACY_FACTORIES:
        raise KeyError(f"unknown legacy pattern {name!r}; known: {', '.join(_LEGACY_FACTORIES)}")
    model = _LEGACY_FACTORIES[name]()
    seed = _pattern_seed(name)
    shape = model.layers[0].config["shape"]
    samples = np.random.default_rng(seed + 1).integers(0, 256, (32,) + tuple(shape)).astype(
        np.float32)
    init_legacy_weights(model, samples, seed)
    return model


def legacy_pattern_models() -> Dict[str, LegacyModel]:
    return {name: legacy_pattern_model(name) for name in _LEGACY_FACTORIES}
