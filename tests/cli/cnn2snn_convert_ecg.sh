#!/usr/bin/env bash
# `cnn2snn convert` on the real QuantizeML ECG model (fixture h5/ecg_i8_w8_a8_quantizeml.h5): the
# authors report the same accuracy for the quantized model and its Akida conversion, so it must
# convert, and the converted model must run on the runtime.
set -euo pipefail
BIN_DIR=$(cd "$1" && pwd) SOURCE_DIR=$(cd "$2" && pwd)
ECG=$SOURCE_DIR/../shared/fixtures/h5/ecg_i8_w8_a8_quantizeml.h5
PY=/usr/bin/python3
if [[ ! -f $ECG ]]; then echo "SKIP cnn2snn_convert_ecg: $ECG is absent"; exit 0; fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cp "$ECG" "$WORK/ecg.h5"
"$BIN_DIR/cnn2snn" convert -m "$WORK/ecg.h5" || fail "the ECG model does not convert (see the error above)"
[[ -f $WORK/ecg.fbz ]] || fail "ecg.fbz was not written beside ecg.h5"
"$PY" -c "import numpy as np; np.save('$WORK/in.npy', np.random.default_rng(1).integers(0, 5, (2, 128, 128, 1), dtype=np.uint8))"
"$BIN_DIR/akida" run -m "$WORK/ecg.fbz" -i "$WORK/in.npy" -o "$WORK/out.npy" > /dev/null
"$BIN_DIR/cnn2snn" run -m "$WORK/ecg.h5" -i "$WORK/in.npy" -o "$WORK/ref.npy" > /dev/null
cmp -s "$WORK/out.npy" "$WORK/ref.npy" || fail "akida run and cnn2snn run disagree on the ECG model"
echo "cnn2snn convert (ECG): OK"
