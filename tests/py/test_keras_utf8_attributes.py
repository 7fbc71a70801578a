"""The Keras reader takes string attributes in either form HDF5 files hold them.

Keras writes `model_config` as fixed-length ASCII bytes; h5py writes a Python `str` as a
variable-length UTF-8 string (as do tools that rewrite configs). HDF5 does not convert between
the two character sets, so a reader that asks for ASCII fails on the UTF-8 form.
"""
import os
import pathlib
import shutil
import subprocess

import h5py
import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("CNN2SNN_SOURCE_DIR", pathlib.Path(__file__).parents[2]))
BIN_DIR = os.environ.get("CNN2SNN_BIN_DIR")
EXAMPLE = SOURCE_DIR / "examples" / "ds_cnn_kws_i8_w8_a8.h5"


def convert(model, out):
    subprocess.run([os.path.join(BIN_DIR, "cnn2snn"), "convert", "-m", str(model), "-o", str(out)],
                   check=True, capture_output=True, text=True)
    return out.read_bytes()


@pytest.mark.skipif(not BIN_DIR, reason="CNN2SNN_BIN_DIR is not set (run through ctest)")
def test_utf8_model_config_converts_like_the_ascii_one(tmp_path):
    utf8 = tmp_path / "utf8.h5"
    shutil.copy(EXAMPLE, utf8)
    with h5py.File(utf8, "r+") as f:
        text = f.attrs["model_config"]
        text = text.decode() if isinstance(text, bytes) else text
        del f.attrs["model_config"]
        f.attrs["model_config"] = text  # a str: variable-length UTF-8
        assert h5py.check_string_dtype(f.attrs.get_id("model_config").dtype).encoding == "utf-8"
    assert convert(utf8, tmp_path / "utf8.fbz") == convert(EXAMPLE, tmp_path / "ascii.fbz")
