"""CLI: python3 -m tools.quantizeml_onnx (--list | --model NAME -o out.onnx | --all DIR)."""
import argparse
import os
import sys

import onnx

from .models import build_model, model_names


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tools.quantizeml_onnx",
                                description="Write QuantizeML-style quantized ONNX test models.")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--list", action="store_true", help="list the model names")
    g.add_argument("--model", metavar="NAME", help="write one model (see --list)")
    g.add_argument("--all", metavar="DIR", help="write every model to DIR/<name>.onnx")
    p.add_argument("-o", "--output", help="output file (with --model)")
    args = p.parse_args(argv)

    if args.list:
        for name in model_names():
            print(name)
        return 0
    if args.all:
        os.makedirs(args.all, exist_ok=True)
        for name in model_names():
            onnx.save(build_model(name), os.path.join(args.all, name + ".onnx"))
        print(f"wrote {len(model_names())} models to {args.all}")
        return 0
    if not args.output:
        p.error("-o/--output is required with --model")
    try:
        model = build_model(args.model)
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2
    onnx.save(model, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
