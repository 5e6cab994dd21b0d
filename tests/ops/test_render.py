"""A planned release rendered as apply renders it: the one function ``diff`` and ``plan --hooks`` share.

Logic only (a fake helm); the real helm 3 and 4 cases are in test_diff.py and test_helm_tests.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firestream_core.deploy.plan import Change
from firestream_core.errors import ReleaseLockedError, RenderError
from firestream_core.model import ChartInfo
from firestream_core.ops.render import planned_chart, render_as_apply
from firestream_core.plugin.generic import GenericChart

CM = "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
CRD = ("---\n# Source: web/crds/crd.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
       "metadata:\n  name: gadgets.example.com\n")


OFFLINE = CM.format(name="offline")


class _Helm:
    """``render_release`` (helm's dry run of apply's call) and ``template`` (by its ``server`` flag)
    answer a string, or an error to raise."""

    def __init__(self, server: str | Exception, offline: str | Exception = OFFLINE,
                 dry_run: str | Exception | None = None) -> None:
        self.server, self.offline = server, offline
        self.dry_run = server if dry_run is None else dry_run
        self.calls: list[tuple[str, bool, bool]] = []

    def render_release(self, info, project_dir, *, replace=False):
        self.calls.append(("dry-run", replace, False))
        if isinstance(self.dry_run, Exception):
            raise self.dry_run
        return self.dry_run

    def template(self, info, project_dir, *, include_crds=True, is_upgrade=False, server=False):
        self.calls.append(("server" if server else "offline", include_crds, is_upgrade))
        answer = self.server if server else self.offline
        if isinstance(answer, Exception):
            raise answer
        return answer + (CRD if include_crds and not server else "")


INFO = ChartInfo(name="web", chart="repo/web")


def names(objects):
    return [o.name for o in objects]


def test_rendered_by_helms_dry_run_of_apply_with_the_crds_folder_read_offline():
    helm = _Helm(CM.format(name="server"))
    assert names(render_as_apply(helm, INFO, Path("."), is_upgrade=True)) == ["gadgets.example.com", "server"]
    assert helm.calls == [("dry-run", False, False), ("offline", True, True)]
    helm = _Helm(CM.format(name="server"))
    assert names(render_as_apply(helm, INFO, Path("."), is_upgrade=False, crds=False)) == ["server"]
    assert helm.calls == [("dry-run", False, False)]  # hooks only: no second rendering


@pytest.mark.parametrize(("is_upgrade", "replace", "dry_run_replace"), [
    (True, False, False), (True, True, False),  # helm upgrade --install: an upgrade
    (False, False, False),                      # a first install: helm upgrade --install, as apply
    (False, True, True),                        # the name held (uninstalled, reinstalled): install --replace
])
def test_an_install_where_helm_holds_the_name_is_dry_run_as_install_replace(is_upgrade, replace, dry_run_replace):
    helm = _Helm(CM.format(name="server"))
    render_as_apply(helm, INFO, Path("."), is_upgrade=is_upgrade, crds=False, replace=replace)
    assert helm.calls == [("dry-run", dry_run_replace, False)]


def test_helm_template_when_helm_cannot_dry_run_apply_s_call():
    """A pending-* release (helm refuses its dry run), and the upgrade a recovery runs after its
    rollback: rendered against the cluster by helm template, as an upgrade."""
    locked = ReleaseLockedError("helm upgrade of 'web' failed",
                                stderr="Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress")
    helm = _Helm(CM.format(name="templated"), dry_run=locked)
    assert names(render_as_apply(helm, INFO, Path("."), is_upgrade=True, crds=False)) == ["templated"]
    assert helm.calls == [("dry-run", False, False), ("server", False, True)]
    helm = _Helm(CM.format(name="templated"), dry_run=CM.format(name="dry-run"))
    assert names(render_as_apply(helm, INFO, Path("."), is_upgrade=True, crds=False,
                                 after_rollback=True)) == ["templated"]
    assert helm.calls == [("server", False, True)]


def test_offline_only_when_the_cluster_does_not_serve_a_kind_yet():
    unserved = RenderError("helm upgrade of 'web' failed",
                           stderr='Error: resource mapping not found for name: "g" ... ensure CRDs are installed first')
    helm = _Helm(unserved)
    assert names(render_as_apply(helm, INFO, Path("."), is_upgrade=True, crds=False)) == ["offline"]
    assert helm.calls == [("dry-run", False, False), ("offline", False, True)]
    owned = RenderError("helm upgrade of 'web' failed",
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
