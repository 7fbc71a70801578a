#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test (C++ unit tests, CLI tests, Python
# reference tests). Real BrainChip files are read from ../shared/fixtures when present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 900
