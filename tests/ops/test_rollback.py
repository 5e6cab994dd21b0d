"""ops/rollback.py: which revision each release goes back to (no cluster: the plan part)."""

from __future__ import annotations

from pathlib import Path

import pytest

from firestream_core.errors import FirestreamError
from firestream_core.model import InstalledRelease
from firestream_core.ops.rollback import plan_rollback
from firestream_core.project import Project
from firestream_core.state.store import ReleaseState, utc_now

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


def _project(tmp_path: Path) -> Project:
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
