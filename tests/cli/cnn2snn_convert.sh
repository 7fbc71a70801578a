#!/usr/bin/env bash
# `cnn2snn convert`: BrainChip's own conversion of the TENNs fixture is reproduced exactly, the
# DS-CNN example converts, -o and the default output path work, -sc/-sh only warn.
set -euo pipefail
BIN_DIR=$(cd "$1" && pwd) SOURCE_DIR=$(cd "$2" && pwd)
FIXTURES=$SOURCE_DIR/../shared/fixtures
ONNX=$FIXTURES/onnx/tennst_int8_quantizeml.onnx
BRAINCHIP_FBZ=$FIXTURES/fbz/tennst_int8_v2_2.17.fbz
DS_CNN=$SOURCE_DIR/examples/ds_cnn_kws_i8_w8_a8.h5
PY=/usr/bin/python3
CNN2SNN=$BIN_DIR/cnn2snn AKIDA=$BIN_DIR/akida
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Two dumps equal except the writer's version string.
same_model() {  # A.fbz B.fbz
  "$AKIDA" dump "$1" > "$WORK/a.json"
  "$AKIDA" dump "$2" > "$WORK/b.json"
  "$PY" - "$WORK/a.json" "$WORK/b.json" <<'PYTHON'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
a.pop("version", None); b.pop("version", None)
if a != b:
    la, lb = a.get("layers", []), b.get("layers", [])
    print(f"layer counts {len(la)} / {len(lb)}", file=sys.stderr)
    for x, y in zip(la, lb):
        if x != y:
            keys = [k for k in set(x) | set(y) if x.get(k) != y.get(k)]
            print(f"first different layer: {x.get('name')} / {y.get('name')}: {keys}", file=sys.stderr)
            break
    sys.exit(1)
PYTHON
}

# --- the ONNX fixture: BrainChip's conversion, bit for bit (but the version string) ---------
if [[ -f $ONNX && -f $BRAINCHIP_FBZ ]]; then
  out=$("$CNN2SNN" convert -m "$ONNX" -o "$WORK/tennst.fbz")
  [[ $out == "Model successfully converted and saved as $WORK/tennst.fbz." ]] || fail "convert said: $out"
  same_model "$WORK/tennst.fbz" "$BRAINCHIP_FBZ" || fail "tennst conversion differs from BrainChip's"
  # By content, not by extension: the same ONNX bytes under another name.
  cp "$ONNX" "$WORK/tennst.model"
  "$CNN2SNN" convert -m "$WORK/tennst.model" > /dev/null
  [[ -f $WORK/tennst.fbz ]] || fail "no default output for a .model file"
  same_model "$WORK/tennst.fbz" "$BRAINCHIP_FBZ" || fail "tennst.model conversion differs"
else
  echo "SKIP (part): $ONNX or $BRAINCHIP_FBZ is absent"
fi

# --- the DS-CNN example: default output beside the input, and -o --------------------------
cp "$DS_CNN" "$WORK/ds_cnn.h5"
out=$(cd "$WORK" && "$CNN2SNN" convert -m ds_cnn.h5)
[[ $out == "Model successfully converted and saved as ds_cnn.fbz." ]] || fail "default output: $out"
[[ -f $WORK/ds_cnn.fbz ]] || fail "ds_cnn.fbz was not written beside the input"
mkdir "$WORK/out"
"$CNN2SNN" convert -m "$WORK/ds_cnn.h5" -o "$WORK/out/kws.fbz" > /dev/null
cmp -s "$WORK/ds_cnn.fbz" "$WORK/out/kws.fbz" || fail "-o wrote other bytes than the default path"
"$AKIDA" summary "$WORK/out/kws.fbz" | grep -q "InputConv2D" || fail "the DS-CNN model has no InputConv2D"
# A dump of the DS-CNN conversion names every Keras block as BrainChip's converter does.
"$AKIDA" dump "$WORK/out/kws.fbz" | "$PY" -c '
import json, sys
names = [l["name"] for l in json.load(sys.stdin)["layers"]]
assert names[0] == "conv_0" and names[-1] == "dequantizer", names
assert "pw_separable_4" in names and "dense_5" in names, names
'

# --- deprecated input scaling: accepted, warned about, ignored -----------------------------
"$CNN2SNN" convert -m "$WORK/ds_cnn.h5" -o "$WORK/scaled.fbz" -sc 255 -sh 0 > "$WORK/stdout" 2> "$WORK/stderr"
grep -q "deprecated" "$WORK/stderr" || fail "-sc/-sh gave no deprecation warning"
cmp -s "$WORK/ds_cnn.fbz" "$WORK/scaled.fbz" || fail "-sc/-sh changed the converted model"
"$CNN2SNN" convert -m "$WORK/ds_cnn.h5" -o "$WORK/scaled2.fbz" --scale 2 > /dev/null 2> "$WORK/stderr"
grep -q "deprecated" "$WORK/stderr" || fail "--scale gave no deprecation warning"
"$CNN2SNN" convert -m "$WORK/ds_cnn.h5" -o "$WORK/quiet.fbz" > /dev/null 2> "$WORK/stderr"
[[ ! -s $WORK/stderr ]] || fail "a plain conversion wrote to stderr: $(cat "$WORK/stderr")"

"$CNN2SNN" --help | grep -q "convert" || fail "--help does not list convert"
"$CNN2SNN" convert --help | grep -q -- "--output" || fail "convert --help does not list --output"
[[ $("$CNN2SNN" --version) == "$("$CNN2SNN" version)" ]] || fail "--version and version differ"
echo "cnn2snn convert: OK"
