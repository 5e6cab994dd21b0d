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


def test_template_prints_no_secret_and_writes_the_files_whole(tmp_path, helm_tools, monkeypatch, capsys,
                                                             no_log_redactors):
    """``firestream template`` prints the manifests with the Secret's values hidden and the
    declared password nowhere; the rest is helm's own text; ``--output-dir`` files are whole."""
    from firestream_core.cli.main import main
    from firestream_core.tools.manifests import split_manifest

    monkeypatch.setenv("QUICKSTART_DB_PASSWORD", PASSWORD)
    monkeypatch.setenv("FIRESTREAM_HELM_BINARY", str(helm_tools["helm"]))
    monkeypatch.setenv("FIRESTREAM_CACHE_DIR", str(tmp_path / "cache"))
    toml = str(QUICKSTART / "firestream.toml")
    assert main(["-f", toml, "template"]) == 0
    printed = capsys.readouterr().out
    assert PASSWORD not in printed
    assert "  POSTGRES_PASSWORD: <hidden>\n" in printed  # which key the Secret holds stays readable
    whole = Project.load(QUICKSTART / "firestream.toml", helm_binary=helm_tools["helm"]).template()
    for name, text in whole.items():
        assert f"# release: {name}\n" in printed
        for obj in split_manifest(text):
            if obj.obj.get("kind") != "Secret":  # every other object exactly as helm rendered it
                assert obj.obj in [o.obj for o in split_manifest(printed)], obj.obj.get("metadata")
    assert main(["-f", toml, "template", "--output-dir", str(tmp_path / "out")]) == 0
    assert PASSWORD not in capsys.readouterr().out
    assert PASSWORD in (tmp_path / "out" / "database.yaml").read_text()  # the file is whole (0600)


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
    assert "Plan: 4 to create; 1 namespace to create." in out  # the emulator has no namespace quickstart
    assert "Plan: no changes (4 unchanged)." in out
    assert "Destroy plan: 4 to destroy." in out
    assert PASSWORD not in out
    assert not (QUICKSTART / ".firestream").exists()  # ran on a copy
