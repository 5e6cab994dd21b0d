"""A chart's CRDs, server-side applied before helm upgrades it (helm never upgrades ``crds/``).

helm installs the ``crds/`` folders of a chart and of its subcharts on the
first install and never touches them again: an upgraded operator chart
(Strimzi, kube-prometheus-stack, ...) would run its newer operator against
the CRDs of its first version. A chart plugin calls
:func:`upgrade_chart_crds` from an ``exec`` wrapper (``@hookimpl(wrapper=True)``:
its code before ``yield`` runs after the core's preparation of the release,
``context.prepared``, and before the default ``helm upgrade --install``). It reads the CRDs of the chart version being deployed - the local
chart (``path``: a folder or a ``.tgz``), or the archive ``helm pull`` fetches
through the helm layer (the repository was added by ``pre_exec``) - and
applies them with ``kubectl apply --server-side`` (field manager
``firestream``, conflicts forced, manifests on stdin).

Used by the ``prometheus-operator`` (``monitoring.coreos.com``) and ``kafka``
(``kafka.strimzi.io``) plugins; see ``docs/writing-a-chart-plugin.md``.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from firestream_core.model import HelmAction

if TYPE_CHECKING:
    from firestream_core.model import ChartInfo, InstalledRelease
    from firestream_core.plugin.context import DeployContext

__all__ = ["apply_crds", "chart_crds", "crd_names", "crds_step_due", "is_crd_file", "upgrade_chart_crds"]

_SUFFIXES = (".yaml", ".yml", ".json")
_MAX_CRD_BYTES = 64 * 1024 * 1024


def is_crd_file(path: PurePosixPath, root_depth: int = 1) -> bool:
    """A file directly in the ``crds/`` folder of the chart or of a subchart.

    ``root_depth`` is how many leading parts name the chart's own folder: 1
    in a chart archive (``kube-prometheus-stack/crds/x.yaml``), 0 for paths
    relative to the chart folder. A subchart is ``charts/<name>/``, so a
    subchart that is itself *called* ``crds`` is not mistaken for the folder.
    """
    parts = path.parts
    i = len(parts) - 2  # where "crds" must be
    if i < root_depth or parts[i] != "crds" or path.suffix not in _SUFFIXES:
        return False
    return i == root_depth or (i - 2 >= root_depth and parts[i - 2] == "charts")


def _from_archive(archive: Path) -> list[str]:
    docs = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not member.isfile() or member.size > _MAX_CRD_BYTES:
                continue
            if not is_crd_file(PurePosixPath(member.name)):
                continue
            handle = tar.extractfile(member)
            if handle is not None:
                with io.TextIOWrapper(handle, encoding="utf-8") as text:
                    docs.append(text.read())
    return docs


def _from_folder(folder: Path) -> list[str]:
    return [
        p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file() and is_crd_file(PurePosixPath(p.relative_to(folder).as_posix()), 0)
    ]


def chart_crds(context: DeployContext, info: ChartInfo) -> str:
    """The CRD manifests of the chart version ``info`` deploys, as one YAML stream.

    A local chart is read where it is (a folder, or a ``.tgz`` archive);
    any other is fetched with ``helm pull`` into a temporary folder.

    Example, in ``check_prerequisites``, listing what an upgrade would apply::

        manifests = chart_crds(context, chart.chart_info)
        context.log.info("release '%s': ships %d CRDs", chart.name, len(crd_names(manifests)))
    """
    if info.path is not None:
        local = context.resolve(info.path)
        docs = _from_archive(local) if local.is_file() else _from_folder(local)
    else:
        with tempfile.TemporaryDirectory(prefix="firestream-crds-") as tmp:
            archive = context.helm.pull(info.chart_ref, info.version, tmp)
            docs = _from_archive(archive)
    return "\n---\n".join(d.strip() for d in docs if d.strip()) + "\n"


def crd_names(manifests: str) -> list[str]:
    """The names of the CustomResourceDefinitions in a YAML stream.

    >>> crd_names('''
    ... apiVersion: apiextensions.k8s.io/v1
    ... kind: CustomResourceDefinition
    ... metadata: {name: widgets.example.com}
    ... ---
    ... apiVersion: v1
    ... kind: ConfigMap
    ... metadata: {name: settings}
    ... ''')
    ['widgets.example.com']
    """
    from firestream_core.tools import kube_yaml

    return [
        str(doc["metadata"]["name"])
        for doc in kube_yaml.load_all(manifests)
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
    ]


def apply_crds(context: DeployContext, info: ChartInfo) -> list[str]:
    """Server-side apply the chart's CRDs (field manager ``firestream``); their names.

    Nothing is applied (and ``[]`` returned) when the chart has no CRDs.

    Example, in an ``exec`` wrapper, applying them whatever is installed (prefer
    :func:`upgrade_chart_crds`, which knows when not to)::

        if context.prepared is not None:    # a Deploy that changes the cluster
            applied = apply_crds(context, chart.chart_info)
            payload.section("my-operator")["crds"] = applied
    """
    manifests = chart_crds(context, info)
    names = crd_names(manifests)
    if not names:
        return []
    context.log.info(
        "release '%s': applying %d CRDs of %s %s before the upgrade",
        info.name, len(names), info.chart or info.chart_ref, info.version or "",
    )
    context.kubectl.apply_server_side(manifests)
    return names


def upgrade_chart_crds(
    context: DeployContext,
    info: ChartInfo,
    *,
    installed: InstalledRelease | None,
    probe: Iterable[str] = (),
) -> list[str] | None:
    """Before an upgrade, server-side apply the CRDs of the chart version being deployed.

    Call it from a chart plugin's ``exec`` wrapper, before the default
    ``helm upgrade --install`` runs.

    :param installed: the release as installed (``context.prepared.installed``, or
        ``firestream_core.plugin.current_release``), None for a first install.
    :param probe: CRD names that show the chart's CRDs are already in the
        cluster (from an earlier install, or kept when the release was
        uninstalled): a first install then applies them too, since helm
        would skip existing CRDs. Without one, helm's first install creates
        them from ``crds/`` itself.
    :return: the CRD names applied; None when nothing was due: not a deploy,
        a dry run, ``skip_crds``, or a first install whose CRDs are absent.
    :raises HelmError: of kubectl's class, when a CRD is refused: its message says
        helm did not run and where the release stands (unchanged at its installed
        version, or still uninstalled after the plan's breaking-version step).

    Example, the ``exec`` wrapper of an operator chart plugin::

        @hookimpl(wrapper=True)
        def exec(chart, context, payload):
            if context.prepared is not None:     # a Deploy, pending release recovered
                applied = upgrade_chart_crds(context, chart.chart_info,
                                             installed=context.prepared.installed,
                                             probe=["kafkas.kafka.strimzi.io"])
                if applied:
                    payload.section("kafka")["crds_applied"] = applied
            return (yield)       # the default helm upgrade --install
    """
    if info.action is not HelmAction.DEPLOY or context.dry_run or info.dry_run or info.skip_crds:
        return None
    if installed is None and not any(
        context.kubectl.get("customresourcedefinition", name) is not None for name in probe
    ):
        return None
    from firestream_core.errors import HelmError

    try:
        return apply_crds(context, info)
    except HelmError as exc:  # name where the release stands: helm never ran
        raise type(exc)(
            f"the CRDs of {info.chart or info.chart_ref} {info.version or ''} were not all applied, so helm "
            f"did not run and {_release_left(context, info, installed)}; CRDs applied before the failure "
            f"stay applied, apply again once the rejected one is fixed: {exc}",
            release=info.name, stderr=exc.stderr, hint=exc.hint,
        ) from exc


def _release_left(context: DeployContext, info: ChartInfo, installed: InstalledRelease | None) -> str:
    """Where a release stands when its CRD step failed before helm ran."""
    prepared = context.prepared
    if prepared is not None and prepared.uninstalled:
        return (f"release '{info.name}' stays uninstalled (the plan's breaking-version step removed it): "
                "the next plan creates it")
    if installed is not None:
        return f"release '{info.name}' is unchanged at {installed.chart_version} (revision {installed.revision})"
    return f"release '{info.name}' is not installed"


def crds_step_due(context: DeployContext, info: ChartInfo, *, probe: Iterable[str] = ()) -> bool:
    """Whether :func:`upgrade_chart_crds` will apply CRDs when this release is deployed, decided
    in the desired-state stage (``contribute_values``) so the plan can say so (``context.exec_step``).

    The same rule, on the plan's view of the cluster: a deploy without ``skip_crds`` of a
    release helm already knows (``context.installed``), or whose ``probe`` CRDs exist (a
    read-only ``kubectl get``). Offline (``firestream validate``) nothing is known: False.

    Example, the ``contribute_values`` of an operator chart plugin whose ``exec`` calls
    :func:`upgrade_chart_crds`::

        @hookimpl
        def contribute_values(chart, context):
            if crds_step_due(context, chart.chart_info, probe=["kafkas.kafka.strimzi.io"]):
                context.exec_step(f"server-side apply the CRDs of my-operator {chart.chart_info.version} "
                                  "before the upgrade (helm never updates crds/)")
    """
    if info.action is not HelmAction.DEPLOY or info.skip_crds or context.offline:
        return False
    if context.installed is not None:
        return True
    return any(context.kubectl.get("customresourcedefinition", name) is not None for name in probe)
