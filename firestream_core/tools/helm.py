"""``Helm``: every helm operation firestream performs, for helm 3 and helm 4.

The operations; their rules:

* Programs run only through :class:`~firestream_core.tools.process.Runner`, as
  argument lists; no value ever appears on one. Chart values reach helm in
  one private temporary file (mode 0600, removed afterwards, see
  :func:`~firestream_core.tools.values.values_file`); ``values_files`` from the
  config are passed by path (paths are not secret); passwords go on stdin.
* Every call is given this run's own repositories file and cache
  (:mod:`~firestream_core.tools.helm_repos`): ``repo add`` never writes the
  user's, and a chart ``repo/name`` comes from the URL the project gives ``repo``.
* The helm major version is asked once (lazily) and decides the flags; a
  ``list_releases`` before it is known asks it at the same time (two helm
  processes at once, not one after the other). The command lines, and what
  helm 3 and 4 spell differently, are built in :mod:`~firestream_core.tools.helm_args`.
* Failures are typed from helm's exit and stderr
  (:mod:`~firestream_core.tools.helm_errors`), and the message names the
  operation and release and carries helm's stderr with every known value
  of the call hidden. helm's output is read in :mod:`~firestream_core.tools.helm_output`.
* A helm process stopped by ``Runner.terminate_all`` (Ctrl-C, a stage
  timeout) raises :class:`~firestream_core.errors.CancelledError` naming
  the release.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from firestream_core.errors import (
    ChartNotFoundError,
    HelmCommandError,
    HelmError,
    HelmTimeoutError,
    RegistryAuthError,
)
from firestream_core.model import InstalledRelease
from firestream_core.tools import helm_args as helmargs
from firestream_core.tools.helm_args import WAIT_STRATEGIES, duration, seconds
from firestream_core.tools.helm_errors import ReleaseNotFoundError, classify, helm_error, summarize
from firestream_core.tools.helm_output import (
    TestResult,
    TestRun,
    UpgradedRelease,
    parse_json,
    parse_list,
    parse_rendered,
    parse_test_suite,
    parse_upgrade,
)
from firestream_core.tools.helm_repos import RepositoryHome, users_registry_config
from firestream_core.tools.kubetool import KubeTool
from firestream_core.tools.process import Completed, Runner
from firestream_core.tools.redact import Redactor
from firestream_core.tools.release_log import Beside, release_logger
from firestream_core.tools.values import file_documents, merged_values, values_file

if TYPE_CHECKING:
    from firestream_core.model import ChartInfo

__all__ = ["ENV_HELM_BINARY", "Helm", "Registries", "RepoAccess"]

# The command lines live in helm_args, the error typing in helm_errors and helm's output in
# helm_output.

log = release_logger("firestream.helm")  # during a lifecycle its lines name the release

ENV_HELM_BINARY = "FIRESTREAM_HELM_BINARY"
"""Environment variable naming the helm binary (default: ``helm`` on PATH)."""

SUPPORTED_MAJORS = (3, 4)
"""The helm majors whose command lines firestream writes (``tools/helm_args.py``)."""


@attrs.frozen
class RepoAccess:
    """How ``helm repo add`` reaches a classic chart repository (its host's ``[registries]``
    entry, from :meth:`Registries.repo_access`).

    :ivar username: the user (None: no credentials, only TLS settings).
    :ivar password: the password, read at run time (already given to the redactor).
    :ivar insecure: skip TLS certificate verification.
    :ivar source: where the password came from, for messages (``$VAR``, ``file 'path'``).
    """

    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    insecure: bool = False
    source: str = "nowhere"


class Registries(Protocol):
    """What ``Helm`` asks of its ``registries`` (:class:`~firestream_core.tools.oci.RegistryLogins`)."""

    def prepare(self, helm: Helm, ref: str) -> list[str]:
        """Log in to ``ref``'s registry once if it has credentials; its flags (``--plain-http``...)."""
        ...

    def repo_access(self, helm: Helm, url: str) -> RepoAccess | None:
        """The credentials and TLS setting of the chart repository at ``url`` (its host's entry)."""
        ...


def _repo_refused(name: str, url: str, username: str | None, source: str | None, exc: HelmError) -> RegistryAuthError:
    """A chart repository's 401/403 on ``helm repo add``, as one message naming what to check
    (``source``: where the password came from, when the host's entry gave it)."""
    from urllib.parse import urlsplit

    host = urlsplit(url).netloc
    if username:
        return RegistryAuthError(
            f"chart repository '{name}' ({url}) refused the credentials of user '{username}'"
            + (f" (password from {source})" if source else ""),
            stderr=exc.stderr,
            hint=f"check the user name and the password{f' in {source}' if source else ''}",
        )
    return RegistryAuthError(
        f"chart repository '{name}' ({url}) asks for credentials, and none are configured for {host}",
        stderr=exc.stderr,
        hint=f'give them in [registries."{host}"]: username, and password_env or password_file '
        "(they reach helm on stdin, never on its command line)",
    )


# -- the Helm class ---------------------------------------------------------------------------


class Helm(KubeTool):
    """Runs helm for firestream.

    :param runner: the process runner (a shared one lets ``terminate_all``
        stop every helm of a run); a new one by default.
    :param binary: the helm binary; default ``$FIRESTREAM_HELM_BINARY``,
        else ``helm`` on PATH.
    :param kubeconfig: passed as ``--kubeconfig``.
    :param kube_context: passed as ``--kube-context``.
    :param env: variables added to helm's environment (``KUBECONFIG``,
        ``HELM_*_HOME``, proxies...).
    :param redactor: values hidden from errors and logs; every call also
        hides the values it passed.
    :param wait_strategy: helm 4's ``--wait`` strategy, ``watcher`` (default)
        or ``legacy``; helm 3 has one way to wait.
    :param registries: the ``[registries]`` logins and TLS settings
        (:class:`~firestream_core.tools.oci.RegistryLogins`).
    :param repository_home: the repositories file and cache every call is given
        (``HELM_REPOSITORY_CONFIG``, ``HELM_REPOSITORY_CACHE``); default a folder of
        this instance alone, under firestream's cache folder
        (:mod:`~firestream_core.tools.helm_repos`): the user's own helm repositories
        are never written, and only :meth:`repo_list` / :meth:`search_repo` read them.
    """

    program = "helm"
    binary_env = ENV_HELM_BINARY
    context_flag = "--kube-context"

    def __init__(
        self,
        runner: Runner | None = None,
        binary: str | os.PathLike[str] | None = None,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        kube_context: str | None = None,
        env: Mapping[str, str] | None = None,
        redactor: Redactor | None = None,
        wait_strategy: str = "watcher",
        registries: Registries | None = None,
        repository_home: RepositoryHome | None = None,
    ) -> None:
        if wait_strategy not in WAIT_STRATEGIES:
            raise ValueError(
                f"unknown helm wait strategy {wait_strategy!r}: use one of {', '.join(WAIT_STRATEGIES)}"
            )
        super().__init__(runner, binary, kube_context=kube_context, env=env, redactor=redactor)
        self.kubeconfig: Path | None = Path(kubeconfig) if kubeconfig is not None else None
        self.wait_strategy = wait_strategy
        # firestream_core.tools.oci.RegistryLogins: login once per registry, --plain-http...
        self.registries: Registries | None = registries
        self.repository_home = repository_home if repository_home is not None else RepositoryHome()
        if self.repository_home.registry_source is None:  # the logins this helm would read
            self.repository_home.registry_source = users_registry_config({**os.environ, **self.env})
        self._lock = threading.Lock()
        self._version: str | None = None
        self._repos_done: set[tuple[str, str]] = set()
        self._repo_locks: dict[tuple[str, str], threading.Lock] = {}

    def __repr__(self) -> str:
        return f"Helm(binary={self.binary!r}, kubeconfig={str(self.kubeconfig) if self.kubeconfig else None!r})"

    def program_env(self) -> dict[str, str]:
        """The environment for another program run against this helm's cluster (a chart's
        ``pre_upgrade_commands``): :meth:`KubeTool.program_env` and this run's repositories,
        so a ``helm`` it runs never writes the user's either."""
        return {**super().program_env(), **self.repository_home.env()}

    # -- version ----------------------------------------------------------------
    @property
    def version(self) -> str:
        """helm's version (``v3.19.0``), asked once per instance."""
        with self._lock:
            if self._version is None:
                self._version = self._ask_version()
            return self._version

    @property
    def major(self) -> int:
        """helm's major version, 3 or 4 (asked once per instance)."""
        m = re.match(r"v?(\d+)\.", self.version)
        assert m is not None  # checked in _ask_version
        return int(m.group(1))

    def _ask_version(self) -> str:
        for args in (["version", "--template", "{{.Version}}"], ["version", "--short"]):
            result = self._run("version", args, kube=False, check=False)
            text = result.stdout.strip()
            m = re.search(r"v?(\d+)\.\d+\.\d+[0-9A-Za-z.+-]*", text)
            if result.ok and m:
                version = m.group(0).split("+", 1)[0]
                # the flags firestream passes are helm 3's and helm 4's: another major (2, or a
                # helm 5 that changed them again) is refused before it is handed a command line
                if int(m.group(1)) not in SUPPORTED_MAJORS:
                    raise HelmCommandError(
                        f"helm {version} is not supported: firestream needs helm 3 or 4",
                        hint="install helm 3 or 4 (https://helm.sh/docs/intro/install/)",
                    )
                return version
        raise HelmCommandError(
            f"cannot tell the version of '{self.binary}': 'helm version' printed nothing usable",
            stderr=self.redactor.redact(result.stderr),
        )

    # -- running --------------------------------------------------------------------
    def _run(
        self,
        op: str,
        args: Sequence[str],
        *,
        release: str | None = None,
        namespace: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
        redactor: Redactor | None = None,
        kube: bool = True,
        check: bool = True,
        users_repositories: bool = False,
    ) -> Completed:
        """Run ``helm <args>`` and raise a typed error when it fails (unless ``check`` is off).

        helm is given this run's own repositories (:attr:`repository_home`), or with
        ``users_repositories`` the user's (``firestream import``'s reads alone).
        """
        what = f"helm {op}" + (f" of release '{release}'" if release else "")
        env = self.env if users_repositories else {**self.env, **self.repository_home.env()}
        result = self._call(args, what=what, kube=kube, stdin=stdin, timeout=timeout, label=release, env=env)
        if not check or result.ok:
            return result
        raise self._failure(op, result, release=release, namespace=namespace, redactor=redactor)

    def _failure(
        self,
        op: str,
        result: Completed,
        *,
        release: str | None,
        namespace: str | None,
        redactor: Redactor | None,
    ) -> HelmError:
        stderr = self._redacted_stderr(result, redactor)
        return helm_error(op, result, stderr, release=release, namespace=namespace)

    def _call_redactor(self, values: Mapping[str, Any] | None = None, files: Iterable[Path] = ()) -> Redactor:
        """The instance's redactor plus this call's sensitive values (docs/secrets.md)."""
        red = self.redactor.copy()
        if values:
            red.add_values(values)
        for document in file_documents(files):
            red.add_values(document)
        return red

    # -- release state ---------------------------------------------------------------
    def list_releases(self) -> list[InstalledRelease]:
        """Every release in every namespace, in any status (pending-* included), in ONE call.

        While helm's version is not known yet, ``helm version`` runs at the same
        time as the list (see :meth:`_list_asking_version`).
        """
        if self._version is None:
            result = self._list_asking_version()
        else:
            result = self._run("list", helmargs.list_args(self.major))
        return parse_list(result.stdout)

    def _list_asking_version(self) -> Completed:
        """``helm version`` and ``helm list`` at once: both spawned, then both waited for.

        The list's flags depend on the major version (helm 3 needs ``--all``, helm 4
        refuses it), so it is started with helm 3's. When the version says helm 4, that
        list was refused by helm's flag parsing before it reached the cluster, and
        the list runs again with helm 4's flags: helm 4 waits as long as when the two
        ran one after the other, helm 3 (one helm start-up and cluster call fewer on
        the way to the plan) does not wait for the version first.

        A version that cannot be told (helm missing, helm 2, nothing usable printed)
        is the error raised, whatever the list did.
        """
        # in this thread's context: the release a lifecycle runs for names the version's log line too
        asking = Beside(lambda: self.version, name="helm-version")  # asked once, under the instance's lock
        try:
            listed = self._run("list", helmargs.list_args(3), check=False)
        except Exception:
            if (failed := asking.wait()) is not None:
                raise failed from None
            raise
        # (Ctrl-C stopped the list and propagates at once: the version call ends by itself)
        asking.result()
        if self.major != 3:
            return self._run("list", helmargs.list_args(self.major))
        if not listed.ok:
            raise self._failure("list", listed, release=None, namespace=None, redactor=None)
        return listed

    def status(self, name: str, namespace: str) -> dict[str, Any]:
        """``helm status -o json`` of a release (raises ``ReleaseNotFoundError`` when absent)."""
        result = self._run(
            "status", ["status", name, "--namespace", namespace, "--output", "json"],
            release=name, namespace=namespace,
        )
        data = parse_json(result.stdout, "status") or {}
        self._hide_release_values(data)
        return data

    def history(self, name: str, namespace: str) -> list[dict[str, Any]]:
        """The release's revisions, oldest first (``revision``, ``status``, ``chart``, ...)."""
        result = self._run(
            "history", ["history", name, "--namespace", namespace, "--output", "json"],
            release=name, namespace=namespace,
        )
        return list(parse_json(result.stdout, "history") or [])

    def get_values(self, name: str, namespace: str, all_values: bool = False) -> dict[str, Any]:
        """The release's user-supplied values (or all computed values).

        The secret-looking values read are added to this instance's redactor:
        whatever is logged or raised afterwards cannot show them.
        """
        args = ["get", "values", name, "--namespace", namespace, "--output", "json"]
        if all_values:
            args.append("--all")
        result = self._run("get values", args, release=name, namespace=namespace)
        values = parse_json(result.stdout, "get values") or {}
        self.redactor.add_values(values)
        return values

    def get_manifest(self, name: str, namespace: str) -> str:
        """The rendered manifest of the release's current revision."""
        result = self._run(
            "get manifest", ["get", "manifest", name, "--namespace", namespace],
            release=name, namespace=namespace,
        )
        return result.stdout

    def get_hooks(self, name: str, namespace: str, revision: int | None = None) -> str:
        """The rendered hooks of the release's current revision, or of ``revision`` (``helm get hooks``)."""
        args = ["get", "hooks", name, "--namespace", namespace]
        if revision is not None:
            args += ["--revision", str(int(revision))]
        result = self._run("get hooks", args, release=name, namespace=namespace)
        return result.stdout

    def _hide_release_values(self, data: Mapping[str, Any]) -> None:
        config = data.get("config")
        if isinstance(config, Mapping):
            self.redactor.add_values(config)

    # -- changing releases -------------------------------------------------------------
    def _wait_flags(self, wait: bool) -> list[str]:
        return helmargs.wait_flags(wait, self.major, self.wait_strategy)

    def _chart_args(self, info: ChartInfo, project_dir: Path) -> list[str]:
        return helmargs.chart_args(info, project_dir, self._oci_flags)

    def _oci_flags(self, ref: str) -> list[str]:
        """For an ``oci://`` chart: log in to its registry once (see ``oci.py``), then its flags."""
        if self.registries is None or not ref.startswith("oci://"):
            return []
        return list(self.registries.prepare(self, ref))

    def upgrade_install_args(
        self, info: ChartInfo, project_dir: Path, values_path: Path | None = None, *, replace: bool = False,
        server_dry_run: bool = False,
    ) -> list[str]:
        """The ``helm upgrade --install`` arguments for ``info`` (:func:`.helmargs.upgrade_install_args`).

        ``values_path`` is the temporary merged values file, passed last;
        ``replace``: ``helm install --replace`` instead (a release helm reports ``uninstalled``);
        ``server_dry_run``: the same call as a ``--dry-run=server`` (:meth:`render_release`).
        """
        major = self.major
        return helmargs.upgrade_install_args(
            info, self._chart_args(info, project_dir), helmargs.values_paths(info, project_dir),
            values_path, major=major, wait_strategy=self.wait_strategy, replace=replace,
            server_dry_run=server_dry_run,
        )

    def upgrade_install(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> int:
        """``helm upgrade --install`` the release described by ``info``; returns its revision.

        Every ``ChartInfo`` option is honoured (see the module table). The
        ``values_files`` are given by path, in order; the merged values
        (``yaml_files_content``, then ``values`` pairs, then ``extra_values``)
        go last, in one 0600 temporary file removed afterwards. ``replace``
        installs a release helm reports ``uninstalled`` (``helm uninstall
        --keep-history``) again with ``helm install --replace``, which helm's
        ``upgrade --install`` may refuse (``has no deployed releases``, see
        :mod:`~firestream_core.tools.helm_args`).

        :raises RenderError, ChartNotFoundError, ReleaseLockedError,
            HelmTimeoutError, ClusterUnreachableError, HelmCommandError:
            by what helm reported; :class:`CancelledError` when interrupted.
        """
        return self.upgrade_install_release(info, project_dir, extra_values=extra_values,
                                            replace=replace).revision

    def upgrade_install_release(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> UpgradedRelease:
        """:meth:`upgrade_install`, returning helm's record of the new revision.

        The same single ``helm upgrade --install ... --output json`` (``helm
        install --replace ... --output json`` with ``replace``); its
        output gives the revision and the status helm left the release in,
        so a caller need not ask ``helm status`` right afterwards.
        """
        project_dir = Path(project_dir)
        values = merged_values(info, extra_values)
        files = helmargs.values_paths(info, project_dir)
        red = self._call_redactor(values, files)
        # helm itself waits up to the timeout, twice with a rollback; the
        # runner's timeout is only a safety net against a hung helm.
        limit = info.timeout_seconds * (2 if info.atomic else 1) + 120
        with values_file(values) as tmp:
            argv = self.upgrade_install_args(info, project_dir, tmp, replace=replace)
            result = self._run(
                argv[0], argv, release=info.name, namespace=info.namespace_name,
                timeout=limit, redactor=red,
            )
        return parse_upgrade(info.name, info.namespace_name, result.stdout)

    def uninstall(
        self,
        name: str,
        namespace: str,
        *,
        wait: bool = True,
        timeout: str | int = "300s",
        ignore_not_found: bool = True,
        keep_history: bool = False,
        no_hooks: bool = False,
    ) -> bool:
        """``helm uninstall``; True when a release was removed, False when there was none.

        Without ``ignore_not_found`` a missing release raises ``ReleaseNotFoundError``.
        ``keep_history``: ``--keep-history`` (helm then lists the release ``uninstalled``).
        ``no_hooks``: ``--no-hooks`` (a release with ``hooks_disabled``: no delete hook runs).
        """
        # Not helm's --ignore-not-found: it reports "uninstalled" either way,
        # and firestream wants to know which it was.
        args = helmargs.uninstall_args(name, namespace, timeout, self._wait_flags(wait), keep_history=keep_history,
                                       no_hooks=no_hooks)
        try:
            self._run(
                "uninstall", args, release=name, namespace=namespace,
                timeout=seconds(timeout) + 120,
            )
        except ReleaseNotFoundError:
            if ignore_not_found:
                return False
            raise
        return True

    def rollback(
        self,
        name: str,
        namespace: str,
        revision: int | None = None,
        *,
        wait: bool = True,
        timeout: str | int = "300s",
        history_max: int = 50,
        no_hooks: bool = False,
    ) -> None:
        """Roll the release back to ``revision`` (default: the previous one); ``no_hooks``:
        ``--no-hooks`` (a release with ``hooks_disabled``: no pre-/post-rollback hook runs)."""
        args = helmargs.rollback_args(name, namespace, revision, timeout, self._wait_flags(wait), history_max,
                                      no_hooks=no_hooks)
        self._run(
            "rollback", args, release=name, namespace=namespace,
            timeout=seconds(timeout) + 120,
        )

    def template(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        include_crds: bool = True,
        is_upgrade: bool = False,
        server: bool = False,
    ) -> str:
        """Render the release (``helm template``) with the same values as an upgrade.

        ``is_upgrade`` renders it as an upgrade of an installed release
        (``.Release.IsUpgrade``), as ``diff`` does for deployed releases.
        Offline unless ``server``: then rendered against the cluster, as apply
        installs it (``--dry-run=server``, helm 3's ``--validate``): the chart's
        ``lookup`` reads it (a password bitnami's charts keep in their Secret),
        and an object another release owns is refused, for ``diff`` and ``plan --hooks``.
        """
        project_dir = Path(project_dir)
        values = merged_values(info, extra_values)
        files = helmargs.values_paths(info, project_dir)
        red = self._call_redactor(values, files)
        with values_file(values) as tmp:
            args = helmargs.template_args(
                info, self._chart_args(info, project_dir), files, tmp,
                include_crds=include_crds, is_upgrade=is_upgrade, server=server,
                major=self.major if server else 3,
            )
            result = self._run(
                "template", args, release=info.name, namespace=info.namespace_name,
                redactor=red, kube=server,
            )
        return result.stdout

    def render_release(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> str:
        """The release as :meth:`upgrade_install_release` would install it now, rendered by helm
        itself: the same arguments (:meth:`upgrade_install_args`, ``replace`` alike) with
        ``--dry-run=server``. Unlike ``helm template`` (always revision 1), helm renders it with
        the revision it would record (``.Release.Revision``: a Job named after it, a
        ``checksum/revision`` annotation) and as an install or an upgrade as it would decide;
        against the cluster, so ``lookup`` reads it and an object another release owns is refused.

        Returned as ``helm template`` prints it: the manifest, then each hook under its
        ``# Source:`` line (none with ``hooks_disabled``, as ``--no-hooks`` prints none).
        Only ``manifest`` and ``hooks`` are read from helm's JSON: its ``config`` and
        ``chart`` (the values, secrets among them) are neither kept nor logged.

        :raises HelmError: as the upgrade would fail (``ReleaseLockedError`` for a ``pending-*`` release).
        """
        project_dir = Path(project_dir)
        values = merged_values(info, extra_values)
        red = self._call_redactor(values, helmargs.values_paths(info, project_dir))
        with values_file(values) as tmp:
            argv = self.upgrade_install_args(info, project_dir, tmp, replace=replace, server_dry_run=True)
            # named as the dry run it is: "helm upgrade --dry-run=server failed for release ..."
            result = self._run(f"{argv[0]} --dry-run=server", argv, release=info.name,
                               namespace=info.namespace_name, redactor=red)
        return parse_rendered(result.stdout, hooks=not info.hooks_disabled)

    def test(self, name: str, namespace: str, timeout: str | int = "300s") -> TestRun:
        """Run the release's ``helm test`` hooks; a failing test gives ``passed=False``.

        Other failures (cluster unreachable, unknown release) raise.
        """
        args = ["test", name, "--namespace", namespace, "--timeout", duration(timeout)]
        result = self._run(
            "test", args, release=name, namespace=namespace,
            timeout=seconds(timeout) + 120, check=False,
        )
        tests = tuple(parse_test_suite(result.stdout))
        if result.ok:
            return TestRun(name, namespace, all(t.passed for t in tests), tests)
        stderr = self.redactor.redact(result.stderr)
        failed_pod = re.search(r"pod \S+ failed|test \S+ failed|phase.*failed", stderr, re.I)
        if failed_pod and classify(stderr, op="test") in (HelmCommandError, HelmTimeoutError):
            if not tests:  # helm printed no suite: name the failed pods from stderr
                tests = tuple(
                    TestResult(pod, "Failed") for pod in re.findall(r"pod (\S+) failed", stderr)
                )
            return TestRun(name, namespace, False, tests, summarize(stderr))
        raise self._failure("test", result, release=name, namespace=namespace, redactor=None)

    # -- repositories and registries ------------------------------------------------------
    def repo_add(
        self,
        name: str,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> bool:
        """``helm repo add --force-update`` once per distinct (name, url) per instance, into this
        run's own repositories (:attr:`repository_home`), never the user's.

        Thread-safe: concurrent calls for one repository run helm once, the
        others wait for it. Returns True when this call added it, False when
        it was already added (or the URL is an ``oci://`` registry, which
        needs no ``repo add``: use :meth:`registry_login`). A password goes
        on stdin. Without ``username``, the repository host's ``[registries]``
        entry (``registries``: :meth:`~firestream_core.tools.oci.RegistryLogins.repo_access`)
        gives the credentials and ``--insecure-skip-tls-verify``.

        :raises RegistryAuthError: the repository refused the credentials, or
            asked for some and had none (the message names the host to give them for).
        """
        if url.startswith("oci://"):
            return False
        key = (name, url)
        with self._lock:
            if key in self._repos_done:
                return False
            lock = self._repo_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._repos_done:
                    return False
            args = ["repo", "add", name, url, "--force-update"]
            stdin = None
            red = self.redactor
            source = None
            access = self.registries.repo_access(self, url) if username is None and self.registries else None
            if access is not None:
                username, password, source = access.username, access.password, access.source
                if access.insecure:
                    args.append("--insecure-skip-tls-verify")
            if username:
                args += ["--username", username]
            if password:
                self.redactor.add(password)
                args.append("--password-stdin")
                stdin = password.encode()
            try:
                self._run("repo add", args, stdin=stdin, redactor=red, kube=False)
            except HelmError as exc:
                if not re.search(r"\b(401|403)\b|Unauthorized|Forbidden", exc.stderr or str(exc)):
                    raise
                raise _repo_refused(name, url, username, source, exc) from None
            finally:
                if username or password:  # helm keeps them in the run's repositories.yaml
                    self.repository_home.keep_private()
            with self._lock:
                self._repos_done.add(key)
            return True

    def repo_update(self, names: Sequence[str] | None = None) -> None:
        """``helm repo update`` (only ``names`` when given)."""
        self._run("repo update", ["repo", "update", *(names or [])], kube=False)

    def repo_list(self) -> dict[str, str]:
        """The user's own helm repositories (``helm repo list -o json``, their ``repositories.yaml``,
        not this run's): name -> URL; {} when none. For ``firestream import``, which looks for a
        release's chart where its user installed it from."""
        import json

        result = self._run("repo list", ["repo", "list", "-o", "json"], kube=False, check=False,
                           users_repositories=True)
        if not result.ok:  # "no repositories to show"
            return {}
        try:
            rows = json.loads(result.stdout or "[]")
        except ValueError:
            return {}
        return {str(r["name"]): str(r["url"]) for r in rows if isinstance(r, dict) and "name" in r and "url" in r}

    def search_repo(self, chart: str, version: str | None = None) -> list[str]:
        """The ``repo/chart`` names of the user's own helm repositories holding ``chart`` (at
        ``version``), as :meth:`repo_list` (not this run's: see :meth:`resolve_version`).

        Reads helm's local repository index cache (``helm search repo``); no cluster call.
        An error (no repositories, no cache) is an empty list.
        """
        import json

        args = ["search", "repo", chart, "-o", "json"]
        if version:
            args += ["--version", version]
        result = self._run("search repo", args, kube=False, check=False, users_repositories=True)
        if not result.ok:
            return []
        try:
            rows = json.loads(result.stdout or "[]")
        except ValueError:
            return []
        names = [str(r.get("name", "")) for r in rows if isinstance(r, dict)]
        return [n for n in names if n.split("/", 1)[-1] == chart]

    def resolve_version(self, chart_ref: str, version: str | None = None) -> str | None:
        """The exact version helm installs for ``chart_ref`` at ``version`` (a constraint such as
        ``^1.2``; None: the latest stable one), None when no version matches.

        A repository chart (``repo/chart``) is looked up in this run's local copy of the
        repository's index (``helm search repo repo/chart --version C -o json``, the rule
        ``helm install`` follows; no cluster call): add the repository first
        (:meth:`repo_add` fetches the index). An ``oci://`` chart asks the registry
        (``helm show chart oci://... --version C``, after its login and with its flags).

        :raises HelmError: helm failed (an unreachable registry, a refused login...).
        """
        import json

        if chart_ref.startswith("oci://"):
            args = ["show", "chart", chart_ref, *(["--version", version] if version else [])]
            result = self._run("show chart", args + self._oci_flags(chart_ref), kube=False)
            found = re.search(r"(?m)^version:\s*['\"]?([^'\"\s#]+)", result.stdout)
            return found.group(1) if found else None
        args = ["search", "repo", chart_ref, "-o", "json", *(["--version", version] if version else [])]
        result = self._run("search repo", args, kube=False)
        try:
            rows = json.loads(result.stdout or "[]")
        except ValueError:
            rows = []
        for row in rows if isinstance(rows, list) else ():
            # the search matches names containing the text (repo/app-extra): only this chart counts
            if isinstance(row, dict) and row.get("name") == chart_ref and row.get("version"):
                return str(row["version"])
        return None

    def dependency_build(self, chart_dir: Path | str) -> None:
        """``helm dependency build`` for a local chart folder."""
        self._run("dependency build", ["dependency", "build", str(chart_dir)], kube=False)

    def pull(self, chart_ref: str, version: str | None, dest: Path | str) -> Path:
        """Download a chart archive into ``dest``; returns the ``.tgz`` path."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        before = {p.name: p.stat().st_mtime_ns for p in dest.glob("*.tgz")}
        args = ["pull", chart_ref, "--destination", str(dest)]
        if version:
            args += ["--version", str(version)]
        args += self._oci_flags(chart_ref)
        self._run("pull", args, kube=False)
        after = {p.name: p.stat().st_mtime_ns for p in dest.glob("*.tgz")}
        changed = [n for n, t in after.items() if before.get(n) != t]
        chart = chart_ref.rstrip("/").rsplit("/", 1)[-1]
        if version and f"{chart}-{version}.tgz" in after:
            return dest / f"{chart}-{version}.tgz"
        if len(changed) == 1:
            return dest / changed[0]
        candidates = sorted((p for p in dest.glob(f"{chart}-*.tgz")), key=lambda p: p.stat().st_mtime_ns)
        if candidates:
            return candidates[-1]
        raise ChartNotFoundError(f"helm pull of '{chart_ref}' wrote no chart archive into {dest}")

    def registry_login(
        self,
        host: str,
        username: str,
        password: str,
        insecure: bool = False,
        *,
        plain_http: bool = False,
    ) -> None:
        """``helm registry login`` with the password on stdin (never on argv)."""
        self.redactor.add(password)
        args = ["registry", "login", host, "--username", username, "--password-stdin"]
        if insecure:
            args.append("--insecure")
        if plain_http:
            args.append("--plain-http")
        self._run("registry login", args, stdin=password.encode(), kube=False)

    def push(
        self,
        chart_archive: Path | str,
        remote: str,
        *,
        plain_http: bool | None = None,
        insecure: bool | None = None,
    ) -> str:
        """``helm push <chart.tgz> oci://host/path``; returns the pushed reference.

        ``plain_http`` / ``insecure`` default to the registry's configuration
        (``registries``), which also logs in first when it has credentials.
        """
        if not remote.startswith("oci://"):
            raise ValueError(f"helm push needs an oci:// destination, got {remote!r}")
        args = ["push", str(chart_archive), remote]
        flags = self._oci_flags(remote)
        if plain_http is not None:
            flags = [f for f in flags if f != "--plain-http"] + (["--plain-http"] if plain_http else [])
        if insecure is not None:
            flags = [f for f in flags if f != "--insecure-skip-tls-verify"]
            flags += ["--insecure-skip-tls-verify"] if insecure else []
        result = self._run("push", args + flags, kube=False)
        m = re.search(r"Pushed:\s*(\S+)", result.stdout + "\n" + result.stderr)
        return m.group(1) if m else remote

