"""The stand-in chart the test kit's ``deploy_context`` and ``run_lifecycle`` deploy from."""

from collections.abc import Callable
from pathlib import Path

import pytest
from firestream_testing.chartrepo import ChartRepo

CHARTS = Path(__file__).parent / "charts"


@pytest.fixture(scope="session")
def deploy_chart_repo(make_chart_repo: Callable[..., ChartRepo]) -> ChartRepo:
    """The stand-in bitnami/postgresql, served as ``bitnami`` at 13.2.24 (PostgreSQL 16) and 17.1.0 (PostgreSQL 17)."""
    return make_chart_repo([CHARTS / "postgresql"], "bitnami", versions={"postgresql": ["13.2.24", "17.1.0"]})
