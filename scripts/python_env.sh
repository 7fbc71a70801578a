#!/usr/bin/env bash
# The environment that makes the Python packages akida, cnn2snn and akida_models importable from
# a build tree (the native module and links to python/ are in BUILD_DIR/python).
#   eval "$(bash scripts/python_env.sh [BUILD_DIR])"    # in this shell
#   source scripts/python_env.sh [BUILD_DIR]            # the same
# BUILD_DIR defaults to build/ at the project root. Use Debian's /usr/bin/python3 (3.11): the
# module is built for it, and numpy comes from python3-numpy.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "python_env.sh: no build directory ${1:-$root/build}" >&2; return 1 2>/dev/null || exit 1; }
dir=$build/python
if ! ls "$dir"/_cnn2snn_native*.so >/dev/null 2>&1; then
  echo "python_env.sh: $dir has no _cnn2snn_native module; build first (cmake --build $build)" >&2
  return 1 2>/dev/null || exit 1
fi
line="export PYTHONPATH=$dir${PYTHONPATH:+:$PYTHONPATH}"
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then eval "$line"; else echo "$line"; fi
