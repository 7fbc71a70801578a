"""The main job's pieces: the shipped float model (examples/fashion_mnist_cnn.onnx) is the one
the training script describes and as accurate as its note says (onnxruntime on the whole test
set), the IDX reader reads Debian's Fashion-MNIST files as the dataset is documented, and refuses
damaged files with one clear error.

The end-to-end run on a subset of the test set is in test_fashion_mnist_main_job.py.
"""
import ast
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

SOURCE = Path(os.environ.get("CNN2SNN_SOURCE_DIR", Path(__file__).resolve().parents[2]))
EXAMPLES = SOURCE / "examples"
MODEL = EXAMPLES / "fashion_mnist_cnn.onnx"
NOTE = EXAMPLES / "fashion_mnist_cnn.json"
TRAINING_SCRIPT = EXAMPLES / "training" / "train_fashion_mnist.py"
ORACLE = SOURCE / "tests" / "onnx_oracle"

sys.path.insert(0, str(EXAMPLES))
import fashion_mnist  # noqa: E402


def training_constants():
    """CHANNELS, NUM_CLASSES, ONNX_OPSET as the training script assigns them (read with ast: the
    script imports torch, which the tests do not need)."""
    tree = ast.parse(TRAINING_SCRIPT.read_text())
    wanted = {"CHANNELS", "NUM_CLASSES", "ONNX_OPSET"}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", None)
            if name in wanted:
                found[name] = ast.literal_eval(node.value)
    assert set(found) == wanted, f"{TRAINING_SCRIPT} no longer assigns {wanted - set(found)}"
    return found


def requires_dataset():
    if not fashion_mnist.available():
        pytest.skip(f"Fashion-MNIST is absent from {fashion_mnist.data_dir()} "
                    f"(Debian package {fashion_mnist.DEBIAN_PACKAGE}, installed by scripts/setup.sh)")


# ---- the shipped model --------------------------------------------------------------------------

def test_note_describes_the_shipped_file():
    note = json.loads(NOTE.read_text())
    assert note["model"] == MODEL.name
    assert note["sha256"] == hashlib.sha256(MODEL.read_bytes()).hexdigest(), (
        f"{MODEL} is not the file {NOTE} was written for: rerun {TRAINING_SCRIPT}")
    constants = training_constants()
    assert note["channels"] == list(constants["CHANNELS"])
    assert note["onnx_opset"] == constants["ONNX_OPSET"]
    assert MODEL.stat().st_size < 300_000


def test_model_graph_is_the_documented_architecture():
    """Div 255, then 3 x (Conv 3x3 pads 1 [BatchNormalization folded by the exporter] + Clip 0..6),
    the first two max-pooled 2x2, Flatten, Gemm to the classes."""
    constants = training_constants()
    c1, c2, c3 = constants["CHANNELS"]
    model = onnx.load(MODEL)
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [
        constants["ONNX_OPSET"]]
    graph = model.graph
    (pixels,), (logits,) = graph.input, graph.output
    dims = [d.dim_value or d.dim_param for d in pixels.type.tensor_type.shape.dim]
    assert pixels.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert dims[1:] == [1, 28, 28] and isinstance(dims[0], str)  # dynamic batch
    assert [d.dim_value for d in logits.type.tensor_type.shape.dim][1:] == [
        constants["NUM_CLASSES"]]

    ops = [n.op_type for n in graph.node if n.op_type != "Constant"]
    assert ops == ["Div", "Conv", "Clip", "MaxPool", "Conv", "Clip", "MaxPool", "Conv", "Clip",
                   "Flatten", "Gemm"]
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant":
            values[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    nodes = [n for n in graph.node if n.op_type != "Constant"]
    assert float(values[nodes[0].input[1]]) == 255.0
    convs = [n for n in nodes if n.op_type == "Conv"]
    assert [values[n.input[1]].shape for n in convs] == [
        (c1, 1, 3, 3), (c2, c1, 3, 3), (c3, c2, 3, 3)]
    for conv in convs:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
        assert attrs["pads"] == [1, 1, 1, 1] and attrs["strides"] == [1, 1]
        assert attrs.get("group", 1) == 1
    for clip in (n for n in nodes if n.op_type == "Clip"):
        assert (float(values[clip.input[1]]), float(values[clip.input[2]])) == (0.0, 6.0)
    for pool in (n for n in nodes if n.op_type == "MaxPool"):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in pool.attribute}
        assert attrs["kernel_shape"] == [2, 2] and attrs["strides"] == [2, 2]
        assert attrs.get("pads", [0, 0, 0, 0]) == [0, 0, 0, 0]
    gemm = nodes[-1]
    assert values[gemm.input[1]].shape == (constants["NUM_CLASSES"], c3 * 7 * 7)


def test_float_accuracy_is_the_recorded_one(tmp_path):
    """onnxruntime runs the shipped model on the 10,000 test images: the accuracy the training
    script measured with PyTorch (an independent float implementation; one image either way
    is allowed for float rounding between the two)."""
    requires_dataset()
    if shutil.which("node") is None or not (ORACLE / "node_modules" / "onnxruntime-node").is_dir():
        pytest.skip("onnxruntime-node is not installed (bash scripts/setup.sh)")
    if not (ORACLE / "run_float.mjs").is_file():
        pytest.skip(f"{ORACLE / 'run_float.mjs'} is absent (it comes with the quantizer)")
    images, labels = fashion_mnist.load("test")
    np.save(tmp_path / "in.npy", images[:, None].astype(np.float32))
    subprocess.run(["node", ORACLE / "run_float.mjs", MODEL, tmp_path / "in.npy",
                    tmp_path / "out.npy"], check=True, capture_output=True)
    logits = np.load(tmp_path / "out.npy")
    assert logits.shape == (10000, 10)
    accuracy = np.mean(logits.argmax(1) == labels)
    note = json.loads(NOTE.read_text())
    assert abs(accuracy - note["float_test_accuracy"]) <= 1e-4, (accuracy, note)


# ---- the IDX reader ------------------------------------------------------------------------------

def test_debian_files_read_as_the_dataset_is_documented():
    """Shapes, dtypes, balanced classes (6,000 training and 1,000 test images per class), the
    first labels and the pixel mean/std that Fashion-MNIST's users quote."""
    requires_dataset()
    train_images, train_labels = fashion_mnist.load("train")
    test_images, test_labels = fashion_mnist.load("test")
    assert train_images.shape == (60000, 28, 28) and train_images.dtype == np.uint8
    assert test_images.shape == (10000, 28, 28) and test_labels.shape == (10000,)
    assert np.bincount(train_labels).tolist() == [6000] * 10
    assert np.bincount(test_labels).tolist() == [1000] * 10
    assert train_labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert test_labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert round(train_images.mean() / 255, 4) == 0.2860
    assert round(train_images.std() / 255, 4) == 0.3530
    # The background is black: the corner pixels are almost always 0.
    assert np.mean(train_images[:, 0, 0] == 0) > 0.99


def test_calibration_images_are_seeded_training_images():
    images = np.zeros((50, 28, 28), np.uint8)
    images[:, 0, 0] = np.arange(50)  # tells the images apart
    a = fashion_mnist.calibration_images(images, 20, seed=3)
    assert a.shape == (20, 1, 28, 28) and a.dtype == np.float32
    np.testing.assert_array_equal(a, fashion_mnist.calibration_images(images, 20, seed=3))
    assert not np.array_equal(a, fashion_mnist.calibration_images(images, 20, seed=4))
    firsts = a[:, 0, 0, 0]
    assert len(set(firsts.tolist())) == 20  # no image twice
    with pytest.raises(ValueError, match="calibration count 51"):
        fashion_mnist.calibration_images(images, 51)


def idx_bytes(array, dtype_byte=0x08):
    header = bytes([0, 0, dtype_byte, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write(path, data, compress=True):
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)
    return str(path)


def test_reads_written_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    np.testing.assert_array_equal(
        fashion_mnist.read_idx(write(tmp_path / "a.gz", idx_bytes(images)), 3), images)
    np.testing.assert_array_equal(
        fashion_mnist.read_idx(write(tmp_path / "b", idx_bytes(labels), compress=False), 1), labels)
    for (split, kind), name in fashion_mnist.FILES.items():
        write(tmp_path / name, idx_bytes(images if kind == "images" else labels))
    got_images, got_labels = fashion_mnist.load("test", str(tmp_path))
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


@pytest.mark.parametrize("data, field", [
    (b"\0\0", "header"),
    (b"\1\0\x08\x01" + (3).to_bytes(4, "big") + b"abc", "magic"),
    (b"\0\0\x0d\x01" + (3).to_bytes(4, "big") + b"abcdefghijkl", "type"),
    (b"\0\0\x08\x02" + (3).to_bytes(4, "big") + (1).to_bytes(4, "big") + b"abc", "dimensions"),
    (b"\0\0\x08\x01\0\0", "sizes"),
    (b"\0\0\x08\x01" + (4).to_bytes(4, "big") + b"abc", "values"),
    # A lying size cannot make the reader allocate: the values are checked against the file.
    (b"\0\0\x08\x01" + (0xFFFFFFFF).to_bytes(4, "big") + b"abc", "values"),
])
def test_damaged_files_name_the_file_and_field(tmp_path, data, field):
    path = write(tmp_path / "labels.gz", data)
    with pytest.raises(fashion_mnist.IdxError) as e:
        fashion_mnist.read_idx(path, 1)
    assert str(e.value).startswith(f"{path}: {field}: "), str(e.value)


def test_damaged_gzip_and_missing_files(tmp_path):
    path = write(tmp_path / "x.gz", gzip.compress(idx_bytes(np.zeros(100, np.uint8)))[:30], False)
    with pytest.raises(fashion_mnist.IdxError, match=f"^{path}: cannot read: "):
        fashion_mnist.read_idx(path, 1)
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fashion_mnist.load("train", str(tmp_path))
    for (split, kind), name in fashion_mnist.FILES.items():
        write(tmp_path / name, idx_bytes(np.zeros((2, 28, 28) if kind == "images" else (3,))))
    with pytest.raises(fashion_mnist.IdxError, match="3 labels for 2 images"):
        fashion_mnist.load("train", str(tmp_path))
    with pytest.raises(ValueError, match="split must be"):
        fashion_mnist.load("validation", str(tmp_path))
