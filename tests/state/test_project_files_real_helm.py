"""Two project files in one folder (``firestream.toml`` and ``staging.toml``) keep two states:
neither project's plan lists the other's releases, and destroying one leaves the other's
releases and records alone (real helm, the API emulator)."""

from __future__ import annotations

import pytest

from ..ops.helpers import extras_app_config, load

pytestmark = pytest.mark.helm


def test_a_second_project_file_beside_firestream_toml_has_its_own_state(tmp_path, kube, helm_bin):
    main = extras_app_config(tmp_path, kube, name="web", values={"message": "main"})
    staging = main.with_name("staging.toml")
    staging.write_text(main.read_text().replace('name = "web"', 'name = "api"'))

    assert load(main, kube, helm_bin).apply().ok
    assert load(staging, kube, helm_bin).apply().ok

    for path, mine in ((main, "web"), (staging, "api")):
        project = load(path, kube, helm_bin)
        assert sorted(project.load_state().releases) == [f"{kube.namespace}/{mine}"]
        plan = project.plan()
        assert not plan.has_changes and plan.left_behind == ()  # no "not in the config any more"

    assert load(staging, kube, helm_bin).destroy().ok
    project = load(main, kube, helm_bin)
    assert sorted(project.load_state().releases) == [f"{kube.namespace}/web"]
    assert not project.plan().has_changes  # web still runs, its record kept
    assert (main.parent / ".firestream" / "state.json").exists()
