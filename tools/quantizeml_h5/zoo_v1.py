"""Akida 1.0 (v1) test material.

* `ds_cnn_kws_v1()`: the zoo's `AkidaV1/ds_cnn/ds_cnn_kws_iq8_wq4_aq4_laq1.h5` as the legacy CNN2SNN
  quantization path saved it (akida_models `ds_cnn_kws(..., weight_quantization=4,
  activ_quantization=4, input_weight_quantization=8)` then the last activation re-quantized to
  1 bit; write it with `legacy.write_legacy_h5`).  Synthetic seeded weights, BatchNorm-like
  calibration on "spectrogram-like" samples.
* `v1_pattern_models()`: small QuantizeML-format models (4-bit per-tensor activations, 4-bit
  weights, 8-bit input-layer weights, bounded ReLUs) covering the v1 block patterns of CNN2SNN
  (akida-spec §3.3 "v1 patterns"); write them with `writer.write_h5`.

Sources: docs/quantizeml-h5.md §8-§9.
"""

from __future__ import annotations

import zlib
from typing import Callable, Dict, List

from . import legacy as lg
from . import model as m
from .build import finalize
from .zoo import DS_CNN_INPUT_SHAPE, DS_CNN_CLASSES, kws_like_samples

# akida_models get_params_by_version(): "With Akida v1, sepconv are fused, the ReLU max value is 6"
V1_RELU_MAX = 6.0


# ------------------------------------------------------------------------------------------------
# DS-CNN KWS, legacy CNN2SNN 8/4/4 + 1-bit last activation
# ------------------------------------------------------------------------------------------------

def ds_cnn_kws_v1_description(last_activation_bits: int = 1,
                              flavour_input_dtype: str = "float32") -> lg.LegacyModel:
    """Layer graph of akida_models' v1 `ds_cnn_kws` after `cnn2snn.quantize(model, 4, 4, 8)`.

    input (49,10,1) -> rescaling Rescaling(1/255, 0) -> conv_0 QuantizedConv2D 5x5/2 same 64
    (8-bit MaxPerAxisQuantizer, BN folded -> bias) -> conv_0_relu QuantizedReLU(4, 6) ->
    separable_1..3 QuantizedSeparableConv2D 3x3 same 64 (4-bit, MaxQuantizer dw) ->
    separable_k_relu QuantizedReLU(4, 6) -> separable_4 -> separable_4_global_avg ->
    separable_4_relu QuantizedReLU(1, 6) -> reshape_1 (1,1,64) -> flatten -> dense_5
    QuantizedDense 33 (4-bit, bias, no activation) -> act_softmax."""
    L = [lg.input_layer("input", DS_CNN_INPUT_SHAPE, flavour_input_dtype),
         lg.rescaling("rescaling", "input", 1.0 / 255, 0),
         lg.qconv2d("conv_0", "rescaling", 64, 5, bits=8, strides=2, padding="same"),
         lg.qrelu("conv_0_relu", "conv_0", 4, V1_RELU_MAX)]
    prev = "conv_0_relu"
    for k in range(1, 5):
        name = f"separable_{k}"
        L.append(lg.qseparable_conv2d(name, prev, 64, 3, bits=4, padding="same"))
        cur = name
        if k == 4:
            L.append(lg.global_avg_pool(f"{name}_global_avg", cur))
            cur = f"{name}_global_avg"
        bits = last_activation_bits if k == 4 else 4
        L.append(lg.qrelu(f"{name}_relu", cur, bits, V1_RELU_MAX))
        prev = f"{name}_relu"
    L += [lg.reshape("reshape_1", prev, (1, 1, 64)),
          lg.flatten("flatten", "reshape_1"),
          lg.qdense("dense_5", "flatten", DS_CNN_CLASSES, bits=4),
          lg.activation("act_softmax", "dense_5", "softmax")]
    return lg.LegacyModel("ds_cnn_kws", L, ["act_softmax"])


def ds_cnn_kws_v1(seed: int = 0, num_calibration: int = 32) -> lg.LegacyModel:
    """Build and initialize the v1 DS-CNN (deterministic for a given seed).  Calibration samples
    are `kws_like_samples(num_calibration, seed + 2)` (0..255 values, as float inputs)."""
    model = ds_cnn_kws_v1_description()
    samples = kws_like_samples(num_calibration, seed + 2).astype("float32")
    lg.init_legacy_weights(model, samples, seed)
    return model


# Published Akida summary of the v1 model (akida-spec §6 / §6.1): name, type, output, kernel(s)
DS_CNN_V1_AKIDA_LAYERS = [
    ("conv_0", "InputConvolutional", (25, 5, 64), [(5, 5, 1, 64)]),
    ("separable_1", "SeparableConvolutional", (25, 5, 64), [(3, 3, 64, 1), (1, 1, 64, 64)]),
    ("separable_2", "SeparableConvolutional", (25, 5, 64), [(3, 3, 64, 1), (1, 1, 64, 64)]),
    ("separable_3", "SeparableConvolutional", (25, 5, 64), [(3, 3, 64, 1), (1, 1, 64, 64)]),
    ("separable_4", "SeparableConvolutional", (1, 1, 64), [(3, 3, 64, 1), (1, 1, 64, 64)]),
    ("dense_5", "FullyConnected", (1, 1, 33), [(1, 1, 64, 33)]),
]


# ------------------------------------------------------------------------------------------------
# QuantizeML-format v1 pattern models
# ------------------------------------------------------------------------------------------------

def _v1_model(name, layers, outputs) -> m.Model:
    # QuantizationParams for Akida 1.0: 8-bit input-layer weights, 4-bit weights, 4-bit per-tensor
    # activations (quantizeml quantize -i 8 -w 4 -a 4 --per_tensor_activations).
    return m.Model(name, layers, outputs, activation_bits=4, output_bits=8, weight_bits=4,
                   input_weight_bits=8, per_tensor_activations=True)


class _G:
    def __init__(self, shape, rescale=False):
        self.layers: List[m.Layer] = [m.input_layer("input_1", shape, "uint8")]
        self.cur = "input_1"
        if rescale:
            self.add(m.rescaling("rescaling", self.cur, 1.0 / 255, 0))

    def add(self, layer: m.Layer) -> str:
        self.layers.append(layer)
        self.cur = layer.name
        return layer.name

    def stem(self, filters=8):
        """InputConvolutional block: QuantizedConv2D (8-bit weights) + bounded QuantizedReLU."""
        self.add(m.conv2d("stem_conv", self.cur, filters, 3, padding="same"))
        return self.add(m.relu("stem_relu", self.cur, V1_RELU_MAX))

    def model(self, name, head) -> m.Model:
        if head == "conv":
            self.add(m.conv2d("head_conv", self.cur, 4, 1, padding="same"))
        elif head == "dense":
            self.add(m.dense("head_dense", self.cur, 4))
        self.add(m.dequantizer("dequantizer", self.cur))
        return _v1_model(name, self.layers, ["dequantizer"])


def _v1_input_conv(name, channels=3, k=3, s=1, padding="same", pool=False, rescale=False,
                   head="conv"):
    g = _G((8, 8, channels), rescale)
    g.add(m.conv2d("conv", g.cur, 8, k, strides=s, padding=padding))
    if pool:
        g.add(m.max_pool("conv/maxpool", g.cur, 2, 2, padding))
    g.add(m.relu("conv/relu", g.cur, V1_RELU_MAX))
    return g.model(name, head)


def _v1_block(name, kind="conv", relu=True, pool=False, gap=False, head="conv", k=3):
    g = _G((8, 8, 3))
    g.stem()
    if kind == "conv":
        g.add(m.conv2d("conv", g.cur, 16, k, padding="same"))
    else:
        g.add(m.separable_conv2d("separable", g.cur, 16, k, padding="same"))
    base = g.cur
    if gap:  # v1 order: GAP before the ReLU (conv -> GAP -> BN -> ReLU)
        g.add(m.global_avg_pool(f"{base}/global_avg", g.cur))
        head = "dense" if head else None
    if pool:
        g.add(m.max_pool(f"{base}/maxpool", g.cur, 2, 2, "same"))
    if relu:
        g.add(m.relu(f"{base}/relu", g.cur, V1_RELU_MAX))
    return g.model(name, head)


def _v1_dense(name, source="flatten", relu=True, head="dense"):
    g = _G((8, 8, 3))
    g.stem()
    if source == "flatten":
        g.add(m.flatten("flatten", g.cur))
    else:  # separable + GAP + ReLU -> Reshape (1,1,C) -> Flatten (DS-CNN tail)
        g.add(m.separable_conv2d("separable", g.cur, 16, 3, padding="same"))
        g.add(m.global_avg_pool("separable/global_avg", g.cur))
        g.add(m.relu("separable/relu", g.cur, V1_RELU_MAX))
        g.add(m.reshape("reshape_1", g.cur, (1, 1, 16)))
        g.add(m.flatten("flatten", g.cur))
    g.add(m.dense("dense", g.cur, 10))
    if relu:
        g.add(m.relu("dense/relu", g.cur, V1_RELU_MAX))
    return g.model(name, head)


# A plain Conv2D / SeparableConv2D block (no ReLU) can only end the model in v1: a block boundary
# needs an OutputQuantizer and "a previous layer with an OutputQuantizer must be a QuantizedReLU".
_V1_FACTORIES: Dict[str, Callable[[], m.Model]] = {
    # InputConvolutional: (QConv2D, QReLU), (QConv2D, QMaxPool2D, QReLU)
    "v1_input_conv_relu": lambda: _v1_input_conv("v1_input_conv_relu"),
    "v1_input_conv_relu_c1_k5_s2": lambda: _v1_input_conv("v1_input_conv_relu_c1_k5_s2",
                                                          channels=1, k=5, s=2, rescale=True),
    "v1_input_conv_relu_valid": lambda: _v1_input_conv("v1_input_conv_relu_valid",
                                                       padding="valid"),
    "v1_input_conv_maxpool_relu": lambda: _v1_input_conv("v1_input_conv_maxpool_relu", pool=True),
    "v1_input_conv_relu_last": lambda: _v1_input_conv("v1_input_conv_relu_last", head=None),
    # Convolutional: (QConv2D), (+QReLU), (+QMaxPool2D, QReLU), (+QGAP, QReLU), (+QGAP)
    "v1_conv_last": lambda: _v1_block("v1_conv_last", relu=False, head=None),
    "v1_conv_relu": lambda: _v1_block("v1_conv_relu"),
    "v1_conv_relu_1x1": lambda: _v1_block("v1_conv_relu_1x1", k=1),
    "v1_conv_relu_last": lambda: _v1_block("v1_conv_relu_last", head=None),
    "v1_conv_maxpool_relu": lambda: _v1_block("v1_conv_maxpool_relu", pool=True),
    "v1_conv_gap_relu": lambda: _v1_block("v1_conv_gap_relu", gap=True),
    "v1_conv_gap_last": lambda: _v1_block("v1_conv_gap_last", relu=False, gap=True, head=None),
    # SeparableConvolutional: (QSepConv2D[, QGAP][, QMaxPool2D][, QReLU])
    "v1_separable_last": lambda: _v1_block("v1_separable_last", kind="separable", relu=False,
                                           head=None),
    "v1_separable_relu": lambda: _v1_block("v1_separable_relu", kind="separable"),
    "v1_separable_maxpool_relu": lambda: _v1_block("v1_separable_maxpool_relu",
                                                   kind="separable", pool=True),
    "v1_separable_gap_relu": lambda: _v1_block("v1_separable_gap_relu", kind="separable",
                                               gap=True),
    "v1_separable_gap_last": lambda: _v1_block("v1_separable_gap_last", kind="separable",
                                               relu=False, gap=True, head=None),
    # FullyConnected: (QDense), (QDense, QReLU), after QFlatten / QReshape + QFlatten
    "v1_dense_flatten_relu": lambda: _v1_dense("v1_dense_flatten_relu"),
    "v1_dense_flatten_last": lambda: _v1_dense("v1_dense_flatten_last", relu=False, head=None),
    "v1_dense_relu_last": lambda: _v1_dense("v1_dense_relu_last", head=None),
    "v1_dense_reshape_flatten": lambda: _v1_dense("v1_dense_reshape_flatten", source="gap",
                                                  relu=False, head=None),
}


def v1_pattern_names() -> List[str]:
    return list(_V1_FACTORIES)


def v1_pattern_model(name: str) -> m.Model:
    """Build, initialize and calibrate one v1 pattern model (deterministic, seed crc32(name))."""
    if name not in _V1_FACTORIES:
        raise KeyError(f"unknown v1 pattern {name!r}; known: {', '.join(_V1_FACTORIES)}")
    return finalize(_V1_FACTORIES[name](), zlib.crc32(name.encode("utf8")))


def v1_pattern_models() -> Dict[str, m.Model]:
    return {name: v1_pattern_model(name) for name in _V1_FACTORIES}
