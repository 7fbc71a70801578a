"""The catalogue of test models: small graphs that together use every op variant the ONNX
converter must handle (see VARIANTS in the tests and docs/quantizeml-onnx.md).

Each entry builds one model from a fixed seed, so a name always yields the same bytes.
"""
import zlib

from .graph import ModelBuilder

MODELS = {}


def _model(input_shape, frames=24):
    """Registers a model builder under its function name."""
    def register(fn):
        def build():
            b = ModelBuilder(fn.__name__, input_shape, seed=zlib.crc32(fn.__name__.encode()),
                             frames=frames)
            fn(b)
            return b.build()
        build.__doc__ = fn.__doc__
        MODELS[fn.__name__] = build
        return fn
    return register


@_model((3, 8, 8))
def conv_relu(b):
    """InputQuantizer int8 -> Conv2D 3x3 Same BiasedReLU -> Dequantizer (the numpy-checked one)."""
    x = b.input_quantizer()
    b.dequantizer(b.conv(x, 8, kernel=3, padding="same"))


@_model((4, 12, 12))
def conv_variants(b):
    """Conv2D Scaled (no bias, Valid), BiasedScaled (1x1), ReLUScaled (stride 2, Same, even)."""
    x = b.input_quantizer()
    x = b.conv(x, 6, kernel=3, padding="valid", biased=False, activation=None)
    x = b.conv(x, 8, kernel=1, padding="valid", activation=None)
    x = b.conv(x, 8, kernel=3, stride=2, padding="same", biased=False)
    b.dequantizer(x)


@_model((2, 9, 9))
def conv_odd_maxpool(b):
    """Odd sizes: Conv2D + MaxPool 2x2/2 with pool pads (0, 1), then stride 2 Same (1, 1)."""
    x = b.input_quantizer()
    x = b.conv(x, 6, kernel=3, padding="same", pool="max", pool_size=2, pool_stride=2)
    x = b.conv(x, 8, kernel=3, stride=2, padding="same")
    b.dequantizer(x)


@_model((1, 10, 7))
def conv_same_upper(b):
    """Non-square input; stride-2 3x3 convs padded SameUpper (larger half first), TF Same and
    symmetric (PyTorch padding=1, read as SameUpper by BrainChip's converter)."""
    x = b.input_quantizer()
    x = b.conv(x, 4, kernel=3, stride=2, padding="same_upper")
    x = b.conv(x, 8, kernel=3, stride=2, padding="same")
    x = b.conv(x, 8, kernel=3, stride=2, padding="symmetric", activation=None)
    b.dequantizer(x)


@_model((3, 16, 16))
def conv_clipped_maxpool(b):
    """ReLUClipped, MaxPool 2x2/2 + ReLU, MaxPool 3x3/2 (pads 0, 1) + ReLUClipped, MaxPool
    without activation nor bias."""
    x = b.input_quantizer()
    x = b.conv(x, 8, kernel=3, padding="same", activation="ReLUClipped")
    x = b.conv(x, 8, kernel=3, padding="same", pool="max", pool_size=2, pool_stride=2)
    x = b.conv(x, 12, kernel=3, padding="same", pool="max", pool_size=3, pool_stride=2,
               activation="ReLUClipped")
    x = b.conv(x, 6, kernel=1, padding="valid", biased=False, activation=None, pool="max")
    b.dequantizer(x)


@_model((3, 8, 8))
def conv_gap_dense(b):
    """Conv2D + ReLU + GlobalAvgPool (N, F, 1, 1), then Dense1D Flatten on it (Akida (1, 1, F))."""
    x = b.input_quantizer()
    x = b.conv(x, 8, kernel=3, stride=2, padding="same")
    x = b.conv(x, 16, kernel=3, padding="same", pool="gap")
    x = b.dense(x, 10, activation=None)
    b.dequantizer(x)


@_model((2, 7, 7))
def conv_gap_plain(b):
    """GlobalAvgPool without activation nor bias, Dense1D Flatten + ReLUClipped on (1, 1, F)."""
    x = b.input_quantizer()
    x = b.conv(x, 6, kernel=3, padding="same", biased=False, activation=None, pool="gap")
    x = b.dense(x, 8, activation="ReLUClipped")
    b.dequantizer(x)


@_model((2, 6, 6))
def dense_chain(b):
    """Dense1D Flatten after a spatial input, then Dense1D on 2-D inputs: ReLUClipped, no bias,
    and a final unscaled (int32) Dense."""
    x = b.input_quantizer()
    x = b.conv(x, 4, kernel=3, padding="valid")
    x = b.dense(x, 12, activation="ReLU")
    x = b.dense(x, 8, activation="ReLUClipped")
    x = b.dense(x, 6, biased=False, activation=None)
    x = b.dense(x, 3, activation=None, scaled=False)
    b.dequantizer(x)


@_model((3, 16, 16))
def input_conv_uint8(b):
    """uint8 InputQuantizer with zero points -> InputConv2D 3x3 stride 2 SameUpper (padded
    with the zero point) -> Conv2D."""
    x = b.input_quantizer(signed=False)
    x = b.conv(x, 8, kernel=3, stride=2, padding="same_upper")
    x = b.conv(x, 8, kernel=3, padding="same")
    b.dequantizer(x)


@_model((1, 12, 12))
def input_conv_maxpool(b):
    """uint8 single-channel input -> InputConv2D 5x5 Same + MaxPool + ReLU -> Conv2D."""
    x = b.input_quantizer(signed=False)
    x = b.conv(x, 6, kernel=5, padding="same", pool="max")
    x = b.conv(x, 8, kernel=3, stride=2, padding="same", activation=None)
    b.dequantizer(x)


@_model((8, 8, 3))
def perm_input(b):
    """Channels-last float input (N, X, Y, C); InputQuantizer perm [0, 3, 1, 2]."""
    x = b.input_quantizer(perm=[0, 3, 1, 2])
    x = b.conv(x, 8, kernel=3, stride=2, padding="same")
    b.dequantizer(x)


@_model((4, 10, 10))
def depthwise(b):
    """Depthwise2D BiasedReLU (Same), BiasedReLUClipped (stride 2, Same), plain Scaled (Valid)."""
    x = b.input_quantizer()
    x = b.conv(x, 8, kernel=1, padding="valid")
    x = b.depthwise(x, kernel=3, padding="same")
    x = b.depthwise(x, kernel=3, stride=2, padding="same", activation="ReLUClipped")
    x = b.depthwise(x, kernel=3, padding="valid", biased=False, activation=None)
    x = b.conv(x, 10, kernel=1, padding="valid", activation=None)
    b.dequantizer(x)


@_model((3, 8, 8))
def depthwise_same_upper(b):
    """Depthwise2D 3x3 stride 2 SameUpper."""
    x = b.input_quantizer()
    x = b.conv(x, 6, kernel=1, padding="valid")
    x = b.depthwise(x, kernel=3, stride=2, padding="same_upper")
    x = b.conv(x, 6, kernel=1, padding="valid", activation=None)
    b.dequantizer(x)


@_model((2, 6, 6))
def temporal_fifo2_fifo3(b):
    """BufferTempConv fifo 2 (BiasedReLU) and DepthwiseBufferTempConv fifo 3 around a Conv2D."""
    x = b.input_quantizer()
    x = b.buffer_temp_conv(x, 8, fifo_size=2)
    x = b.conv(x, 8, kernel=3, padding="same")
    x = b.depthwise_buffer_temp_conv(x, fifo_size=3)
    x = b.conv(x, 4, kernel=1, padding="valid", activation=None)
    b.dequantizer(x)


@_model((3, 4, 4))
def temporal_fifo5(b):
    """BufferTempConv fifo 5 without bias nor ReLU, DepthwiseBufferTempConv fifo 5 Biased (no
    ReLU), BufferTempConv fifo 3 BiasedReLU."""
    x = b.input_quantizer()
    x = b.buffer_temp_conv(x, 6, fifo_size=5, biased=False, activation=None)
    x = b.depthwise_buffer_temp_conv(x, fifo_size=5, activation=None)
    x = b.buffer_temp_conv(x, 8, fifo_size=3)
    x = b.conv(x, 4, kernel=1, padding="valid", activation=None)
    b.dequantizer(x)


@_model((4, 8, 8))
def add_residual(b):
    """Residual QuantizedAddScaled on power-of-two scaled inputs, then an unscaled (int32)
    QuantizedAdd feeding the Dequantizer."""
    x = b.input_quantizer()
    a = b.conv(x, 8, kernel=3, padding="same", fp_output=True)
    c = b.conv(a, 8, kernel=3, padding="same", activation=None, fp_output=True)
    x = b.add(a, c)
    x = b.conv(x, 8, kernel=3, stride=2, padding="same", fp_output=True)
    d = b.conv(x, 8, kernel=1, padding="valid", fp_output=True)
    b.dequantizer(b.add(x, d, scaled=False))


@_model((3, 8, 8))
def concat(b):
    """Two branches joined by QuantizedConcat on the channel axis, then a Conv2D."""
    x = b.input_quantizer()
    a = b.conv(x, 6, kernel=3, padding="same")
    left = b.conv(a, 4, kernel=3, padding="same")
    right = b.conv(a, 5, kernel=1, padding="valid")
    x = b.concat(left, right)
    x = b.conv(x, 8, kernel=3, stride=2, padding="same")
    b.dequantizer(x)


@_model((3, 8, 8))
def conv_lut(b):
    """LUT activations (11-bit scale-out, then a 2048-entry table): Conv2D BiasedLUT (GELU),
    Depthwise2D stride 2 BiasedLUT (Swish), Conv2D 1x1 LUT without bias (leaky ReLU), and a
    stride-2 Conv2D whose LUT precedes its GlobalAvgPool (on 2x2)."""
    x = b.input_quantizer()
    x = b.conv(x, 8, kernel=3, padding="same", activation="LUT", lut="gelu")
    x = b.depthwise(x, kernel=3, stride=2, padding="same", activation="LUT", lut="swish")
    x = b.conv(x, 8, kernel=1, padding="valid", biased=False, activation="LUT", lut="leaky_relu")
    x = b.conv(x, 12, kernel=3, stride=2, padding="same", activation="LUT", lut="gelu", pool="gap")
    b.dequantizer(x)


@_model((3, 10, 10))
def input_conv_lut(b):
    """uint8 input -> InputConv2D 3x3 stride 2 Same BiasedLUT (Swish) -> Conv2D ReLU."""
    x = b.input_quantizer(signed=False)
    x = b.conv(x, 8, kernel=3, stride=2, padding="same", activation="LUT", lut="swish")
    x = b.conv(x, 8, kernel=3, padding="same")
    b.dequantizer(x)


def model_names():
    return list(MODELS)


def build_model(name):
    """The ModelProto of catalogue entry `name` (KeyError with the known names otherwise)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name]()
