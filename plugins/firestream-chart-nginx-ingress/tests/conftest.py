"""The stand-in chart the test kit's ``deploy_context`` and ``run_lifecycle`` deploy from."""

from collections.abc import Callable
from pathlib import Path

import pytest
from firestream_testing.chartrepo import ChartRepo

CHARTS = Path(__file__).parent / "charts"


@pytest.fixture(scope="session")
def deploy_chart_repo(make_chart_repo: Callable[..., ChartRepo]) -> ChartRepo:
    """The stand-in ingress-nginx, served as ``ingress-nginx`` at 4.7.1 (the seed's) and 4.15.1 (the default)."""
    return make_chart_repo([CHARTS / "ingress-nginx"], "ingress-nginx",
                           versions={"ingress-nginx": ["4.7.1", "4.15.1"]})
