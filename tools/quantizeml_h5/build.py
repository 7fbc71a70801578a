"""Turn a bare model description into a calibrated, writable one."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .calibrate import (calibrate, init_weights, normalize_like_batchnorm,
                        place_output_quantizers)
from .model import Model, validate


def random_uint8_samples(model: Model, n: int, seed: int) -> np.ndarray:
    shape = model.layers[0].config["shape"]
    return np.random.default_rng(seed).integers(0, 256, (n,) + tuple(shape), dtype=np.uint8)


def finalize(model: Model, seed: int, samples: Optional[np.ndarray] = None,
             num_samples: int = 32) -> Model:
    """Weights (seeded He init, then BatchNorm-like normalization of biased layers on the samples)
    -> OutputQuantizer placement -> calibration + CLE, in place.

    samples defaults to `num_samples` uniform uint8 inputs drawn from seed + 1."""
    validate(model)
    rng = np.random.default_rng(seed)
    if samples is None:
        samples = random_uint8_samples(model, num_samples, seed + 1)
    init_weights(model, rng)
    normalize_like_batchnorm(model, samples, rng)
    place_output_quantizers(model)
    calibrate(model, samples)
    return model
