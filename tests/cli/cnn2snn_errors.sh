#!/usr/bin/env bash
# `cnn2snn` error reports: exit status 1, one "cnn2snn: error:" message naming the file, and no
# file written or touched (deprecated actions, corrupt models, .fbz inputs, a bad target version,
# an output that is the input).
set -euo pipefail
BIN_DIR=$(cd "$1" && pwd) SOURCE_DIR=$(cd "$2" && pwd)
DS_CNN=$SOURCE_DIR/examples/ds_cnn_kws_i8_w8_a8.h5
FBZ=$SOURCE_DIR/../shared/fixtures/fbz/tennst_int8_v2_2.17.fbz
PY=/usr/bin/python3
CNN2SNN=$BIN_DIR/cnn2snn
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cp "$DS_CNN" "$WORK/model.h5"
# Files whose bytes must not change, and the directory listing that must stay as it is.
snapshot() { (cd "$WORK" && ls -A | grep -v '^std' | sort && md5sum model.h5); }

expect_error() {  # STATUS WORDS -- ARGS...
  local expected=$1 words=$2
  shift 3
  local before status=0
  before=$(snapshot)
  "$CNN2SNN" "$@" > "$WORK/stdout" 2> "$WORK/stderr" || status=$?
  [[ $status -eq $expected ]] || fail "cnn2snn $* exited $status, expected $expected: $(cat "$WORK/stderr")"
  grep -q "^cnn2snn: error: " "$WORK/stderr" || fail "cnn2snn $*: no 'cnn2snn: error:' prefix: $(cat "$WORK/stderr")"
  grep -qF -- "$words" "$WORK/stderr" || fail "cnn2snn $*: message lacks '$words': $(cat "$WORK/stderr")"
  [[ $(snapshot) == "$before" ]] || fail "cnn2snn $* created or changed a file"
}

# Deprecated legacy actions, with their old arguments: an error, nothing written.
expect_error 1 "'quantize' is deprecated" -- quantize -m "$WORK/model.h5" -wq 4 -aq 4 -iq 8
expect_error 1 "'reshape' is deprecated" -- reshape -m "$WORK/model.h5" -ih 32 -iw 32
expect_error 1 "'calibrate' is deprecated" -- calibrate adaround -sa "$WORK/samples.npz" -m "$WORK/model.h5"
expect_error 1 "QuantizeML" -- quantize -m "$WORK/model.h5"

# Corrupt and wrong inputs: exit 1, message names the file, no output file.
head -c 3000 "$DS_CNN" > "$WORK/truncated.h5"
expect_error 1 "$WORK/truncated.h5" -- convert -m "$WORK/truncated.h5"
[[ ! -e $WORK/truncated.fbz ]] || fail "a failed conversion wrote truncated.fbz"
printf 'not a model at all' > "$WORK/garbage.onnx"
expect_error 1 "not a quantized model" -- convert -m "$WORK/garbage.onnx"
[[ ! -e $WORK/garbage.fbz ]] || fail "a failed conversion wrote garbage.fbz"
"$PY" -c "open('$WORK/broken.onnx','wb').write(b'\x08\x07\x12\x05abc')"  # ir_version, then garbage
expect_error 1 "$WORK/broken.onnx" -- convert -m "$WORK/broken.onnx"
: > "$WORK/empty.h5"
expect_error 1 "$WORK/empty.h5" -- convert -m "$WORK/empty.h5" -o "$WORK/empty_out.fbz"
[[ ! -e $WORK/empty_out.fbz ]] || fail "a failed conversion wrote its -o file"
expect_error 1 "$WORK/absent.h5" -- convert -m "$WORK/absent.h5"
expect_error 1 "$WORK/absent.h5" -- check -m "$WORK/absent.h5"
expect_error 1 "$WORK/absent.h5" -- verify -m "$WORK/absent.h5" --random 1
if [[ -f $FBZ ]]; then
  cp "$FBZ" "$WORK/akida_model.fbz"
  expect_error 1 "is already an Akida model" -- convert -m "$WORK/akida_model.fbz" -o "$WORK/x.fbz"
  expect_error 1 "is already an Akida model" -- check -m "$WORK/akida_model.fbz"
  rm "$WORK/akida_model.fbz"
fi
# An output that is the input itself is refused (the atomic writer would replace the model).
expect_error 1 "is the input model" -- convert -m "$WORK/model.h5" -o "$WORK/model.h5"
# An output in a missing directory: an error naming it, nothing written.
expect_error 1 "$WORK/no/dir/out.fbz" -- convert -m "$WORK/model.h5" -o "$WORK/no/dir/out.fbz"
# A failed conversion leaves an existing output file as it was.
printf 'previous content' > "$WORK/keep.fbz"
expect_error 1 "not a quantized model" -- convert -m "$WORK/garbage.onnx" -o "$WORK/keep.fbz"
[[ $(cat "$WORK/keep.fbz") == "previous content" ]] || fail "a failed conversion changed keep.fbz"
rm "$WORK/keep.fbz" "$WORK/truncated.h5" "$WORK/garbage.onnx" "$WORK/broken.onnx" "$WORK/empty.h5"

# Target generation from the environment, as BrainChip's get_akida_version().
before=$(snapshot)
status=0
CNN2SNN_TARGET_AKIDA_VERSION=v3 "$CNN2SNN" convert -m "$WORK/model.h5" > /dev/null 2> "$WORK/stderr" || status=$?
[[ $status -eq 1 ]] || fail "CNN2SNN_TARGET_AKIDA_VERSION=v3 exited $status"
grep -qF "CNN2SNN_TARGET_AKIDA_VERSION=v3 must be one of ['v1', 'v2']" "$WORK/stderr" ||
  fail "bad target version message: $(cat "$WORK/stderr")"
status=0
CNN2SNN_TARGET_AKIDA_VERSION=v1 "$CNN2SNN" convert -m "$WORK/model.h5" > /dev/null 2> "$WORK/stderr" || status=$?
[[ $status -eq 1 ]] || fail "CNN2SNN_TARGET_AKIDA_VERSION=v1 exited $status"
# The 8-bit QuantizeML model is not a v1 model: cnn2snn's v1 block search refuses it.
grep -qF "model.h5: Model incompatible with akida v1 version." "$WORK/stderr" ||
  fail "v1 message: $(cat "$WORK/stderr")"
[[ $(snapshot) == "$before" ]] || fail "a refused target version wrote a file"
CNN2SNN_TARGET_AKIDA_VERSION=v2 "$CNN2SNN" convert -m "$WORK/model.h5" > /dev/null || fail "explicit v2 failed"
[[ -f $WORK/model.fbz ]] || fail "explicit v2 wrote nothing"

# Usage errors keep CLI11's codes (> 1) and the same one-line prefix.
status=0
"$CNN2SNN" convert 2> "$WORK/stderr" || status=$?
[[ $status -gt 1 ]] || fail "a missing -m exited $status"
grep -q "^cnn2snn: error: .*--model" "$WORK/stderr" || fail "usage error: $(cat "$WORK/stderr")"
status=0
"$CNN2SNN" verify -m "$WORK/model.h5" 2> "$WORK/stderr" || status=$?
[[ $status -gt 1 ]] || fail "verify without inputs exited $status"
status=0
"$CNN2SNN" verify -m "$WORK/model.h5" --random 2 -i x.npy 2> "$WORK/stderr" || status=$?
[[ $status -gt 1 ]] || fail "verify with -i and --random exited $status"
"$CNN2SNN" --help | grep -q "Exit status" || fail "--help does not document exit codes"
echo "cnn2snn errors: OK"
