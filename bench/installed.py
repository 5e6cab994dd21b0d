"""firestream as operators install it, for the benches: a fresh environment, no editable install.

A bootstrapped checkout installs firestream and its plugins *editable*: each
of the seven packages adds a ``.pth`` file that imports a path finder when
the interpreter starts. On this machine that costs every Python process
about 14 ms (``python -c pass``: 23 ms in ``.venv``, 9-10 ms in a plain
venv), and an operator who pip-installs firestream and its chart plugins
from an index never pays it. Measured in ``.venv``, those 14 ms would flatter
every ratio to ``python -c pass`` and handicap every comparison with
helmfile, so the benches measure this environment instead:

* a virtual environment made with ``python -m venv --without-pip``;
* firestream-core and the five chart plugins built as wheels from this
  checkout (``pip wheel --no-deps --no-build-isolation --no-index``, with
  ``.venv``'s setuptools: offline) and installed from them, console script
  included, as pip installs them for anyone;
* their dependencies (attrs, cattrs, pluggy, PyYAML, importlib-metadata and
  what those need) copied from ``.venv``, file by file from each
  distribution's ``RECORD``: the same versions, and no network.

``prepare(dest)`` (re)builds it; it takes 10-20 s. Not a test.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = [ROOT, *sorted(p for p in (ROOT / "plugins").glob("firestream-chart-*") if (p / "pyproject.toml").exists())]
"""firestream-core and the chart plugins (the test kit is not something operators install)."""


def _closure(names: list[str]) -> list[importlib.metadata.Distribution]:
    """The distributions ``names`` need, recursively, as installed in this environment
    (requirement markers evaluated here, no extras)."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = req.name.lower().replace("_", "-")
        if key in seen:
            continue
        dist = importlib.metadata.distribution(req.name)
        seen[key] = dist
        todo.extend(dist.requires or [])
    return list(seen.values())


def _copy_dist(dist: importlib.metadata.Distribution, site: Path) -> None:
    """Copy the files ``dist``'s RECORD lists under site-packages (its scripts aside)."""
    for f in dist.files or []:
        if f.parts[0] == ".." or "__pycache__" in f.parts:
            continue
        src = Path(str(dist.locate_file(f)))
        if not src.is_file():
            continue
        dst = site / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def prepare(dest: Path) -> Path:
    """Build the environment at ``dest`` (replacing it) and return its ``python``."""
    shutil.rmtree(dest, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)  # noqa: S603
    python = dest / "bin" / "python"
    site = Path(subprocess.run(  # noqa: S603
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    core = [r for r in importlib.metadata.requires("firestream-core") or [] if "extra ==" not in r]
    for dist in _closure(core):
        _copy_dist(dist, site)
    with tempfile.TemporaryDirectory(prefix="fs-wheels-") as wheels:
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--no-build-isolation", "--no-index", "-w", wheels, *map(str, PROJECTS)],
            check=True, stdout=subprocess.DEVNULL)
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
             "--disable-pip-version-check", "--no-deps", "--no-index", *sorted(map(str, Path(wheels).glob("*.whl")))],
            check=True, stdout=subprocess.DEVNULL)
    # the bytecode, as an installer that compiles (pip does) leaves it; the first runs would write it anyway
    subprocess.run([str(python), "-m", "compileall", "-q", str(site)], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return python


def describe(python: Path) -> str:
    """One line for a bench's header: which environment ran."""
    return (f"firestream installed from wheels of this checkout in {python.parent.parent} "
            f"(not editable; bench/installed.py)")


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir()) / "fs-installed"
    print(prepare(out))
