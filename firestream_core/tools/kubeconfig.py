"""Which cluster helm and kubectl will talk to: the kube context and its cluster's server URL.

A saved plan (``plan --out``) records it, and ``apply PLAN`` refuses to run
against another cluster. It is read from the kubeconfig the way helm and
kubectl read it (client-go's loading rules), without running either and
without contacting the cluster:

* ``--kubeconfig PATH``: that file alone;
* else every file of ``$KUBECONFIG`` (``os.pathsep``-separated), merged: the
  first file naming a context or a cluster, or setting ``current-context``, wins;
* else ``~/.kube/config``;
* no file at all, inside a pod: the in-cluster API server
  (``$KUBERNETES_SERVICE_HOST``/``_PORT``).

The context is the one given (``--kube-context``, an environment's
``kube_context``), else the kubeconfig's ``current-context``; the server is
its cluster's ``server`` URL with any ``user:password@`` (and a trailing ``/``) removed. Nothing
else of the file is read: no credential leaves it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

__all__ = ["ClusterIdentity", "cluster_identity", "kubeconfig_files"]


@attrs.frozen
class ClusterIdentity:
    """The kube context a run uses and the server URL its cluster names (None when unknown).

    >>> ClusterIdentity("prod", "https://10.0.0.1:6443").describe()
    "kube context 'prod' (server https://10.0.0.1:6443)"
    >>> ClusterIdentity(None, None).describe()
    'no kube context (server unknown)'
    """

    context: str | None
    server: str | None

    def describe(self) -> str:
        """``kube context 'prod' (server https://...)``, for messages."""
        name = f"kube context '{self.context}'" if self.context else "no kube context"
        return f"{name} (server {self.server or 'unknown'})"


def kubeconfig_files(kubeconfig: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> list[Path]:
    """The kubeconfig files helm and kubectl read, in precedence order (existing or not).

    >>> kubeconfig_files(None, {"KUBECONFIG": "/a:/b", "HOME": "/h"})
    [PosixPath('/a'), PosixPath('/b')]
    >>> kubeconfig_files(None, {"HOME": "/h"})
    [PosixPath('/h/.kube/config')]
    """
    if kubeconfig:
        return [Path(kubeconfig)]
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return [Path(p) for p in dict.fromkeys(listed)]
    home = environ.get("HOME") or os.path.expanduser("~")
    return [Path(home) / ".kube" / "config"]


def _read(path: Path) -> Mapping[str, Any] | None:
    """One kubeconfig file's mapping; None when it is missing or unreadable (helm says why).

    Read through :func:`~firestream_core.tools.readfile.read_bounded`: a ``KUBECONFIG``
    naming a FIFO or ``/dev/zero`` never hangs the plan nor fills its memory.
    """
    from firestream_core.tools import kube_yaml
    from firestream_core.tools.readfile import KUBECONFIG_LIMIT, UnreadableFile, read_bounded

    try:
        data = kube_yaml.load(read_bounded(path, KUBECONFIG_LIMIT))
    except (UnreadableFile, kube_yaml.YAMLError):
        return None
    return data if isinstance(data, Mapping) else None


def _named(entries: object, field: str) -> dict[str, Mapping[str, Any]]:
    """``contexts`` / ``clusters``: name -> its ``context`` / ``cluster`` mapping."""
    out: dict[str, Mapping[str, Any]] = {}
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            body = entry.get(field)
            out.setdefault(entry["name"], body if isinstance(body, Mapping) else {})
    return out


def cluster_identity(
    kubeconfig: str | os.PathLike[str] | None = None,
    kube_context: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> ClusterIdentity:
    """The context and server helm and kubectl use with these settings (nothing is run).

    :param kubeconfig: the ``--kubeconfig`` file (else ``$KUBECONFIG``, else ``~/.kube/config``).
    :param kube_context: the context given (else the kubeconfig's ``current-context``).
    :param environ: the children's environment (default ``os.environ``).

    Example::

        identity = cluster_identity("ci/kubeconfig", "prod")
        print(identity.describe())   # kube context 'prod' (server https://10.0.0.1:6443)
    """
    from firestream_core.tools.sensitivity import strip_url_credentials

    environ = os.environ if environ is None else environ
    files = [f for f in kubeconfig_files(kubeconfig, environ) if f.is_file()]
    current: str | None = None
    contexts: dict[str, Mapping[str, Any]] = {}
    clusters: dict[str, Mapping[str, Any]] = {}
    for path in files:
        data = _read(path)
        if data is None:
            continue
        found = data.get("current-context")
        if current is None and isinstance(found, str) and found:
            current = found
        for name, body in _named(data.get("contexts"), "context").items():
            contexts.setdefault(name, body)
        for name, body in _named(data.get("clusters"), "cluster").items():
            clusters.setdefault(name, body)
    context = kube_context or current
    server: Any = None
    if context is not None:
        cluster = contexts.get(context, {}).get("cluster")
        if isinstance(cluster, str):
            server = clusters.get(cluster, {}).get("server")
    elif not files and environ.get("KUBERNETES_SERVICE_HOST"):
        host, port = environ["KUBERNETES_SERVICE_HOST"], environ.get("KUBERNETES_SERVICE_PORT") or "443"
        server = f"https://{f'[{host}]' if ':' in host else host}:{port}"
    if not isinstance(server, str) or not server.strip():
        return ClusterIdentity(context, None)
    return ClusterIdentity(context, strip_url_credentials(server.strip()).rstrip("/"))
