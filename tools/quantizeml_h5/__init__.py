"""Reproducible generator of QuantizeML-format Keras `.h5` files (tf_keras 2.15 legacy HDF5).

Typical use::

    from tools.quantizeml_h5 import ds_cnn_kws, write_h5
    write_h5(ds_cnn_kws(seed=0), "ds_cnn_kws_i8_w8_a8.h5")

See docs/quantizeml-h5.md for the file format and the sources of each fact.
"""

from .model import (Layer, Model, model_config, keras_config, output_shapes, param_count,
                    weight_entries, validate)
from .numerics import forward
from .calibrate import init_weights, place_output_quantizers, calibrate, ideal_range_max
from .build import finalize, random_uint8_samples
from .writer import write_h5, default_training_config
from .zoo import ds_cnn_kws, ds_cnn_kws_description, kws_like_samples
from .patterns import pattern_model, pattern_models, pattern_names

__all__ = ["Layer", "Model", "model_config", "keras_config", "output_shapes", "param_count",
           "weight_entries", "validate", "forward", "init_weights", "place_output_quantizers",
           "calibrate", "ideal_range_max", "finalize", "random_uint8_samples", "write_h5",
           "default_training_config", "ds_cnn_kws", "ds_cnn_kws_description",
           "kws_like_samples", "pattern_model", "pattern_models", "pattern_names"]
