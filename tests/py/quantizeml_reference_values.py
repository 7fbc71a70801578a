#!/usr/bin/env python3
"""Independent numpy (float32) derivation of the integers QuantizeML computes for a Keras .h5.

Written from QuantizeML's documented formulas (akida-spec §2.1-2.2), not from the C++ front end:
  WeightQuantizer       scale = max(max|w| / (2^vb - 1), 1e-6) per output channel, q = round_half_even(w / scale)
  bias (aligned)        frac = min(7 - ceil(log2(|b| / s)), 7, frac_acc); q = round(b / s * 2^frac) << (frac_acc - frac)
  OutputQuantizer       s' = s * rescaling_rate; fq = 8 - ceil(log2 s'); qscale = sat(round(s' * 2^fq), [-256, 255])
                        frac_out = min(vb - ceil(log2(range_max)), vb); shift = frac_out - (frac_acc + fq)
Usage: quantizeml_reference_values.py FILE.h5 [LAYER RELU]   (defaults: the ECG fixture's conv2d/re_lu)
Prints a JSON object; tests/keras_reader_test.cpp pastes its output for the ECG fixture.
"""
import json
import sys

import h5py
import numpy as np

f32 = np.float32


def variable(h5, layer, suffix):
    group = h5["model_weights"][layer]
    for name in group.attrs["weight_names"]:
        name = name.decode() if isinstance(name, bytes) else name
        if name.split(":")[0].endswith(suffix):
            return np.asarray(group[name], dtype=f32)
    raise KeyError(f"{layer}: no variable {suffix}")


def ceil_log2(x):
    return np.ceil(np.log2(np.asarray(x, dtype=np.float64)))  # exact for float32 inputs


def weights(kernel, value_bits=7):
    ranges = np.abs(kernel).reshape(-1, kernel.shape[-1]).max(axis=0).astype(f32)
    scales = np.maximum(ranges / f32(2 ** value_bits - 1), f32(1e-6)).astype(f32)
    scaled = (kernel / scales).astype(f32)
    return np.clip(np.round(scaled), -2 ** value_bits, 2 ** value_bits - 1).astype(np.int64), scales, scaled


def bias(b, scales, frac_acc=0.0, value_bits=7):
    ratio = (np.abs(b) / scales).astype(f32)
    frac = np.minimum(np.minimum(value_bits - ceil_log2(ratio), value_bits), frac_acc)
    q = np.round((b / scales).astype(f32) * (2.0 ** frac).astype(f32))
    q = np.clip(q, -2 ** value_bits, 2 ** value_bits - 1)
    return (q * 2.0 ** (frac_acc - frac)).astype(np.int64), frac


def output(scales, rate, range_max, frac_acc=0.0, value_bits=7):
    s = (scales * rate).astype(f32)
    fq = 8 - ceil_log2(s)
    qscale = np.clip(np.round((s * (2.0 ** fq).astype(f32)).astype(f32)), -256, 255).astype(np.int64)
    frac_out = np.minimum(value_bits - ceil_log2(range_max), value_bits)
    return qscale, (frac_out - (frac_acc + fq)).astype(np.int64)


def main():
    path = sys.argv[1]
    layer = sys.argv[2] if len(sys.argv) > 2 else "conv2d"
    relu = sys.argv[3] if len(sys.argv) > 3 else "re_lu"
    with h5py.File(path, "r") as h5:
        kernel = variable(h5, layer, "/kernel")
        q, scales, scaled = weights(kernel)
        b, _ = bias(variable(h5, layer, "/bias"), scales)
        qscale, shift = output(scales, variable(h5, relu, "rescaling_rate"),
                               variable(h5, relu, "range_max"))
    flat = scaled.reshape(-1)
    ties = [int(i) for i in np.nonzero(np.abs(flat - np.trunc(flat)) == f32(0.5))[0]]
    print(json.dumps({
        "kernel_shape": list(kernel.shape),
        "weights_first_filter": q[..., 0].reshape(-1).tolist(),
        "weights_flat_head": q.reshape(-1)[:20].tolist(),
        "bias": b.tolist(),
        "output_scale": qscale.tolist(),
        "output_shift": shift.tolist(),
        "weight_ties": [{"index": i, "scaled": float(flat[i]), "q": int(q.reshape(-1)[i])}
                        for i in ties],
    }))


if __name__ == "__main__":
    main()
