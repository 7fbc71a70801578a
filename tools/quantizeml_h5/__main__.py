"""CLI: python3 -m tools.quantizeml_h5 (--pattern NAME -o out.h5 | --all DIR | --list |
--ds-cnn -o out.h5)."""

import argparse
import os
import sys

from .patterns import pattern_model, pattern_names
from .writer import write_h5
from .zoo import ds_cnn_kws


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tools.quantizeml_h5",
                                description="Write QuantizeML-format Keras .h5 test models.")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--pattern", metavar="NAME", help="write one pattern model (see --list)")
    g.add_argument("--all", metavar="DIR", help="write every pattern model to DIR/<name>.h5")
    g.add_argument("--ds-cnn", action="store_true", help="write the DS-CNN KWS example")
    g.add_argument("--list", action="store_true", help="list pattern names")
    p.add_argument("-o", "--output", help="output file (--pattern, --ds-cnn)")
    p.add_argument("--seed", type=int, default=0, help="DS-CNN seed (default 0)")
    args = p.parse_args(argv)

    if args.list:
        print("\n".join(pattern_names()))
        return 0
    if args.all:
        os.makedirs(args.all, exist_ok=True)
        for name in pattern_names():
            write_h5(pattern_model(name), os.path.join(args.all, name + ".h5"))
        print(f"wrote {len(pattern_names())} models to {args.all}")
        return 0
    if not args.output:
        p.error("-o/--output is required with --pattern and --ds-cnn")
    if args.pattern:
        try:
            model = pattern_model(args.pattern)
        except KeyError as e:
            print(e.args[0], file=sys.stderr)
            return 2
    else:
        model = ds_cnn_kws(seed=args.seed)
    write_h5(model, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
