"""Akida models as BrainChip's ``akida`` Python package exposes them (software backend only).

``Model(path)`` loads a ``.fbz`` file of any generation; a model can be inspected (``layers``,
``summary()``), saved, and run on numpy batches (``forward``, ``predict``, ``predict_classes``,
``evaluate``) by the project's integer runtime. See docs/python.md for what differs from the
vendor's package.

Errors: every error of the libraries is an ``akida.Error`` (a ``RuntimeError``);
``FormatError`` (bad file) and ``ShapeError`` (bad input or model field) are also ``ValueError``s,
``UnsupportedError`` (valid but not supported here) is also a ``NotImplementedError``. Messages
are the ones the ``akida`` command prints; where the command names the input .npy file, the
messages here say ``inputs``.
"""

import enum
import os

import numpy as np

import _cnn2snn_native as _native
from _cnn2snn_native import Error, FormatError, ShapeError, UnsupportedError

__all__ = [
    "Error", "FormatError", "ShapeError", "UnsupportedError", "IpVersion", "Layer", "Model",
    "Parameters", "Variables", "LayerStatistics", "Statistics", "evaluate_sparsity",
]

__version__ = _native.version()


class IpVersion(enum.Enum):
    """The hardware generation of a model's layers, as ``akida.core.IpVersion``."""

    v1 = "v1"
    v2 = "v2"


class Parameters(dict):
    """A layer's parameters: ``layer_type`` (the class name, e.g. ``"Conv2D"``) and the integer
    parameters stored in the file. Readable as a dict or by attribute (``p.kernel_size``), as the
    vendor's parameter objects are."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class Variables(dict):
    """A layer's variables by name: read-only numpy arrays in the dtype and shape of the file
    (bit1 weights as uint8, int4 weights as int8, one value per element)."""

    @property
    def names(self):
        return list(self.keys())


def _read_only(array):
    # The arrays are copies: writing to them would not change the model, so forbid it.
    array.flags.writeable = False
    return array


class Layer:
    """One layer of a Model (see Model.layers)."""

    def __init__(self, model, info):
        self._model = model
        self.name = info["name"]
        self.parameters = Parameters(layer_type=info["layer_type"], **info["parameters"])
        self.variables = Variables(
            (name, _read_only(value)) for name, value in info["variables"].items())
        self._inbound_names = list(info["inbounds"])
        self._output_dims = info["output_shape"]

    @property
    def inbounds(self):
        """The layers feeding this one (empty for the input layer)."""
        return [self._model.get_layer(name) for name in self._inbound_names]

    @property
    def output_dims(self):
        """(x, y, c) of one output sample, as a list; None when the model's shapes cannot be
        inferred."""
        return None if self._output_dims is None else list(self._output_dims)

    @property
    def input_dims(self):
        """(x, y, c) of the first inbound layer's output, or the model input."""
        inbounds = self.inbounds
        return inbounds[0].output_dims if inbounds else self._model.input_shape

    def get_variable(self, name):
        try:
            return self.variables[name]
        except KeyError:
            raise ValueError(f"layer '{self.name}' has no variable '{name}' "
                             f"(it has {self.variables.names})") from None

    def get_variable_names(self):
        return self.variables.names

    def __repr__(self):
        return f"<akida.Layer {self.name!r} ({self.parameters.layer_type})>"


class LayerStatistics:
    """What the last ``forward()`` saw at one layer's output: ``outputs`` values in the whole
    batch, ``events`` of them nonzero, ``sparsity`` = 1 - events / outputs (None for layers with
    float outputs, such as a Dequantizer)."""

    def __init__(self, name, outputs, events):
        self.layer_name = name
        self.outputs = outputs
        self.events = events

    @property
    def sparsity(self):
        return None if self.outputs == 0 else 1.0 - self.events / self.outputs

    def __repr__(self):
        return (f"<LayerStatistics {self.layer_name!r}: events={self.events} "
                f"outputs={self.outputs} sparsity={self.sparsity}>")


class Statistics(dict):
    """Per-layer statistics of the last ``forward()``, by layer name, in model order."""

    def __str__(self):
        lines = []
        for s in self.values():
            sparsity = "N/A" if s.sparsity is None else f"{s.sparsity:.4f}"
            lines.append(f"{s.layer_name}: events {s.events} / {s.outputs}, sparsity {sparsity}")
        return "\n".join(lines) if lines else "No statistics: forward() has not run."


def _thread_count(num_threads):
    """num_threads checked: an int >= 0 (0: one per core)."""
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
        raise ValueError(f"num_threads must be an int >= 0 (0: one per core), not {num_threads!r}")
    return num_threads


def _model_path(filename):
    path = os.fspath(filename)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    # Python callers expect FileNotFoundError; the message is the library's.
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    return path


class Model:
    """An Akida model.

    ``Model(path)`` reads a ``.fbz`` file; ``Model(data)`` or ``Model(serialized_buffer=data)``
    reads the bytes of one (what ``to_buffer()`` returns). Building a model from layers is not
    supported.
    """

    def __init__(self, filename=None, layers=None, serialized_buffer=None):
        if layers is not None:
            raise NotImplementedError("Model(layers=...) is not supported: load a .fbz file or "
                                      "convert a model with cnn2snn.convert")
        if isinstance(filename, (bytes, bytearray, memoryview)) and serialized_buffer is None:
            filename, serialized_buffer = None, filename
        if serialized_buffer is not None:
            self._native = _native.Model.from_bytes(bytes(serialized_buffer))
        elif filename is not None:
            self._native = _native.Model.from_file(_model_path(filename))
        else:
            raise TypeError("Model() needs a .fbz file path or its bytes")
        self._layers = None

    @classmethod
    def _from_native(cls, native):
        model = cls.__new__(cls)
        model._native = native
        model._layers = None
        return model

    # ---- structure --------------------------------------------------------------------------

    @property
    def layers(self):
        if self._layers is None:
            self._layers = [Layer(self, info) for info in self._native.layers()]
        return list(self._layers)

    def get_layer_count(self):
        return self._native.layer_count()

    def get_layer(self, layer):
        """The layer with this name, or at this index."""
        layers = self.layers
        if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
            if not -len(layers) <= layer < len(layers):
                raise IndexError(f"layer index {layer} out of range: the model has "
                                 f"{len(layers)} layers")
            return layers[layer]
        for candidate in layers:
            if candidate.name == layer:
                return candidate
        raise ValueError(f"{self._native.source}: no layer named '{layer}'")

    @property
    def input_shape(self):
        return self._native.input_shape

    @property
    def output_shape(self):
        return self._native.output_shape

    @property
    def ip_version(self):
        return IpVersion(self._native.ip_version)

    def summary(self):
        """Prints the summary BrainChip's Model.summary() prints for an unmapped model."""
        print(self._native.summary(), end="")

    def __repr__(self):
        return (f"<akida.Model {self._native.source!r}: {self.get_layer_count()} layers, "
                f"ip_version {self._native.ip_version}>")

    # ---- files ------------------------------------------------------------------------------

    def save(self, path):
        """Writes a .fbz file (current layout), atomically."""
        self._native.save(os.fspath(path))

    def to_buffer(self):
        """The bytes of the .fbz file save() would write."""
        return self._native.to_buffer()

    # ---- inference --------------------------------------------------------------------------
    # batch_size is accepted for compatibility and ignored: samples always run one after the
    # other, which is what any batch size computes (temporal layers carry state across samples).

    def forward(self, inputs, batch_size=0, num_threads=0):
        """The integers of the last integer layer (the one before a final Dequantizer) for a
        uint8 (int8 for signed-input models) batch of shape (N, X, Y, C), or (N, C) for a 1x1xC
        input: an int32 array of shape (N, x, y, c). Records ``statistics``.

        ``num_threads``: the threads computing the batch, 0 (the default) one per core, 1 the
        calling thread only. Samples run in parallel; temporal models (whose FIFOs need the
        samples in order) run their earlier and later layers on two threads, one frame apart
        (shorter batches than 4 frames: each layer's work split). The outputs do not depend on it."""
        return self._native.forward(inputs, _thread_count(num_threads))

    def predict(self, inputs, batch_size=0, num_threads=0):
        """The float32 outputs: a final Dequantizer's values, else the last layer's (rescaled
        potentials for an Akida 1.0 last layer without activation). ``num_threads`` as for
        forward()."""
        return self._native.predict(inputs, _thread_count(num_threads))

    def predict_classes(self, inputs, num_classes=0, batch_size=0, num_threads=0):
        """The class of each sample: the index of its largest output (all x, y, c outputs
        flattened) divided by the neurons per class (outputs / num_classes; num_classes 0 means
        one neuron per class). An int array of shape (N,)."""
        outputs = self.predict(inputs, num_threads=num_threads)
        flat = outputs.reshape(outputs.shape[0], -1)
        neurons = flat.shape[1]
        num_classes = num_classes or neurons
        if num_classes < 0 or neurons % num_classes:
            raise ValueError(f"num_classes={num_classes} does not divide the model's "
                             f"{neurons} output neurons")
        return np.argmax(flat, axis=1) // (neurons // num_classes)

    def evaluate(self, inputs, labels, num_classes=0, batch_size=0, num_threads=0):
        """Accuracy: the fraction of samples whose predict_classes() equals its label."""
        labels = np.asarray(labels).reshape(-1)
        classes = self.predict_classes(inputs, num_classes, num_threads=num_threads)
        if labels.shape[0] != classes.shape[0]:
            raise ValueError(f"{labels.shape[0]} labels for {classes.shape[0]} samples")
        return float(np.mean(classes == labels)) if classes.size else 0.0

    @property
    def statistics(self):
        """Per-layer events and sparsity of the last forward() (empty before the first)."""
        return Statistics(
            (name, LayerStatistics(name, outputs, events))
            for name, outputs, events in self._native.statistics())

    def reset(self):
        """Forgets the state carried across calls (FIFOs of temporal layers)."""
        self._native.reset()


def evaluate_sparsity(model, inputs):
    """Runs ``model.forward(inputs)`` and returns the sparsity of every layer's outputs by layer
    name (None for float outputs). Temporal models carry the run's state into later calls."""
    model.forward(inputs)
    return {name: s.sparsity for name, s in model.statistics.items()}
