#!/usr/bin/env python3
"""Train the main job's float CNN on Fashion-MNIST and export it to ONNX (PyTorch, CPU).

The model (FashionCNN below) is small and Akida-friendly: every convolution is 3x3, stride 1,
'same' padding (ONNX pads 1), followed by BatchNormalization and ReLU6 (ONNX Clip 0..6); the
first two are max-pooled 2x2 stride 2 (28 -> 14 -> 7, no pooling pads: TF 'same' pooling of an
even size, as Akida wants max pooling padded like its convolution); the last one's 7x7x32 output
is flattened into one fully-connected layer giving the 10 class scores (logits; 1568 inputs, under
Akida 2.0's 2048 for Dense1D). The model divides its input by 255 itself, so the ONNX model takes
raw pixels 0..255 as float32 (N, 1, 28, 28) and the quantizer folds that normalisation into its
uint8 input (the first convolution then becomes Akida's InputConv2D).

    input (N,1,28,28) float 0..255 -> Div 255
    Conv 1->16 3x3 + BN + ReLU6 + MaxPool 2    (28x28 -> 14x14)
    Conv 16->32 3x3 + BN + ReLU6 + MaxPool 2   (14x14 -> 7x7)
    Conv 32->32 3x3 + BN + ReLU6               (7x7)
    Flatten, Gemm 1568->10                      -> logits (N, 10)

The exporter (eval mode) folds each BatchNormalization into its convolution, so the ONNX graph is
Div, 3 x (Conv, Clip[, MaxPool]), Flatten, Gemm (tests/py/test_fashion_mnist_example.py checks it).
Training: 8 epochs of AdamW with a one-cycle learning rate, batches of 128, no augmentation.

Reproducible: fixed seeds, one fixed thread count (--threads, default 1: results depend on it;
one thread also keeps OpenMP from spinning on a shared machine), torch.use_deterministic_algorithms,
a seeded shuffling generator, denormals flushed. PyTorch (Debian's python3-torch) is needed only
here: the main job and the tests do not import it.

Usage (from the repository root):
    nice /usr/bin/python3 examples/training/train_fashion_mnist.py
writes examples/fashion_mnist_cnn.onnx and examples/fashion_mnist_cnn.json (float test accuracy,
training time and settings). The shipped model reached 92.23% float test accuracy; training it
took 379 to 454 s of CPU in two runs (15 and 30 min of wall time on this project's shared 2-core
machine, under other load), and both runs wrote byte-identical ONNX files.
"""

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples"))

import fashion_mnist  # noqa: E402

# The exported graph's opset: the newest Debian's torch 1.13 writes that onnx and the project's
# readers know well (BatchNormalization-15, Clip with min/max inputs).
ONNX_OPSET = 13

# The architecture, as the ONNX model's tests read it back (tests/py/test_fashion_mnist_example.py).
CHANNELS = (16, 32, 32)
NUM_CLASSES = 10


def conv_block(in_channels, out_channels, pool):
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
              nn.BatchNorm2d(out_channels), nn.ReLU6()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        c1, c2, c3 = CHANNELS
        self.features = nn.Sequential(*conv_block(1, c1, pool=True),
                                      *conv_block(c1, c2, pool=True),
                                      *conv_block(c2, c3, pool=False),
                                      nn.Flatten())
        self.classifier = nn.Linear(c3 * 7 * 7, NUM_CLASSES)

    def forward(self, pixels):
        # Raw 0..255 pixels in: the normalisation is part of the model.
        return self.classifier(self.features(pixels / 255.0))


def make_reproducible(seed, threads):
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    # Denormal gradients late in training slow every CPU kernel several times over.
    torch.set_flush_denormal(True)


def to_tensors(images, labels):
    return torch.from_numpy(images[:, None].astype(np.float32)), torch.from_numpy(labels.astype(np.int64))


def evaluate(model, images, labels, batch_size=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(images[start:start + batch_size])
            correct += int((logits.argmax(1) == labels[start:start + batch_size]).sum())
    return correct / len(images)


def train(model, images, labels, epochs, batch_size, lr, seed):
    generator = torch.Generator().manual_seed(seed)
    steps = epochs * ((len(images) + batch_size - 1) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        total = 0.0
        started = time.monotonic()
        for start in range(0, len(images), batch_size):
            chosen = order[start:start + batch_size]
            loss = loss_fn(model(images[chosen]), labels[chosen])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss) * len(chosen)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(images):.4f} "
              f"({time.monotonic() - started:.0f} s)", flush=True)


def export(model, path):
    """ONNX export in eval mode (BatchNormalization folded into the convolutions), constants
    folded, a dynamic batch dimension; written beside the target then renamed."""
    model.eval()
    tmp = path + ".tmp"
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), tmp, opset_version=ONNX_OPSET,
                      input_names=["pixels"], output_names=["logits"],
                      dynamic_axes={"pixels": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", default=os.path.join(ROOT, "examples", "fashion_mnist_cnn.onnx"))
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1; results depend on it)")
    args = p.parse_args(argv)

    make_reproducible(args.seed, args.threads)
    train_images, train_labels = to_tensors(*fashion_mnist.load("train"))
    test_images, test_labels = to_tensors(*fashion_mnist.load("test"))
    model = FashionCNN()
    started, cpu_started = time.monotonic(), time.process_time()
    train(model, train_images, train_labels, args.epochs, args.batch_size, args.lr, args.seed)
    seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu_started
    accuracy = evaluate(model, test_images, test_labels)
    print(f"float test accuracy {100 * accuracy:.2f}% after {seconds:.0f} s of training "
          f"({cpu_seconds:.0f} s of CPU)")

    export(model, args.output)
    with open(args.output, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    note = {
        "model": os.path.basename(args.output),
        "sha256": digest,
        "float_test_accuracy": round(accuracy, 4),
        "training_seconds": round(seconds),
        "training_cpu_seconds": round(cpu_seconds),
        "torch": torch.__version__,
        "onnx_opset": ONNX_OPSET,
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "seed": args.seed, "threads": args.threads,
        "channels": list(CHANNELS),
    }
    note_path = os.path.splitext(args.output)[0] + ".json"
    with open(note_path + ".tmp", "w") as f:
        json.dump(note, f, indent=1)
        f.write("\n")
    os.replace(note_path + ".tmp", note_path)
    print(f"wrote {args.output} ({os.path.getsize(args.output)} bytes) and {note_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
