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
