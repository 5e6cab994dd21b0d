"""A real third-party chart plugin: pip-installed, listed by ``firestream plugins``, hooks called.

The throwaway package is written into ``tmp_path`` and installed into this
environment with ``pip install --no-deps --no-build-isolation`` (uninstalled
in a finalizer). It carries a tiny in-tree PEP 517 backend so the test needs
neither network nor the ``wheel`` package: pip still builds a wheel, installs
it with its ``entry_points.txt`` and records it for ``pip uninstall``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DIST = "firestream-chart-throwaway"
MODULE = "firestream_chart_throwaway"

BACKEND = '''
"""A minimal PEP 517 backend: one module, metadata and an entry point, as a wheel."""
import base64, hashlib, os, zipfile

NAME, VERSION, MODULE = "firestream_chart_throwaway", "0.7.1", "firestream_chart_throwaway"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"
FILES = {
    f"{MODULE}.py": open(os.path.join(os.path.dirname(__file__), f"{MODULE}.py"), "rb").read(),
    f"{DIST_INFO}/METADATA": b"Metadata-Version: 2.1\\nName: firestream-chart-throwaway\\nVersion: 0.7.1\\n",
    f"{DIST_INFO}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: inline\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    f"{DIST_INFO}/entry_points.txt": b"[firestream.charts]\\nthrowaway = firestream_chart_throwaway\\n",
}


def _record(files):
    lines = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append(f"{DIST_INFO}/RECORD,,")
    return ("\\n".join(lines) + "\\n").encode()


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for name, data in FILES.items():
            zf.writestr(name, data)
        zf.writestr(f"{DIST_INFO}/RECORD", _record(FILES))
    return filename
'''

PLUGIN = '''
"""A third-party chart plugin, as someone would publish it."""
from __future__ import annotations

import json
import os

import attrs

from firestream_core import ChartInfo, ChartType, ExecOutcome, HelmChart, ValidationResult, hookimpl

FIRESTREAM_PLUGIN_API = 1


@attrs.define
class ThrowawayChart(HelmChart):
    chart_type = "throwaway"

    @classmethod
    def default(cls):
        return cls(ChartInfo(name="throwaway", chart="example/throwaway", version="0.1.0"))


def _record(stage, chart):
    with open(os.environ["THROWAWAY_LOG"], "a") as f:
        f.write(json.dumps([stage, chart.name]) + "\\n")


@hookimpl
def register_chart_types(register):
    register(ChartType(name="throwaway", chart_class=ThrowawayChart, description="a test plugin"))


@hookimpl
def pre_exec(chart, payload):
    _record("pre_exec", chart)
    payload["from_pre_exec"] = chart.name


@hookimpl
def exec(chart, payload):
    _record("exec", chart)
    return ExecOutcome("deployed", 1, payload["from_pre_exec"])


@hookimpl
def validate(chart):
    _record("validate", chart)
    return [ValidationResult.ok("throwaway_ok", "fine")]
'''

DRIVER = """
import json, sys
from firestream_core.config.build import build_charts
from firestream_core.config.load import load_config
from firestream_core.model import ChartPayload
from firestream_core.plugin.manager import get_plugin_manager

manager = get_plugin_manager(disabled=["defaults"])
(chart,) = build_charts(load_config(sys.argv[1], manager), manager)
payload = ChartPayload()
manager.pre_exec(chart, None, payload)
outcome = manager.exec(chart, None, payload)
results = manager.validate(chart, None, payload)
print(json.dumps({
    "class": type(chart).__name__,
    "outcome": [outcome.performed, outcome.message],
    "results": [r.name for r in results],
}))
"""


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def installed_plugin(tmp_path: Path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = []
            build-backend = "inline_backend"
            backend-path = ["."]

            [project]
            name = "{DIST}"
            version = "0.7.1"
            """
        )
    )
    (pkg / "inline_backend.py").write_text(BACKEND)
    (pkg / f"{MODULE}.py").write_text(PLUGIN)
    r = pip("install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", str(pkg))
    assert r.returncode == 0, r.stderr
    try:
        yield pkg
    finally:
        r = pip("uninstall", "--yes", "--quiet", DIST)
        assert r.returncode == 0, r.stderr


def test_installed_plugin_is_listed_and_its_hooks_are_called(installed_plugin: Path, tmp_path: Path) -> None:
    env = {**os.environ, "THROWAWAY_LOG": str(tmp_path / "calls.jsonl")}
    env.pop("FIRESTREAM_DISABLE_PLUGINS", None)

    # 1. the command line lists it, from a fresh process
    r = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "firestream_core.cli.main", "plugins", "--json"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    doc = json.loads(r.stdout)
    (entry,) = [p for p in doc["plugins"] if p["name"] == "throwaway"]
    assert entry == {
        "name": "throwaway",
        "distribution": DIST,
        "version": "0.7.1",
        "chart_types": ["throwaway"],
        "hooks": ["pre_exec", "exec", "validate"],
        "builtin": False,
    }
    assert not [b for b in doc["broken"] if b["name"] == "throwaway"]

    # 2. a config using its chart type builds its chart, and its hooks run
    config = tmp_path / "firestream.toml"
    config.write_text('[deployments.throwaway]\nname = "tw"\n')
    r = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", DRIVER, str(config)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "class": "ThrowawayChart",
        "outcome": ["deployed", "tw"],
        "results": ["throwaway_ok"],
    }
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert calls == [["pre_exec", "tw"], ["exec", "tw"], ["validate", "tw"]]
