"""The test kit is its own distribution, and the core alone carries none of it.

Offline: wheels are built from copies of the sources with this environment's
setuptools (``--no-isolation``) and installed with ``--no-deps``.

* the kit's wheel holds the package (the fake helm's modules, the charts) and
  its ``pytest11`` entry point;
* firestream-core's wheel, alone in a fresh venv, declares no ``pytest11``
  entry point, ships no ``firestream_testing`` and requires no emulator
  dependency: a pytest run there loads no firestream plugin;
* the emulator without aiohttp / kmock says which package to install, from
  its command line and from :func:`start_cluster` (so the ``kube`` fixtures
  fail with that line), never with a traceback.
"""

from __future__ import annotations

import email
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from firestream_testing.cluster import ClusterError, start_cluster
from firestream_testing.deps import DISTRIBUTION, EMULATOR_MODULES

KIT = Path(__file__).resolve().parents[1]
REPO = KIT.parents[1]
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist", "tests")


def _wheel(source: Path, out: Path) -> Path:
    """Build ``source``'s wheel into ``out`` (offline) and return its path."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", str(source), "-o", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"build failed:\n{done.stdout}\n{done.stderr}"
    (wheel,) = out.glob("*.whl")
    return wheel


def _entry_points(wheel: zipfile.ZipFile) -> str:
    names = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    return wheel.read(names[0]).decode() if names else ""


def _requires(wheel: zipfile.ZipFile) -> list[str]:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.message_from_bytes(wheel.read(name)).get_all("Requires-Dist") or []


def test_the_kit_builds_with_its_modules_charts_and_pytest_entry_point(tmp_path: Path) -> None:
    source = tmp_path / "firestream-testing"
    shutil.copytree(KIT, source, ignore=_IGNORE)
    with zipfile.ZipFile(_wheel(source, tmp_path / "dist")) as wheel:
        names = set(wheel.namelist())
        entry_points = _entry_points(wheel)
        requires = _requires(wheel)
    for module in ("api", "store", "cli", "releases", "helmio", "__main__"):
        assert f"firestream_testing/fakehelm/{module}.py" in names
    assert "firestream_testing/cluster.py" in names
    assert "firestream_testing/charts/tiny-app/Chart.yaml" in names
    assert "[pytest11]" in entry_points
    assert "firestream = firestream_testing.pytest_plugin" in entry_points
    assert any(r.startswith("kmock") for r in requires)


def test_the_core_alone_in_a_fresh_venv_loads_no_pytest_plugin(tmp_path: Path) -> None:
    source = tmp_path / "firestream-core"
    source.mkdir()
    shutil.copytree(REPO / "firestream_core", source / "firestream_core", ignore=_IGNORE)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    wheel_path = _wheel(source, tmp_path / "dist")
    with zipfile.ZipFile(wheel_path) as wheel:
        assert not [n for n in wheel.namelist() if n.startswith("firestream_testing")]
        assert "pytest11" not in _entry_points(wheel)
        unconditional = [r for r in _requires(wheel) if "extra ==" not in r]
    for dependency in ("pytest", "aiohttp", "kmock", DISTRIBUTION):
        assert not [r for r in unconditional if r.split(">")[0].split("=")[0].strip() == dependency]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],  # noqa: S603
                   check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(  # noqa: S603
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--no-deps",
         "--no-index", "--target", purelib, str(wheel_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    probe = ("import importlib.metadata as md, importlib.util, json; print(json.dumps({"
             "'dists': sorted(d.metadata['Name'] for d in md.distributions()),"
             "'pytest11': sorted(ep.value for ep in md.entry_points(group='pytest11')),"
             "'kit': importlib.util.find_spec('firestream_testing') is not None}))")
    seen = json.loads(subprocess.run(  # noqa: S603
        [str(python), "-I", "-c", probe], check=True, capture_output=True, text=True, timeout=60,
        cwd=tmp_path,
    ).stdout)
    assert seen == {"dists": ["firestream-core"], "pytest11": [], "kit": False}


HIDE = "import sys\nfor name in {modules!r}:\n    sys.modules[name] = None\n"


def test_the_emulator_without_its_dependencies_names_the_package(tmp_path: Path) -> None:
    code = (HIDE.format(modules=EMULATOR_MODULES)
            + "from firestream_testing.cluster import main\n"
            + f"sys.exit(main(['--kubeconfig', {str(tmp_path / 'kubeconfig')!r}]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,  # noqa: S603
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "firestream emulator: error: the Kubernetes API emulator needs aiohttp, kmock, not "
        f"installed here; install the test kit with its dependencies: pip install {DISTRIBUTION}"
    ]
    assert not (tmp_path / "kubeconfig").exists()


def test_start_cluster_without_the_dependencies_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "kmock", None)
    with pytest.raises(ClusterError) as caught:
        start_cluster(tmp_path / "kubeconfig", timeout=5)
    assert str(caught.value) == (
        "the Kubernetes API emulator needs kmock, not installed here; "
        f"install the test kit with its dependencies: pip install {DISTRIBUTION}"
    )
