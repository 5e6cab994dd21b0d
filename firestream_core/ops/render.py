"""A planned release rendered as apply will render it: one function for ``diff`` and ``plan --hooks``.

What apply installs depends on how helm renders the chart at that moment,
and a chart can render differently for an install and an upgrade
(``.Release.IsInstall`` / ``.Release.IsUpgrade``) and with the cluster
(``lookup``). So everything that shows what apply will do renders the
planned release the same way:

* from the plan's desired state (:func:`planned_chart`: the values plugins
  contributed, the version a constraint resolved to);
* as an upgrade exactly when apply upgrades the installed release
  (:func:`renders_as_upgrade`: not for a ``create``, nor for a ``reinstall``,
  whose install after the uninstall is a fresh one);
* against the cluster (``--dry-run=server``), falling back to the offline
  rendering only when the cluster cannot render it yet (a kind whose CRD is
  not installed), by :func:`render_as_apply`.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from firestream_core.errors import HelmError
from firestream_core.tools.manifests import ManifestObject, split_manifest

if TYPE_CHECKING:
    from firestream_core.deploy.plan import Change
    from firestream_core.model import ChartInfo, HelmChart
    from firestream_core.tools.helm import Helm

__all__ = ["planned_chart", "render_as_apply", "renders_as_upgrade", "uninstalls_first", "unserved_kind_error"]

log = logging.getLogger("firestream.render")


def planned_chart(chart: HelmChart, change: Change) -> HelmChart:
    """``chart`` as the plan's ``change`` deploys it: with the values plugins contributed and the
    version the plan resolved a constraint to (a copy; ``chart`` is left as it is)."""
    out = copy.deepcopy(chart)
    out.chart_info.plugin_values = copy.deepcopy(dict(change.plugin_values))
    if change.resolved_version is not None:  # the version the plan resolved a constraint to
        out.chart_info.version = change.resolved_version
    return out


def _live(change: Change) -> bool:
    installed = change.installed
    return installed is not None and installed.status != "uninstalled"


def uninstalls_first(change: Change) -> bool:
    """True when apply uninstalls the installed release for this change: a ``destroy``, a
    ``reinstall``, or the recovery of a ``pending-install`` with nothing to roll back to. helm's
    uninstall runs the installed release's ``pre-delete``/``post-delete`` hooks (``helm get hooks``)."""
    if not _live(change):
        return False
    if change.action in ("destroy", "reinstall"):
        return True
    installed = change.installed
    return (change.action == "recover" and installed is not None
            and installed.status == "pending-install" and installed.revision <= 1)


def renders_as_upgrade(change: Change) -> bool:
    """True when apply's helm call upgrades the installed release (``.Release.IsUpgrade``); False
    when it installs (no release, one helm lists ``uninstalled``, or one apply uninstalls first)."""
    return _live(change) and change.action != "destroy" and not uninstalls_first(change)


_UNSERVED_KIND = ("no matches for kind", "resource mapping not found", "ensure CRDs are installed first",
                  "could not find the requested resource")


def unserved_kind_error(exc: HelmError) -> bool:
    """True when helm refused to render against the cluster because a kind is not served yet
    (a CRD this release or a dependency installs): the offline rendering is then the one to use."""
    text = f"{exc} {exc.stderr}"
    return any(p in text for p in _UNSERVED_KIND)


def render_as_apply(
    helm: Helm, info: ChartInfo, project_dir: Path, *, is_upgrade: bool, crds: bool = True
) -> list[ManifestObject]:
    """The release as apply would render it: against the cluster (``--dry-run=server``), so
    that the chart's ``lookup`` finds what it finds when apply runs (bitnami's charts keep
    the password their Secret holds, and refuse an upgrade that would lose it; a hook Job
    rendered only while a Secret is missing) and an object another release owns is refused
    as apply would refuse it (that error is raised). Offline alone when the cluster cannot
    render it yet (a kind whose CRD is not installed, :func:`unserved_kind_error`).

    ``crds``: the CRDs of the ``crds/`` folder are added, from an offline rendering: helm
    checks them for owners when rendered against the cluster, while apply skips those
    already there (not with ``skip_crds``)."""
    try:
        text = helm.template(info, project_dir, include_crds=False, is_upgrade=is_upgrade, server=True)
    except HelmError as server_error:
        if not unserved_kind_error(server_error):
            raise  # what apply would meet (an object another release owns, a chart's fail)
        log.debug("release '%s' has kinds the cluster does not serve yet; rendering it offline", info.name)
        try:
            return split_manifest(helm.template(info, project_dir, include_crds=crds, is_upgrade=is_upgrade))
        except HelmError:
            raise server_error from None
    objects = split_manifest(text)
    if info.skip_crds or not crds:
        return objects
    try:
        offline = split_manifest(helm.template(info, project_dir, include_crds=True, is_upgrade=is_upgrade))
    except HelmError:  # renders only with the cluster (lookup): its crds/ folder is not read
        log.debug("release '%s' does not render offline; its crds/ folder is not compared", info.name)
        return objects
    return [o for o in offline if o.from_crds_folder] + objects
