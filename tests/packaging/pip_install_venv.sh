#!/usr/bin/env bash
# `pip install .` as the README shows it: into a fresh virtual environment (--system-site-packages,
# for Debian's numpy), offline (--no-index, no find-links: nothing can be downloaded), reusing the
# build directory; then, from outside the repository, the seed snippet (python/tests/
# test_seed_snippet.py) and the installed `cnn2snn` / `akida` commands.
# Usage: pip_install_venv.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
SOURCE_DIR=$(cd "$1" && pwd) BUILD_DIR=$(cd "$2" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
VENV=$WORK/venv
clean_env=(env -u PYTHONPATH -u PIP_FIND_LINKS -u CNN2SNN_EXAMPLES_DIR -u CNN2SNN_TARGET_AKIDA_VERSION)
# Under `scripts/test.sh --sanitize` the venv's interpreter imports an instrumented module: it
# preloads the sanitizer runtime (CMakeLists.txt, CNN2SNN_ASAN_PRELOAD) without leak checks.
if [[ -n ${CNN2SNN_ASAN_PRELOAD:-} ]]; then
  clean_env+=("LD_PRELOAD=$CNN2SNN_ASAN_PRELOAD" "ASAN_OPTIONS=detect_leaks=0")
fi

/usr/bin/python3 -m venv --system-site-packages "$VENV" || fail "python3 -m venv (Debian: python3-venv)"
"${clean_env[@]}" "$VENV/bin/python" -m pip install --no-index --no-cache-dir "$SOURCE_DIR" \
  --config-settings "build-dir=$BUILD_DIR" > "$WORK/pip.log" 2>&1 ||
  fail "pip install: $(tail -40 "$WORK/pip.log")"

mkdir "$WORK/elsewhere" && cd "$WORK/elsewhere"
[[ $PWD != "$SOURCE_DIR"* ]] || fail "the work directory is inside the repository"

# Everything is imported from the environment, the examples included.
"${clean_env[@]}" "$VENV/bin/python" - "$VENV" <<'PY' || fail "imports"
import os, sys
import _cnn2snn_native, akida, akida_models, cnn2snn, quantizeml.models
venv = os.path.realpath(sys.argv[1])
for module in (_cnn2snn_native, akida, akida_models, cnn2snn, quantizeml):
    assert os.path.realpath(module.__file__).startswith(venv), module.__file__
for name in ("ds_cnn_kws_i8_w8_a8.h5", "ds_cnn_kws_iq8_wq4_aq4_laq1.h5", "ds_cnn_kws_samples.npy"):
    assert os.path.realpath(akida_models.example_path(name)).startswith(venv), name
PY

# The seed snippet, both halves (Akida 2.0, then 1.0 under set_akida_version).
cp "$SOURCE_DIR/python/tests/test_seed_snippet.py" .
"${clean_env[@]}" "$VENV/bin/python" -m pytest -q -p no:cacheprovider test_seed_snippet.py \
  > "$WORK/pytest.log" 2>&1 || fail "seed snippet: $(cat "$WORK/pytest.log")"
grep -qE "^2 passed" "$WORK/pytest.log" || fail "seed snippet: $(cat "$WORK/pytest.log")"

# The commands, found on PATH in the environment.
export PATH="$VENV/bin:$PATH"
[[ $(command -v cnn2snn) == "$VENV/bin/cnn2snn" ]] || fail "cnn2snn is $(command -v cnn2snn)"
[[ $(command -v akida) == "$VENV/bin/akida" ]] || fail "akida is $(command -v akida)"
[[ $(command -v quantizeml) == "$VENV/bin/quantizeml" ]] || fail "quantizeml is $(command -v quantizeml)"
"${clean_env[@]}" quantizeml --version > out.txt || fail "quantizeml --version: $(cat out.txt)"
examples=$("${clean_env[@]}" "$VENV/bin/python" -c \
  'import akida_models, os; print(os.path.dirname(akida_models.example_path("ds_cnn_kws_samples.npy")))')
"${clean_env[@]}" cnn2snn convert -m "$examples/ds_cnn_kws_i8_w8_a8.h5" -o kws.fbz > out.txt ||
  fail "cnn2snn convert: $(cat out.txt)"
grep -qF "Model successfully converted and saved as kws.fbz." out.txt || fail "convert: $(cat out.txt)"
"${clean_env[@]}" akida summary kws.fbz > out.txt || fail "akida summary"
grep -qE "^dense_5 \(Dense1D\)" out.txt || fail "akida summary: $(cat out.txt)"
"${clean_env[@]}" akida run -m kws.fbz -i "$examples/ds_cnn_kws_samples.npy" -o scores.npy > out.txt ||
  fail "akida run: $(cat out.txt)"
"${clean_env[@]}" cnn2snn verify -m "$examples/ds_cnn_kws_i8_w8_a8.h5" \
  -i "$examples/ds_cnn_kws_samples.npy" > out.txt || fail "cnn2snn verify: $(cat out.txt)"
grep -qx "all layers equal" out.txt || fail "verify: $(cat out.txt)"
[[ $(cnn2snn --version) == "cnn2snn $("${clean_env[@]}" "$VENV/bin/python" -c 'import akida; print(akida.__version__)') "* ]] ||
  fail "versions: $(cnn2snn --version)"

# Uninstalling removes the commands too.
"${clean_env[@]}" "$VENV/bin/python" -m pip uninstall -y cnn2snn-open > "$WORK/pip.log" 2>&1 ||
  fail "pip uninstall: $(cat "$WORK/pip.log")"
[[ ! -e $VENV/bin/cnn2snn && ! -e $VENV/bin/akida && ! -e $VENV/bin/quantizeml ]] || fail "commands left after uninstall"
echo "pip install: ok"
