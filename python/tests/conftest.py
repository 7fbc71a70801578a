"""Shared fixtures of the Python package tests: where the source tree, the built executables and
the real model files are. ctest sets CNN2SNN_SOURCE_DIR, CNN2SNN_BIN_DIR and PYTHONPATH."""

import json
import os
import subprocess

import pytest

SOURCE_DIR = os.environ.get(
    "CNN2SNN_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN_DIR = os.environ.get("CNN2SNN_BIN_DIR", os.path.join(SOURCE_DIR, "build", "bin"))
FIXTURES = os.path.join(SOURCE_DIR, "..", "shared", "fixtures")
FBZ_DIR = os.path.join(FIXTURES, "fbz")
VWW = os.path.join(FBZ_DIR, "akidanet_vww_i8_w8_a8_v2_2.11.fbz")
EXAMPLES = os.path.join(SOURCE_DIR, "examples")


def fbz_fixtures():
    if not os.path.isdir(FBZ_DIR):
        return []
    return sorted(f for f in os.listdir(FBZ_DIR) if f.endswith(".fbz"))


def fixture_path(name):
    path = os.path.join(FBZ_DIR, name)
    if not os.path.isfile(path):
        pytest.skip(f"{path} is absent (real BrainChip files live in ../shared/fixtures)")
    return path


def tool(name):
    path = os.path.join(BIN_DIR, name)
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not built")
    return path


def run_tool(name, *args):
    """(returncode, stdout, stderr) of a built command."""
    result = subprocess.run([tool(name), *args], capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr


def cli_error(stderr, prefix):
    """The message of a CLI failure: its one stderr line without the "<tool>: error: " prefix."""
    line = stderr.strip()
    assert line.startswith(prefix), stderr
    assert "\n" not in line, stderr
    return line[len(prefix):]


def akida_dump(path):
    code, out, err = run_tool("akida", "dump", path)
    assert code == 0, err
    return json.loads(out)
