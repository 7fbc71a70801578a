"""Independent decoder of Akida ``.fbz`` model files (test oracle).

Written from ``docs/fbz-format.md`` / ``akida-spec.md`` §5 only, in plain Python + numpy, sharing
no code with the C++ reader under test, so that comparing the two means something.

Layers of the format handled here:

* Container: one raw Snappy block (varint uncompressed length ``n``, then literal/copy tags),
  padded up to ``32 + n + n // 6`` bytes.  The padding may hold stale bytes, so the decoder stops
  as soon as it has produced ``n`` bytes and reports how many input bytes it consumed.
* Payload: a FlatBuffer without file identifier.  Only the few tables we need are walked:

  - root:      f0 ``[Layer]``, f2 version string (absent before akida 2.3.3)
  - Layer:     f1 name, f2 ``[Variable]``, f3 parameters, f4 ``[string]`` inbound names
  - Variable:  f0 name, f1 shape ``[uint32]``, f2 data ``[ubyte]``, f3 dtype code (ubyte)
  - parameters (2.3.3 and later): layer.f3 -> table.f3 -> table.f0 -> vector of entries
    (f0 key string, f1 int32 value); an entry whose value is absent means 0 (FlatBuffers
    omits scalars equal to their default).

The pre-2.3 typed parameter table is *not* decoded: ``Layer.parameters`` is ``None`` there.
"""

import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

# dtype code -> numpy dtype of the raw little-endian bytes as stored (fbz-format.md table).
# 6 (1-bit) and 7 (4-bit signed) are stored one value per byte.
DTYPE_CODES = {
    0: np.dtype("<i4"),  # int32
    1: np.dtype("<f4"),  # float32
    2: np.dtype("u1"),   # uint8
    3: np.dtype("i1"),   # int8
    6: np.dtype("u1"),   # 1-bit (0/1), one per byte
    7: np.dtype("i1"),   # 4-bit signed, one per byte
}

# Names used by the C++ ``akida dump --json`` for the same codes.
DTYPE_NAMES = {0: "int32", 1: "float32", 2: "uint8", 3: "int8", 6: "bit1", 7: "int4"}


class FbzError(ValueError):
    """Malformed or unsupported input."""


# --------------------------------------------------------------------------------------------
# Raw Snappy
# --------------------------------------------------------------------------------------------

def _read_varint(data: bytes, pos: int):
    value = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise FbzError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 35:
            raise FbzError("varint too long")


def snappy_uncompressed_length(data: bytes) -> int:
    return _read_varint(data, 0)[0]


def snappy_max_compressed_length(n: int) -> int:
    """Snappy's worst-case output size; .fbz writers pad the file to exactly this."""
    return 32 + n + n // 6


def snappy_decompress(data: bytes):
    """Decode one raw Snappy block; stop once the announced length is produced.

    Returns ``(payload, consumed)`` where ``consumed`` is the number of input bytes used
    (the rest of the file is padding and is ignored on purpose).
    """
    n, pos = _read_varint(data, 0)
    out = bytearray()
    while len(out) < n:
        if pos >= len(data):
            raise FbzError("snappy stream ends before %d bytes were produced" % n)
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            length = tag >> 2
            if length >= 60:  # the length itself follows in 1..4 little-endian bytes
                nbytes = length - 59
                length = int.from_bytes(data[pos:pos + nbytes], "little")
                pos += nbytes
            length += 1
            if pos + length > len(data):
                raise FbzError("snappy literal runs past end of input")
            out += data[pos:pos + length]
            pos += length
            continue
        if kind == 1:  # copy, 11-bit offset, length 4..11
            length = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:  # copy, 16-bit offset
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 2], "little")
            pos += 2
        else:  # copy, 32-bit offset
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        if offset == 0 or offset > len(out):
            raise FbzError("snappy copy offset %d out of range at output %d" % (offset, len(out)))
        start = len(out) - offset
        if offset >= length:
            out += out[start:start + length]
        else:
            # Overlapping copy: the source repeats with period `offset`.
            pattern = bytes(out[start:])
            reps = -(-length // offset)
            out += (pattern * reps)[:length]
    if len(out) != n:
        raise FbzError("snappy produced %d bytes, expected %d" % (len(out), n))
    return bytes(out), pos


# --------------------------------------------------------------------------------------------
# Minimal FlatBuffers walker
# --------------------------------------------------------------------------------------------

class FlatBuffer:
    """Bounds-checked access to tables, vectors and strings of a FlatBuffer."""

    def __init__(self, buf: bytes):
        self.buf = buf

    def _check(self, pos: int, size: int):
        if pos < 0 or pos + size > len(self.buf):
            raise FbzError("flatbuffer access [%d, %d) out of bounds (%d)" % (pos, pos + size, len(self.buf)))

    def u8(self, pos):
        self._check(pos, 1)
        return self.buf[pos]

    def u16(self, pos):
        self._check(pos, 2)
        return struct.unpack_from("<H", self.buf, pos)[0]

    def u32(self, pos):
        self._check(pos, 4)
        return struct.unpack_from("<I", self.buf, pos)[0]

    def i32(self, pos):
        self._check(pos, 4)
        return struct.unpack_from("<i", self.buf, pos)[0]

    def root(self) -> int:
        return self.u32(0)

    def field_pos(self, table: int, index: int) -> Optional[int]:
        """Absolute position of field `index` of `table`, or None if absent."""
        vtable = table - self.i32(table)  # soffset: table minus vtable position
        vtable_size = self.u16(vtable)
        slot = 4 + 2 * index
        if slot + 2 > vtable_size:
            return None
        offset = self.u16(vtable + slot)
        return table + offset if offset else None

    def deref(self, pos: int) -> int:
        """Follow a uoffset (relative to its own position)."""
        return pos + self.u32(pos)

    def table_field(self, table, index) -> Optional[int]:
        pos = self.field_pos(table, index)
        return None if pos is None else self.deref(pos)

    def vector(self, table, index):
        """(start, count) of a vector field; (0, 0) when absent."""
        pos = self.field_pos(table, index)
        if pos is None:
            return 0, 0
        vec = self.deref(pos)
        count = self.u32(vec)
        return vec + 4, count

    def string_at(self, pos: int) -> str:
        length = self.u32(pos)
        self._check(pos + 4, length)
        return self.buf[pos + 4:pos + 4 + length].decode("utf-8")

    def string(self, table, index) -> Optional[str]:
        pos = self.field_pos(table, index)
        return None if pos is None else self.string_at(self.deref(pos))

    def table_vector(self, table, index) -> List[int]:
        start, count = self.vector(table, index)
        return [self.deref(start + 4 * k) for k in range(count)]

    def string_vector(self, table, index) -> List[str]:
        start, count = self.vector(table, index)
        return [self.string_at(self.deref(start + 4 * k)) for k in range(count)]

    def bytes_vector(self, table, index) -> bytes:
        start, count = self.vector(table, index)
        if count:
            self._check(start, count)
        return self.buf[start:start + count]

    def u32_vector(self, table, index) -> List[int]:
        start, count = self.vector(table, index)
        return [self.u32(start + 4 * k) for k in range(count)]


# --------------------------------------------------------------------------------------------
# Model objects
# --------------------------------------------------------------------------------------------

@dataclass
class Variable:
    name: str
    shape: List[int]
    dtype_code: int
    raw: bytes

    @property
    def dtype_name(self) -> str:
        return DTYPE_NAMES[self.dtype_code]

    @property
    def values(self) -> np.ndarray:
        """Values with their stored shape, decoded from the raw bytes with numpy."""
        if self.dtype_code not in DTYPE_CODES:
            raise FbzError("variable %s: unknown dtype code %d" % (self.name, self.dtype_code))
        dt = DTYPE_CODES[self.dtype_code]
        count = int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1
        if len(self.raw) != count * dt.itemsize:
            raise FbzError("variable %s: %d bytes for shape %s of %s" % (self.name, len(self.raw), self.shape, dt))
        return np.frombuffer(self.raw, dtype=dt).reshape(self.shape)


@dataclass
class Layer:
    name: str
    inbound: List[str]
    parameters: Optional[Dict[str, int]]  # None: pre-2.3 typed parameters (not decoded)
    variables: Dict[str, Variable] = field(default_factory=dict)  # in file order (sorted by name)

    @property
    def layer_type(self) -> Optional[int]:
        return None if self.parameters is None else self.parameters.get("layer_type", 0)

    def param(self, key: str, default: int = 0) -> int:
        return self.parameters.get(key, default)

    def var(self, name: str) -> Optional[np.ndarray]:
        v = self.variables.get(name)
        return None if v is None else v.values


@dataclass
class FbzModel:
    version: Optional[str]
    layers: List[Layer]
    uncompressed_size: int
    consumed: int    # compressed bytes actually used by the Snappy stream
    file_size: int
    root_fields: int  # vtable slots of the root table (3 with a version string, 1 before 2.3)

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(name)


def version_tuple(version: Optional[str]):
    if not version:
        return ()
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def has_keyed_parameters(version: Optional[str]) -> bool:
    """2.3.3 and later store parameters as a key-sorted (string, int32) list."""
    return version_tuple(version) >= (2, 3, 3)


def _decode_keyed_parameters(fb: FlatBuffer, layer_table: int) -> Dict[str, int]:
    params_table = fb.table_field(layer_table, 3)
    if params_table is None:
        return {}
    inner = fb.table_field(params_table, 3)
    if inner is None:
        return {}
    result = {}
    for entry in fb.table_vector(inner, 0):
        key = fb.string(entry, 0)
        if key is None:
            raise FbzError("parameter entry without key")
        value_pos = fb.field_pos(entry, 1)
        # Absent value: FlatBuffers omitted a scalar equal to its default, 0.
        result[key] = fb.i32(value_pos) if value_pos is not None else 0
    return result


def decode_payload(payload: bytes):
    """Walk the FlatBuffer payload; returns (version, [Layer])."""
    fb = FlatBuffer(payload)
    root = fb.root()
    version = fb.string(root, 2)
    keyed = has_keyed_parameters(version)
    layers = []
    for lt in fb.table_vector(root, 0):
        name = fb.string(lt, 1)
        variables = {}
        for vt in fb.table_vector(lt, 2):
            vname = fb.string(vt, 0)
            code_pos = fb.field_pos(vt, 3)
            code = fb.u8(code_pos) if code_pos is not None else 0  # default code 0 = int32
            variables[vname] = Variable(vname, fb.u32_vector(vt, 1), code, fb.bytes_vector(vt, 2))
        params = _decode_keyed_parameters(fb, lt) if keyed else None
        layers.append(Layer(name, fb.string_vector(lt, 4), params, variables))
    return version, layers


def decode_fbz_bytes(data: bytes) -> FbzModel:
    payload, consumed = snappy_decompress(data)
    version, layers = decode_payload(payload)
    fb = FlatBuffer(payload)
    root = fb.root()
    root_fields = (fb.u16(root - fb.i32(root)) - 4) // 2
    return FbzModel(version, layers, len(payload), consumed, len(data), root_fields)


def load_fbz(path) -> FbzModel:
    with open(path, "rb") as f:
        return decode_fbz_bytes(f.read())


if __name__ == "__main__":  # quick manual inspection: python3 fbz_oracle.py FILE.fbz
    import sys
    m = load_fbz(sys.argv[1])
    print("version", m.version, "payload", m.uncompressed_size, "consumed", m.consumed, "file", m.file_size)
    for lay in m.layers:
        print(lay.name, lay.inbound, lay.parameters)
        for v in lay.variables.values():
            print("   ", v.name, v.shape, v.dtype_name, v.values.ravel()[:8])
