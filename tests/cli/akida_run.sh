#!/usr/bin/env bash
# `akida run` on the real AkidaNet VWW model with numpy-made batches, and its error reports.
set -euo pipefail
BIN_DIR=$1 SOURCE_DIR=$2
MODEL=$SOURCE_DIR/../shared/fixtures/fbz/akidanet_vww_i8_w8_a8_v2_2.11.fbz
PY=/usr/bin/python3
if [[ ! -f $MODEL ]]; then echo "SKIP akida_run: $MODEL is absent"; exit 0; fi
if ! "$PY" -c "import numpy" 2>/dev/null; then echo "SKIP akida_run: no numpy for $PY"; exit 0; fi
AKIDA=$BIN_DIR/akida
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$PY" - "$WORK" <<'PYTHON'
import numpy as np, sys
w = sys.argv[1]
rng = np.random.default_rng(7)
batch = rng.integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
np.save(f"{w}/in.npy", batch)
for version in ((2, 0), (3, 0)):  # the same batch in the other .npy versions NumPy writes
    with open(f"{w}/in_v{version[0]}.npy", "wb") as f:
        np.lib.format.write_array(f, batch, version=version)
np.save(f"{w}/int8.npy", np.zeros((2, 96, 96, 3), np.int8))
np.save(f"{w}/float.npy", np.zeros((2, 96, 96, 3), np.float32))
np.save(f"{w}/rank3.npy", np.zeros((96, 96, 3), np.uint8))
np.save(f"{w}/small.npy", np.zeros((2, 95, 96, 3), np.uint8))
np.save(f"{w}/fortran.npy", np.asfortranarray(np.zeros((2, 96, 96, 3), np.uint8)))
np.save(f"{w}/float64.npy", np.zeros((2, 96, 96, 3)))
open(f"{w}/garbage.npy", "wb").write(b"not an array")
PYTHON

out=$("$AKIDA" run -m "$MODEL" -i "$WORK/in.npy" -o "$WORK/predict.npy")
[[ $out == *"$WORK/predict.npy"* ]] || fail "run did not report what it wrote: $out"
"$AKIDA" run -m "$MODEL" -i "$WORK/in.npy" -o "$WORK/forward.npy" --forward > /dev/null
"$AKIDA" dump "$MODEL" > "$WORK/model.json"
for v in 2 3; do
  "$AKIDA" run -m "$MODEL" -i "$WORK/in_v$v.npy" -o "$WORK/predict_v$v.npy" > /dev/null
  cmp -s "$WORK/predict.npy" "$WORK/predict_v$v.npy" || fail ".npy version $v.0 input gave other outputs"
done

# --threads: the same bytes whatever the count (1, 2 and the default, one per core).
for threads in 1 2; do
  "$AKIDA" run -m "$MODEL" -i "$WORK/in.npy" -o "$WORK/predict_t$threads.npy" --threads $threads > /dev/null
  cmp -s "$WORK/predict.npy" "$WORK/predict_t$threads.npy" || fail "--threads $threads gave other outputs"
done

# predict() is the Dequantizer's float32(integer x scale) of forward()'s integers.
"$PY" - "$WORK" <<'PYTHON'
import json, numpy as np, sys
w = sys.argv[1]
p, f = np.load(f"{w}/predict.npy"), np.load(f"{w}/forward.npy")
assert p.dtype == np.float32 and p.shape == (2, 1, 1, 2), (p.dtype, p.shape)
assert f.dtype == np.int32 and f.shape == (2, 1, 1, 2), (f.dtype, f.shape)
scales = json.load(open(f"{w}/model.json"))["layers"][-1]["variables"]["scales"]["values"]
expected = f.astype(np.float32) * np.array(scales, np.float32)
assert np.array_equal(p, expected), (p, expected)
assert not np.array_equal(f[0], f[1]), "two random samples gave the same output"
PYTHON

# Each bad input: exit status 1 and one line naming the file.
expect_error() {  # FILE_IN_MESSAGE WORDS_IN_MESSAGE -- ARGS...
  local file=$1 words=$2
  shift 3
  local status=0
  "$AKIDA" "$@" > "$WORK/stdout" 2> "$WORK/stderr" || status=$?
  [[ $status -eq 1 ]] || fail "akida $* exited $status, expected 1"
  [[ $(wc -l < "$WORK/stderr") -eq 1 ]] || fail "akida $*: expected one line on stderr: $(cat "$WORK/stderr")"
  grep -q "^akida: error: " "$WORK/stderr" || fail "akida $*: no 'akida: error:' prefix"
  grep -qF -- "$file" "$WORK/stderr" || fail "akida $*: message does not name $file: $(cat "$WORK/stderr")"
  grep -qF -- "$words" "$WORK/stderr" || fail "akida $*: message lacks '$words': $(cat "$WORK/stderr")"
}
expect_error "$WORK/int8.npy" "the model expects uint8" -- run -m "$MODEL" -i "$WORK/int8.npy" -o "$WORK/o.npy"
expect_error "$WORK/float.npy" "input dtype is float32" -- run -m "$MODEL" -i "$WORK/float.npy" -o "$WORK/o.npy"
expect_error "$WORK/rank3.npy" "expected (N, 96, 96, 3)" -- run -m "$MODEL" -i "$WORK/rank3.npy" -o "$WORK/o.npy"
expect_error "$WORK/small.npy" "(2, 95, 96, 3)" -- run -m "$MODEL" -i "$WORK/small.npy" -o "$WORK/o.npy"
expect_error "$WORK/fortran.npy" "Fortran order" -- run -m "$MODEL" -i "$WORK/fortran.npy" -o "$WORK/o.npy"
expect_error "$WORK/float64.npy" "'<f8'" -- run -m "$MODEL" -i "$WORK/float64.npy" -o "$WORK/o.npy"
expect_error "$WORK/garbage.npy" "not a .npy file" -- run -m "$MODEL" -i "$WORK/garbage.npy" -o "$WORK/o.npy"
expect_error "$WORK/absent.npy" "no such file" -- run -m "$MODEL" -i "$WORK/absent.npy" -o "$WORK/o.npy"
expect_error "$WORK/absent.fbz" "absent.fbz" -- run -m "$WORK/absent.fbz" -i "$WORK/in.npy" -o "$WORK/o.npy"
expect_error "$WORK/in.npy" "in.npy" -- summary "$WORK/in.npy"
expect_error "$WORK/absent.fbz" "absent.fbz" -- dump "$WORK/absent.fbz"
expect_error "$WORK/no/dir/o.npy" "o.npy" -- run -m "$MODEL" -i "$WORK/in.npy" -o "$WORK/no/dir/o.npy"
[[ ! -e $WORK/o.npy ]] || fail "a failed run left an output file"

# Usage errors keep CLI11's exit codes (not 0, not 1) and the same one-line format.
status=0
"$AKIDA" run -m "$MODEL" 2> "$WORK/stderr" || status=$?
[[ $status -gt 1 ]] || fail "a missing option exited $status"
grep -q "^akida: error: .*--input" "$WORK/stderr" || fail "usage error: $(cat "$WORK/stderr")"
"$AKIDA" --help | grep -q "Exit status" || fail "--help does not document exit codes"
"$AKIDA" run --help | grep -q -- "--forward" || fail "run --help does not list --forward"
[[ $("$AKIDA" --version) == "$("$AKIDA" version)" ]] || fail "--version and version differ"
echo "akida run: OK"
