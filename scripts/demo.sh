#!/usr/bin/env bash
# The main job. Installs what is needed (scripts/setup.sh), builds, then:
#
# Part 1, a trained model on real data (examples/fashion_mnist_main.py): the float Fashion-MNIST
# CNN exported from PyTorch (examples/fashion_mnist_cnn.onnx, trained by
# examples/training/train_fashion_mnist.py; PyTorch is not needed here) is
#   1. quantized (8/8/8, then 4-bit weights and activations) by the project's quantizer,
#      calibrating on 1024 training images,
#   2. converted to Akida 2.0,
#   3. run on the 10,000 test images as float, quantized and Akida models; the Akida integers
#      must equal the quantized model's, image for image (else exit 1),
# and the accuracies are printed side by side, with the Akida model's confusion matrix (also
# written as build/demo/fashion_mnist/confusion_matrix.png). Exit 1 as well when the 8-bit model
# is more than 1 point below float.
#
# Part 2, the Keras path: BrainChip's DS-CNN keyword-spotting architecture quantized 8/8/8 in
# QuantizeML's Keras format (examples/ds_cnn_kws_i8_w8_a8.h5, generated weights, made by
# scripts/generate_examples.py) converted to Akida 2.0, summarized, run on the bundled samples,
# and verified layer by layer against the quantized model (cnn2snn verify).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bin=build/bin
eval "$(bash scripts/python_env.sh build)"

echo; echo "==== Part 1: Fashion-MNIST, float ONNX -> quantized -> Akida 2.0, on the whole test set"
/usr/bin/python3 examples/fashion_mnist_main.py --out build/demo/fashion_mnist

echo; echo "==== Part 2: the Keras path (QuantizeML .h5) on the DS-CNN example"
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
