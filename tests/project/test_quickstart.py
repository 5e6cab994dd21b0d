"""The quickstart: renders offline, and run.py deploys it end to end on the emulator."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from firestream_core.project import Project

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
PASSWORD = "qs-test-pw-55121"


def test_template_renders_every_release_in_dependency_order(tmp_path, helm_tools, monkeypatch,
                                                           no_log_redactors):
    monkeypatch.setenv("QUICKSTART_DB_PASSWORD", PASSWORD)
    project = Project.load(QUICKSTART / "firestream.toml", helm_binary=helm_tools["helm"])
    rendered = project.template(tmp_path / "out")
    assert list(rendered) == ["database", "cache", "api", "web"]
    assert "kind: Deployment" in rendered["web"]
    assert "GREETING" in rendered["api"]  # from values/api.yaml
    assert PASSWORD in rendered["database"]  # the Secret: rendered manifests hold values...
    for name in rendered:
        f = tmp_path / "out" / f"{name}.yaml"
        assert stat.S_IMODE(f.stat().st_mode) == 0o600  # ...so the files are private


@pytest.mark.helm
def test_run_py_deploys_end_to_end_on_the_emulator(tmp_path, helm_tools):
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "QUICKSTART_DB_PASSWORD")}
    env["HOME"] = str(tmp_path)  # no ~/.kube/config: the emulator is used
    env["QUICKSTART_DB_PASSWORD"] = PASSWORD
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(QUICKSTART / "run.py"), "--emulator"],
        env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "EMULATOR" in out
    assert "Plan: 4 to create." in out
    assert "Plan: no changes (4 unchanged)." in out
    assert "Destroy plan: 4 to destroy." in out
    assert PASSWORD not in out
    assert not (QUICKSTART / ".firestream").exists()  # ran on a copy
