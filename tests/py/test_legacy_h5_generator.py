"""Tests of the Akida 1.0 generators: tools/quantizeml_h5/legacy.py (legacy CNN2SNN-quantized Keras
.h5) and tools/quantizeml_h5/zoo_v1.py (v1 DS-CNN example, QuantizeML v1 pattern models).

Run: /usr/bin/python3 -m pytest -q tests/py/test_legacy_h5_generator.py

Source tags in comments (details in docs/quantizeml-h5.md §8):
  [CNN-QL]  cnn2snn 2.19.1 quantization_layers.py (github 7abushahla/BrainChip_Akida,
            cnn2snn-2.19.1/cnn2snn/quantization_layers.py): get_config() of the quantized layers
  [CNN-QO]  cnn2snn quantization_ops.py (code index id 2915241690): WeightQuantizer is a keras
            Layer; get_config adds 'bitwidth' (+ 'threshold' for StdWeightQuantizer)
  [CNN-OBJ] cnn2snn cnn2snn_objects.py (id 3389261913) + utils.load_quantized_model (id 2428618728):
            plain class names passed as custom_objects (no registration, no "Custom>" prefix)
  [CNN-Q]   cnn2snn quantization.py (id 2898889622): MaxPerAxisQuantizer for neural layers,
            MaxQuantizer for the separable depthwise, input_weight_quantization for the 1st layer
  [AKM-V1]  akida_models AkidaV1 ds_cnn_kws.py (id 45886716779) and layer_blocks.py (id 24351656119)
  [QML-SEP] quantizeml separable_convolution.py (id 32276420112), layers_base.neural_layer_init
            (id 32622621278)
  [SPEC]    /work/shared/docs/akida-spec.md
"""

import hashlib
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.quantizeml_h5 import legacy as lg  # noqa: E402
from tools.quantizeml_h5 import write_h5  # noqa: E402
from tools.quantizeml_h5.zoo import kws_like_samples  # noqa: E402
from tools.quantizeml_h5.zoo_v1 import (DS_CNN_V1_AKIDA_LAYERS, ds_cnn_kws_v1,  # noqa: E402
                                        v1_pattern_model, v1_pattern_models, v1_pattern_names)

EXAMPLE = os.path.join(ROOT, "examples", "ds_cnn_kws_iq8_wq4_aq4_laq1.h5")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def config_of(path):
    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["model_config"])


def layer_entries(cfg):
    return cfg["config"]["layers"]


@pytest.fixture(scope="module")
def v1_example(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("v1") / "ds_cnn_kws_iq8_wq4_aq4_laq1.h5")
    lg.write_legacy_h5(ds_cnn_kws_v1(seed=0), path)
    return path


@pytest.fixture(scope="module")
def legacy_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("legacy")
    for name, model in lg.legacy_pattern_models().items():
        lg.write_legacy_h5(model, str(d / (name + ".h5")))
    return d


@pytest.fixture(scope="module")
def v1_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("v1pat")
    for name, model in v1_pattern_models().items():
        write_h5(model, str(d / (name + ".h5")))
    return d


# ------------------------------------------------------------------------------------------------
# Determinism and the checked-in example
# ------------------------------------------------------------------------------------------------

def test_v1_example_deterministic(v1_example, tmp_path):
    other = str(tmp_path / "again.h5")
    lg.write_legacy_h5(ds_cnn_kws_v1(seed=0), other)
    assert sha(other) == sha(v1_example)
    lg.write_legacy_h5(ds_cnn_kws_v1(seed=1), str(tmp_path / "seed1.h5"))
    assert sha(str(tmp_path / "seed1.h5")) != sha(v1_example)


def test_checked_in_example_is_up_to_date(v1_example):
    assert os.path.exists(EXAMPLE), "run scripts/generate_examples.py"
    assert sha(EXAMPLE) == sha(v1_example), "examples/ is stale: run scripts/generate_examples.py"
    assert os.path.getsize(EXAMPLE) < 200 * 1024


def test_pattern_models_deterministic(legacy_dir, v1_dir, tmp_path):
    for name in ("separable_gap_relu_a1", "input_conv_relu_sequential", "conv_relu_std_quantizer"):
        p = str(tmp_path / (name + ".h5"))
        lg.write_legacy_h5(lg.legacy_pattern_model(name), p)
        assert sha(p) == sha(str(legacy_dir / (name + ".h5")))
    for name in ("v1_separable_gap_relu", "v1_input_conv_maxpool_relu"):
        p = str(tmp_path / (name + ".h5"))
        write_h5(v1_pattern_model(name), p)
        assert sha(p) == sha(str(v1_dir / (name + ".h5")))


# ------------------------------------------------------------------------------------------------
# The v1 DS-CNN: documented structure and shapes
# ------------------------------------------------------------------------------------------------

# [AKM-V1] ds_cnn_kws(): Input "input", Rescaling(1/255, 0) "rescaling", conv_block "conv_0",
# separable_conv_block "separable_1".."separable_4" (the 4th with pooling='global_avg'), Reshape
# "reshape_1", Flatten "flatten", dense_block "dense_5" (no activation), Activation "act_softmax";
# layer_blocks names: <layer>_BN (folded away by quantize), <layer>_relu, <layer>_global_avg.
EXPECTED_V1_LAYERS = [
    ("input", "InputLayer"), ("rescaling", "Rescaling"),
    ("conv_0", "QuantizedConv2D"), ("conv_0_relu", "QuantizedReLU"),
    ("separable_1", "QuantizedSeparableConv2D"), ("separable_1_relu", "QuantizedReLU"),
    ("separable_2", "QuantizedSeparableConv2D"), ("separable_2_relu", "QuantizedReLU"),
    ("separable_3", "QuantizedSeparableConv2D"), ("separable_3_relu", "QuantizedReLU"),
    ("separable_4", "QuantizedSeparableConv2D"),
    ("separable_4_global_avg", "GlobalAveragePooling2D"),  # GAP before BN/ReLU in v1 [SPEC §6.1]
    ("separable_4_relu", "QuantizedReLU"),
    ("reshape_1", "Reshape"), ("flatten", "Flatten"), ("dense_5", "QuantizedDense"),
    ("act_softmax", "Activation"),
]


def test_v1_example_layer_structure(v1_example):
    cfg = config_of(v1_example)
    assert cfg["class_name"] == "Functional"
    got = [(ly["name"], ly["class_name"]) for ly in layer_entries(cfg)]
    assert got == EXPECTED_V1_LAYERS
    assert not any("BatchNormalization" in c for _, c in got)  # folded by quantize()
    assert cfg["config"]["input_layers"] == [["input", 0, 0]]
    assert cfg["config"]["output_layers"] == [["act_softmax", 0, 0]]
    by = {ly["name"]: ly["config"] for ly in layer_entries(cfg)}
    assert by["input"]["batch_input_shape"] == [None, 49, 10, 1]
    assert by["rescaling"]["scale"] == pytest.approx(1 / 255) and by["rescaling"]["offset"] == 0
    c0 = by["conv_0"]
    assert (c0["filters"], c0["kernel_size"], c0["strides"], c0["padding"]) == (
        64, [5, 5], [2, 2], "same")
    assert c0["quantizer"]["class_name"] == "MaxPerAxisQuantizer"
    assert c0["quantizer"]["config"]["bitwidth"] == 8  # iq8 [CNN-Q] input_weight_quantization
    for k in range(1, 5):
        s = by[f"separable_{k}"]
        assert (s["filters"], s["kernel_size"], s["padding"]) == (64, [3, 3], "same")
        assert s["quantizer"]["class_name"] == "MaxPerAxisQuantizer"     # [CNN-Q]
        assert s["quantizer_dw"]["class_name"] == "MaxQuantizer"         # [CNN-Q]
        assert s["quantizer"]["config"]["bitwidth"] == 4                 # wq4
        assert s["quantizer_dw"]["config"]["bitwidth"] == 4
    for name in ("conv_0_relu", "separable_1_relu", "separable_2_relu", "separable_3_relu"):
        assert (by[name]["bitwidth"], by[name]["max_value"]) == (4, 6.0)  # aq4, ReLU(6.0)
    assert by["separable_4_relu"]["bitwidth"] == 1                       # laq1
    assert by["reshape_1"]["target_shape"] == [1, 1, 64]
    assert by["dense_5"]["units"] == 33 and by["dense_5"]["use_bias"] is True
    assert by["dense_5"]["quantizer"]["config"]["bitwidth"] == 4


def test_v1_example_shapes_and_akida_summary(v1_example):
    model = ds_cnn_kws_v1(seed=0)
    shapes = lg.output_shapes(model)
    with h5py.File(v1_example, "r") as f:
        mw = f["model_weights"]
        for name, _kind, out_shape, kernels in DS_CNN_V1_AKIDA_LAYERS:
            shape = shapes[name if name != "separable_4" else "separable_4_relu"]
            # Akida outputs are 3-D: a vector (N,) maps to (1, 1, N)
            assert ((1, 1) + shape if len(shape) == 1 else shape) == out_shape
            g = mw[name][name]
            if name.startswith("separable"):
                assert g["depthwise_kernel:0"].shape == kernels[0]
                assert g["pointwise_kernel:0"].shape == kernels[1]
                assert g["bias:0"].shape == (64,)  # BN folded into a bias
            elif name == "dense_5":
                assert g["kernel:0"].shape == (64, 33)
                assert g["bias:0"].shape == (33,)
            else:
                assert g["kernel:0"].shape == kernels[0]
                assert g["bias:0"].shape == (64,)
    # 1664 + 4 x 4736 (published "4736 params each" [SPEC §6.1]) + 2145; zoo table: 22.7K
    assert sum(lg.param_count(ly) for ly in model.layers) == 22753
    assert sum(lg.param_count(model.layer(f"separable_{k}")) for k in range(1, 5)) == 4 * 4736


def test_v1_example_quantization_is_meaningful():
    model = ds_cnn_kws_v1(seed=0)
    for ly in model.layers:
        for key, w in ly.weights.items():
            if key == "bias":
                continue
            q = ly.config["quantizer_dw" if key == "depthwise_kernel" else "quantizer"]
            wi, sf = lg.quantize_weights(w, q)
            kmax = 2 ** (q["bitwidth"] - 1) - 1
            assert np.abs(wi).max() == kmax
            # a 4-bit layer uses (nearly) all 15 levels, the 8-bit one a wide range
            assert len(np.unique(wi)) >= min(13, 2 * kmax + 1), (ly.name, key)
            # float weights are not already on the grid: quantization changes them
            assert not np.allclose(w, wi / sf)
    x = kws_like_samples(16, 1000).astype(np.float32)
    acts = lg.forward(model, x)
    for name in ("conv_0_relu", "separable_1_relu", "separable_2_relu", "separable_3_relu"):
        a = acts[name]
        levels = np.unique(np.round(a / 0.4))
        assert len(levels) == 16, name                    # all 4-bit levels reached
        assert 0.05 < (a == 0).mean() < 0.6, name         # ReLU active, not dead
        assert (a == 6.0).mean() < 0.2, name              # some but limited saturation
    last = acts["separable_4_relu"]
    assert set(np.unique(last)) == {0.0, 6.0}             # 1-bit activation
    assert 0.2 < (last > 0).mean() < 0.8
    assert len(np.unique(acts["dense_5"].argmax(-1))) >= 2


# ------------------------------------------------------------------------------------------------
# Graph consistency of every generated file
# ------------------------------------------------------------------------------------------------

def _check_graph(path):
    with h5py.File(path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])
        names_attr = [n.decode() if isinstance(n, bytes) else n
                      for n in f["model_weights"].attrs["layer_names"]]
        entries = layer_entries(cfg)
        if cfg["class_name"] == "Sequential":
            names = [ly["config"]["name"] for ly in entries]
            assert entries[0]["class_name"] == "InputLayer"
            # Sequential.layers excludes the InputLayer, so do the saved weights
            assert names_attr == names[1:]
            return
        seen = set()
        for ly in entries:
            assert ly["name"] == ly["config"]["name"]
            for node in ly["inbound_nodes"]:
                for inbound in node:
                    assert inbound[0] in seen, f"{path}: {ly['name']} <- {inbound[0]}"
                    assert inbound[1:] == [0, 0, {}]
            seen.add(ly["name"])
        for n, _, _ in cfg["config"]["input_layers"] + cfg["config"]["output_layers"]:
            assert n in seen
        assert names_attr == [ly["name"] for ly in entries]
        for ly in entries:
            if ly["class_name"] != "InputLayer":
                assert ly["inbound_nodes"], ly["name"]


def test_graphs_reference_existing_layers(v1_example, legacy_dir, v1_dir):
    files = [v1_example] + [str(p) for p in legacy_dir.iterdir()] + [str(p) for p in
                                                                     v1_dir.iterdir()]
    assert len(files) == 1 + len(lg.legacy_pattern_names()) + len(v1_pattern_names())
    for path in files:
        _check_graph(path)


# ------------------------------------------------------------------------------------------------
# Legacy format: class names and config keys as the cnn2snn sources write them
# ------------------------------------------------------------------------------------------------

CONV_KEYS = ["name", "trainable", "dtype", "filters", "kernel_size", "strides", "padding",
             "dilation_rate", "use_bias", "kernel_initializer", "bias_initializer",
             "kernel_regularizer", "bias_regularizer", "activity_regularizer",
             "kernel_constraint", "bias_constraint", "quantizer"]
SEP_KEYS = ["name", "trainable", "dtype", "filters", "kernel_size", "strides", "padding",
            "dilation_rate", "groups", "use_bias", "kernel_initializer", "bias_initializer",
            "kernel_regularizer", "bias_regularizer", "activity_regularizer",
            "kernel_constraint", "bias_constraint", "depthwise_initializer",
            "pointwise_initializer", "depthwise_regularizer", "pointwise_regularizer",
            "depthwise_constraint", "pointwise_constraint", "quantizer_dw", "quantizer"]
DENSE_KEYS = ["name", "trainable", "dtype", "units", "use_bias", "kernel_initializer",
              "bias_initializer", "kernel_regularizer", "bias_regularizer",
              "activity_regularizer", "kernel_constraint", "bias_constraint", "quantizer"]


def test_legacy_class_names_and_keys(v1_example, legacy_dir):
    seen_classes = set()
    for path in [v1_example] + sorted(str(p) for p in legacy_dir.iterdir()):
        for ly in layer_entries(config_of(path)):
            k, c = ly["class_name"], ly["config"]
            seen_classes.add(k)
            # [CNN-OBJ]: unregistered classes, loaded through custom_objects -> bare names
            assert not k.startswith("Custom>")
            if k == "QuantizedConv2D":
                # [CNN-QL] Conv2D config + quantizer, minus data_format/activation/groups
                assert list(c) == CONV_KEYS
            elif k == "QuantizedSeparableConv2D":
                # [CNN-QL] SeparableConv2D config + quantizer_dw + quantizer, minus data_format/
                # activation/depth_multiplier ('groups' is not in its unsupported_args)
                assert list(c) == SEP_KEYS
            elif k == "QuantizedDense":
                assert list(c) == DENSE_KEYS  # [CNN-QL] Dense config + quantizer - activation
            elif k == "QuantizedReLU":
                # [CNN-QL] QuantizedActivation adds bitwidth, QuantizedReLU adds max_value
                assert list(c) == ["name", "trainable", "dtype", "bitwidth", "max_value"]
                assert isinstance(c["max_value"], float) and c["max_value"] > 0
            elif k == "ActivationDiscreteRelu":
                assert list(c) == ["name", "trainable", "dtype", "bitwidth"]
            for key in ("quantizer", "quantizer_dw"):
                if key in c:
                    q = c[key]
                    # [CNN-QO] WeightQuantizer is a Layer: Layer config + bitwidth (+ threshold)
                    assert list(q) == ["class_name", "config"]
                    assert q["class_name"] in ("MaxPerAxisQuantizer", "MaxQuantizer",
                                               "StdWeightQuantizer")
                    expected = ["name", "trainable", "dtype", "bitwidth"]
                    if q["class_name"] == "StdWeightQuantizer":
                        expected.append("threshold")
                    assert list(q["config"]) == expected
                    assert q["config"]["bitwidth"] in (2, 4, 8)
    assert {"QuantizedConv2D", "QuantizedSeparableConv2D", "QuantizedDense", "QuantizedReLU",
            "ActivationDiscreteRelu", "Rescaling", "MaxPooling2D", "GlobalAveragePooling2D",
            "Reshape", "Flatten"} <= seen_classes


def test_legacy_weights_are_float_and_quantizers_hold_no_variable(legacy_dir):
    for path in sorted(legacy_dir.iterdir()):
        with h5py.File(str(path), "r") as f:
            cfg = json.loads(f.attrs["model_config"])
            mw = f["model_weights"]
            for ly in layer_entries(cfg):
                if ly["class_name"] == "InputLayer" and cfg["class_name"] == "Sequential":
                    continue
                name = ly["config"]["name"]
                wn = [n.decode() if isinstance(n, bytes) else n
                      for n in mw[name].attrs["weight_names"]]
                if ly["class_name"] in ("QuantizedConv2D", "QuantizedDense"):
                    assert wn == [f"{name}/kernel:0", f"{name}/bias:0"]
                elif ly["class_name"] == "QuantizedSeparableConv2D":
                    assert wn == [f"{name}/depthwise_kernel:0", f"{name}/pointwise_kernel:0",
                                  f"{name}/bias:0"]
                else:
                    assert wn == []  # activations, pooling, reshape: no variable
                for n in wn:
                    assert mw[name][n].dtype == np.float32


def test_legacy_quantizer_semantics():
    # [SPEC §3.5] w_q = clip(round(w*sf), -kmax, kmax)/sf; MaxPerAxis per last axis
    w = np.array([[0.5, -0.1], [-1.0, 0.05], [0.25, 0.2]], np.float32)
    wi, sf = lg.quantize_weights(w, lg.quantizer("MaxPerAxisQuantizer", 4))
    np.testing.assert_allclose(sf, [7.0, 35.0])
    np.testing.assert_array_equal(wi, [[4, -4], [-7, 2], [2, 7]])  # 3.5 -> 4 (half-even), 1.75->2
    wi, sf = lg.quantize_weights(w, lg.quantizer("MaxQuantizer", 4))
    assert float(sf) == pytest.approx(7.0)
    # QuantizedReLU(4, 6): step 0.4, threshold 0.2, out = step * clip(ceil((x - 0.2)/0.4), 0, 15)
    relu = lg.qrelu("r", "x", 4, 6.0)
    out = lg.quantized_activation(relu, np.array([-1, 0.2, 0.21, 0.6, 0.61, 5.9, 7.0]))
    np.testing.assert_allclose(out, [0, 0, 0.4, 0.4, 0.8, 6.0, 6.0], atol=1e-6)
    # ActivationDiscreteRelu: step = min(levels, 6) / levels
    assert lg.activation_step(lg.discrete_relu("a", "x", 1)) == 1.0
    assert lg.activation_step(lg.discrete_relu("a", "x", 4)) == pytest.approx(0.4)


def test_sequential_and_tf_keras_flavour(tmp_path):
    p = str(tmp_path / "seq.h5")
    lg.write_legacy_h5(lg.legacy_pattern_model("input_conv_relu_sequential"), p)
    cfg = config_of(p)
    assert cfg["class_name"] == "Sequential"
    assert all(set(ly) == {"class_name", "config"} for ly in layer_entries(cfg))
    p2 = str(tmp_path / "tfk.h5")
    lg.write_legacy_h5(lg.legacy_pattern_model("separable_relu"), p2, flavour="tf_keras2.15")
    with h5py.File(p2, "r") as f:
        assert f.attrs["keras_version"] == "2.15.0"
    sep = [ly for ly in layer_entries(config_of(p2))
           if ly["class_name"] == "QuantizedSeparableConv2D"][0]["config"]
    assert sep["quantizer"]["module"] == "cnn2snn.quantization_ops"
    assert sep["quantizer"]["registered_name"] == "MaxPerAxisQuantizer"
    assert sep["kernel_initializer"]["module"] == "keras.initializers"


# ------------------------------------------------------------------------------------------------
# QuantizeML v1 pattern models: per-tensor 4-bit activations, bounded ReLUs
# ------------------------------------------------------------------------------------------------

def test_v1_pattern_quant_configs(v1_dir):
    for name in v1_pattern_names():
        cfg = config_of(str(v1_dir / (name + ".h5")))
        entries = layer_entries(cfg)
        neural = [ly for ly in entries if ly["class_name"] in (
            "Custom>QuantizedConv2D", "Custom>QuantizedSeparableConv2D", "Custom>QuantizedDense")]
        for i, ly in enumerate(neural):
            qc = ly["config"]["quant_config"]
            bits = 8 if i == 0 else 4  # [SPEC §2.3] input weights 8, weights 4
            if ly["class_name"] == "Custom>QuantizedSeparableConv2D":
                # [QML-SEP] dw per-tensor (axis None), pw default axis
                assert qc["dw_weight_quantizer"] == {"bitwidth": bits, "axis": None}
                assert qc["pw_weight_quantizer"] == {"bitwidth": bits}
            else:
                assert qc["weight_quantizer"]["bitwidth"] == bits
        for ly in entries:
            c = ly["config"]
            oq = (c.get("quant_config") or {}).get("output_quantizer")
            if oq is not None:
                # [SPEC §3.3] v1: an OutputQuantizer must sit on a QuantizedReLU, per-tensor
                assert ly["class_name"] == "Custom>QuantizedReLU", (name, ly["name"])
                assert oq["axis"] == "per-tensor" and oq["bitwidth"] == 4
                assert oq["signed"] is False
            if ly["class_name"] == "Custom>QuantizedReLU":
                # [SPEC §3.3] "unbounded QuantizedReLU is not supported" in v1
                assert c["max_value"] == 6.0
                if ly["name"] != entries[-2]["name"]:  # not the last block
                    assert oq is not None, (name, ly["name"])
            assert "DepthwiseConv2D" not in ly["class_name"]  # v1: fused separable only


def test_v1_pattern_calibration(v1_dir):
    for name in v1_pattern_names():
        with h5py.File(str(v1_dir / (name + ".h5")), "r") as f:
            cfg = json.loads(f.attrs["model_config"])
            for ly in layer_entries(cfg):
                oq = (ly["config"].get("quant_config") or {}).get("output_quantizer")
                if oq is None:
                    continue
                g = f["model_weights"][ly["name"]][ly["name"]]["output_quantizer"]
                rm = g["range_max:0"][()]
                assert g["range_max:0"].shape == ()  # per-tensor: scalar
                assert 0 < rm <= 6.0
                rate = g["rescaling_rate:0"][()]
                # CLE: ideal = 15/16 * 2^floor(log2 r) for 4 bits -> rate in (15/32, 15/16]
                assert 15 / 32 < rate <= 1.0


def test_v1_patterns_cover_the_v1_block_patterns():
    # [SPEC §3.3] v1 patterns, as tuples of layer types after the stem block
    wanted = {
        ("QuantizedConv2D", "QuantizedReLU"),
        ("QuantizedConv2D", "QuantizedMaxPool2D", "QuantizedReLU"),
        ("QuantizedConv2D",),
        ("QuantizedConv2D", "QuantizedGlobalAveragePooling2D", "QuantizedReLU"),
        ("QuantizedConv2D", "QuantizedGlobalAveragePooling2D"),
        ("QuantizedSeparableConv2D",),
        ("QuantizedSeparableConv2D", "QuantizedReLU"),
        ("QuantizedSeparableConv2D", "QuantizedMaxPool2D", "QuantizedReLU"),
        ("QuantizedSeparableConv2D", "QuantizedGlobalAveragePooling2D", "QuantizedReLU"),
        ("QuantizedSeparableConv2D", "QuantizedGlobalAveragePooling2D"),
        ("QuantizedFlatten", "QuantizedDense"),
        ("QuantizedFlatten", "QuantizedDense", "QuantizedReLU"),
        ("QuantizedReshape", "QuantizedFlatten", "QuantizedDense"),
    }
    found = set()
    for name in v1_pattern_names():
        model = v1_pattern_model(name)
        types = [ly.class_name for ly in model.layers]
        for n in range(1, 4):
            for i in range(len(types) - n + 1):
                found.add(tuple(types[i:i + n]))
    assert wanted <= found, wanted - found


def test_cli_v1_and_legacy(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    run = [sys.executable, "-m", "tools.quantizeml_h5"]
    out = subprocess.run(run + ["--list-legacy"], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == lg.legacy_pattern_names()
    subprocess.run(run + ["--all-v1", str(tmp_path / "v1")], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    assert len(os.listdir(tmp_path / "v1")) == len(v1_pattern_names())
    subprocess.run(run + ["--legacy-pattern", "conv_relu", "-o", str(tmp_path / "c.h5")],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    assert config_of(str(tmp_path / "c.h5"))["class_name"] == "Functional"
    r = subprocess.run(run + ["--v1-pattern", "nope", "-o", str(tmp_path / "n.h5")], cwd=ROOT,
                       env=env, capture_output=True)
    assert r.returncode == 2
