#!/usr/bin/env python3
"""The main job: the Fashion-MNIST CNN quantized, converted to Akida 2.0, run and scored.

The float model is run on the whole test set, quantized, converted, and its accuracy measured at
every step.

For each bit-width configuration (8/8/8, then 4-bit weights and activations by default):
  1. quantize examples/fashion_mnist_cnn.onnx (float, PyTorch export) to a QuantizeML ONNX model,
     calibrating on training images (quantizeml.models.quantize, the project's quantizer),
  2. convert it to an Akida 2.0 model (cnn2snn.convert),
  3. run the quantized model (reference evaluator, QuantizeML's integer arithmetic) and the Akida
     model (the Akida runtime) on the test images, and check that their integer outputs are
     equal, image for image; any difference stops the job with exit status 1.
The float model runs once (the project's float evaluator, quantizeml.models.run_float). Then it
prints the accuracies side by side and the Akida model's confusion matrix, and writes the matrix
as a PNG. Exit status 1 also when the 8-bit model is more than --max-drop points below float.

Needs numpy, onnx, matplotlib (Debian packages, see scripts/setup.sh), Debian's
dataset-fashion-mnist, and the project's Python package on the path:
    eval "$(bash scripts/python_env.sh build)"
    /usr/bin/python3 examples/fashion_mnist_main.py
PyTorch is not needed (it only trained the model: examples/training/train_fashion_mnist.py).
"""

import argparse
import concurrent.futures
import json
import os
import sys
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import fashion_mnist  # noqa: E402

DEFAULT_MODEL = os.path.join(HERE, "fashion_mnist_cnn.onnx")
# Images per call to the evaluators: the unit of the progress bars.
CHUNK = 500
V1_NOTE = "not available: Akida v1 does not support ONNX models (BrainChip's converter refuses them)"


class Stopwatch:
    """Seconds spent per stage, in order."""

    def __init__(self):
        self.seconds = {}

    def stage(self, name):
        watch = self

        class _Stage:
            def __enter__(self):
                self.start = time.monotonic()

            def __exit__(self, *exc):
                watch.seconds[name] = watch.seconds.get(name, 0.0) + time.monotonic() - self.start

        return _Stage()


def in_chunks(label, run, inputs, threads=1):
    """``run`` over ``inputs`` CHUNK images at a time, on ``threads`` threads (``run`` must then
    be safe to call from several at once), its results (an array or a tuple of arrays)
    concatenated in order; a progress bar on stderr only when it is a terminal (pipes and logs
    stay clean)."""
    show = sys.stderr.isatty()
    starts = range(0, len(inputs), CHUNK)
    started = time.monotonic()
    parts = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        futures = {pool.submit(run, inputs[start:start + CHUNK]): start for start in starts}
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            parts[futures[future]] = result if isinstance(result, tuple) else (result,)
            if show:  # drawn like the C++ tools' akida::Progress
                done = sum(len(p[0]) for p in parts.values())
                filled = 30 * done // len(inputs)
                print(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{len(inputs)} "
                      f"{time.monotonic() - started:.1f}s", end="", file=sys.stderr, flush=True)
    if show:
        print(file=sys.stderr)
    joined = tuple(np.concatenate(arrays) for arrays in zip(*(parts[s] for s in starts)))
    return joined if len(joined) > 1 else joined[0]


def per_thread(load, method):
    """A function calling ``method`` of an object ``load()`` makes once per thread: the
    evaluator of a QuantizedModel runs one call at a time, so each thread gets its own."""
    local = threading.local()

    def run(inputs):
        if not hasattr(local, "model"):
            local.model = load()
        return getattr(local.model, method)(inputs)

    return run


def classes(outputs):
    """The predicted class of each sample: argmax over its flattened outputs."""
    return outputs.reshape(len(outputs), -1).argmax(axis=1)


def first_difference(a, b):
    """(image index, output index, a value, b value) of the first difference, or None."""
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    differing = np.argwhere(a != b)
    if len(differing) == 0:
        return None
    image, out = differing[0]
    return int(image), int(out), int(a[image, out]), int(b[image, out])


def confusion_matrix(labels, predicted, n=len(fashion_mnist.CLASS_NAMES)):
    """counts[true class, predicted class]."""
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (labels, predicted), 1)
    return counts


def print_confusion(counts, title):
    names = [name.split("/")[0][:7] for name in fashion_mnist.CLASS_NAMES]
    print(f"\n{title} (rows: true class, columns: predicted)")
    print(" " * 12 + "".join(f"{n:>8}" for n in names))
    for name, row in zip(fashion_mnist.CLASS_NAMES, counts):
        print(f"{name:<12}" + "".join(f"{v:>8}" for v in row))


def plot_confusion(counts, title, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 7))
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ticks = range(len(fashion_mnist.CLASS_NAMES))
    ax.set_xticks(ticks, fashion_mnist.CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(ticks, fashion_mnist.CLASS_NAMES)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    threshold = counts.max() / 2
    for (i, j), v in np.ndenumerate(counts):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                color="white" if v > threshold else "black")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def bits_name(config):
    return f"i{config['input_weight_bits']}_w{config['weight_bits']}_a{config['activation_bits']}"


def parse_config(text):
    """"W/A" or "I/W/A" bit widths (4 or 8, what the quantizer takes) -> dict; input weights
    default to 8 bits."""
    try:
        parts = [int(p) for p in text.split("/")]
    except ValueError:
        parts = []
    if len(parts) == 2:
        parts = [8] + parts
    if len(parts) != 3 or any(bits not in (4, 8) for bits in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected W/A or I/W/A bit widths of 4 or 8, e.g. 8/8/8 or 4/4")
    return dict(zip(("input_weight_bits", "weight_bits", "activation_bits"), parts))


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def save_onnx(model, path):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString())
    os.replace(tmp, path)


def run_configuration(config, float_path, calibration, test_uint8, labels, float_classes,
                      out_dir, watch):
    """Quantize, convert, run both integer models; the accuracies and Akida's predictions."""
    import cnn2snn
    from quantizeml.models import QuantizationParams, quantize

    name = bits_name(config)
    label = f"{config['weight_bits']}-bit"
    print(f"\n== {label} weights and activations ({name}): quantize, convert, run")
    with watch.stage(f"quantize {name}"):
        quantized_proto = quantize(float_path, qparams=QuantizationParams(**config),
                                   samples=calibration, num_samples=len(calibration))
    quantized_path = os.path.join(out_dir, f"fashion_mnist_cnn_{name}.onnx")
    save_onnx(quantized_proto, quantized_path)
    print(f"quantized model: {quantized_path} (calibrated on {len(calibration)} training images)")

    with watch.stage(f"convert {name}"):
        quantized = cnn2snn.load_quantized_model(quantized_path)
        with cnn2snn.set_akida_version(cnn2snn.AkidaVersion.v2):
            akida_model = cnn2snn.convert(quantized)
    fbz_path = os.path.join(out_dir, f"fashion_mnist_cnn_{name}.fbz")
    akida_model.save(fbz_path)
    print(f"Akida 2.0 model: {fbz_path}")
    if config["weight_bits"] == 8:
        akida_model.summary()

    with watch.stage(f"quantized model {name}"):
        # The reference evaluator is slow and single-threaded: one model per core.
        run_quantized = per_thread(lambda: cnn2snn.load_quantized_model(quantized_path),
                                   "forward_and_predict")
        quantized_ints, quantized_scores = in_chunks(f"quantized ({label})", run_quantized,
                                                     test_uint8, threads=os.cpu_count() or 1)
    with watch.stage(f"Akida {name}"):
        akida_ints, akida_scores = in_chunks(
            f"Akida 2.0 ({label})", lambda x: (akida_model.forward(x), akida_model.predict(x)),
            test_uint8)

    difference = first_difference(akida_ints, quantized_ints)
    if akida_ints.shape != quantized_ints.shape or difference is not None:
        where = (f"shapes {akida_ints.shape} vs {quantized_ints.shape}" if difference is None else
                 "test image {}, output {}: Akida {} vs quantized {}".format(*difference))
        raise SystemExit(f"FAILED: the Akida model's integers differ from the quantized model's "
                         f"({name}): {where}")
    print(f"Akida 2.0 == quantized model, integer for integer: {akida_ints.size} outputs of "
          f"{len(test_uint8)} test images (int32 {akida_ints.shape[1:]})")
    quantized_classes, akida_classes = classes(quantized_scores), classes(akida_scores)
    return {
        "name": name, "config": config, "quantized_model": quantized_path, "akida_model": fbz_path,
        "quantized_accuracy": float(np.mean(quantized_classes == labels)),
        "akida_accuracy": float(np.mean(akida_classes == labels)),
        "quantized_agreement": float(np.mean(quantized_classes == float_classes)),
        "akida_agreement": float(np.mean(akida_classes == float_classes)),
        "akida_classes": akida_classes,
    }


def accuracy_table(float_accuracy, results):
    """Accuracy, and how often each model picks the float model's class."""
    rows = [("float (PyTorch-trained, ONNX)", float_accuracy, 1.0)]
    for r in results:
        c = r["config"]
        bits = f"{c['input_weight_bits']}/{c['weight_bits']}/{c['activation_bits']}"
        rows.append((f"quantized {bits} (QuantizeML ONNX)", r["quantized_accuracy"],
                     r["quantized_agreement"]))
        rows.append((f"Akida 2.0, {bits}", r["akida_accuracy"], r["akida_agreement"]))
    lines = [f"{'model (bits: input weights/weights/activations)':<50}{'accuracy':>9}"
             f"{'same class as float':>21}"]
    lines += [f"{name:<50}{100 * acc:>8.2f}%{100 * agree:>20.2f}%" for name, acc, agree in rows]
    lines.append(f"{'Akida 1.0':<50} {V1_NOTE}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=DEFAULT_MODEL, help="float ONNX model (default: %(default)s)")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "demo", "fashion_mnist"),
                   help="output folder (default: %(default)s)")
    p.add_argument("--bits", type=parse_config, nargs="+",
                   default=[parse_config("8/8/8"), parse_config("8/4/4")],
                   help="bit widths to run, I/W/A (input weights/weights/activations) or W/A "
                        "(default: 8/8/8 8/4/4); the first one is checked against --max-drop")
    p.add_argument("--calibration", type=positive_int, default=1024,
                   help="training images to calibrate on (default: %(default)s)")
    p.add_argument("--limit", type=positive_int, default=None,
                   help="run only the first N test images (default: all 10,000)")
    p.add_argument("--max-drop", type=float, default=1.0,
                   help="fail when the first configuration's quantized accuracy is more than this "
                        "many points below float (default: %(default)s)")
    args = p.parse_args(argv)

    from quantizeml.models import run_float

    watch = Stopwatch()
    started = time.monotonic()
    os.makedirs(args.out, exist_ok=True)
    with watch.stage("load data"):
        train_images, _ = fashion_mnist.load("train")
        test_images, labels = fashion_mnist.load("test")
        if args.limit:
            test_images, labels = test_images[:args.limit], labels[:args.limit]
        calibration = fashion_mnist.calibration_images(train_images, args.calibration)
        # The float model takes (N, 1, 28, 28) float pixels, the integer models uint8 (N, 28, 28, 1).
        test_float = test_images[:, None].astype(np.float32)
        test_uint8 = np.ascontiguousarray(test_images[..., None])
    print(f"Fashion-MNIST: {len(test_images)} test images, {len(calibration)} training images "
          f"for calibration ({fashion_mnist.data_dir()})")

    print(f"\n== float model {args.model}")
    with watch.stage("float model"):
        # One call: run_float draws its own progress bar on a terminal.
        float_scores = run_float(args.model, test_float)
    float_classes = classes(float_scores)
    float_accuracy = float(np.mean(float_classes == labels))
    print(f"float accuracy: {100 * float_accuracy:.2f}%")

    results = [run_configuration(config, args.model, calibration, test_uint8, labels,
                                 float_classes, args.out, watch) for config in args.bits]

    first = results[0]
    counts = confusion_matrix(labels, first["akida_classes"])
    title = f"Akida 2.0 ({first['name']}), Fashion-MNIST test set ({len(labels)} images)"
    print_confusion(counts, title)
    png = os.path.join(args.out, "confusion_matrix.png")
    plot_confusion(counts, title, png)
    print(f"\nconfusion matrix plot: {png}")

    print("\n== Accuracy on the Fashion-MNIST test set "
          f"({len(labels)} images; Akida == quantized integer for integer)")
    print(accuracy_table(float_accuracy, results))
    total = time.monotonic() - started
    print(f"\nmain job: {total:.1f} s ("
          + ", ".join(f"{k} {v:.1f} s" for k, v in watch.seconds.items()) + ")")

    summary = {
        "test_images": len(labels), "calibration_images": len(calibration),
        "float_accuracy": float_accuracy,
        "configurations": [{k: v for k, v in r.items() if k != "akida_classes"} for r in results],
        "confusion_matrix": counts.tolist(), "seconds": watch.seconds, "total_seconds": total,
    }
    with open(os.path.join(args.out, "results.json.tmp"), "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(os.path.join(args.out, "results.json.tmp"), os.path.join(args.out, "results.json"))

    drop = 100 * (float_accuracy - first["quantized_accuracy"])
    if drop > args.max_drop:
        print(f"FAILED: {first['name']} is {drop:.2f} points below float (limit {args.max_drop})",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, RuntimeError) as e:  # akida.Error derives from RuntimeError
        # Missing or damaged files, unsupported models: one line, not a traceback.
        print(f"{os.path.basename(sys.argv[0])}: error: {e}", file=sys.stderr)
        sys.exit(1)
