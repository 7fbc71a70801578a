"""Small models covering the Akida 2.0 block patterns of CNN2SNN (akida-spec §3.3).

Every model has a uint8 8×8×C input and ends with a Dequantizer.  Blocks that are not an input
block are preceded by a "stem" InputConv2D block (QuantizedConv2D + QuantizedReLU on a 3-channel
uint8 image): CNN2SNN only makes the first block an InputConv2D for 1- or 3-channel uint8 inputs,
and an InputData layer would need signed inputs.  Unless the name ends in "_last", the block under
test is followed by a small "head" layer (1×1 conv, or dense for vector outputs) so that, as in a
real network, QuantizeML puts an OutputQuantizer at the end of the block; "_last" variants end the
model right after the block (no OutputQuantizer, raw accumulator into the Dequantizer).
"""

from __future__ import annotations

import zlib
from typing import Callable, Dict, List

from . import model as m
from .build import finalize


class _G:
    """Tiny graph builder: keeps the layer list and the name of the current tensor."""

    def __init__(self, shape, name="input_1", dtype="uint8"):
        self.layers: List[m.Layer] = [m.input_layer(name, shape, dtype)]
        self.shape = tuple(shape)
        self.cur = name

    def add(self, layer: m.Layer) -> str:
        self.layers.append(layer)
        self.cur = layer.name
        return layer.name

    def stem(self, filters=8):
        self.add(m.conv2d("stem_conv", self.cur, filters, 3, padding="same"))
        return self.add(m.relu("stem_relu", self.cur, 6.0))

    def model(self, name, head, per_tensor=False) -> m.Model:
        """Close the graph: optional head layer, then a Dequantizer."""
        if head == "conv":
            self.add(m.conv2d("head_conv", self.cur, 4, 1, padding="same"))
        elif head == "dense":
            self.add(m.dense("head_dense", self.cur, 4))
        self.add(m.dequantizer("dequantizer", self.cur))
        return m.Model(name, self.layers, ["dequantizer"], per_tensor_activations=per_tensor)


def _input_conv(name, channels=3, k=3, s=1, padding="same", pool=None, max_value=None,
                rescale=False, head="conv", per_tensor=False):
    g = _G((8, 8, channels))
    if rescale:
        g.add(m.rescaling("rescaling", g.cur, 1.0 / 255, 0.0))
    g.add(m.conv2d("conv", g.cur, 8, k, strides=s, padding=padding))
    if pool is not None:
        size, stride = pool
        g.add(m.max_pool("conv/maxpool", g.cur, size, stride, padding))
    g.add(m.relu("conv/relu", g.cur, max_value))
    return g.model(name, head, per_tensor)


def _conv(name, k=3, s=1, padding="same", relu=False, pool=None, gap=False, head="conv",
          max_value=6.0):
    g = _G((8, 8, 3))
    g.stem()
    g.add(m.conv2d("conv", g.cur, 16, k, strides=s, padding=padding))
    if pool is not None:
        size, stride = pool
        g.add(m.max_pool("conv/maxpool", g.cur, size, stride, padding))
    if relu:
        g.add(m.relu("conv/relu", g.cur, max_value))
    if gap:
        g.add(m.global_avg_pool("conv/global_avg", g.cur))
        head = "dense" if head else None
    return g.model(name, head)


def _dw(name, k=3, s=1, padding="same", relu=False, pool=None, use_bias=True, head="conv"):
    g = _G((8, 8, 3))
    g.stem()
    g.add(m.depthwise_conv2d("dw", g.cur, k, strides=s, padding=padding, use_bias=use_bias))
    if pool is not None:
        size, stride = pool
        g.add(m.max_pool("dw/maxpool", g.cur, size, stride, padding))
    if relu:
        g.add(m.relu("dw/relu", g.cur, 6.0))
    return g.model(name, head)


def _dense(name, source="valid_conv", reshape=False, flatten=False, relu=False, head="dense"):
    g = _G((8, 8, 3))
    g.stem()
    if source == "valid_conv":
        # an 8x8 'valid' conv gives a (1, 1, 16) tensor: a flat input as Dense1D requires
        g.add(m.conv2d("feat", g.cur, 16, 8, padding="valid"))
        g.add(m.relu("feat/relu", g.cur, 6.0))
    else:  # "gap": Conv + ReLU + GlobalAveragePooling -> (16,) vector, DS-CNN tail
        g.add(m.conv2d("feat", g.cur, 16, 3, padding="same"))
        g.add(m.relu("feat/relu", g.cur, 6.0))
        g.add(m.global_avg_pool("feat/global_avg", g.cur))
    if reshape:
        g.add(m.reshape("reshape", g.cur, (1, 1, 16)))
    if flatten:
        g.add(m.flatten("flatten", g.cur))
    g.add(m.dense("dense", g.cur, 10))
    if relu:
        g.add(m.relu("dense/relu", g.cur, None))
    return g.model(name, head)


def _add(name, two_branches=False, head="conv"):
    g = _G((8, 8, 3))
    stem = g.stem()
    g.add(m.conv2d("conv_a", stem, 8, 3, padding="same"))
    a = g.add(m.relu("conv_a/relu", g.cur, 6.0))
    if two_branches:
        g.add(m.conv2d("conv_b", stem, 8, 1, padding="same"))
        b = g.add(m.relu("conv_b/relu", g.cur, 6.0))
    else:
        b = stem
    g.add(m.add("add", a, b))
    return g.model(name, head)


def _concat(name, skip=False, head="conv"):
    g = _G((8, 8, 3))
    stem = g.stem()
    g.add(m.conv2d("conv_a", stem, 8, 3, padding="same"))
    a = g.add(m.relu("conv_a/relu", g.cur, 6.0))
    if skip:
        b = stem
    else:
        g.add(m.conv2d("conv_b", stem, 4, 3, strides=1, padding="same"))
        b = g.add(m.relu("conv_b/relu", g.cur, None))
    g.add(m.concatenate("concat", a, b))
    return g.model(name, head)


def _dequantizer_only(name):
    g = _G((8, 8, 1))
    g.add(m.conv2d("conv", g.cur, 4, 3, padding="same"))
    g.add(m.relu("conv/relu", g.cur, 6.0))
    return g.model(name, None)


# name -> description factory (no weights yet)
_FACTORIES: Dict[str, Callable[[], m.Model]] = {
    # InputConv2D: (QConv2D, QReLU), (QConv2D, QMaxPool2D, QReLU)
    "input_conv2d_relu": lambda: _input_conv("input_conv2d_relu"),
    "input_conv2d_relu_c1_k5_s2": lambda: _input_conv("input_conv2d_relu_c1_k5_s2", channels=1,
                                                       k=5, s=2, max_value=6.0),
    "input_conv2d_relu_valid": lambda: _input_conv("input_conv2d_relu_valid", padding="valid"),
    "input_conv2d_relu_rescaling": lambda: _input_conv("input_conv2d_relu_rescaling", channels=1,
                                                        s=2, max_value=3.75, rescale=True),
    "input_conv2d_relu_per_tensor": lambda: _input_conv("input_conv2d_relu_per_tensor",
                                                         per_tensor=True),
    "input_conv2d_relu_last": lambda: _input_conv("input_conv2d_relu_last", head=None),
    "input_conv2d_maxpool_relu": lambda: _input_conv("input_conv2d_maxpool_relu",
                                                      pool=(2, 2)),
    "input_conv2d_maxpool_relu_valid": lambda: _input_conv("input_conv2d_maxpool_relu_valid",
                                                            padding="valid", pool=(2, 2)),
    "input_conv2d_maxpool3s2_relu": lambda: _input_conv("input_conv2d_maxpool3s2_relu",
                                                         channels=1, pool=(3, 2), max_value=6.0),
    # Conv2D: (QConv2D), (+QReLU), (+QMaxPool2D, QReLU), (+QReLU, QGAP), (+QGAP)
    "conv2d": lambda: _conv("conv2d"),
    "conv2d_last": lambda: _conv("conv2d_last", head=None),
    "conv2d_s2_valid": lambda: _conv("conv2d_s2_valid", s=2, padding="valid"),
    "conv2d_relu": lambda: _conv("conv2d_relu", relu=True),
    "conv2d_relu_s2": lambda: _conv("conv2d_relu_s2", s=2, relu=True),
    "conv2d_relu_valid": lambda: _conv("conv2d_relu_valid", padding="valid", relu=True),
    "conv2d_relu_1x1": lambda: _conv("conv2d_relu_1x1", k=1, relu=True, max_value=None),
    "conv2d_relu_last": lambda: _conv("conv2d_relu_last", relu=True, head=None),
    "conv2d_maxpool_relu": lambda: _conv("conv2d_maxpool_relu", relu=True, pool=(2, 2)),
    "conv2d_maxpool_relu_valid": lambda: _conv("conv2d_maxpool_relu_valid", padding="valid",
                                               relu=True, pool=(2, 2)),
    "conv2d_maxpool3s2_relu": lambda: _conv("conv2d_maxpool3s2_relu", relu=True, pool=(3, 2)),
    "conv2d_relu_gap": lambda: _conv("conv2d_relu_gap", relu=True, gap=True),
    "conv2d_relu_gap_last": lambda: _conv("conv2d_relu_gap_last", relu=True, gap=True,
                                          head=None),
    "conv2d_gap": lambda: _conv("conv2d_gap", gap=True),
    # DepthwiseConv2D: (QDW), (+QReLU), (+QMaxPool2D, QReLU)
    "depthwise_conv2d": lambda: _dw("depthwise_conv2d", use_bias=False),
    "depthwise_conv2d_last": lambda: _dw("depthwise_conv2d_last", head=None),
    "depthwise_conv2d_relu": lambda: _dw("depthwise_conv2d_relu", relu=True),
    "depthwise_conv2d_relu_s2": lambda: _dw("depthwise_conv2d_relu_s2", s=2, relu=True),
    "depthwise_conv2d_relu_valid": lambda: _dw("depthwise_conv2d_relu_valid", padding="valid",
                                               relu=True),
    "depthwise_conv2d_relu_k5": lambda: _dw("depthwise_conv2d_relu_k5", k=5, relu=True,
                                            use_bias=False),
    "depthwise_conv2d_maxpool_relu": lambda: _dw("depthwise_conv2d_maxpool_relu", relu=True,
                                                 pool=(2, 2)),
    # Dense1D: (QDense), (QDense, QReLU), optionally after QFlatten / QReshape / both
    "dense": lambda: _dense("dense"),
    "dense_last": lambda: _dense("dense_last", head=None),
    "dense_relu": lambda: _dense("dense_relu", relu=True),
    "dense_after_gap": lambda: _dense("dense_after_gap", source="gap"),
    "dense_flatten": lambda: _dense("dense_flatten", flatten=True),
    "dense_flatten_relu": lambda: _dense("dense_flatten_relu", flatten=True, relu=True),
    "dense_reshape": lambda: _dense("dense_reshape", source="gap", reshape=True),
    "dense_reshape_flatten": lambda: _dense("dense_reshape_flatten", source="gap", reshape=True,
                                            flatten=True, head=None),
    # Add / Concatenate
    "add": lambda: _add("add"),
    "add_two_branches": lambda: _add("add_two_branches", two_branches=True),
    "add_last": lambda: _add("add_last", head=None),
    "concatenate": lambda: _concat("concatenate"),
    "concatenate_skip": lambda: _concat("concatenate_skip", skip=True),
    "concatenate_last": lambda: _concat("concatenate_last", head=None),
    # Dequantizer
    "dequantizer": lambda: _dequantizer_only("dequantizer"),
}


def pattern_names() -> List[str]:
    return list(_FACTORIES)


def pattern_seed(name: str) -> int:
    """A stable per-pattern seed (independent of the order of the dictionary)."""
    return zlib.crc32(name.encode("utf8"))


def pattern_model(name: str) -> m.Model:
    """Build, initialize and calibrate one pattern model (deterministic)."""
    if name not in _FACTORIES:
        raise KeyError(f"unknown pattern {name!r}; known: {', '.join(_FACTORIES)}")
    return finalize(_FACTORIES[name](), pattern_seed(name))


def pattern_models() -> Dict[str, m.Model]:
    """name -> calibrated model description, for every pattern."""
    return {name: pattern_model(name) for name in _FACTORIES}
