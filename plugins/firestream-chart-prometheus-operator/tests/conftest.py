"""The stand-in chart the test kit's ``deploy_context`` and ``run_lifecycle`` deploy from.

``tests/charts/kube-prometheus-stack`` is the 81.5.0 stand-in (the default). The
repository serves it at 46.0.0 and 81.5.0, and at the seed's 45.7.1 without
the two CRDs 45.x did not ship (PrometheusAgent and ScrapeConfig came with
46.0.0/47.0.0, "new CRDs" in upstream's UPGRADE.md), so an upgrade from
45.7.1 must bring CRDs helm itself would never install.

Like the real chart, a release creates Services in ``kube-system`` and
cluster-scoped objects named after the release: two releases of the same
name on one cluster collide, as they would on a real one. The emulator is
shared by a module's tests, so each test's releases are uninstalled after it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from firestream_testing.chartrepo import ChartRepo, package_charts, read_index

CHARTS = Path(__file__).parent / "charts"
STAND_IN = CHARTS / "kube-prometheus-stack"
SEED_VERSION = "45.7.1"
SEED_OPERATOR = "0.63.0"
"""The Prometheus Operator of kube-prometheus-stack 45.7.1: its CRDs' ``operator.prometheus.io/version``."""
NEWER_CRDS = ("crd-prometheusagents.yaml", "crd-scrapeconfigs.yaml")
"""The CRD files of the stand-in that kube-prometheus-stack 45.7.1 did not have."""


def seed_era_chart(dest: Path) -> Path:
    """A copy of the stand-in as 45.7.1: its Chart.yaml version and appVersion, without :data:`NEWER_CRDS`,
    each CRD annotated with its operator version as upstream's are (``operator.prometheus.io/version``)."""
    chart = dest / "kube-prometheus-stack"
    shutil.copytree(STAND_IN, chart)
    for name in NEWER_CRDS:
        (chart / "charts/crds/crds" / name).unlink()
    for crd in (chart / "charts/crds/crds").glob("*.yaml"):
        text = crd.read_text(encoding="utf-8")
        assert "operator.prometheus.io/version: 0.88.0" in text, crd
        crd.write_text(text.replace("operator.prometheus.io/version: 0.88.0",
                                    f"operator.prometheus.io/version: {SEED_OPERATOR}"), encoding="utf-8")
    meta = chart / "Chart.yaml"
    text = meta.read_text(encoding="utf-8")
    text = text.replace("version: 81.5.0", f"version: {SEED_VERSION}").replace(
        "appVersion: v0.88.0", "appVersion: v0.63.0")
    meta.write_text(text, encoding="utf-8")
    return chart


@pytest.fixture(scope="session")
def deploy_chart_repo(
    make_chart_repo: Callable[..., ChartRepo], helm_tools: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> ChartRepo:
    """The stand-in kube-prometheus-stack at 45.7.1 (the seed's, 8 CRDs), 46.0.0 and 81.5.0 (the default, 10 CRDs)."""
    repo = make_chart_repo([STAND_IN], "prometheus-community",
                           versions={"kube-prometheus-stack": ["46.0.0", "81.5.0"]})
    seed = seed_era_chart(tmp_path_factory.mktemp("kps-seed"))
    package_charts(helm_tools["helm"], [seed], repo.root)  # into the served folder, then reindexed
    repo.charts = read_index(repo.index)
    return repo


@pytest.fixture(autouse=True)
def _uninstall_the_tests_releases(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test on the emulator, uninstall the releases left in its namespace, and delete the
    ``monitoring.coreos.com`` CRDs (cluster-wide, kept by helm).

    The chart's kube-system Services and cluster-scoped objects are named after the
    release: the module's next test installing the same release name would find
    them owned by this test's namespace (helm refuses, as on a real cluster).
    """
    if "kube" not in request.fixturenames:
        yield
        return
    kube: Any = request.getfixturevalue("kube")
    yield
    listed = kube.run([kube.tools["helm"], "list", "-n", kube.namespace, "-a", "-o", "json"], check=False)
    try:
        names = [r["name"] for r in json.loads(listed.stdout or "[]")]
    except ValueError:
        names = []
    for name in names:
        kube.run([kube.tools["helm"], "uninstall", name, "-n", kube.namespace, "--wait"], check=False)
    # and the monitoring.coreos.com CRDs it left (at the stand-in's 0.88.0): the next test's 45.7.1
    # (0.63.0) over them would be refused, as it is on a real cluster holding newer CRDs
    listed = kube.run(["kubectl", "get", "crd", "-o", "name"], check=False).stdout.split()
    ours = [n.split("/", 1)[1] for n in listed if n.endswith(".monitoring.coreos.com")]
    if ours:
        kube.run(["kubectl", "delete", "crd", *ours, "--ignore-not-found"], check=False)
