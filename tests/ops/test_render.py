"""A planned release rendered as apply renders it: the one function ``diff`` and ``plan --hooks`` share.

Logic only (a fake helm); the real helm 3 and 4 cases are in test_diff.py and test_helm_tests.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firestream_core.deploy.plan import Change
from firestream_core.errors import RenderError
from firestream_core.model import ChartInfo
from firestream_core.ops.render import planned_chart, render_as_apply
from firestream_core.plugin.generic import GenericChart

CM = "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
CRD = ("---\n# Source: web/crds/crd.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
       "metadata:\n  name: gadgets.example.com\n")


OFFLINE = CM.format(name="offline")


class _Helm:
    """``template`` answers by its ``server`` flag: a string, or an error to raise."""

    def __init__(self, server: str | Exception, offline: str | Exception = OFFLINE) -> None:
        self.server, self.offline = server, offline
        self.calls: list[tuple[bool, bool, bool]] = []

    def template(self, info, project_dir, *, include_crds=True, is_upgrade=False, server=False):
        self.calls.append((server, include_crds, is_upgrade))
        answer = self.server if server else self.offline
        if isinstance(answer, Exception):
            raise answer
        return answer + (CRD if include_crds and not server else "")


INFO = ChartInfo(name="web", chart="repo/web")


def names(objects):
    return [o.name for o in objects]


def test_rendered_against_the_cluster_with_the_crds_folder_read_offline():
    helm = _Helm(CM.format(name="server"))
    assert names(render_as_apply(helm, INFO, Path("."), is_upgrade=True)) == ["gadgets.example.com", "server"]
    assert helm.calls == [(True, False, True), (False, True, True)]
    helm = _Helm(CM.format(name="server"))
    assert names(render_as_apply(helm, INFO, Path("."), is_upgrade=False, crds=False)) == ["server"]
    assert helm.calls == [(True, False, False)]  # hooks only: no second rendering


def test_offline_only_when_the_cluster_does_not_serve_a_kind_yet():
    unserved = RenderError("helm template of 'web' failed",
                           stderr='Error: resource mapping not found for name: "g" ... ensure CRDs are installed first')
    helm = _Helm(unserved)
    assert names(render_as_apply(helm, INFO, Path("."), is_upgrade=True, crds=False)) == ["offline"]
    assert helm.calls == [(True, False, True), (False, False, True)]
    owned = RenderError("helm template of 'web' failed",
                        stderr='Error: ClusterRole "x" exists and cannot be imported into the current release')
    with pytest.raises(RenderError, match="failed"):  # what apply would meet
        render_as_apply(_Helm(owned), INFO, Path("."), is_upgrade=True)


def test_the_planned_chart_has_the_plans_values_and_resolved_version():
    chart = GenericChart(ChartInfo(name="web", chart="repo/web", version="^1.0"))
    change = Change("web", "default", "generic", "upgrade", plugin_values={"from": "plugin"},
                    resolved_version="1.2.3")
    planned = planned_chart(chart, change)
    assert (planned.chart_info.version, planned.chart_info.plugin_values) == ("1.2.3", {"from": "plugin"})
    assert (chart.chart_info.version, chart.chart_info.plugin_values) == ("^1.0", {})  # left as it is


@pytest.mark.parametrize(("action", "status", "revision", "steps"), [
    ("create", None, 0, (None, False, "install")),
    ("create", "uninstalled", 2, (None, False, "install")),         # helm install --replace
    ("upgrade", "deployed", 3, (None, False, "upgrade")),
    ("reinstall", "deployed", 3, (None, True, "install")),          # uninstall, then a fresh install
    ("recover", "pending-upgrade", 3, (2, False, "upgrade")),       # roll back to 2, then upgrade
    ("recover", "pending-rollback", 5, (None, True, "install")),    # no working revision: uninstall
    ("recover", "pending-install", 1, (None, True, "install")),     # uninstall, then install
    ("recover", "uninstalling", 4, (4, False, "upgrade")),          # back to what the uninstall left
    ("destroy", "deployed", 3, (None, True, "")),
])
def test_the_helm_steps_are_those_apply_takes(action, status, revision, steps):
    from firestream_core.model import InstalledRelease
    from firestream_core.ops.render import helm_steps

    installed = None if status is None else InstalledRelease("web", "default", revision, status, "web-1.0.0")
    history = {3: [{"revision": 1, "status": "superseded"}, {"revision": 2, "status": "deployed"},
                   {"revision": 3, "status": "pending-upgrade"}],
               5: [{"revision": 5, "status": "pending-rollback"}]}.get(revision, [])
    change = Change("web", "default", "generic", action, installed=installed)
    got = helm_steps(change, lambda: history)
    assert (got.rollback_to, got.uninstall, got.then) == steps
