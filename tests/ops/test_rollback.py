"""ops/rollback.py: which revision each release goes back to, and carrying it out through the
frozen ``RollbackInput`` the project builds (fake helm: no cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from firestream_core.deploy.results import ReleaseOutcome
from firestream_core.errors import FirestreamError, HelmCommandError
from firestream_core.model import InstalledRelease
from firestream_core.ops.rollback import RollbackInput, plan_rollback, run_rollback
from firestream_core.project import Project
from firestream_core.state.store import ReleaseState, utc_now
from tests.deploy.fakes import FakeHelm, FakeKubectl

TOML = """
[[deployments.generic]]
name = "db"
chart = "repo/db"
namespace = "shop"

[[deployments.generic]]
name = "api"
chart = "repo/api"
namespace = "shop"
depends_on = ["db"]

[repositories]
repo = "https://charts.example.com"
"""


def _project(tmp_path: Path) -> RollbackInput:
    return _loaded(tmp_path).rollback_input()


def _loaded(tmp_path: Path) -> Project:
    (tmp_path / "firestream.toml").write_text(TOML)
    project = Project.load(tmp_path / "firestream.toml")
    backend = project.state_backend()
    state = backend.load()
    for name, revision, result in (("db", 2, "succeeded"), ("api", 3, "failed")):
        state.record(ReleaseState(name=name, namespace="shop", chart_type="generic", chart=f"repo/{name}",
                                  version="1.0.0", values_digest="x", revision=revision,
                                  applied_at=utc_now(), action="upgrade", result=result, duration=1.0))
    backend.save(state)
    return project


def _live(name: str, revision: int, status: str = "deployed") -> InstalledRelease:
    return InstalledRelease(name=name, namespace="shop", revision=revision, status=status, chart=f"{name}-1.0.0")


def test_back_to_the_last_successful_apply_dependents_first(tmp_path: Path) -> None:
    steps = plan_rollback(_project(tmp_path), None, None, [_live("db", 4), _live("api", 5)])
    assert [(s.name, s.action) for s in steps] == [("api", "error"), ("db", "rollback")]
    api, db = steps
    assert "no successful apply recorded" in api.reason and "--to-revision" in api.reason
    assert (db.current, db.target) == (4, 2) and "revision 4 -> 2" in db.reason


def test_back_to_the_last_successful_apply_across_a_failed_one(tmp_path: Path) -> None:
    project = _project(tmp_path)
    state = project.backend.load()
    for revision, result in ((4, "succeeded"), (5, "failed"), (6, "failed")):
        state.record(ReleaseState(name="api", namespace="shop", chart_type="generic", chart="repo/api",
                                  version="1.0.0", values_digest="x", revision=revision,
                                  applied_at=f"2026-01-0{revision}T00:00:00Z", action="upgrade",
                                  result=result, duration=1.0))
    project.backend.save(state)
    [step] = plan_rollback(project, ["api"], None, [_live("api", 6, "failed")])
    assert (step.action, step.current, step.target) == ("rollback", 6, 4)
    assert step.reason == "revision 6 -> 4 (last successful upgrade at 2026-01-04T00:00:00Z)"


def test_to_revision_for_one_release_and_its_bounds(tmp_path: Path) -> None:
    project = _project(tmp_path)
    [step] = plan_rollback(project, ["api"], 1, [_live("db", 4), _live("api", 5)])
    assert (step.action, step.target) == ("rollback", 1)
    [step] = plan_rollback(project, ["api"], 9, [_live("api", 5)])
    assert step.action == "error" and "no revision 9" in step.reason
    [step] = plan_rollback(project, ["db"], None, [_live("db", 2)])
    assert step.action == "no-op"
    with pytest.raises(FirestreamError, match="exactly one release"):
        plan_rollback(project, None, 1, [])


def test_a_release_not_deployed_is_an_error_step(tmp_path: Path) -> None:
    [step] = plan_rollback(_project(tmp_path), ["db"], None, [])
    assert (step.action, step.reason) == ("error", "not deployed")


class _Helm(FakeHelm):
    """The test fakes' helm, taking ``helm rollback``'s ``--history-max`` too."""

    def rollback(self, name: str, namespace: str, revision: int | None = None, *, wait: bool = True,
                 timeout: str = "300s", history_max: Any = None, no_hooks: bool = False) -> None:
        super().rollback(name, namespace, revision, wait=wait, timeout=timeout)


def _cluster() -> _Helm:
    helm = _Helm()
    helm.seed("db", "shop", *((r, "superseded" if r < 4 else "deployed", "db-1.0.0") for r in range(1, 5)))
    helm.seed("api", "shop", *((r, "superseded" if r < 5 else "deployed", "api-1.0.0") for r in range(1, 6)))
    return helm


def test_the_input_is_frozen_and_holds_only_what_a_rollback_uses(tmp_path: Path) -> None:
    project = _loaded(tmp_path)
    target = project.rollback_input()
    assert target.order == ("db", "api")  # dependencies first; steps go the other way
    assert set(target.charts) == {"db", "api"} and target.charts["db"] is project.chart("db")
    assert target.repositories == {"repo": "https://charts.example.com"}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        target.order = ()  # type: ignore[misc]


def test_rollback_through_its_input_validates_and_records_the_outcome(tmp_path: Path) -> None:
    target = _project(tmp_path)
    helm, kubectl = _cluster(), FakeKubectl()
    steps = plan_rollback(target, ["db"], None, helm.list_releases())
    [outcome] = run_rollback(target, steps, (None, helm, kubectl))
    assert isinstance(outcome, ReleaseOutcome)
    assert (outcome.name, outcome.namespace, outcome.action, outcome.result) == ("db", "shop", "rollback", "ok")
    assert outcome.revision == 5 and outcome.reason == "at revision 5 (the content of revision 2)"
    assert [v.name for v in outcome.validations] == ["release_exists", "pods_running"]
    assert ("rollback", "db", "shop", 2) in helm.calls
    entry = target.backend.load().releases["shop/db"]
    assert (entry.action, entry.result, entry.revision, entry.stage_failed) == ("rollback", "succeeded", 5, None)
    assert (entry.version, entry.values_digest, entry.chart) == ("1.0.0", "x", "repo/db")  # run; applied
    assert [v["name"] for v in entry.validations] == ["release_exists", "pods_running"]


def test_the_rollback_records_the_chart_version_the_release_runs_after_it(tmp_path: Path) -> None:
    """Back to a revision of another chart version: the entry said the version before the rollback
    (``state show`` 1.0.0 while 0.9.0 ran); the digests stay the previous apply's."""
    target = _project(tmp_path)
    helm, kubectl = _Helm(), FakeKubectl()
    helm.seed("db", "shop", (1, "superseded", "db-0.9.0"), (2, "superseded", "db-0.9.0"),
              (3, "superseded", "db-1.0.0"), (4, "deployed", "db-1.0.0"))
    [outcome] = run_rollback(target, plan_rollback(target, ["db"], None, helm.list_releases()), (None, helm, kubectl))
    assert outcome.ok and outcome.reason == "at revision 5 (the content of revision 2)"
    entry = target.backend.load().releases["shop/db"]
    assert (entry.version, entry.values_digest) == ("0.9.0", "x")


def test_a_rollback_the_state_cannot_record_is_said_and_starts_no_other(tmp_path: Path) -> None:
    """The state's save failed after helm's rollback: the error escaped with no word of what helm
    had done, and nothing said the rest was not rolled back."""
    from firestream_core.errors import StateError

    class Unwritable:
        def __init__(self, backend: Any) -> None:
            self.backend = backend

        def load(self) -> Any:
            return self.backend.load()

        def save(self, state: Any) -> None:
            raise StateError(".firestream/state.json: cannot write: No space left on device")

    target = _project(tmp_path)
    target = attrs.evolve(target, backend=Unwritable(target.backend))
    helm, kubectl = _cluster(), FakeKubectl()
    steps = plan_rollback(target, ["db", "api"], None, helm.list_releases())
    steps = [attrs.evolve(s, action="rollback", target=1) if s.name == "api" else s for s in steps]
    api, db = run_rollback(target, steps, (None, helm, kubectl))
    assert (api.result, api.revision) == ("ok", 6)
    assert api.unrecorded == ".firestream/state.json: cannot write: No space left on device"
    assert (db.result, db.reason) == ("skipped", "the state could not record an earlier rollback")
    assert [c for c in helm.calls if c[0] == "rollback"] == [("rollback", "api", "shop", 1)]


def test_a_failed_rollback_is_recorded_and_skips_the_rest(tmp_path: Path) -> None:
    target = _project(tmp_path)
    helm, kubectl = _cluster(), FakeKubectl()
    helm.fail("rollback", HelmCommandError("release 'api': helm rollback failed: boom", release="api"))
    steps = plan_rollback(target, ["db", "api"], None, helm.list_releases())
    steps = [attrs.evolve(s, action="rollback", target=1) if s.name == "api" else s for s in steps]
    api, db = run_rollback(target, steps, (None, helm, kubectl))
    assert (api.result, api.stage_failed, api.reason) == ("failed", "rollback",
                                                           "release 'api': helm rollback failed: boom")
    assert (db.result, db.reason) == ("skipped", "an earlier rollback failed")
    entries = target.backend.load().releases
    assert (entries["shop/api"].action, entries["shop/api"].result) == ("rollback", "failed")
    assert entries["shop/api"].stage_failed == "rollback" and entries["shop/api"].revision is None
    assert entries["shop/db"].action == "upgrade"  # not touched


def test_a_plugin_validate_raising_after_the_rollback_is_named_and_recorded(tmp_path: Path) -> None:
    """A plugin's validate raising after helm rolled back escaped as ``unexpected RuntimeError``:
    no plugin named, and the rollback helm had made was not recorded in the state."""
    from firestream_core import hookimpl
    from firestream_core.plugin.manager import get_plugin_manager

    class Raises:
        firestream_plugin_name = "raises"

        @hookimpl
        def validate(self, chart, context, payload):
            raise RuntimeError("boom")

    (tmp_path / "firestream.toml").write_text(TOML)
    manager = get_plugin_manager(extra_plugins=[Raises()])
    target = Project.load(tmp_path / "firestream.toml", manager=manager).rollback_input()
    helm, kubectl = _cluster(), FakeKubectl()
    steps = plan_rollback(target, ["db"], 2, helm.list_releases())
    [outcome] = run_rollback(target, steps, (None, helm, kubectl))
    assert (outcome.result, outcome.reason) == (
        "failed", "release 'db' failed at validate after the rollback: plugin 'raises': RuntimeError: boom")
    assert ("rollback", "db", "shop", 2) in helm.calls
    entry = target.backend.load().releases["shop/db"]
    assert (entry.action, entry.result, entry.revision) == ("rollback", "failed", 5)


def test_a_plugin_logging_through_context_log_after_the_rollback_is_redacted(tmp_path: Path, caplog) -> None:
    """The validate hook's ``context.log`` names the release and hides the project's secrets
    before any handler (a library user's has no redacting filter) sees the line."""
    import logging

    from firestream_core import hookimpl
    from firestream_core.plugin.manager import get_plugin_manager

    class Talks:
        @hookimpl
        def validate(self, chart, context, payload):
            context.log.info("checked with %s", "rb-pass-90210")

    (tmp_path / "firestream.toml").write_text(TOML + '\n[deployments.generic.values]\npassword = "rb-pass-90210"\n')
    manager = get_plugin_manager(extra_plugins=[Talks()])
    target = Project.load(tmp_path / "firestream.toml", manager=manager).rollback_input()
    helm, kubectl = _cluster(), FakeKubectl()
    steps = plan_rollback(target, ["db"], 2, helm.list_releases())
    with caplog.at_level(logging.INFO, logger="firestream"):
        run_rollback(target, steps, (None, helm, kubectl))
    lines = [r.getMessage() for r in caplog.records]
    assert "release 'db': checked with ***" in lines, lines
    assert not any("rb-pass-90210" in line for line in lines)
