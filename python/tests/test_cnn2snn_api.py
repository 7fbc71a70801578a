"""cnn2snn's Python API: target versions, convert() on every kind of model argument (compared
with the `cnn2snn convert` command byte for byte), file_path handling, compatibility checks, and
akida_models' bundled examples."""

import os
import subprocess
import sys
import types

import numpy as np
import pytest

import akida
import akida_models
import cnn2snn
from cnn2snn import AkidaVersion, convert, get_akida_version, set_akida_version
from conftest import EXAMPLES, FIXTURES, SOURCE_DIR, cli_error, run_tool, tool

VARIABLE = "CNN2SNN_TARGET_AKIDA_VERSION"
DS_CNN = os.path.join(EXAMPLES, "ds_cnn_kws_i8_w8_a8.h5")
TENNST_ONNX = os.path.join(FIXTURES, "onnx", "tennst_int8_quantizeml.onnx")


@pytest.fixture(autouse=True)
def clean_version(monkeypatch):
    monkeypatch.delenv(VARIABLE, raising=False)


def cli_convert(model, out, env=None):
    result = subprocess.run([tool("cnn2snn"), "convert", "-m", model, "-o", str(out)],
                            capture_output=True, text=True, env=env)
    return result.returncode, result.stderr


# ---- target version -------------------------------------------------------------------------

def test_version_defaults_to_v2_and_reads_the_environment(monkeypatch):
    assert get_akida_version() is AkidaVersion.v2
    monkeypatch.setenv(VARIABLE, "v1")
    assert get_akida_version() is AkidaVersion.v1
    monkeypatch.setenv(VARIABLE, "")  # empty means unset, as for the C++ library and the CLI
    assert get_akida_version() is AkidaVersion.v2
    assert AkidaVersion("v1") is AkidaVersion.v1 and AkidaVersion.v2.value == "v2"


def test_bad_version_raises_the_exact_message(monkeypatch, tmp_path):
    monkeypatch.setenv(VARIABLE, "v3")
    with pytest.raises(ValueError) as e:
        get_akida_version()
    assert str(e.value) == "CNN2SNN_TARGET_AKIDA_VERSION=v3 must be one of ['v1', 'v2']"
    with pytest.raises(ValueError) as converting:
        convert(DS_CNN)
    assert str(converting.value) == str(e.value)
    # The command says the same, after the name of the file it was converting.
    code, err = cli_convert(DS_CNN, tmp_path / "m.fbz", env=dict(os.environ))
    assert code == 1
    assert cli_error(err, "cnn2snn: error: ") == f"{DS_CNN}: {e.value}"


def test_set_akida_version_sets_and_restores(monkeypatch):
    with set_akida_version(AkidaVersion.v1):
        assert os.environ[VARIABLE] == "v1"
        assert get_akida_version() is AkidaVersion.v1
        with set_akida_version(AkidaVersion.v2):
            assert get_akida_version() is AkidaVersion.v2
        assert get_akida_version() is AkidaVersion.v1
    assert VARIABLE not in os.environ  # absent before, absent after
    monkeypatch.setenv(VARIABLE, "v2")
    with set_akida_version(AkidaVersion.v1):
        pass
    assert os.environ[VARIABLE] == "v2"


def test_set_akida_version_restores_on_exception(monkeypatch):
    with pytest.raises(KeyError):
        with set_akida_version(AkidaVersion.v1):
            raise KeyError("boom")
    assert VARIABLE not in os.environ
    monkeypatch.setenv(VARIABLE, "v2")
    with pytest.raises(RuntimeError):
        with set_akida_version(AkidaVersion.v1):
            raise RuntimeError("boom")
    assert os.environ[VARIABLE] == "v2"


def test_set_akida_version_asserts_its_argument():
    with pytest.raises(AssertionError):
        with set_akida_version("v1"):
            pass
    assert VARIABLE not in os.environ


# ---- convert --------------------------------------------------------------------------------

def test_convert_equals_the_cli_byte_for_byte(tmp_path):
    code, err = cli_convert(DS_CNN, tmp_path / "cli.fbz")
    assert code == 0, err
    expected = (tmp_path / "cli.fbz").read_bytes()
    from_path = convert(DS_CNN)
    assert from_path.to_buffer() == expected
    from_quantized = convert(cnn2snn.load_quantized_model(DS_CNN))
    assert from_quantized.to_buffer() == expected
    import pathlib
    assert convert(pathlib.Path(DS_CNN)).to_buffer() == expected


def test_converted_model_runs_the_bundled_samples(tmp_path):
    samples = np.load(os.path.join(EXAMPLES, "ds_cnn_kws_samples.npy"))
    model = convert(DS_CNN, file_path=tmp_path / "ds_cnn")
    code, _, err = run_tool("akida", "run", "-m", str(tmp_path / "ds_cnn.fbz"),
                            "-i", os.path.join(EXAMPLES, "ds_cnn_kws_samples.npy"),
                            "-o", str(tmp_path / "out.npy"))
    assert code == 0, err
    assert np.array_equal(model.predict(samples), np.load(tmp_path / "out.npy"))
    assert model.predict_classes(samples).shape == (samples.shape[0],)


def test_file_path_appends_fbz_and_creates_directories(tmp_path):
    model = convert(DS_CNN, file_path=tmp_path / "a" / "b" / "kws")
    saved = tmp_path / "a" / "b" / "kws.fbz"
    assert saved.read_bytes() == model.to_buffer()
    convert(DS_CNN, file_path=str(tmp_path / "kws.model"))  # an extension is kept
    assert (tmp_path / "kws.model").read_bytes() == model.to_buffer()
    assert akida.Model(str(saved)).to_buffer() == model.to_buffer()


def test_input_scaling_is_ignored_with_a_warning():
    with pytest.warns(UserWarning, match="Cannot use input_scaling parameter"):
        model = convert(DS_CNN, input_scaling=(2, 0))
    assert model.to_buffer() == convert(DS_CNN).to_buffer()


def test_input_scaling_applies_to_legacy_models(tmp_path):
    # The legacy DS-CNN has a Rescaling layer: cnn2snn refuses a second input scaling.
    legacy_ds_cnn = os.path.join(os.path.dirname(DS_CNN), "ds_cnn_kws_iq8_wq4_aq4_laq1.h5")
    with pytest.raises(Exception, match="If a Rescaling layer is present"):
        convert(legacy_ds_cnn, input_scaling=(2, 0))
    # Without one, the scale enters the thresholds and the shift the InputConvolutional padding.
    subprocess.run(["/usr/bin/python3", "-m", "tools.quantizeml_h5", "--legacy-pattern",
                    "input_conv_relu", "-o", str(tmp_path / "m.h5")],
                   cwd=os.path.dirname(EXAMPLES), check=True, capture_output=True)
    plain = convert(str(tmp_path / "m.h5"))
    scaled = convert(str(tmp_path / "m.h5"), input_scaling=(2, 3))
    assert plain.ip_version == scaled.ip_version == akida.IpVersion.v1
    conv = {layer.name: layer for layer in scaled.layers}["conv"]
    assert conv.parameters.padding_value == 3
    assert plain.to_buffer() != scaled.to_buffer()


def test_onnx_model_proto_converts_like_its_file(tmp_path):
    onnx = pytest.importorskip("onnx")
    if not os.path.isfile(TENNST_ONNX):
        pytest.skip(f"{TENNST_ONNX} is absent")
    from_file = convert(TENNST_ONNX)
    from_proto = convert(onnx.load(TENNST_ONNX))
    assert from_proto.to_buffer() == from_file.to_buffer()
    code, err = cli_convert(TENNST_ONNX, tmp_path / "tennst.fbz")
    assert code == 0, err
    assert from_file.to_buffer() == (tmp_path / "tennst.fbz").read_bytes()
    assert cnn2snn.load_quantized_model(TENNST_ONNX).format == "onnx"


def fake_keras_model():
    # An object that looks like a tf_keras model by its type's module, as convert() recognises one.
    cls = type("Functional", (), {"__module__": "tf_keras.src.engine.functional",
                                  "save": lambda self, path: None})
    return cls()


def test_keras_model_objects_need_tensorflow():
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("TensorFlow is importable here: the error branch cannot be reached")
    with pytest.raises(ImportError, match="needs TensorFlow.*save the model as .h5"):
        convert(fake_keras_model())


def test_other_arguments_are_refused():
    with pytest.raises(TypeError, match="not int"):
        convert(42)
    with pytest.raises(FileNotFoundError, match="absent.h5: no such file"):
        convert("absent.h5")


def test_errors_are_the_cli_errors(tmp_path):
    not_a_model = tmp_path / "garbage.h5"
    not_a_model.write_bytes(b"garbage" * 10)
    code, err = cli_convert(str(not_a_model), tmp_path / "o.fbz")
    assert code == 1
    with pytest.raises(akida.Error) as e:
        convert(str(not_a_model))
    assert str(e.value) == cli_error(err, "cnn2snn: error: ")
    assert isinstance(e.value, cnn2snn.FormatError) and isinstance(e.value, ValueError)


def test_a_crash_of_the_hdf5_library_is_an_error_and_leaves_no_process():
    """libhdf5 runs in a forked child (docs/robustness.md): from a process with a busy thread
    too, its crash on a kept corrupt file is one FormatError, and the child is reaped."""
    import threading
    crash = os.path.join(SOURCE_DIR, "tests", "regressions", "keras_h5", "libhdf5_segv.h5")
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    busy = threading.Thread(target=spin)
    busy.start()
    try:
        with pytest.raises(cnn2snn.FormatError, match=r"libhdf5_segv\.h5: the HDF5 library "
                           r"crashed \(SIGSEGV\) reading attribute 'model_config' of '/'"):
            convert(crash)
    finally:
        stop.set()
        busy.join()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_v1_conversion_surfaces_the_library_error(tmp_path):
    env = dict(os.environ, **{VARIABLE: "v1"})
    code, err = cli_convert(DS_CNN, tmp_path / "v1.fbz", env=env)
    with set_akida_version(AkidaVersion.v1):
        if code == 0:  # v1 conversion exists: the same model
            assert convert(DS_CNN).to_buffer() == (tmp_path / "v1.fbz").read_bytes()
            return
        with pytest.raises(akida.Error) as e:
            convert(DS_CNN)
    assert str(e.value) == cli_error(err, "cnn2snn: error: ")


# ---- check_model_compatibility --------------------------------------------------------------

def test_check_model_compatibility():
    assert cnn2snn.check_model_compatibility(DS_CNN) is None
    assert cnn2snn.check_model_compatibility(cnn2snn.load_quantized_model(DS_CNN),
                                             input_dtype="int8") is None
    with pytest.raises(ValueError, match="input_dtype"):
        cnn2snn.check_model_compatibility(DS_CNN, input_dtype="float32")
    with pytest.raises(NotImplementedError, match="no hardware backend"):
        cnn2snn.check_model_compatibility(DS_CNN, device="AKD1000")


def test_check_model_compatibility_prefixes_conversion_errors():
    with set_akida_version(AkidaVersion.v1):
        try:
            convert(DS_CNN)
        except akida.Error as e:
            conversion_error = e
        else:
            pytest.skip("v1 conversion works: no incompatibility to report")
        with pytest.raises(type(conversion_error)) as e:
            cnn2snn.check_model_compatibility(DS_CNN)
    assert str(e.value) == f"Incompatibility found during conversion: {conversion_error}"


def test_v1_refuses_onnx_before_converting():
    pytest.importorskip("onnx")
    if not os.path.isfile(TENNST_ONNX):
        pytest.skip(f"{TENNST_ONNX} is absent")
    with set_akida_version(AkidaVersion.v1):
        with pytest.raises(ValueError, match=r"^Akida v1 does not support ONNX models\. Use "
                                             r"Akida v2 instead\.$"):
            cnn2snn.check_model_compatibility(TENNST_ONNX)


# ---- akida_models ---------------------------------------------------------------------------

def test_ds_cnn_kws_pretrained_follows_the_version():
    v2 = akida_models.ds_cnn_kws_pretrained()
    assert os.path.basename(v2.source) == "ds_cnn_kws_i8_w8_a8.h5"
    assert v2.format == "keras" and v2.input_shape == [49, 10, 1] and v2.input_dtype == "uint8"
    assert [name for name, _, _ in v2.layers][-1] == "dequantizer"
    with set_akida_version(AkidaVersion.v1):
        try:
            v1 = akida_models.ds_cnn_kws_pretrained()
        except FileNotFoundError as e:
            assert "ds_cnn_kws_iq8_wq4_aq4_laq1.h5" in str(e)
        except akida.Error as e:  # the file exists; the legacy reader may not yet
            assert "ds_cnn_kws_iq8_wq4_aq4_laq1.h5" in str(e)
        else:
            assert os.path.basename(v1.source) == "ds_cnn_kws_iq8_wq4_aq4_laq1.h5"


def test_missing_example_names_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN2SNN_EXAMPLES_DIR", str(tmp_path))
    assert akida_models.example_path("ds_cnn_kws_i8_w8_a8.h5")  # found further down the list
    (tmp_path / "ds_cnn_kws_i8_w8_a8.h5").write_bytes(b"shadow")
    assert akida_models.example_path("ds_cnn_kws_i8_w8_a8.h5") == str(tmp_path / "ds_cnn_kws_i8_w8_a8.h5")
    with pytest.raises(FileNotFoundError, match=r"no_such_model\.h5: no such example \(looked in "):
        akida_models.example_path("no_such_model.h5")
