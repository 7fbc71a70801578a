"""The PEP 517 build backend of `pip install .` (pyproject.toml names it): builds the native
parts with CMake and packs them, with the Python packages, into a wheel.

It needs nothing but the standard library, so pip's isolated build environment has nothing to
download: `pip install .` works offline. What goes into the wheel is listed by CMake
(BUILD_DIR/python_wheel_manifest.txt, from the "What `pip install .` installs" part of
CMakeLists.txt): package directories, native modules, commands (installed on PATH) and data.

The build directory: `--config-settings build-dir=DIR` (pip), else $CNN2SNN_BUILD_DIR, else
build/ in the source tree; relative paths are taken from the source tree. An existing directory
is reused as it is configured (only the target python_wheel is built); a missing one is
configured as scripts/build.sh does (Release, Ninja when available).
"""
import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]


# ---- metadata -----------------------------------------------------------------------------------

def _project():
    with open(SOURCE / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _version():
    """The version of CMakeLists.txt's project() (also what cnn2snn --version prints)."""
    text = (SOURCE / "CMakeLists.txt").read_text()
    match = re.search(r"project\(\s*\w+\s+VERSION\s+([0-9.]+)", text)
    if not match:
        raise RuntimeError("CMakeLists.txt: no project(... VERSION x.y.z)")
    return match.group(1)


def _distribution():
    return re.sub(r"[-_.]+", "_", _project()["name"]).lower(), _version()


def _metadata():
    project = _project()
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {_version()}",
             f"Summary: {project.get('description', '')}"]
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    readme = project.get("readme")
    body = (SOURCE / readme).read_text() if readme else ""
    if body:
        lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + body


def _tag():
    """The wheel tag of the running interpreter: the native modules are built for it."""
    impl = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = re.sub(r"[-.]", "_", sysconfig.get_platform())
    return f"{impl}-{impl}{sys.abiflags}-{platform}"


# ---- building -----------------------------------------------------------------------------------

def _build_dir(config_settings):
    setting = (config_settings or {}).get("build-dir") or os.environ.get("CNN2SNN_BUILD_DIR")
    path = Path(setting) if setting else Path("build")
    return path if path.is_absolute() else SOURCE / path


def _run(command):
    print("+ " + " ".join(map(str, command)), file=sys.stderr, flush=True)
    subprocess.run(command, check=True, stdout=sys.stderr)


def _cmake(build_dir):
    cmake = shutil.which("cmake")
    if cmake is None:
        raise RuntimeError("cmake is not on PATH (Debian: apt-get install cmake; the project's "
                           "packages: bash scripts/setup.sh)")
    if not (build_dir / "CMakeCache.txt").is_file():
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        _run([cmake, "-S", SOURCE, "-B", build_dir, *generator, "-DCMAKE_BUILD_TYPE=Release"])
    _run([cmake, "--build", build_dir, "--target", "python_wheel", "--parallel"])


def _manifest(build_dir):
    """[(kind, name in the wheel, path)] from the manifest CMake wrote."""
    path = build_dir / "python_wheel_manifest.txt"
    if not path.is_file():
        raise RuntimeError(f"{path}: missing; the build directory was configured without the "
                           "Python package (CNN2SNN_BUILD_PYTHON=OFF?)")
    entries = [tuple(line.split("\t")) for line in path.read_text().splitlines() if line]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    for kind, name, _ in entries:
        if kind == "module" and not name.endswith(suffix):
            raise RuntimeError(
                f"{build_dir}: {name} is built for another Python than this one ({sys.executable}"
                f", modules end with {suffix}); use a build directory configured for it "
                "(--config-settings build-dir=DIR, or -DPYTHON_EXECUTABLE=... in a new one)")
    return entries


def _files(entries):
    """[(path in the wheel, source file, is a command)]."""
    distribution, version = _distribution()
    scripts = f"{distribution}-{version}.data/scripts"
    files = []
    for kind, name, path in entries:
        if kind in ("package", "data"):
            root = Path(path)
            for file in sorted(root.rglob("*")):
                if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                    files.append((f"{name}/{file.relative_to(root).as_posix()}", Path(file), False))
        elif kind == "module":
            files.append((name, Path(path), False))
        elif kind == "command":
            files.append((f"{scripts}/{name}", Path(path), True))
        else:
            raise RuntimeError(f"python_wheel_manifest.txt: unknown entry kind {kind!r}")
    return files


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory, files):
    distribution, version = _distribution()
    wheel_name = f"{distribution}-{version}-{_tag()}.whl"
    dist_info = f"{distribution}-{version}.dist-info"
    meta = {
        f"{dist_info}/METADATA": _metadata().encode(),
        f"{dist_info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: cnn2snn tools/wheel_backend.py\n"
                               f"Root-Is-Purelib: false\nTag: {_tag()}\n").encode(),
    }
    records = []
    target = Path(wheel_directory) / wheel_name
    partial = target.with_suffix(".whl.part")  # renamed once complete
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, path, executable in files:
            data = path.read_bytes()
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if executable or os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            wheel.writestr(info, data)
            records.append(_record_line(name, data))
        for name, data in meta.items():
            wheel.writestr(name, data)
            records.append(_record_line(name, data))
        records.append(f"{dist_info}/RECORD,,")
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    partial.replace(target)
    return wheel_name


# ---- PEP 517 hooks ------------------------------------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    distribution, version = _distribution()
    dist_info = Path(metadata_directory) / f"{distribution}-{version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(_metadata())
    return dist_info.name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    build_dir = _build_dir(config_settings)
    _cmake(build_dir)
    return _write_wheel(wheel_directory, _files(_manifest(build_dir)))
