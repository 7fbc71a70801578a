"""The main job (examples/fashion_mnist_main.py) end to end on a subset of the test set: the
quantizer, the converter, the reference evaluator and the Akida runtime on the real trained model
and real images. The job itself fails when the Akida integers differ from the quantized model's;
here its accuracy must also stay close to float, and its float accuracy must be onnxruntime's.
(The whole 10,000 images run in scripts/demo.sh.)
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SOURCE = Path(os.environ.get("CNN2SNN_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ.get("CNN2SNN_BIN_DIR", SOURCE / "build" / "bin"))
PYTHON_DIR = BIN.parent / "python"
EXAMPLES = SOURCE / "examples"
JOB = EXAMPLES / "fashion_mnist_main.py"
MODEL = EXAMPLES / "fashion_mnist_cnn.onnx"
ORACLE = SOURCE / "tests" / "onnx_oracle"
IMAGES = 1000

sys.path.insert(0, str(EXAMPLES))
import fashion_mnist  # noqa: E402


def job_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PYTHON_DIR)
    if os.environ.get("CNN2SNN_ASAN_PRELOAD"):
        # scripts/test.sh --sanitize: the job imports the instrumented native module into an
        # uninstrumented interpreter, which must preload the sanitizer runtime (no leak checks
        # for the interpreter's own allocations).
        env["LD_PRELOAD"] = os.environ["CNN2SNN_ASAN_PRELOAD"]
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    return env


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    if not fashion_mnist.available():
        pytest.skip(f"Fashion-MNIST is absent from {fashion_mnist.data_dir()} "
                    f"(Debian package {fashion_mnist.DEBIAN_PACKAGE}, installed by scripts/setup.sh)")
    if not list(PYTHON_DIR.glob("_cnn2snn_native*.so")):
        pytest.skip(f"the Python package is not built in {PYTHON_DIR}")
    if not (SOURCE / "python" / "quantizeml").is_dir():
        pytest.skip("the quantizer (python/quantizeml) is not in this tree yet")
    out = tmp_path_factory.mktemp("main_job")
    # 8-bit and 4-bit, calibrated on fewer images than the job's default to stay fast.
    command = [sys.executable, JOB, "--out", out, "--limit", str(IMAGES), "--calibration", "256",
               "--bits", "8/8/8", "8/4/4", "--max-drop", "1.5"]
    result = subprocess.run(command, env=job_env(), capture_output=True, text=True)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    with open(out / "results.json") as f:
        return out, json.load(f), result.stdout


def test_akida_equals_the_quantized_model(job):
    _, results, stdout = job
    # The job compares every integer output and exits 1 on any difference; it says so per model.
    line = (f"Akida 2.0 == quantized model, integer for integer: {IMAGES * 10} outputs of "
            f"{IMAGES} test images")
    assert stdout.count(line) == 2, stdout
    for r in results["configurations"]:
        assert r["akida_accuracy"] == r["quantized_accuracy"]
        assert r["akida_agreement"] == r["quantized_agreement"]


def test_quantized_accuracy_tracks_float(job):
    _, results, _ = job
    assert results["test_images"] == IMAGES and results["calibration_images"] == 256
    assert results["float_accuracy"] > 0.85
    eight, four = results["configurations"]
    # 8-bit: within 1.5 points on 1000 images (the job checks it: --max-drop), and nearly always
    # float's class.
    assert results["float_accuracy"] - eight["quantized_accuracy"] <= 0.015
    assert eight["quantized_agreement"] >= 0.98
    # 4-bit loses more (post-training quantization), but must still track float (10 classes:
    # chance is 10%).
    assert four["quantized_accuracy"] > 0.80 and four["quantized_agreement"] > 0.85


def test_outputs_are_written(job):
    out, results, _ = job
    counts = np.array(results["confusion_matrix"])
    assert counts.shape == (10, 10) and counts.sum() == IMAGES
    assert np.trace(counts) / IMAGES == results["configurations"][0]["akida_accuracy"]
    png = (out / "confusion_matrix.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    for r in results["configurations"]:
        assert Path(r["quantized_model"]).is_file() and Path(r["akida_model"]).is_file()


def test_float_accuracy_is_onnxruntime_s(job, tmp_path):
    """The float accuracy the job prints (the quantizer's float evaluator) is the accuracy of
    onnxruntime running the same model on the same images (one image either way for rounding)."""
    _, results, _ = job
    if shutil.which("node") is None or not (ORACLE / "run_float.mjs").is_file() or not (
            ORACLE / "node_modules" / "onnxruntime-node").is_dir():
        pytest.skip("onnxruntime-node (tests/onnx_oracle, bash scripts/setup.sh) is not installed")
    images, labels = fashion_mnist.load("test")
    np.save(tmp_path / "in.npy", images[:IMAGES, None].astype(np.float32))
    subprocess.run(["node", ORACLE / "run_float.mjs", MODEL, tmp_path / "in.npy",
                    tmp_path / "out.npy"], check=True, capture_output=True)
    accuracy = np.mean(np.load(tmp_path / "out.npy").argmax(1) == labels[:IMAGES])
    assert abs(accuracy - results["float_accuracy"]) <= 1 / IMAGES


def run_job_in_process(monkeypatch, out, *args):
    """main() of the job in this process (so that a test can patch what it calls)."""
    monkeypatch.syspath_prepend(str(PYTHON_DIR))
    import fashion_mnist_main
    return fashion_mnist_main.main(["--out", str(out), "--limit", "50", "--calibration", "64",
                                    "--bits", "8/8/8", *args])


# The job run inside this interpreter (monkeypatched), which under scripts/test.sh --sanitize did
# not preload the sanitizer runtime the instrumented native module needs.
in_process = pytest.mark.skipif(
    bool(os.environ.get("CNN2SNN_ASAN_PRELOAD")) and "libasan" not in os.environ.get("LD_PRELOAD", ""),
    reason="the instrumented native module needs the sanitizer runtime preloaded")


@in_process
def test_a_differing_integer_stops_the_job(job, monkeypatch, tmp_path):
    """One Akida integer changed: the job stops with the image and output that differ."""
    run_job_in_process(monkeypatch, tmp_path)  # the unpatched job passes
    import akida
    forward = akida.Model.forward

    def off_by_one(self, inputs, *args, **kwargs):
        outputs = forward(self, inputs, *args, **kwargs).copy()
        outputs.reshape(len(outputs), -1)[3, 7] += 1
        return outputs

    monkeypatch.setattr(akida.Model, "forward", off_by_one)
    with pytest.raises(SystemExit) as e:
        run_job_in_process(monkeypatch, tmp_path)
    assert str(e.value).startswith("FAILED: the Akida model's integers differ from the quantized "
                                   "model's (i8_w8_a8): test image 3, output 7: Akida "), e.value


@in_process
def test_an_accuracy_drop_fails_the_job(job, monkeypatch, tmp_path, capsys):
    assert run_job_in_process(monkeypatch, tmp_path, "--max-drop", "-100") == 1
    assert "FAILED: i8_w8_a8 is " in capsys.readouterr().err
