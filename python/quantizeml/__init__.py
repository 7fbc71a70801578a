"""Quantization of float ONNX models for Akida, as BrainChip's ``quantizeml`` Python package
exposes it for ONNX (``quantizeml.models.quantize``), computed by this project's C++ quantizer
(no TensorFlow, no onnxruntime needed).

    from quantizeml.models import quantize, QuantizationParams
    from cnn2snn import convert
    model_q = quantize(onnx.load("model.onnx"), samples=images)   # an onnx.ModelProto
    model_ak = convert(model_q)

Errors are the ``akida`` package's (``akida.Error`` and its subclasses, re-exported here).
"""
import _cnn2snn_native as _native
from _cnn2snn_native import Error, FormatError, ShapeError, UnsupportedError

from . import models
from .models import QuantizationParams, quantize

__all__ = ["models", "quantize", "QuantizationParams", "Error", "FormatError", "ShapeError",
           "UnsupportedError"]

__version__ = _native.version()
