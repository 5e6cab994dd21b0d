"""One state used with two clusters (two kubeconfigs, no ``--kube-context`` or ``-e`` to keep
their states apart): each record says which API server it was made on, and a record another
cluster's run made is not taken for this cluster's (real helm, two API emulators)."""

from __future__ import annotations

import pytest
from firestream_testing.cluster import start_cluster

from firestream_core.ops.rollback import plan_rollback
from firestream_core.project import Project

from ..ops.helpers import extras_app_config

pytestmark = pytest.mark.helm


@pytest.fixture
def other_cluster(tmp_path):
    """A second API emulator: another cluster, with a kubeconfig of its own."""
    cluster = start_cluster(tmp_path / "other" / "kubeconfig", log_file=tmp_path / "other.log")
    try:
        yield cluster
    finally:
        cluster.stop()


def _load(path, kube, helm_bin, kubeconfig):
    return Project.load(path, helm_binary=helm_bin, kubeconfig=kubeconfig, env=dict(kube.env),
                        kubectl_binary=kube.tools["kubectl"])


def test_a_record_made_on_another_cluster_is_not_taken_for_this_ones(tmp_path, kube, helm_bin, other_cluster):
    """Applied on A with one value, then (the config changed) on B: the plan against A said "no
    changes" (B's record: same revision number, the config's digest), while A ran the old value.
    It now compares with what helm holds on A, names the value and says why; rollback refuses
    to take B's revision for A's."""
    path = extras_app_config(tmp_path, kube, values={"message": "first"})
    on_a = _load(path, kube, helm_bin, kube.kubeconfig)
    assert on_a.apply().ok
    assert on_a.load_state().releases[f"{kube.namespace}/web"].cluster == kube.url

    path = extras_app_config(tmp_path, kube, values={"message": "second"})
    on_b = _load(path, kube, helm_bin, other_cluster.kubeconfig)
    assert on_b.apply().ok
    record = on_b.load_state().releases[f"{kube.namespace}/web"]
    assert (record.cluster, record.revision) == (other_cluster.url, 1)

    plan = _load(path, kube, helm_bin, kube.kubeconfig).plan()
    (change,) = plan.releases
    assert change.action == "upgrade"  # A still runs "first"
    assert "values changed: message" in change.reasons
    assert any(f"made on {other_cluster.url}, not on this cluster ({kube.url})" in n for n in plan.notes)

    project = _load(path, kube, helm_bin, kube.kubeconfig)
    (status,) = project.status()
    assert (status.revision, status.last_action, status.applied_at) == (1, None, None)  # not B's record
    steps = plan_rollback(project.rollback_input(), None, None, project.tools()[1].list_releases())
    assert [(s.action, "not on this cluster" in s.reason) for s in steps] == [("error", True)]

    # applied on A again: its record is A's, and the next plan on A has nothing to do
    assert _load(path, kube, helm_bin, kube.kubeconfig).apply().ok
    again = _load(path, kube, helm_bin, kube.kubeconfig).plan()
    assert not again.has_changes and not again.notes
