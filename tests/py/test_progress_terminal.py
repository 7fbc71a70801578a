"""Progress bars of the long commands (`cnn2snn verify`, `cnn2snn run`, `akida run`): drawn on
stderr when it is a terminal (a pseudo-terminal here, stdout staying a pipe), and nothing at all
when stderr is a pipe, as in scripts and CI logs."""
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(os.environ.get("CNN2SNN_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ.get("CNN2SNN_BIN_DIR", SOURCE / "build" / "bin"))
DS_CNN = SOURCE / "examples" / "ds_cnn_kws_i8_w8_a8.h5"
SAMPLES = SOURCE / "examples" / "ds_cnn_kws_samples.npy"  # 8 samples


@pytest.fixture(scope="module")
def fbz(tmp_path_factory):
    path = tmp_path_factory.mktemp("progress") / "kws.fbz"
    subprocess.run([BIN / "cnn2snn", "convert", "-m", DS_CNN, "-o", path], check=True,
                   capture_output=True)
    return path


def commands(fbz, out):
    return {
        # 8 samples, 4 passes (both sides, then both sides' predictions for the Dequantizer)
        "verify": ([BIN / "cnn2snn", "verify", "-m", DS_CNN, "-i", SAMPLES], "verify, 4 passes", 32),
        "cnn2snn run": ([BIN / "cnn2snn", "run", "-m", DS_CNN, "-i", SAMPLES, "-o", out], "run", 8),
        "akida run": ([BIN / "akida", "run", "-m", fbz, "-i", SAMPLES, "-o", out], "run", 8),
        "akida run --forward": ([BIN / "akida", "run", "-m", fbz, "-i", SAMPLES, "-o", out,
                                 "--forward"], "run", 8),
    }


def run_with_terminal_stderr(command):
    """(exit status, stdout through a pipe, what the pseudo-terminal on stderr received)."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave,
                                   stdin=subprocess.DEVNULL)
        os.close(slave)
        received = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            received += chunk
        stdout = process.stdout.read()
        process.stdout.close()
        return process.wait(), stdout.decode(), received.decode()
    finally:
        os.close(master)


@pytest.mark.parametrize("name", ["verify", "cnn2snn run", "akida run", "akida run --forward"])
def test_nothing_on_a_pipe(name, fbz, tmp_path):
    command, _, _ = commands(fbz, tmp_path / "out.npy")[name]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "passes [" not in result.stdout and "run [" not in result.stdout  # nor on stdout


@pytest.mark.parametrize("name", ["verify", "cnn2snn run", "akida run", "akida run --forward"])
def test_bar_on_a_terminal(name, fbz, tmp_path):
    command, label, total = commands(fbz, tmp_path / "out.npy")[name]
    status, stdout, terminal = run_with_terminal_stderr(command)
    assert status == 0, terminal
    # Redrawn in place with \r; the last state is the total, then the line ends.
    states = [s for s in re.split(r"[\r\n]+", terminal) if s]
    assert states, terminal
    assert all(s.startswith(label + " [") for s in states), terminal
    assert re.search(rf"\] {total}/{total} [0-9.]+s$", states[-1]), terminal
    assert terminal.endswith("\n"), terminal
    # stdout (a pipe) keeps only the command's own output.
    assert label + " [" not in stdout
    if name == "verify":
        assert "all layers equal" in stdout
