#!/usr/bin/env bash
# `cnn2snn` for Akida 1.0 (CNN2SNN_TARGET_AKIDA_VERSION=v1): convert, check and verify a
# QuantizeML 4-bit pattern model (tools/quantizeml_h5 --all-v1); the converted file shows v1
# layers; the legacy CNN2SNN DS-CNN example converts to Akida 1.0.
set -euo pipefail
BIN_DIR=$(cd "$1" && pwd) SOURCE_DIR=$(cd "$2" && pwd)
PY=/usr/bin/python3
CNN2SNN=$BIN_DIR/cnn2snn
AKIDA=$BIN_DIR/akida
LEGACY=$SOURCE_DIR/examples/ds_cnn_kws_iq8_wq4_aq4_laq1.h5
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export CNN2SNN_TARGET_AKIDA_VERSION=v1

(cd "$SOURCE_DIR" && "$PY" -m tools.quantizeml_h5 --all-v1 "$WORK/models" > /dev/null) ||
  fail "tools.quantizeml_h5 --all-v1"
MODEL=$WORK/models/v1_conv_relu.h5

# convert: an .fbz of Akida 1.0 layers (InputConvolutional, Convolutional).
"$CNN2SNN" convert -m "$MODEL" -o "$WORK/v1.fbz" > "$WORK/stdout" || fail "convert exited $?"
grep -qF "Model successfully converted and saved as $WORK/v1.fbz." "$WORK/stdout" ||
  fail "convert output: $(cat "$WORK/stdout")"
# ... and says how many activated neurons got an exact threshold/act_step pair, per layer; the
# per-layer counts add up to the total.
"$PY" - "$WORK/stdout" <<'PYEOF' || fail "convert's exact-neuron line: $(cat "$WORK/stdout")"
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"Akida 1\.0: exact threshold/act_step for (\d+) of (\d+) activated neurons "
              r"\([^)]*%\): (.*?)(;|\.\n)", text)
assert m, text
layers = re.findall(r"(\w+) (\d+)/(\d+)", m.group(3))
assert [name for name, _, _ in layers] == ["stem_conv", "conv"], layers
assert sum(int(e) for _, e, _ in layers) == int(m.group(1)), layers
assert sum(int(n) for _, _, n in layers) == int(m.group(2)), layers
PYEOF
"$AKIDA" summary "$WORK/v1.fbz" > "$WORK/summary" || fail "akida summary exited $?"
grep -qE "^stem_conv \(InputConv\.\)" "$WORK/summary" || fail "no InputConv. layer: $(cat "$WORK/summary")"
grep -qE "^conv \(Conv\.\)" "$WORK/summary" || fail "no Conv. layer: $(cat "$WORK/summary")"

# check: the v1 rules find nothing; JSON names the target.
"$CNN2SNN" check -m "$MODEL" > "$WORK/stdout" || fail "check exited $?"
grep -qF "$MODEL: compatible with Akida 1.0" "$WORK/stdout" || fail "check: $(cat "$WORK/stdout")"
"$CNN2SNN" check -m "$MODEL" --json > "$WORK/json" || fail "check --json exited $?"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["target"]=="v1" and d["compatible"], d' \
  "$WORK/json" || fail "check --json: $(cat "$WORK/json")"

# verify: every layer compared, the exit status agreeing with the report (1 when a layer
# differs: neurons that keep BrainChip's threshold/act_step differ on some level boundaries,
# docs/akida-v1.md); the final Dequantizer is compared inside the last layer's predict().
status=0
"$CNN2SNN" verify -m "$MODEL" --random 64 --seed 3 > "$WORK/verify" || status=$?
grep -qF "$MODEL converted to Akida 1.0 in memory" "$WORK/verify" || fail "verify: $(cat "$WORK/verify")"
for layer in "stem_conv +InputConvolutional" "conv +Convolutional" "head_conv +Convolutional" \
             "dequantizer +Dequantizer \(in head_conv\)"; do
  grep -qE "^$layer " "$WORK/verify" || fail "verify lacks '$layer': $(cat "$WORK/verify")"
done
if grep -q "DIFFERENT" "$WORK/verify"; then
  [[ $status -eq 1 ]] || fail "verify found a difference but exited $status"
  grep -qE "^[0-9]+ layers? differ$" "$WORK/verify" || fail "verify summary: $(cat "$WORK/verify")"
else
  [[ $status -eq 0 ]] || fail "verify found no difference but exited $status"
  grep -qx "all layers equal" "$WORK/verify" || fail "verify summary: $(cat "$WORK/verify")"
fi
# --json: the same verdicts and exit status, with the counts.
json_status=0
"$CNN2SNN" verify -m "$MODEL" --random 64 --seed 3 --json > "$WORK/verify.json" || json_status=$?
[[ $json_status -eq $status ]] || fail "verify --json exited $json_status, the table $status"
"$PY" - "$WORK/verify.json" "$WORK/verify" <<'PYEOF' || fail "verify --json: $(cat "$WORK/verify.json")"
import json, sys
report = json.load(open(sys.argv[1]))
table = open(sys.argv[2]).read()
assert report["target"] == "v1" and report["samples"] == 64, report
for layer in report["layers"]:
    if layer["result"] == "not_compared":
        continue
    row = f"{layer['differing_values']} of {layer['compared_values']}"
    assert row in table, (row, table)
    assert (layer["result"] == "equal") == (layer["differing_values"] == 0), layer
out = report["output"]
assert out["layer"] == "dequantizer" and out["samples"] == 64, out
assert f"top-1 agreement on dequantizer: {out['top1_agreeing']} of 64 samples" in table, table
PYEOF
# Potentials (head_conv, no activation) are compared in the block's units: fed equal inputs they
# are equal, so a difference there can only come from an earlier layer.
if ! grep -qE "^(stem_conv|conv) .*DIFFERENT" "$WORK/verify"; then
  grep -qE "^head_conv .*equal$" "$WORK/verify" || fail "head_conv differs alone: $(cat "$WORK/verify")"
fi

# Legacy CNN2SNN models: the seed's v1 command converts the bundled DS-CNN to Akida 1.0 (also
# without the variable: legacy models always target 1.0); check and verify run on it.
for target in v1 v2; do
  CNN2SNN_TARGET_AKIDA_VERSION=$target "$CNN2SNN" convert -m "$LEGACY" -o "$WORK/legacy_$target.fbz" > "$WORK/stdout" ||
    fail "legacy convert ($target): $(cat "$WORK/stdout")"
  "$AKIDA" summary "$WORK/legacy_$target.fbz" > "$WORK/summary"
  for row in "conv_0 (InputConv.)" "separable_1 (Sep.Conv.)" "separable_4 (Sep.Conv.)" "dense_5 (Fully.)"; do
    grep -qF "$row" "$WORK/summary" || fail "legacy summary lacks '$row': $(cat "$WORK/summary")"
  done
done
cmp -s "$WORK/legacy_v1.fbz" "$WORK/legacy_v2.fbz" || fail "the target changed a legacy conversion"
"$CNN2SNN" check -m "$LEGACY" > "$WORK/stdout" || fail "legacy check: $(cat "$WORK/stdout")"
grep -q "compatible with Akida 1.0" "$WORK/stdout" || fail "legacy check: $(cat "$WORK/stdout")"
# verify compares every layer; BrainChip's threshold/act_step form cannot reproduce every level
# boundary of the float model (docs/akida-v1.md), so some layers may differ (exit 1), never crash.
status=0
"$CNN2SNN" verify -m "$LEGACY" -i "$SOURCE_DIR/examples/ds_cnn_kws_samples.npy" > "$WORK/stdout" || status=$?
[[ $status -le 1 ]] || fail "legacy verify exited $status"
grep -q "converted to Akida 1.0 in memory" "$WORK/stdout" || fail "legacy verify: $(cat "$WORK/stdout")"
for layer in conv_0 separable_1 separable_2 separable_3 separable_4 dense_5; do
  grep -qE "^$layer +[A-Za-z]+ +\[" "$WORK/stdout" || fail "legacy verify lacks $layer: $(cat "$WORK/stdout")"
done
echo "cnn2snn v1: ok"
