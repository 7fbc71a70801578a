"""Float ONNX test models for the quantizer, built with onnx.helper (no PyTorch), shaped like
PyTorch's exports: named nodes "/convN/Conv", Conv + BatchNormalization + Relu, Clip with its
bounds as inputs, Flatten or the Shape / Gather / Unsqueeze / Concat / Reshape chain of
`x.view(x.size(0), -1)`, Gemm with transB=1, GlobalAveragePool / ReduceMean, residual Add,
depthwise and grouped Conv, Sub / Div input normalisation, MatMul + Add, Dropout / Identity.

    from float_models import build, names
    model = build("cnn_gap")      # an onnx.ModelProto, opset 17, float32 input (N, 1, 28, 28)

Weights are random (numpy, fixed seed per model) with realistic magnitudes (He-like, BN
statistics near those of trained nets) so that quantization is meaningful.
"""
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Builder:
    def __init__(self, name, input_shape, seed=None):
        self.name = name
        self.rng = np.random.default_rng(zlib.crc32(name.encode()) if seed is None else seed)
        self.nodes, self.inits = [], []
        self.input_shape = tuple(input_shape)
        self.counter = {}
        self.shapes = {"input": tuple(input_shape)}  # (C, X, Y) or (F,) without batch

    # -- helpers --
    def _name(self, op, scope=None):
        k = self.counter.get(op, 0)
        self.counter[op] = k + 1
        scope = scope or f"{op.lower()}{k}"
        return f"/{scope}/{op}", f"/{scope}/{op}_output_0"

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, shape, scope=None, **attrs):
        name, out = self._name(op, scope)
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        self.shapes[out] = tuple(shape)
        return out

    # -- layers --
    def conv(self, x, filters, kernel=3, stride=1, pad=1, group=1, bias=True):
        c, h, w = self.shapes[x]
        fan_in = c // group * kernel * kernel
        wt = self.rng.normal(0, np.sqrt(2.0 / fan_in), (filters, c // group, kernel, kernel))
        name, out = self._name("Conv")
        inputs = [x, self.init(name + ".weight", wt.astype(np.float32))]
        if bias:
            inputs.append(self.init(name + ".bias", self.rng.normal(0, 0.1, filters).astype(np.float32)))
        oh = (h + 2 * pad - kernel) // stride + 1
        ow = (w + 2 * pad - kernel) // stride + 1
        self.nodes.append(helper.make_node(
            "Conv", inputs, [out], name=name, dilations=[1, 1], group=group,
            kernel_shape=[kernel, kernel], pads=[pad] * 4, strides=[stride, stride]))
        self.shapes[out] = (filters, oh, ow)
        return out

    def bn(self, x):
        c = self.shapes[x][0]
        name, out = self._name("BatchNormalization")
        params = [self.rng.uniform(0.5, 1.5, c), self.rng.normal(0, 0.2, c),
                  self.rng.normal(0, 0.3, c), self.rng.uniform(0.3, 2.0, c)]
        inputs = [x] + [self.init(f"{name}.{k}", p.astype(np.float32))
                        for k, p in zip(("weight", "bias", "running_mean", "running_var"), params)]
        self.nodes.append(helper.make_node("BatchNormalization", inputs, [out], name=name,
                                           epsilon=1e-5, momentum=0.9))
        self.shapes[out] = self.shapes[x]
        return out

    def relu(self, x):
        return self.node("Relu", [x], self.shapes[x])

    def clip(self, x, lo=0.0, hi=6.0):
        name, out = self._name("Clip")
        lo_name = self.init(name + ".min", np.array(lo, np.float32))
        hi_name = self.init(name + ".max", np.array(hi, np.float32))
        self.nodes.append(helper.make_node("Clip", [x, lo_name, hi_name], [out], name=name))
        self.shapes[out] = self.shapes[x]
        return out

    def maxpool(self, x, k=2, s=2, pad=0):
        c, h, w = self.shapes[x]
        return self.node("MaxPool", [x], (c, (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1),
                         ceil_mode=0, kernel_shape=[k, k], pads=[pad] * 4, strides=[s, s])

    def gap(self, x):
        return self.node("GlobalAveragePool", [x], (self.shapes[x][0], 1, 1))

    def reduce_mean(self, x, keepdims=0):
        c = self.shapes[x][0]
        return self.node("ReduceMean", [x], (c,) if not keepdims else (c, 1, 1), axes=[2, 3],
                         keepdims=keepdims)

    def flatten(self, x):
        return self.node("Flatten", [x], (int(np.prod(self.shapes[x])),), axis=1)

    def view_flatten(self, x):
        """x.view(x.size(0), -1) as PyTorch exports it (Shape, Gather, Unsqueeze, Concat)."""
        shape = self.node("Shape", [x], (4,))
        index = self.init(f"/flatten/index{len(self.inits)}", np.array(0, np.int64))
        batch = self.node("Gather", [shape, index], (), axis=0)
        axes = self.init(f"/flatten/axes{len(self.inits)}", np.array([0], np.int64))
        unsq = self.node("Unsqueeze", [batch, axes], (1,))
        minus_one = self.init(f"/flatten/minus_one{len(self.inits)}", np.array([-1], np.int64))
        target = self.node("Concat", [unsq, minus_one], (2,), axis=0)
        return self.node("Reshape", [x, target], (int(np.prod(self.shapes[x])),))

    def gemm(self, x, units, trans_b=True):
        n = self.shapes[x][0]
        wt = self.rng.normal(0, np.sqrt(2.0 / n), (units, n)).astype(np.float32)
        name, out = self._name("Gemm")
        inputs = [x, self.init(name + ".weight", wt if trans_b else wt.T.copy()),
                  self.init(name + ".bias", self.rng.normal(0, 0.1, units).astype(np.float32))]
        self.nodes.append(helper.make_node("Gemm", inputs, [out], name=name, alpha=1.0, beta=1.0,
                                           transB=1 if trans_b else 0))
        self.shapes[out] = (units,)
        return out

    def matmul_add(self, x, units):
        n = self.shapes[x][0]
        wt = self.rng.normal(0, np.sqrt(2.0 / n), (n, units)).astype(np.float32)
        name, out = self._name("MatMul")
        self.nodes.append(helper.make_node("MatMul", [x, self.init(name + ".weight", wt)], [out], name=name))
        self.shapes[out] = (units,)
        bias = self.init(name + ".bias", self.rng.normal(0, 0.1, units).astype(np.float32))
        return self.node("Add", [bias, out], (units,))

    def add(self, a, b):
        return self.node("Add", [a, b], self.shapes[a])

    def normalize(self, x, mean, std):
        shape = (1, len(mean), 1, 1)
        m = self.init(f"/normalize/mean{len(self.inits)}", np.array(mean, np.float32).reshape(shape))
        s = self.init(f"/normalize/std{len(self.inits)}", np.array(std, np.float32).reshape(shape))
        y = self.node("Sub", [x, m], self.shapes[x], scope="normalize")
        return self.node("Div", [y, s], self.shapes[x], scope="normalize")

    def build(self, output):
        inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch_size", *self.input_shape])
        out = helper.make_tensor_value_info(output, TensorProto.FLOAT,
                                            ["batch_size", *self.shapes[output]])
        graph = helper.make_graph(self.nodes, "main_graph", [inp], [out], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="pytorch-like")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def cnn_gap(b):
    """The brief's 28x28x1 CNN: Conv3x3 + ReLU + MaxPool twice, a 3rd Conv, GAP, Gemm."""
    x = b.normalize("input", [0.2860], [0.3530])
    x = b.maxpool(b.relu(b.bn(b.conv(x, 8, bias=False))))
    x = b.maxpool(b.relu(b.bn(b.conv(x, 16, bias=False))))
    x = b.relu(b.conv(x, 16))
    return b.gemm(b.flatten(b.gap(x)), 10)


def cnn_flatten(b):
    """Conv + ReLU + MaxPool twice, x.view(N, -1), Gemm + ReLU, Gemm (no input normalisation)."""
    x = b.maxpool(b.relu(b.conv("input", 8)))
    x = b.maxpool(b.relu(b.conv(x, 16)))
    x = b.relu(b.gemm(b.view_flatten(x), 32))
    return b.gemm(x, 10)


def clip_depthwise(b):
    """3-channel input, per-channel normalisation, ReLU6 (Clip), a depthwise Conv + BN, 1x1
    Conv, ReduceMean (keepdims 0) then Gemm."""
    x = b.normalize("input", [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    x = b.clip(b.bn(b.conv(x, 8, stride=2, bias=False)))
    x = b.clip(b.bn(b.conv(x, 8, group=8, bias=False)))
    x = b.relu(b.conv(x, 16, kernel=1, pad=0))
    return b.gemm(b.reduce_mean(x), 5)


def residual(b):
    """Conv > ReLU, then a residual block (Conv > ReLU > Conv, Add with the skip), Conv with
    GAP, Gemm."""
    skip = b.relu(b.conv("input", 8))
    x = b.relu(b.conv(skip, 8))
    x = b.conv(x, 8)
    x = b.add(x, skip)
    x = b.relu(b.conv(x, 16))
    return b.gemm(b.flatten(b.gap(x)), 6)


def dense_tail(b):
    """MatMul + Add (a Linear on a rank-2 input), Dropout / Identity dropped, grouped Conv
    expanded, Gemm with transB 0."""
    x = b.maxpool(b.relu(b.conv("input", 8)))
    x = b.relu(b.conv(x, 8, group=2))
    x = b.flatten(x)
    x = b.node("Dropout", [x], b.shapes[x])
    x = b.relu(b.matmul_add(x, 24))
    x = b.node("Identity", [x], b.shapes[x])
    return b.gemm(x, 7, trans_b=False)


def nhwc_input(b):
    """A channels-last input: Transpose [0, 3, 1, 2], per-channel Mul / Add normalisation and a
    BatchNormalization on the input (all folded into the input quantizer), Conv without bias +
    BN + ReLU, an AveragePool over the whole image, Flatten, Gemm."""
    x = b.node("Transpose", ["input"], (3, 12, 12), perm=[0, 3, 1, 2])
    scale = b.init("/normalize/scale", np.array([2.0, 1.5, 2.5], np.float32).reshape(1, 3, 1, 1))
    offset = b.init("/normalize/offset", np.array([-1.0, -0.5, -1.25], np.float32).reshape(1, 3, 1, 1))
    x = b.node("Mul", [x, scale], (3, 12, 12), scope="normalize")
    x = b.node("Add", [x, offset], (3, 12, 12), scope="normalize")
    x = b.relu(b.bn(b.conv(b.bn(x), 8, bias=False)))
    x = b.relu(b.conv(x, 12, stride=2))
    x = b.node("AveragePool", [x], (12, 1, 1), kernel_shape=[6, 6])
    return b.gemm(b.flatten(x), 4)


def unsupported(b):
    """Four nodes the quantizer cannot handle, on parallel branches (a refused node's consumers
    are not reported again): a Sigmoid and a LeakyRelu (ops it does not know), a Clip(-1, 1)
    (not a bounded ReLU) and a MaxPool after a depthwise Conv (no such QuantizeML pattern)."""
    a = b.node("Sigmoid", [b.conv("input", 4)], (4, 8, 8))
    c = b.node("LeakyRelu", [b.conv("input", 4)], (4, 8, 8), alpha=0.1)
    d = b.clip(b.conv("input", 4), -1.0, 1.0)
    e = b.maxpool(b.conv(b.relu(b.conv("input", 4)), 4, group=4), k=3, s=1, pad=1)
    x = b.add(b.add(a, c), b.add(d, e))
    return b.gemm(b.flatten(b.relu(b.conv(x, 4))), 3)


def fashion_cnn(b):
    """A Fashion-MNIST-sized CNN (about 3.8 M multiply-adds per sample), for bench/run.sh:
    Conv 32 + BN + ReLU + MaxPool, Conv 64 + BN + ReLU + MaxPool, Flatten, Gemm 128 + ReLU, Gemm."""
    x = b.normalize("input", [0.2860], [0.3530])
    x = b.maxpool(b.relu(b.bn(b.conv(x, 32, bias=False))))
    x = b.maxpool(b.relu(b.bn(b.conv(x, 64, bias=False))))
    x = b.relu(b.gemm(b.flatten(x), 128))
    return b.gemm(x, 10)


# Models the benchmark quantizes (not the tests: larger).
BENCH_MODELS = {"fashion_cnn": ((1, 28, 28), fashion_cnn)}

MODELS = {
    "cnn_gap": ((1, 28, 28), cnn_gap),
    "cnn_flatten": ((1, 28, 28), cnn_flatten),
    "clip_depthwise": ((3, 16, 16), clip_depthwise),
    "residual": ((2, 12, 12), residual),
    "dense_tail": ((1, 10, 10), dense_tail),
    "nhwc_input": ((12, 12, 3), nhwc_input),
    "unsupported": ((1, 8, 8), unsupported),
}


def names():
    return list(MODELS)


def build(name):
    shape, body = MODELS[name] if name in MODELS else BENCH_MODELS[name]
    b = Builder(name, shape)
    return b.build(body(b))


def samples(name, count, seed=0):
    """Calibration-like inputs: images in [0, 1] (the domain before the normalisation)."""
    shape = MODELS[name][0]
    return np.random.default_rng(seed).uniform(0, 1, (count, *shape)).astype(np.float32)
