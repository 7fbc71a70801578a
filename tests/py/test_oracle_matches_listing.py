"""The Python .fbz oracle, checked on its own before it is used to judge the C++ reader.

`docs/fixture-layers.txt` lists, for every fixture, the root table, every layer's name, inbound
layers and variables (shape, byte size, dtype code), decoded independently from the same files.
The oracle must reproduce that listing exactly.  Also checked: the Snappy container layout
(padding to Snappy's worst-case size) and hand-made Snappy streams.
"""

import ast
import os
import re
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbz_oracle  # noqa: E402


def shared_dir():
    source = os.environ.get("CNN2SNN_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    return os.path.join(source, "..", "shared")


def listing_path():
    path = os.path.join(shared_dir(), "docs", "fixture-layers.txt")
    if not os.path.isfile(path):
        pytest.skip("fixture listing %s not found (shared test material is not part of the repository)" % path)
    return path


def fixture_path(name):
    path = os.path.join(shared_dir(), "fixtures", "fbz", name)
    if not os.path.isfile(path):
        pytest.skip("fixture %s not found (BrainChip files live outside the repository, in ../shared/fixtures)" % path)
    return path


# ---------------------------------------------------------------------------------------------
# Listing parser
# ---------------------------------------------------------------------------------------------

VAR_RE = re.compile(r"(\w+)\(([\d, ]*)\):(\d+)B,k=(\d+)")
LAYER_RE = re.compile(r"^\s+layer (\S+)\s+inbound=(\[.*?\]) vars=\[(.*)\]$")
ROOT_RE = re.compile(r"^root fields=(\d+) version=(\S+) n_layers=(\d+) uncompressed_bytes=(\d+)$")
TOTAL_RE = re.compile(r"^\s+total variable payload bytes: (\d+)$")


def parse_listing(path):
    files = {}
    current = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("## "):
                current = {"layers": []}
                files[line[3:].strip()] = current
            elif current is None or not line.strip() or line.startswith("#"):
                continue
            elif ROOT_RE.match(line):
                m = ROOT_RE.match(line)
                current.update(root_fields=int(m.group(1)), version=ast.literal_eval(m.group(2)),
                               n_layers=int(m.group(3)), uncompressed=int(m.group(4)))
            elif LAYER_RE.match(line):
                m = LAYER_RE.match(line)
                variables = [(v[0], [int(d) for d in v[1].replace(" ", "").split(",") if d], int(v[2]), int(v[3]))
                             for v in VAR_RE.findall(m.group(3))]
                current["layers"].append((m.group(1), ast.literal_eval(m.group(2)), variables))
            elif TOTAL_RE.match(line):
                current["total"] = int(TOTAL_RE.match(line).group(1))
            else:
                raise AssertionError("unparsed listing line: %r" % line)
    return files


def listing():
    files = parse_listing(listing_path())
    assert len(files) >= 8, "listing parse found only %d files" % len(files)
    return files


LISTED = ["ei_fan_v1_2.3.3.fbz", "ei_gesture_v1_pre2.3.fbz", "ei_inventory_v1.fbz", "ei_fomo_v1.fbz",
          "akidanet_vww_i8_w8_a8_v2_2.11.fbz", "hotdog_edge_v1_2021.fbz", "tennst_int8_v2_2.17.fbz",
          "tenn_v1.fbz"]


@pytest.mark.parametrize("name", LISTED)
def test_oracle_reproduces_listing(name):
    expected = listing()[name]
    model = fbz_oracle.load_fbz(fixture_path(name))

    assert model.root_fields == expected["root_fields"]
    assert model.version == expected["version"]
    assert model.uncompressed_size == expected["uncompressed"]
    assert len(model.layers) == expected["n_layers"]

    total = 0
    for layer, (lname, inbound, variables) in zip(model.layers, expected["layers"]):
        assert layer.name == lname
        assert layer.inbound == inbound, lname
        got = [(v.name, v.shape, len(v.raw), v.dtype_code) for v in layer.variables.values()]
        assert got == variables, lname
        for v in layer.variables.values():
            # The bytes must decode to exactly shape-many values of the dtype.
            assert v.values.shape == tuple(v.shape)
            total += len(v.raw)
    assert total == expected["total"]


@pytest.mark.parametrize("name", LISTED)
def test_container_is_padded_to_snappy_max_length(name):
    with open(fixture_path(name), "rb") as f:
        data = f.read()
    n = fbz_oracle.snappy_uncompressed_length(data)
    assert len(data) == fbz_oracle.snappy_max_compressed_length(n)
    payload, consumed = fbz_oracle.snappy_decompress(data)
    assert len(payload) == n
    assert consumed < len(data)  # the rest is padding, and must not be read as tags


def test_value_ranges_follow_the_documented_dtypes():
    """Spot checks of decoded values against facts stated in the docs (not from the C++ code)."""
    vww = fbz_oracle.load_fbz(fixture_path("akidanet_vww_i8_w8_a8_v2_2.11.fbz"))
    for layer in vww.layers:
        if layer.name == "dequantizer":
            assert layer.var("scales").dtype == np.float32
            continue
        w = layer.var("weights")
        assert w.dtype == np.int8 and -127 <= w.min() and w.max() <= 127  # symmetric int8
        scales = layer.var("output_scales")
        if layer.name == "classifier":
            assert (scales == 1).all() and (layer.var("output_shift") == 0).all()
        else:
            assert 128 <= scales.min() and scales.max() <= 255  # normalized 8-bit mantissas
    assert vww.layer("conv_0").parameters["layer_type"] == 15
    assert vww.layer("conv_0").var("output_shift")[0] == -17  # 0xEF as quoted in akida-spec §5
    assert vww.layer("pw_separable_13").var("output_shift").min() == -27  # GAP layer
    # 4-bit weights lie in [-7, 7]; 1-bit weights in {0, 1}.
    inv = fbz_oracle.load_fbz(fixture_path("ei_inventory_v1.fbz"))
    w4 = inv.layer("conv_1").var("weights")
    assert w4.min() >= -7 and w4.max() <= 7
    hot = fbz_oracle.load_fbz(fixture_path("hotdog_edge_v1_2021.fbz"))
    w1 = hot.layer("akida_edge_layer").var("weights")
    assert set(np.unique(w1)) <= {0, 1}
    # Pre-2.3 parameters are not decoded by the oracle.
    assert fbz_oracle.load_fbz(fixture_path("ei_fomo_v1.fbz")).layers[0].parameters is None


# ---------------------------------------------------------------------------------------------
# Hand-made Snappy streams (no fixture needed)
# ---------------------------------------------------------------------------------------------

def test_snappy_literal_and_overlapping_copy_then_padding_ignored():
    # n = 10; literal "ab" (tag (2-1)<<2); copy-1 of length 8 at offset 2 (tag ((8-4)<<2)|1, offset
    # byte 2): an overlapping copy that repeats "ab"; then stale bytes a whole-file decoder would
    # choke on.
    stream = bytes([10, 0x04]) + b"ab" + bytes([0x11, 0x02]) + b"\xffsequential"
    payload, consumed = fbz_oracle.snappy_decompress(stream)
    assert payload == b"ababababab"
    assert consumed == 6


def test_snappy_long_literal_and_two_byte_offset_copy():
    text = bytes(range(256)) * 2  # 512 bytes
    # literal of 256 bytes: tag 60<<2 then one length byte (256-1); copy-2 of 64 bytes at offset
    # 256 (tag (64-1)<<2 | 2), four times -> 256 + 256 = 512 bytes.
    stream = bytearray([0x80, 0x04])  # varint 512
    stream += bytes([60 << 2, 255]) + text[:256]
    for _ in range(4):
        stream += bytes([(63 << 2) | 2]) + (256).to_bytes(2, "little")
    payload, consumed = fbz_oracle.snappy_decompress(bytes(stream) + bytes(20))
    assert payload == text
    assert consumed == len(stream)


def test_snappy_rejects_bad_offset_and_truncation():
    with pytest.raises(fbz_oracle.FbzError):
        fbz_oracle.snappy_decompress(bytes([4, 0x00]) + b"a" + bytes([0x01, 0x05]))  # offset 5 > 1
    with pytest.raises(fbz_oracle.FbzError):
        fbz_oracle.snappy_decompress(bytes([9, 0x04]) + b"ab")  # stream ends at 2 of 9 bytes
