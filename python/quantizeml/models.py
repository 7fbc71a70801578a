"""``quantizeml.models``: quantize float ONNX models into QuantizeML ONNX models.

``quantize(model, qparams, samples, num_samples, batch_size)`` follows QuantizeML's
``quantizeml.models.quantize`` for ONNX models: it sanitizes the float model (BatchNormalization
and the input normalisation folded), calibrates activation ranges on ``samples`` (onnxruntime's
min/max calibrator semantics), quantizes weights per output channel and returns an
``onnx.ModelProto`` of com.brainchip nodes that ``cnn2snn.convert`` turns into an Akida 2.0 model.
docs/quantizer.md lists the supported operations and what differs from QuantizeML.
"""
import os

import numpy as np

import _cnn2snn_native as _native

__all__ = ["QuantizationParams", "quantize", "calibrate", "quantize_calibrated", "run_float"]


class QuantizationParams:
    """QuantizeML's quantization parameters (read-only). QuantizeML's ONNX quantizer accepts
    only the 8-bit defaults; 4-bit ``weight_bits`` / ``activation_bits`` / ``input_weight_bits``
    are this project's extension (Akida 2.0 4-bit layers). ``output_bits``, ``buffer_bits`` and
    ``last_output_bits`` must keep their defaults (as in QuantizeML's ONNX path)."""

    def __init__(self, activation_bits=8, per_tensor_activations=False, weight_bits=8,
                 output_bits=8, input_weight_bits=8, input_dtype="uint8", buffer_bits=32,
                 last_output_bits=None):
        for name, bits in (("activation_bits", activation_bits), ("weight_bits", weight_bits),
                           ("input_weight_bits", input_weight_bits)):
            if bits not in (4, 8):
                raise ValueError(f"{name} must be 4 or 8, not {bits!r}")
        if output_bits != 8 or buffer_bits != 32 or last_output_bits not in (None, 8):
            raise ValueError("Only the default output_bits (8), buffer_bits (32) and "
                             "last_output_bits (None or 8) are allowed for ONNX models.")
        dtype = np.dtype(input_dtype)
        if dtype not in (np.uint8, np.int8):
            raise ValueError(f"Only {{'uint8', 'int8'}} is allowed as input_dtype. Receives: {input_dtype}")
        self._values = dict(activation_bits=activation_bits,
                            per_tensor_activations=bool(per_tensor_activations),
                            weight_bits=weight_bits, output_bits=output_bits,
                            input_weight_bits=input_weight_bits, input_dtype=dtype,
                            buffer_bits=buffer_bits, last_output_bits=last_output_bits)

    def __getattr__(self, name):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self):
        return "QuantizationParams(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items()) + ")"

    def _args(self):
        return (self.input_weight_bits, self.weight_bits, self.activation_bits,
                self.per_tensor_activations, self.input_dtype == np.int8)


def _float_model(model):
    """A native FloatModel from an onnx.ModelProto, serialized bytes or a path."""
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file")
        return _native.FloatModel.load(path)
    if isinstance(model, bytes):
        return _native.FloatModel.from_bytes(model, "<bytes>")
    if type(model).__module__.split(".")[0] == "onnx" and hasattr(model, "SerializeToString"):
        name = model.graph.name or "model"
        return _native.FloatModel.from_bytes(model.SerializeToString(), f"<onnx.ModelProto {name}>")
    raise TypeError(f"model must be an onnx.ModelProto or a path to a float .onnx file, "
                    f"not {type(model).__name__}")


def _samples(samples):
    if samples is None:
        return None
    samples = np.asarray(samples)
    if samples.dtype.kind not in "fiu":
        raise TypeError(f"samples must be a numeric numpy array, not {samples.dtype}")
    return np.ascontiguousarray(samples, dtype=np.float32)


def _refuse(quantize_until, input_shape):
    if quantize_until is not None:
        raise NotImplementedError("quantize_until is not supported: the whole model is quantized")
    if input_shape is not None:
        raise NotImplementedError("input_shape is not supported: the model's input must have "
                                  "fixed (C, X, Y) dimensions")


def _calibration_args(samples, num_samples, batch_size, seed):
    return (_samples(samples), int(num_samples), int(batch_size or 0), int(seed), True)


def quantize(model, qparams=QuantizationParams(), samples=None, num_samples=1024,
             batch_size=None, quantize_until=None, input_shape=None, seed=0):
    """The QuantizeML ONNX model (an ``onnx.ModelProto``) of the float ONNX ``model`` (an
    ``onnx.ModelProto`` or a path).

    ``samples``: a numpy array of calibration inputs in the model's own input layout and domain,
    e.g. (N, 1, 28, 28) float32 for an NCHW model (integer arrays are converted to float as they
    are). Without samples, ``num_samples`` random samples uniform in [-1, 1] are used, as
    QuantizeML does (``num_samples`` is ignored when samples are given, as in QuantizeML).
    ``batch_size`` only sets the calibration steps (progress on a terminal); the ranges do not
    depend on it. Raises ``UnsupportedError`` listing every node that cannot be quantized."""
    import onnx

    _refuse(quantize_until, input_shape)
    native = _float_model(model)
    data = native.quantize(*qparams._args(), *_calibration_args(samples, num_samples, batch_size, seed))
    return onnx.load_from_string(data)


def calibrate(model, qparams=QuantizationParams(), samples=None, num_samples=1024,
              batch_size=None, seed=0):
    """The calibration ranges quantize() uses: {tensor name: (lowest, highest)} float32 arrays,
    one value per channel (per tensor for flat tensors or per_tensor_activations); the tensors
    are each quantized layer's float output and the (normalised) input the first layer reads."""
    return _float_model(model).calibrate(*qparams._args(),
                                         *_calibration_args(samples, num_samples, batch_size, seed))


def quantize_calibrated(model, tensors_range, qparams=QuantizationParams()):
    """quantize() with given calibration ranges (as calibrate() returns them)."""
    import onnx

    ranges = {name: (np.asarray(lo, np.float32).reshape(-1), np.asarray(hi, np.float32).reshape(-1))
              for name, (lo, hi) in tensors_range.items()}
    return onnx.load_from_string(_float_model(model).quantize_calibrated(*qparams._args(), ranges))


def run_float(model, inputs):
    """The float32 output of the float ONNX ``model`` on ``inputs`` (N, ...input dims), computed
    by the quantizer's float evaluator (the one calibration uses)."""
    return _float_model(model).run(_samples(inputs))
