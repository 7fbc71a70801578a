#!/usr/bin/env bash
# Quantizer benchmark: milliseconds per calibration sample of `quantizeml quantize` (the float
# evaluator over the samples, one thread and all cores), the fixed costs (reading, quantizing
# and writing), and the peer: onnxruntime (npm onnxruntime-node, one thread, all graph
# optimizations) running the same float models, as QuantizeML's calibration does. Models: the
# committed PyTorch exports (tests/data/torch) and a Fashion-MNIST-sized CNN (tests/py/float_models).
# Not run by CI. bench/run.sh calls it; alone: bash bench/quantize.sh (after a build).
#
# Environment: BENCH_SAMPLES (default 256) calibration samples per model.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
/usr/bin/python3 -c "
import sys; sys.path.insert(0, 'tests/py')
import onnx, float_models
onnx.save(float_models.build('fashion_cnn'), '$WORK/fashion_cnn.onnx')"
models=("$WORK/fashion_cnn.onnx" tests/data/torch/torch_cnn.onnx tests/data/torch/torch_mobile.onnx
        tests/data/torch/torch_residual.onnx)
echo "== quantizer: calibration ms per sample (float evaluator), fixed costs"
"$BIN/bench_quantize" "${models[@]}"
if [[ -d tests/onnx_oracle/node_modules/onnxruntime-node ]]; then
  echo "== peer: onnxruntime on the same float models (ms per sample, one thread)"
  for m in "${models[@]}"; do
    printf "%-28s%10s\n" "$(basename "$m")" "$(node bench/ort_float_time.mjs "$m" "${BENCH_SAMPLES:-256}")"
  done
fi
