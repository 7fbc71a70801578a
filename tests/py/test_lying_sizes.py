"""Files whose size fields lie: every tool refuses them with a clear error before allocating.

Each file below is small (kilobytes) but declares a huge size in the field its format keeps it
in: the Snappy length and a variable shape of an .fbz, the shape of a .npy header, the dims of an
ONNX initializer, the dataspace of an HDF5 dataset (stored without data, it reads as gigabytes of
fill value). The tools run under a 1 GiB address-space limit (RLIMIT_AS), far below what
believing the field would take, and must exit 1 with the message of the check that refuses it.
Under AddressSanitizer (CNN2SNN_SANITIZED, set by `scripts/test.sh --sanitize`) the limit is
left out, since ASan reserves terabytes of address space; the message still shows the refusal
came from the size check, not from a failed allocation.
"""
import os
import pathlib
import resource
import shutil
import struct
import subprocess
import sys

import h5py
import numpy as np
import onnx
import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("CNN2SNN_SOURCE_DIR", pathlib.Path(__file__).parents[2]))
BIN_DIR = os.environ.get("CNN2SNN_BIN_DIR")
SANITIZED = bool(os.environ.get("CNN2SNN_SANITIZED"))
EXAMPLE = SOURCE_DIR / "examples" / "ds_cnn_kws_i8_w8_a8.h5"
ADDRESS_SPACE_LIMIT = 1 << 30

sys.path.insert(0, str(SOURCE_DIR))
sys.path.insert(0, str(SOURCE_DIR / "tests" / "py"))
import fbz_oracle  # noqa: E402
from tools.quantizeml_onnx.models import build_model  # noqa: E402

pytestmark = pytest.mark.skipif(not BIN_DIR, reason="CNN2SNN_BIN_DIR is not set (run through ctest)")


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def refused(tool, *args, expected):
    """Runs a tool that must refuse its input: exit 1, `expected` in its one error line."""
    run = subprocess.run([os.path.join(BIN_DIR, tool), *map(str, args)], capture_output=True,
                         text=True, preexec_fn=None if SANITIZED else limit_memory, timeout=600)
    assert run.returncode == 1, f"{tool} exited {run.returncode}: {run.stderr}"
    assert run.stderr.startswith(f"{tool}: error: "), run.stderr
    assert expected in run.stderr, run.stderr
    assert "bad_alloc" not in run.stderr, run.stderr


def snappy_literals(payload: bytes) -> bytes:
    """A raw Snappy block holding `payload` as literals (valid, if not compressed)."""
    out = bytearray()
    n = len(payload)
    while True:  # varint length
        out.append((n & 0x7F) | (0x80 if n >= 0x80 else 0))
        n >>= 7
        if not n:
            break
    for start in range(0, len(payload), 65536):
        chunk = payload[start:start + 65536]
        out += bytes([61 << 2]) + struct.pack("<H", len(chunk) - 1) + chunk  # 2-byte length
    return bytes(out)


@pytest.fixture(scope="module")
def converted_example(tmp_path_factory):
    out = tmp_path_factory.mktemp("lying") / "example.fbz"
    subprocess.run([os.path.join(BIN_DIR, "cnn2snn"), "convert", "-m", str(EXAMPLE), "-o", str(out)],
                   check=True, capture_output=True)
    return out


def test_fbz_snappy_length(tmp_path):
    lie = tmp_path / "length.fbz"
    # 0x0fffffff (256 MiB - 1) declared, one 5-byte literal present.
    lie.write_bytes(bytes([0xFF, 0xFF, 0xFF, 0x7F, 4 << 2]) + b"model")
    refused("akida", "summary", lie, expected="corrupt or truncated Snappy block")


def test_fbz_variable_shape(tmp_path, converted_example):
    payload, _ = fbz_oracle.snappy_decompress(converted_example.read_bytes())
    _, layers = fbz_oracle.decode_payload(payload)
    weights = next(v for layer in layers for name, v in layer.variables.items()
                   if name == "weights" and len(v.shape) == 4)
    stored = struct.pack(f"<{len(weights.shape) + 1}I", len(weights.shape), *weights.shape)
    assert payload.count(stored) == 1, "the shape vector is not unique in the payload"
    huge = struct.pack("<5I", 4, 65536, 65536, 65536, 16)  # 2^52 values, a few kB stored
    lie = tmp_path / "shape.fbz"
    lie.write_bytes(snappy_literals(payload.replace(stored, huge)))
    refused("akida", "summary", lie, expected="shape [65536, 65536, 65536, 16] of int8 needs")


def test_npy_shape(tmp_path, converted_example):
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 49, 10, 1), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    lie = tmp_path / "inputs.npy"
    lie.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() +
                    bytes(490))
    refused("akida", "run", "-m", converted_example, "-i", lie, "-o", tmp_path / "out.npy",
            expected=".npy data has 490 bytes, shape (100000, 49, 10, 1) of uint8 needs 49000000")
    assert not (tmp_path / "out.npy").exists()


def onnx_with_weight_dims(tmp_path, dims):
    model = build_model("conv_relu")
    weight = next(t for t in model.graph.initializer if len(t.dims) == 4)
    del weight.dims[:]
    weight.dims.extend(dims)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    assert path.stat().st_size < 65536
    return path


def test_onnx_initializer_dims_disagree_with_data(tmp_path):
    lie = onnx_with_weight_dims(tmp_path, [4096, 4096, 4, 4])  # 2^28 int8 values declared
    refused("cnn2snn", "convert", "-m", lie, "-o", tmp_path / "out.fbz",
            expected="dims [4096, 4096, 4, 4] of int8 need 268435456 bytes, raw_data has")
    assert not (tmp_path / "out.fbz").exists()


def test_onnx_initializer_dims_over_the_limit(tmp_path):
    lie = onnx_with_weight_dims(tmp_path, [1 << 20, 1 << 20, 1, 1])
    refused("cnn2snn", "convert", "-m", lie, "-o", tmp_path / "out.fbz",
            expected="dims [1048576, 1048576, 1, 1] hold more than 268435456 elements")


def test_h5_dataset_without_its_data(tmp_path):
    lie = tmp_path / "model.h5"
    shutil.copy(EXAMPLE, lie)
    with h5py.File(lie, "r+") as f:
        group = f["model_weights"]["dense_5"]
        name = next(n.decode() if isinstance(n, bytes) else n
                    for n in group.attrs["weight_names"] if "kernel" in str(n))
        del group[name]
        # 2^28 float32 values (1 GiB) declared; h5py allocates no storage for an unwritten
        # dataset, so the file keeps its size and HDF5 would read the fill value.
        group.create_dataset(name, shape=(1 << 14, 1 << 14), dtype="f4")
    assert lie.stat().st_size < 1 << 20
    refused("cnn2snn", "convert", "-m", lie, "-o", tmp_path / "out.fbz",
            expected="dataset would take 1073741824 bytes in memory, more than a file of")
