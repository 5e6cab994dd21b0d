"""What a run does, recorded call by call around the real helm (helm 3 on the emulator).

A spy wraps ``process.Runner.run``: every program firestream starts is
recorded with its argument list, label (the release) and start/end times,
then really run. Ordering is asserted from those times; nothing asserts a
duration.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from firestream_core.cli.main import main
from firestream_core.project import Project
from firestream_core.tools.process import Runner

from .conftest import release_blocks, write_config

SECRET = "pw-7Hq2-never-shown-3391"


class Spy:
    """Every ``Runner.run`` call: argv, label, start and end (``time.monotonic``)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def helm(self, op: str) -> list[dict[str, Any]]:
        """helm calls whose first argument(s) are ``op`` (``list``, ``upgrade``, ``repo add``)."""
        words = op.split()
        return [c for c in self.calls if c["argv"][1:1 + len(words)] == words and "helm" in c["argv"][0]]

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    s = Spy()
    real = Runner.run

    def run(self: Runner, argv: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return real(self, argv, **kwargs)
        finally:
            with s._lock:
                s.calls.append({"argv": [str(a) for a in argv], "label": kwargs.get("label"),
                                "start": start, "end": time.monotonic()})

    monkeypatch.setattr(Runner, "run", run)
    return s


@pytest.fixture
def project_env(kube, chart_repo, tmp_path, monkeypatch, no_log_redactors):
    """CLI flags and environment for a project on the module's emulator, helm 3."""
    for key, value in kube.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PROJECT_SECRET", SECRET)
    return {
        "flags": ["--helm-binary", str(kube.tools["helm"]), "--kubeconfig", str(kube.kubeconfig)],
        "dir": tmp_path / "p",
    }


def _load(path: Path, kube) -> Project:
    return Project.load(path, helm_binary=kube.tools["helm"], kubeconfig=kube.kubeconfig, env=kube.env,
                        kubectl_binary=kube.tools["kubectl"])


def _config(folder: Path, kube, chart_repo, releases, *, extra: str = "", repo2: bool = False) -> Path:
    header = f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"
        {'mirror = "' + chart_repo.url + '"' if repo2 else ''}

        [defaults]
        timeout = "60s"

    """
    blocks = []
    for name, deps, chart, repo in releases:
        blocks.append(release_blocks([(name, deps, {})], chart=chart, repository=repo,
                                     namespace=kube.namespace))
    return write_config(folder, header + "\n".join(blocks) + extra)


GRAPH = [  # a -> b -> c, d -> e, f alone; a fails to render
    ("a", [], "broken", "fixtures"),
    ("b", ["a"], "tiny-app", "fixtures"),
    ("c", ["b"], "tiny-app", "fixtures"),
    ("d", [], "tiny-app", "fixtures"),
    ("e", ["d"], "tiny-app", "fixtures"),
    ("f", [], "tiny-app", "fixtures"),
]


def test_failure_skips_only_dependents_and_order_follows_dependencies(
    project_env, kube, chart_repo, spy, capsys
):
    path = _config(project_env["dir"], kube, chart_repo, GRAPH)
    code = main(["apply", "--yes", "-f", str(path), *project_env["flags"]])
    out = capsys.readouterr().out
    assert code == 1
    rows = {line.split()[0]: line.split() for line in out.splitlines()[-10:] if line.split()}
    assert rows["a"][1:3] == ["create", "failed"]
    assert rows["b"][1:3] == ["create", "skipped"] and "dependency 'a' failed" in " ".join(rows["b"])
    assert rows["c"][1:3] == ["create", "skipped"]
    for name in "def":
        assert rows[name][1:3] == ["create", "ok"], rows[name]
    # no helm call for a skipped release
    assert not [c for c in spy.calls if c["label"] in ("b", "c")]
    # no release's first call starts before its dependencies' last call ended
    deps = {n: d for n, d, _, _ in GRAPH}
    for name in "def":
        first = min(c["start"] for c in spy.calls if c["label"] == name)
        for d in deps[name]:
            assert first >= max(c["end"] for c in spy.calls if c["label"] == d), (name, d)


def test_one_list_one_repo_add_per_repository_and_noop_makes_no_helm_call(
    project_env, kube, chart_repo, spy
):
    releases = [("r1", [], "tiny-app", "fixtures"), ("r2", ["r1"], "tiny-app", "fixtures"),
                ("r3", [], "tiny-app", "mirror"), ("r4", ["r3"], "tiny-app", "mirror")]
    path = _config(project_env["dir"], kube, chart_repo, releases, repo2=True)
    result = _load(path, kube).apply()
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert len(spy.helm("list")) == 1
    assert sorted(c["argv"][3] for c in spy.helm("repo add")) == ["fixtures", "mirror"]
    assert len(spy.helm("upgrade")) == 4

    spy.clear()
    plan = _load(path, kube).plan()
    assert not plan.has_changes
    # list (+ helm version); the releases give no version, so the plan names the one helm would
    # install now: one repo add per repository, one search per distinct chart, nothing per release
    assert len(spy.helm("list")) == 1
    assert sorted(c["argv"][3] for c in spy.helm("repo add")) == ["fixtures", "mirror"]
    assert sorted(c["argv"][3] for c in spy.helm("search repo")) == ["fixtures/tiny-app", "mirror/tiny-app"]
    assert len(spy.calls) <= 6

    spy.clear()
    again = _load(path, kube).apply()
    assert again.ok and {o.action for o in again.releases.values()} == {"no-op"}
    assert spy.helm("upgrade") == [] and spy.helm("status") == []
    assert len(spy.helm("repo add")) == 2 and len(spy.helm("search repo")) == 2  # the plan's, as above
    assert len(spy.helm("list")) == 1
    assert [c for c in spy.calls if "kubectl" in c["argv"][0]] == []


def test_apply_refuses_without_yes_when_stdin_is_not_a_terminal(project_env, kube, chart_repo, spy):
    path = _config(project_env["dir"], kube, chart_repo, [("solo", [], "tiny-app", "fixtures")])
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "firestream_core.cli.main", "apply", "-f", str(path), *project_env["flags"]],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=os.environ.copy(), timeout=120,
    )
    assert done.returncode == 1
    assert "refusing to apply without confirmation: stdin is not a terminal" in done.stderr
    assert "--yes" in done.stderr
    assert [r for r in kube.helm().list_releases() if r.namespace == kube.namespace] == []
    assert not (path.parent / ".firestream" / "lock").exists()


def test_detailed_exitcode(project_env, kube, chart_repo, capsys):
    path = _config(project_env["dir"], kube, chart_repo, [("solo", [], "tiny-app", "fixtures")])
    flags = ["-f", str(path), *project_env["flags"]]
    assert main(["plan", "--detailed-exitcode", *flags]) == 2
    assert main(["plan", *flags]) == 0  # without the flag: success is 0
    assert main(["apply", "--yes", *flags]) == 0
    assert main(["plan", "--detailed-exitcode", *flags]) == 0
    broken = write_config(project_env["dir"] / "broken", "[[deployments.generic]]\nname = 1\n")
    assert main(["plan", "--detailed-exitcode", "-f", str(broken), *project_env["flags"]]) == 1
    capsys.readouterr()


def test_plan_json_and_argv_never_hold_a_value(project_env, kube, chart_repo, spy, capsys, monkeypatch):
    extra = """
        [deployments.generic.secret_values]
        auth.password = { env = "PROJECT_SECRET" }
    """
    path = _config(project_env["dir"], kube, chart_repo, [("solo", [], "tiny-app", "fixtures")],
                   extra=extra.replace("\n        ", "\n"))
    flags = ["-f", str(path), *project_env["flags"]]
    assert main(["plan", "--json", *flags]) == 0
    assert main(["apply", "--yes", *flags]) == 0
    # change the secret: plan names the key, never the value
    monkeypatch.setenv("PROJECT_SECRET", SECRET + "-rotated")
    assert main(["plan", "--json", *flags]) == 0
    captured = capsys.readouterr()
    last = json.loads(captured.out[captured.out.rindex('{\n  "schema_version"'):])
    assert last["releases"][0]["action"] == "upgrade"
    assert last["releases"][0]["changed_keys"] == ["auth.password"]
    for text in (captured.out, captured.err, json.dumps([c["argv"] for c in spy.calls])):
        assert SECRET not in text


def test_second_concurrent_apply_is_refused_naming_the_holder(project_env, kube, chart_repo):
    extra = """
        [deployments.generic.values]
        podAnnotations = { "emulator.firestream.dev/ready" = "false" }
    """
    path = _config(project_env["dir"], kube, chart_repo, [("slow", [], "tiny-app", "fixtures")],
                   extra=extra.replace("\n        ", "\n"))
    argv = [sys.executable, "-m", "firestream_core.cli.main", "apply", "--yes", "-f", str(path),
            *project_env["flags"]]
    first = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # noqa: S603
                             stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    lock = path.parent / ".firestream" / "lock"
    try:
        deadline = time.monotonic() + 60
        while not (lock.exists() and str(first.pid) in lock.read_text()):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first apply never took the lock"
            time.sleep(0.05)
        second = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,  # noqa: S603
                                env=os.environ.copy(), timeout=120)
        assert second.returncode == 1
        assert f"pid {first.pid}" in second.stderr or str(first.pid) in second.stderr
        assert "firestream apply" in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130


def test_import_command_then_plan_is_noop_and_status_shows_it(project_env, kube, chart_repo, capsys):
    helm = str(kube.tools["helm"])
    kube.run([helm, "repo", "add", chart_repo.name, chart_repo.url])
    values = project_env["dir"].parent / "v.yaml"
    values.write_text(f"message: legacy\nservice:\n  apiKey: {SECRET}\n  port: 8080\n")
    kube.run([helm, "install", "legacy", chart_repo.ref("tiny-app"), "-n", kube.namespace,
              "--create-namespace", "-f", str(values)])
    path = write_config(project_env["dir"], f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"
    """)
    flags = ["-f", str(path), *project_env["flags"]]
    assert main(["import", "deployment", "legacy", "--namespace", kube.namespace, *flags]) == 0
    out = capsys.readouterr()
    assert "imported release 'legacy'" in out.out
    assert "service.apiKey" in out.err and "0600" in out.err  # the warning names keys, not values
    # the block is complete: the repository is found among helm's own repositories
    block = path.read_text().split("[[deployments.", 1)[1]
    assert chart_repo.name in block and "helm does not record" not in out.err
    assert SECRET not in out.out + out.err + path.read_text()
    assert main(["plan", "--detailed-exitcode", *flags]) == 0
    capsys.readouterr()
    assert main(["status", "--json", *flags]) == 0
    (status,) = json.loads(capsys.readouterr().out)["releases"]
    assert (status["name"], status["status"], status["revision"]) == ("legacy", "deployed", 1)
    assert status["last_action"] == "import"
    # a second import of the same release is refused
    assert main(["import", "deployment", "legacy", "--namespace", kube.namespace, *flags]) == 1
    assert "already defined" in capsys.readouterr().err
