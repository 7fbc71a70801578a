"""The C++ Akida 2.0 runtime (`akida run`) against the independent numpy reference.

First the reference itself is checked on tiny layers whose outputs were worked out by hand
(the expected numbers below come from pencil and paper, not from any implementation).  Then the
AkidaNet VWW fixture is run by both on several deterministic input batches and compared exactly:
integers of the last integer layer (`--forward`) and the dequantized float32 outputs.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import akida_v2_reference as ref  # noqa: E402
import fbz_oracle  # noqa: E402
from fbz_oracle import Layer, Variable  # noqa: E402

VWW = "akidanet_vww_i8_w8_a8_v2_2.11.fbz"

# ---------------------------------------------------------------------------------------------
# Hand-checked tiny layers (test the reference itself; no binary, no fixture)
# ---------------------------------------------------------------------------------------------

CODES = {np.dtype(np.int32): 0, np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3}


def make_layer(layer_type, params, **variables):
    vs = {}
    for name, arr in sorted(variables.items()):
        arr = np.ascontiguousarray(arr)
        vs[name] = Variable(name, list(arr.shape), CODES[arr.dtype], arr.tobytes())
    return Layer("hand", [], dict(params, layer_type=layer_type), vs)


X3 = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.int64).reshape(1, 3, 3, 1)

# Stored kernel (kx, ky, 1, 1) with w[0,1] = 1 and w[2,2] = 10: asymmetric on both axes, so a
# missing or extra 180 degree rotation, or a transposed kernel, changes the result.
K3 = np.zeros((3, 3, 1, 1), dtype=np.int8)
K3[0, 1, 0, 0] = 1
K3[2, 2, 0, 0] = 10


def test_reference_conv2d_is_a_true_convolution():
    # Conv2D, SAME, stride 1, zero padding.  Convolving with w means correlating with w rotated:
    # the rotated kernel has 1 at [2,1] and 10 at [0,0], so
    # out[i,j] = x[i+1, j] + 10 * x[i-1, j-1]   (x outside the image = 0)
    layer = make_layer(ref.CONV2D, {"padding": 1, "kernel_stride": 1, "buffer_bits": 28}, weights=K3)
    expected = np.array([[4, 5, 6],
                         [7, 8 + 10 * 1, 9 + 10 * 2],
                         [0, 0 + 10 * 4, 0 + 10 * 5]])
    out = ref.neural_layer(layer, X3)
    assert np.array_equal(out[0, :, :, 0], expected)


def test_reference_input_conv2d_correlates_and_pads_with_padding_value():
    # InputConv2D correlates with the stored kernel: out[i,j] = x[i-1, j] + 10 * x[i+1, j+1],
    # with padded positions equal to padding_value = 100.
    layer = make_layer(ref.INPUT_CONV2D, {"padding": 1, "kernel_stride": 1, "buffer_bits": 28},
                       weights=K3, padding_value=np.array([100], dtype=np.uint8))
    expected = np.array([[100 + 10 * 5, 100 + 10 * 6, 100 + 10 * 100],
                         [1 + 10 * 8, 2 + 10 * 9, 3 + 10 * 100],
                         [4 + 10 * 100, 5 + 10 * 100, 6 + 10 * 100]])
    out = ref.neural_layer(layer, X3)
    assert np.array_equal(out[0, :, :, 0], expected)


def test_reference_same_padding_stride2_puts_the_extra_pad_after():
    # 4x4 input, 3x3 kernel, stride 2: out 2x2, total pad 1 -> 0 before, 1 after.  A kernel that
    # is 1 only at the top-left tap of the (correlation) window reads x[2i, 2j].
    x = np.arange(16, dtype=np.int64).reshape(1, 4, 4, 1)
    w = np.zeros((3, 3, 1, 1), dtype=np.int8)
    w[0, 0, 0, 0] = 1
    layer = make_layer(ref.INPUT_CONV2D, {"padding": 1, "kernel_stride": 2, "buffer_bits": 28},
                       weights=w, padding_value=np.array([0], dtype=np.uint8))
    assert np.array_equal(ref.neural_layer(layer, x)[0, :, :, 0], [[0, 2], [8, 10]])


def test_reference_depthwise_is_a_true_convolution_per_channel():
    # Two channels: channel 0 uses K3, channel 1 a kernel with a single 2 at stored [1,0], which
    # rotated sits at [1,2]: out[i,j] = 2 * x[i, j+1].
    x = np.concatenate([X3, -X3], axis=3)
    w = np.zeros((3, 3, 2, 1), dtype=np.int8)
    w[:, :, 0, 0] = K3[:, :, 0, 0]
    w[1, 0, 1, 0] = 2
    layer = make_layer(ref.DEPTHWISE_CONV2D, {"padding": 1, "kernel_stride": 1, "buffer_bits": 28},
                       weights=w, input_shift=np.zeros(2, dtype=np.uint8))
    out = ref.neural_layer(layer, x)
    assert np.array_equal(out[0, :, :, 0], [[4, 5, 6], [7, 18, 29], [0, 40, 50]])
    assert np.array_equal(out[0, :, :, 1], [[-4, -6, 0], [-10, -12, 0], [-16, -18, 0]])


def test_reference_output_stage_by_hand():
    # Dense1D, 2 inputs -> 2 units.
    #   x << input_shift [1, 0]            : [3, -2] -> [6, -2]
    #   acc = x @ [[1, 2], [3, -4]]        : [6 - 6, 12 + 8] = [0, 20]
    #   + bias [5, -1] << bias_shift [2, 3]: [0 + 20, 20 - 8] = [20, 12]
    #   ReLU to max_value [1, 1] << [4, 3] : [16, 8]
    #   * output_scales [3, 200]           : [48, 1600]
    #   output_shift [-5, 1]               : 48 / 32 = 1.5 rounds half up to 2; 1600 << 1 = 3200
    #   saturate to 8 bits                 : [2, 127]
    layer = make_layer(ref.DENSE1D, {"activation": 1, "buffer_bits": 28, "post_op_buffer_bits": 32, "output_bits": 8},
                       weights=np.array([[1, 2], [3, -4]], dtype=np.int8),
                       input_shift=np.array([1, 0], dtype=np.uint8),
                       bias=np.array([5, -1], dtype=np.int8), bias_shift=np.array([2, 3], dtype=np.uint8),
                       max_value=np.array([1, 1], dtype=np.uint8), max_value_shift=np.array([4, 3], dtype=np.uint8),
                       output_scales=np.array([3, 200], dtype=np.uint8),
                       output_shift=np.array([-5, 1], dtype=np.int8))
    out = ref.neural_layer(layer, np.array([3, -2]).reshape(1, 1, 1, 2))
    assert np.array_equal(out.reshape(-1), [2, 127])


def test_reference_negative_rounding_and_saturations():
    # Dense1D 1 -> 3 units, no activation, buffer_bits 12 ([-2048, 2047]), post_op_buffer_bits 16
    # ([-32768, 32767]), output_bits 10 ([-512, 511]), output_shift [-5, -8, -8].
    layer = make_layer(ref.DENSE1D, {"buffer_bits": 12, "post_op_buffer_bits": 16, "output_bits": 10},
                       weights=np.array([[-48, 127, -127]], dtype=np.int8),
                       output_scales=np.array([1, 255, 255], dtype=np.uint8),
                       output_shift=np.array([-5, -8, -8], dtype=np.int8))
    # Input 1: acc [-48, 127, -127], nothing saturates.
    #   -48 / 32 = -1.5 rounds half up to -1 ((-48 + 16) >> 5, an arithmetic shift)
    #   127 * 255 = 32385; 32385 / 256 = 126.50.. -> 127
    #   -32385 / 256 = -126.50.. -> -127
    out = ref.neural_layer(layer, np.array([1]).reshape(1, 1, 1, 1))
    assert np.array_equal(out.reshape(-1), [-1, 127, -127])
    # Input 100: acc [-4800, 12700, -12700] saturates to the buffer: [-2048, 2047, -2048].
    #   -2048 / 32 = -64 exactly                           (-150 without buffer saturation)
    #   2047 * 255 = 521985 -> 32767 (post-op saturation); (32767 + 128) >> 8 = 128
    #                                                       (2039 -> 511 without it)
    #   -2048 * 255 = -522240 -> -32768; -32768 / 256 = -128 exactly
    out = ref.neural_layer(layer, np.array([100]).reshape(1, 1, 1, 1))
    assert np.array_equal(out.reshape(-1), [-64, 128, -128])


def test_reference_max_pool_ignores_same_padding_and_gap_sums():
    # 1x1 identity Conv2D, then max pool 2x2 stride 2 (SAME) on a 3x3 all-negative map: padded
    # positions must not win the max (a zero pad would give 0 in the last row/column).
    ident = np.ones((1, 1, 1, 1), dtype=np.int8)
    layer = make_layer(ref.CONV2D, {"padding": 1, "kernel_stride": 1, "buffer_bits": 28,
                                    "pool_type": 1, "pool_size": 2, "pool_stride": -1}, weights=ident)
    out = ref.neural_layer(layer, -X3)
    assert np.array_equal(out[0, :, :, 0], [[-1, -3], [-7, -9]])
    # Global average pooling after ReLU is a plain sum: clip(-X3 + 5, 0) sums to 4+3+2+1 = 10.
    layer = make_layer(ref.CONV2D, {"padding": 1, "kernel_stride": 1, "buffer_bits": 28, "activation": 1,
                                    "pool_type": 2}, weights=ident)
    out = ref.neural_layer(layer, 5 - X3)
    assert out.shape == (1, 1, 1, 1) and out[0, 0, 0, 0] == 10


# ---------------------------------------------------------------------------------------------
# C++ runtime vs reference on the VWW model
# ---------------------------------------------------------------------------------------------

def vww_path():
    source = os.environ.get("CNN2SNN_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    path = os.path.join(source, "..", "shared", "fixtures", "fbz", VWW)
    if not os.path.isfile(path):
        pytest.skip("fixture %s not found (BrainChip files live outside the repository, in ../shared/fixtures)" % path)
    return path


def akida_binary():
    bin_dir = os.environ.get("CNN2SNN_BIN_DIR")
    if not bin_dir:
        pytest.skip("CNN2SNN_BIN_DIR is not set (point it at the build's bin/ folder holding `akida`)")
    path = os.path.join(bin_dir, "akida")
    assert os.access(path, os.X_OK), "no executable akida in CNN2SNN_BIN_DIR=%s" % bin_dir
    return path


def run_akida(model_path, inputs, tmp_path, forward):
    in_path = tmp_path / "in.npy"
    out_path = tmp_path / ("forward.npy" if forward else "out.npy")
    np.save(in_path, inputs)
    cmd = [akida_binary(), "run", "-m", model_path, "-i", str(in_path), "-o", str(out_path)]
    if forward:
        cmd.append("--forward")
    proc = subprocess.run(cmd, capture_output=True, timeout=600)
    assert proc.returncode == 0, "%s failed (%d): %s" % (" ".join(cmd), proc.returncode,
                                                        proc.stderr.decode(errors="replace")[-2000:])
    assert out_path.is_file(), "%s wrote no %s" % (" ".join(cmd), out_path)
    return np.load(out_path)


def batches():
    """Deterministic uint8 batches of the VWW input shape (96, 96, 3)."""
    shape = (2, 96, 96, 3)
    rng = np.random.default_rng(20240611)
    return {
        "random": rng.integers(0, 256, size=shape, dtype=np.uint8),
        "small_0_to_4": rng.integers(0, 5, size=shape, dtype=np.uint8),
        "zeros": np.zeros(shape, dtype=np.uint8),
        "all_255": np.full(shape, 255, dtype=np.uint8),
    }


def describe_mismatch(got, want):
    diff = np.argwhere(got != want)
    first = tuple(int(i) for i in diff[0])
    return "%d of %d values differ; first at %s: akida %r, reference %r" % (
        len(diff), want.size, first, got[first], want[first])


def same_shape(got, want):
    """akida predict/forward outputs are (N, X, Y, F), (N, 1, 1, F) here, like the reference's."""
    assert got.shape == want.shape, "akida output shape %s, reference %s" % (got.shape, want.shape)
    return got


@pytest.fixture(scope="module")
def vww():
    model = fbz_oracle.load_fbz(vww_path())
    assert ref.input_shape(model) == (96, 96, 3)  # from the InputConv2D parameters input_x/y/channels
    return model


@pytest.mark.parametrize("case", list(batches()))
def test_forward_integers_match_reference(vww, case, tmp_path):
    inputs = batches()[case]
    _, ints = ref.run(vww, inputs)
    want = ints[ref.last_integer_layer(vww)]
    got = run_akida(vww_path(), inputs, tmp_path, forward=True)
    assert np.issubdtype(got.dtype, np.integer), "--forward wrote %s, expected integers" % got.dtype
    got = same_shape(got, want).astype(np.int64)
    assert np.array_equal(got, want), describe_mismatch(got, want)


@pytest.mark.parametrize("case", list(batches()))
def test_dequantized_outputs_match_reference(vww, case, tmp_path):
    inputs = batches()[case]
    want, _ = ref.run(vww, inputs)
    assert want.dtype == np.float32
    got = run_akida(vww_path(), inputs, tmp_path, forward=False)
    assert got.dtype == np.float32, "akida run wrote %s, expected float32" % got.dtype
    got = same_shape(got, want)
    # float32(int) * float32(scale) is one correctly rounded operation: bit-exact on both sides.
    same = got.view(np.uint32) == want.view(np.uint32)
    assert same.all(), describe_mismatch(got, want)
