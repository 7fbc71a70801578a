#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test (C++ unit tests, CLI tests, Python
# reference tests). Real BrainChip files are read from ../shared/fixtures when present.
#
# Usage: bash scripts/test.sh [--sanitize]
#   --sanitize  the same suite built in build-asan/ with AddressSanitizer + UndefinedBehavior-
#               Sanitizer (any report fails its test; docs/robustness.md)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") build_dir=build cmake_args=() ;;
  --sanitize)
    build_dir=build-asan
    cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCNN2SNN_SANITIZE=ON)
    # Leaks are errors too; UBSan stops at the first report (-fno-sanitize-recover) with a stack.
    export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1
    export UBSAN_OPTIONS=print_stacktrace=1
    ;;
  *) echo "usage: bash scripts/test.sh [--sanitize]" >&2; exit 2 ;;
esac
bash scripts/setup.sh
bash scripts/build.sh "$build_dir" "${cmake_args[@]}"
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)" --timeout 900
