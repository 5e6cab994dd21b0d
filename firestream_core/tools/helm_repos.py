"""firestream's own helm repositories: each run adds them to a configuration of its own.

``helm repo add NAME URL`` writes into one machine-wide file (``repositories.yaml``,
``$HELM_REPOSITORY_CONFIG``) and fetches the index into one cache
(``$HELM_REPOSITORY_CACHE``), which every other tool of the machine reads too. Were
firestream to add its repositories there, an operator's ``bitnami`` pointing at an
internal mirror would be replaced by a chart type's public URL, and two projects (or
two runs) naming one repository with different URLs would race: one could install the
other's chart.

So every helm call a :class:`~firestream_core.tools.helm.Helm` makes is given (in its
environment: ``HELM_REPOSITORY_CONFIG``, ``HELM_REPOSITORY_CACHE``) a folder of that
``Helm`` alone, one per run::

    $FIRESTREAM_CACHE_DIR/helm-repositories/<pid>@<host>@<random>/repositories.yaml
                                                                 /cache/

made (mode 0700, so the credentials ``helm repo add --username`` writes into its
``repositories.yaml`` are the user's alone) on the first call, and removed when the
``Helm`` is, at the latest when the process ends. Two runs never see each other's
entries, whatever names and URLs they use, and the repositories a run uses are exactly
those of its project (``[repositories]`` and the chart types' defaults: a repository
without a URL is refused before any helm call). A run that was killed leaves its folder
behind: the next run (process) removes it once its process is gone (same host), or
after :data:`STALE_SECONDS`.

The same folder holds the run's registry config (``HELM_REGISTRY_CONFIG``,
``registry.json``): a 0600 copy of the user's (:func:`users_registry_config`), so the
logins the user made work, while the login of a ``[registries]`` entry is written to the
copy and goes with the folder, never into the user's file.

The one exception is ``firestream import deployment``, which looks for a release's chart
among the operator's own repositories: :meth:`~firestream_core.tools.helm.Helm.repo_list`
and :meth:`~firestream_core.tools.helm.Helm.search_repo` read helm's usual configuration,
and write nothing.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping

from firestream_core.tools.cache_folder import cache_dir
from firestream_core.tools.host import pid_alive

log = logging.getLogger("firestream.helm")

__all__ = ["REGISTRY_CONFIG_ENV", "REPOSITORY_CACHE_ENV", "REPOSITORY_CONFIG_ENV", "STALE_SECONDS",
           "RepositoryHome", "users_registry_config"]

REPOSITORY_CONFIG_ENV = "HELM_REPOSITORY_CONFIG"
"""helm's variable naming its repositories file (``--repository-config``)."""
REPOSITORY_CACHE_ENV = "HELM_REPOSITORY_CACHE"
"""helm's variable naming its repository cache folder (``--repository-cache``)."""
REGISTRY_CONFIG_ENV = "HELM_REGISTRY_CONFIG"
"""helm's variable naming the file ``helm registry login`` stores logins in (``--registry-config``)."""
REGISTRY_FILE = "registry.json"
"""The run's registry config, in its folder: a copy of the user's, which a login writes to."""
_REGISTRY_LIMIT = 1024 * 1024
"""A user's registry config larger than this is not copied (the run then starts without it)."""

FOLDER = "helm-repositories"
"""The folder, in firestream's cache folder, holding one folder per running ``Helm``."""

STALE_SECONDS = 7 * 86400
"""A run's folder untouched this long is removed by the next run, whatever its process."""


_pruned: set[str] = set()
"""The parents :func:`prune_left_behind` ran in, in this process."""


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", os.uname().nodename) or "host"


class RepositoryHome:
    """The repositories file and cache of one run (see the module doc).

    :param parent: the folder to make the run's folder in; default
        ``<firestream's cache folder>/helm-repositories``.
    :param environ: where ``FIRESTREAM_CACHE_DIR`` is read (default ``os.environ``).

    The folder is made on first use (:meth:`env`, once even from several threads) and
    removed by :meth:`close`, when the object is garbage-collected, or when the
    interpreter exits.
    """

    def __init__(self, parent: str | os.PathLike[str] | None = None, *,
                 environ: Mapping[str, str] | None = None) -> None:
        if parent is None:
            parent = os.path.join(cache_dir(os.environ if environ is None else environ), FOLDER)
        self.parent = os.fspath(parent)
        self._path: str | None = None
        self._finalizer: weakref.finalize[..., RepositoryHome] | None = None
        self._lock = threading.Lock()  # helm's version and list start together: one folder
        self.registry_source: str | None = None
        """The user's registry config (:func:`users_registry_config`), copied into the run's
        folder when it is made: its stored logins work, and a login of the run's
        (``[registries]``) is written to the copy, removed with the folder."""

    def __repr__(self) -> str:
        return f"RepositoryHome({self._path or self.parent!r})"

    def __deepcopy__(self, memo: dict[int, object]) -> RepositoryHome:
        return self  # one run, one folder: a copy would remove it under the original

    @property
    def path(self) -> str:
        """The run's folder, made (0700) on first use."""
        with self._lock:
            return self._path if self._path is not None else self._make()

    def _make(self) -> str:
        prefix = f"{os.getpid()}@{_host()}@"
        try:
            os.makedirs(self.parent, mode=0o700, exist_ok=True)
            if self.parent not in _pruned:  # once per process: a test session makes thousands
                _pruned.add(self.parent)
                prune_left_behind(self.parent)
            path = tempfile.mkdtemp(prefix=prefix, dir=self.parent)  # 0700
        except OSError as exc:  # a read-only cache folder: the temporary folder will do
            path = tempfile.mkdtemp(prefix=f"firestream-helm-repositories-{prefix}")
            log.debug("cannot use %s (%s): helm's repositories of this run in %s", self.parent,
                      exc.strerror or exc, path)
        self._path = path
        self._finalizer = weakref.finalize(self, _remove, path, os.getpid())
        _copy_private(self.registry_source, os.path.join(path, REGISTRY_FILE))
        return path

    @property
    def config(self) -> str:
        """The run's ``repositories.yaml`` (helm writes it, mode 0600)."""
        return os.path.join(self.path, "repositories.yaml")

    @property
    def cache(self) -> str:
        """The run's repository cache: the indexes and the charts helm downloads."""
        return os.path.join(self.path, "cache")

    @property
    def registry_config(self) -> str:
        """The run's registry config: the logins helm reads, and writes on ``helm registry login``."""
        return os.path.join(self.path, REGISTRY_FILE)

    def env(self) -> dict[str, str]:
        """The variables that point a helm call at the run's repositories and registry logins."""
        return {REPOSITORY_CONFIG_ENV: self.config, REPOSITORY_CACHE_ENV: self.cache,
                REGISTRY_CONFIG_ENV: self.registry_config}

    def keep_private(self) -> None:
        """Make the run's ``repositories.yaml`` 0600 again, whatever mode a helm wrote it with
        (helm 3.19 and 4.3 write 0600): it holds the credentials of ``helm repo add --username``."""
        try:
            os.chmod(self.config, 0o600)
        except OSError:
            pass

    def close(self) -> None:
        """Remove the run's folder (a later call makes a new, empty one)."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._finalizer = None
            self._path = None


def users_registry_config(environ: Mapping[str, str]) -> str:
    """The registry config the user's helm reads and ``helm registry login`` writes, found as
    helm finds it: ``$HELM_REGISTRY_CONFIG``, else ``registry/config.json`` in helm's config
    folder (``$HELM_CONFIG_HOME``, else ``$XDG_CONFIG_HOME/helm``, else the platform's).

    >>> users_registry_config({"HELM_CONFIG_HOME": "/etc/helm"})
    '/etc/helm/registry/config.json'
    >>> users_registry_config({"XDG_CONFIG_HOME": "/cfg", "HELM_REGISTRY_CONFIG": "/r.json"})
    '/r.json'
    """
    if environ.get(REGISTRY_CONFIG_ENV):
        return environ[REGISTRY_CONFIG_ENV]
    base = environ.get("HELM_CONFIG_HOME")
    if not base:
        home = environ.get("HOME") or os.path.expanduser("~")
        if sys.platform == "darwin":
            base = os.path.join(home, "Library", "Preferences", "helm")
        else:
            base = os.path.join(environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "helm")
    return os.path.join(base, "registry", "config.json")


def _copy_private(source: str | None, target: str) -> None:
    """``source``'s bytes into a new ``target`` of mode 0600; nothing when it is missing,
    unreadable or over :data:`_REGISTRY_LIMIT` (the run starts without the user's logins)."""
    if not source:
        return
    try:
        with open(source, "rb") as f:
            data = f.read(_REGISTRY_LIMIT + 1)
        if len(data) > _REGISTRY_LIMIT:
            return
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except OSError:
        return


def _remove(path: str, pid: int) -> None:
    if os.getpid() == pid:  # not from a forked child, whose parent still uses it
        shutil.rmtree(path, ignore_errors=True)


def prune_left_behind(parent: str, *, now: float | None = None) -> None:
    """Remove the folders of runs that ended without removing theirs (killed): those of this
    host whose process is gone, and any untouched for :data:`STALE_SECONDS`. Errors are ignored."""
    now = time.time() if now is None else now
    host = _host()
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        pid, _, rest = name.partition("@")
        where, _, _ = rest.partition("@")
        if not pid.isdigit() or not where:
            continue
        path = os.path.join(parent, name)
        try:
            stale = os.stat(path).st_mtime < now - STALE_SECONDS
        except OSError:
            continue
        if stale or (where == host and not pid_alive(int(pid))):
            shutil.rmtree(path, ignore_errors=True)
