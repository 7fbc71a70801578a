"""Write a model description as a tf_keras 2.15 `model.save('x.h5')` file (legacy HDF5 format).

Layout (checked against the real QuantizeML 0.13.1 ECG file, see docs/quantizeml-h5.md):

/                      attrs keras_version, backend (vlen UTF-8 str), model_config,
                       training_config (vlen ASCII: Keras writes json.dumps(...).encode())
/model_weights         attrs backend, keras_version (vlen ASCII), layer_names (vlen ASCII array,
                       model.layers order)
/model_weights/<layer> one group per layer, created in sorted name order; attr weight_names =
                       vlen ASCII array of variable names, or an empty float64 array when the
                       layer has no variable; datasets at <layer>/<variable name> (so
                       "conv2d/conv2d/kernel:0"; '/' in names creates nested groups, as h5py does
                       for Keras)
/model_weights/top_level_model_weights   empty weight_names
"""

from __future__ import annotations

import json
from typing import Optional

import h5py
import numpy as np

from .model import Model, model_config, validate, weight_entries

KERAS_VERSION = "2.15.0"
BACKEND = "tensorflow"

_ASCII = h5py.string_dtype("ascii")


def default_training_config(from_logits: bool = False) -> dict:
    """A compile() record with the exact structure of the ECG fixture's training_config (legacy
    Adam, sparse categorical cross-entropy, accuracy).  A compiled-but-untrained legacy optimizer
    has no variables, so Keras writes no /optimizer_weights group for it."""
    return {
        "loss": {"class_name": "SparseCategoricalCrossentropy",
                 "config": {"reduction": "auto", "name": "sparse_categorical_crossentropy",
                            "from_logits": from_logits, "ignore_class": None,
                            "fn": "sparse_categorical_crossentropy"}},
        "metrics": [[{"class_name": "MeanMetricWrapper",
                      "config": {"name": "accuracy", "dtype": "float32",
                                 "fn": "sparse_categorical_accuracy"}}]],
        "weighted_metrics": None,
        "loss_weights": None,
        "optimizer_config": {"class_name": "Adam",
                             "config": {"name": "Adam", "learning_rate": 0.0010000000474974513,
                                        "decay": 0.0, "beta_1": 0.8999999761581421,
                                        "beta_2": 0.9990000128746033, "epsilon": 1e-07,
                                        "amsgrad": False}}}


def _names_attr(names):
    if not names:
        # Keras: np.asarray([]) -> float64 empty array (what the fixture holds)
        return np.array([], dtype=np.float64)
    return np.array([n.encode("utf8") for n in names], dtype=_ASCII)


def write_h5(model: Model, path: str, training_config: Optional[dict] = "default") -> None:
    """Write `model` (weights and quantizer variables already set) to `path`."""
    validate(model)
    for ly in model.layers:
        if ly.output_quantizer is not None and not ly.quantizer_vars:
            raise ValueError(f"{ly.name}: OutputQuantizer not calibrated")
    if training_config == "default":
        training_config = default_training_config()
    with h5py.File(path, "w") as f:  # default libver 'earliest' -> superblock v0, like Keras
        # Root attributes in the order saving_utils.model_metadata() yields them.
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = BACKEND
        f.attrs["model_config"] = json.dumps(model_config(model)).encode("utf8")
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = _names_attr([ly.name for ly in model.layers])
        mw.attrs["backend"] = BACKEND.encode("utf8")
        mw.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
        # Sorted so that a prefix ("conv_0") exists before "conv_0/relu" (Keras does the same).
        for ly in sorted(model.layers, key=lambda x: x.name):
            g = mw.create_group(ly.name)
            entries = weight_entries(ly)
            g.attrs["weight_names"] = _names_attr([n for n, _ in entries])
            for name, value in entries:
                value = np.asarray(value, dtype=np.float32)
                d = g.create_dataset(name, value.shape, dtype=np.float32)
                if value.shape:
                    d[:] = value
                else:
                    d[()] = value
        top = mw.create_group("top_level_model_weights")
        top.attrs["weight_names"] = _names_attr([])
