"""``deploy_context`` and ``run_lifecycle``: releases through the real lifecycle on the emulator.

Without an override, ``deploy_chart_repo`` is firestream's fixture charts
(``chart_repo``); the plugins' own suites cover overriding it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from firestream_testing.chartrepo import ChartRepo
from firestream_testing.plugin_fixtures import DeployContexts, RecordingRunner

from firestream_core.model import ChartInfo, ChartSetValue, ValidationStatus
from firestream_core.plugin.generic import GenericChart
from firestream_core.plugin.manager import get_plugin_manager


def tiny(namespace: str, **values: str) -> GenericChart:
    return GenericChart(ChartInfo(
        name="app", chart="tiny-app", repository="fixtures", version="0.1.0", namespace=namespace,
        timeout="60s", values=[ChartSetValue(k, v) for k, v in values.items()],
    ))


def test_the_context_is_wired_to_this_test(
    deploy_context: DeployContexts, kube: Any, helm_bin: Path, chart_repo: ChartRepo, tmp_path: Path
) -> None:
    context = deploy_context(helm_bin)
    assert context.helm.binary == str(helm_bin)
    assert context.helm.kubeconfig == kube.kubeconfig
    assert context.project_dir == tmp_path
    assert dict(context.repositories) == {"fixtures": chart_repo.url}
    assert dict(context.settings) == {"validation_interval": 0.1}
    assert context.log is logging.getLogger("firestream.test")
    assert context.redactor is deploy_context.redactor
    assert isinstance(deploy_context.runner, RecordingRunner)
    assert deploy_context().helm.binary == str(kube.tools["helm"])  # helm 3 by default
    again = deploy_context(dry_run=True, settings={})
    assert (again.dry_run, dict(again.settings)) == (True, {})
    assert again.helm is not context.helm  # every context is a new run


def test_run_lifecycle_deploys_and_records_every_program(
    run_lifecycle: Any, deploy_context: DeployContexts, kube: Any, helm_bin: Path
) -> None:
    result = run_lifecycle(tiny(kube.namespace, password="kit-secret-1"), helm_bin)
    assert result.ok, result.error
    assert {v.name: v.status for v in result.validations}["release_exists"] is ValidationStatus.PASSED
    runner = deploy_context.runner
    assert runner.index("repo", "add") < runner.index("upgrade", "--install")
    assert runner.of("upgrade") and len(runner.stdins) == len(runner.argvs)
    runner.assert_absent("kit-secret-1")  # values reach helm through a file
    with pytest.raises(AssertionError, match="no command line holds"):
        runner.index("uninstall")
    runner.clear()
    assert (runner.argvs, runner.stdins) == ([], [])


def test_run_lifecycle_takes_a_context_and_a_manager(
    run_lifecycle: Any, deploy_context: DeployContexts, kube: Any
) -> None:
    context = deploy_context(dry_run=True)
    without_defaults = get_plugin_manager(disabled=["defaults"])
    result = run_lifecycle(tiny(kube.namespace), context=context, manager=without_defaults)
    assert result.stage_failed == "exec"
    assert "is the built-in 'defaults' plugin disabled?" in result.error
    assert deploy_context.runner.argvs == []  # the defaults plugin is what runs helm
    with pytest.raises(TypeError, match="either context or binary/overrides"):
        run_lifecycle(tiny(kube.namespace), kube.tools["helm"], context=context)
