"""Saved plans: the file holds no value, and anything that differs is refused by release name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firestream_core.deploy.plan import make_plan
from firestream_core.deploy.saved import check_saved, read_saved, saved_plan, write_saved
from firestream_core.errors import FirestreamError, PlanMismatchError
from firestream_core.model import ChartValuesGenerated, InstalledRelease
from firestream_core.plugin.generic import GenericChart
from firestream_core.state.store import State

SECRET = "Zq9-saved-unit-secret"


def chart(name: str, message: str = "one", namespace: str = "default") -> GenericChart:
    c = GenericChart.for_chart(name, "repo/app", version="1.0.0", namespace=namespace)
    c.chart_info.yaml_files_content.append(
        ChartValuesGenerated("firestream.toml:x.values", f"message: {message}\npassword: {SECRET}\n"))
    return c


def test_round_trip_holds_no_value(tmp_path: Path) -> None:
    plan = make_plan([chart("a"), chart("b")], [], State(), project_dir=tmp_path)
    path = tmp_path / "plan.json"
    write_saved(saved_plan(plan, config=tmp_path / "firestream.toml"), path)
    text = path.read_text()
    assert SECRET not in text and "one" not in json.loads(text)["releases"][0]["reasons"][0]
    saved = read_saved(path)
    assert [r.action for r in saved.releases] == ["create", "create"]
    check_saved(saved, make_plan([chart("a"), chart("b")], [], State(), project_dir=tmp_path))  # same: accepted


def test_every_difference_is_refused_by_name(tmp_path: Path) -> None:
    saved = saved_plan(make_plan([chart("a"), chart("b")], [], State(), project_dir=tmp_path), config="x")
    now = make_plan([chart("a", message="two"), chart("c")],
                    [InstalledRelease("a", "default", 1, "deployed", "app-1.0.0")], State(), project_dir=tmp_path)
    with pytest.raises(PlanMismatchError) as err:
        check_saved(saved, now)
    text = str(err.value)
    assert err.value.release == "a"
    assert "release 'a': the cluster changed since the plan was saved (the plan saw not installed, " \
           "now revision 1 (deployed))" in text
    assert "release 'b': no longer in the project" in text
    assert "release 'c': not in the saved plan" in text
    changed = make_plan([chart("a", message="two"), chart("b")], [], State(), project_dir=tmp_path)
    with pytest.raises(PlanMismatchError, match="release 'a': its desired state changed since the plan was saved"):
        check_saved(saved, changed)


@pytest.mark.parametrize(("content", "why"), [
    ("{", "not JSON"),
    ('{"format": "other"}', "format is not 'firestream-plan/1'"),
    ('{"format": "firestream-plan/1", "releases": [{"action": "create"}]}', "a release entry lacks 'release'"),
])
def test_a_file_that_is_not_a_saved_plan_is_named(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(FirestreamError, match=f"plan.json: not a saved firestream plan \\({why}\\)"):
        read_saved(path)


def test_a_release_in_another_namespace_is_refused(tmp_path: Path) -> None:
    saved = saved_plan(make_plan([chart("nsrel", namespace="ns-a")], [], State(), project_dir=tmp_path), config="x")
    now = make_plan([chart("nsrel", namespace="ns-b")], [], State(), project_dir=tmp_path)
    assert now["nsrel"].desired_digest == saved.releases[0].desired_digest  # only the namespace tells
    with pytest.raises(PlanMismatchError, match=r"release 'nsrel': its namespace changed since the plan was "
                       r"saved \(the plan has ns-a, the config now ns-b\)"):
        check_saved(saved, now)
