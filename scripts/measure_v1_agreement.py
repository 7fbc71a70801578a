#!/usr/bin/env python3
"""How far Akida 1.0 conversions are from the quantized model: the figures of docs/akida-v1.md.

For the legacy DS-CNN example (its 8 bundled samples and 256 random inputs) and for every v1 model
the tests build (tools.quantizeml_h5 --all-v1 and --all-legacy), runs the shipped commands:
`cnn2snn convert` (how many activated neurons got an exact threshold/act_step pair) and
`cnn2snn verify --json` (differing values per layer, top-1 agreement of the output), and prints a
Markdown table and the totals.

Usage: /usr/bin/python3 scripts/measure_v1_agreement.py [BIN_DIR]   (default build/bin)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
BIN = Path(sys.argv[1] if len(sys.argv) > 1 else SOURCE / "build" / "bin")
LEGACY_DS_CNN = SOURCE / "examples" / "ds_cnn_kws_iq8_wq4_aq4_laq1.h5"
SAMPLES = SOURCE / "examples" / "ds_cnn_kws_samples.npy"
RANDOM = ["--random", "256", "--seed", "0"]
ENV = {**os.environ, "CNN2SNN_TARGET_AKIDA_VERSION": "v1"}
EXACT = re.compile(r"exact threshold/act_step for (\d+) of (\d+) activated neurons")


def exact_neurons(model, work):
    result = subprocess.run([BIN / "cnn2snn", "convert", "-m", model, "-o", work / "m.fbz"],
                            capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        return None
    m = EXACT.search(result.stdout)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def verify(model, inputs):
    result = subprocess.run([BIN / "cnn2snn", "verify", "-m", model, "--json", *inputs],
                            capture_output=True, text=True, env=ENV)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{model}: {result.stderr}")
    return json.loads(result.stdout)


def measure(name, model, inputs, work):
    """One row: (name, exact, neurons, worst layer, its fraction, differing outputs, top-1)."""
    exact = exact_neurons(model, work)
    if exact is None:
        return None
    report = verify(model, inputs)
    integers = [l for l in report["layers"]
                if l["compared_values"] > 0 and not l["kind"].startswith("Dequantizer")]
    worst = max(integers, key=lambda l: l["differing_fraction"])
    out = report["output"]
    output_row = next(l for l in report["layers"] if l["layer"] == out["layer"])
    return dict(name=name, exact=exact, worst=worst, output=output_row, top1=out,
                samples=report["samples"])


def percent(x):
    return f"{100 * x:.3g}%"


def main():
    rows, refused = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for flag in ("--all-v1", "--all-legacy"):
            subprocess.run([sys.executable, "-m", "tools.quantizeml_h5", flag, work / flag[2:]],
                           cwd=SOURCE, check=True, capture_output=True)
        cases = [("ds_cnn_kws_iq8_wq4_aq4_laq1 (8 bundled samples)", LEGACY_DS_CNN,
                  ["-i", str(SAMPLES)]),
                 ("ds_cnn_kws_iq8_wq4_aq4_laq1 (256 random inputs)", LEGACY_DS_CNN, RANDOM)]
        for kind in ("all-v1", "all-legacy"):
            for path in sorted((work / kind).glob("*.h5")):
                label = ("QuantizeML " if kind == "all-v1" else "legacy ") + path.stem
                cases.append((label, path, RANDOM))
        for name, model, inputs in cases:
            row = measure(name, model, inputs, work)
            (rows if row else refused).append(row or name)

    print("| model | exact neurons | integer layers: most differing values | output: differing "
          "values, max abs difference | top-1 agreement |")
    print("|---|---|---|---|---|")
    totals = {}
    for r in rows:
        e, n = r["exact"]
        w, o, t = r["worst"], r["output"], r["top1"]
        print(f"| {r['name']} | {e}/{n} | {w['layer']} {w['differing_values']}/"
              f"{w['compared_values']} ({percent(w['differing_fraction'])}) | "
              f"{o['differing_values']}/{o['compared_values']} "
              f"({percent(o['differing_fraction'])}), {o['max_abs_difference']:.3g} | "
              f"{t['top1_agreeing']}/{t['samples']} ({percent(t['top1_agreement'])}) |")
        family = r["name"].split()[0]
        if family == "ds_cnn_kws_iq8_wq4_aq4_laq1":
            continue
        total = totals.setdefault(family, dict(exact=0, neurons=0, agreeing=0, samples=0,
                                               models=0, equal=0))
        total["exact"] += e
        total["neurons"] += n
        total["agreeing"] += t["top1_agreeing"]
        total["samples"] += t["samples"]
        total["models"] += 1
        total["equal"] += w["differing_values"] == 0
    print()
    for family, t in totals.items():
        print(f"{family} test models: {t['models']} converted; integer layers all equal in "
              f"{t['equal']}; exact neurons {t['exact']}/{t['neurons']}; top-1 agreement "
              f"{t['agreeing']}/{t['samples']} ({percent(t['agreeing'] / max(t['samples'], 1))}).")
    print(f"Refused by the v1 rules: {', '.join(refused) or 'none'}.")


if __name__ == "__main__":
    main()
