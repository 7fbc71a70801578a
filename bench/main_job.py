#!/usr/bin/env python3
"""End-to-end time of the main job and of each of its stages (not run by CI).

The job is examples/fashion_mnist_main.py, what scripts/demo.sh runs first: load the data,
quantize, convert, run the float, quantized and Akida models on the 10,000 test images.

Each repetition runs the job as its own process; the table gives, per stage, the minimum over
the repetitions (the machine may be shared: the minimum is the least disturbed), plus the whole
process's wall time and CPU time (user + system; less sensitive to other load). Arguments after
"--" go to the job (e.g. -- --bits 8/8/8 --limit 2000).

Usage (after a build): /usr/bin/python3 bench/main_job.py [--repeat N] [-- JOB ARGS...]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = os.path.join(ROOT, "examples", "fashion_mnist_main.py")


def child_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(job_args, out_dir, env):
    cpu_before, started = child_cpu_seconds(), time.monotonic()
    subprocess.run([sys.executable, JOB, "--out", out_dir, *job_args], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    wall, cpu = time.monotonic() - started, child_cpu_seconds() - cpu_before
    with open(os.path.join(out_dir, "results.json")) as f:
        results = json.load(f)
    return wall, cpu, results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=2, help="runs of the job (default %(default)s)")
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="build folder")
    p.add_argument("job_args", nargs="*", help="arguments of the job (after --)")
    args = p.parse_args(argv)

    env = dict(os.environ)
    python_dir = os.path.join(args.build, "python")
    env["PYTHONPATH"] = python_dir + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    runs = []
    with tempfile.TemporaryDirectory(prefix="main_job_bench_") as out_dir:
        for i in range(args.repeat):
            runs.append(run_once(args.job_args, out_dir, env))
            print(f"run {i + 1}/{args.repeat}: {runs[-1][0]:.1f} s wall, {runs[-1][1]:.1f} s CPU",
                  file=sys.stderr, flush=True)

    results = runs[0][2]
    print(f"== main job (examples/fashion_mnist_main.py {' '.join(args.job_args)}): "
          f"{results['test_images']} test images, {results['calibration_images']} calibration "
          f"images; minimum of {args.repeat} run(s), {os.cpu_count()} CPUs")
    print(f"{'stage':<34}{'seconds':>10}")
    for stage in results["seconds"]:
        best = min(r[2]["seconds"][stage] for r in runs)
        extra = ""
        if stage.startswith("quantize "):
            extra = f"   ({1000 * best / results['calibration_images']:.2f} ms per calibration image)"
        elif stage != "load data" and not stage.startswith("convert "):
            extra = f"   ({1000 * best / results['test_images']:.3f} ms per test image)"
        print(f"{stage:<34}{best:>10.2f}{extra}")
    print(f"{'whole job, wall (process)':<34}{min(r[0] for r in runs):>10.2f}")
    print(f"{'whole job, CPU user+system':<34}{min(r[1] for r in runs):>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
