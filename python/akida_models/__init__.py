"""Pretrained models bundled with the project (examples/), as BrainChip's ``akida_models`` names
them. They are QuantizeML models, ready for ``cnn2snn.convert``.

The examples directory is looked up in order: $CNN2SNN_EXAMPLES_DIR, ``examples/`` inside this
package (an installed copy), then the source tree the native module was built from.
"""

import os

import _cnn2snn_native as _native
from cnn2snn import AkidaVersion, get_akida_version, load_quantized_model

__all__ = ["ds_cnn_kws_pretrained", "example_path"]

# DS-CNN keyword spotting: the 8-bit QuantizeML model for Akida 2.0, and the legacy CNN2SNN
# 4-bit model (8-bit input, 4-bit weights and activations, 1-bit last activation) for Akida 1.0.
_DS_CNN_KWS = {
    AkidaVersion.v2: "ds_cnn_kws_i8_w8_a8.h5",
    AkidaVersion.v1: "ds_cnn_kws_iq8_wq4_aq4_laq1.h5",
}


def _examples_dirs():
    dirs = []
    if os.environ.get("CNN2SNN_EXAMPLES_DIR"):
        dirs.append(os.environ["CNN2SNN_EXAMPLES_DIR"])
    dirs.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples"))
    if _native.source_dir:
        dirs.append(os.path.join(_native.source_dir, "examples"))
    return dirs


def example_path(name):
    """The path of a bundled example file; FileNotFoundError naming it and where it was sought."""
    dirs = _examples_dirs()
    for directory in dirs:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"{name}: no such example (looked in {', '.join(dirs)})")


def ds_cnn_kws_pretrained(quantized=True):
    """The DS-CNN keyword-spotting model for the current Akida version (``get_akida_version()``),
    loaded as a ``cnn2snn.QuantizedModel``."""
    if not quantized:
        raise NotImplementedError("only the quantized DS-CNN KWS model is bundled")
    return load_quantized_model(example_path(_DS_CNN_KWS[get_akida_version()]))
