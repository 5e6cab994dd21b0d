"""The ``monitoring.coreos.com`` CRDs: upgraded with the chart, deleted only on request.

helm installs a chart's ``crds/`` folders on the first install and never
again, so an upgraded kube-prometheus-stack would run a newer operator
against old CRDs. Before an upgrade the plugin reads the CRDs of the chart
version being deployed (``helm pull`` through the helm layer, or the local
chart folder) and server-side applies them (manifests on stdin).
"""

from __future__ import annotations

import io
import re
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firestream_core.context import DeployContext
    from firestream_core.model import ChartInfo

GROUP = "monitoring.coreos.com"

CRDS: tuple[str, ...] = (
    "prometheuses.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
    "servicemonitors.monitoring.coreos.com",
    "podmonitors.monitoring.coreos.com",
    "alertmanagers.monitoring.coreos.com",
    "thanosrulers.monitoring.coreos.com",
    "probes.monitoring.coreos.com",
)
"""The seven CRDs the original checks and deletes."""

_SUFFIXES = (".yaml", ".yml", ".json")
_DELETED = r'"([a-z0-9.-]+)" deleted'  # compiled on first use, not at import
_MAX_CRD_BYTES = 64 * 1024 * 1024


def _is_crd_file(path: PurePosixPath, root_depth: int = 1) -> bool:
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
            if not _is_crd_file(PurePosixPath(member.name)):
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
        if p.is_file() and _is_crd_file(PurePosixPath(p.relative_to(folder).as_posix()), 0)
    ]


def chart_crds(context: DeployContext, info: ChartInfo) -> str:
    """The CRD manifests of the chart version ``info`` deploys, as one YAML stream."""
    if info.path is not None:
        docs = _from_folder(context.resolve(info.path))
    else:
        with tempfile.TemporaryDirectory(prefix="firestream-crds-") as tmp:
            archive = context.helm.pull(info.chart_ref, info.version, tmp)
            docs = _from_archive(archive)
    return "\n---\n".join(d.strip() for d in docs if d.strip()) + "\n"


def crd_names(manifests: str) -> list[str]:
    """The names of the CustomResourceDefinitions in a YAML stream."""
    import yaml

    return [
        str(doc["metadata"]["name"])
        for doc in yaml.safe_load_all(manifests)
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
    ]


def installed_crds(context: DeployContext) -> list[str]:
    """Every ``*.monitoring.coreos.com`` CRD in the cluster (the seven and any newer ones)."""
    listed = context.kubectl.get("customresourcedefinition") or {}
    names = [
        str((item.get("metadata") or {}).get("name", ""))
        for item in listed.get("items") or []
        if (item.get("spec") or {}).get("group") == GROUP
    ]
    return sorted(n for n in names if n)


def apply_crds(context: DeployContext, info: ChartInfo) -> list[str]:
    """Server-side apply the chart's CRDs (field manager ``firestream``); their names."""
    manifests = chart_crds(context, info)
    names = crd_names(manifests)
    if not names:
        return []
    context.log.info(
        "release '%s': applying %d CRDs of %s %s before the upgrade",
        info.name, len(names), info.chart, info.version or "",
    )
    context.kubectl.apply_server_side(manifests)
    return names


def delete_crds(context: DeployContext, info: ChartInfo) -> list[str]:
    """Delete the seven CRDs and any other ``monitoring.coreos.com`` one; the names deleted.

    One ``kubectl delete`` for all of them, waiting until they are gone.
    """
    from firestream_core.model import parse_duration

    present = installed_crds(context)
    names = sorted(n for n in set(CRDS) | set(present) if n in present)
    if not names:
        return []
    argv = [
        "kubectl", "delete", "customresourcedefinition", *names,
        "--ignore-not-found", "--wait=true", f"--timeout={parse_duration(info.timeout)}s",
    ]
    done = context.kubectl.run(argv, label=info.name, timeout=parse_duration(info.timeout) + 60)
    deleted = sorted(set(re.findall(_DELETED, done.stdout)) & set(names))
    context.log.warning(
        "release '%s': deleted %d monitoring.coreos.com CRDs (delete_crds = true)",
        info.name, len(deleted),
    )
    return deleted
