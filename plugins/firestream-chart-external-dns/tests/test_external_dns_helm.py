"""The external-dns plugin through the real lifecycle, the real helm and the emulated cluster."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from firestream_chart_external_dns import ExternalDnsChart

from firestream_core.model import ValidationStatus


def local_chart(namespace: str) -> ExternalDnsChart:
    chart = ExternalDnsChart.local()
    chart.chart_info.namespace = namespace
    return chart


def test_local_preset_deploys_and_its_deployment_is_validated(
    kube: Any, helm_bin: Path, run_lifecycle: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="firestream")
    result = run_lifecycle(local_chart(kube.namespace), helm_bin)
    assert result.ok, result.error
    # every validation line names its release (parallel releases' lines are told apart)
    lines = [r.getMessage() for r in caplog.records if "Validation '" in r.getMessage()]
    assert {line.split(": Validation '")[1].split("'")[0] for line in lines} >= {
        "external_dns_deployment", "release_exists", "pods_running"}, lines
    assert all(line.startswith("release 'external-dns': ") for line in lines), lines
    check = next(v for v in result.validations if v.name == "external_dns_deployment")
    assert check.status is ValidationStatus.PASSED
    assert check.message == "deployment ready: external-dns: 1/1 available"
    deployment = kube.kubectl().get("deployment", "external-dns", namespace=kube.namespace)
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--provider=inmemory" in args and "--txt-owner-id=firestream-local" in args


def test_every_line_of_the_lifecycle_names_the_release_at_debug(
    kube: Any, helm_bin: Path, run_lifecycle: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """-v: the core's stage lines, helm's and kubectl's command lines, the plugin's validation
    lines: each starts with ``release 'external-dns': `` (docs/lifecycle.md, "Log lines")."""
    caplog.set_level(logging.DEBUG, logger="firestream")
    result = run_lifecycle(local_chart(kube.namespace), helm_bin)
    assert result.ok, result.error
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "release 'external-dns': Running lifecycle", lines
    assert all(line.startswith("release 'external-dns': ") for line in lines), lines
    assert not any("release 'external-dns': release 'external-dns'" in line for line in lines), lines
    assert any(line.startswith("release 'external-dns': ran ") and " upgrade external-dns " in line
               for line in lines), lines  # helm's own command line, at DEBUG
    checks = {line.split(": Validation '")[1].split("'")[0] for line in lines if ": Validation '" in line}
    assert checks >= {"external_dns_deployment", "release_exists", "pods_running"}, lines
    assert lines[-1].startswith("release 'external-dns': Lifecycle succeeded: "), lines


def test_an_unavailable_deployment_fails_the_release(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    kube.cluster.set_controller(False)
    chart = local_chart(kube.namespace)
    chart.chart_info.wait = False
    chart.chart_info.atomic = False
    chart.chart_info.timeout = "1s"
    result = run_lifecycle(chart)
    assert result.stage_failed == "validate"
    check = next(v for v in result.validations if v.name == "external_dns_deployment")
    assert check.status is ValidationStatus.FAILED
    assert check.message.startswith("still pending after 1s: deployment not ready yet: external-dns:")
