#!/usr/bin/env bash
# An interrupted write never leaves a partial output: the tools are stopped halfway through
# writing their output (the test hook AKIDA_TEST_STOP_MID_WRITE stops the process once half of
# the temporary file is written), then killed.
#   SIGKILL: the previous output is intact (or still absent); only the temporary file, which
#            nothing can remove after a SIGKILL, holds the partial bytes.
#   SIGTERM: the same, and the tool removes its temporary file before dying.
set -euo pipefail
BIN_DIR=$(cd "$1" && pwd) SOURCE_DIR=$(cd "$2" && pwd)
DS_CNN=$SOURCE_DIR/examples/ds_cnn_kws_i8_w8_a8.h5
SAMPLES=$SOURCE_DIR/examples/ds_cnn_kws_samples.npy
CNN2SNN=$BIN_DIR/cnn2snn AKIDA=$BIN_DIR/akida
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Starts "$@" with the hook set and waits until the process has stopped itself mid-write.
# Sets $pid.
start_stopped() {
  AKIDA_TEST_STOP_MID_WRITE=1 "$@" > "$WORK/stdout" 2> "$WORK/stderr" &
  pid=$!
  for _ in $(seq 1200); do
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2> /dev/null) == T ]] && return 0
    kill -0 "$pid" 2> /dev/null || fail "$* ended before stopping: $(cat "$WORK/stderr")"
    sleep 0.1
  done
  fail "$* did not stop mid-write within 120 s"
}

temporaries() { (cd "$WORK" && ls -A | grep -F '.tmp-' || true); }

# The bytes a complete conversion writes, for comparison.
"$CNN2SNN" convert -m "$DS_CNN" -o "$WORK/complete.fbz" > /dev/null
full_size=$(stat -c %s "$WORK/complete.fbz")

# --- SIGKILL over a previous output: the previous bytes stay -------------------------------
echo "previous model" > "$WORK/model.fbz"
cp "$WORK/model.fbz" "$WORK/previous"
start_stopped "$CNN2SNN" convert -m "$DS_CNN" -o "$WORK/model.fbz"
temp=$(temporaries)
[[ $temp == .model.fbz.tmp-* ]] || fail "no temporary file beside model.fbz while writing: '$temp'"
temp_size=$(stat -c %s "$WORK/$temp")
(( temp_size > 0 && temp_size < full_size )) ||
  fail "the temporary file holds $temp_size bytes, expected part of $full_size"
kill -KILL "$pid"
wait "$pid" 2> /dev/null || true
cmp -s "$WORK/model.fbz" "$WORK/previous" || fail "SIGKILL midway changed the previous model.fbz"
rm -f "$WORK/$temp"

# --- SIGKILL with no previous output: still none -------------------------------------------
start_stopped "$CNN2SNN" convert -m "$DS_CNN" -o "$WORK/new.fbz"
kill -KILL "$pid"
wait "$pid" 2> /dev/null || true
[[ ! -e $WORK/new.fbz ]] || fail "SIGKILL midway left a new.fbz"
rm -f "$WORK"/.new.fbz.tmp-*

# --- SIGTERM: previous output intact and no temporary file left -----------------------------
start_stopped "$CNN2SNN" convert -m "$DS_CNN" -o "$WORK/model.fbz"
kill -TERM "$pid"
kill -CONT "$pid"
status=0
wait "$pid" 2> /dev/null || status=$?
(( status == 128 + 15 )) || fail "convert after SIGTERM exited $status, expected 143 (killed by SIGTERM)"
cmp -s "$WORK/model.fbz" "$WORK/previous" || fail "SIGTERM midway changed the previous model.fbz"
[[ -z $(temporaries) ]] || fail "SIGTERM left a temporary file: $(temporaries)"

# --- .npy outputs (akida run) go the same way -----------------------------------------------
echo "previous outputs" > "$WORK/out.npy"
cp "$WORK/out.npy" "$WORK/previous_npy"
start_stopped "$AKIDA" run -m "$WORK/complete.fbz" -i "$SAMPLES" -o "$WORK/out.npy"
kill -TERM "$pid"
kill -CONT "$pid"
wait "$pid" 2> /dev/null || true
cmp -s "$WORK/out.npy" "$WORK/previous_npy" || fail "SIGTERM midway changed the previous out.npy"
[[ -z $(temporaries) ]] || fail "akida run left a temporary file: $(temporaries)"

# --- without the hook, the same commands replace the outputs whole --------------------------
"$CNN2SNN" convert -m "$DS_CNN" -o "$WORK/model.fbz" > /dev/null
cmp -s "$WORK/model.fbz" "$WORK/complete.fbz" || fail "the completed conversion differs"
"$AKIDA" run -m "$WORK/model.fbz" -i "$SAMPLES" -o "$WORK/out.npy" > /dev/null
[[ $(head -c 6 "$WORK/out.npy" | od -An -c | tr -d ' ') == '223NUMPY' ]] || fail "out.npy is not a .npy file"
[[ -z $(temporaries) ]] || fail "a completed write left a temporary file: $(temporaries)"
echo "PASS"
