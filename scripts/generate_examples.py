#!/usr/bin/env python3
"""Write the deterministic example files of the repository:

  examples/ds_cnn_kws_i8_w8_a8.h5   DS-CNN keyword spotting, QuantizeML 8/8/8 Keras .h5 layout
                                    (synthetic seeded weights, calibrated; see docs/quantizeml-h5.md)
  examples/ds_cnn_kws_samples.npy   8 uint8 "spectrogram-like" inputs, shape (8, 49, 10, 1)
  examples/ds_cnn_kws_iq8_wq4_aq4_laq1.h5
                                    DS-CNN for Akida 1.0, legacy CNN2SNN-quantized Keras .h5
                                    (8-bit input weights, 4-bit weights/activations, 1-bit last
                                    activation; see docs/quantizeml-h5.md §8-9). It takes the same
                                    samples (0..255 values).

Usage: python3 scripts/generate_examples.py [--out-dir examples] [--seed 0]
Running it twice gives byte-identical files.
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tools.quantizeml_h5 import ds_cnn_kws, kws_like_samples, write_h5  # noqa: E402
from tools.quantizeml_h5.legacy import write_legacy_h5  # noqa: E402
from tools.quantizeml_h5.zoo_v1 import ds_cnn_kws_v1  # noqa: E402

# The example samples use their own seed stream, distinct from the calibration samples
# (seed + 1) so that they are "unseen" inputs for the calibrated model.
SAMPLES_SEED_OFFSET = 1000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default=os.path.join(ROOT, "examples"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    h5_path = os.path.join(args.out_dir, "ds_cnn_kws_i8_w8_a8.h5")
    npy_path = os.path.join(args.out_dir, "ds_cnn_kws_samples.npy")
    v1_path = os.path.join(args.out_dir, "ds_cnn_kws_iq8_wq4_aq4_laq1.h5")
    write_h5(ds_cnn_kws(seed=args.seed), h5_path)
    np.save(npy_path, kws_like_samples(8, args.seed + SAMPLES_SEED_OFFSET))
    write_legacy_h5(ds_cnn_kws_v1(seed=args.seed), v1_path)
    for path in (h5_path, npy_path, v1_path):
        print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
