"""The C++ .fbz reader (`akida dump FILE --json`) against the independent Python oracle.

For every fixture: layer names and order, inbound lists, and every variable's shape, dtype and
values must be identical (float32 compared bit for bit).  Parameters are compared for files of
akida 2.3.3 and later only: the oracle does not decode the older typed parameter table.
"""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbz_oracle  # noqa: E402


def fixtures_dir():
    source = os.environ.get("CNN2SNN_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    return os.path.join(source, "..", "shared", "fixtures", "fbz")


def fixture_files():
    return sorted(glob.glob(os.path.join(fixtures_dir(), "*.fbz")))


def akida_binary():
    bin_dir = os.environ.get("CNN2SNN_BIN_DIR")
    if not bin_dir:
        pytest.skip("CNN2SNN_BIN_DIR is not set (point it at the build's bin/ folder holding `akida`)")
    path = os.path.join(bin_dir, "akida")
    assert os.access(path, os.X_OK), "no executable akida in CNN2SNN_BIN_DIR=%s" % bin_dir
    return path


_dump_cache = {}


def dump_json(path):
    if path not in _dump_cache:
        proc = subprocess.run([akida_binary(), "dump", path, "--json"], capture_output=True, timeout=300)
        assert proc.returncode == 0, "akida dump %s --json failed (%d): %s" % (
            path, proc.returncode, proc.stderr.decode(errors="replace")[-2000:])
        out = proc.stdout.decode()
        assert out.strip(), "akida dump %s --json printed nothing" % path
        _dump_cache[path] = json.loads(out)
    return _dump_cache[path]


def fixture_ids():
    files = fixture_files()
    return files if files else [None]


def need_fixture(path):
    if path is None:
        pytest.skip("no .fbz fixtures in %s (BrainChip files live outside the repository)" % fixtures_dir())
    return path


# numpy dtype used to hold the JSON values of each dtype name, for an exact comparison.
JSON_VALUE_DTYPES = {"int32": np.int64, "uint8": np.int64, "int8": np.int64, "int4": np.int64,
                     "bit1": np.int64, "float32": np.float32}


@pytest.mark.parametrize("path", fixture_ids(), ids=lambda p: os.path.basename(p) if p else "none")
def test_layers_inbound_and_variables(path):
    need_fixture(path)
    oracle = fbz_oracle.load_fbz(path)
    dump = dump_json(path)

    assert [l["name"] for l in dump["layers"]] == [l.name for l in oracle.layers]
    if oracle.version is None:
        assert dump.get("version") in (None, ""), "pre-2.3 file has no version, dump says %r" % dump.get("version")
    else:
        assert dump["version"] == oracle.version

    for got, want in zip(dump["layers"], oracle.layers):
        assert list(got["inbound"]) == want.inbound, want.name
        assert sorted(got["variables"]) == sorted(want.variables), want.name
        for vname, var in want.variables.items():
            where = "%s/%s" % (want.name, vname)
            jv = got["variables"][vname]
            assert list(jv["shape"]) == var.shape, where
            assert jv["dtype"] == var.dtype_name, where
            expected = var.values
            if var.dtype_code != 1:
                # Integers must be printed as JSON integers, not as floats that happen to be whole.
                assert all(type(v) is int for v in jv["values"]), "%s: non-integer JSON values" % where
            values = np.array(jv["values"], dtype=JSON_VALUE_DTYPES[jv["dtype"]])
            assert values.size == expected.size, "%s: %d values, expected %d" % (where, values.size, expected.size)
            values = values.reshape(expected.shape)
            if var.dtype_code == 1:
                # Exact float32 bit patterns (a wrong byte order or a double rounding shows here).
                same = values.view(np.uint32) == expected.view(np.uint32)
            else:
                same = values == expected.astype(np.int64)
            if not same.all():
                first = tuple(int(i) for i in np.argwhere(~same)[0])
                raise AssertionError("%s: %d of %d values differ; first at %s: dump %r, oracle %r" % (
                    where, int((~same).sum()), same.size, first, values[first], expected[first]))


@pytest.mark.parametrize("path", fixture_ids(), ids=lambda p: os.path.basename(p) if p else "none")
def test_parameters(path):
    need_fixture(path)
    oracle = fbz_oracle.load_fbz(path)
    if not fbz_oracle.has_keyed_parameters(oracle.version):
        pytest.skip("%s predates akida 2.3.3: the oracle does not decode its typed parameters" % os.path.basename(path))
    dump = dump_json(path)
    for got, want in zip(dump["layers"], oracle.layers):
        params = dict(got["parameters"])
        # Every key the file holds, with its value (absent value = 0), and no invented keys.
        assert params == want.parameters, "%s: dump %r != oracle %r" % (want.name, params, want.parameters)
        assert "layer_type" in params, want.name


@pytest.mark.parametrize("path", fixture_ids(), ids=lambda p: os.path.basename(p) if p else "none")
def test_input_shape(path):
    """The model input is (X, Y, C) = (input_width | input_x, input_height | input_y, input_channels)."""
    need_fixture(path)
    oracle = fbz_oracle.load_fbz(path)
    if not fbz_oracle.has_keyed_parameters(oracle.version):
        pytest.skip("%s predates akida 2.3.3: input dims are in the undecoded typed parameters" % os.path.basename(path))
    p = oracle.layers[0].parameters
    if "input_x" in p:
        expected = [p["input_x"], p.get("input_y", 0), p["input_channels"]]
    else:
        expected = [p["input_width"], p["input_height"], p["input_channels"]]
    shape = list(dump_json(path)["input_shape"])
    # Accept a leading batch dimension if the dump prints one.
    assert shape[-3:] == expected and len(shape) in (3, 4), "dump input_shape %r, expected %r" % (shape, expected)
