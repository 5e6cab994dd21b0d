"""The stand-in chart the test kit's ``deploy_context`` and ``run_lifecycle`` deploy from."""

from collections.abc import Callable
from pathlib import Path

import pytest
from firestream_testing.chartrepo import ChartRepo

CHARTS = Path(__file__).parent / "charts"


@pytest.fixture(scope="session")
def deploy_chart_repo(make_chart_repo: Callable[..., ChartRepo]) -> ChartRepo:
    """The stand-in bitnami/external-dns, served as ``bitnami`` at 6.31.0 (the seed's) and 9.0.4 (the default)."""
    return make_chart_repo([CHARTS / "external-dns"], "bitnami", versions={"external-dns": ["6.31.0", "9.0.4"]})
