"""`cnn2snn verify` on every model we have: the converted Akida model, run by the runtime, equals
the reference evaluator (QuantizeML semantics) layer by layer, exactly.

Models: the ECG fixture (small inputs, and full-range inputs that saturate its first ReLU), the
DS-CNN example with its samples, every Keras pattern model (tools.quantizeml_h5) and every ONNX
model (tools.quantizeml_onnx), and the TENNs ONNX fixture. A model that cannot be converted FAILS
here with the converter's error: known gaps are findings, not skips.
"""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

PY = "/usr/bin/python3"
SOURCE = Path(os.environ.get("CNN2SNN_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ.get("CNN2SNN_BIN_DIR", SOURCE / "build" / "bin"))
FIXTURES = SOURCE.parent / "shared" / "fixtures"
ECG = FIXTURES / "h5" / "ecg_i8_w8_a8_quantizeml.h5"
TENNST = FIXTURES / "onnx" / "tennst_int8_quantizeml.onnx"
DS_CNN = SOURCE / "examples" / "ds_cnn_kws_i8_w8_a8.h5"
DS_CNN_SAMPLES = SOURCE / "examples" / "ds_cnn_kws_samples.npy"


def generator_names(module):
    out = subprocess.run([PY, "-m", module, "--list"], cwd=SOURCE, check=True,
                         capture_output=True, text=True).stdout
    return out.split()


H5_PATTERNS = generator_names("tools.quantizeml_h5")
ONNX_MODELS = generator_names("tools.quantizeml_onnx")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Every generated model, written once: {"h5": dir, "onnx": dir}."""
    root = tmp_path_factory.mktemp("generated")
    for module, kind in (("tools.quantizeml_h5", "h5"), ("tools.quantizeml_onnx", "onnx")):
        subprocess.run([PY, "-m", module, "--all", root / kind], cwd=SOURCE, check=True,
                       capture_output=True)
    return root


def verify(model, *args):
    """Runs `cnn2snn verify`; fails with its whole output unless every layer is equal."""
    command = [str(BIN / "cnn2snn"), "verify", "-m", str(model), *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True)
    report = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}:\n{report}")
    assert "all layers equal" in result.stdout, report
    assert "DIFFERENT" not in result.stdout, report
    # Every row but the converter's InputData was compared; the output's top-1 always agrees.
    lines = result.stdout.splitlines()
    rows = [line for line in lines[2:-1] if not line.startswith("top-1 agreement on ")]
    assert rows and all(r.endswith("equal") or "InputData" in r for r in rows), report
    assert lines[-2].startswith("top-1 agreement on ") and lines[-2].endswith("samples (100%)"), report
    return result.stdout


def require(path):
    if not path.is_file():
        pytest.skip(f"fixture {path} is absent (../shared/fixtures not beside the project)")


@pytest.mark.parametrize("args", [("--random", 16, "--max-value", 4), ("--random", 16)],
                         ids=["small_inputs", "full_range"])
def test_ecg_fixture(args):
    require(ECG)
    verify(ECG, *args)


def test_ds_cnn_example_samples():
    out = verify(DS_CNN, "-i", DS_CNN_SAMPLES)
    assert "dense_5" in out and "dequantizer" in out, out


def test_ds_cnn_example_random():
    verify(DS_CNN, "--random", 16, "--seed", 3)


def test_tennst_fixture():
    require(TENNST)
    # Consecutive frames: 8 > the largest FIFO (5), so every FIFO fills and rolls.
    verify(TENNST, "--random", 8, "--seed", 1)


@pytest.mark.parametrize("name", H5_PATTERNS)
def test_keras_pattern(name, generated):
    verify(generated / "h5" / f"{name}.h5", "--random", 8)


@pytest.mark.parametrize("name", ONNX_MODELS)
def test_onnx_model(name, generated):
    verify(generated / "onnx" / f"{name}.onnx", "--random", 8)


def test_run_predict_equals_akida_predict(tmp_path):
    """The quantized model in the evaluator (`cnn2snn run`) and the converted model in the
    runtime (`akida run`) write the same predictions, byte for byte."""
    fbz = tmp_path / "kws.fbz"
    subprocess.run([BIN / "cnn2snn", "convert", "-m", DS_CNN, "-o", fbz], check=True,
                   capture_output=True)
    for tool, model, out in ((BIN / "cnn2snn", DS_CNN, "ref"), (BIN / "akida", fbz, "akida")):
        for extra in ((), ("--forward",)):
            subprocess.run([tool, "run", "-m", model, "-i", DS_CNN_SAMPLES, "-o",
                            tmp_path / f"{out}{''.join(extra)}.npy", *extra],
                           check=True, capture_output=True)
    for suffix in ("", "--forward"):
        ref, akida = (np.load(tmp_path / f"{n}{suffix}.npy") for n in ("ref", "akida"))
        assert ref.dtype == akida.dtype and ref.shape == akida.shape, (ref.shape, akida.shape)
        assert np.array_equal(ref, akida), suffix
    assert np.load(tmp_path / "ref.npy").dtype == np.float32
    assert np.load(tmp_path / "ref--forward.npy").dtype == np.int32


def test_verify_reports_a_difference(tmp_path):
    """verify is not blind: feeding inputs out of the model's range is an error, and a model whose
    evaluator and runtime disagree exits 1 (tested on the library in pipeline_test.cpp); here,
    an input file of the wrong dtype is refused with exit 1 and names the file."""
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 49, 10, 1), np.int8))  # DS-CNN takes uint8
    result = subprocess.run([BIN / "cnn2snn", "verify", "-m", DS_CNN, "-i", bad],
                            capture_output=True, text=True)
    assert result.returncode == 1, result
    assert str(bad) in result.stderr and "uint8" in result.stderr, result.stderr


LEGACY_DS_CNN = SOURCE / "examples" / "ds_cnn_kws_iq8_wq4_aq4_laq1.h5"


def verify_json(model, *args):
    result = subprocess.run([BIN / "cnn2snn", "verify", "-m", model, "--json", *map(str, args)],
                            capture_output=True, text=True)
    return result.returncode, json.loads(result.stdout)


def test_verify_json_all_equal():
    status, report = verify_json(DS_CNN, "-i", DS_CNN_SAMPLES)
    assert status == 0 and report["all_equal"] is True, report
    assert report["target"] == "v2" and report["samples"] == 8
    for layer in report["layers"]:
        assert layer["result"] == "equal", layer
        assert layer["compared_values"] == 8 * np.prod(layer["shape"]), layer
        assert layer["differing_values"] == 0 and layer["max_abs_difference"] == 0, layer
        assert layer["first_difference"] is None
    assert report["output"] == {"layer": "dequantizer", "samples": 8, "top1_agreeing": 8,
                                "top1_agreement": 1.0}


def test_verify_json_quantifies_v1_differences(tmp_path):
    """The legacy DS-CNN converts to Akida 1.0 where not every level boundary can be kept
    (docs/akida-v1.md): verify --json exits 1 and its output row agrees with numpy on the two
    sides' predictions (`cnn2snn run` on the quantized model, `akida run` on the converted one)."""
    samples = tmp_path / "random.npy"
    rng = np.random.default_rng(7)
    np.save(samples, rng.integers(0, 256, (64, 49, 10, 1), dtype=np.uint8))
    status, report = verify_json(LEGACY_DS_CNN, "-i", samples)
    assert status == 1 and report["all_equal"] is False and report["target"] == "v1", report
    fbz = tmp_path / "v1.fbz"
    subprocess.run([BIN / "cnn2snn", "convert", "-m", LEGACY_DS_CNN, "-o", fbz], check=True,
                   capture_output=True)
    subprocess.run([BIN / "cnn2snn", "run", "-m", LEGACY_DS_CNN, "-i", samples, "-o",
                    tmp_path / "ref.npy"], check=True, capture_output=True)
    subprocess.run([BIN / "akida", "run", "-m", fbz, "-i", samples, "-o", tmp_path / "ak.npy"],
                   check=True, capture_output=True)
    ref = np.load(tmp_path / "ref.npy").reshape(64, -1)
    ak = np.load(tmp_path / "ak.npy").reshape(64, -1)
    out = report["layers"][-1]
    assert report["output"]["layer"] == out["layer"] == "dense_5/dequantizer", report["output"]
    assert out["compared_values"] == ref.size
    assert out["differing_values"] == int(np.count_nonzero(ref != ak))
    assert out["max_abs_difference"] == pytest.approx(float(np.abs(ak.astype(np.float64) - ref).max()))
    agreeing = int(np.count_nonzero(ref.argmax(axis=1) == ak.argmax(axis=1)))
    assert report["output"]["top1_agreeing"] == agreeing
    assert report["output"]["top1_agreement"] == pytest.approx(agreeing / 64)
    for layer in report["layers"]:
        if layer["result"] == "different" and layer["first_difference"]:
            assert 0 < layer["differing_values"] <= layer["compared_values"], layer
            assert layer["differing_fraction"] == pytest.approx(
                layer["differing_values"] / layer["compared_values"])
    # The text report says the same.
    text = subprocess.run([BIN / "cnn2snn", "verify", "-m", LEGACY_DS_CNN, "-i", samples],
                          capture_output=True, text=True).stdout
    assert f"top-1 agreement on dense_5/dequantizer: {agreeing} of 64 samples" in text, text
    assert f"{out['differing_values']} of {out['compared_values']}" in text, text
