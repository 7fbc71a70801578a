#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, build-fuzz/) and runs each for SECONDS, one
# after the other, under nice: fbz, npy, onnx, keras_h5 (fastest first). See docs/robustness.md.
#
# Usage: bash scripts/fuzz.sh SECONDS [TARGET...]
#   FUZZ_RUNS=N   also stop each target after N executions (the documented run: 1000000)
#   FUZZ_PROCESSES=N  run N fuzzing processes per target at once (FUZZ_RUNS is their total)
#   FUZZ_NICE=N   the processes' niceness (default 19: other work first)
#   FUZZ_JOBS=N   build parallelism (default: nproc)
# Seeds: examples/, ../shared/fixtures/ when present, the test-model generators' pattern models
# (tools/quantizeml_h5, tools/quantizeml_onnx), their .fbz conversions, and tests/regressions/.
# The corpus grows in build-fuzz/corpus/TARGET across runs; crashing inputs are saved in
# build-fuzz/artifacts/TARGET/ (a new one becomes a file of tests/regressions/ once fixed).
# Exit status: 0 when no target found anything, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: bash scripts/fuzz.sh SECONDS [fbz|npy|onnx|keras_h5 ...]" >&2
  exit 2
fi
seconds=$1
shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(fbz npy onnx keras_h5)

# clang and its libFuzzer/sanitizer runtimes (Debian's clang-14) beside the project's own packages.
bash scripts/setup.sh
missing=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

BUILD=$ROOT/build-fuzz
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  launcher=()
  command -v ccache > /dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCNN2SNN_FUZZ=ON -DCNN2SNN_BUILD_TESTS=OFF -DCNN2SNN_BUILD_PYTHON=OFF "${launcher[@]}" > /dev/null
fi
nice cmake --build "$BUILD" -j "${FUZZ_JOBS:-$(nproc)}" \
  --target cnn2snn_cli "${targets[@]/#/fuzz_}" > "$BUILD/build.log" 2>&1 || {
  tail -40 "$BUILD/build.log" >&2
  exit 1
}

# Longest input each target mutates: the generated models and small examples fit; larger files
# (the DS-CNN .h5 examples, most fixtures) would slow every execution, and cut to this length
# they are only truncated files, so they are not seeds.
declare -A max_len=([fbz]=131072 [npy]=16384 [onnx]=65536 [keras_h5]=65536)

# ---- seed corpora (rebuilt each run; cheap) ----------------------------------------------
SEEDS=$BUILD/seeds
FIXTURES=$ROOT/../shared/fixtures
rm -rf "$SEEDS"
mkdir -p "$SEEDS"/{fbz,npy,onnx,keras_h5}
copy_seeds() {  # TARGET FILES...
  local target=$1
  shift
  for f in "$@"; do
    [[ -f $f && $f != *.expect ]] || continue
    if (( $(stat -c %s "$f") <= ${max_len[$target]} )); then cp "$f" "$SEEDS/$target/"; fi
  done
  return 0
}
copy_seeds keras_h5 examples/*.h5 "$FIXTURES"/h5/*.h5
copy_seeds npy examples/*.npy
copy_seeds onnx "$FIXTURES"/onnx/*.onnx
copy_seeds fbz "$FIXTURES"/fbz/*.fbz
for format in fbz npy onnx keras_h5; do
  [[ -d tests/regressions/$format ]] && copy_seeds "$format" tests/regressions/"$format"/*
done
generated=$BUILD/generated
rm -rf "$generated"
/usr/bin/python3 -m tools.quantizeml_h5 --all "$generated/h5" > /dev/null
/usr/bin/python3 -m tools.quantizeml_h5 --all-v1 "$generated/h5_v1" > /dev/null
/usr/bin/python3 -m tools.quantizeml_h5 --all-legacy "$generated/h5_legacy" > /dev/null
/usr/bin/python3 -m tools.quantizeml_onnx --all "$generated/onnx" > /dev/null
copy_seeds keras_h5 "$generated"/h5*/*.h5
copy_seeds onnx "$generated"/onnx/*.onnx
# Converted models seed the .fbz target with every layer kind the converters write.
for model in examples/*.h5 "$generated"/h5/*.h5 "$generated"/h5_legacy/*.h5 "$generated"/onnx/*.onnx; do
  name=$(basename "${model%.*}")
  "$BUILD/bin/cnn2snn" convert -m "$model" -o "$SEEDS/fbz/$name.fbz" > /dev/null 2>&1 || true
done
for model in "$generated"/h5_v1/*.h5; do
  name=$(basename "${model%.*}")
  CNN2SNN_TARGET_AKIDA_VERSION=v1 "$BUILD/bin/cnn2snn" convert -m "$model" \
    -o "$SEEDS/fbz/v1_$name.fbz" > /dev/null 2>&1 || true
done

# ---- running -----------------------------------------------------------------------------
# keras_h5 reaches Debian's libhdf5 1.10.8, which crashes on some corrupt files by itself: the
# reader runs it in a child process (src/cnn2snn/keras/hdf5_child.h), whose crashes are refusals
# like any other. Its time limit is under libFuzzer's, so that a hang in libhdf5 is a refusal
# too, and one in our code still a finding; libFuzzer saves inputs slower than 25 s only (by
# default 10 s: every hang of libhdf5 would be saved as a finding). 1 s: the slowest input of the
# grown corpus that does not loop takes 0.12 s under ASan, and every second a looping input
# keeps the child is lost (at 10 s, a few such inputs took most of the run's time).
export CNN2SNN_HDF5_TIMEOUT=1
processes=${FUZZ_PROCESSES:-1}
[[ $processes =~ ^[1-9][0-9]*$ ]] || { echo "FUZZ_PROCESSES must be a positive integer" >&2; exit 2; }
runs_flag=()
# FUZZ_RUNS counts the executions of all the processes of a target together.
[[ -n ${FUZZ_RUNS:-} ]] && runs_flag=(-runs="$(( (FUZZ_RUNS + processes - 1) / processes ))")

# One libFuzzer process: TARGET LOG; its exit status says whether it found anything. (libFuzzer
# seeds its random generator from the time and its pid: processes started together differ.)
fuzz_process() {
  # Allocations above 256 MB are findings (inputs are at most 128 kB); so are leaks, sanitizer
  # reports, uncaught exceptions, broken invariants (fuzz_support.h) and inputs taking > 30 s.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 \
    nice -n "${FUZZ_NICE:-19}" "$BUILD/bin/fuzz_$1" -max_total_time="$seconds" "${runs_flag[@]}" \
    -max_len="${max_len[$1]}" -timeout=30 -report_slow_units=25 -rss_limit_mb=2048 -malloc_limit_mb=256 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" "$SEEDS/$1" > "$2" 2>&1
}

status=0
summary=()
for target in "${targets[@]}"; do
  corpus=$BUILD/corpus/$target artifacts=$BUILD/artifacts/$target/ log=$BUILD/logs/$target.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "== fuzz_$target: up to $seconds s${FUZZ_RUNS:+ or $FUZZ_RUNS runs}, $processes process(es) (log: $log)"
  # FUZZ_PROCESSES > 1: that many processes on the one corpus (each adds what it finds, and
  # reloads what the others added), with different random seeds; logs TARGET.log, TARGET.2.log...
  rm -f "${log%.log}".[0-9]*.log
  pids=()
  for (( p = 1; p <= processes; ++p )); do
    process_log=$log
    (( p == 1 )) || process_log=${log%.log}.$p.log
    fuzz_process "$target" "$process_log" &
    pids+=($!)
  done
  result=ok
  for pid in "${pids[@]}"; do wait "$pid" || result="FOUND A PROBLEM"; done
  executions=0
  for process_log in "$log" "${log%.log}".[0-9]*.log; do
    [[ -f $process_log ]] || continue
    n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$process_log" | grep -o '[0-9]*$' || true)
    executions=$(( executions + ${n:-0} ))
  done
  saved=$(find "$artifacts" -type f | wc -l)
  [[ $saved -eq 0 ]] || { result+=" ($saved inputs saved in $artifacts)"; status=1; }
  summary+=("fuzz_$target: $executions executions, corpus $(ls "$corpus" | wc -l) inputs: $result")
  echo "${summary[-1]}"
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
