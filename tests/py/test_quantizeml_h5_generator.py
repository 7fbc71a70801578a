"""Tests of tools/quantizeml_h5 (the QuantizeML-format .h5 generator).

Run: /usr/bin/python3 -m pytest -q tests/py/test_quantizeml_h5_generator.py
Layout tests compare with the real QuantizeML file ../shared/fixtures/h5/ecg_i8_w8_a8_quantizeml.h5
and are skipped (with a message) when that folder is absent.
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

from tools.quantizeml_h5 import (ds_cnn_kws, kws_like_samples, output_shapes,  # noqa: E402
                                 param_count, pattern_model, pattern_names, pattern_models,
                                 write_h5, ideal_range_max)

FIXTURE = os.path.join(ROOT, "..", "shared", "fixtures", "h5", "ecg_i8_w8_a8_quantizeml.h5")
needs_fixture = pytest.mark.skipif(not os.path.exists(FIXTURE),
                                   reason=f"real QuantizeML fixture not found at {FIXTURE}")


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ds_cnn_path(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dscnn") / "ds_cnn_kws_i8_w8_a8.h5")
    write_h5(ds_cnn_kws(seed=0), path)
    return path


def attr_type(obj, name):
    """(kind, vlen, charset, dataspace shape) of one HDF5 attribute."""
    a = obj.attrs.get_id(name)
    t = a.get_type()
    if isinstance(t, h5py.h5t.TypeStringID):
        return ("string", t.is_variable_str(), t.get_cset(), a.get_space().shape)
    return (t.__class__.__name__, None, None, a.get_space().shape)


def config_of(f):
    return json.loads(f.attrs["model_config"])


def layers_by_class(cfg):
    out = {}
    for ly in cfg["config"]["layers"]:
        out.setdefault(ly["class_name"], []).append(ly)
    return out


def layout_conventions(f):
    """Facts about the weights layout that must hold for any Keras-2 legacy .h5 file."""
    mw = f["model_weights"]
    cfg = config_of(f)
    names = [n for n in mw.attrs["layer_names"]]
    facts = {
        "layer_names == config order": names == [ly["name"] for ly in cfg["config"]["layers"]],
        "top_level_model_weights empty": len(mw["top_level_model_weights"].attrs["weight_names"])
        == 0,
    }
    ok_groups, ok_datasets, empty_is_float64, names_vlen_ascii = True, True, True, True
    for n in names:
        g = mw[n]
        wn = g.attrs["weight_names"]
        if len(wn) == 0:
            empty_is_float64 &= attr_type(g, "weight_names")[0] == "TypeFloatID"
            continue
        names_vlen_ascii &= attr_type(g, "weight_names")[:3] == ("string", True, 0)
        for w in wn:
            # dataset path = <layer group>/<variable name>, variable name = <layer>/.../x:0
            ok_datasets &= (w in g and isinstance(g[w], h5py.Dataset) and g[w].dtype == np.float32
                            and w.startswith(n + "/") and w.endswith(":0"))
    facts.update({"groups": ok_groups, "datasets": ok_datasets,
                  "empty weight_names float64": empty_is_float64,
                  "weight_names vlen ascii": names_vlen_ascii})
    return facts


# ------------------------------------------------------------------------------------------------
# layout vs the real QuantizeML file
# ------------------------------------------------------------------------------------------------

@needs_fixture
def test_root_and_model_weights_attrs_match_fixture(ds_cnn_path):
    with h5py.File(FIXTURE, "r") as ref, h5py.File(ds_cnn_path, "r") as gen:
        assert sorted(gen.attrs) == sorted(ref.attrs)
        for k in ref.attrs:
            assert attr_type(gen, k) == attr_type(ref, k), k
        for k in ("backend", "keras_version"):
            assert gen.attrs[k] == ref.attrs[k]
        assert sorted(gen["model_weights"].attrs) == sorted(ref["model_weights"].attrs)
        for k in ref["model_weights"].attrs:
            assert attr_type(gen["model_weights"], k)[:3] == attr_type(ref["model_weights"], k)[:3]
        assert "model_weights" in gen
        assert gen.id.get_create_plist().get_version() == ref.id.get_create_plist().get_version()
        # training_config has the same structure as the fixture's
        assert (sorted(json.loads(gen.attrs["training_config"]))
                == sorted(json.loads(ref.attrs["training_config"])))


@needs_fixture
def test_weights_layout_conventions_match_fixture(ds_cnn_path):
    with h5py.File(FIXTURE, "r") as ref, h5py.File(ds_cnn_path, "r") as gen:
        ref_facts = layout_conventions(ref)
        assert all(ref_facts.values()), ref_facts  # the conventions do describe the real file
        assert layout_conventions(gen) == ref_facts


@needs_fixture
def test_output_quantizer_variables_layout_matches_fixture(ds_cnn_path):
    with h5py.File(FIXTURE, "r") as ref, h5py.File(ds_cnn_path, "r") as gen:
        r = ref["model_weights/re_lu"]
        g = gen["model_weights/conv_0/relu"]
        assert [w.replace("re_lu", "X") for w in r.attrs["weight_names"]] == \
               [w.replace("conv_0/relu", "X") for w in g.attrs["weight_names"]]
        assert "conv_0/relu/output_quantizer/range_max:0" in g
        # per-tensor fixture: scalar; per-axis DS-CNN: one value per channel
        assert r["re_lu/output_quantizer/range_max:0"].shape == ()
        assert g["conv_0/relu/output_quantizer/range_max:0"].shape == (64,)
        assert gen["model_weights/pw_separable_4/global_avg/pw_separable_4/global_avg/"
                   "output_quantizer/range_max:0"].shape == ()


@needs_fixture
def test_config_keys_match_fixture(ds_cnn_path, tmp_path):
    # MaxPool is not in the DS-CNN: take it from a pattern model
    pool_path = str(tmp_path / "pool.h5")
    write_h5(pattern_model("conv2d_maxpool_relu"), pool_path)
    with h5py.File(FIXTURE, "r") as ref, h5py.File(ds_cnn_path, "r") as gen, \
            h5py.File(pool_path, "r") as pool:
        rcfg, gcfg = config_of(ref), config_of(gen)
        assert list(gcfg) == list(rcfg)
        assert list(gcfg["config"]) == list(rcfg["config"])
        rby, gby = layers_by_class(rcfg), layers_by_class(gcfg)
        for k, v in layers_by_class(config_of(pool)).items():
            gby.setdefault(k, v)
        common = set(rby) & set(gby)
        assert {"InputLayer", "Custom>QuantizedConv2D", "Custom>QuantizedReLU",
                "Custom>QuantizedMaxPool2D", "Custom>QuantizedFlatten", "Custom>QuantizedDense",
                "Custom>Dequantizer"} <= common
        for cls in common:
            ref_ly, gen_ly = rby[cls][0], gby[cls][0]
            assert list(gen_ly) == list(ref_ly), cls
            assert list(gen_ly["config"]) == list(ref_ly["config"]), cls
            if "quant_config" in ref_ly["config"]:
                # compare a generated layer with the same OutputQuantizer presence
                has_oq = "output_quantizer" in ref_ly["config"]["quant_config"]
                same = [ly for ly in gby[cls]
                        if ("output_quantizer" in ly["config"]["quant_config"]) == has_oq]
                assert same, cls
                rq, gq = ref_ly["config"]["quant_config"], same[0]["config"]["quant_config"]
                assert list(gq) == list(rq), cls
                if has_oq:
                    assert list(gq["output_quantizer"]) == list(rq["output_quantizer"]), cls
        # inbound node format [[['prev', 0, 0, {}]]]
        conv = gby["Custom>QuantizedConv2D"][0]
        assert conv["inbound_nodes"] == [[["rescaling", 0, 0, {}]]]
        assert gcfg["config"]["input_layers"] == [["input", 0, 0]]
        assert gby["InputLayer"][0]["config"]["dtype"] == "uint8"


# ------------------------------------------------------------------------------------------------
# DS-CNN content (akida-spec §6.1)
# ------------------------------------------------------------------------------------------------

DS_CNN_SHAPES = {
    "conv_0": (25, 5, 64), "dw_separable_1": (25, 5, 64), "pw_separable_1": (25, 5, 64),
    "dw_separable_4": (25, 5, 64), "pw_separable_4": (25, 5, 64),
    "pw_separable_4/global_avg": (64,), "reshape_1": (1, 1, 64), "flatten": (64,),
    "dense_5": (33,),
}

DS_CNN_PARAMS = {
    "rescaling": 0, "conv_0": 1664, "conv_0/relu": 128,
    **{f"dw_separable_{k}": 704 for k in range(1, 5)},
    **{f"pw_separable_{k}": 4160 for k in range(1, 5)},
    **{f"pw_separable_{k}/relu": 128 for k in range(1, 4)},
    "pw_separable_4/relu": 0, "pw_separable_4/global_avg": 2, "reshape_1": 0, "flatten": 0,
    "dense_5": 2145, "dequantizer": 0, "act_softmax": 0,
}


def test_ds_cnn_shapes_match_published_summary():
    shapes = output_shapes(ds_cnn_kws())
    for name, shape in DS_CNN_SHAPES.items():
        assert shapes[name] == shape, name
    # Akida reports the dense output as [1, 1, 33]
    assert (1, 1) + shapes["dense_5"] == (1, 1, 33)


def test_ds_cnn_param_counts_match_published_summary(ds_cnn_path):
    model = ds_cnn_kws()
    for name, n in DS_CNN_PARAMS.items():
        assert param_count(model.layer(name)) == n, name
    assert sum(param_count(ly) for ly in model.layers) == 23779
    # and the file holds exactly these variables (non-trainable = quantizer variables: 1026)
    with h5py.File(ds_cnn_path, "r") as f:
        mw = f["model_weights"]
        total = nontrainable = 0
        for n in mw.attrs["layer_names"]:
            g = mw[n]
            sizes = {w: g[w].size for w in g.attrs["weight_names"]}
            assert sum(sizes.values()) == DS_CNN_PARAMS.get(n, 0), n
            total += sum(sizes.values())
            nontrainable += sum(s for w, s in sizes.items() if "output_quantizer" in w)
        assert (total, nontrainable) == (23779, 1026)


def test_ds_cnn_quant_configs():
    cfg = {ly["name"]: ly for ly in
           __import__("tools.quantizeml_h5", fromlist=["x"]).model_config(ds_cnn_kws())
           ["config"]["layers"]}
    relu = cfg["conv_0/relu"]["config"]
    assert relu["max_value"] == 3.75
    assert relu["quant_config"]["output_quantizer"] == {
        "bitwidth": 8, "signed": True, "axis": "per-axis", "buffer_bitwidth": 32}
    assert "output_quantizer" not in cfg["pw_separable_4/relu"]["config"]["quant_config"]
    dw = cfg["dw_separable_1"]["config"]
    assert dw["use_bias"] is False
    assert dw["quant_config"] == {"output_quantizer": {"bitwidth": 8, "axis": "per-axis",
                                                       "buffer_bitwidth": 32},
                                  "weight_quantizer": {"bitwidth": 8, "axis": -2},
                                  "buffer_bitwidth": 28}
    assert cfg["pw_separable_4/global_avg"]["config"]["quant_config"]["output_quantizer"][
        "axis"] == "per-tensor"
    assert cfg["rescaling"]["class_name"] == "Custom>QuantizedRescaling"
    assert "quant_config" not in cfg["rescaling"]["config"]
    assert cfg["dequantizer"]["inbound_nodes"] == [[["dense_5", 0, 0, {}]]]


def test_ds_cnn_calibration_is_realistic():
    model = ds_cnn_kws()
    holders = [ly for ly in model.layers if ly.output_quantizer is not None]
    assert len(holders) == 9
    for ly in holders:
        rm = ly.quantizer_vars["range_max"]
        rate = ly.quantizer_vars["rescaling_rate"]
        assert rm.dtype == rate.dtype == np.float32 and rm.shape == rate.shape
        assert np.all(rm > 0), f"{ly.name}: dead channel"
        # cross-layer equalization: range_max on the (2^8 - 1) * 2^-k grid
        k = np.log2(255.0 / rm.astype(np.float64))
        assert np.array_equal(k, np.round(k)), ly.name
        # and it is the ideal value of the calibrated range it replaced
        assert np.array_equal(ideal_range_max(rm / rate, 8), rm), ly.name
        assert np.all((rate > 255 / 512) & (rate <= 1.0)), ly.name  # ideal >= rm * 255/512
        assert not np.all(rate == 1.0), ly.name


def test_ideal_range_max_matches_fixture_values():
    # ECG fixture: stored range_max 31.875 with rate 0.89876515 => calibrated 35.466...
    assert ideal_range_max(np.float32(31.875 / 0.89876515), 8) == np.float32(31.875)
    assert ideal_range_max(np.float32(3.984375 / 0.9675044), 8) == np.float32(3.984375)
    assert ideal_range_max(np.float32(0.0), 8) == 0


def test_samples():
    s = kws_like_samples(8, 1000)
    assert s.shape == (8, 49, 10, 1) and s.dtype == np.uint8
    assert s.max() > 150 and s.min() == 0
    assert len({x.tobytes() for x in s}) == 8
    # smooth: neighbouring time frames differ much less than random pixels would
    assert np.abs(np.diff(s.astype(int), axis=1)).mean() < 30


# ------------------------------------------------------------------------------------------------
# determinism and the committed example
# ------------------------------------------------------------------------------------------------

def sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def test_generation_is_deterministic(tmp_path):
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    write_h5(ds_cnn_kws(seed=0), a)
    write_h5(ds_cnn_kws(seed=0), b)
    assert sha(a) == sha(b)
    c = str(tmp_path / "c.h5")
    write_h5(ds_cnn_kws(seed=1), c)
    with h5py.File(a, "r") as fa, h5py.File(c, "r") as fc:
        assert fa.attrs["model_config"] == fc.attrs["model_config"]
        k = "model_weights/conv_0/conv_0/kernel:0"
        assert not np.array_equal(fa[k][()], fc[k][()])


def test_generate_examples_script(tmp_path):
    out = tmp_path / "ex"
    for _ in range(2):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "generate_examples.py"),
                        "--out-dir", str(out)], check=True, capture_output=True)
    h5 = out / "ds_cnn_kws_i8_w8_a8.h5"
    npy = out / "ds_cnn_kws_samples.npy"
    assert h5.stat().st_size < 300 * 1024
    s = np.load(npy)
    assert s.shape == (8, 49, 10, 1) and s.dtype == np.uint8
    # the files of the repository must be the current generator's output
    for name in ("ds_cnn_kws_i8_w8_a8.h5", "ds_cnn_kws_samples.npy"):
        committed = os.path.join(ROOT, "examples", name)
        if os.path.exists(committed):
            assert sha(committed) == sha(str(out / name)), \
                f"examples/{name} is stale: run scripts/generate_examples.py"


# ------------------------------------------------------------------------------------------------
# pattern models
# ------------------------------------------------------------------------------------------------

# Akida 2.0 block patterns (akida-spec §3.3) that the pattern models must contain.
REQUIRED_CHAINS = [
    ("QuantizedConv2D", "QuantizedReLU"),
    ("QuantizedConv2D", "QuantizedMaxPool2D", "QuantizedReLU"),
    ("QuantizedConv2D", "QuantizedReLU", "QuantizedGlobalAveragePooling2D"),
    ("QuantizedConv2D", "QuantizedGlobalAveragePooling2D"),
    ("QuantizedDepthwiseConv2D",),
    ("QuantizedDepthwiseConv2D", "QuantizedReLU"),
    ("QuantizedDepthwiseConv2D", "QuantizedMaxPool2D", "QuantizedReLU"),
    ("QuantizedDense",),
    ("QuantizedDense", "QuantizedReLU"),
    ("QuantizedFlatten", "QuantizedDense"),
    ("QuantizedReshape", "QuantizedDense"),
    ("QuantizedReshape", "QuantizedFlatten", "QuantizedDense"),
    ("QuantizedAdd",),
    ("QuantizedConcatenate",),
    ("Dequantizer",),
]


@pytest.fixture(scope="module")
def pattern_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("patterns")
    subprocess.run([sys.executable, "-m", "tools.quantizeml_h5", "--all", str(d)], cwd=ROOT,
                   check=True, capture_output=True)
    return d


def chains(cfg):
    """All class-name chains along single-inbound edges of a model config."""
    layers = {ly["name"]: ly for ly in cfg["config"]["layers"]}
    out = set()
    for ly in layers.values():
        seq = [ly["class_name"].replace("Custom>", "")]
        out.add(tuple(seq))
        cur = ly
        for _ in range(3):
            nodes = [n for n in layers.values()
                     if any(i[0] == cur["name"] for node in n["inbound_nodes"] for i in node)]
            if len(nodes) != 1:
                break
            cur = nodes[0]
            seq.append(cur["class_name"].replace("Custom>", ""))
            out.add(tuple(seq))
    return out


def test_every_pattern_file_loads_and_is_consistent(pattern_dir):
    files = sorted(os.listdir(pattern_dir))
    assert files == sorted(n + ".h5" for n in pattern_names())
    seen_chains = set()
    for fname in files:
        with h5py.File(os.path.join(pattern_dir, fname), "r") as f:
            cfg = config_of(f)
            defined = set()
            for ly in cfg["config"]["layers"]:
                for node in ly["inbound_nodes"]:
                    for inbound in node:
                        assert inbound[0] in defined, (fname, ly["name"], inbound)
                        assert inbound[1:] == [0, 0, {}]
                defined.add(ly["name"])
            for out in cfg["config"]["output_layers"] + cfg["config"]["input_layers"]:
                assert out[0] in defined
            assert cfg["config"]["layers"][-1]["class_name"] == "Custom>Dequantizer"
            assert all(layout_conventions(f).values()), fname
            # every OutputQuantizer of the config has calibrated variables of the right shape
            mw = f["model_weights"]
            for ly in cfg["config"]["layers"]:
                oq = ly["config"].get("quant_config", {}).get("output_quantizer")
                if oq is None:
                    continue
                n = ly["name"]
                rm = mw[n][f"{n}/output_quantizer/range_max:0"][()]
                rate = mw[n][f"{n}/output_quantizer/rescaling_rate:0"][()]
                assert rm.shape == rate.shape
                assert (rm.ndim == 0) == (oq["axis"] == "per-tensor"), (fname, n)
                assert np.all(rm > 0) and np.all(rate > 0)
            seen_chains |= chains(cfg)
    missing = [c for c in REQUIRED_CHAINS if c not in seen_chains]
    assert not missing


def test_pattern_models_input_blocks():
    models = pattern_models()
    assert len(models) >= 40
    for name, model in models.items():
        first = model.layers[0]
        assert first.class_name == "InputLayer" and first.config["dtype"] == "uint8"
        # the first neural layer sees a 1- or 3-channel image (so it can be an InputConv2D)
        assert first.config["shape"][-1] in (1, 3), name
        assert model.layers[-1].class_name == "Dequantizer"


def test_pattern_output_quantizer_placement():
    m = pattern_model("conv2d_relu_last")
    assert m.layer("stem_relu").output_quantizer["axis"] == "per-axis"
    assert m.layer("conv/relu").output_quantizer is None  # nothing aligned after it
    m = pattern_model("concatenate")
    assert m.layer("concat").output_quantizer is None  # Concatenate cannot hold one
    assert m.layer("conv_a/relu").output_quantizer is not None
    assert m.layer("conv_b/relu").output_quantizer is not None
    m = pattern_model("add")
    assert m.layer("add").output_quantizer == {"bitwidth": 8, "axis": "per-axis",
                                               "buffer_bitwidth": 32}
    # Add works on FixedPoint (no qscales): no cross-layer equalization
    assert np.all(m.layer("add").quantizer_vars["rescaling_rate"] == 1)
    m = pattern_model("input_conv2d_relu_per_tensor")
    assert m.layer("conv/relu").output_quantizer["axis"] == "per-tensor"
    m = pattern_model("dense_flatten")
    assert m.layer("feat/relu").output_quantizer["axis"] == "per-tensor"  # (1, 1, C) is a vector


def test_cli_single_pattern_and_errors(tmp_path):
    out = tmp_path / "p.h5"
    r = subprocess.run([sys.executable, "-m", "tools.quantizeml_h5", "--pattern", "add",
                        "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert config_of(f)["config"]["name"] == "add"
    r = subprocess.run([sys.executable, "-m", "tools.quantizeml_h5", "--pattern", "nope",
                        "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "unknown pattern" in r.stderr
