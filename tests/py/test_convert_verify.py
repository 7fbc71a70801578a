"""`cnn2snn verify` on every model we have: the converted Akida model, run by the runtime, equals
the reference evaluator (QuantizeML semantics) layer by layer, exactly.

Models: the ECG fixture (small inputs, and full-range inputs that saturate its first ReLU), the
DS-CNN example with its samples, every Keras pattern model (tools.quantizeml_h5) and every ONNX
model (tools.quantizeml_onnx), and the TENNs ONNX fixture. A model that cannot be converted FAILS
here with the converter's error: known gaps are findings, not skips.
"""
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
    # Every row but the converter's InputData was compared.
    rows = [line for line in result.stdout.splitlines()[2:-1]]
    assert rows and all(r.endswith("equal") or "InputData" in r for r in rows), report
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
