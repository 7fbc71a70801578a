#!/usr/bin/env bash
# Runtime benchmark, side by side with the peers: our engine (reference and optimized kernels) on
# the converted example and fixture models; oneDNN (Debian's libdnnl, installed here if missing)
# running the same layer stacks as int8 primitives; onnxruntime (npm onnxruntime-node, all graph
# optimizations) on the TENNs QuantizeML ONNX model, whose converted .fbz we run too.
# Figures are milliseconds per sample, one sample at a time, one thread, on this machine.
# Not run by CI.
#
# Then bench/quantize.sh: the quantizer's time per calibration sample, next to onnxruntime.
#
# Usage: bash bench/run.sh   (after scripts/setup.sh; builds if needed; BENCH_SAMPLES=64)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg-query -W -f='${Status}' libdnnl-dev 2>/dev/null | grep -q "install ok installed"; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends libdnnl-dev > /dev/null
  rm -f build/CMakeCache.txt  # let CMake find it
fi
export OMP_NUM_THREADS=1
bash scripts/build.sh > /dev/null
BIN=build/bin
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FIXTURES=../shared/fixtures

models=()
"$BIN/cnn2snn" convert -m examples/ds_cnn_kws_i8_w8_a8.h5 -o "$WORK/ds_cnn_kws_i8_w8_a8.fbz" > /dev/null
models+=("$WORK/ds_cnn_kws_i8_w8_a8.fbz")
if [[ -d $FIXTURES ]]; then
  "$BIN/cnn2snn" convert -m "$FIXTURES/h5/ecg_i8_w8_a8_quantizeml.h5" -o "$WORK/ecg_i8_w8_a8.fbz" > /dev/null
  "$BIN/cnn2snn" convert -m "$FIXTURES/onnx/tennst_int8_quantizeml.onnx" -o "$WORK/tennst_converted.fbz" > /dev/null
  models+=("$WORK/ecg_i8_w8_a8.fbz" "$FIXTURES/fbz/akidanet_vww_i8_w8_a8_v2_2.11.fbz" "$WORK/tennst_converted.fbz")
  # Akida 1.0 models as Edge Impulse exports them.
  models+=("$FIXTURES/fbz/ei_fomo_v1.fbz" "$FIXTURES/fbz/ei_inventory_v1.fbz" "$FIXTURES/fbz/hotdog_edge_v1_2021.fbz")
fi
echo "== cnn2snn's Akida runtime (ms per sample, one thread)"
"$BIN/bench_runtime" "${models[@]}"
echo "== peer: oneDNN, the same layers as int8 primitives (u8 x s8, fused requantization)"
"$BIN/onednn_peer" "${models[@]}"

if [[ -d $FIXTURES && -d tests/onnx_oracle/node_modules/onnxruntime-node ]]; then
  /usr/bin/python3 tests/onnx_oracle/quantizeml_onnx_runnable.py \
    "$FIXTURES/onnx/tennst_int8_quantizeml.onnx" "$WORK/tennst_runnable"
  echo "== peer: onnxruntime on the same TENNs model (QuantizeML ONNX, function bodies inlined)"
  echo "tennst_int8_quantizeml.onnx: $(node bench/ort_time.mjs "$WORK/tennst_runnable" "${BENCH_SAMPLES:-64}") ms per frame"
fi

bash bench/quantize.sh
