"""Turns a QuantizeML ONNX model into one onnxruntime can execute frame by frame.

QuantizeML ONNX models define their com.brainchip ops as ONNX functions (standard-op bodies), so
onnxruntime can run them, except `FifoOp`: the stateful frame buffer of the temporal
(BufferTempConv) layers has no body. This module
  1. inlines every com.brainchip function call, recursively, so the graph holds standard ops
     only (the model's OWN function bodies: that is what makes onnxruntime an independent oracle);
  2. replaces each FifoOp with explicit state: a graph input `<fifo>:state_in` holding the
     previous `fifo_size - 1` frames and a graph output `<fifo>:state_out`. The FIFO follows
     BrainChip's documentation of fifo_op ("pushes a new sample and pops out the oldest one"):
     the time axis holds the oldest frame first and the newest (the current input) last;
  3. exposes the output of every top-level com.brainchip node as a graph output, so a caller can
     compare layer by layer.

The FIFO tensor layout is (N, C, T, X, Y): the bodies consume it that way (DepthwiseBufferTempConv
multiplies by W (C, T, 1, 1) and sums axis 2; BufferTempConv transposes (0, 3, 4, 1, 2) and
flattens the last two axes into C*T before a 1x1 Conv).

Usage: python3 quantizeml_onnx_runnable.py IN.onnx OUT_PREFIX
writes OUT_PREFIX.onnx (the runnable model), OUT_PREFIX.probe.onnx (FIFOs replaced by stateless
stand-ins, with each FIFO's input as an output) and OUT_PREFIX.json (inputs, FIFO states, the
top-level node outputs in graph order).
"""
import json
import sys

import onnx
from onnx import helper, TensorProto

BRAINCHIP = "com.brainchip"


def _attribute_values(node):
    return {a.name: a for a in node.attribute}


def _resolve_attributes(body_node, call_attrs):
    """Copies a body node, replacing attributes that refer to the caller's (ref_attr_name)."""
    resolved = []
    for a in body_node.attribute:
        if a.ref_attr_name:
            if a.ref_attr_name in call_attrs:
                new = onnx.AttributeProto()
                new.CopyFrom(call_attrs[a.ref_attr_name])
                new.name = a.name
                resolved.append(new)
            # an unset optional attribute: leave it out, the op uses its default
        else:
            resolved.append(a)
    return resolved


class Inliner:
    """Inlines com.brainchip calls. With `probe`, each FifoOp becomes a stateless stand-in of the
    right shape (the frame repeated fifo_size times), which lets a runner learn the shape of every
    FIFO's input before it creates the zero state of the real model."""

    def __init__(self, model, probe=False):
        self.probe = probe
        self.functions = {(f.domain, f.name): f for f in model.functions}
        self.fifos = []  # (state name, fifo_size, input tensor)
        self.counter = 0

    def expand(self, node, prefix):
        """Standard-op nodes equivalent to `node` (recursively inlined)."""
        if node.domain != BRAINCHIP:
            return [node]
        if node.op_type == "FifoOp":
            return self._fifo_nodes(node, prefix)
        function = self.functions.get((node.domain, node.op_type))
        if function is None:
            raise ValueError(f"node {node.name!r}: com.brainchip op {node.op_type!r} has no function body")
        call_attrs = _attribute_values(node)
        renamed = {}
        for formal, actual in zip(function.input, node.input):
            renamed[formal] = actual
        for formal, actual in zip(function.output, node.output):
            renamed[formal] = actual

        def name_of(tensor):
            if tensor == "":
                return ""
            if tensor not in renamed:
                renamed[tensor] = f"{prefix}/{tensor}"
            return renamed[tensor]

        expanded = []
        for body_node in function.node:
            inner = helper.make_node(
                body_node.op_type,
                [name_of(t) for t in body_node.input],
                [name_of(t) for t in body_node.output],
                domain=body_node.domain,
            )
            inner.attribute.extend(_resolve_attributes(body_node, call_attrs))
            self.counter += 1
            expanded.extend(self.expand(inner, f"{prefix}/{body_node.op_type}{self.counter}"))
        return expanded

    def _fifo_nodes(self, node, prefix):
        attrs = _attribute_values(node)
        fifo_size = helper.get_attribute_value(attrs["fifo_size"])
        name = helper.get_attribute_value(attrs["variable_id"]).decode()
        state_in, state_out = f"{name}:state_in", f"{name}:state_out"
        self.fifos.append((name, fifo_size, node.input[0]))
        frame = f"{prefix}/frame"
        axes = f"{prefix}/axes"
        window = node.output[0]
        if self.probe:
            repeats = f"{prefix}/repeats"
            return [
                helper.make_node("Constant", [], [axes], value_ints=[2]),
                helper.make_node("Unsqueeze", [node.input[0], axes], [frame]),
                helper.make_node("Constant", [], [repeats], value_ints=[1, 1, fifo_size, 1, 1]),
                helper.make_node("Tile", [frame, repeats], [window]),
            ]
        nodes = [
            helper.make_node("Constant", [], [axes], value_ints=[2]),
            # (N, C, X, Y) -> (N, C, 1, X, Y): one time step
            helper.make_node("Unsqueeze", [node.input[0], axes], [frame]),
            # oldest first, newest (this call's input) last
            helper.make_node("Concat", [state_in, frame], [window], axis=2),
        ]
        # The next call's state: the newest fifo_size - 1 frames.
        starts, ends, slice_axes = f"{prefix}/starts", f"{prefix}/ends", f"{prefix}/slice_axes"
        nodes += [
            helper.make_node("Constant", [], [starts], value_ints=[1]),
            helper.make_node("Constant", [], [ends], value_ints=[fifo_size]),
            helper.make_node("Constant", [], [slice_axes], value_ints=[2]),
            helper.make_node("Slice", [window, starts, ends, slice_axes], [state_out]),
        ]
        return nodes


def make_runnable(model, probe=False):
    inliner = Inliner(model, probe)
    graph = model.graph
    value_types = {v.name: v for v in list(graph.value_info) + list(graph.input) + list(graph.output)}
    nodes, layer_outputs = [], []
    for index, node in enumerate(graph.node):
        nodes.extend(inliner.expand(node, f"{node.name or node.op_type}#{index}"))
        if node.domain == BRAINCHIP:
            layer_outputs.append({"node": node.name, "op_type": node.op_type, "output": node.output[0]})

    states = []
    new_inputs = list(graph.input)
    new_outputs = list(graph.output)
    for name, fifo_size, fifo_input in inliner.fifos:
        states.append({"name": name, "fifo_size": fifo_size, "input": fifo_input})
        if probe:
            new_outputs.append(onnx.ValueInfoProto(name=fifo_input))
        else:
            new_inputs.append(helper.make_tensor_value_info(f"{name}:state_in", TensorProto.FLOAT, None))
            new_outputs.append(helper.make_tensor_value_info(f"{name}:state_out", TensorProto.FLOAT, None))
    for layer in layer_outputs:
        if layer["output"] not in {o.name for o in new_outputs}:
            # No type: onnxruntime infers it (int8 for quantized layers, float for dequantizers).
            new_outputs.append(onnx.ValueInfoProto(name=layer["output"]))
    runnable_graph = helper.make_graph(nodes, graph.name, new_inputs, new_outputs, list(graph.initializer))
    opsets = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    runnable = helper.make_model(runnable_graph, opset_imports=opsets)
    runnable.ir_version = model.ir_version
    return runnable, states, layer_outputs


def main(argv):
    model = onnx.load(argv[1])
    runnable, states, layer_outputs = make_runnable(model)
    onnx.save(runnable, argv[2] + ".onnx")
    onnx.save(make_runnable(model, probe=True)[0], argv[2] + ".probe.onnx")
    graph_input = model.graph.input[0]
    dims = [d.dim_value or d.dim_param for d in graph_input.type.tensor_type.shape.dim]
    with open(argv[2] + ".json", "w") as f:
        json.dump({"input": graph_input.name, "input_dims": dims, "states": states,
                   "layers": layer_outputs, "outputs": [o.name for o in model.graph.output]}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv)
