"""Legacy CNN2SNN models: the C++ front end + reference evaluator (`cnn2snn run --forward`) give,
for every quantized activation, exactly the levels of the Keras model as the generator's own
numpy forward pass computes it (tools/quantizeml_h5/legacy.py `forward`, float64, written from
cnn2snn's quantization_ops / quantization_layers): an independent reference.

Each model is cut after each of its activations (the cut model is written as a legacy .h5 whose
last block is that activation), so every activation of every pattern model is compared, and so
is every activation of the DS-CNN v1 example.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SOURCE = Path(os.environ.get("CNN2SNN_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ.get("CNN2SNN_BIN_DIR", SOURCE / "build" / "bin"))
sys.path.insert(0, str(SOURCE))

from tools.quantizeml_h5 import legacy as lg  # noqa: E402
from tools.quantizeml_h5.zoo_v1 import ds_cnn_kws_v1  # noqa: E402


def cut_after(model, name):
    """The model up to layer `name` (its output)."""
    layers = []
    for ly in model.layers:
        layers.append(ly)
        if ly.name == name:
            break
    return lg.LegacyModel(model.name, layers, [name], model.sequential)


def uint8_inputs(shape, n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n,) + tuple(shape), dtype=np.uint8)


def compare_activations(model, tmp_path, samples=16, seed=0):
    """Every activation's levels: evaluator == numpy reference. Returns the values compared."""
    input_shape = model.layers[0].config["shape"]
    x = uint8_inputs(input_shape, samples, seed)
    reference = lg.forward(model, x.astype(np.float64))
    np.save(tmp_path / "in.npy", x)
    compared = 0
    for ly in model.layers:
        if ly.class_name not in lg.ACTIVATIONS:
            continue
        path = tmp_path / f"{ly.name.replace('/', '_')}.h5"
        lg.write_legacy_h5(cut_after(model, ly.name), str(path))
        out = tmp_path / "out.npy"
        result = subprocess.run([str(BIN / "cnn2snn"), "run", "-m", str(path), "-i",
                                 str(tmp_path / "in.npy"), "-o", str(out), "--forward"],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        got = np.load(out)
        want = np.rint(reference[ly.name] / lg.activation_step(ly)).astype(np.int64)
        assert got.shape == want.shape or got.size == want.size, (ly.name, got.shape, want.shape)
        got = got.reshape(want.shape)
        differ = np.argwhere(got != want)
        assert differ.size == 0, (
            f"{ly.name}: {len(differ)} of {want.size} levels differ, first at {differ[0]}: "
            f"evaluator {got[tuple(differ[0])]}, reference {want[tuple(differ[0])]}")
        compared += want.size
    return compared


@pytest.mark.parametrize("name", lg.legacy_pattern_names())
def test_pattern_model_activations(name, tmp_path):
    model = lg.legacy_pattern_model(name)
    if not any(ly.class_name in lg.ACTIVATIONS for ly in model.layers):
        pytest.skip("no activation")
    assert compare_activations(model, tmp_path) > 0


def test_ds_cnn_v1_activations(tmp_path):
    model = ds_cnn_kws_v1(seed=0)
    assert compare_activations(model, tmp_path, samples=4) > 0
