#!/usr/bin/env bash
# Installs the Debian packages this project builds and tests with. Idempotent; needs root (or sudo).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libflatbuffers-dev flatbuffers-compiler libsnappy-dev
  libhdf5-dev libonnx-dev libprotobuf-dev protobuf-compiler
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  pybind11-dev python3-pybind11 python3-numpy python3-h5py python3-onnx python3-pytest python3-dev
  python3-venv python3-pip
  # The main job (scripts/demo.sh): real images, and its confusion-matrix plot.
  dataset-fashion-mnist python3-matplotlib
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# onnxruntime (npm) is the independent oracle of the ONNX tests. Its install script only fetches
# GPU providers, which this project does not use, so scripts are skipped: the CPU build ships in
# the package itself.
if ! command -v npm >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends nodejs npm
fi
oracle_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/onnx_oracle"
if [ ! -d "$oracle_dir/node_modules/onnxruntime-node" ]; then
  (cd "$oracle_dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
