"""CLI: python3 -m tools.quantizeml_h5 (--pattern NAME -o out.h5 | --all DIR | --list |
--ds-cnn -o out.h5 | --v1-pattern NAME -o out.h5 | --all-v1 DIR | --legacy-pattern NAME -o out.h5 |
--all-legacy DIR | --ds-cnn-v1 -o out.h5 | --list-v1 | --list-legacy)."""

import argparse
import os
import sys

from .patterns import pattern_model, pattern_names
from .writer import write_h5
from .zoo import ds_cnn_kws
from .legacy import (FLAVOURS, DEFAULT_FLAVOUR, legacy_pattern_model, legacy_pattern_names,
                     write_legacy_h5)
from .zoo_v1 import ds_cnn_kws_v1, v1_pattern_model, v1_pattern_names


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tools.quantizeml_h5",
                                description="Write QuantizeML-format Keras .h5 test models.")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--pattern", metavar="NAME", help="write one pattern model (see --list)")
    g.add_argument("--all", metavar="DIR", help="write every pattern model to DIR/<name>.h5")
    g.add_argument("--ds-cnn", action="store_true", help="write the DS-CNN KWS example")
    g.add_argument("--list", action="store_true", help="list pattern names")
    # Akida 1.0 material (tools/quantizeml_h5/zoo_v1.py, legacy.py)
    g.add_argument("--v1-pattern", metavar="NAME",
                   help="write one QuantizeML 8/4/4 per-tensor v1 pattern model (see --list-v1)")
    g.add_argument("--all-v1", metavar="DIR", help="write every v1 pattern model to DIR/<name>.h5")
    g.add_argument("--list-v1", action="store_true", help="list v1 pattern names")
    g.add_argument("--legacy-pattern", metavar="NAME",
                   help="write one legacy CNN2SNN-quantized pattern model (see --list-legacy)")
    g.add_argument("--all-legacy", metavar="DIR",
                   help="write every legacy pattern model to DIR/<name>.h5")
    g.add_argument("--list-legacy", action="store_true", help="list legacy pattern names")
    g.add_argument("--ds-cnn-v1", action="store_true",
                   help="write the legacy CNN2SNN DS-CNN KWS iq8_wq4_aq4_laq1 example")
    p.add_argument("--flavour", choices=sorted(FLAVOURS), default=DEFAULT_FLAVOUR,
                   help="Keras serialization of the legacy files (default %(default)s)")
    p.add_argument("-o", "--output", help="output file (--pattern, --ds-cnn)")
    p.add_argument("--seed", type=int, default=0, help="DS-CNN seed (default 0)")
    args = p.parse_args(argv)

    if args.list:
        print("\n".join(pattern_names()))
        return 0
    if args.list_v1 or args.list_legacy:
        print("\n".join(v1_pattern_names() if args.list_v1 else legacy_pattern_names()))
        return 0
    if args.all_v1 or args.all_legacy:
        out = args.all_v1 or args.all_legacy
        os.makedirs(out, exist_ok=True)
        names = v1_pattern_names() if args.all_v1 else legacy_pattern_names()
        for name in names:
            path = os.path.join(out, name + ".h5")
            if args.all_v1:
                write_h5(v1_pattern_model(name), path)
            else:
                write_legacy_h5(legacy_pattern_model(name), path, args.flavour)
        print(f"wrote {len(names)} models to {out}")
        return 0
    if args.all:
        os.makedirs(args.all, exist_ok=True)
        for name in pattern_names():
            write_h5(pattern_model(name), os.path.join(args.all, name + ".h5"))
        print(f"wrote {len(pattern_names())} models to {args.all}")
        return 0
    if not args.output:
        p.error("-o/--output is required with --pattern, --ds-cnn, --v1-pattern, "
                "--legacy-pattern and --ds-cnn-v1")
    try:
        if args.v1_pattern:
            write_h5(v1_pattern_model(args.v1_pattern), args.output)
            print(f"wrote {args.output}")
            return 0
        if args.legacy_pattern:
            write_legacy_h5(legacy_pattern_model(args.legacy_pattern), args.output, args.flavour)
            print(f"wrote {args.output}")
            return 0
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2
    if args.ds_cnn_v1:
        write_legacy_h5(ds_cnn_kws_v1(seed=args.seed), args.output, args.flavour)
        print(f"wrote {args.output}")
        return 0
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
