#!/usr/bin/env bash
# `cnn2snn verify --threads N`: the same report and exit status whatever N (the evaluator's
# samples and the runtime's split over the threads), on the DS-CNN example (samples in parallel)
# and, when the fixtures are present, on the temporal TENNs model (samples in order).
set -euo pipefail
BIN_DIR=$1 SOURCE_DIR=$2
CNN2SNN=$BIN_DIR/cnn2snn
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

models=("$SOURCE_DIR/examples/ds_cnn_kws_i8_w8_a8.h5")
TENNS=$SOURCE_DIR/../shared/fixtures/onnx/tennst_int8_quantizeml.onnx
[[ -f $TENNS ]] && models+=("$TENNS")
for model in "${models[@]}"; do
  for threads in 1 2 3; do
    status=0
    "$CNN2SNN" verify -m "$model" --random 7 --seed 5 --threads $threads > "$WORK/report_$threads" || status=$?
    [[ $status -eq 0 ]] || fail "verify --threads $threads of $model exited $status: $(cat "$WORK/report_$threads")"
  done
  cmp -s "$WORK/report_1" "$WORK/report_2" || fail "$model: --threads 2 changed the report"
  cmp -s "$WORK/report_1" "$WORK/report_3" || fail "$model: --threads 3 changed the report"
done
status=0
"$CNN2SNN" verify -m "${models[0]}" --random 1 --threads -1 2> "$WORK/stderr" || status=$?
[[ $status -gt 1 ]] || fail "--threads -1 exited $status, expected a usage error"
echo "cnn2snn verify --threads: OK"
