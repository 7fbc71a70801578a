"""onnxruntime as an independent oracle for the whole ONNX path.

For the ONNX fixture and every generated QuantizeML ONNX model, onnxruntime runs the model's OWN
function bodies (tests/onnx_oracle: inlined com.brainchip functions, explicit FIFO state) over
consecutive random float frames. Its InputQuantizer output is the integer input; then
  - `cnn2snn convert` + `akida run --forward` on that integer batch (the samples of a batch are
    consecutive frames: the runtime keeps FIFO state across them), and
  - `cnn2snn run --forward` (the reference evaluator) on the integers and on the float frames
must give exactly onnxruntime's integers of the last integer node. Layouts: onnxruntime gives
(T, 1, C, X, Y) channels first, Akida (T, X, Y, C).

Models the converter refuses fail here (known gaps are findings, not skips).
"""
import json
import os
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

PY = "/usr/bin/python3"
SOURCE = Path(os.environ.get("CNN2SNN_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ.get("CNN2SNN_BIN_DIR", SOURCE / "build" / "bin"))
ORACLE = SOURCE / "tests" / "onnx_oracle"
FIXTURE = SOURCE.parent / "shared" / "fixtures" / "onnx" / "tennst_int8_quantizeml.onnx"
FRAMES = 5  # > every FIFO of the generated models but one (fifo 5), so FIFOs fill and roll
FRAMES_TENNST = 6

if shutil.which("node") is None or not (ORACLE / "node_modules" / "onnxruntime-node").is_dir():
    pytest.skip("onnxruntime-node is absent (run scripts/setup.sh)", allow_module_level=True)


def generated_names():
    out = subprocess.run([PY, "-m", "tools.quantizeml_onnx", "--list"], cwd=SOURCE, check=True,
                         capture_output=True, text=True).stdout
    return out.split()


MODELS = generated_names() + ["tennst_fixture"]


def run(args, **kwargs):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {result.returncode}:\n"
                    f"{result.stdout}{result.stderr}")
    return result


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx_oracle")


def model_path(name, workdir):
    if name == "tennst_fixture":
        if not FIXTURE.is_file():
            pytest.skip(f"fixture {FIXTURE} is absent (../shared/fixtures not beside the project)")
        return FIXTURE
    path = workdir / f"{name}.onnx"
    if not path.exists():
        run([PY, "-m", "tools.quantizeml_onnx", "--model", name, "-o", path], cwd=SOURCE)
    return path


def input_quantizer(model):
    """(scale, zero_point, channel axis of the float input) of the InputQuantizer node."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    node = next(n for n in model.graph.node if n.op_type == "InputQuantizer")
    perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), [0, 1, 2, 3])
    return inits[node.input[1]], inits[node.input[2]], perm[1]


def float_frames(model, dims, count, rng):
    """Float frames whose quantized values span the whole integer range (and a bit beyond, so
    that saturation is exercised): q = round(x / scale) + zero_point."""
    scale, zero_point, axis = input_quantizer(model)
    info = np.iinfo(zero_point.dtype)
    shape = (count, *dims[1:])
    target = rng.integers(int(info.min) - 3, int(info.max) + 4, shape).astype(np.float64)
    target += rng.uniform(-0.49, 0.49, shape)  # off the rounding ties
    bshape = [1] * len(shape)
    bshape[axis] = -1
    x = (target - zero_point.astype(np.float64).reshape(bshape)) * scale.astype(np.float64).reshape(bshape)
    return x.astype(np.float32)


def to_akida_layout(array):
    """onnxruntime (T, 1, C, X, Y) or (T, 1, F) -> Akida (T, X, Y, C)."""
    if array.ndim == 5:
        return np.ascontiguousarray(array[:, 0].transpose(0, 2, 3, 1))
    if array.ndim == 3:
        return array.reshape(array.shape[0], 1, 1, array.shape[2])
    raise AssertionError(f"unexpected onnxruntime output shape {array.shape}")


_cache = {}


def oracle(name, workdir):
    """Runs onnxruntime once per model: frames, integer input, last integer node output."""
    if name in _cache:
        return _cache[name]
    path = model_path(name, workdir)
    model = onnx.load(path)
    prefix = workdir / f"{name}.runnable"
    run([PY, ORACLE / "quantizeml_onnx_runnable.py", path, prefix])
    spec = json.loads(Path(f"{prefix}.json").read_text())
    count = FRAMES_TENNST if name == "tennst_fixture" else FRAMES
    frames = float_frames(model, spec["input_dims"], count, np.random.default_rng(zlib.crc32(name.encode())))
    np.save(workdir / f"{name}.frames.npy", frames)
    out = workdir / f"{name}.ort"
    run(["node", ORACLE / "run_ort.mjs", prefix, workdir / f"{name}.frames.npy", out])
    kinds = [layer["op_type"] for layer in spec["layers"]]
    assert kinds[0] == "InputQuantizer", kinds
    last = max(i for i, k in enumerate(kinds) if k not in ("InputQuantizer", "Dequantizer"))
    ints = to_akida_layout(np.load(out / "0.npy"))
    info = np.iinfo(ints.dtype)
    # The frames must exercise the whole input range, both saturation ends included.
    assert ints.min() == info.min and ints.max() == info.max, (ints.min(), ints.max())
    np.save(workdir / f"{name}.ints.npy", ints)
    expected = to_akida_layout(np.load(out / f"{last}.npy")).astype(np.int64)
    _cache[name] = (path, workdir / f"{name}.frames.npy", workdir / f"{name}.ints.npy", expected,
                    spec["layers"][last]["node"])
    return _cache[name]


def assert_equal(actual, expected, what, node):
    assert actual.dtype == np.int32, f"{what}: dtype {actual.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, onnxruntime {expected.shape}"
    diff = np.argwhere(actual.astype(np.int64) != expected)
    if diff.size:
        where = tuple(diff[0])
        pytest.fail(f"{what} differs from onnxruntime's '{node}' at (t, x, y, c) = {where}: "
                    f"{actual[where]} vs {expected[where]} ({len(diff)} values differ)")


@pytest.mark.parametrize("name", MODELS)
def test_akida_matches_onnxruntime(name, workdir):
    path, _, ints, expected, node = oracle(name, workdir)
    fbz = workdir / f"{name}.fbz"
    run([BIN / "cnn2snn", "convert", "-m", path, "-o", fbz])
    run([BIN / "akida", "run", "-m", fbz, "-i", ints, "-o", workdir / f"{name}.akida.npy", "--forward"])
    assert_equal(np.load(workdir / f"{name}.akida.npy"), expected, "akida run --forward", node)


@pytest.mark.parametrize("name", MODELS)
def test_evaluator_matches_onnxruntime(name, workdir):
    path, frames, ints, expected, node = oracle(name, workdir)
    out = workdir / f"{name}.eval.npy"
    run([BIN / "cnn2snn", "run", "-m", path, "-i", ints, "-o", out, "--forward"])
    assert_equal(np.load(out), expected, "cnn2snn run --forward (integer input)", node)
    # The same frames as floats, through the model's own InputQuantizer (ONNX layout).
    run([BIN / "cnn2snn", "run", "-m", path, "-i", frames, "-o", out, "--forward"])
    assert_equal(np.load(out), expected, "cnn2snn run --forward (float input)", node)
