"""cnn2snn.QuantizedModel.forward / predict: the quantized model run by the reference evaluator
from Python. Checked against the `cnn2snn run` command on the same .npy file (the same
integers and floats), and against the converted model run by the Akida runtime (an independent
implementation that must equal the evaluator integer for integer)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import akida
import cnn2snn
from conftest import EXAMPLES, SOURCE_DIR, run_tool

DS_CNN = os.path.join(EXAMPLES, "ds_cnn_kws_i8_w8_a8.h5")
DS_CNN_SAMPLES = os.path.join(EXAMPLES, "ds_cnn_kws_samples.npy")


def generated_onnx(name, directory):
    """A QuantizeML-style ONNX test model written by tools.quantizeml_onnx."""
    path = os.path.join(directory, name + ".onnx")
    subprocess.run([sys.executable, "-m", "tools.quantizeml_onnx", "--model", name, "-o", path],
                   cwd=SOURCE_DIR, check=True, capture_output=True)
    return path


def cli_run(model, inputs, tmp_path, *flags):
    np.save(tmp_path / "in.npy", inputs)
    code, _, err = run_tool("cnn2snn", "run", "-m", model, "-i", str(tmp_path / "in.npy"),
                            "-o", str(tmp_path / "out.npy"), *flags)
    assert code == 0, err
    return np.load(tmp_path / "out.npy")


def uint8_inputs(model, n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *model.input_shape), dtype=np.uint8)


def test_forward_and_predict_equal_the_cli_and_the_akida_runtime(tmp_path):
    model = cnn2snn.load_quantized_model(DS_CNN)
    inputs = np.load(DS_CNN_SAMPLES)
    forward = model.forward(inputs)
    assert forward.dtype == np.int32 and forward.shape[0] == len(inputs)
    np.testing.assert_array_equal(forward, cli_run(DS_CNN, inputs, tmp_path, "--forward"))
    predict = model.predict(inputs)
    assert predict.dtype == np.float32
    np.testing.assert_array_equal(predict, cli_run(DS_CNN, inputs, tmp_path))
    akida_model = cnn2snn.convert(model)
    np.testing.assert_array_equal(forward, akida_model.forward(inputs))
    np.testing.assert_array_equal(predict, akida_model.predict(inputs))


def test_onnx_uint8_and_float_inputs(tmp_path):
    path = generated_onnx("input_conv_maxpool", tmp_path)
    model = cnn2snn.load_quantized_model(path)
    integers = uint8_inputs(model, 6)
    forward = model.forward(integers)
    np.testing.assert_array_equal(forward, cli_run(path, integers, tmp_path, "--forward"))
    np.testing.assert_array_equal(forward, cnn2snn.convert(model).forward(integers))
    # Float inputs, channels first as the ONNX model declares them, go through its InputQuantizer.
    floats = np.random.default_rng(1).uniform(-1, 300, (6, 1, 12, 12)).astype(np.float32)
    np.testing.assert_array_equal(model.forward(floats),
                                  cli_run(path, floats, tmp_path, "--forward"))
    np.testing.assert_array_equal(model.predict(floats), cli_run(path, floats, tmp_path))


def test_forward_and_predict_in_one_pass(tmp_path):
    for path in (DS_CNN, generated_onnx("conv_gap_dense", tmp_path)):
        model = cnn2snn.load_quantized_model(path)
        inputs = (np.load(DS_CNN_SAMPLES) if path == DS_CNN else
                  np.random.default_rng(2).integers(-128, 128, (5, *model.input_shape),
                                                    dtype=np.int8))
        integers, floats = model.forward_and_predict(inputs)
        np.testing.assert_array_equal(integers, model.forward(inputs))
        np.testing.assert_array_equal(floats, model.predict(inputs))
        assert integers.dtype == np.int32 and floats.dtype == np.float32


def test_calls_do_not_depend_on_each_other():
    model = cnn2snn.load_quantized_model(DS_CNN)
    inputs = np.load(DS_CNN_SAMPLES)
    whole = model.forward(inputs)
    parts = np.concatenate([model.forward(inputs[:3]), model.forward(inputs[3:])])
    np.testing.assert_array_equal(whole, parts)


def test_bad_inputs_raise_the_cli_messages(tmp_path):
    model = cnn2snn.load_quantized_model(DS_CNN)
    inputs = np.load(DS_CNN_SAMPLES)
    with pytest.raises(akida.ShapeError,
                       match=r"^inputs: input dtype is float64, the model expects uint8$"):
        model.forward(inputs.astype(np.float64))
    with pytest.raises(akida.ShapeError,
                       match=r"^inputs: input dtype is int8, the model expects uint8$"):
        model.predict(inputs.astype(np.int8))
    with pytest.raises(akida.ShapeError, match=r"^inputs: .*shape"):
        model.forward(inputs[:, :10])
    onnx_model = cnn2snn.load_quantized_model(generated_onnx("input_conv_maxpool", tmp_path))
    with pytest.raises(akida.ShapeError, match=r"float32 for its InputQuantizer"):
        onnx_model.forward(uint8_inputs(onnx_model, 2).astype(np.int32))
    with pytest.raises(akida.ShapeError, match=r"^inputs: input shape \(2, 12, 12, 1\) does not "
                                               r"fit the model, expected \(N, 1, 12, 12\)"):
        onnx_model.forward(np.zeros((2, 12, 12, 1), np.float32))
