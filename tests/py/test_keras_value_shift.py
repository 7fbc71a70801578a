"""The value/shift pairs `cnn2snn convert` writes for QuantizeML Keras models are the ones
BrainChip's cnn2snn 2.19 writes: bias >> bias_shift and max_value >> max_value_shift with the
quantizer's own shift (AlignedWeightQuantizer), input_shift, output_scales/output_shift,
a_shift/b_shift. Expected values come from quantizeml_akida_variables.py, an independent numpy
derivation from the .h5 alone (QuantizeML's and CNN2SNN's rules, not the C++ front end).

Models: the real ECG fixture (skipped when ../shared/fixtures is absent), the DS-CNN example and
every Keras pattern model of tools.quantizeml_h5.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quantizeml_akida_variables import variables  # noqa: E402

PY = "/usr/bin/python3"
SOURCE = Path(os.environ.get("CNN2SNN_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ.get("CNN2SNN_BIN_DIR", SOURCE / "build" / "bin"))
ECG = SOURCE.parent / "shared" / "fixtures" / "h5" / "ecg_i8_w8_a8_quantizeml.h5"
DS_CNN = SOURCE / "examples" / "ds_cnn_kws_i8_w8_a8.h5"
PATTERNS = subprocess.run([PY, "-m", "tools.quantizeml_h5", "--list"], cwd=SOURCE, check=True,
                          capture_output=True, text=True).stdout.split()


@pytest.fixture(scope="module")
def patterns_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("patterns")
    subprocess.run([PY, "-m", "tools.quantizeml_h5", "--all", root], cwd=SOURCE, check=True,
                   capture_output=True)
    return root


def converted_variables(model, tmp_path):
    fbz = tmp_path / "model.fbz"
    subprocess.run([BIN / "cnn2snn", "convert", "-m", model, "-o", fbz], check=True,
                   capture_output=True, env={**os.environ, "CNN2SNN_TARGET_AKIDA_VERSION": "v2"})
    dump = json.loads(subprocess.run([BIN / "akida", "dump", fbz, "--json"], check=True,
                                     capture_output=True, text=True).stdout)
    return {layer["name"]: {k: np.array(v["values"]).reshape(v["shape"])
                            for k, v in layer.get("variables", {}).items()}
            for layer in dump["layers"]}


def check_model(model, tmp_path):
    """Every variable the reference derives equals the converted model's; returns both."""
    expected = variables(str(model))
    actual = converted_variables(model, tmp_path)
    compared = 0
    for layer, values in expected.items():
        assert layer in actual, f"{model}: no Akida layer {layer}"
        for name, value in values.items():
            assert name in actual[layer], f"{model}: {layer} has no variable {name}"
            got = actual[layer][name]
            want = np.broadcast_to(value, got.shape)
            mismatch = np.nonzero(got != want)[0]
            assert mismatch.size == 0, (
                f"{model}: {layer}.{name}[{mismatch[0]}] is {got[mismatch[0]]}, BrainChip's rule "
                f"gives {want[mismatch[0]]} ({mismatch.size} of {got.size} differ)")
            compared += 1
    assert compared > 0, f"{model}: nothing compared"
    return expected, actual


def test_ecg_fixture(tmp_path):
    if not ECG.is_file():
        pytest.skip(f"fixture {ECG} is absent (../shared/fixtures not beside the project)")
    expected, actual = check_model(ECG, tmp_path)
    # The case that was wrong: the smallest split would be -64 << 10; QuantizeML's bias quantizer
    # kept 8 bits (-128) and shifted by 9, and that is what BrainChip stores.
    assert expected["dense"]["bias"][90] == -128 and expected["dense"]["bias_shift"][90] == 9
    assert actual["dense"]["bias"][90] == -128 and actual["dense"]["bias_shift"][90] == 9
    for layer in ("conv2d", "conv2d_1", "conv2d_2", "dense", "dense_1"):
        assert {"bias", "bias_shift"} <= expected[layer].keys(), layer
    for layer in ("conv2d", "conv2d_1", "conv2d_2", "dense"):
        assert {"output_scales", "output_shift"} <= expected[layer].keys(), layer


def test_ds_cnn_example(tmp_path):
    expected, _ = check_model(DS_CNN, tmp_path)
    # Bounded ReLUs (max_value 3.75), and per-axis outputs of the depthwise layers shifted into
    # the pointwise ones.
    assert "max_value_shift" in expected["conv_0"]
    assert any(np.any(v.get("input_shift", 0) != 0) for v in expected.values())


@pytest.mark.parametrize("name", PATTERNS)
def test_keras_pattern(name, patterns_dir, tmp_path):
    check_model(patterns_dir / f"{name}.h5", tmp_path)


def test_add_shifts_are_compared(patterns_dir):
    expected = variables(str(patterns_dir / "add_two_branches.h5"))
    assert {"a_shift", "b_shift"} <= expected["add"].keys()
