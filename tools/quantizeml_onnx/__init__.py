"""Generator of QuantizeML-style quantized ONNX models (com.brainchip ops with their ONNX
function bodies), for the ONNX converter's tests. See docs/quantizeml-onnx.md.

    from tools.quantizeml_onnx import build_model, model_names
    model = build_model("conv_relu")   # an onnx.ModelProto, IR 10, opsets ("", 21) + com.brainchip 1
"""
from .models import build_model, model_names

__all__ = ["build_model", "model_names"]
