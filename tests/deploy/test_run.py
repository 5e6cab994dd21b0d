"""deploy.run: a run's options and its input from the project.

Whole runs (scheduler, lifecycle, state, events, cancellation) are tested
through :class:`~firestream_core.project.Project` in tests/project/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firestream_core.deploy.run import RunInput, RunOptions
from firestream_core.model import ChartInfo
from firestream_core.plugin.generic import GenericChart
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.tools.redact import Redactor


def test_options_default_to_a_real_run_that_waits_for_no_lock() -> None:
    one, two = RunOptions(concurrency=2, fail_fast=True), RunOptions(concurrency=2, fail_fast=True)
    assert (one.dry_run, one.lock_timeout, one.on_event) == (False, 0.0, None)
    assert not one.cancel.is_set()
    one.cancel.set()
    assert not two.cancel.is_set()  # every run its own cancel event


def test_the_input_holds_the_project_charts_by_release(tmp_path: Path) -> None:
    web = GenericChart(ChartInfo(name="web", chart="./chart"))
    run_input = RunInput(charts={"web": web}, manager=get_plugin_manager(load_entry_points=False),
                         project_dir=tmp_path, redactor=Redactor(), repositories={})
    assert run_input.chart("web") is web
    with pytest.raises(KeyError):
        run_input.chart("db")
