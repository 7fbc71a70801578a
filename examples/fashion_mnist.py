"""Fashion-MNIST as Debian's ``dataset-fashion-mnist`` package installs it, read with numpy only.

The four files are gzip-compressed IDX files (Yann LeCun's MNIST layout): a big-endian header
``0x00 0x00 TYPE NDIMS`` followed by NDIMS uint32 sizes, then the values. Images are
``(N, 28, 28)`` uint8 pixels (0 = background), labels ``(N,)`` uint8 class indices 0..9.

The training script (examples/training/train_fashion_mnist.py) and the main job
(examples/fashion_mnist_main.py) both read the data through this module.
"""

import gzip
import os

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
DEBIAN_PACKAGE = "dataset-fashion-mnist"

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

FILES = {
    ("train", "images"): "train-images-idx3-ubyte.gz",
    ("train", "labels"): "train-labels-idx1-ubyte.gz",
    ("test", "images"): "t10k-images-idx3-ubyte.gz",
    ("test", "labels"): "t10k-labels-idx1-ubyte.gz",
}

# The IDX type byte of unsigned bytes, the only type these files use.
_IDX_UBYTE = 0x08


class IdxError(ValueError):
    """A file that is not the IDX array it should be; the message names the file and the field."""


def data_dir():
    """$FASHION_MNIST_DIR if set, else Debian's install folder."""
    return os.environ.get("FASHION_MNIST_DIR") or DEFAULT_DIR


def read_idx(path, expected_ndim):
    """The uint8 array of one (optionally gzip-compressed) IDX file with ``expected_ndim`` dims."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:  # gzip raises both on damaged streams
        raise IdxError(f"{path}: cannot read: {e}") from None
    if len(data) < 4:
        raise IdxError(f"{path}: header: {len(data)} bytes, an IDX file starts with 4")
    zero, dtype, ndim = data[0:2], data[2], data[3]
    if zero != b"\0\0":
        raise IdxError(f"{path}: magic: first bytes {zero.hex()}, expected 0000 (not an IDX file)")
    if dtype != _IDX_UBYTE:
        raise IdxError(f"{path}: type: 0x{dtype:02x}, expected 0x08 (unsigned bytes)")
    if ndim != expected_ndim:
        raise IdxError(f"{path}: dimensions: {ndim}, expected {expected_ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{path}: sizes: file ends inside the header ({len(data)} bytes)")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) - header != count:
        raise IdxError(f"{path}: values: {len(data) - header} bytes after the header, "
                       f"the sizes {shape} need {count}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load(split, directory=None):
    """(images (N, 28, 28) uint8, labels (N,) uint8) of ``split`` ("train" or "test")."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = directory or data_dir()
    paths = {kind: os.path.join(directory, FILES[(split, kind)]) for kind in ("images", "labels")}
    for path in paths.values():
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{path}: no such file (install Debian's {DEBIAN_PACKAGE}: bash scripts/setup.sh, "
                "or set FASHION_MNIST_DIR)")
    images = read_idx(paths["images"], 3)
    labels = read_idx(paths["labels"], 1)
    if images.shape[1:] != (28, 28):
        raise IdxError(f"{paths['images']}: sizes: images are {images.shape[1:]}, expected (28, 28)")
    if images.shape[0] != labels.shape[0]:
        raise IdxError(f"{paths['labels']}: sizes: {labels.shape[0]} labels for "
                       f"{images.shape[0]} images in {paths['images']}")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise IdxError(f"{paths['labels']}: values: label {int(labels.max())} is not a class 0..9")
    return images, labels


def available(directory=None):
    """True when all four files are present."""
    directory = directory or data_dir()
    return all(os.path.isfile(os.path.join(directory, name)) for name in FILES.values())


def calibration_images(images, count, seed=0):
    """``count`` training images, drawn without replacement by a seeded generator, as the float
    model takes them: float32 (count, 1, 28, 28) raw pixels 0..255 (the model normalises)."""
    if not 0 < count <= len(images):
        raise ValueError(f"calibration count {count} is not in 1..{len(images)}")
    chosen = np.sort(np.random.default_rng(seed).choice(len(images), size=count, replace=False))
    return images[chosen, None, :, :].astype(np.float32)
