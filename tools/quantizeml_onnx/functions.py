"""The ONNX function bodies of QuantizeML's com.brainchip ops, built from the op_type.

QuantizeML derives every body from the op_type string alone (`build_subgraph(op_type)`), then
registers it once per op_type as a FunctionProto attached to the model; node inputs bind to the
function's formal inputs by position. This module rebuilds those bodies from the facts in
docs/quantizeml-onnx.md: node order, tensor names ("X/cast", "Yi/div", ...) and attribute
references are those of the real export (fixture tennst_int8_quantizeml.onnx and QuantizeML's
onnx_support sources). Nothing here reads the fixture.
"""
from onnx import AttributeProto, FunctionProto, TensorProto, helper

BRAINCHIP = "com.brainchip"
ONNX_OPSET = 21

# op_type = base + ["Flatten"] + ["Biased"] + ["MaxPool"|"GlobalAvgPool"]
#           + ["ReLU"|"ReLUClipped"|"LUT"] + ["Scaled"]            (QuantizeML base_layer.op_type)
BASES = ("QuantizedInputConv2D", "QuantizedConv2D", "QuantizedDepthwise2D", "QuantizedDense1D",
         "QuantizedAdd", "QuantizedConcat", "QuantizedBufferTempConv",
         "QuantizedDepthwiseBufferTempConv", "InputQuantizer", "Dequantizer")


def op_type_of(base, flatten=False, biased=False, pool=None, activation=None, scaled=False):
    """The op_type QuantizeML serializes for these options (pool: None|"max"|"gap";
    activation: None|"ReLU"|"ReLUClipped"|"LUT")."""
    name = base
    name += "Flatten" if flatten else ""
    name += "Biased" if biased else ""
    name += {None: "", "max": "MaxPool", "gap": "GlobalAvgPool"}[pool]
    name += activation or ""
    name += "Scaled" if scaled else ""
    return name


def split_op_type(op_type):
    """Parses an op_type into (base, flags); the longest base that prefixes it wins, as in
    BrainChip's converter (QuantizedDepthwiseBufferTempConv vs QuantizedDepthwise2D...)."""
    base = max((b for b in BASES if op_type.startswith(b)), key=len)
    rest = op_type[len(base):]
    flags = {}
    for suffix in ("Flatten", "Biased", "MaxPool", "GlobalAvgPool", "ReLUClipped", "ReLU", "LUT",
                   "Scaled"):
        if rest.startswith(suffix):
            flags[suffix] = True
            rest = rest[len(suffix):]
    if rest:
        raise ValueError(f"{op_type}: unknown suffix {rest!r}")
    return base, flags


def _ref(name, ref, attr_type):
    """A body attribute that takes the caller's attribute `ref`."""
    return AttributeProto(name=name, ref_attr_name=ref, type=attr_type)


def _node(op_type, inputs, outputs, domain=None, refs=(), **attrs):
    node = helper.make_node(op_type, inputs, outputs, domain=domain, **attrs)
    node.attribute.extend(refs)
    return node


def _casts(names):
    """Cast every named tensor to float as "<name>/cast"; empty names stay empty (absent
    optional inputs). QuantizeML subgraph_ops.cast_tensors_to."""
    nodes, out = [], []
    for name in names:
        if name:
            nodes.append(_node("Cast", [name], [f"{name}/cast"], to=TensorProto.FLOAT))
            out.append(f"{name}/cast")
        else:
            out.append("")
    return nodes, out


def _rename_last_output(nodes):
    """QuantizeML renames the last node's output after its op_type before chaining the next
    stage ("Conv" -> MaxPool -> "MaxPool" -> Relu ...)."""
    nodes[-1].output[0] = nodes[-1].op_type
    return nodes[-1].output[0]


def _scale_out(src, dst, with_scale=True, bits=8, scale_name="Scale", shift_name="Shift"):
    """y = clip(floor(x / Shift * Scale + 0.5), -2^(b-1), 2^(b-1)-1), all in float
    (QuantizeML subgraph_ops get_scale_out_ops / get_saturate_ops). Add has no Scale; the LUT's
    intermediate scale-out uses ActScale / ActShift and 11 bits."""
    nodes, (scale, shift) = _casts([scale_name if with_scale else "", shift_name])
    if scale:
        nodes += [_node("Div", [src, shift], [f"{src}/div"]),
                  _node("Mul", [f"{src}/div", scale], [f"{src}/scaled"])]
    else:
        nodes.append(_node("Div", [src, shift], [f"{src}/scaled"]))
    nodes += [_node("Constant", [], [f"{src}/OneHalf"], value_float=0.5),
              _node("Add", [f"{src}/scaled", f"{src}/OneHalf"], [f"{src}/half"]),
              _node("Floor", [f"{src}/half"], [f"{src}/q"]),
              _node("Constant", [], [f"{src}/q/min_range"], value_float=-2.0 ** (bits - 1)),
              _node("Constant", [], [f"{src}/q/max_range"], value_float=2.0 ** (bits - 1) - 1),
              _node("Clip", [f"{src}/q", f"{src}/q/min_range", f"{src}/q/max_range"], [dst])]
    return nodes


def _activation(nodes, clipped):
    """Relu, or Min(Relu(x), max_value) for ReLUClipped (subgraph_ops.activation)."""
    src = _rename_last_output(nodes)
    if not clipped:
        nodes.append(_node("Relu", [src], ["Yi"]))
        return
    nodes += [_node("Relu", [src], [f"{src}/relu"]),
              _node("Cast", ["max_value"], ["max_value/cast"], to=TensorProto.FLOAT),
              _node("Min", [f"{src}/relu", "max_value/cast"], ["Yi"])]


def _lut(nodes):
    """LUT (QuantizeML conv2d build_subgraph + subgraph_ops.activation get_lut_ops): an 11-bit
    scale-out with ActScale / ActShift into "Ys", then Gather(LUT_values, Cast(Ys, INT32)),
    whose negative indices read the table's second half ([0 .. N-1, -N .. -1] order)."""
    src = _rename_last_output(nodes)
    nodes += _scale_out(src, "Ys", bits=11, scale_name="ActScale", shift_name="ActShift")
    nodes += [_node("Cast", ["Ys"], ["Ys/input_cast"], to=TensorProto.INT32),
              _node("Gather", ["LUT_values", "Ys/input_cast"], ["Ys/output_cast"]),
              _node("Cast", ["Ys/output_cast"], ["Yi"], to=TensorProto.FLOAT)]


def _final_cast(nodes, scaled, src="Yi", dst="Y", bits=8):
    if scaled:
        nodes += _scale_out(src, f"{src[0]}scaled", bits=bits)
        nodes.append(_node("Cast", [f"{src[0]}scaled"], [dst], to=TensorProto.INT8))
    else:
        nodes.append(_node("Cast", [src], [dst], to=TensorProto.INT32))


def _conv_body(base, flags, bits=8):
    # QuantizedConv2D.build_subgraph: casts, pad (with x_pad_value for InputConv2D), Conv,
    # [MaxPool], [ReLU|ReLUClipped], [GlobalAvgPool as ReduceSum], scale out, Cast int8.
    input_conv = base == "QuantizedInputConv2D"
    nodes, (x, pad_value, w, bias) = _casts(
        ["X", "x_pad_value" if input_conv else "", "W", "bias" if flags.get("Biased") else ""])
    if input_conv:
        # X -> Sub(X, v) -> Pad(0) -> Add(v): pads with the per-channel zero point v.
        nodes += [_node("Constant", [], [f"{x}/pad_axes"], value_ints=[1, 2]),
                  _node("Unsqueeze", [pad_value, f"{x}/pad_axes"], ["unqueezed_pad"]),
                  _node("Sub", [x, "unqueezed_pad"], ["Xsub"]),
                  _node("Pad", ["Xsub", "pads"], ["Xpadded"]),
                  _node("Add", ["Xpadded", "unqueezed_pad"], ["Xi"])]
    else:
        nodes.append(_node("Pad", [x, "pads"], ["Xi"]))
    nodes.append(_node("Conv", ["Xi", w, bias], ["Yi"],
                       refs=[_ref("strides", "strides", AttributeProto.INTS)]))
    if flags.get("MaxPool"):
        src = _rename_last_output(nodes)
        nodes.append(_node("MaxPool", [src], ["Yi"], refs=[
            _ref("kernel_shape", "pool_size", AttributeProto.INTS),
            _ref("strides", "pool_strides", AttributeProto.INTS),
            _ref("pads", "pool_pads", AttributeProto.INTS)]))
    if flags.get("LUT"):
        _lut(nodes)
    if flags.get("ReLU") or flags.get("ReLUClipped"):
        _activation(nodes, flags.get("ReLUClipped", False))
    if flags.get("GlobalAvgPool"):
        # GAP is a plain sum over the spatial axes; the 1/(X*Y) factor lives in the scale.
        src = _rename_last_output(nodes)
        nodes += [_node("Constant", [], [f"{src}/GAP/axes"], value_ints=[-2, -1]),
                  _node("ReduceSum", [src, f"{src}/GAP/axes"], ["Yi"])]
    _final_cast(nodes, True, bits=bits)
    return nodes


def _depthwise_body(flags, bits=8):
    # QuantizedDepthwise2D.build_subgraph: as Conv2D, with group=@groups, no pooling.
    nodes, (x, w, bias) = _casts(["X", "W", "bias" if flags.get("Biased") else ""])
    nodes.append(_node("Pad", [x, "pads"], ["Xi"]))
    nodes.append(_node("Conv", ["Xi", w, bias], ["Yi"], refs=[
        _ref("strides", "strides", AttributeProto.INTS),
        _ref("group", "groups", AttributeProto.INT)]))
    if flags.get("LUT"):  # as in Conv2D (the transposed depthwise body has the same chain)
        _lut(nodes)
    if flags.get("ReLU") or flags.get("ReLUClipped"):
        _activation(nodes, flags.get("ReLUClipped", False))
    _final_cast(nodes, True, bits=bits)
    return nodes


def _dense_body(flags, bits=8):
    # QuantizedDense1D.build_subgraph: casts, [Flatten], Gemm(transB=1), [ReLU], scale out
    # (int8) or a plain Cast to int32 when not Scaled.
    nodes, (x, w, bias) = _casts(["X", "W", "bias" if flags.get("Biased") else ""])
    if flags.get("Flatten"):
        nodes.append(_node("Flatten", [x], ["Xflat"]))
        x = "Xflat"
    nodes.append(_node("Gemm", [x, w, bias], ["Yi"], transB=1))
    if flags.get("ReLU") or flags.get("ReLUClipped"):
        _activation(nodes, flags.get("ReLUClipped", False))
    _final_cast(nodes, flags.get("Scaled", False), bits=bits)
    return nodes


def _add_body(flags, bits=8):
    # QuantizedAdd.build_subgraph: inputs aligned by multiplying with Xs / Ys (powers of two),
    # summed, then shifted (Div by Shift, no Scale) and saturated, or kept as int32.
    nodes, (x, y, xs, ys) = _casts(["X", "Y", "Xs", "Ys"])
    nodes += [_node("Mul", [x, xs], ["Xshifted"]),
              _node("Mul", [y, ys], ["Yshifted"]),
              _node("Add", ["Xshifted", "Yshifted"], ["Zi"])]
    if flags.get("Scaled"):
        nodes += _scale_out("Zi", "Zscaled", with_scale=False, bits=bits)
        nodes.append(_node("Cast", ["Zscaled"], ["Z"], to=TensorProto.INT8))
    else:
        nodes.append(_node("Cast", ["Zi"], ["Z"], to=TensorProto.INT32))
    return nodes


def _btc_body(base, flags, bits=8):
    # QuantizedBufferTempConv / QuantizedDepthwiseBufferTempConv.build_subgraph: the temporal
    # op is itself a com.brainchip function call (BufferTempConv / DepthwiseBufferTempConv).
    # fifo_size is referenced as INTS here although the node attribute is an INT: a quirk of
    # the real export, kept as is.
    depthwise = base == "QuantizedDepthwiseBufferTempConv"
    inner = "DepthwiseBufferTempConv" if depthwise else "BufferTempConv"
    nodes, names = _casts(["X", "W", "bias" if (depthwise or flags.get("Biased")) else ""])
    nodes.append(_node(inner, names, ["Yi"], domain=BRAINCHIP, refs=[
        _ref("fifo_name", "fifo_name", AttributeProto.STRING),
        _ref("fifo_size", "fifo_size", AttributeProto.INTS),
        _ref("model_id", "model_id", AttributeProto.STRING)]))
    if flags.get("ReLU") or flags.get("ReLUClipped"):
        _activation(nodes, flags.get("ReLUClipped", False))
    _final_cast(nodes, True, bits=bits)
    return nodes


def body_of(op_type, bits=8):
    """The node list of the function that defines `op_type`; scale-outs saturate to `bits`
    signed bits (QuantizeML: 8; this project's quantizer also writes 4)."""
    base, flags = split_op_type(op_type)
    if base == "InputQuantizer":
        # Transpose(perm) then per-channel QuantizeLinear (round half to even, saturate).
        return [_node("Transpose", ["X"], ["Yi"], refs=[_ref("perm", "perm", AttributeProto.INTS)]),
                _node("QuantizeLinear", ["Yi", "scale", "zp"], ["Y"])]
    if base == "Dequantizer":
        return [_node("DequantizeLinear", ["X", "scale"], ["Y"])]
    if base == "QuantizedConcat":
        return [_node("Concat", ["X", "Y"], ["Zi"], axis=1)]
    if base in ("QuantizedConv2D", "QuantizedInputConv2D"):
        return _conv_body(base, flags, bits)
    if base == "QuantizedDepthwise2D":
        return _depthwise_body(flags, bits)
    if base == "QuantizedDense1D":
        return _dense_body(flags, bits)
    if base == "QuantizedAdd":
        return _add_body(flags, bits)
    return _btc_body(base, flags, bits)


def _io_of(nodes):
    """Formal inputs/outputs in order of first use (QuantizeML graph_tools.infer_partial_io)."""
    produced = [t for n in nodes for t in n.output]
    consumed = [t for n in nodes for t in n.input]
    inputs, outputs = [], []
    for t in consumed:
        if t and t not in produced and t not in inputs:
            inputs.append(t)
    for t in produced:
        if t and t not in consumed and t not in outputs:
            outputs.append(t)
    return inputs, outputs


def _attributes_of(nodes):
    """Attribute names the body refers to. QuantizeML collects them in a set (order not
    meaningful); first-use order keeps this generator deterministic."""
    names = []
    for n in nodes:
        for a in n.attribute:
            if a.ref_attr_name and a.ref_attr_name not in names:
                names.append(a.ref_attr_name)
    return names


def _uses_brainchip_ops(nodes):
    return any(n.domain == BRAINCHIP for n in nodes)


def make_function(op_type, bits=8):
    """The FunctionProto that defines `op_type` in domain com.brainchip."""
    nodes = body_of(op_type, bits)
    inputs, outputs = _io_of(nodes)
    opsets = [helper.make_opsetid("", ONNX_OPSET)]
    if _uses_brainchip_ops(nodes):
        opsets.append(helper.make_opsetid(BRAINCHIP, 1))
    return helper.make_function(BRAINCHIP, op_type, inputs, outputs, nodes, opsets,
                                _attributes_of(nodes))


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _declare_typed_attributes(function, typed):
    """Declares attributes with their type in FunctionProto.attribute_proto (field 11), as
    onnx.parser.parse_function does for "<model_id: string, ...>". onnx 1.12 has no such
    field, so the entries are appended as serialized protobuf (kept as unknown fields)."""
    raw = b""
    for name, attr_type in typed:
        payload = AttributeProto(name=name, type=attr_type).SerializeToString()
        raw += b"\x5a" + _varint(len(payload)) + payload  # field 11, length-delimited
    function.MergeFromString(raw)


def make_temporal_function(name):
    """BufferTempConv / DepthwiseBufferTempConv: the FIFO (body-less com.brainchip FifoOp:
    push the new frame, pop the oldest; layout (N, C, T, X, Y), oldest first) followed by
      BufferTempConv: (N, C, T, X, Y) -> (N, X, Y, C, T) -> (N, X, Y, C*T) -> (N, C*T, X, Y),
                      then a 1x1 Conv with W (F, C*T, 1, 1) and B;
      DepthwiseBufferTempConv: Mul by W (C, T, 1, 1), ReduceSum over T, Add B (C, 1, 1).
    (QuantizeML onnx_support/layers/buffertempconv.py btc_function / dwbtc_function.)"""
    fifo = _node("FifoOp", ["X"], ["fifo"], domain=BRAINCHIP, refs=[
        _ref("model_id", "model_id", AttributeProto.STRING),
        _ref("variable_id", "fifo_name", AttributeProto.STRING),
        _ref("fifo_size", "fifo_size", AttributeProto.INT)])
    nodes = [fifo, _node("Cast", ["fifo"], ["fifo_f32"], to=TensorProto.FLOAT)]
    if name == "BufferTempConv":
        nodes += [_node("Transpose", ["fifo_f32"], ["fifo_transposed"], perm=[0, 3, 4, 1, 2]),
                  _node("Constant", [], ["target_shape"], value_ints=[0, 0, 0, -1]),
                  _node("Reshape", ["fifo_transposed", "target_shape"], ["fifo_reshaped"]),
                  _node("Transpose", ["fifo_reshaped"], ["fifo_transposed_back"],
                        perm=[0, 3, 1, 2]),
                  _node("Conv", ["fifo_transposed_back", "W", "B"], ["Y"])]
    elif name == "DepthwiseBufferTempConv":
        nodes += [_node("Mul", ["fifo_f32", "W"], ["Y1"]),
                  _node("Constant", [], ["axis"], value_ints=[2]),
                  _node("ReduceSum", ["Y1", "axis"], ["Y2"], keepdims=0),
                  _node("Add", ["Y2", "B"], ["Y"])]
    else:
        raise ValueError(name)
    for n in nodes:
        if not n.domain:
            n.domain = ""  # onnx.parser writes the default domain explicitly; so does the file
    function = FunctionProto(domain=BRAINCHIP, name=name, input=["X", "W", "B"], output=["Y"])
    function.node.extend(nodes)
    function.opset_import.extend([helper.make_opsetid("", ONNX_OPSET),
                                  helper.make_opsetid(BRAINCHIP, 1)])
    _declare_typed_attributes(function, [("model_id", AttributeProto.STRING),
                                         ("fifo_name", AttributeProto.STRING),
                                         ("fifo_size", AttributeProto.INT)])
    return function
