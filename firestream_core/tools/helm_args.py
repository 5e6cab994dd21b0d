"""Where the helm command line is built: argument lists, and the flags helm 3 and helm 4 spell differently.

:class:`~firestream_core.tools.helm.Helm` asks helm's major version once and
passes it here; these functions only build lists (they run nothing). No
value ever appears on a command line: the merged values travel in one 0600
temporary file (``values_path``), ``values_files`` by path.

============================ ================== ============================
ChartInfo / call             helm 3             helm 4
============================ ================== ============================
``atomic``                   ``--atomic``       ``--rollback-on-failure``
``wait``                     ``--wait``         ``--wait=<strategy>``
                                                (``watcher`` by default,
                                                ``legacy`` selectable)
``force_upgrade``            ``--force``        ``--force-replace``
                                                ``--server-side=false``
``dry_run``                  ``--dry-run=client`` (both)
list every status            ``list --all``     ``list`` (all by default)
============================ ================== ============================

A release helm reports ``uninstalled`` (``helm uninstall --keep-history``) is
installed again with ``helm install --replace`` (both majors, ``replace=True``):
``helm upgrade --install`` decides whether the name is free from the last
entry of the release's history *in storage order* (``...v10`` sorts before
``...v9``), so from its tenth revision on it takes the upgrade path and fails
with ``"NAME" has no deployed releases``, on every run. ``install`` has no
``--history-max``, ``--cleanup-on-fail`` nor ``--reset-values``; the next upgrade trims the history.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from firestream_core.model import parse_duration

if TYPE_CHECKING:
    from firestream_core.model import ChartInfo

__all__ = [
    "WAIT_STRATEGIES",
    "chart_args",
    "duration",
    "kube_flags",
    "list_args",
    "rollback_args",
    "seconds",
    "template_args",
    "uninstall_args",
    "upgrade_install_args",
    "values_paths",
    "wait_flags",
]

WAIT_STRATEGIES = ("watcher", "legacy")
"""helm 4 ``--wait`` strategies firestream can ask for (``hookOnly`` = not waiting)."""


def seconds(text: str | int) -> int:
    """A config duration (``300``, ``"5m"``) in whole seconds."""
    return parse_duration(str(text))


def duration(text: str | int) -> str:
    """A config duration as a Go duration helm accepts (``300`` -> ``300s``)."""
    return f"{seconds(text)}s"


def kube_flags(
    kubeconfig: str | os.PathLike[str] | None, kube_context: str | None, *, context_flag: str
) -> list[str]:
    """``--kubeconfig`` / the context flag (helm ``--kube-context``, kubectl ``--context``), when set."""
    flags: list[str] = []
    if kubeconfig is not None:
        flags += ["--kubeconfig", os.fspath(kubeconfig)]
    if kube_context:
        flags += [context_flag, kube_context]
    return flags


def wait_flags(wait: bool, major: int, strategy: str) -> list[str]:
    if not wait:
        return []
    return ["--wait"] if major < 4 else [f"--wait={strategy}"]


def list_args(major: int) -> list[str]:
    """Every release in every namespace, in any status, as JSON."""
    args = ["list", "--all-namespaces", "--max", "0", "--output", "json"]
    if major < 4:
        args.insert(2, "--all")  # helm 4 lists every status by default and has no --all
    return args


def chart_args(info: ChartInfo, project_dir: Path, oci_flags: Callable[[str], list[str]]) -> list[str]:
    """The chart: a local folder's path, or the reference with ``--version`` and its OCI flags.

    ``oci_flags(ref)`` is asked only for a repository or OCI chart (it may log in first).
    """
    if info.path is not None:
        p = Path(info.path)
        return [str(p if p.is_absolute() else project_dir / p)]
    args = [info.chart_ref]
    if info.version:
        args += ["--version", str(info.version)]
    return args + oci_flags(info.chart_ref)


def values_paths(info: ChartInfo, project_dir: Path) -> list[Path]:
    """The config's ``values_files``, relative ones under ``project_dir``, in order."""
    out = []
    for f in info.values_files:
        p = Path(f)
        out.append(p if p.is_absolute() else project_dir / p)
    return out


def _values_args(files: Sequence[Path], values_path: Path | None) -> list[str]:
    args: list[str] = []
    for path in [*files, *([values_path] if values_path is not None else [])]:
        args += ["--values", str(path)]
    return args


def upgrade_install_args(
    info: ChartInfo,
    chart: Sequence[str],
    files: Sequence[Path],
    values_path: Path | None,
    *,
    major: int,
    wait_strategy: str,
    replace: bool = False,
    server_dry_run: bool = False,
) -> list[str]:
    """``helm upgrade --install`` for ``info``; ``values_path`` (the merged values) goes last.

    ``replace``: ``helm install --replace`` instead, for a release helm reports
    ``uninstalled`` (see the module docstring), with the same flags but
    ``--history-max`` and ``--cleanup-on-fail``, which only ``upgrade`` has.
    ``server_dry_run``: the same command with ``--dry-run=server`` (in place of a
    ``dry_run`` release's ``--dry-run=client``): what ``diff`` and ``plan --hooks``
    render, helm's own rendering of this very call (``.Release.Revision`` the one
    it would record), nothing changed.
    """
    ns = info.namespace_name
    if replace:
        args = ["install", info.name, *chart, "--replace"]
    else:
        args = ["upgrade", info.name, *chart, "--install"]
    args += ["--namespace", ns]
    if info.create_namespace:
        args.append("--create-namespace")
    if info.atomic:
        args.append("--atomic" if major < 4 else "--rollback-on-failure")
    if info.force_upgrade:
        if major < 4:
            args.append("--force")
        else:
            # helm 4 refuses force-replace with server-side apply
            args += ["--force-replace", "--server-side=false"]
    args += ["--timeout", duration(info.timeout)]
    # helm 3's --atomic and helm 4's --rollback-on-failure imply waiting.
    waits = info.wait or info.atomic
    args += wait_flags(info.wait, major, wait_strategy)
    if info.wait_for_jobs and waits:
        args.append("--wait-for-jobs")
    if server_dry_run:
        args.append("--dry-run=server")
    elif info.dry_run:
        args.append("--dry-run=client")
    if info.skip_crds:
        args.append("--skip-crds")
    if info.hooks_disabled:
        args.append("--no-hooks")
    if not replace:
        args += ["--history-max", str(int(info.history_max))]
        args.append("--cleanup-on-fail")
        # the values given are all the release's values: without this, an upgrade given none
        # (the config's last value removed) keeps the previous revision's values
        args.append("--reset-values")
    args += _values_args(files, values_path)
    args += ["--output", "json"]
    return args


def template_args(
    info: ChartInfo,
    chart: Sequence[str],
    files: Sequence[Path],
    values_path: Path,
    *,
    include_crds: bool,
    is_upgrade: bool,
    server: bool = False,
    major: int = 3,
) -> list[str]:
    """``helm template`` for ``info`` with the same values as an upgrade.

    ``server``: rendered as an install against the cluster: ``--dry-run=server``
    (the chart's ``lookup`` reads it), plus helm 3's ``--validate`` for what helm
    4's ``--dry-run=server`` does by itself and refuses beside it (the objects'
    kinds checked, an object another release owns refused, the cluster's
    ``.Capabilities``)."""
    args = ["template", info.name, *chart]
    args += ["--namespace", info.namespace_name]
    if include_crds and not info.skip_crds:
        args.append("--include-crds")
    if info.skip_crds:
        args.append("--skip-crds")
    if info.hooks_disabled:
        args.append("--no-hooks")
    if is_upgrade:
        args.append("--is-upgrade")
    if server:
        args.append("--dry-run=server")
        if major < 4:
            args.append("--validate")
    return args + _values_args(files, values_path)


def uninstall_args(
    name: str, namespace: str, timeout: str | int, wait: Sequence[str], *, keep_history: bool = False,
    no_hooks: bool = False,
) -> list[str]:
    args = ["uninstall", name, "--namespace", namespace, "--timeout", duration(timeout), *wait]
    if no_hooks:  # hooks_disabled: no pre-delete / post-delete hook runs either
        args.append("--no-hooks")
    return [*args, "--keep-history"] if keep_history else args


def rollback_args(
    name: str, namespace: str, revision: int | None, timeout: str | int, wait: Sequence[str], history_max: int,
    *, no_hooks: bool = False,
) -> list[str]:
    args = ["rollback", name]
    if revision is not None:
        args.append(str(int(revision)))
    args += ["--namespace", namespace, "--timeout", duration(timeout), *wait]
    if no_hooks:  # hooks_disabled: no pre-rollback / post-rollback hook runs either
        args.append("--no-hooks")
    return args + ["--history-max", str(int(history_max)), "--cleanup-on-fail"]
