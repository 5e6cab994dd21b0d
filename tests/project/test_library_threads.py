"""A ``Project`` in a long-running service: several threads, many calls (docs/library.md).

Against the recording fake helm; counts, never timings.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from firestream_core import hookimpl
from firestream_core.errors import StateLockedError
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.project import Project

from .conftest import write_config

REPOS = '[repositories]\nfixtures = "http://127.0.0.1:9/fixtures"\n'


def block(name: str, extra: str = "") -> str:
    return (f'[[deployments.generic]]\nname = "{name}"\nchart = "tiny-app"\nrepository = "fixtures"\n'
            f'version = "0.1.0"\n{extra}\n')


@pytest.fixture
def make(fake_helm: Any, fake_kubectl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_log_redactors: None):
    """``make(folder, text)`` writes a project; returns a loader of it wired to the fake helm."""
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)

    def project(name: str, text: str) -> Any:
        folder = tmp_path / name
        write_config(folder, REPOS + text)
        return lambda: Project.load(folder, helm_binary=fake_helm.binary, env=fake_helm.env,
                                    kubectl_binary=fake_kubectl)

    return project


def in_thread(fn: Any) -> Any:
    """``fn()``'s result, or the exception it raised, called on another thread."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return out[0]


def test_lock_held_by_one_thread_refuses_another_threads_apply_on_the_same_project(make, fake_helm):
    """``project.lock()`` covers the calls of the thread inside it, not every thread using the object."""
    project = make("p", block("a") + block("b"))()
    with project.lock("deploy-bot"):
        got = in_thread(project.apply)
        assert isinstance(got, StateLockedError), got
        assert "deploy-bot" in str(got)
        assert fake_helm.call_log("upgrade") == []
        assert project.apply().ok  # the holder's own apply runs under its lock
    assert {c.release for c in fake_helm.call_log("upgrade")} == {"a", "b"}
    assert in_thread(project.apply).ok  # released: another thread takes it itself


def test_cli_main_called_for_two_projects_masks_neither_with_the_others_secrets(make, fake_helm, fake_kubectl,
                                                                               tmp_path, capsys, monkeypatch):
    """A CI script calling ``main()`` once per project: A's secret is an ordinary value of B."""
    from firestream_core.cli import logs
    from firestream_core.cli.main import main

    monkeypatch.setenv("FIRESTREAM_KUBECTL_BINARY", str(fake_kubectl))
    make("a", block("a", '[deployments.generic.values]\npassword = "shared-word-1234"\n'))
    make("b", block("b", '[deployments.generic.values]\nmessage = "shared-word-1234"\n'))
    helm = ["--helm-binary", str(fake_helm.binary)]
    for _ in range(3):
        assert main(["-f", str(tmp_path / "a" / "firestream.toml"), *helm, "plan"]) == 0
    assert logs._redactors == []  # nothing of A's runs left registered in the process
    capsys.readouterr()
    fake_helm.fail_on("b", "upgrade", "bad message shared-word-1234")
    assert main(["-f", str(tmp_path / "b" / "firestream.toml"), *helm, "apply", "-y"]) == 1
    err = capsys.readouterr().err
    assert "Lifecycle failed at exec" in err
    assert "***" not in err
    assert "bad message shared-word-1234" in err


SECRETS = {"a": "alpha-pass-5551", "b": "bravo-pass-7772"}


class TellsItsPassword:
    """A plugin logging its release's password through ``context.log``, traceback included."""

    @hookimpl
    def contribute_values(self, chart, context):
        context.log.info("contributing for %s", SECRETS[chart.chart_info.name])

    @hookimpl
    def pre_exec(self, chart, context, payload):
        secret = SECRETS[chart.chart_info.name]
        context.log.info("connecting with %s", secret)
        try:
            raise RuntimeError(f"login {secret} refused")
        except RuntimeError:
            context.log.warning("retrying", exc_info=True)


class Records(logging.Handler):
    """A program's own handler: no redacting filter of firestream's."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_context_log_reaches_a_programs_handler_redacted_with_its_own_projects_secrets(
        fake_helm, fake_kubectl, tmp_path, monkeypatch):
    """Two projects applied at once from two threads; the program's handler has no filter."""
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)
    projects = {}
    for name, secret in SECRETS.items():
        values = f'[deployments.generic.values]\npassword = "{secret}"\n'
        write_config(tmp_path / name, REPOS + block(name, values))
        manager = get_plugin_manager(extra_plugins=[TellsItsPassword()])
        projects[name] = Project.load(tmp_path / name, helm_binary=fake_helm.binary, env=fake_helm.env,
                                      kubectl_binary=fake_kubectl, manager=manager)
    handler = Records()
    logger = logging.getLogger("firestream")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        threads = [threading.Thread(target=p.apply) for p in projects.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    text = "\n".join(handler.lines)
    for name, secret in SECRETS.items():
        assert f"release '{name}': connecting with ***" in text
        assert f"release '{name}': contributing for ***" in text
        assert "RuntimeError: login *** refused" in text
        assert secret not in text, name


class LogsThroughItsOwnLoggers:
    """A plugin logging its release's password through loggers of its own, not ``context.log``:
    ``logging.getLogger("my_plugin")`` and a module logger outside ``firestream.``."""

    mine = logging.getLogger("my_plugin")
    module = logging.getLogger("firestream_chart_mine.hooks")

    @hookimpl
    def contribute_values(self, chart, context):
        self.mine.warning("contributing for %s", SECRETS[chart.chart_info.name])

    @hookimpl
    def pre_exec(self, chart, context, payload):
        secret = SECRETS[chart.chart_info.name]
        self.module.warning("connecting with %s", secret)
        try:
            raise RuntimeError(f"login {secret} refused")
        except RuntimeError:
            self.mine.exception("retrying")


def test_a_plugins_own_loggers_reach_a_programs_handler_redacted_with_its_own_projects_secrets(
        fake_helm, fake_kubectl, tmp_path, monkeypatch):
    """A plugin's own logger (any name) logging a secret inside its hooks: the program's handler on
    the root logger, with no filter, gets the line redacted with the secrets of the project whose
    run made it; two projects applied at once from two threads."""
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)
    projects = {}
    for name, secret in SECRETS.items():
        values = f'[deployments.generic.values]\npassword = "{secret}"\n'
        write_config(tmp_path / name, REPOS + block(name, values))
        manager = get_plugin_manager(extra_plugins=[LogsThroughItsOwnLoggers()])
        projects[name] = Project.load(tmp_path / name, helm_binary=fake_helm.binary, env=fake_helm.env,
                                      kubectl_binary=fake_kubectl, manager=manager)
    handler = Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        threads = [threading.Thread(target=p.apply) for p in projects.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        logging.getLogger("my_plugin").warning("outside a run: %s", SECRETS["a"])  # not a run's: as it is
    finally:
        root.removeHandler(handler)
    text = "\n".join(handler.lines)
    assert text.count("contributing for ***") == 2 and text.count("connecting with ***") == 2
    assert text.count("RuntimeError: login *** refused") == 2
    assert f"outside a run: {SECRETS['a']}" in handler.lines
    for secret in SECRETS.values():
        assert secret not in text.replace(f"outside a run: {SECRETS['a']}", ""), secret


def _process_resources() -> dict[str, Any]:
    """What a long-running program must not accumulate, by count."""
    import os
    import signal

    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger))]
    for t in threading.enumerate():  # one ending by itself (a run's cancel watcher: 50 ms) is not left behind
        if t is not threading.current_thread() and t.name.startswith("firestream-"):
            t.join(timeout=1.0)
    mine = f"-{os.getpid()}-"
    shm = [d for d in os.listdir("/dev/shm") if mine in d] if os.path.isdir("/dev/shm") else []
    return {
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": sorted(t.name for t in threading.enumerate()),
        "handlers": sum(len(lg.handlers) for lg in loggers),
        "filters": sum(len(lg.filters) + sum(len(h.filters) for h in lg.handlers) for lg in loggers),
        "values folders": shm,
        "signals": [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)],
    }


def test_a_service_calling_the_library_over_and_over_accumulates_nothing(make, fake_helm, tmp_path):
    """load / plan / apply / diff / template / status, again and again, in one process (and a
    failing release, a missing helm): no fd, thread, log handler or filter, values folder or
    signal handler is left behind, and no project stays alive once the program drops it."""
    import gc
    import weakref

    from firestream_core.errors import HelmNotInstalledError

    load = make("p", block("a", '[deployments.generic.values]\npassword = "svc-pass-31337"\n')
                + block("b", 'depends_on = ["a"]\n'))
    folder = tmp_path / "p"

    def cycle(i: int) -> weakref.ref:
        project = load()
        if i % 3 == 1:
            fake_helm.fail_on("a", "upgrade", "boom")
        else:
            fake_helm.clear_failures()
        project.apply(project.plan())
        project.diff()
        project.template()
        project.status()
        with pytest.raises(HelmNotInstalledError):
            Project.load(folder, helm_binary=tmp_path / "no-helm").plan()
        return weakref.ref(project)

    for i in range(3):  # warm-up: modules, plugin entry points, caches of fixed size
        cycle(i)
    gc.collect()
    before = _process_resources()
    refs = [cycle(i) for i in range(20)]
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    assert _process_resources() == before
    assert not (folder / ".firestream" / "lock").exists()
