"""``Helm``: every helm operation firestream performs, for helm 3 and helm 4.

This is where the helm command line is built. Rules it keeps:

* Programs run only through :class:`~firestream_core.process.Runner`, as
  argument lists; no value ever appears on one. Chart values reach helm in
  one private temporary file (mode 0600, removed afterwards, see
  :func:`~firestream_core.values.values_file`); ``values_files`` from the
  config are passed by path (paths are not secret); passwords go on stdin.
* The helm major version is asked once (lazily) and decides the flags:

  ============================ ================== ============================
  ChartInfo / call             helm 3             helm 4
  ============================ ================== ============================
  ``atomic``                   ``--atomic``       ``--rollback-on-failure``
  ``wait``                     ``--wait``         ``--wait=<strategy>``
                                                  (``watcher`` by default,
                                                  ``legacy`` selectable)
  ``force_upgrade``            ``--force``        ``--force-replace``
  ``dry_run``                  ``--dry-run=client`` (both)
  list every status            ``list --all``     ``list`` (all by default)
  ============================ ================== ============================

* Failures are typed from helm's exit and stderr (:func:`classify`), and
  the message names the operation and release and carries helm's stderr
  with every known value of the call hidden.
* A helm process stopped by ``Runner.terminate_all`` (Ctrl-C, a stage
  timeout) raises :class:`~firestream_core.errors.CancelledError` naming
  the release.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .errors import (
    CancelledError,
    ChartNotFoundError,
    ClusterUnreachableError,
    HelmCommandError,
    HelmError,
    HelmTimeoutError,
    RegistryAuthError,
    ReleaseLockedError,
    RenderError,
)
from .model import InstalledRelease, parse_duration
from .process import Completed, ProgramNotFoundError, Runner, install_hint
from .redact import Redactor
from .values import load_document, merged_values, values_file

if TYPE_CHECKING:
    from .kubectl import Kubectl as Kubectl  # re-exported for context.py
    from .model import ChartInfo

__all__ = [
    "ENV_HELM_BINARY",
    "WAIT_STRATEGIES",
    "Helm",
    "ReleaseNotFoundError",
    "TestResult",
    "TestRun",
    "UpgradedRelease",
    "classify",
]

log = logging.getLogger("firestream.helm")

ENV_HELM_BINARY = "FIRESTREAM_HELM_BINARY"
"""Environment variable naming the helm binary (default: ``helm`` on PATH)."""

WAIT_STRATEGIES = ("watcher", "legacy")
"""helm 4 ``--wait`` strategies firestream can ask for (``hookOnly`` = not waiting)."""


class ReleaseNotFoundError(HelmCommandError):
    """The release does not exist (``helm status``/``history``/``get`` of an unknown release)."""


# -- results -----------------------------------------------------------------------------


@attrs.frozen
class UpgradedRelease:
    """The release as ``helm upgrade --install --output json`` printed it once done.

    helm's own record of the revision it just wrote: ``revision`` (its
    ``version``) and ``status`` (its ``info.status``: ``deployed``, or for a
    dry run ``pending-install``...; None when helm printed none). Never the
    values.
    """

    name: str
    namespace: str
    revision: int
    status: str | None = None


@attrs.frozen
class TestResult:
    """One ``helm test`` hook: its name and final phase (``Succeeded``, ``Failed``, ...)."""

    __test__ = False  # not a pytest class

    name: str
    phase: str
    started: str = ""
    completed: str = ""

    @property
    def passed(self) -> bool:
        return self.phase == "Succeeded"


@attrs.frozen
class TestRun:
    """The outcome of ``helm test``: ``passed`` and each test's phase."""

    __test__ = False

    release: str
    namespace: str
    passed: bool
    tests: tuple[TestResult, ...] = ()
    message: str = ""  # helm's stderr (redacted) when a test failed


# -- classifying failures ------------------------------------------------------------------

_LOCKED = re.compile(r"another operation \(install/upgrade/rollback\) is in progress", re.I)
_UNREACHABLE = re.compile(
    r"kubernetes cluster unreachable|connection refused|no such host|unable to connect to the server"
    r"|dial tcp|network is unreachable|tls handshake timeout|no route to host"
    r"|i/o timeout|server has asked for the client to provide credentials"
    r"|couldn't get current server api group list",
    re.I,
)
_CLUSTER_UNREACHABLE = re.compile(r"kubernetes cluster unreachable", re.I)
_REGISTRY_AUTH = re.compile(
    r"response status code 40[13]|basic credential not found|unauthorized: authentication required"
    r"|denied: requested access to the resource is denied",
    re.I,
)
_REGISTRY_CONTEXT = re.compile(r"authenticating to|/v2/|oci://|registry", re.I)
_CHART_FETCH = re.compile(r'"\S*(/v2/|index\.yaml|\.tgz|\.prov)\S*"|oci://', re.I)
_TIMEOUT = re.compile(
    r"context deadline exceeded|timed out waiting|timeout waiting|wait(ing)? timed out", re.I
)
_ROLLED_BACK = re.compile(r"has been rolled back due to", re.I)
_UNINSTALLED = re.compile(r"has been uninstalled due to", re.I)
_RELEASE_NOT_FOUND = re.compile(r"release: not found|release not found|has no deployed releases", re.I)
_CHART_NOT_FOUND = re.compile(
    r"chart \S+ not found|no chart (version )?(named|found|exists)|chart not found"
    r"|repo \S+ not found|no repo named|no cached repo|not a valid chart repository"
    r"|failed to fetch|failed to download|path \S+ not found|not found in \S+ repository"
    r"|could not find protocol handler|manifest unknown|name unknown|: not found$"
    r"|invalid chart reference|unable to locate chart",
    re.I | re.M,
)
_RENDER = re.compile(
    r"parse error|template: |execution error|error converting yaml|(?<![.\w])yaml: |unable to build kubernetes objects"
    r"|error validating|values don't meet the specifications|schema\(s\)|render error"
    r"|invalid character|cannot unmarshal|failed to create resource",
    re.I,
)


def classify(stderr: str, *, op: str = "") -> type[HelmError]:
    """The error class for a failed helm call, from its stderr.

    Order matters: a release lock, then an unreachable cluster, a timeout
    (also when helm rolled back because of it), a missing release, a
    missing chart, a rendering error; anything else is ``HelmCommandError``.
    """
    if _LOCKED.search(stderr):
        return ReleaseLockedError
    if _REGISTRY_AUTH.search(stderr) and _REGISTRY_CONTEXT.search(stderr):
        return RegistryAuthError
    if _CLUSTER_UNREACHABLE.search(stderr):
        return ClusterUnreachableError
    if _UNREACHABLE.search(stderr):
        # a repository or registry that cannot be reached is a chart problem
        return ChartNotFoundError if _CHART_FETCH.search(stderr) else ClusterUnreachableError
    if _TIMEOUT.search(stderr):
        return HelmTimeoutError
    if _RELEASE_NOT_FOUND.search(stderr) and op not in {"upgrade", "template", "pull"}:
        return ReleaseNotFoundError
    if _CHART_NOT_FOUND.search(stderr):
        return ChartNotFoundError
    if _RENDER.search(stderr):
        return RenderError
    return HelmCommandError


_HINTS: dict[type[HelmError], str] = {
    ClusterUnreachableError: "check the kubeconfig / --kube-context and that the API server is up",
    ReleaseLockedError: (
        "an earlier helm run was interrupted and left the release pending; "
        "firestream apply recovers it (rollback, or uninstall of a first install)"
    ),
    HelmTimeoutError: "the resources did not become ready in time: see the release's events and pods",
    ChartNotFoundError: "check the chart name, version and repository (helm repo add / registry login)",
    RenderError: "the chart failed to render with the given values",
    RegistryAuthError: "check [registries] in firestream.toml: user name and password for this registry",
}


def summarize(stderr: str, *, limit: int = 20) -> str:
    """helm's stderr reduced to its meaningful lines (warnings dropped), at most ``limit``."""
    lines = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line or line.startswith(
            ("WARNING:", "walk.go:", "W0", "I0", "level=WARN", "level=INFO", "level=DEBUG")
        ):
            continue
        if line.startswith("Error: "):
            line = line[len("Error: ") :]
        lines.append(line)
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"... ({len(lines) - limit + 1} more lines)"]
    return "\n".join(lines) or "(no error output)"


# -- the Helm class ---------------------------------------------------------------------------


def _seconds(text: str | int) -> int:
    return parse_duration(str(text))


def _duration(text: str | int) -> str:
    """A config duration as a Go duration helm accepts (``300`` -> ``300s``)."""
    return f"{_seconds(text)}s"


class Helm:
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
    """

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
        registries: Any = None,
    ) -> None:
        if wait_strategy not in WAIT_STRATEGIES:
            raise ValueError(
                f"unknown helm wait strategy {wait_strategy!r}: use one of {', '.join(WAIT_STRATEGIES)}"
            )
        self.runner = runner if runner is not None else Runner(redactor=redactor)
        self.binary = os.fspath(binary or os.environ.get(ENV_HELM_BINARY) or "helm")
        self.kubeconfig = Path(kubeconfig) if kubeconfig is not None else None
        self.kube_context = kube_context
        self.env = dict(env or {})
        self.redactor = redactor if redactor is not None else Redactor()
        self.wait_strategy = wait_strategy
        # firestream_core.oci.RegistryLogins: login once per registry, --plain-http...
        self.registries = registries
        self._lock = threading.Lock()
        self._version: str | None = None
        self._repos_done: set[tuple[str, str]] = set()
        self._repo_locks: dict[tuple[str, str], threading.Lock] = {}

    def __repr__(self) -> str:
        return f"Helm(binary={self.binary!r}, kubeconfig={str(self.kubeconfig) if self.kubeconfig else None!r})"

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
            m = re.search(r"v?(\d+)\.\d+\.\d+\S*", text)
            if result.ok and m:
                version = m.group(0).split("+", 1)[0]
                if int(m.group(1)) < 3:
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
    def _global_flags(self) -> list[str]:
        flags: list[str] = []
        if self.kubeconfig is not None:
            flags += ["--kubeconfig", str(self.kubeconfig)]
        if self.kube_context:
            flags += ["--kube-context", self.kube_context]
        return flags

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
    ) -> Completed:
        """Run ``helm <args>`` and raise a typed error when it fails (unless ``check`` is off)."""
        argv = [self.binary, *args, *(self._global_flags() if kube else [])]
        try:
            result = self.runner.run(argv, env=self.env, stdin=stdin, timeout=timeout, label=release)
        except ProgramNotFoundError as exc:
            exc.hint = install_hint("helm")
            raise
        if result.cancelled:
            what = f" of release '{release}'" if release else ""
            raise CancelledError(f"helm {op}{what} was interrupted", releases=[release] if release else [])
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
        red = redactor or self.redactor
        stderr = red.redact(result.stderr)
        if result.timed_out:
            cls: type[HelmError] = HelmTimeoutError
            detail = f"helm did not finish within {result.duration:.0f}s and was stopped"
        elif result.returncode < 0:
            cls = HelmCommandError
            detail = f"helm was killed by signal {_signal_name(-result.returncode)}"
        else:
            cls = classify(stderr, op=op)
            detail = summarize(stderr)
        where = ""
        if release:
            where = f" for release '{release}'"
            if namespace:
                where += f" in namespace '{namespace}'"
        rolled_back = ""
        if _ROLLED_BACK.search(stderr):
            rolled_back = " (helm rolled the release back)"
        elif _UNINSTALLED.search(stderr):  # a failed first install: nothing to roll back to
            rolled_back = " (helm uninstalled the failed release)"
        message = f"helm {op} failed{where}{rolled_back}: {detail}"
        return cls(message, release=release, stderr=stderr, hint=_HINTS.get(cls))

    def _call_redactor(self, values: Mapping[str, Any] | None = None, files: Iterable[Path] = ()) -> Redactor:
        """The instance's redactor plus this call's values and values files."""
        red = self.redactor.copy()
        if values:
            red.add_values(values)
        for path in files:
            try:
                red.add_values(load_document(path.name, path.read_text(errors="replace")))
            except (OSError, ValueError):
                continue
        return red

    # -- release state ---------------------------------------------------------------
    def list_releases(self) -> list[InstalledRelease]:
        """Every release in every namespace, in any status (pending-* included), in ONE call."""
        args = ["list", "--all-namespaces", "--max", "0", "--output", "json"]
        if self.major < 4:
            args.insert(2, "--all")  # helm 4 lists every status by default and has no --all
        result = self._run("list", args)
        data = _json(result.stdout, "list") or []
        out = []
        for item in data:
            out.append(
                InstalledRelease(
                    name=str(item.get("name", "")),
                    namespace=str(item.get("namespace", "")),
                    revision=int(item.get("revision") or 0),
                    status=str(item.get("status", "")),
                    chart=str(item.get("chart", "")),
                    app_version=str(item.get("app_version", "") or ""),
                    updated=str(item.get("updated", "") or ""),
                )
            )
        return out

    def status(self, name: str, namespace: str) -> dict[str, Any]:
        """``helm status -o json`` of a release (raises ``ReleaseNotFoundError`` when absent)."""
        result = self._run(
            "status", ["status", name, "--namespace", namespace, "--output", "json"],
            release=name, namespace=namespace,
        )
        data = _json(result.stdout, "status") or {}
        self._hide_release_values(data)
        return data

    def history(self, name: str, namespace: str) -> list[dict[str, Any]]:
        """The release's revisions, oldest first (``revision``, ``status``, ``chart``, ...)."""
        result = self._run(
            "history", ["history", name, "--namespace", namespace, "--output", "json"],
            release=name, namespace=namespace,
        )
        return list(_json(result.stdout, "history") or [])

    def get_values(self, name: str, namespace: str, all_values: bool = False) -> dict[str, Any]:
        """The release's user-supplied values (or all computed values).

        The secret-looking values read are added to this instance's redactor:
        whatever is logged or raised afterwards cannot show them.
        """
        args = ["get", "values", name, "--namespace", namespace, "--output", "json"]
        if all_values:
            args.append("--all")
        result = self._run("get values", args, release=name, namespace=namespace)
        values = _json(result.stdout, "get values") or {}
        self.redactor.add_values(values, secrets_only=True)
        return values

    def get_manifest(self, name: str, namespace: str) -> str:
        """The rendered manifest of the release's current revision."""
        result = self._run(
            "get manifest", ["get", "manifest", name, "--namespace", namespace],
            release=name, namespace=namespace,
        )
        return result.stdout

    def get_hooks(self, name: str, namespace: str) -> str:
        """The rendered hooks of the release's current revision (``helm get hooks``)."""
        result = self._run(
            "get hooks", ["get", "hooks", name, "--namespace", namespace],
            release=name, namespace=namespace,
        )
        return result.stdout

    def _hide_release_values(self, data: Mapping[str, Any]) -> None:
        config = data.get("config")
        if isinstance(config, Mapping):
            self.redactor.add_values(config, secrets_only=True)

    # -- changing releases -------------------------------------------------------------
    def _wait_flags(self, wait: bool) -> list[str]:
        if not wait:
            return []
        return ["--wait"] if self.major < 4 else [f"--wait={self.wait_strategy}"]

    def _chart_args(self, info: ChartInfo, project_dir: Path) -> list[str]:
        if info.path is not None:
            p = Path(info.path)
            return [str(p if p.is_absolute() else project_dir / p)]
        args = [info.chart_ref]
        if info.version:
            args += ["--version", str(info.version)]
        return args + self._oci_flags(info.chart_ref)

    def _oci_flags(self, ref: str) -> list[str]:
        """For an ``oci://`` chart: log in to its registry once (see ``oci.py``), then its flags."""
        if self.registries is None or not ref.startswith("oci://"):
            return []
        return list(self.registries.prepare(self, ref))

    def _values_paths(self, info: ChartInfo, project_dir: Path) -> list[Path]:
        out = []
        for f in info.values_files:
            p = Path(f)
            out.append(p if p.is_absolute() else project_dir / p)
        return out

    def upgrade_install_args(
        self, info: ChartInfo, project_dir: Path, values_path: Path | None = None
    ) -> list[str]:
        """The ``helm upgrade --install`` arguments for ``info``.

        ``values_path`` is the temporary merged values file, passed last.
        """
        major = self.major
        ns = info.namespace_name
        args = ["upgrade", info.name, *self._chart_args(info, project_dir), "--install"]
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
        args += ["--timeout", _duration(info.timeout)]
        # helm 3's --atomic and helm 4's --rollback-on-failure imply waiting.
        waits = info.wait or info.atomic
        args += self._wait_flags(info.wait)
        if info.wait_for_jobs and waits:
            args.append("--wait-for-jobs")
        if info.dry_run:
            args.append("--dry-run=client")
        if info.skip_crds:
            args.append("--skip-crds")
        if info.hooks_disabled:
            args.append("--no-hooks")
        args += ["--history-max", str(int(info.history_max))]
        args.append("--cleanup-on-fail")
        for path in self._values_paths(info, project_dir):
            args += ["--values", str(path)]
        if values_path is not None:
            args += ["--values", str(values_path)]
        args += ["--output", "json"]
        return args

    def upgrade_install(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
    ) -> int:
        """``helm upgrade --install`` the release described by ``info``; returns its revision.

        Every ``ChartInfo`` option is honoured (see the module table). The
        ``values_files`` are given by path, in order; the merged values
        (``yaml_files_content``, then ``values`` pairs, then ``extra_values``)
        go last, in one 0600 temporary file removed afterwards.

        :raises RenderError, ChartNotFoundError, ReleaseLockedError,
            HelmTimeoutError, ClusterUnreachableError, HelmCommandError:
            by what helm reported; :class:`CancelledError` when interrupted.
        """
        return self.upgrade_install_release(info, project_dir, extra_values=extra_values).revision

    def upgrade_install_release(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
    ) -> UpgradedRelease:
        """:meth:`upgrade_install`, returning helm's record of the new revision.

        The same single ``helm upgrade --install ... --output json``; its
        output gives the revision and the status helm left the release in,
        so a caller need not ask ``helm status`` right afterwards.
        """
        project_dir = Path(project_dir)
        values = merged_values(info, extra_values)
        files = self._values_paths(info, project_dir)
        red = self._call_redactor(values, files)
        # helm itself waits up to the timeout, twice with a rollback; the
        # runner's timeout is only a safety net against a hung helm.
        limit = info.timeout_seconds * (2 if info.atomic else 1) + 120
        with values_file(values) as tmp:
            argv = self.upgrade_install_args(info, project_dir, tmp)
            result = self._run(
                "upgrade", argv, release=info.name, namespace=info.namespace_name,
                timeout=limit, redactor=red,
            )
        data = _json(result.stdout, "upgrade") or {}
        if not isinstance(data, Mapping):
            data = {}
        try:
            revision = int(data.get("version") or 0)
        except (TypeError, ValueError):
            revision = 0
        inner = data.get("info")
        status = inner.get("status") if isinstance(inner, Mapping) else None
        return UpgradedRelease(
            info.name, info.namespace_name, revision, str(status) if status else None
        )

    def uninstall(
        self,
        name: str,
        namespace: str,
        *,
        wait: bool = True,
        timeout: str | int = "300s",
        ignore_not_found: bool = True,
    ) -> bool:
        """``helm uninstall``; True when a release was removed, False when there was none.

        Without ``ignore_not_found`` a missing release raises ``ReleaseNotFoundError``.
        """
        # Not helm's --ignore-not-found: it reports "uninstalled" either way,
        # and firestream wants to know which it was.
        args = ["uninstall", name, "--namespace", namespace, "--timeout", _duration(timeout)]
        args += self._wait_flags(wait)
        try:
            self._run(
                "uninstall", args, release=name, namespace=namespace,
                timeout=_seconds(timeout) + 120,
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
    ) -> None:
        """Roll the release back to ``revision`` (default: the previous one)."""
        args = ["rollback", name]
        if revision is not None:
            args.append(str(int(revision)))
        args += ["--namespace", namespace, "--timeout", _duration(timeout)]
        args += self._wait_flags(wait)
        args += ["--history-max", str(int(history_max)), "--cleanup-on-fail"]
        self._run(
            "rollback", args, release=name, namespace=namespace,
            timeout=_seconds(timeout) + 120,
        )

    def template(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        include_crds: bool = True,
        is_upgrade: bool = False,
    ) -> str:
        """Render the release offline (``helm template``) with the same values as an upgrade.

        ``is_upgrade`` renders it as an upgrade of an installed release
        (``.Release.IsUpgrade``), as ``diff`` does for deployed releases.
        """
        project_dir = Path(project_dir)
        values = merged_values(info, extra_values)
        files = self._values_paths(info, project_dir)
        red = self._call_redactor(values, files)
        args = ["template", info.name, *self._chart_args(info, project_dir)]
        args += ["--namespace", info.namespace_name]
        if include_crds and not info.skip_crds:
            args.append("--include-crds")
        if info.skip_crds:
            args.append("--skip-crds")
        if info.hooks_disabled:
            args.append("--no-hooks")
        if is_upgrade:
            args.append("--is-upgrade")
        for path in files:
            args += ["--values", str(path)]
        with values_file(values) as tmp:
            args += ["--values", str(tmp)]
            result = self._run(
                "template", args, release=info.name, namespace=info.namespace_name,
                redactor=red, kube=False,
            )
        return result.stdout

    def test(self, name: str, namespace: str, timeout: str | int = "300s") -> TestRun:
        """Run the release's ``helm test`` hooks; a failing test gives ``passed=False``.

        Other failures (cluster unreachable, unknown release) raise.
        """
        args = ["test", name, "--namespace", namespace, "--timeout", _duration(timeout)]
        result = self._run(
            "test", args, release=name, namespace=namespace,
            timeout=_seconds(timeout) + 120, check=False,
        )
        tests = tuple(_parse_test_suite(result.stdout))
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
        """``helm repo add --force-update`` once per distinct (name, url) per instance.

        Thread-safe: concurrent calls for one repository run helm once, the
        others wait for it. Returns True when this call added it, False when
        it was already added (or the URL is an ``oci://`` registry, which
        needs no ``repo add``: use :meth:`registry_login`). A password goes
        on stdin.
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
            if username:
                args += ["--username", username]
            if password:
                self.redactor.add(password)
                args.append("--password-stdin")
                stdin = password.encode()
            self._run("repo add", args, stdin=stdin, redactor=red, kube=False)
            with self._lock:
                self._repos_done.add(key)
            return True

    def repo_update(self, names: Sequence[str] | None = None) -> None:
        """``helm repo update`` (only ``names`` when given)."""
        self._run("repo update", ["repo", "update", *(names or [])], kube=False)

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


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


# -- parsing helpers -----------------------------------------------------------------------


def _json(text: str, op: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # helm prints notes or warnings before the JSON in some versions
        start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
        if start > 0:
            try:
                return json.loads(text[start:])
            except json.JSONDecodeError:
                pass
        raise HelmCommandError(f"helm {op} printed output that is not JSON") from None


_SUITE_FIELD = re.compile(r"^\s*(TEST SUITE|Last Started|Last Completed|Phase):\s*(.*?)\s*$")


def _parse_test_suite(stdout: str) -> Iterable[TestResult]:
    """The ``TEST SUITE:`` blocks of ``helm test`` output."""
    current: dict[str, str] | None = None
    for line in stdout.splitlines():
        m = _SUITE_FIELD.match(line)
        if not m:
            continue
        field, value = m.groups()
        if field == "TEST SUITE":
            if current and current.get("name") and current["name"] != "None":
                yield TestResult(current["name"], current.get("phase", ""), current.get("started", ""), current.get("completed", ""))
            current = {"name": value}
        elif current is not None:
            key = {"Last Started": "started", "Last Completed": "completed", "Phase": "phase"}[field]
            current[key] = value
    if current and current.get("name") and current["name"] != "None":
        yield TestResult(current["name"], current.get("phase", ""), current.get("started", ""), current.get("completed", ""))


def __getattr__(name: str) -> Any:
    # ``context.py`` names ``helm.Kubectl``; it lives in ``kubectl.py``.
    if name == "Kubectl":
        from .kubectl import Kubectl as Kubectl  # re-exported for context.py

        return Kubectl
    raise AttributeError(f"module 'firestream_core.helm' has no attribute {name!r}")
