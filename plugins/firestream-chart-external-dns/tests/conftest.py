"""The stand-in chart the test kit's ``deploy_context`` and ``run_lifecycle`` deploy from."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from firestream_testing.chartrepo import ChartRepo

CHARTS = Path(__file__).parent / "charts"


@pytest.fixture(scope="session")
def deploy_chart_repo(make_chart_repo: Callable[..., ChartRepo]) -> ChartRepo:
    """The stand-in bitnami/external-dns, served as ``bitnami`` at 6.31.0 (the seed's) and 9.0.4 (the default)."""
    return make_chart_repo([CHARTS / "external-dns"], "bitnami", versions={"external-dns": ["6.31.0", "9.0.4"]})


@pytest.fixture(autouse=True)
def _uninstall_left_releases(request: pytest.FixtureRequest) -> Iterator[None]:
    """Uninstall what a cluster test left in its namespace.

    The chart's ClusterRole, ClusterRoleBinding and DNSEndpoint CRD are cluster-scoped and the
    emulator lives for the module: a release left by one test would own them and the next
    test's release, in another namespace, could not install them (as on a real cluster).
    """
    if "kube" not in request.fixturenames:
        yield
        return
    kube = request.getfixturevalue("kube")
    yield
    listed = kube.run([kube.tools["helm"], "list", "-q", "-n", kube.namespace], check=False)
    for name in listed.stdout.split():
        kube.run([kube.tools["helm"], "uninstall", name, "-n", kube.namespace, "--wait"], check=False)
