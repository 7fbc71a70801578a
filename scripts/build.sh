#!/usr/bin/env bash
# Configures and builds everything into build/ (executables in build/bin/).
# Usage: bash scripts/build.sh [BUILD_DIR [CMAKE_ARGS...]]  (the arguments apply when BUILD_DIR is
# first configured; scripts/test.sh --sanitize builds build-asan/ this way)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
[[ $# -gt 0 ]] && shift
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build "$build_dir" -j "$(nproc)"
