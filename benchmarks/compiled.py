"""The optimizer built the way the Docker image builds it (mypyc, ``INFRA_MIND_MYPYC=1``),
unpacked into a cache folder so benchmarks and tests can run it beside the pure-Python
reference without ever putting compiled files into the source tree.

``site()`` builds once per source digest (about a minute on two cores) and returns the
folder to put first on ``PYTHONPATH``; ``run(code)`` runs Python code against it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "mypyc"


def digest() -> str:
    """Hash of everything that goes into the wheel: a change anywhere means a new build."""
    h = hashlib.sha256()
    files = [ROOT / "setup.py", ROOT / "pyproject.toml"]
    files += sorted((ROOT / "workers").rglob("*"))
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".so":
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def available() -> bool:
    """Whether this Python can build the compiled optimizer (mypy is a dev dependency)."""
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return False
    return shutil.which("cc") is not None or shutil.which("gcc") is not None


def site() -> Path:
    """Folder holding the compiled package, built if this source digest has none yet."""
    target = CACHE / digest()
    if (target / ".complete").exists():
        return target
    print("building the compiled optimizer with mypyc (about a minute) ...", flush=True)
    shutil.rmtree(CACHE, ignore_errors=True)
    with tempfile.TemporaryDirectory() as wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-build-isolation",
             "--no-deps", "--wheel-dir", wheels, str(ROOT)],
            env={**os.environ, "INFRA_MIND_MYPYC": "1"}, check=True,
        )  # fmt: skip
        wheel = next(Path(wheels).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target)
    (target / ".complete").touch()
    return target


def run(code: str, *args: str) -> str:
    """Run ``code`` with the compiled package first on the path; its stdout.

    The code runs from inside the build folder with ``-P``, so neither the source tree nor
    the editable install can shadow the compiled modules; it fails if they are not the
    ones imported.
    """
    folder = site()
    check = (
        "import workers.prompts.segments as _m\n"
        "assert not _m.__file__.endswith('.py'), _m.__file__\n"
    )
    env = {**os.environ, "PYTHONPATH": str(folder)}
    out = subprocess.run(
        [sys.executable, "-P", "-c", check + code, *args],
        cwd=folder, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout
