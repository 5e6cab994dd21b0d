"""Two releases applied in parallel, logged at -v: every line of a lifecycle names its release.

The recording fake helm (scheduling, not helm's behaviour, is what is tested).
A small plugin holds both releases' ``pre_exec`` at a barrier, so the two
lifecycles certainly run at the same time, on two worker threads: the lines
of each are attributed to it by the thread that logged them, independently
of what the lines say.
"""

from __future__ import annotations

import io
import logging
import threading
from typing import Any

from firestream_core import hookimpl
from firestream_core.cli import logs
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.project import Project

from .conftest import write_config

SECRET = "rl-sec-42Q-never-logged"
CONFIG = """
[repositories]
fixtures = "http://127.0.0.1:9/fixtures"

[[deployments.generic]]
name = "alpha"
chart = "tiny-app"
repository = "fixtures"
version = "0.1.0"
[deployments.generic.secret_values]
auth.password = { env = "RL_SECRET" }

[[deployments.generic]]
name = "beta"
chart = "tiny-app"
repository = "fixtures"
version = "0.1.0"
"""


class _Together:
    """Holds each release's pre_exec until both are there; logs as plugins do, three ways."""

    firestream_plugin_name = "together"

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=60)
        self.threads: dict[str, str] = {}
        self.own = logging.getLogger("firestream.together")  # a plugin's own module logger

    @hookimpl
    def pre_exec(self, chart: Any, context: Any, payload: Any) -> None:
        self.threads[threading.current_thread().name] = chart.name
        self.barrier.wait()  # both lifecycles are running now
        context.log.info("waiting for nothing")  # does not name the release
        context.log.info("release '%s': named by hand", chart.name)  # does: not named twice
        self.own.debug("from the plugin's module logger")


class _Capture(logging.Handler):
    """Every record of the ``firestream`` logger, with the thread that logged it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_parallel_releases_every_line_names_its_release(fake_helm, fake_kubectl, tmp_path, monkeypatch):
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("RL_SECRET", SECRET)
    path = write_config(tmp_path / "project", CONFIG)
    plugin = _Together()
    manager = get_plugin_manager(load_entry_points=False, extra_plugins=[plugin])
    project = Project.load(path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=manager)
    out = io.StringIO()
    logs.setup_logging(verbose=1, stream=out)  # the CLI's -v logging: its format, filters
    logs.add_redactor(project.redactor)
    capture = _Capture()
    logging.getLogger("firestream").addHandler(capture)  # after the CLI's handler: sees its lines

    result = project.apply(concurrency=2)

    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert sorted(plugin.threads.values()) == ["alpha", "beta"]
    assert len(plugin.threads) == 2  # two threads: the lifecycles overlapped
    by_release: dict[str, list[str]] = {"alpha": [], "beta": []}
    for record in capture.records:
        release = plugin.threads.get(record.threadName or "")
        if release is not None:
            by_release[release].append(record.getMessage())
    for release, other in (("alpha", "beta"), ("beta", "alpha")):
        lines = by_release[release]
        assert len(lines) > 10, lines
        for line in lines:
            assert line.startswith(f"release '{release}': "), line
            assert f"release '{release}': release '{release}'" not in line, line  # never twice
            assert f"'{other}'" not in line and f" {other} " not in line, line
        # the lines the issue names, the tools' -v lines and the plugin's, all there
        assert f"release '{release}': Running lifecycle" in lines
        assert f"release '{release}': waiting for nothing" in lines
        assert f"release '{release}': named by hand" in lines
        assert f"release '{release}': from the plugin's module logger" in lines
        assert any(line.startswith(f"release '{release}': ran ") and "upgrade" in line for line in lines), lines
        assert any(line.startswith(f"release '{release}': Validation 'release_exists': PASSED") for line in lines)
    # the repository is added once, before the lifecycles: the plugin's pre_exec may write to the
    # cluster, so apply renders the creates first (tests/deploy/test_defaults.py: the line then)
    assert [c.argv[2] for c in fake_helm.call_log("repo add")] == ["fixtures"]
    assert not [line for lines in by_release.values() for line in lines if "Adding fixtures" in line]
    # the lines of the two releases interleave in the output: parallel, and still told apart
    order = [plugin.threads[r.threadName or ""] for r in capture.records if r.threadName in plugin.threads]
    first_beta, last_alpha = order.index("beta"), len(order) - 1 - order[::-1].index("alpha")
    first_alpha, last_beta = order.index("alpha"), len(order) - 1 - order[::-1].index("beta")
    assert first_beta < last_alpha and first_alpha < last_beta
    # -v output: one readable "LEVEL release 'x': ..." line per record, never a secret
    text = out.getvalue()
    assert SECRET not in text
    printed = text.splitlines()
    for release in ("alpha", "beta"):
        assert f"INFO release '{release}': Running lifecycle" in printed
        assert any(line.startswith(f"DEBUG release '{release}': ran ") for line in printed)
