"""deploy.helm_tests without helm: the frozen ``TestInput`` the project builds, what the state
keeps and what ``firestream test`` prints (fake helm).

``helm test`` itself, on the emulator with helm 3 and 4: tests/ops/test_helm_tests.py.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from firestream_core.deploy.helm_tests import (
    ReleaseTestResult,
    TestInput,
    format_test_results,
    run_helm_tests,
)
from firestream_core.errors import FirestreamError
from firestream_core.project import Project
from firestream_core.state.store import ReleaseState, utc_now
from firestream_core.tools.helm_output import TestResult, state_test_entries

from .fakes import FakeHelm

TOML = """
[[deployments.generic]]
name = "api"
chart = "repo/api"
namespace = "shop"
depends_on = ["db"]

[[deployments.generic]]
name = "db"
chart = "repo/db"
namespace = "shop"

[[deployments.generic]]
name = "web"
chart = "repo/web"
namespace = "shop"

[repositories]
repo = "https://charts.example.com"
"""


def _project(tmp_path: Path) -> Project:
    """Three releases (api after db); api and db applied by firestream, web never."""
    (tmp_path / "firestream.toml").write_text(TOML)
    project = Project.load(tmp_path / "firestream.toml")
    backend = project.state_backend()
    state = backend.load()
    for name in ("db", "api"):
        state.record(ReleaseState(name=name, namespace="shop", chart_type="generic", chart=f"repo/{name}",
                                  version="1.0.0", values_digest="x", revision=1, applied_at=utc_now(),
                                  action="create", result="succeeded", duration=1.0))
    backend.save(state)
    return project


def _cluster() -> FakeHelm:
    helm = FakeHelm()
    helm.seed("db", "shop", (1, "deployed", "db-1.0.0"))
    helm.seed("api", "shop", (1, "pending-upgrade", "api-1.0.0"))
    return helm


def test_the_input_is_frozen_and_holds_only_what_a_test_run_uses(tmp_path: Path) -> None:
    project = _project(tmp_path)
    target = project.test_input()
    assert isinstance(target, TestInput)
    assert target.order == ("db", "api", "web")  # dependencies first: the order releases are tested in
    assert list(target.charts) == ["api", "db", "web"] and target.charts["db"] is project.chart("db")
    assert target.redactor is project.redactor and not target.locked
    assert set(target.backend.load().releases) == {"shop/db", "shop/api"}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        target.locked = True  # type: ignore[misc]
    with project.lock("a script"):
        assert project.test_input().locked


def test_tests_run_on_the_input_in_dependency_order_and_are_recorded(tmp_path: Path) -> None:
    target = _project(tmp_path).test_input()
    helm = _cluster()
    results = run_helm_tests(target, helm)
    assert [(r.name, r.status, r.recorded) for r in results] == [
        ("db", "passed", True), ("api", "skipped", False), ("web", "not-deployed", False)]
    assert results[1].message == "status is pending-upgrade"
    assert [c for c in helm.calls if c[0] == "test"] == [("test", "db", "shop")]
    releases = target.backend.load().releases
    assert [t["name"] for t in releases["shop/db"].tests] == ["db-test"]
    assert not releases["shop/api"].tests


def test_recording_inside_the_held_lock_does_not_take_it_again(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with project.lock("a script"):
        [held] = run_helm_tests(project.test_input(), _cluster(), ["db"])
        assert held.recorded  # the input knows the lock is held: recorded, not refused
    with project.lock("another run"):
        [refused] = run_helm_tests(attrs.evolve(project.test_input(), locked=False), _cluster(), ["db"])
    assert not refused.recorded  # taking the lock a run holds is refused: results not recorded


def test_a_damaged_state_file_is_refused_before_any_helm_test_runs(tmp_path: Path) -> None:
    """The results are to be recorded in a state file that cannot be read: refused before
    ``helm test`` starts its test pods, not after every test ran and their results were lost."""
    from firestream_core.errors import StateError

    target = _project(tmp_path).test_input()
    (tmp_path / ".firestream" / "state.json").write_text('{"schema_version": 1, "releases": {')
    helm = _cluster()
    with pytest.raises(StateError, match="state.json is not valid JSON"):
        run_helm_tests(target, helm)
    assert helm.calls == []
    [ran] = run_helm_tests(target, helm, ["db"], record=False)  # nothing to record: the state is not read
    assert ran.status == "passed" and not ran.recorded


def test_an_unknown_target_names_the_releases(tmp_path: Path) -> None:
    with pytest.raises(FirestreamError, match="unknown release") as info:
        run_helm_tests(_project(tmp_path).test_input(), FakeHelm(), ["nope"])
    assert info.value.hint == "the releases are: api, db, web"


def test_the_state_keeps_each_test_stamped_with_its_run() -> None:
    passed = TestResult("web-test", "Succeeded", "2026-01-02T03:04:05Z", "2026-01-02T03:04:09Z")
    failed = TestResult("db-test", "Failed", "", "")
    assert state_test_entries([passed, failed], "2026-01-02T03:05:00Z") == [
        {"name": "web-test", "phase": "Succeeded", "passed": True, "started": "2026-01-02T03:04:05Z",
         "completed": "2026-01-02T03:04:09Z", "run_at": "2026-01-02T03:05:00Z"},
        {"name": "db-test", "phase": "Failed", "passed": False, "started": None, "completed": None,
         "run_at": "2026-01-02T03:05:00Z"},
    ]


def test_only_failed_and_error_are_not_ok() -> None:
    ok = {s: ReleaseTestResult("r", "ns", s).ok
          for s in ("passed", "failed", "no-tests", "not-deployed", "skipped", "error")}
    assert ok == {"passed": True, "failed": False, "no-tests": True, "not-deployed": True,
                  "skipped": True, "error": False}


def test_the_table_names_the_failing_tests_and_sums_up() -> None:
    results = [
        ReleaseTestResult("web", "apps", "passed", (TestResult("web-test", "Succeeded"),)),
        ReleaseTestResult("db", "apps", "failed", (TestResult("db-test", "Failed"),),
                          message="pod db-test failed\nmore"),
        ReleaseTestResult("cache", "apps", "no-tests"),
    ]
    assert format_test_results(results) == (
        "web    PASSED  (web-test Succeeded)\n"
        "db     FAILED  (db-test Failed)\n"
        "       pod db-test failed\n"
        "cache  no tests\n"
        "\n"
        "1 release(s) failed their tests: db\n"
    )
    assert format_test_results([ReleaseTestResult("a", "ns", "no-tests")]).endswith("No tests ran.\n")
    assert format_test_results([]) == "No releases.\n"
