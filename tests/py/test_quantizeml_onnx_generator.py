"""Tests of tools/quantizeml_onnx, the generator of QuantizeML-style ONNX models.

Run with: /usr/bin/python3 -m pytest -q tests/py/test_quantizeml_onnx_generator.py

* structure: every model follows QuantizeML's conventions (IR 10, opsets, com.brainchip nodes
  with their functions, initializer names / dtypes / shapes, node attributes) and passes
  onnx.checker. onnx 1.12 only knows IR <= 8 and opset <= 17, so the checker runs on a copy
  declared IR 8 / opset 17 (every op used has the same signature in opset 17); the real IR 10 /
  opset 21 declarations are asserted separately.
* fixture: the generated conventions and function bodies are compared with the real QuantizeML
  export tennst_int8_quantizeml.onnx, for the variants it contains (skipped when it is absent).
* execution: with onnxruntime-node installed (bash scripts/setup.sh), every model runs through
  tests/onnx_oracle (function bodies inlined, FIFOs made explicit) on random frames; outputs
  must be integers spread over their range. One Conv model is also recomputed in numpy.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)

from tools.quantizeml_onnx import build_model, model_names  # noqa: E402

FIXTURE = os.environ.get("QUANTIZEML_ONNX_FIXTURE",
                         "/work/shared/fixtures/onnx/tennst_int8_quantizeml.onnx")
ORACLE = os.path.join(ROOT, "tests", "onnx_oracle")
HAVE_ORT = (os.path.isdir(os.path.join(ORACLE, "node_modules", "onnxruntime-node"))
            and shutil.which("node") is not None)
BRAINCHIP = "com.brainchip"
NAMES = model_names()

# Every op variant the ONNX converter must handle (the brief's list).
REQUIRED_OP_TYPES = {
    "InputQuantizer", "Dequantizer",
    "QuantizedConv2DScaled", "QuantizedConv2DBiasedScaled", "QuantizedConv2DReLUScaled",
    "QuantizedConv2DBiasedReLUScaled", "QuantizedConv2DBiasedReLUClippedScaled",
    "QuantizedConv2DBiasedMaxPoolReLUScaled", "QuantizedConv2DBiasedMaxPoolReLUClippedScaled",
    "QuantizedConv2DMaxPoolScaled", "QuantizedConv2DBiasedGlobalAvgPoolReLUScaled",
    "QuantizedConv2DGlobalAvgPoolScaled",
    "QuantizedInputConv2DBiasedReLUScaled", "QuantizedInputConv2DBiasedMaxPoolReLUScaled",
    "QuantizedDepthwise2DBiasedReLUScaled", "QuantizedDepthwise2DBiasedReLUClippedScaled",
    "QuantizedDepthwise2DScaled",
    "QuantizedDense1DFlattenBiasedReLUScaled", "QuantizedDense1DFlattenBiasedScaled",
    "QuantizedDense1DFlattenBiasedReLUClippedScaled", "QuantizedDense1DBiasedReLUClippedScaled",
    "QuantizedDense1DScaled", "QuantizedDense1DBiased",
    "QuantizedBufferTempConvBiasedReLUScaled", "QuantizedBufferTempConvScaled",
    "QuantizedDepthwiseBufferTempConvBiasedReLUScaled",
    "QuantizedDepthwiseBufferTempConvBiasedScaled",
    "QuantizedAddScaled", "QuantizedAdd", "QuantizedConcat",
    # LUT activations (11-bit scale-out + Gather), before GAP when both are present
    "QuantizedConv2DBiasedLUTScaled", "QuantizedConv2DLUTScaled",
    "QuantizedConv2DBiasedGlobalAvgPoolLUTScaled", "QuantizedDepthwise2DBiasedLUTScaled",
    "QuantizedInputConv2DBiasedLUTScaled",
}

# The standard-op sequence of each body, written out by hand from QuantizeML's build_subgraph
# sources (docs/quantizeml-onnx.md): an independent statement of what the bodies must be.
SCALE_OUT = ["Cast", "Cast", "Div", "Mul", "Constant", "Add", "Floor", "Constant", "Constant",
             "Clip", "Cast"]
# LUT: the same scale-out without its final int8 Cast, then Cast int32, Gather, Cast float.
LUT_OPS = SCALE_OUT[:-1] + ["Cast", "Gather", "Cast"]
SHIFT_OUT = ["Cast", "Div", "Constant", "Add", "Floor", "Constant", "Constant", "Clip", "Cast"]
EXPECTED_BODIES = {
    "InputQuantizer": ["Transpose", "QuantizeLinear"],
    "Dequantizer": ["DequantizeLinear"],
    "QuantizedConcat": ["Concat"],
    "QuantizedConv2DScaled": ["Cast", "Cast", "Pad", "Conv"] + SCALE_OUT,
    "QuantizedConv2DBiasedReLUScaled": ["Cast"] * 3 + ["Pad", "Conv", "Relu"] + SCALE_OUT,
    "QuantizedConv2DBiasedReLUClippedScaled":
        ["Cast"] * 3 + ["Pad", "Conv", "Relu", "Cast", "Min"] + SCALE_OUT,
    "QuantizedConv2DBiasedMaxPoolReLUScaled":
        ["Cast"] * 3 + ["Pad", "Conv", "MaxPool", "Relu"] + SCALE_OUT,
    "QuantizedConv2DMaxPoolScaled": ["Cast"] * 2 + ["Pad", "Conv", "MaxPool"] + SCALE_OUT,
    # ReLU comes BEFORE the global average pool, which is a ReduceSum.
    "QuantizedConv2DBiasedGlobalAvgPoolReLUScaled":
        ["Cast"] * 3 + ["Pad", "Conv", "Relu", "Constant", "ReduceSum"] + SCALE_OUT,
    "QuantizedInputConv2DBiasedReLUScaled":
        ["Cast"] * 4 + ["Constant", "Unsqueeze", "Sub", "Pad", "Add", "Conv", "Relu"] + SCALE_OUT,
    "QuantizedDepthwise2DBiasedReLUScaled": ["Cast"] * 3 + ["Pad", "Conv", "Relu"] + SCALE_OUT,
    "QuantizedConv2DBiasedLUTScaled": ["Cast"] * 3 + ["Pad", "Conv"] + LUT_OPS + SCALE_OUT,
    "QuantizedConv2DBiasedGlobalAvgPoolLUTScaled":
        ["Cast"] * 3 + ["Pad", "Conv"] + LUT_OPS + ["Constant", "ReduceSum"] + SCALE_OUT,
    "QuantizedDepthwise2DBiasedLUTScaled": ["Cast"] * 3 + ["Pad", "Conv"] + LUT_OPS + SCALE_OUT,
    "QuantizedDense1DFlattenBiasedReLUScaled":
        ["Cast"] * 3 + ["Flatten", "Gemm", "Relu"] + SCALE_OUT,
    "QuantizedDense1DBiased": ["Cast"] * 3 + ["Gemm", "Cast"],
    "QuantizedBufferTempConvBiasedReLUScaled":
        ["Cast"] * 3 + ["BufferTempConv", "Relu"] + SCALE_OUT,
    "QuantizedDepthwiseBufferTempConvBiasedScaled":
        ["Cast"] * 3 + ["DepthwiseBufferTempConv"] + SCALE_OUT,
    "QuantizedAddScaled": ["Cast"] * 4 + ["Mul", "Mul", "Add"] + SHIFT_OUT,
    "QuantizedAdd": ["Cast"] * 4 + ["Mul", "Mul", "Add", "Cast"],
    "BufferTempConv": ["FifoOp", "Cast", "Transpose", "Constant", "Reshape", "Transpose", "Conv"],
    "DepthwiseBufferTempConv": ["FifoOp", "Cast", "Mul", "Constant", "ReduceSum", "Add"],
}


@pytest.fixture(scope="module")
def models():
    return {name: build_model(name) for name in NAMES}


def initializers(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def attrs(node):
    values = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return {k: numpy_helper.to_array(v) if isinstance(v, onnx.TensorProto) else v
            for k, v in values.items()}


def functions(model):
    return {f.name: f for f in model.functions}


def quantized_nodes(model):
    return [n for n in model.graph.node if n.op_type not in ("InputQuantizer", "Dequantizer")]


def is_pow2(values):
    values = np.asarray(values, np.float64)
    return bool(np.all(values > 0) and np.all(2.0 ** np.round(np.log2(values)) == values))


def for_checker(model):
    """A copy onnx 1.12's checker accepts: IR 8, default opset 17 (model and functions)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy.ir_version = 8
    for opsets in [copy.opset_import] + [f.opset_import for f in copy.functions]:
        for o in opsets:
            if o.domain == "":
                o.version = 17
    return copy


# ---------------------------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------------------------

def test_catalogue_covers_every_variant(models):
    seen = {n.op_type for m in models.values() for n in m.graph.node}
    assert REQUIRED_OP_TYPES <= seen, f"missing: {sorted(REQUIRED_OP_TYPES - seen)}"


def test_catalogue_covers_paddings_strides_fifos_and_inputs(models):
    pad_kinds, strides, fifos, perms, zp_types, shapes = set(), set(), set(), set(), set(), set()
    for m in models.values():
        inits = initializers(m)
        shapes.add(tuple(d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim[1:]))
        for n in m.graph.node:
            a = attrs(n)
            if n.op_type == "InputQuantizer":
                perms.add(tuple(a["perm"]))
                zp_types.add(inits[n.input[2]].dtype.name)
            strides.update(a.get("strides", []))
            if "fifo_size" in a:
                fifos.add(a["fifo_size"])
            pads = [inits[i] for i in n.input if i.endswith("_pads")]
            for p in pads:
                before, after = p[2:4], p[6:8]
                if not p.any():
                    pad_kinds.add("valid")
                elif np.any(after > before):
                    pad_kinds.add("same (extra after)")
                elif np.any(before > after):
                    pad_kinds.add("same_upper (extra before)")
                else:
                    pad_kinds.add("symmetric")
    assert pad_kinds == {"valid", "same (extra after)", "same_upper (extra before)", "symmetric"}
    assert strides == {1, 2}
    assert fifos == {2, 3, 5}
    assert (0, 1, 2, 3) in perms and (0, 3, 1, 2) in perms
    assert zp_types == {"int8", "uint8"}
    assert len(shapes) >= 6
    assert any(s[1] != s[2] for s in shapes), "no non-square input"


@pytest.mark.parametrize("name", NAMES)
def test_model_level_conventions(models, name):
    m = models[name]
    assert m.ir_version == 10
    assert [(o.domain, o.version) for o in m.opset_import] == [("", 21), (BRAINCHIP, 1)]
    g = m.graph
    assert g.name == "main_graph"
    assert len(g.input) == 1 and len(g.output) == 1
    inp = g.input[0].type.tensor_type
    assert g.input[0].name == "input" and inp.elem_type == onnx.TensorProto.FLOAT
    assert inp.shape.dim[0].dim_param == "N" and len(inp.shape.dim) == 4
    assert g.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert all(n.domain == BRAINCHIP for n in g.node)
    first, last = g.node[0], g.node[-1]
    assert (first.op_type, first.name, list(first.input), list(first.output)) == \
        ("InputQuantizer", "quantize", ["input", "quantize_scale", "quantize_zp"], ["quantize"])
    assert (last.op_type, last.name) == ("Dequantizer", "dequantizer")
    assert list(last.input)[1] == "dequantizer_scale"
    assert list(last.output) == [last.input[0] + "/dequantize"] == [g.output[0].name]
    # value_info: every node output except the graph output, typed, batch dimension "N".
    produced = [n.output[0] for n in g.node[:-1]]
    assert [v.name for v in g.value_info] == produced
    for v in g.value_info:
        assert v.type.tensor_type.shape.dim[0].dim_param == "N"


@pytest.mark.parametrize("name", NAMES)
def test_functions_attached_and_consistent(models, name):
    m = models[name]
    fns = functions(m)
    assert len(fns) == len(m.functions), "duplicate function"
    used = [n.op_type for n in m.graph.node]
    # Registration order = first use; the temporal helpers follow their first user.
    expected = []
    for op in used:
        if op not in expected:
            expected.append(op)
            if "BufferTempConv" in op:
                helper_fn = "DepthwiseBufferTempConv" if "Depthwise" in op else "BufferTempConv"
                if helper_fn not in expected:
                    expected.append(helper_fn)
    assert [f.name for f in m.functions] == expected
    for f in m.functions:
        assert f.domain == BRAINCHIP
        body = [n.op_type for n in f.node]
        uses_custom = any(n.domain == BRAINCHIP for n in f.node)
        assert [(o.domain, o.version) for o in f.opset_import] == \
            [("", 21)] + ([(BRAINCHIP, 1)] if uses_custom else [])
        if f.name in EXPECTED_BODIES:
            assert body == EXPECTED_BODIES[f.name], f.name
        refs = {a.ref_attr_name for n in f.node for a in n.attribute if a.ref_attr_name}
        if f.name not in ("BufferTempConv", "DepthwiseBufferTempConv"):
            assert set(f.attribute) == refs, f.name
    for n in m.graph.node:
        f = fns[n.op_type]
        assert len(n.input) == len(f.input), n.name
        # Node attributes: the function's attributes plus the output scale (not Dequantizer).
        names = [a.name for a in n.attribute]
        if n.op_type == "Dequantizer":
            assert names == []
        else:
            assert set(names) == set(f.attribute) | {"scale"} and names[-1] == "scale", n.name


@pytest.mark.parametrize("name", NAMES)
def test_initializers_follow_quantizeml_naming_and_dtypes(models, name):
    m = models[name]
    inits = initializers(m)
    consumed = set()
    for n in quantized_nodes(m):
        fn = functions(m)[n.op_type]
        formal = dict(zip(fn.input, n.input))
        consumed.update(v for k, v in formal.items() if k not in ("X", "Y"))
        out_channels = len(attrs(n)["scale"])
        expect_suffix = {"W": "_Wi", "bias": "_B", "pads": "_pads", "Scale": "_M",
                         "Shift": "_S_out", "max_value": "_max_value", "x_pad_value": "_Xpad",
                         "Xs": "_x1_shift", "Ys": "_x2_shift", "ActScale": "_M_act",
                         "ActShift": "_S_act", "LUT_values": "_LUT"}
        for f_name, actual in formal.items():
            if f_name in ("X", "Y"):
                continue
            assert actual == n.name + expect_suffix[f_name], (n.name, f_name, actual)
            v = inits[actual]
            if f_name == "W":
                assert v.dtype == np.int8 and v.ndim in (2, 4)
                # per-axis quantization: every filter reaches the int8 extreme
                assert np.all(np.abs(v.reshape(v.shape[0], -1)).max(axis=1) == 127)
            elif f_name == "bias":
                assert v.dtype == np.int32
                for b in v.ravel().tolist():  # an 8-bit mantissa shifted left
                    while b % 2 == 0 and abs(b) > 128:
                        b //= 2
                    assert abs(b) <= 128, v
            elif f_name == "pads":
                assert v.dtype == np.int64 and v.shape == (8,) and not v[[0, 1, 4, 5]].any()
            elif f_name == "Scale":
                assert v.dtype == np.uint8 and v.shape in ((1, out_channels, 1, 1),
                                                          (1, out_channels))
                assert v.min() >= 128, "M is a normalized 8-bit mantissa"
            elif f_name == "Shift":
                assert v.dtype == np.float32 and v.shape[:2] == (1, out_channels) and is_pow2(v)
            elif f_name == "max_value":
                assert v.dtype == np.int32 and v.shape[:2] == (1, out_channels) and v.min() > 0
            elif f_name == "x_pad_value":
                assert v.dtype == np.uint8 and v.ndim == 1
                assert np.array_equal(v, inits["quantize_zp"])
            elif f_name == "ActScale":
                assert v.dtype == np.uint8 and v.shape == (1, out_channels, 1, 1)
                assert v.min() >= 128, "M_act is a normalized 8-bit mantissa"
            elif f_name == "ActShift":
                assert v.dtype == np.float32 and v.shape == (1, out_channels, 1, 1) and is_pow2(v)
            elif f_name == "LUT_values":
                # 2^11 int32 entries of 14-bit values, ONNX order [0 .. 1023, -1024 .. -1]
                assert v.dtype == np.int32 and v.shape == (2048,)
                assert np.abs(v).max() < 2 ** 13
            elif f_name in ("Xs", "Ys"):
                assert v.dtype == np.int32 and v.shape == (1, out_channels, 1, 1) and is_pow2(v)
        scale = n.attribute[-1]
        assert scale.type == onnx.AttributeProto.TENSOR
        assert scale.t.data_type == onnx.TensorProto.DOUBLE and np.all(attrs(n)["scale"] > 0)
    assert inits["quantize_scale"].dtype == np.float32
    assert inits["quantize_zp"].dtype in (np.int8, np.uint8)
    assert inits["dequantizer_scale"].dtype == np.float32
    consumed.update(["quantize_scale", "quantize_zp", "dequantizer_scale"])
    assert consumed == set(inits), "unused or missing initializers"


@pytest.mark.parametrize("name", NAMES)
def test_dequantizer_and_add_scales_are_consistent(models, name):
    m = models[name]
    inits = initializers(m)
    producer = {n.output[0]: n for n in m.graph.node}
    deq = m.graph.node[-1]
    np.testing.assert_allclose(inits["dequantizer_scale"],
                               1.0 / attrs(producer[deq.input[0]])["scale"], rtol=1e-6)
    q = m.graph.node[0]
    np.testing.assert_allclose(attrs(q)["scale"], 1.0 / inits["quantize_scale"], rtol=1e-6)
    for n in m.graph.node:
        if n.op_type.startswith("QuantizedAdd"):
            sa, sb = (attrs(producer[i])["scale"] for i in n.input[:2])
            assert is_pow2(sa) and is_pow2(sb), "Add inputs must be power-of-two scaled"
            out = np.maximum(sa, sb)
            np.testing.assert_array_equal(inits[n.input[2]].ravel(), out / sa)
            np.testing.assert_array_equal(inits[n.input[3]].ravel(), out / sb)


@pytest.mark.parametrize("name", NAMES)
def test_onnx_checker(models, name):
    m = models[name]
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(m)  # if this starts passing, onnx learned IR 10: drop for_checker
    onnx.checker.check_model(for_checker(m), full_check=True)


def test_checker_would_catch_a_broken_body(models):
    m = for_checker(models["conv_relu"])
    conv = next(n for f in m.functions for n in f.node if n.op_type == "Conv")
    conv.op_type = "Cnv"
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(m)


def test_deterministic_in_process_and_across_hash_seeds(tmp_path):
    for name in NAMES:
        assert build_model(name).SerializeToString() == build_model(name).SerializeToString()
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-m", "tools.quantizeml_onnx", "--all", str(tmp_path)],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    for name in NAMES:
        with open(tmp_path / f"{name}.onnx", "rb") as f:
            assert f.read() == build_model(name).SerializeToString(), name


def test_cli(tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "tools.quantizeml_onnx", *a],  # noqa
                                    cwd=ROOT, capture_output=True, text=True)
    r = run("--list")
    assert r.returncode == 0 and r.stdout.split() == NAMES
    out = tmp_path / "m.onnx"
    r = run("--model", "depthwise", "-o", str(out))
    assert r.returncode == 0
    assert onnx.load(str(out)).SerializeToString() == build_model("depthwise").SerializeToString()
    r = run("--model", "no_such_model", "-o", str(out))
    assert r.returncode == 2 and "unknown model" in r.stderr


# ---------------------------------------------------------------------------------------------
# Comparison with the real QuantizeML export
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_model():
    if not os.path.exists(FIXTURE):
        pytest.skip(f"QuantizeML fixture {FIXTURE} absent: fixture comparison skipped")
    return onnx.load(FIXTURE)


def _without_attribute_order(function):
    """QuantizeML collects a function's attribute names in a Python set: their order is
    arbitrary, so compare them as a set and the rest byte for byte."""
    copy = onnx.FunctionProto()
    copy.CopyFrom(function)
    names = sorted(copy.attribute)
    del copy.attribute[:]
    return copy.SerializeToString(), names


def test_fixture_functions_identical(models, fixture_model):
    generated = {}
    for m in models.values():
        generated.update(functions(m))
    for f in fixture_model.functions:
        assert f.name in generated, f"variant {f.name} of the fixture is not generated"
        assert _without_attribute_order(generated[f.name]) == _without_attribute_order(f), f.name


def _node_signature(model, node):
    """Naming and typing conventions of a node: input suffixes after the node name, the dtype
    and rank of each initializer, attribute names and types."""
    inits = initializers(model)
    inputs = []
    for i in node.input:
        if i in inits:
            suffix = i[len(node.name):] if i.startswith(node.name) else i
            inputs.append((suffix, inits[i].dtype.name, inits[i].ndim))
        else:
            inputs.append(("<tensor>",))
    return inputs, [(a.name, a.type) for a in node.attribute]


def test_fixture_node_conventions(models, fixture_model):
    generated = {}
    for m in models.values():
        for n in m.graph.node:
            generated.setdefault(n.op_type, (m, n))
    for n in fixture_model.graph.node:
        m, g = generated[n.op_type]
        assert _node_signature(m, g) == _node_signature(fixture_model, n), n.op_type
        if "BufferTempConv" in n.op_type:
            a, b = attrs(n), attrs(g)
            # "<float input tensor>_fifo": the model input is "input" before quantization.
            for node, at in ((n, a), (g, b)):
                float_input = "input" if node.input[0] == "quantize" else node.input[0]
                assert at["fifo_name"] == (float_input + "_fifo").encode()
            assert a["model_id"].endswith(b"_quantized") and b["model_id"].endswith(b"_quantized")
            assert len(n.name) == len(g.name) == 36 and g.name.count("-") == 4  # uuid form
        elif n.op_type not in ("InputQuantizer", "Dequantizer"):
            assert n.name.startswith("node_Conv_") and g.name.startswith("node_Conv_")


def test_fixture_model_level(models, fixture_model):
    m = models["temporal_fifo2_fifo3"]
    for attr in ("ir_version", "producer_name", "producer_version", "domain", "model_version"):
        assert getattr(m, attr) == getattr(fixture_model, attr), attr
    assert list(m.opset_import) == list(fixture_model.opset_import)
    assert m.graph.name == fixture_model.graph.name
    assert m.graph.input[0].name == fixture_model.graph.input[0].name
    fx_vi = [v.name for v in fixture_model.graph.value_info]
    assert fx_vi == [n.output[0] for n in fixture_model.graph.node[:-1]]  # same rule as ours


# ---------------------------------------------------------------------------------------------
# Execution with onnxruntime (tests/onnx_oracle)
# ---------------------------------------------------------------------------------------------

def random_frames(model, count, seed):
    """Float frames covering the InputQuantizer's representable range."""
    inits = initializers(model)
    scale = inits["quantize_scale"].astype(np.float64)
    zp = inits["quantize_zp"]
    lo, hi = (-128, 127) if zp.dtype == np.int8 else (0, 255)
    low, high = (lo - zp.astype(np.float64)) * scale, (hi - zp.astype(np.float64)) * scale
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    perm = attrs(model.graph.node[0])["perm"]
    shape = [1] * (len(dims) + 1)
    shape[perm[1]] = -1  # the input axis that becomes the channel axis
    u = np.random.default_rng(seed).uniform(0.0, 1.0, [count] + dims)
    return (low.reshape(shape) + u * (high - low).reshape(shape)).astype(np.float32)


def run_oracle(model, frames, workdir):
    """Runs `model` frame by frame with onnxruntime; returns ([layer outputs], layers spec)."""
    path, prefix = str(workdir / "model.onnx"), str(workdir / "runnable")
    onnx.save(model, path)
    np.save(workdir / "frames.npy", frames)
    subprocess.run([sys.executable, os.path.join(ORACLE, "quantizeml_onnx_runnable.py"), path,
                    prefix], check=True, capture_output=True)
    r = subprocess.run(["node", os.path.join(ORACLE, "run_ort.mjs"), prefix,
                        str(workdir / "frames.npy"), str(workdir / "out")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(prefix + ".json") as f:
        spec = json.load(f)
    return [np.load(workdir / "out" / f"{i}.npy") for i in range(len(spec["layers"]))], spec


needs_ort = pytest.mark.skipif(not HAVE_ORT, reason="onnxruntime-node not installed "
                               "(bash scripts/setup.sh): execution tests skipped")
NP_TYPES = {onnx.TensorProto.INT8: np.int8, onnx.TensorProto.UINT8: np.uint8,
            onnx.TensorProto.INT32: np.int32, onnx.TensorProto.FLOAT: np.float32}


@needs_ort
@pytest.mark.parametrize("name", NAMES)
def test_runs_in_onnxruntime_with_spread_outputs(models, name, tmp_path):
    m = models[name]
    outputs, spec = run_oracle(m, random_frames(m, 8, seed=7), tmp_path)
    types = {v.name: v.type.tensor_type.elem_type for v in list(m.graph.value_info) + list(m.graph.output)}
    assert [layer["node"] for layer in spec["layers"]] == [n.name for n in m.graph.node]
    for layer, out in zip(spec["layers"], outputs):
        assert out.dtype == NP_TYPES[types[layer["output"]]], layer
        if out.dtype == np.float32:
            continue
        assert len(np.unique(out)) > 4, f"{layer['node']} ({layer['op_type']}): near constant"
        if out.dtype == np.int8:
            saturated = np.mean((out == 127) | (out == -128))
            assert saturated < 0.35, f"{layer['node']}: {saturated:.0%} saturated"
            spread = int(out.max()) - int(out.min())
            assert spread >= 64, f"{layer['node']}: narrow {out.min()}..{out.max()}"
    # Dequantizer: float = int * dequantizer_scale (per channel).
    scale = initializers(m)["dequantizer_scale"]
    expect = outputs[-2].astype(np.float64) * scale.reshape((1, 1, -1) + (1,) * (outputs[-2].ndim - 3))
    np.testing.assert_allclose(outputs[-1], expect, rtol=1e-6)


@needs_ort
def test_conv_relu_matches_numpy(models, tmp_path):
    """An independent integer recomputation of conv_relu: QuantizeLinear, then int64
    correlation with W + bias, ReLU, floor(y / S * M + 0.5) (as (y*M + S/2) >> log2 S), clip."""
    m = models["conv_relu"]
    inits = initializers(m)
    frames = random_frames(m, 5, seed=11)
    outputs, _ = run_oracle(m, frames, tmp_path)
    # InputQuantizer: round half to even, zero point 0, saturate.
    q = np.clip(np.round(frames.astype(np.float32) / inits["quantize_scale"][None, :, None, None]),
                -128, 127).astype(np.int64)
    np.testing.assert_array_equal(outputs[0][:, 0], q)

    conv = m.graph.node[1]
    assert conv.op_type == "QuantizedConv2DBiasedReLUScaled"
    w = inits[conv.name + "_Wi"].astype(np.int64)
    bias = inits[conv.name + "_B"].astype(np.int64)
    pads = inits[conv.name + "_pads"]
    mult = inits[conv.name + "_M"].astype(np.int64).ravel()
    shift = inits[conv.name + "_S_out"].astype(np.float64).ravel()
    assert np.all(shift >= 2) and is_pow2(shift)  # exercise the rounded right shift
    log2s = np.log2(shift).astype(np.int64)
    assert tuple(attrs(conv)["strides"]) == (1, 1)
    xp = np.pad(q, [(0, 0), (0, 0), (pads[2], pads[6]), (pads[3], pads[7])])
    f, c, kx, ky = w.shape
    ox, oy = xp.shape[2] - kx + 1, xp.shape[3] - ky + 1
    got = outputs[1][:, 0].astype(np.int64)
    checked = 0
    for t in range(q.shape[0]):
        for fi in range(f):
            for i in range(ox):
                for j in range(oy):
                    y = int(np.sum(xp[t, :, i:i + kx, j:j + ky] * w[fi])) + int(bias[fi])
                    y = max(y, 0)
                    v = (y * int(mult[fi]) + (1 << int(log2s[fi] - 1))) >> int(log2s[fi])
                    assert got[t, fi, i, j] == min(max(v, -128), 127), (t, fi, i, j)
                    checked += 1
    assert checked == got.size
    assert len(np.unique(got)) > 32  # a meaningful check: not all zeros or all saturated
