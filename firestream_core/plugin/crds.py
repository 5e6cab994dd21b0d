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
    from firestream_core.model import ChartInfo, InstalledRelease, SemVer
    from firestream_core.plugin.context import DeployContext

__all__ = [
    "apply_crds", "chart_crds", "crd_names", "crds_step_due", "is_crd_file", "newer_crds_in_cluster",
    "newer_crds_problem", "upgrade_chart_crds",
]

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
    any other is fetched with ``helm pull`` into a temporary folder, its repository
    added first (``context.repositories``; once per run) so the plan can read them too.

    Example, in ``check_prerequisites``, listing what an upgrade would apply::

        manifests = chart_crds(context, chart.chart_info)
        context.log.info("release '%s': ships %d CRDs", chart.name, len(crd_names(manifests)))
    """
    if info.path is not None:
        local = context.resolve(info.path)
        docs = _from_archive(local) if local.is_file() else _from_folder(local)
    else:
        from firestream_core.plugin.helpers import add_chart_repository

        add_chart_repository(context.helm, info, context.repositories)  # in the plan too
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


def apply_crds(context: DeployContext, info: ChartInfo, *, manifests: str | None = None) -> list[str]:
    """Server-side apply the chart's CRDs (field manager ``firestream``); their names.

    Nothing is applied (and ``[]`` returned) when the chart has no CRDs.

    Example, in an ``exec`` wrapper, applying them whatever is installed (prefer
    :func:`upgrade_chart_crds`, which knows when not to)::

        if context.prepared is not None:    # a Deploy that changes the cluster
            applied = apply_crds(context, chart.chart_info)
            payload.section("my-operator")["crds"] = applied
    """
    if manifests is None:
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
    version_annotation: str | None = None,
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
    :param version_annotation: the annotation giving a CRD's version (``operator.prometheus.io/version``):
        when the cluster holds one of the chart's CRDs at a newer version (another release's, or
        one a destroyed release left) nothing is applied and :class:`PlanMismatchError` is raised,
        since the plan refuses that deploy (:func:`newer_crds_problem`): CRDs are cluster-wide and
        an older chart's would downgrade them under every other release.
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
    from firestream_core.errors import HelmError, PlanMismatchError

    manifests = chart_crds(context, info) if version_annotation else None
    if version_annotation and manifests is not None:
        problem = newer_crds_problem(context, info, version_annotation, manifests=manifests)
        if problem:  # the plan refused this; the cluster changed since it was made
            raise PlanMismatchError(
                f"{problem}; nothing was applied and helm did not run, {_release_left(context, info, installed)}",
                release=info.name, hint="run 'firestream plan' again and review it",
            )
    try:
        return apply_crds(context, info, manifests=manifests)
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


def newer_crds_in_cluster(
    context: DeployContext, manifests: str, annotation: str
) -> list[tuple[str, str, str]]:
    """``(name, version in the cluster, version in the chart)`` of each CRD of ``manifests``
    the cluster holds at a newer version, read from ``annotation`` (semver, a leading ``v`` allowed).

    CRDs are cluster-wide: another release of the operator (or one a destroyed release
    left) may have put newer ones there. A CRD without the annotation on either side, or
    with one that is not a version, cannot be compared and is not listed. Read-only
    (``kubectl get``), so the desired-state stage may call it.

    Example, naming them in a log line::

        manifests = chart_crds(context, chart.chart_info)
        for name, theirs, ours in newer_crds_in_cluster(context, manifests, "operator.prometheus.io/version"):
            context.log.warning("release '%s': %s is at %s, newer than the chart's %s", chart.name, name, theirs, ours)
    """
    from firestream_core.model import SemVer
    from firestream_core.tools import kube_yaml

    def version(doc: object) -> tuple[str, SemVer] | None:
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        text = ((meta or {}).get("annotations") or {}).get(annotation) if isinstance(meta, dict) else None
        if not isinstance(text, str) or not text.strip():
            return None
        try:
            return text.strip(), SemVer.parse(text.strip().removeprefix("v"))
        except ValueError:
            return None

    newer = []
    for doc in kube_yaml.load_all(manifests):
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        name = str((doc.get("metadata") or {}).get("name") or "")
        ours = version(doc)
        if not name or ours is None:
            continue
        theirs = version(context.kubectl.get("customresourcedefinition", name))
        if theirs is not None and theirs[1] > ours[1]:
            newer.append((name, theirs[0], ours[0]))
    return newer


def newer_crds_problem(
    context: DeployContext, info: ChartInfo, annotation: str, *, manifests: str | None = None
) -> str | None:
    """Why the CRD step of this deploy may not run: the cluster's CRDs are newer than the chart's.

    Applying the chart's over them would downgrade CRDs every other release of the
    operator relies on (schema fields removed, versions dropped). helm 3 never
    changes an existing CRD; helm 4's install applies ``crds/`` server-side and so
    overwrites existing ones too (a create over them), unless ``skip_crds``. The plan refuses it (``context.refuse``)
    naming the release, each newer CRD and the two ways on; :func:`upgrade_chart_crds`
    with ``version_annotation`` applies nothing in that case.

    Example, the ``contribute_values`` of an operator chart plugin, once the CRD step is due::

        problem = newer_crds_problem(context, chart.chart_info, "operator.prometheus.io/version")
        if problem:
            context.refuse(problem)
    """
    if manifests is None:
        manifests = chart_crds(context, info)
    newer = newer_crds_in_cluster(context, manifests, annotation)
    if not newer:
        return None
    chart = f"{info.chart or info.chart_ref} {info.version or ''}".strip()
    shown = [f"{name} at {theirs} (this chart's {ours})" for name, theirs, ours in newer[:3]]
    more = f" and {len(newer) - 3} more" if len(newer) > 3 else ""
    newest = max((theirs for _, theirs, _ in newer), key=lambda v: _semver(v))
    return (
        f"release '{info.name}': the cluster's CRDs are newer than those of {chart}: "
        f"{', '.join(shown)}{more} ({annotation}); the CRD step would server-side apply the older ones "
        f"over them, downgrading CRDs every other release of the operator in the cluster relies on: "
        f"deploy a chart version whose CRDs are at {newest} or newer, or set skip_crds = true to "
        f"leave the cluster's CRDs as they are (no CRD step, and helm installs none)"
    )


def _semver(text: str) -> SemVer:
    from firestream_core.model import SemVer

    return SemVer.parse(text.removeprefix("v"))
