"""akida.Model against the `akida` command on the real BrainChip .fbz files: the same summary, the
same layers and variables as `akida dump`, the same forward/predict outputs as `akida run`, the
same error messages, and save/load round trips."""

import os
import subprocess

import numpy as np
import pytest

import akida
from conftest import (VWW, akida_dump, cli_error, fbz_fixtures, fixture_path, run_tool, tool)

FIXTURES = fbz_fixtures()
# An explicit skip (not an empty parametrization) when the real files are absent.
FIXTURE_PARAMS = FIXTURES or [pytest.param("absent", marks=pytest.mark.skip(
    reason="../shared/fixtures/fbz is absent"))]

DUMP_DTYPES = {"int32": np.int32, "float32": np.float32, "uint8": np.uint8, "int8": np.int8,
               "bit1": np.uint8, "int4": np.int8}


@pytest.fixture(scope="module")
def vww():
    return akida.Model(fixture_path(os.path.basename(VWW)))


def vww_batch(n=3, seed=11):
    return np.random.default_rng(seed).integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)


# ---- structure ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FIXTURE_PARAMS)
def test_summary_prints_what_the_cli_prints(name, capsys):
    path = fixture_path(name)
    code, out, err = run_tool("akida", "summary", path)
    model = akida.Model(path)
    if code != 0:  # then the same error, as a Python exception
        with pytest.raises(akida.Error) as e:
            model.summary()
        assert str(e.value) == cli_error(err, "akida: error: ")
        return
    model.summary()
    printed = capsys.readouterr().out
    assert printed == out
    assert "Model Summary" in printed


@pytest.mark.parametrize("name", FIXTURE_PARAMS)
def test_layers_equal_the_json_dump(name):
    path = fixture_path(name)
    dump = akida_dump(path)
    model = akida.Model(path)
    assert model.input_shape == dump["input_shape"]
    assert model.output_shape == dump["output_shape"]
    assert model.ip_version == {"1.0": akida.IpVersion.v1, "2.0": akida.IpVersion.v2}[dump["ip_version"]]
    assert model.get_layer_count() == len(dump["layers"]) == len(model.layers)
    for layer, expected in zip(model.layers, dump["layers"]):
        assert layer.name == expected["name"]
        assert layer.parameters.layer_type == expected["type"]
        params = dict(expected["parameters"])
        params["layer_type"] = expected["type"]  # the dump gives the code, the API the name
        assert dict(layer.parameters) == params
        assert [l.name for l in layer.inbounds] == expected["inbound"]
        assert sorted(layer.variables.names) == sorted(expected["variables"])
        for var_name, var in expected["variables"].items():
            value = layer.get_variable(var_name)
            assert value.dtype == DUMP_DTYPES[var["dtype"]], (layer.name, var_name)
            assert list(value.shape) == var["shape"], (layer.name, var_name)
            wanted = np.array(var["values"], dtype=value.dtype).reshape(var["shape"])
            assert np.array_equal(value, wanted), (layer.name, var_name)


@pytest.mark.parametrize("name", FIXTURE_PARAMS)
def test_save_writes_what_upgrade_writes_and_reads_back_equal(name, tmp_path):
    path = fixture_path(name)
    model = akida.Model(path)
    saved = tmp_path / "saved.fbz"
    model.save(saved)
    code, _, err = run_tool("akida", "upgrade", path, str(tmp_path / "upgraded.fbz"))
    assert code == 0, err
    assert saved.read_bytes() == (tmp_path / "upgraded.fbz").read_bytes()
    assert model.to_buffer() == saved.read_bytes()
    for again in (akida.Model(str(saved)), akida.Model(saved.read_bytes()),
                  akida.Model(serialized_buffer=model.to_buffer())):
        assert again.to_buffer() == model.to_buffer()
        assert [l.name for l in again.layers] == [l.name for l in model.layers]
        for a, b in zip(again.layers, model.layers):
            assert dict(a.parameters) == dict(b.parameters)
            assert all(np.array_equal(a.variables[k], b.variables[k]) for k in b.variables)


def test_get_layer_by_name_and_index(vww):
    layers = vww.layers
    assert vww.get_layer(0).name == layers[0].name
    assert vww.get_layer(-1) is layers[-1]
    assert vww.get_layer(layers[3].name) is layers[3]
    # Inbounds are the model's own Layer objects, earlier in the list.
    assert layers[3].inbounds and all(any(x is l for l in layers[:3]) for x in layers[3].inbounds)
    assert layers[0].inbounds == []
    assert layers[1].input_dims == layers[0].output_dims
    with pytest.raises(IndexError):
        vww.get_layer(len(layers))
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        vww.get_layer("nope")
    with pytest.raises(ValueError):
        layers[1].variables["weights"][0] = 1  # copies: read-only


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.fbz: no such file"):
        akida.Model(str(tmp_path / "absent.fbz"))
    bad = tmp_path / "bad.fbz"
    bad.write_bytes(b"not a model at all")
    code, _, err = run_tool("akida", "summary", str(bad))
    assert code == 1
    with pytest.raises(akida.FormatError) as e:
        akida.Model(str(bad))
    assert isinstance(e.value, ValueError)
    assert str(e.value) == cli_error(err, "akida: error: ")
    with pytest.raises(akida.FormatError, match="^<bytes>: not an Akida .fbz model"):
        akida.Model(b"")
    with pytest.raises(NotImplementedError):
        akida.Model(layers=[])


# ---- inference ------------------------------------------------------------------------------

def cli_run(tmp_path, batch, *flags):
    inp, out = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(inp, batch)
    code, _, err = run_tool("akida", "run", "-m", VWW, "-i", str(inp), "-o", str(out), *flags)
    assert code == 0, err
    return np.load(out)


def test_forward_and_predict_equal_akida_run(vww, tmp_path):
    batch = vww_batch()
    forward = vww.forward(batch)
    assert forward.dtype == np.int32 and forward.shape == (3, 1, 1, 2)
    assert np.array_equal(forward, cli_run(tmp_path, batch, "--forward"))
    predict = vww.predict(batch)
    assert predict.dtype == np.float32 and predict.shape == (3, 1, 1, 2)
    assert np.array_equal(predict, cli_run(tmp_path, batch))
    assert not np.array_equal(forward[0], forward[1]), "two random samples gave the same output"
    # Views that are not C-contiguous run on the same values.
    fortran = np.asfortranarray(batch)
    assert np.array_equal(vww.forward(fortran), forward)


def random_inputs(model, n, seed):
    """n samples uniform over the model's input range (InputData's bits and sign; 8-bit unsigned
    pixels for image input layers)."""
    params = model.layers[0].parameters
    bits, signed = 8, False
    if params.layer_type == "InputData":
        bits, signed = params["input_bits"], params.get("input_signed", 0) == 1
    low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    dtype = np.int8 if signed else np.uint8
    rng = np.random.default_rng(seed)
    return rng.integers(low, high, (n, *model.input_shape)).astype(dtype)


@pytest.mark.parametrize("name", FIXTURE_PARAMS)
def test_every_fixture_runs_as_akida_run_does(name, tmp_path):
    # 20 samples: more than one chunk of the statistics-gathering forward, so temporal models
    # (tennst) also check that FIFO state carries across chunks as it does in one `akida run`.
    path = fixture_path(name)
    batch = random_inputs(akida.Model(path), 20, seed=len(name))
    inp = tmp_path / "in.npy"
    np.save(inp, batch)
    for flags, run in (((), "predict"), (("--forward",), "forward")):
        code, _, err = run_tool("akida", "run", "-m", path, "-i", str(inp),
                                "-o", str(tmp_path / "out.npy"), *flags)
        assert code == 0, err
        expected = np.load(tmp_path / "out.npy")
        got = getattr(akida.Model(path), run)(batch)  # a fresh model: empty FIFOs, as the CLI's
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.array_equal(got, expected), (name, run)


@pytest.mark.parametrize("name", FIXTURE_PARAMS)
def test_outputs_do_not_depend_on_num_threads(name):
    # Samples in parallel, or (tennst) each layer's work split with the samples kept in order.
    path = fixture_path(name)
    batch = random_inputs(akida.Model(path), 9, seed=3)
    expected_forward = akida.Model(path).forward(batch, num_threads=1)
    expected_predict = akida.Model(path).predict(batch, num_threads=1)
    for threads in (0, 2, 3):
        assert np.array_equal(akida.Model(path).forward(batch, num_threads=threads),
                              expected_forward), (name, threads)
        assert np.array_equal(akida.Model(path).predict(batch, num_threads=threads),
                              expected_predict), (name, threads)


def test_num_threads_must_be_a_count(vww):
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ValueError, match="num_threads must be an int >= 0"):
            vww.predict(vww_batch(1), num_threads=bad)


def test_reset_empties_the_fifos():
    # Watched at the first BufferTempConv: an all-zero frame gives it no events when its FIFO
    # holds zeros only (checked first), and some while an earlier sample is still in the FIFO.
    # (The model's final outputs can hide the difference: its later layers saturate.)
    model = akida.Model(fixture_path("tennst_int8_v2_2.17.fbz"))
    fifo = next(l.name for l in model.layers if l.parameters.layer_type == "BufferTempConv")
    sample = random_inputs(model, 1, seed=1)
    zeros = np.zeros_like(sample)
    model.forward(zeros)
    assert model.statistics[fifo].events == 0
    model.forward(sample)
    model.forward(zeros)
    assert model.statistics[fifo].events > 0, "no state carried across calls"
    model.reset()
    model.forward(zeros)
    assert model.statistics[fifo].events == 0


def test_predict_classes_and_evaluate(vww):
    batch = vww_batch(6, seed=3)
    scores = vww.predict(batch).reshape(6, 2)
    classes = vww.predict_classes(batch)
    assert np.array_equal(classes, scores.argmax(axis=1))
    assert np.array_equal(vww.predict_classes(batch, num_classes=1), np.zeros(6))
    with pytest.raises(ValueError, match="does not divide"):
        vww.predict_classes(batch, num_classes=3)
    assert vww.evaluate(batch, classes) == 1.0
    assert vww.evaluate(batch, 1 - classes) == 0.0
    half = classes.copy()
    half[:3] = 1 - half[:3]
    assert vww.evaluate(batch, half) == 0.5
    with pytest.raises(ValueError, match="5 labels for 6 samples"):
        vww.evaluate(batch, classes[:5])


def test_statistics_count_nonzero_outputs_of_the_last_forward(vww):
    batch = vww_batch(2, seed=5)
    vww.forward(batch)
    stats = vww.statistics
    assert list(stats) == [l.name for l in vww.layers]
    for layer in vww.layers:
        s = stats[layer.name]
        if layer.parameters.layer_type == "Dequantizer":
            assert s.outputs == 0 and s.sparsity is None
            continue
        assert s.outputs == 2 * np.prod(layer.output_dims)
        assert 0 <= s.events <= s.outputs
        assert s.sparsity == pytest.approx(1 - s.events / s.outputs)
    # The last integer layer's events are the nonzero values forward() returned.
    last_int = vww.layers[-2].name
    assert stats[last_int].events == np.count_nonzero(vww.forward(batch))
    # A batch of zeros changes them: statistics follow the last run.
    vww.forward(np.zeros((1, 96, 96, 3), np.uint8))
    assert vww.statistics[vww.layers[1].name].outputs == np.prod(vww.layers[1].output_dims)
    sparsity = akida.evaluate_sparsity(vww, batch)
    assert sparsity == {name: s.sparsity for name, s in vww.statistics.items()}


def test_statistics_empty_before_any_forward():
    model = akida.Model(fixture_path(os.path.basename(VWW)))
    assert len(model.statistics) == 0
    assert "has not run" in str(model.statistics)


BAD_INPUTS = {
    "int8": np.zeros((2, 96, 96, 3), np.int8),
    "float": np.zeros((2, 96, 96, 3), np.float32),
    "int32": np.zeros((2, 96, 96, 3), np.int32),
    "rank3": np.zeros((96, 96, 3), np.uint8),
    "small": np.zeros((2, 95, 96, 3), np.uint8),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_raise_the_cli_message(vww, tmp_path, case):
    array = BAD_INPUTS[case]
    path = tmp_path / f"{case}.npy"
    np.save(path, array)
    code, _, err = run_tool("akida", "run", "-m", VWW, "-i", str(path), "-o", str(tmp_path / "o.npy"))
    assert code == 1
    expected = cli_error(err, "akida: error: ").replace(str(path), "inputs")
    for run in (vww.forward, vww.predict):
        with pytest.raises(akida.ShapeError) as e:
            run(array)
        assert isinstance(e.value, ValueError)
        assert str(e.value) == expected


def test_inputs_the_npy_reader_refuses(vww):
    # The CLI cannot even read these .npy files; here they reach the dtype check.
    with pytest.raises(akida.ShapeError,
                       match=r"^inputs: input dtype is float64, the model expects uint8$"):
        vww.forward(np.zeros((1, 96, 96, 3)))
    with pytest.raises(akida.ShapeError, match="input dtype is int64"):
        vww.forward([[[0, 0, 0]]])


def test_models_the_runtime_cannot_run_name_the_file():
    # Every fixture either runs, or fails with an akida.Error naming the file.
    for name in FIXTURES:
        path = fixture_path(name)
        model = akida.Model(path)
        shape = model.input_shape
        signed = model.layers[0].parameters.get("input_signed", 0) == 1
        batch = np.zeros((1, *shape), np.int8 if signed else np.uint8)
        try:
            out = model.forward(batch)
        except akida.Error as e:
            assert str(e).startswith(path), str(e)
            continue
        assert out.shape[0] == 1 and out.dtype == np.int32


def test_python_package_from_a_fresh_interpreter():
    # The package imports without pytest's path set-up, with PYTHONPATH alone.
    code = ("import akida, cnn2snn, akida_models; "
            "print(akida.__version__, issubclass(akida.ShapeError, ValueError), "
            "cnn2snn.Error is akida.Error)")
    out = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0.1.0", "True", "True"]


def test_concurrent_calls_on_one_model_are_serialized(vww):
    # forward() releases the GIL and locks the model: threads sharing one model neither deadlock
    # nor mix their runs (each thread gets what a lone call gives).
    import threading
    batches = [vww_batch(2, seed=s) for s in range(4)]
    expected = [vww.forward(b) for b in batches]
    results = [None] * len(batches)

    def work(i):
        results[i] = vww.forward(batches[i]) if i % 2 else vww.predict(batches[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "deadlock"
    for i, got in enumerate(results):
        wanted = expected[i] if i % 2 else vww.predict(batches[i])
        assert np.array_equal(got, wanted)
