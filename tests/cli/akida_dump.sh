#!/usr/bin/env bash
# `akida dump --json` on every real .fbz fixture: valid JSON whose layers, inbound lists and
# variables (name, shape, dtype, value count) equal shared/docs/fixture-layers.txt, a listing
# decoded from the files independently of this project.
set -euo pipefail
BIN_DIR=$1 SOURCE_DIR=$2
FIXTURES=$SOURCE_DIR/../shared/fixtures/fbz
LISTING=$SOURCE_DIR/../shared/docs/fixture-layers.txt
PY=/usr/bin/python3
if [[ ! -d $FIXTURES || ! -f $LISTING ]]; then
  echo "SKIP akida_dump: $FIXTURES or $LISTING is absent"
  exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for fbz in "$FIXTURES"/*.fbz; do
  "$BIN_DIR/akida" dump "$fbz" --json > "$WORK/$(basename "$fbz").json"
done
"$BIN_DIR/akida" dump --indent 2 "$FIXTURES/tenn_v1.fbz" > "$WORK/indented.json"

"$PY" - "$LISTING" "$WORK" <<'PYTHON'
import ast, json, re, sys
listing, work = sys.argv[1], sys.argv[2]
dtypes = {0: "int32", 1: "float32", 2: "uint8", 3: "int8", 6: "bit1", 7: "int4"}
files, current = {}, None
for line in open(listing):
    if line.startswith("## "):
        current = files.setdefault(line[3:].strip(), {"layers": []})
    elif line.startswith("root fields"):
        current["version"] = ast.literal_eval(re.search(r"version=(\S+)", line).group(1))
    elif line.strip().startswith("layer "):
        m = re.match(r"\s*layer (\S+)\s+inbound=(\[.*?\]) vars=\[(.*)\]$", line)
        variables = {}
        for v in re.finditer(r"(\w+)\(([\d, ]*)\):(\d+)B,k=(\d+)", m.group(3)):
            shape = [int(d) for d in v.group(2).replace(" ", "").split(",") if d]
            variables[v.group(1)] = (shape, dtypes[int(v.group(4))], int(v.group(3)))
        current["layers"].append((m.group(1), ast.literal_eval(m.group(2)), variables))
assert len(files) >= 8, files.keys()
for name, expected in files.items():
    dump = json.load(open(f"{work}/{name}.json"))
    assert dump["version"] == expected["version"], (name, dump["version"])
    layers = dump["layers"]
    assert len(layers) == len(expected["layers"]), (name, len(layers))
    for got, (lname, inbound, variables) in zip(layers, expected["layers"]):
        assert got["name"] == lname and got["inbound"] == inbound, (name, got["name"])
        assert set(got["variables"]) == set(variables), (name, lname, set(got["variables"]))
        assert isinstance(got["parameters"]["layer_type"], int)
        for vname, (shape, dtype, nbytes) in variables.items():
            v = got["variables"][vname]
            assert v["shape"] == shape and v["dtype"] == dtype, (name, lname, vname, v["shape"])
            size = 4 if dtype in ("int32", "float32") else 1
            assert len(v["values"]) * size == nbytes, (name, lname, vname)
            if dtype == "float32":
                assert all(isinstance(x, (int, float)) for x in v["values"])
            else:
                assert all(isinstance(x, int) for x in v["values"]), (name, lname, vname)
# The generation and types the files hold (fbz-format.md: v2 layer_type codes).
vww = json.load(open(f"{work}/akidanet_vww_i8_w8_a8_v2_2.11.fbz.json"))
assert vww["ip_version"] == "2.0" and vww["input_shape"] == [96, 96, 3], vww["input_shape"]
assert vww["output_shape"] == [1, 1, 2]
assert [l["type"] for l in vww["layers"][:2]] == ["InputConv2D", "Conv2D"]
assert vww["layers"][-1]["type"] == "Dequantizer" and vww["layers"][-1]["parameters"]["layer_type"] == 19
assert json.load(open(f"{work}/tenn_v1.fbz.json"))["ip_version"] == "1.0"
# 4-bit v1 weights stay within -7..7; pretty-printed output is the same document.
tenn = json.load(open(f"{work}/tenn_v1.fbz.json"))
w = tenn["layers"][1]["variables"]["weights"]["values"]
assert min(w) >= -7 and max(w) <= 7
assert json.load(open(f"{work}/indented.json")) == tenn
assert open(f"{work}/indented.json").read().startswith('{\n  "')
print(f"akida dump: {len(files)} fixtures OK")
PYTHON
