"""The quantizeml package: QuantizeML's quantize() / QuantizationParams for float ONNX models,
on an onnx.ModelProto or a path, returning an onnx.ModelProto that cnn2snn.convert takes; the
same bytes as the `quantizeml quantize` command; run_float() as `quantizeml run`; errors."""

import inspect
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest

import cnn2snn
import quantizeml
from conftest import SOURCE_DIR, tool
from quantizeml.models import QuantizationParams, calibrate, quantize, run_float

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "py"))
import float_models  # noqa: E402

TORCH_CNN = os.path.join(SOURCE_DIR, "tests", "data", "torch", "torch_cnn.onnx")


@pytest.fixture(scope="module")
def samples():
    return np.random.default_rng(4).uniform(0, 1, (24, 1, 28, 28)).astype(np.float32)


def test_signatures_follow_quantizeml():
    parameters = inspect.signature(quantize).parameters
    assert list(parameters)[:5] == ["model", "qparams", "samples", "num_samples", "batch_size"]
    assert parameters["num_samples"].default == 1024 and parameters["samples"].default is None
    assert parameters["batch_size"].default is None
    q = QuantizationParams(input_weight_bits=8, weight_bits=4, activation_bits=4)
    assert (q.input_weight_bits, q.weight_bits, q.activation_bits) == (8, 4, 4)
    assert QuantizationParams().input_dtype == np.uint8 and quantizeml.quantize is quantize


def test_quantize_returns_a_model_cnn2snn_converts(samples, tmp_path):
    model = onnx.load(TORCH_CNN)
    quantized = quantize(model, samples=samples)
    assert isinstance(quantized, onnx.ModelProto)
    assert [n.op_type for n in quantized.graph.node][0] == "InputQuantizer"
    akida_model = cnn2snn.convert(quantized)
    assert [layer.parameters.layer_type for layer in akida_model.layers] == \
        ["InputConv2D", "Conv2D", "Dense1D", "Dequantizer"]
    # A path gives the same model, and so does the command line.
    assert quantize(TORCH_CNN, samples=samples).SerializeToString() == quantized.SerializeToString()
    np.save(tmp_path / "samples.npy", samples)
    out = tmp_path / "cli.onnx"
    result = subprocess.run([tool("quantizeml"), "quantize", "-m", TORCH_CNN, "-sa",
                             str(tmp_path / "samples.npy"), "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == quantized.SerializeToString()


def test_four_bits_and_batch_size(samples):
    model = onnx.load(TORCH_CNN)
    q4 = quantize(model, QuantizationParams(weight_bits=4, activation_bits=4), samples=samples)
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in q4.graph.initializer
               if t.name.endswith("_Wi")}
    first = q4.graph.node[1].name
    assert np.abs(weights[first + "_Wi"]).max() == 127  # -i 8: the input layer stays 8-bit
    assert all(np.abs(w).max() == 7 for name, w in weights.items() if not name.startswith(first))
    # The ranges, hence the model, do not depend on the calibration batch size.
    assert quantize(model, samples=samples, batch_size=5).SerializeToString() == \
        quantize(model, samples=samples).SerializeToString()


def test_random_samples_when_none_are_given():
    model = onnx.load(TORCH_CNN)
    a = quantize(model, num_samples=16)
    b = quantize(model, num_samples=16)
    assert a.SerializeToString() == b.SerializeToString()  # seeded
    ranges = calibrate(model, num_samples=16)
    assert all(lo.dtype == np.float32 and lo.shape == hi.shape for lo, hi in ranges.values())


def test_run_float_matches_the_command(samples, tmp_path):
    out = run_float(TORCH_CNN, samples)
    assert out.dtype == np.float32 and out.shape == (len(samples), 10)
    np.save(tmp_path / "in.npy", samples)
    result = subprocess.run([tool("quantizeml"), "run", "-m", TORCH_CNN, "-i", str(tmp_path / "in.npy"),
                             "-o", str(tmp_path / "out.npy")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), out)


def test_errors():
    with pytest.raises(ValueError, match="weight_bits must be 4 or 8"):
        QuantizationParams(weight_bits=2)
    with pytest.raises(ValueError, match="output_bits"):
        QuantizationParams(output_bits=16)
    with pytest.raises(NotImplementedError, match="quantize_until"):
        quantize(onnx.load(TORCH_CNN), quantize_until="x")
    with pytest.raises(FileNotFoundError):
        quantize("missing.onnx")
    with pytest.raises(TypeError):
        quantize(42)
    with pytest.raises(quantizeml.ShapeError, match=r"expected \(N, 1, 28, 28\)"):
        quantize(TORCH_CNN, samples=np.zeros((2, 28, 28, 1), np.float32))
    with pytest.raises(quantizeml.UnsupportedError) as error:
        quantize(float_models.build("unsupported"), num_samples=4)
    assert "4 nodes cannot be quantized" in str(error.value)
    assert isinstance(error.value, NotImplementedError)  # akida's errors are Python's too
