"""Fixtures for the kafka plugin's tests.

``deploy`` builds what the lifecycle needs against the emulated cluster
(the ``kube`` fixture of firestream's test kit): a plugin manager with the
installed plugins, a ``DeployContext`` whose helm and kubectl share one
redactor and one recording process runner, and the stand-in chart served
as the ``strimzi`` repository.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firestream_core.context import DeployContext
from firestream_core.process import Runner
from firestream_core.redact import Redactor

CHARTS = Path(__file__).parent / "charts"


class RecordingRunner(Runner):
    """The real process runner, keeping every argument list it ran."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.argvs: list[list[str]] = []

    def run(self, argv: Any, **kwargs: Any) -> Any:
        self.argvs.append([str(a) for a in argv])
        return super().run(argv, **kwargs)


@pytest.fixture(scope="session")
def chart_repo_under_test(make_chart_repo: Callable[..., Any]) -> Any:
    """The stand-in strimzi-kafka-operator 0.38.0, served over loopback HTTP."""
    return make_chart_repo([CHARTS / "strimzi-kafka-operator"], "strimzi")


@pytest.fixture
def make_context(kube: Any, chart_repo_under_test: Any, tmp_path: Path) -> Callable[..., DeployContext]:
    """``make_context(binary=None, **overrides) -> DeployContext`` for one run on the emulator.

    ``binary`` is the helm binary (helm 3 by default; pass ``helm_bin`` to
    run under both majors). Each call is a new run (a new ``Helm``), sharing
    the redactor and the recording runner.
    """
    redactor = Redactor()
    runner = RecordingRunner(redactor=redactor)

    def make(binary: Path | None = None, **overrides: Any) -> DeployContext:
        fields: dict[str, Any] = {
            "helm": kube.helm(binary, runner=runner, redactor=redactor),
            "kubectl": kube.kubectl(runner=runner, redactor=redactor),
            "project_dir": tmp_path,
            "repositories": {"strimzi": chart_repo_under_test.url},
            "redactor": redactor,
            "log": logging.getLogger("firestream.test"),
            "settings": {"validation_interval": 0.1},
        }
        fields.update(overrides)
        return DeployContext(**fields)

    make.runner = runner  # type: ignore[attr-defined]
    make.redactor = redactor  # type: ignore[attr-defined]
    return make
