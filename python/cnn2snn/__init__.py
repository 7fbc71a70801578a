"""Conversion of QuantizeML models to Akida, as BrainChip's ``cnn2snn`` Python package exposes it.

``convert(model)`` takes a QuantizeML Keras ``.h5`` or ONNX file (by path, as a
``QuantizedModel`` from ``load_quantized_model``, or as an ``onnx.ModelProto``) and returns an
``akida.Model`` for the Akida generation ``get_akida_version()`` names (``set_akida_version``
changes it for a ``with`` block, through the ``CNN2SNN_TARGET_AKIDA_VERSION`` environment variable
the ``cnn2snn`` command also reads).

Errors are the ``akida`` package's (``akida.Error`` and its subclasses, re-exported here), with the
messages the ``cnn2snn`` command prints.
"""

import contextlib
import enum
import os
import tempfile
import warnings

import akida
import _cnn2snn_native as _native
from _cnn2snn_native import Error, FormatError, ShapeError, UnsupportedError

__all__ = [
    "AkidaVersion", "get_akida_version", "set_akida_version", "QuantizedModel",
    "load_quantized_model", "convert", "check_model_compatibility",
    "Error", "FormatError", "ShapeError", "UnsupportedError",
]

__version__ = _native.version()

_VERSION_VARIABLE = "CNN2SNN_TARGET_AKIDA_VERSION"


class AkidaVersion(enum.Enum):
    """Target Akida generation: v1 (AKD1000/AKD1500) or v2."""

    v1 = "v1"
    v2 = "v2"


def get_akida_version():
    """The target of conversions: CNN2SNN_TARGET_AKIDA_VERSION, v2 when unset (or empty, as the
    C++ library and the cnn2snn command read it)."""
    value = os.environ.get(_VERSION_VARIABLE) or AkidaVersion.v2.value
    try:
        return AkidaVersion(value)
    except ValueError:
        choices = [v.value for v in AkidaVersion]
        raise ValueError(f"{_VERSION_VARIABLE}={value} must be one of {choices}") from None


@contextlib.contextmanager
def set_akida_version(version):
    """Targets ``version`` inside the ``with`` block, then restores the previous setting (or its
    absence), also when the block raises. Changes the process environment: not thread-safe."""
    # An explicit raise rather than `assert`, which `python -O` would remove.
    if not isinstance(version, AkidaVersion):
        raise AssertionError(f"version must be an AkidaVersion, got {version!r}")
    previous = os.environ.get(_VERSION_VARIABLE)
    os.environ[_VERSION_VARIABLE] = version.value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_VERSION_VARIABLE, None)
        else:
            os.environ[_VERSION_VARIABLE] = previous


class QuantizedModel:
    """A QuantizeML model read by the project's front ends (the converter's input)."""

    def __init__(self, graph):
        self._graph = graph

    @property
    def source(self):
        return self._graph.source

    @property
    def format(self):
        """"keras" (.h5) or "onnx"."""
        return self._graph.format

    @property
    def input_shape(self):
        return self._graph.input_shape

    @property
    def legacy(self):
        """True for a legacy CNN2SNN-quantized model (it converts to Akida 1.0 only)."""
        return self._graph.legacy

    @property
    def input_dtype(self):
        return ("int" if self._graph.input_signed else "uint") + str(self._graph.input_bits)

    @property
    def layers(self):
        """(name, kind, inbound names) of every block, one block per future Akida layer."""
        return [(name, kind, list(inbound)) for name, kind, inbound in self._graph.blocks()]

    def forward(self, inputs):
        """The int32 outputs (N, x, y, c) of the last integer block, computed by the reference
        evaluator with QuantizeML's integer arithmetic (what ``cnn2snn run --forward`` writes).

        ``inputs``: the model's integers, uint8 (int8 for signed inputs) (N, x, y, c) or (N, c)
        for 1x1xc inputs, as ``akida.Model.forward`` takes them; or float32 for models with an
        InputQuantizer, shaped as the source model's input ((N, c, x, y) for channels-first ONNX
        models). Temporal models keep their FIFO state from one call to the next."""
        return self._graph.forward(inputs)

    def predict(self, inputs):
        """The float32 outputs (N, x, y, c) of the last block: through the Dequantizer when the
        model ends with one (what ``cnn2snn run`` writes). ``inputs`` as for ``forward``."""
        return self._graph.predict(inputs)

    def forward_and_predict(self, inputs):
        """``(forward(inputs), predict(inputs))`` from a single run of the evaluator (half the
        work of the two calls; not in BrainChip's API)."""
        return self._graph.forward_and_predict(inputs)

    def __repr__(self):
        return (f"<cnn2snn.QuantizedModel {self.source!r} ({self.format}): "
                f"{len(self.layers)} blocks, input {self.input_shape} {self.input_dtype}>")


def load_quantized_model(path):
    """Reads a QuantizeML Keras .h5 or ONNX file; the format is recognised by content."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    return QuantizedModel(_native.load_quantized_model(path))


def _is_onnx_model(model):
    return type(model).__module__.split(".")[0] == "onnx" and hasattr(model, "SerializeToString")


def _is_keras_model(model):
    return type(model).__module__.split(".")[0] in ("keras", "tf_keras", "tensorflow")


def _load_saved(save, suffix):
    # The front ends read files: write the in-memory model to a temporary one.
    with tempfile.TemporaryDirectory(prefix="cnn2snn_") as directory:
        path = os.path.join(directory, "model" + suffix)
        save(path)
        return load_quantized_model(path)


def _save_onnx(model, path):
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def _quantized_model(model):
    if isinstance(model, QuantizedModel):
        return model
    if isinstance(model, (str, bytes, os.PathLike)):
        return load_quantized_model(os.fsdecode(model))
    if _is_onnx_model(model):
        return _load_saved(lambda path: _save_onnx(model, path), ".onnx")
    if _is_keras_model(model):
        try:
            import tensorflow  # noqa: F401  (saving a Keras model needs it)
        except ImportError as e:
            raise ImportError(
                "converting a Keras model object needs TensorFlow, which cannot be imported "
                f"here ({e}); save the model as .h5 and pass its path") from e
        return _load_saved(model.save, ".h5")
    raise TypeError("model must be a path to a QuantizeML .h5 or .onnx file, a QuantizedModel, "
                    f"an onnx.ModelProto or a Keras model, not {type(model).__name__}")


def _fbz_path(file_path):
    path = os.fspath(file_path)
    if not os.path.splitext(path)[1]:
        path += ".fbz"
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    return path


def convert(model, file_path=None, input_scaling=None):
    """The ``akida.Model`` of a quantized model for ``get_akida_version()`` (Akida 1.0 always for
    a legacy CNN2SNN model).

    ``model``: a path to a QuantizeML or legacy CNN2SNN .h5, or a QuantizeML .onnx file, a
    QuantizedModel, an onnx.ModelProto, or a Keras model (needs TensorFlow). ``file_path``: also
    save the model there (``.fbz`` appended when it has no extension, directories created).
    ``input_scaling`` ``(scale, shift)``, with input_akida = scale · input_keras + shift, applies
    to legacy CNN2SNN models (not with a Rescaling layer); it is ignored, with a warning, for
    QuantizeML models, as BrainChip's converter does.
    """
    get_akida_version()  # a bad CNN2SNN_TARGET_AKIDA_VERSION is a ValueError, as in the vendor's
    quantized = _quantized_model(model)
    if input_scaling is not None:
        if quantized.legacy:
            scale, shift = input_scaling
            quantized = QuantizedModel(_native.load_quantized_model(
                quantized.source, (float(scale), float(shift))))
        else:
            warnings.warn("Cannot use input_scaling parameter when converting QuantizeML models "
                          "to Akida. Continuing execution without this parameter.", UserWarning,
                          stacklevel=2)
    ak_model = akida.Model._from_native(quantized._graph.convert())
    if file_path is not None:
        ak_model.save(_fbz_path(file_path))
    return ak_model


def check_model_compatibility(model, device=None, input_dtype="uint8"):
    """Raises when ``model`` cannot be converted for ``get_akida_version()``: the library's
    exception type, its message prefixed with "Incompatibility found during conversion: ".
    Returns None when the model converts. Mapping on a ``device`` is not supported (no hardware
    backend): passing one raises NotImplementedError."""
    version = get_akida_version()
    if input_dtype not in ("uint8", "int8"):
        raise ValueError(f"input_dtype must be 'uint8' or 'int8', not {input_dtype!r}")
    if device is not None:
        raise NotImplementedError(f"cannot check the mapping on {device}: this implementation "
                                  "has no hardware backend")
    v1_onnx = "Akida v1 does not support ONNX models. Use Akida v2 instead."
    try:
        try:
            quantized = _quantized_model(model)
        except UnsupportedError as e:
            # The v1 loader refuses ONNX files ("PATH: <v1_onnx>"): BrainChip raises ValueError.
            if version is AkidaVersion.v1 and str(e).endswith(": " + v1_onnx):
                raise ValueError(v1_onnx) from e
            raise
        if version is AkidaVersion.v1 and quantized.format == "onnx":
            raise ValueError(v1_onnx)
        quantized._graph.convert()
    except (UnsupportedError, ShapeError) as e:
        raise type(e)(f"Incompatibility found during conversion: {e}") from e
