"""The DS-CNN keyword-spotting model of BrainChip's zoo, as QuantizeML 8/8/8 would save it.

Architecture (akida_models ds_cnn_kws with the Akida v2 options of get_params_by_version:
unfused separable blocks, ReLU max_value 3.75, ReLU before the global average pooling) after
QuantizeML quantize(): batch normalizations folded into the preceding convolution's bias, an
Input of dtype uint8 followed by the model's own Rescaling(1/255) (so no InputQuantizer is
inserted), and a Dequantizer before the float softmax.  Layer names/order follow the published
model summary (akida-spec §6.1).
"""

from __future__ import annotations

import numpy as np

from . import model as m
from .build import finalize

DS_CNN_INPUT_SHAPE = (49, 10, 1)
DS_CNN_CLASSES = 33
DS_CNN_RELU_MAX = 3.75  # akida_models get_params_by_version(relu_v2='ReLU3.75')


def ds_cnn_kws_description() -> m.Model:
    L = [m.input_layer("input", DS_CNN_INPUT_SHAPE, "uint8"),
         # ds_cnn_kws: Rescaling(1. / 255, 0) -- the offset is the int 0 of input_scaling=(255, 0)
         m.rescaling("rescaling", "input", 1.0 / 255, 0),
         m.conv2d("conv_0", "rescaling", 64, 5, strides=2, padding="same", use_bias=True),
         m.relu("conv_0/relu", "conv_0", DS_CNN_RELU_MAX)]
    prev = "conv_0/relu"
    for k in range(1, 5):
        L.append(m.depthwise_conv2d(f"dw_separable_{k}", prev, 3, padding="same",
                                    use_bias=False))
        L.append(m.conv2d(f"pw_separable_{k}", f"dw_separable_{k}", 64, 1, padding="same",
                          use_bias=True))
        L.append(m.relu(f"pw_separable_{k}/relu", f"pw_separable_{k}", DS_CNN_RELU_MAX))
        prev = f"pw_separable_{k}/relu"
    L += [m.global_avg_pool("pw_separable_4/global_avg", prev),
          m.reshape("reshape_1", "pw_separable_4/global_avg", (1, 1, 64)),
          m.flatten("flatten", "reshape_1"),
          m.dense("dense_5", "flatten", DS_CNN_CLASSES, use_bias=True),
          m.dequantizer("dequantizer", "dense_5"),
          m.activation("act_softmax", "dequantizer", "softmax")]
    return m.Model("ds_cnn_kws", L, ["act_softmax"])


def kws_like_samples(n: int, seed: int) -> np.ndarray:
    """n smooth "MFCC spectrogram-like" uint8 images of shape (49, 10, 1).

    Each is a few low-frequency cosine modes plus one or two formant-like bands (a Gaussian ridge
    along the coefficient axis whose centre drifts in time, gated by a word-like time envelope),
    normalized to 0..peak with peak in [160, 255]."""
    rng = np.random.default_rng(seed)
    t = np.arange(DS_CNN_INPUT_SHAPE[0], dtype=np.float64)[:, None] / DS_CNN_INPUT_SHAPE[0]
    f = np.arange(DS_CNN_INPUT_SHAPE[1], dtype=np.float64)[None, :]
    out = np.empty((n,) + DS_CNN_INPUT_SHAPE, dtype=np.uint8)
    for i in range(n):
        x = np.zeros((DS_CNN_INPUT_SHAPE[0], DS_CNN_INPUT_SHAPE[1]))
        for _ in range(4):
            u, v = rng.integers(0, 4), rng.integers(0, 3)
            x += rng.uniform(0.1, 0.5) * np.cos(2 * np.pi * (u * t + v * f / 10.0)
                                                + rng.uniform(0, 2 * np.pi))
        for _ in range(rng.integers(1, 3)):
            centre = rng.uniform(1, 8) + rng.uniform(-3, 3) * t
            width = rng.uniform(0.8, 2.0)
            t0, dur = rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
            envelope = np.exp(-0.5 * ((t - t0) / dur) ** 2)
            x += rng.uniform(1.0, 2.0) * envelope * np.exp(-0.5 * ((f - centre) / width) ** 2)
        x = (x - x.min()) / (x.max() - x.min())
        out[i, ..., 0] = np.round(x * rng.uniform(160, 255)).astype(np.uint8)
    return out


def ds_cnn_kws(seed: int = 0, num_calibration: int = 32) -> m.Model:
    """Build, initialize and calibrate the DS-CNN (fully deterministic for a given seed)."""
    model = ds_cnn_kws_description()
    calib = kws_like_samples(num_calibration, seed + 1)
    return finalize(model, seed, calib)
