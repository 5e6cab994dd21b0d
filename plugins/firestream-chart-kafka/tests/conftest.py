"""The stand-in strimzi-kafka-operator the test kit's ``deploy_context`` and ``run_lifecycle`` deploy from.

Three stand-ins, one per API era of the Strimzi CRDs (written from the
upstream chart, see each ``Chart.yaml``), served together as repository
``strimzi``: 0.38.0 (the seed's default: ``v1beta2``), 0.51.0 (``v1`` added
next to the deprecated ``v1beta2``) and 1.2.0 (the default: ``v1`` only).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from firestream_testing.chartrepo import ChartRepo, RepoServer, package_charts, read_index

CHARTS = Path(__file__).parent / "charts"
STAND_INS = {
    "0.38.0": CHARTS / "strimzi-kafka-operator-0.38.0",
    "0.51.0": CHARTS / "strimzi-kafka-operator-0.51.0",
    "1.2.0": CHARTS / "strimzi-kafka-operator",
}


@pytest.fixture(scope="session")
def deploy_chart_repo(helm_tools: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartRepo]:
    """strimzi-kafka-operator 0.38.0, 0.51.0 and 1.2.0, each from its own stand-in, as repository ``strimzi``."""
    dest = tmp_path_factory.mktemp("chart-repo-strimzi")
    for chart_dir in STAND_INS.values():  # one chart name per call: the kit refuses two in one
        package_charts(helm_tools["helm"], [chart_dir], dest)
    repo = ChartRepo("strimzi", dest, {"strimzi-kafka-operator": STAND_INS["1.2.0"]},
                     read_index(dest / "index.yaml"), RepoServer(dest))
    assert repo.charts == {"strimzi-kafka-operator": list(STAND_INS)}
    yield repo
    repo.stop()
