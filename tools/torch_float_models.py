"""Regenerates the tiny float ONNX models PyTorch exports (tests/data/torch/*.onnx), committed so
that the quantizer's tests read real PyTorch exports without PyTorch (only this script needs it).

    /usr/bin/python3 tools/torch_float_models.py tests/data/torch

The models are untrained (seeded random weights, BatchNorm statistics set to realistic values):
the tests compare the quantizer with onnxruntime and with its own float model, not accuracy.
Exported in eval mode without constant folding, so the graphs keep what PyTorch's exporter
writes for these modules: BatchNormalization nodes, the Shape / Gather / Unsqueeze / Concat
chain of x.view(x.size(0), -1), Clip with Constant bounds (ReLU6), ReduceMean, Dropout.
"""
import os
import sys

import torch
from torch import nn


def _realistic_batch_norms(model, generator):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=generator) + 0.5
            m.bias.data = torch.randn(n, generator=generator) * 0.2
            m.running_mean = torch.randn(n, generator=generator) * 0.3
            m.running_var = torch.rand(n, generator=generator) * 1.5 + 0.3


class Cnn(nn.Module):
    """The brief's 28x28x1 classifier: normalisation, Conv 3x3 + BN + ReLU + MaxPool,
    Conv 3x3 + ReLU + MaxPool, x.view(N, -1), Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = (x - 0.2860) / 0.3530
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.view(x.size(0), -1))


class Mobile(nn.Module):
    """3-channel input, per-channel normalisation, stride-2 Conv + BN + ReLU6, depthwise
    Conv + BN + ReLU6, pointwise Conv + BN + ReLU, AdaptiveAvgPool2d(1), flatten, Dropout, Linear."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
            nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
            nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(16, 4))

    def forward(self, x):
        x = self.features((x - self.mean) / self.std)
        return self.classifier(torch.flatten(x, 1))


class Residual(nn.Module):
    """Conv + ReLU, a residual block (Conv + ReLU + Conv, added to its input), Conv + ReLU,
    x.mean((2, 3)), Linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.a = nn.Conv2d(8, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = self.b(torch.relu(self.a(x))) + x
        x = torch.relu(self.head(x))
        return self.fc(x.mean((2, 3)))


MODELS = {"torch_cnn": (Cnn, (1, 28, 28)), "torch_mobile": (Mobile, (3, 32, 32)),
          "torch_residual": (Residual, (1, 12, 12))}


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for i, (name, (cls, shape)) in enumerate(MODELS.items()):
        torch.manual_seed(i)
        model = cls()
        _realistic_batch_norms(model, torch.Generator().manual_seed(100 + i))
        model.eval()
        path = os.path.join(out_dir, name + ".onnx")
        torch.onnx.export(model, torch.rand(1, *shape), path, input_names=["input"],
                          output_names=["output"], opset_version=13, do_constant_folding=False,
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/torch")
