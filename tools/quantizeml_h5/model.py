"""Model description: a list of layers that maps 1:1 onto a QuantizeML Keras "Functional" model.

A `Layer` holds the *semantic* parameters of one Keras layer (filters, kernel size, ...), its float
weights and, once calibrated, the variables of its OutputQuantizer.  `keras_config()` turns it into
the exact JSON layer entry that tf_keras 2.15 + QuantizeML write into the `model_config` attribute
(key order included; see docs/quantizeml-h5.md for the source of every key).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

# QuantizeML layers are registered with keras.saving.register_keras_serializable() whose default
# package is "Custom", hence the "Custom>" prefix seen in the ECG fixture.
CUSTOM_PREFIX = "Custom>"
# Keras built-ins keep their bare class name.
KERAS_BUILTINS = {"InputLayer", "Activation"}

# Layers with float weights that QuantizeML quantizes (WeightQuantizer) -> quant_config gets a
# "weight_quantizer" entry and buffer_bitwidth is capped to 28 (QuantizeML convolution.py,
# depthwise_convolution.py, dense.py).
NEURAL = {"QuantizedConv2D", "QuantizedDepthwiseConv2D", "QuantizedDense"}
# QuantizedSeparableConv2D (Akida 1.0 only, fused depthwise + pointwise): a neural layer with two
# weight quantizers (dw per-tensor, pw per-axis) -- QuantizeML separable_convolution.py and
# layers_base.neural_layer_init(separable=True).  Added for the v1 models (tools/quantizeml_h5/
# zoo_v1.py); it is also a CLE target (calibrate.py supported_layers lists SeparableConv2D).
SEPARABLE = "QuantizedSeparableConv2D"
NEURAL = NEURAL | {SEPARABLE}
# Layers that "require aligned inputs" (register_aligned_inputs in QuantizeML): an OutputQuantizer
# is placed on their inbound(s).
ALIGNED_INPUTS = NEURAL | {"QuantizedAdd", "QuantizedConcatenate"}
# Layers that cannot hold an OutputQuantizer (register_no_output_quantizer, or not a quantized
# layer at all): the placement walks back through them.
NO_OUTPUT_QUANTIZER = {"InputLayer", "QuantizedMaxPool2D", "QuantizedRescaling", "QuantizedReshape",
                       "QuantizedFlatten", "QuantizedConcatenate", "QuantizedDropout",
                       "Dequantizer", "Activation"}


@dataclass
class Layer:
    """One layer of the model description.

    class_name: QuantizeML/Keras class without the "Custom>" prefix (e.g. "QuantizedConv2D").
    name:       Keras layer name (may contain '/', e.g. "conv_0/relu", as in the zoo models).
    config:     semantic parameters (see the builder functions below for the keys of each class).
    inbound:    names of the inbound layers (one, or two for Add/Concatenate).
    weights:    float32 arrays keyed by Keras variable short name ("kernel", "bias",
                "depthwise_kernel"), in Keras creation order.
    output_quantizer: QuantizeML OutputQuantizer config dict (None when the layer has none).
    quantizer_vars:   OutputQuantizer variables {"range_max": arr, "rescaling_rate": arr}.
    """
    class_name: str
    name: str
    config: Dict
    inbound: List[str] = field(default_factory=list)
    weights: Dict[str, np.ndarray] = field(default_factory=dict)
    output_quantizer: Optional[Dict] = None
    quantizer_vars: Dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Model:
    """A Functional model: layers in topological order, first one an InputLayer."""
    name: str
    layers: List[Layer]
    outputs: List[str]
    # QuantizationParams equivalents that influence the file (QuantizeML quantization_params.py).
    activation_bits: int = 8
    output_bits: int = 8
    weight_bits: int = 8
    input_weight_bits: int = 8
    buffer_bits: int = 32
    per_tensor_activations: bool = False

    def layer(self, name: str) -> Layer:
        for ly in self.layers:
            if ly.name == name:
                return ly
        raise KeyError(name)

    def outbound(self, name: str) -> List[Layer]:
        return [ly for ly in self.layers if name in ly.inbound]

    def copy(self) -> "Model":
        return copy.deepcopy(self)


# ------------------------------------------------------------------------------------------------
# Builders.  Each returns a Layer; weights are attached later by the initializer (init.py).
# ------------------------------------------------------------------------------------------------

def _pair(v) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def input_layer(name, shape, dtype="uint8"):
    return Layer("InputLayer", name, {"shape": tuple(shape), "dtype": dtype})


def conv2d(name, inbound, filters, kernel_size, strides=1, padding="same", use_bias=True):
    return Layer("QuantizedConv2D", name,
                 {"filters": filters, "kernel_size": _pair(kernel_size), "strides": _pair(strides),
                  "padding": padding, "use_bias": use_bias}, [inbound])


def depthwise_conv2d(name, inbound, kernel_size, strides=1, padding="same", use_bias=False):
    return Layer("QuantizedDepthwiseConv2D", name,
                 {"kernel_size": _pair(kernel_size), "strides": _pair(strides),
                  "padding": padding, "use_bias": use_bias}, [inbound])


def separable_conv2d(name, inbound, filters, kernel_size, strides=1, padding="same",
                     use_bias=True):
    return Layer(SEPARABLE, name,
                 {"filters": filters, "kernel_size": _pair(kernel_size), "strides": _pair(strides),
                  "padding": padding, "use_bias": use_bias}, [inbound])


def dense(name, inbound, units, use_bias=True):
    return Layer("QuantizedDense", name, {"units": units, "use_bias": use_bias}, [inbound])


def relu(name, inbound, max_value=None):
    return Layer("QuantizedReLU", name, {"max_value": max_value}, [inbound])


def max_pool(name, inbound, pool_size=2, strides=None, padding="valid"):
    strides = pool_size if strides is None else strides
    return Layer("QuantizedMaxPool2D", name,
                 {"pool_size": _pair(pool_size), "strides": _pair(strides), "padding": padding},
                 [inbound])


def global_avg_pool(name, inbound):
    return Layer("QuantizedGlobalAveragePooling2D", name, {"keepdims": False}, [inbound])


def add(name, a, b):
    return Layer("QuantizedAdd", name, {"average": False}, [a, b])


def concatenate(name, a, b, axis=-1):
    return Layer("QuantizedConcatenate", name, {"axis": axis}, [a, b])


def reshape(name, inbound, target_shape):
    return Layer("QuantizedReshape", name, {"target_shape": tuple(target_shape)}, [inbound])


def flatten(name, inbound):
    return Layer("QuantizedFlatten", name, {}, [inbound])


def rescaling(name, inbound, scale, offset=0.0):
    return Layer("QuantizedRescaling", name, {"scale": scale, "offset": offset}, [inbound])


def dequantizer(name, inbound):
    return Layer("Dequantizer", name, {}, [inbound])


def activation(name, inbound, fn):
    return Layer("Activation", name, {"activation": fn}, [inbound])


# ------------------------------------------------------------------------------------------------
# Shape inference (Keras semantics, batch dimension excluded).
# ------------------------------------------------------------------------------------------------

def conv_out_len(n: int, k: int, s: int, padding: str) -> int:
    # keras conv_utils.conv_output_length with dilation 1
    if padding == "same":
        return -(-n // s)
    return -(-(n - k + 1) // s)


def output_shapes(model: Model) -> Dict[str, Tuple[int, ...]]:
    shapes: Dict[str, Tuple[int, ...]] = {}
    for ly in model.layers:
        c = ly.config
        ins = [shapes[n] for n in ly.inbound]
        k = ly.class_name
        if k == "InputLayer":
            out = tuple(c["shape"])
        elif k in ("QuantizedConv2D", "QuantizedDepthwiseConv2D", SEPARABLE):
            h, w, ch = ins[0]
            oh = conv_out_len(h, c["kernel_size"][0], c["strides"][0], c["padding"])
            ow = conv_out_len(w, c["kernel_size"][1], c["strides"][1], c["padding"])
            out = (oh, ow, ch if k == "QuantizedDepthwiseConv2D" else c["filters"])
        elif k == "QuantizedMaxPool2D":
            h, w, ch = ins[0]
            out = (conv_out_len(h, c["pool_size"][0], c["strides"][0], c["padding"]),
                   conv_out_len(w, c["pool_size"][1], c["strides"][1], c["padding"]), ch)
        elif k == "QuantizedDense":
            out = ins[0][:-1] + (c["units"],)
        elif k == "QuantizedGlobalAveragePooling2D":
            out = (ins[0][-1],)
        elif k == "QuantizedAdd":
            if ins[0] != ins[1]:
                raise ValueError(f"{ly.name}: Add inputs differ {ins}")
            out = ins[0]
        elif k == "QuantizedConcatenate":
            if ins[0][:-1] != ins[1][:-1]:
                raise ValueError(f"{ly.name}: Concatenate inputs differ {ins}")
            out = ins[0][:-1] + (ins[0][-1] + ins[1][-1],)
        elif k == "QuantizedReshape":
            out = tuple(c["target_shape"])
            if int(np.prod(out)) != int(np.prod(ins[0])):
                raise ValueError(f"{ly.name}: cannot reshape {ins[0]} to {out}")
        elif k == "QuantizedFlatten":
            out = (int(np.prod(ins[0])),)
        else:  # element-wise / identity-shaped layers
            out = ins[0]
        shapes[ly.name] = out
    return shapes


# ------------------------------------------------------------------------------------------------
# Keras JSON (model_config) generation.
# ------------------------------------------------------------------------------------------------

def _initializer(class_name):
    # tf_keras 2.15 serializes initializers with the new serialization_lib format
    # (module/class_name/config/registered_name), as seen in the ECG fixture.
    cfg = {"seed": None} if class_name.startswith("Glorot") else {}
    return {"module": "keras.initializers", "class_name": class_name, "config": cfg,
            "registered_name": None}


def quant_config(ly: Layer, weight_bits: int, buffer_bits: int) -> Optional[Dict]:
    """The quant_config dict, in the key order QuantizeML produces it: quantize() passes
    {"output_quantizer": ...} to the constructor, then the layer __init__ appends its defaults
    (weight_quantizer, buffer_bitwidth) -- layers_base.py neural_layer_init/apply_buffer_bitwidth."""
    k = ly.class_name
    qc: Dict = {}
    if ly.output_quantizer is not None:
        qc["output_quantizer"] = dict(ly.output_quantizer)
    if k == SEPARABLE:
        # neural_layer_init(separable=True): dw quantizer forced per-tensor ('axis': None), pw
        # quantizer with the default axis; buffer_bitwidth from apply_buffer_bitwidth (no cap to
        # 28 in separable_convolution.py).
        qc["dw_weight_quantizer"] = {"bitwidth": weight_bits, "axis": None}
        qc["pw_weight_quantizer"] = {"bitwidth": weight_bits}
        qc["buffer_bitwidth"] = buffer_bits
    elif k in NEURAL:
        wq = {"bitwidth": weight_bits}
        if k == "QuantizedDepthwiseConv2D":
            wq["axis"] = -2  # depthwise weights are quantized per channel = axis -2
        qc["weight_quantizer"] = wq
        qc["buffer_bitwidth"] = min(28, buffer_bits)  # "Limit buffer bitwidth to 27" (+sign)
    elif k in ("QuantizedReLU", "QuantizedGlobalAveragePooling2D", "QuantizedAdd"):
        qc["buffer_bitwidth"] = buffer_bits
    elif k == "QuantizedConcatenate":
        pass  # QuantizedLayer base only: empty dict
    else:
        return None  # class has no quant_config key at all (MaxPool, Flatten, Reshape, ...)
    return qc


def keras_config(ly: Layer, weight_bits: int = 8, buffer_bits: int = 32) -> Dict:
    """Layer "config" dict exactly as tf_keras 2.15 get_config() + QuantizeML return it."""
    c = ly.config
    k = ly.class_name
    if k == "InputLayer":
        return {"batch_input_shape": [None] + list(c["shape"]), "dtype": c["dtype"],
                "sparse": False, "ragged": False, "name": ly.name}
    cfg = {"name": ly.name, "trainable": True, "dtype": "float32"}
    if k == "QuantizedConv2D":
        cfg.update({
            "filters": c["filters"], "kernel_size": list(c["kernel_size"]),
            "strides": list(c["strides"]), "padding": c["padding"],
            "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
            "activation": "linear", "use_bias": c["use_bias"],
            "kernel_initializer": _initializer("GlorotUniform"),
            "bias_initializer": _initializer("Zeros"),
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None})
        if c.get("padding_value") is not None:
            cfg["padding_value"] = list(c["padding_value"])
    elif k == "QuantizedDepthwiseConv2D":
        # keras DepthwiseConv.get_config = Conv.get_config minus filters/kernel_* plus depthwise_*
        cfg.update({
            "kernel_size": list(c["kernel_size"]), "strides": list(c["strides"]),
            "padding": c["padding"], "data_format": "channels_last", "dilation_rate": [1, 1],
            "groups": 1, "activation": "linear", "use_bias": c["use_bias"],
            "bias_initializer": _initializer("Zeros"), "bias_regularizer": None,
            "activity_regularizer": None, "bias_constraint": None, "depth_multiplier": 1,
            "depthwise_initializer": _initializer("GlorotUniform"),
            "depthwise_regularizer": None, "depthwise_constraint": None})
    elif k == SEPARABLE:
        # tf_keras SeparableConv.get_config: dict(Conv.get_config() + separable keys), so the
        # Conv keys (kernel_* included) keep their place and the separable-only keys follow.
        cfg.update({
            "filters": c["filters"], "kernel_size": list(c["kernel_size"]),
            "strides": list(c["strides"]), "padding": c["padding"],
            "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
            "activation": "linear", "use_bias": c["use_bias"],
            "kernel_initializer": _initializer("GlorotUniform"),
            "bias_initializer": _initializer("Zeros"),
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None, "depth_multiplier": 1,
            "depthwise_initializer": _initializer("GlorotUniform"),
            "pointwise_initializer": _initializer("GlorotUniform"),
            "depthwise_regularizer": None, "pointwise_regularizer": None,
            "depthwise_constraint": None, "pointwise_constraint": None})
    elif k == "QuantizedDense":
        cfg.update({
            "units": c["units"], "activation": "linear", "use_bias": c["use_bias"],
            "kernel_initializer": _initializer("GlorotUniform"),
            "bias_initializer": _initializer("Zeros"),
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None})
    elif k == "QuantizedMaxPool2D":
        cfg.update({"pool_size": list(c["pool_size"]), "padding": c["padding"],
                    "strides": list(c["strides"]), "data_format": "channels_last"})
    elif k == "QuantizedGlobalAveragePooling2D":
        cfg.update({"data_format": "channels_last", "keepdims": c["keepdims"]})
    elif k == "QuantizedAdd":
        cfg["average"] = c["average"]
    elif k == "QuantizedConcatenate":
        cfg["axis"] = c["axis"]
    elif k == "QuantizedReshape":
        cfg["target_shape"] = list(c["target_shape"])
    elif k == "QuantizedFlatten":
        cfg["data_format"] = "channels_last"
    elif k == "QuantizedRescaling":
        cfg.update({"scale": c["scale"], "offset": c["offset"]})
    elif k == "Activation":
        cfg["activation"] = c["activation"]
    elif k in ("QuantizedReLU", "Dequantizer", "QuantizedDropout"):
        pass
    else:
        raise ValueError(f"unsupported class {k}")
    qc = quant_config(ly, weight_bits, buffer_bits)
    if qc is not None:
        cfg["quant_config"] = qc
    if k == "QuantizedReLU":
        # QuantizedReLU.get_config appends max_value after quant_config (ECG fixture order)
        cfg["max_value"] = c["max_value"]
    return cfg


def first_weighted_layer(model: Model) -> Optional[str]:
    """QuantizeML uses input_weight_bits for the first layer with weights (quantize.py)."""
    for ly in model.layers:
        if ly.class_name in NEURAL:
            return ly.name
    return None


def model_config(model: Model) -> Dict:
    """The {"class_name": "Functional", "config": {...}} dict stored in the root attribute."""
    first = first_weighted_layer(model)
    layers = []
    for ly in model.layers:
        bits = model.input_weight_bits if ly.name == first else model.weight_bits
        entry = {"class_name": ly.class_name if ly.class_name in KERAS_BUILTINS
                 else CUSTOM_PREFIX + ly.class_name,
                 "config": keras_config(ly, bits, model.buffer_bits),
                 "name": ly.name,
                 # Keras 2 node format: one node, each inbound [layer, node_index, tensor_index, kw]
                 "inbound_nodes": [[[n, 0, 0, {}] for n in ly.inbound]] if ly.inbound else []}
        layers.append(entry)
    inputs = [ly.name for ly in model.layers if ly.class_name == "InputLayer"]
    return {"class_name": "Functional",
            "config": {"name": model.name, "trainable": True, "layers": layers,
                       "input_layers": [[n, 0, 0] for n in inputs],
                       "output_layers": [[n, 0, 0] for n in model.outputs]}}


def weight_entries(ly: Layer) -> List[Tuple[str, np.ndarray]]:
    """(Keras variable name, value) in the order of layer.weights: trainable variables (kernel,
    bias) first, then non-trainable ones (OutputQuantizer range_max, rescaling_rate)."""
    out = []
    for short in ("kernel", "depthwise_kernel", "pointwise_kernel", "bias"):
        if short in ly.weights:
            out.append((f"{ly.name}/{short}:0", ly.weights[short]))
    if ly.output_quantizer is not None:
        for short in ("range_max", "rescaling_rate"):
            out.append((f"{ly.name}/output_quantizer/{short}:0", ly.quantizer_vars[short]))
    return out


def param_count(ly: Layer) -> int:
    return int(sum(np.size(v) for _, v in weight_entries(ly)))


def validate(model: Model) -> None:
    """Structural checks: unique names, inbound layers defined before use, outputs exist."""
    seen = set()
    for ly in model.layers:
        if ly.name in seen:
            raise ValueError(f"duplicate layer name {ly.name}")
        for n in ly.inbound:
            if n not in seen:
                raise ValueError(f"{ly.name}: inbound {n} is not defined before it")
        seen.add(ly.name)
    for n in model.outputs:
        if n not in seen:
            raise ValueError(f"output {n} is not a layer")
    if model.layers[0].class_name != "InputLayer":
        raise ValueError("first layer must be an InputLayer")
    output_shapes(model)
