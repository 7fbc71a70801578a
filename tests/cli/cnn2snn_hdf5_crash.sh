#!/usr/bin/env bash
# `cnn2snn convert` on .h5 files that crash Debian's libhdf5 (kept fuzz_keras_h5 inputs): the
# library runs in a child process, so the tool prints one error naming the file and the object,
# exits 1, leaves no process behind and writes no output.
set -euo pipefail
BIN_DIR=$1 SOURCE_DIR=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
INPUT=$SOURCE_DIR/tests/regressions/keras_h5/libhdf5_segv.h5

status=0
# setsid: the tool and anything it forks form their own process group, counted afterwards.
setsid "$BIN_DIR/cnn2snn" convert -m "$INPUT" -o "$WORK/out.fbz" > "$WORK/out" 2> "$WORK/err" &
tool=$!
wait $tool || status=$?
[[ $status -eq 1 ]] || { echo "exit status $status, expected 1"; cat "$WORK/err"; exit 1; }
expected="cnn2snn: error: $INPUT: the HDF5 library crashed (SIGSEGV) reading attribute 'model_config' of '/': the file is corrupt"
[[ $(cat "$WORK/err") == "$expected" ]] || { echo "stderr:"; cat "$WORK/err"; echo "expected: $expected"; exit 1; }
[[ ! -s $WORK/out ]] || { echo "unexpected stdout:"; cat "$WORK/out"; exit 1; }
[[ ! -e $WORK/out.fbz ]] || { echo "an output was written"; exit 1; }
left=$(pgrep -g "$tool" || true)
[[ -z $left ]] || { echo "processes left behind: $left"; ps -o pid,ppid,cmd -p $left; exit 1; }

# Every kept input that trips libhdf5: exit 1 and exactly one line, whatever the build.
for input in "$SOURCE_DIR"/tests/regressions/keras_h5/libhdf5_*.h5; do
  status=0
  "$BIN_DIR/cnn2snn" convert -m "$input" -o "$WORK/out.fbz" > /dev/null 2> "$WORK/err" || status=$?
  [[ $status -eq 1 && $(wc -l < "$WORK/err") -eq 1 ]] || {
    echo "$input: exit status $status, stderr:"; cat "$WORK/err"; exit 1; }
done
echo "ok"
