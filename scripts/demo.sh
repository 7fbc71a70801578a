#!/usr/bin/env bash
# The main job on the embedded default model: BrainChip's DS-CNN keyword-spotting architecture,
# quantized 8/8/8 in QuantizeML's Keras format (examples/ds_cnn_kws_i8_w8_a8.h5, made by
# scripts/generate_examples.py). Installs what is needed, builds, then:
#   1. converts it to an Akida 2.0 model (cnn2snn convert),
#   2. prints the Akida summary,
#   3. runs the bundled sample inputs through the Akida model (akida run),
#   4. checks, layer by layer, that the Akida model's integers equal the quantized model's
#      (cnn2snn verify: the reference evaluator against the Akida runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bin=build/bin
model=examples/ds_cnn_kws_i8_w8_a8.h5
samples=examples/ds_cnn_kws_samples.npy
out=build/demo
mkdir -p "$out"

echo; echo "== 1. Convert $model to Akida 2.0"
"$bin/cnn2snn" convert -m "$model" -o "$out/ds_cnn_kws_i8_w8_a8.fbz"

echo; echo "== 2. Akida model summary"
"$bin/akida" summary "$out/ds_cnn_kws_i8_w8_a8.fbz"

echo; echo "== 3. Run the bundled samples ($samples) on the Akida model"
"$bin/akida" run -m "$out/ds_cnn_kws_i8_w8_a8.fbz" -i "$samples" -o "$out/predictions.npy"
/usr/bin/python3 - "$out/predictions.npy" <<'PY'
import sys
import numpy as np
scores = np.load(sys.argv[1]).reshape(-1, 33)
print("(the example's weights are generated, not trained: the classes carry no meaning)")
for i, row in enumerate(scores):
    print(f"sample {i}: predicted class {int(row.argmax()):2d} (score {row.max():.4f})")
PY

echo; echo "== 4. Akida outputs vs the quantized model's, layer by layer"
"$bin/cnn2snn" verify -m "$model" -i "$samples"
