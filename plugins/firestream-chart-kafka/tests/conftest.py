"""The stand-in chart the test kit's ``deploy_context`` and ``run_lifecycle`` deploy from."""

from collections.abc import Callable
from pathlib import Path

import pytest
from firestream_testing.chartrepo import ChartRepo

CHARTS = Path(__file__).parent / "charts"


@pytest.fixture(scope="session")
def deploy_chart_repo(make_chart_repo: Callable[..., ChartRepo]) -> ChartRepo:
    """The stand-in strimzi-kafka-operator, served as ``strimzi`` at 0.38.0 (the seed's) and 1.2.0 (the default)."""
    return make_chart_repo([CHARTS / "strimzi-kafka-operator"], "strimzi",
                           versions={"strimzi-kafka-operator": ["0.38.0", "1.2.0"]})
