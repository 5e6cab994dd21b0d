"""The stand-in chart the test kit's ``deploy_context`` and ``run_lifecycle`` deploy from."""

from collections.abc import Callable
from pathlib import Path

import pytest
from firestream_testing.chartrepo import ChartRepo

CHARTS = Path(__file__).parent / "charts"


@pytest.fixture(scope="session")
def deploy_chart_repo(make_chart_repo: Callable[..., ChartRepo]) -> ChartRepo:
    """The stand-in kube-prometheus-stack, 45.7.1 (the seed's), 46.0.0 and 81.5.0 (the default), as ``prometheus-community``."""
    return make_chart_repo([CHARTS / "kube-prometheus-stack"], "prometheus-community",
                           versions={"kube-prometheus-stack": ["45.7.1", "46.0.0", "81.5.0"]})
