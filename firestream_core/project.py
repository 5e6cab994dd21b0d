"""The library API: one project, its plan, and the runs that carry it out.

::

    from firestream_core import Project

    project = Project.load("firestream.toml")
    plan = project.plan()              # one `helm list -A -a -o json`
    if plan.has_changes:
        result = project.apply(plan)   # dependency order, in parallel, under the lock
        for name, outcome in result.releases.items():
            print(name, outcome.action, outcome.result, outcome.reason)

Nothing here prints: every operation returns a result object (``Plan``,
``ApplyResult``, ``ReleaseStatus`` list, ``ImportResult``, rendered
manifests) and the CLI formats them. Progress is reported through an
``on_event`` callback receiving :class:`ApplyEvent`\\ s.

Guarantees of :meth:`Project.apply` (shown by ``tests/project``):

* one cluster-state call per run (the plan's), one ``repo add`` per distinct
  repository, one lifecycle per changed release and zero helm calls for
  ``no-op`` releases, which count as satisfied for their dependents;
* a release starts the moment its own dependencies succeeded; a failure
  skips only its transitive dependents;
* the project lock is held for the run; the state is saved atomically after
  each release finishes, so an interruption keeps exactly what finished;
* when ``cancel`` is set (or Ctrl-C reaches the scheduler) nothing new starts
  and the running helm processes are terminated.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .model import HelmAction, HelmChart, InstalledRelease

if TYPE_CHECKING:
    from .config import ProjectConfig
    from .graph import ReleaseGraph
    from .importer import ImportResult
    from .plan import Change, Plan
    from .plugins import FirestreamPluginManager
    from .redact import Redactor
    from .state import State, StateBackend

__all__ = ["ApplyEvent", "ApplyResult", "Project", "ReleaseOutcome", "ReleaseStatus"]

log = logging.getLogger("firestream.project")

RESULTS: tuple[str, ...] = ("ok", "failed", "skipped", "not_started", "cancelled")
"""What can become of a release in a run."""

_SCHEDULER_RESULT = {
    "succeeded": "ok",
    "failed": "failed",
    "skipped": "skipped",
    "not_started": "not_started",
    "cancelled": "cancelled",
}


# -- result objects ----------------------------------------------------------------------


@attrs.frozen
class ApplyEvent:
    """Something that happened during a run, for progress displays.

    :ivar kind: ``started`` (the release's lifecycle began), ``stage`` (it
        entered ``stage``), ``finished`` (with ``result``) or ``skipped``.
    :ivar release: the release name.
    :ivar action: what the plan decided for it.
    :ivar stage: the lifecycle stage (``check_prerequisites`` ... ``validate``,
        ``on_deploy_failure``) for ``stage`` events.
    :ivar result: one of :data:`RESULTS` for ``finished`` / ``skipped``.
    :ivar reason: why (``dependency 'db' failed``), never a value.
    :ivar time: ``time.monotonic()`` when it happened.
    """

    kind: str
    release: str
    action: str = ""
    stage: str | None = None
    result: str | None = None
    reason: str | None = None
    time: float = attrs.field(factory=time.monotonic)


@attrs.frozen
class ReleaseOutcome:
    """What a run did to one release.

    :ivar action: the plan's action (``create`` ... ``no-op``).
    :ivar result: one of :data:`RESULTS` (a ``no-op`` is ``ok``).
    :ivar reason: why it failed or was skipped; the plan's reason otherwise.
    :ivar duration: seconds its lifecycle ran (0 when it did not run).
    :ivar validations: its validation results.
    :ivar stage_failed: the lifecycle stage that failed, if any.
    :ivar revision: helm's revision after the run, when known.
    :ivar rolled_back: the release was rolled back after a failed validation.
    :ivar debug: ``on_deploy_failure``'s lines (redacted).
    """

    name: str
    action: str
    result: str
    reason: str = ""
    duration: float = 0.0
    validations: tuple[Any, ...] = ()
    stage_failed: str | None = None
    revision: int | None = None
    rolled_back: bool = False
    debug: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.name,
            "action": self.action,
            "result": self.result,
            "reason": self.reason,
            "duration": round(self.duration, 3),
            "stage_failed": self.stage_failed,
            "revision": self.revision,
            "rolled_back": self.rolled_back,
            "validations": [_validation_dict(v) for v in self.validations],
        }


@attrs.frozen
class ApplyResult:
    """The outcome of :meth:`Project.apply` / :meth:`Project.destroy`.

    :ivar plan: the plan that was carried out.
    :ivar releases: release name -> :class:`ReleaseOutcome`, in plan order.
    :ivar cancelled: the run was cancelled (nothing new was started).
    :ivar interrupted: Ctrl-C reached the run (the CLI exits 130).
    :ivar dry_run: nothing was changed.
    :ivar duration: seconds the whole run took.
    """

    plan: Plan
    releases: dict[str, ReleaseOutcome]
    cancelled: bool = False
    interrupted: bool = False
    dry_run: bool = False
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every release ended ``ok`` and the run was not interrupted."""
        return not (self.cancelled or self.interrupted) and all(o.ok for o in self.releases.values())

    def with_result(self, result: str) -> list[str]:
        """The releases that ended with ``result``, in plan order."""
        return [n for n, o in self.releases.items() if o.result == result]

    @property
    def exit_code(self) -> int:
        """0 when ok, 130 when interrupted or cancelled, else 1."""
        if self.interrupted or self.cancelled:
            return 130
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "cancelled": self.cancelled,
            "interrupted": self.interrupted,
            "dry_run": self.dry_run,
            "duration": round(self.duration, 3),
            "releases": [o.to_dict() for o in self.releases.values()],
        }


@attrs.frozen
class ReleaseStatus:
    """One release as the cluster and the state file see it (``firestream status``).

    :ivar status: helm's status (``deployed``, ``failed``, ``pending-upgrade``...)
        or ``not deployed``.
    :ivar validations: the last validation results recorded in state.
    """

    name: str
    namespace: str
    chart_type: str
    status: str
    revision: int | None = None
    chart: str | None = None
    version: str | None = None
    app_version: str | None = None
    updated: str | None = None
    last_action: str | None = None
    last_result: str | None = None
    applied_at: str | None = None
    validations: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.name,
            "namespace": self.namespace,
            "chart_type": self.chart_type,
            "status": self.status,
            "revision": self.revision,
            "chart": self.chart,
            "version": self.version,
            "app_version": self.app_version,
            "updated": self.updated,
            "last_action": self.last_action,
            "last_result": self.last_result,
            "applied_at": self.applied_at,
            "validations": [dict(v) for v in self.validations],
        }


def _validation_dict(v: Any) -> dict[str, Any]:
    if isinstance(v, Mapping):
        return {"name": v.get("name"), "status": v.get("status"), "message": v.get("message", "")}
    status = getattr(v, "status", "")
    return {
        "name": getattr(v, "name", str(v)),
        "status": getattr(status, "value", str(status)),
        "message": getattr(v, "message", ""),
    }


# -- progress reporting through the manager ------------------------------------------------

_REPORTED_STAGES = (
    "check_prerequisites",
    "pre_exec",
    "exec",
    "post_exec",
    "validate",
    "on_deploy_failure",
)


class _StageReporter:
    """The plugin manager, seen through a proxy that reports each stage before calling it."""

    def __init__(self, manager: Any, report: Callable[[str, str], None]) -> None:
        self._manager = manager
        self._report = report

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._manager, name)
        if name not in _REPORTED_STAGES or not callable(attr):
            return attr

        def call(chart: HelmChart, *args: Any, **kwargs: Any) -> Any:
            self._report(chart.chart_info.name, name)
            return attr(chart, *args, **kwargs)

        return call


def state_backend(config: ProjectConfig, *, kubectl: Any = None) -> StateBackend:
    """The state backend ``config``'s ``[state]`` names (the local file by default).

    :param kubectl: for ``backend = "kubernetes"``: the ``Kubectl`` reaching
        the target cluster (default: ``kubectl`` with its own kubeconfig).
    """
    from .state import StateStore, open_backend

    cfg = config.state
    if cfg.backend == "local":
        return StateStore(config.project_dir)
    options = {k: v for k, v in attrs.asdict(cfg).items() if k != "backend" and v is not None}
    if cfg.backend == "kubernetes":  # the Secret and the Lease live in the target cluster
        options.update(project_name=config.project.name, kubectl=kubectl)
    return open_backend(cfg.backend, config.project_dir, **options)


def _hide_secret_looking(redactor: Redactor, chart: HelmChart) -> None:
    """Register the config values found under secret-looking keys (``password``, ``token``...).

    Only those: hiding every configured value would hide release names and
    namespaces too. ``secret_values`` are registered by ``build_charts``.
    """
    from .redact import looks_secret
    from .values import merged_values

    try:
        values = merged_values(chart.chart_info)
    except Exception:  # noqa: BLE001 - an invalid document is reported by check_prerequisites
        return

    def walk(node: Any, secret: bool) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, secret or looks_secret(k))
        elif isinstance(node, list):
            for v in node:
                walk(v, secret)
        elif secret and node is not None and str(node):
            redactor.add(str(node))

    walk(values, False)


# -- the project ----------------------------------------------------------------------------


class Project:
    """A loaded ``firestream.toml`` with its charts, plugins and cluster settings.

    Build it with :meth:`load`. Each run (``plan``, ``apply``, ``destroy``,
    ``status``, ``template``, ``import_release``) makes its own helm layer,
    so ``repo add`` happens once per distinct repository per run.
    """

    def __init__(
        self,
        config: ProjectConfig,
        charts: list[HelmChart],
        manager: FirestreamPluginManager,
        *,
        helm_binary: str | os.PathLike[str] | None = None,
        kubectl_binary: str | os.PathLike[str] | None = None,
        kubeconfig: str | os.PathLike[str] | None = None,
        kube_context: str | None = None,
        env: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        from .redact import Redactor

        self.config = config
        self.charts = list(charts)
        self.manager = manager
        self.helm_binary = str(helm_binary) if helm_binary else None
        self.kubectl_binary = str(kubectl_binary) if kubectl_binary else None
        self.kubeconfig = str(kubeconfig) if kubeconfig else None
        self.kube_context = kube_context
        self.env = dict(env or {})
        self.redactor: Redactor = Redactor(secrets)
        for chart in self.charts:
            _hide_secret_looking(self.redactor, chart)
        self._graph: ReleaseGraph | None = None
        self._locked = False
        from .oci import resolve_oci_charts  # releases of an oci:// repository -> <url>/<chart>

        self.charts = resolve_oci_charts(self.charts, self.repositories())

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] = "firestream.toml",
        *,
        helm_binary: str | os.PathLike[str] | None = None,
        kubeconfig: str | os.PathLike[str] | None = None,
        kube_context: str | None = None,
        disabled_plugins: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        kubectl_binary: str | os.PathLike[str] | None = None,
        manager: FirestreamPluginManager | None = None,
    ) -> Project:
        """Read ``path``, load the plugins and build one chart per release.

        :param helm_binary: helm executable (default ``$FIRESTREAM_HELM_BINARY`` or ``helm``).
        :param kubeconfig: kubeconfig for helm and kubectl (default: theirs).
        :param kube_context: kubeconfig context.
        :param disabled_plugins: plugin names not to load.
        :param env: extra environment for helm and kubectl.
        :param kubectl_binary: kubectl executable (default ``kubectl``).
        :param manager: a prebuilt plugin manager (tests); built when None.
        :raises ConfigError: every problem of the file at once.
        """
        from .config import build_charts, load_config
        from .plugins import get_plugin_manager

        if manager is None:
            manager = get_plugin_manager(disabled=disabled_plugins)
        config = load_config(path)
        charts = build_charts(config, manager)
        return cls(
            config,
            list(charts),
            manager,
            helm_binary=helm_binary or os.environ.get("FIRESTREAM_HELM_BINARY") or None,
            kubectl_binary=kubectl_binary,
            kubeconfig=kubeconfig,
            kube_context=kube_context,
            env=env,
            secrets=getattr(charts, "secrets", ()),
        )

    def reload(self) -> Project:
        """The same project read again from its file (after ``import``)."""
        return Project.load(
            self.config.path,
            helm_binary=self.helm_binary,
            kubeconfig=self.kubeconfig,
            kube_context=self.kube_context,
            env=self.env,
            kubectl_binary=self.kubectl_binary,
            manager=self.manager,
        )

    # -- simple properties -------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return Path(self.config.path)

    @property
    def project_dir(self) -> Path:
        return Path(self.config.project_dir)

    @property
    def names(self) -> list[str]:
        """Release names in config order."""
        return [c.chart_info.name for c in self.charts]

    def chart(self, name: str) -> HelmChart:
        for c in self.charts:
            if c.chart_info.name == name:
                return c
        raise KeyError(name)

    def graph(self) -> ReleaseGraph:
        """The ``depends_on`` graph of the releases."""
        if self._graph is None:
            from .graph import build_graph

            self._graph = build_graph(self.charts, str(self.config.path))
        return self._graph

    def repositories(self) -> dict[str, str]:
        """Repository name -> URL: the chart types' defaults, overridden by ``[repositories]``."""
        out: dict[str, str] = {}
        for chart in self.charts:
            try:
                reg = self.manager.chart_type(chart.chart_type)
            except Exception:  # noqa: BLE001 - build_charts already reported it
                continue
            ct = getattr(reg, "chart_type", reg)
            out.update(getattr(ct, "repositories", {}) or {})
        out.update(self.config.repositories)
        return out

    # -- the tools of one run ---------------------------------------------------------------

    def tools(self) -> tuple[Any, Any, Any]:
        """A fresh ``(runner, helm, kubectl)`` for one run, sharing one process runner."""
        from .helm import Helm, Kubectl
        from .process import Runner

        runner = Runner(redactor=self.redactor)
        common: dict[str, Any] = {
            "kubeconfig": self.kubeconfig,
            "kube_context": self.kube_context,
            "env": self.env or None,
            "redactor": self.redactor,
        }
        helm = Helm(runner, self.helm_binary, **common)
        from .oci import registry_logins_for  # [registries]: one login per registry per run

        helm.registries = registry_logins_for(self)
        kubectl = Kubectl(runner, self.kubectl_binary, **common)
        return runner, helm, kubectl

    def state_backend(self) -> StateBackend:
        """Where the state and the lock live (``[state] backend``, local by default)."""
        kubectl = None
        if self.config.state.backend == "kubernetes":
            from .kubectl import Kubectl

            # its own runner: stopping the run's helm processes must not stop the lease's renewals
            kubectl = Kubectl(None, self.kubectl_binary, kubeconfig=self.kubeconfig,
                              kube_context=self.kube_context, env=self.env or None,
                              redactor=self.redactor)
        return state_backend(self.config, kubectl=kubectl)

    @contextmanager
    def lock(self, command: str = "firestream", *, timeout: float = 0.0) -> Iterator[Any]:
        """Hold the project's lock for several operations (plan, confirmation, apply).

        ``apply``/``destroy`` called inside it do not take the lock again.

        :param timeout: seconds to wait for a lock another run holds (0: refuse at once).
        :raises StateLockedError: another run holds it (the message names the holder).
        """
        if self._locked:
            yield None
            return
        with self.state_backend().lock(command, timeout=timeout) as held:
            self._locked = True
            try:
                yield held
            finally:
                self._locked = False

    def load_state(self) -> State:
        return self.state_backend().load()

    # -- plan -------------------------------------------------------------------------------

    def plan(
        self,
        targets: Iterable[str] | None = None,
        include_deps: bool = False,
        *,
        destroy: bool = False,
        helm: Any = None,
        installed: list[InstalledRelease] | None = None,
    ) -> Plan:
        """What ``apply`` (or ``destroy``) would do, from one ``helm list -A -a -o json``.

        :param targets: only these releases (their dependencies too with ``include_deps``).
        :param destroy: plan the removal of the (targeted) releases.
        :param helm: the helm layer to use (a fresh one when None).
        :param installed: the cluster state when already known (no helm call).
        """
        from .plan import make_plan

        if helm is None:
            _, helm, _ = self.tools()
        if installed is None:
            installed = helm.list_releases()
        return make_plan(
            self.charts,
            installed,
            self.load_state(),
            project_dir=self.project_dir,
            targets=list(targets) if targets else None,
            include_deps=include_deps,
            destroy=destroy,
            get_values=lambda name, ns: helm.get_values(name, ns),
            graph=self.graph(),
        )

    # -- apply / destroy ------------------------------------------------------------------------

    def apply(
        self,
        plan: Plan | None = None,
        *,
        concurrency: int | None = None,
        fail_fast: bool | None = None,
        targets: Iterable[str] | None = None,
        include_deps: bool = False,
        dry_run: bool = False,
        on_event: Callable[[ApplyEvent], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ApplyResult:
        """Carry out ``plan`` (made now when None) under the project lock.

        :param concurrency: releases at once (0: unlimited; default ``[settings]``).
        :param fail_fast: start nothing new after the first failure.
        :param targets: with no ``plan``: only these releases.
        :param include_deps: with ``targets``: their dependencies too.
        :param dry_run: helm's ``--dry-run``; nothing changes, the state is not written.
        :param on_event: called with each :class:`ApplyEvent` (from worker threads
            too: keep it quick and thread-safe).
        :param cancel: set it to stop: nothing new starts, running helm
            processes are terminated.
        :raises StateLockedError: another run holds the project's lock.
        """
        return self._run(
            plan,
            destroy=False,
            concurrency=concurrency,
            fail_fast=fail_fast,
            targets=targets,
            include_deps=include_deps,
            dry_run=dry_run,
            on_event=on_event,
            cancel=cancel,
        )

    def destroy(
        self,
        targets: Iterable[str] | None = None,
        *,
        plan: Plan | None = None,
        include_deps: bool = False,
        concurrency: int | None = None,
        fail_fast: bool | None = None,
        dry_run: bool = False,
        on_event: Callable[[ApplyEvent], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ApplyResult:
        """Uninstall the (targeted) releases in reverse dependency order.

        With ``include_deps``, the targets' dependents go too (they cannot
        outlive what they need). Arguments as for :meth:`apply`.
        """
        return self._run(
            plan,
            destroy=True,
            concurrency=concurrency,
            fail_fast=fail_fast,
            targets=targets,
            include_deps=include_deps,
            dry_run=dry_run,
            on_event=on_event,
            cancel=cancel,
        )

    def _run(
        self,
        plan: Plan | None,
        *,
        destroy: bool,
        concurrency: int | None,
        fail_fast: bool | None,
        targets: Iterable[str] | None,
        include_deps: bool,
        dry_run: bool,
        on_event: Callable[[ApplyEvent], None] | None,
        cancel: threading.Event | None,
    ) -> ApplyResult:
        from contextlib import nullcontext

        from .errors import FirestreamError

        settings = self.config.settings
        runner, helm, kubectl = self.tools()
        backend = self.state_backend()
        command = "firestream destroy" if destroy else "firestream apply"
        with nullcontext() if dry_run or self._locked else backend.lock(command):
            if plan is None:
                plan = self.plan(targets, include_deps, destroy=destroy, helm=helm)
            elif plan.destroy != destroy:
                kind = "destroy" if plan.destroy else "deploy"
                raise FirestreamError(f"this is a {kind} plan; pass it to {'destroy' if plan.destroy else 'apply'}()")
            run = _Run(
                self,
                plan,
                runner=runner,
                helm=helm,
                kubectl=kubectl,
                backend=backend,
                concurrency=settings.concurrency if concurrency is None else concurrency,
                fail_fast=settings.fail_fast if fail_fast is None else fail_fast,
                dry_run=dry_run,
                on_event=on_event,
                cancel=cancel if cancel is not None else threading.Event(),
            )
            return run.go()

    # -- status ---------------------------------------------------------------------------

    def status(self, *, helm: Any = None) -> list[ReleaseStatus]:
        """Each release's helm status, revision and chart version, with the state's last
        validation results; one ``helm list`` call."""
        if helm is None:
            _, helm, _ = self.tools()
        live = {r.key: r for r in helm.list_releases()}
        state = self.load_state()
        out: list[ReleaseStatus] = []
        for name in self.graph().order():
            chart = self.chart(name)
            ns = chart.chart_info.namespace_name
            inst = live.get((ns, name))
            rec = state.releases.get(f"{ns}/{name}")
            out.append(
                ReleaseStatus(
                    name=name,
                    namespace=ns,
                    chart_type=chart.chart_type,
                    status=inst.status if inst is not None else "not deployed",
                    revision=inst.revision if inst is not None else None,
                    chart=inst.chart_name if inst is not None else None,
                    version=inst.chart_version if inst is not None else None,
                    app_version=(inst.app_version or None) if inst is not None else None,
                    updated=(inst.updated or None) if inst is not None else None,
                    last_action=getattr(rec, "action", None),
                    last_result=getattr(rec, "result", None),
                    applied_at=getattr(rec, "applied_at", None),
                    validations=tuple(getattr(rec, "validations", None) or ()),
                )
            )
        return out

    # -- diff / drift / helm tests (diff.py, drift.py, helmtests.py) -------------------------

    def diff(self, targets: Iterable[str] | None = None, *, include_deps: bool = False) -> list[Any]:
        """Per changing release, the masked object diffs apply would make (:func:`~firestream_core.diff.diff_project`)."""
        from .diff import diff_project

        return diff_project(self, targets, include_deps=include_deps)

    def drift(self, targets: Iterable[str] | None = None) -> list[Any]:
        """Per deployed release, whether its live objects match its manifest (:mod:`firestream_core.drift`)."""
        from .drift import drift_project

        return drift_project(self, targets)

    def test(self, targets: Iterable[str] | None = None, *, record: bool = True) -> list[Any]:
        """``helm test`` of the deployed releases, results kept in the state (:mod:`firestream_core.helmtests`)."""
        from .helmtests import run_helm_tests

        return run_helm_tests(self, targets, record=record)

    # -- import / template --------------------------------------------------------------------

    def import_release(
        self,
        name: str,
        namespace: str | None = None,
        chart_type: str | None = None,
        *,
        chart: str | None = None,
    ) -> ImportResult:
        """Take an existing helm release under management (see :mod:`firestream_core.importer`)."""
        from .importer import import_release

        return import_release(self, name, namespace, chart_type, chart=chart)

    def template(self, output_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
        """Render every release with ``helm template``, in dependency order.

        Local charts render offline; repository charts need their repository
        (added once per repository). With ``output_dir``, each manifest is
        also written to ``<output_dir>/<release>.yaml`` (mode 0600: rendered
        Secrets hold values).

        :return: release name -> rendered manifest, in dependency order.
        """
        _, helm, _ = self.tools()
        repos = self.repositories()
        out: dict[str, str] = {}
        for name in self.graph().order():
            chart = self.chart(name)
            info = chart.chart_info
            if info.action is HelmAction.DESTROY:
                continue
            if info.path is None and info.repository and not info.chart.startswith("oci://"):
                url = repos.get(info.repository)
                if url:
                    helm.repo_add(info.repository, url)
            out[name] = helm.template(info, self.project_dir)
        if output_dir is not None:
            folder = Path(output_dir)
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in out.items():
                target = folder / f"{name}.yaml"
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
        return out


# -- one run ----------------------------------------------------------------------------------


def _first_line(error: BaseException | None) -> str:
    if error is None:
        return ""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class _Run:
    """One ``apply``/``destroy``: the plan's releases through the scheduler and the lifecycle."""

    def __init__(
        self,
        project: Project,
        plan: Plan,
        *,
        runner: Any,
        helm: Any,
        kubectl: Any,
        backend: Any,
        concurrency: int,
        fail_fast: bool,
        dry_run: bool,
        on_event: Callable[[ApplyEvent], None] | None,
        cancel: threading.Event,
    ) -> None:
        self.project = project
        self.plan = plan
        self.runner = runner
        self.helm = helm
        self.kubectl = kubectl
        self.backend = backend
        self.concurrency = concurrency
        self.fail_fast = fail_fast
        self.dry_run = dry_run
        self.on_event = on_event
        self.cancel = cancel
        self.repositories = project.repositories()
        self.changes = {c.name: c for c in plan.releases}
        self.outcomes: dict[str, ReleaseOutcome] = {}
        self.state: State | None = None
        self.manager = _StageReporter(project.manager, self._stage)
        self._events_broken = False

    # -- events ------------------------------------------------------------------------------

    def emit(self, event: ApplyEvent) -> None:
        if self.on_event is None or self._events_broken:
            return
        try:
            self.on_event(event)
        except Exception:  # a broken progress display must not break a deploy
            self._events_broken = True
            log.exception("progress callback failed; no further events are sent to it")

    def _stage(self, release: str, stage: str) -> None:
        change = self.changes.get(release)
        self.emit(ApplyEvent("stage", release, change.action if change else "", stage=stage))

    def _scheduler_event(self, event: Any) -> None:
        change = self.changes.get(event.name)
        status = getattr(event, "status", None)
        result = _SCHEDULER_RESULT.get(str(status)) if status is not None else None
        self.emit(
            ApplyEvent(
                event.kind,
                event.name,
                change.action if change else "",
                result=result,
                reason=event.reason,
                time=event.time,
            )
        )

    # -- the run -------------------------------------------------------------------------------

    def blocked(self) -> dict[str, str]:
        """Releases that cannot run: dependents of a skipped release that is not deployed."""
        if self.plan.destroy:
            return {}
        dependents: dict[str, list[str]] = {n: [] for n in self.plan.deps}
        for n, ds in self.plan.deps.items():
            for d in ds:
                dependents.setdefault(d, []).append(n)
        out: dict[str, str] = {}
        for c in self.plan.releases:
            info = self.project.chart(c.name).chart_info
            live = c.installed is not None and c.installed.status == "deployed"
            if info.action is HelmAction.SKIP and not live:
                stack = list(dependents.get(c.name, ()))
                while stack:
                    n = stack.pop()
                    if n not in out:
                        out[n] = f"dependency '{c.name}' is not deployed (action is skip)"
                        stack.extend(dependents.get(n, ()))
        return out

    def go(self) -> ApplyResult:
        from .scheduler import Scheduler

        started = time.monotonic()
        self.state = self.backend.load()
        blocked = self.blocked()
        deps = {n: list(ds) for n, ds in self.plan.deps.items() if n not in blocked}
        satisfied = [n for n in deps if not self.changes[n].is_change]
        estimates = self.state.estimates_for(
            (c.name, c.namespace, c.name) for c in self.plan.releases
        )
        for name, why in blocked.items():
            self.emit(ApplyEvent("skipped", name, self.changes[name].action, result="skipped", reason=why))
        done = threading.Event()
        watcher = threading.Thread(target=self._watch_cancel, args=(done,), daemon=True,
                                   name="firestream-cancel")
        watcher.start()
        try:
            result = Scheduler(self.concurrency, self.fail_fast).run(
                deps,
                self.work,
                reverse=self.plan.destroy,
                estimates=estimates,
                on_event=self._scheduler_event,
                cancel=self.cancel,
                satisfied=satisfied,
            )
        finally:
            done.set()
            watcher.join()
        if not self.dry_run:
            self.record_adopted(satisfied)
        releases: dict[str, ReleaseOutcome] = {}
        for c in self.plan.releases:
            releases[c.name] = self.outcome_of(c, result.nodes.get(c.name), blocked.get(c.name))
        return ApplyResult(
            plan=self.plan,
            releases=releases,
            cancelled=bool(result.cancelled),
            interrupted=bool(result.interrupted),
            dry_run=self.dry_run,
            duration=time.monotonic() - started,
        )

    def _watch_cancel(self, done: threading.Event) -> None:
        """Stop every helm process of this run as soon as ``cancel`` is set."""
        while not done.is_set():
            if self.cancel.wait(0.05):
                stopped = self.runner.terminate_all(refuse_new=True)
                if stopped:
                    log.warning("interrupted: stopped helm for %s", ", ".join(stopped))
                return

    def chart_for(self, change: Change) -> HelmChart:
        """The release's chart as this run deploys it: a deep copy, destroy / dry-run set.

        Always a copy: stages may edit the chart in place (the seed's
        ``info.values.push(...)``; a plugin setting ``auth.existingSecret`` in
        ``pre_exec``), and such edits must not leak into the project's desired
        state, or the next ``plan()`` on the same object would see a change.
        """
        chart = copy.deepcopy(self.project.chart(change.name))
        if self.plan.destroy:
            chart.chart_info.action = HelmAction.DESTROY
        if self.dry_run:
            chart.chart_info.dry_run = True
        return chart

    def context_for(self, chart: HelmChart, change: Change) -> Any:
        from .context import DeployContext

        return DeployContext(
            helm=self.helm,
            kubectl=self.kubectl,
            project_dir=self.project.project_dir,
            repositories=self.repositories,
            installed=change.installed,
            change=change.action,
            redactor=self.project.redactor,
            log=logging.getLogger("firestream"),
            dry_run=self.dry_run,
            settings={
                "validation_failure": chart.settings.on_validation_failure,
                "on_validation_failure": chart.settings.on_validation_failure,
                "run_tests": chart.settings.run_tests,
            },
            cancel=self.cancel,
        )

    def work(self, name: str) -> ReleaseOutcome:
        """One release's lifecycle (on a worker thread); its state is saved as soon as it ends."""
        from .lifecycle import run_release

        change = self.changes[name]
        chart = self.chart_for(change)
        context = self.context_for(chart, change)
        t0 = time.monotonic()
        result = run_release(chart, self.manager, context)  # type: ignore[arg-type]  # a proxy
        duration = time.monotonic() - t0
        outcome = self.outcome_from(change, result, duration)
        self.outcomes[name] = outcome
        if not self.dry_run and outcome.result != "cancelled" and not (not outcome.ok and self.cancel.is_set()):
            self.record(change, outcome)
        return outcome

    def outcome_from(self, change: Change, result: Any, duration: float) -> ReleaseOutcome:
        """A ``ReleaseOutcome`` from the lifecycle's ``ReleaseResult`` (messages are redacted)."""
        red = self.project.redactor.redact
        ok = bool(getattr(result, "ok", False))
        stage = getattr(result, "stage_failed", None)
        reason = change.reason
        if not ok:
            error = getattr(result, "error", None)
            reason = red(str(error)) if error else (f"{stage} failed" if stage else "failed")
        exec_outcome = getattr(result, "outcome", None)
        return ReleaseOutcome(
            name=change.name,
            action=change.action,
            result="ok" if ok else ("cancelled" if getattr(result, "interrupted", False) else "failed"),
            reason=reason,
            duration=duration,
            validations=tuple(getattr(result, "validations", ()) or ()),
            stage_failed=stage,
            revision=getattr(exec_outcome, "revision", None),
            rolled_back=bool(getattr(result, "rolled_back", False)),
            debug=tuple(red(str(line)) for line in getattr(result, "debug", ()) or ()),
        )

    # -- state ----------------------------------------------------------------------------------

    def record(self, change: Change, outcome: ReleaseOutcome) -> None:
        """Write what happened to ``change``'s release into the state file, atomically."""
        from .state import ReleaseState, utc_now

        assert self.state is not None
        if change.action == "destroy":
            if outcome.ok:
                self.state.forget(change.key)
                self.backend.save(self.state)
            return
        chart = self.project.chart(change.name)
        previous = self.state.releases.get(change.key)
        revision = outcome.revision
        if revision is None and not outcome.ok and previous is not None:
            revision = previous.revision
        self.state.record(
            ReleaseState(
                name=change.name,
                namespace=change.namespace,
                chart_type=chart.chart_type,
                chart=chart.chart_info.chart_ref,
                version=change.desired_version,
                values_digest=change.values_digest or "",
                chart_digest=change.chart_digest,
                revision=revision,
                applied_at=utc_now(),
                action=change.action,
                result="succeeded" if outcome.ok else "failed",
                duration=outcome.duration,
                stage_failed=outcome.stage_failed,
                validations=[
                    {k: self.project.redactor.redact(str(v)) if isinstance(v, str) else v
                     for k, v in _validation_dict(v).items()}
                    for v in outcome.validations
                ],
            )
        )
        self.backend.save(self.state)

    def record_adopted(self, satisfied: Iterable[str]) -> None:
        """Record no-op releases the state did not know (they match the cluster)."""
        from .state import ReleaseState, utc_now

        assert self.state is not None
        changed = False
        for name in satisfied:
            c = self.changes[name]
            inst = c.installed
            if self.plan.destroy or inst is None or c.values_digest is None:
                continue
            if self.state.releases.get(c.key) is not None:
                continue
            chart = self.project.chart(name)
            self.state.record(
                ReleaseState(
                    name=name,
                    namespace=c.namespace,
                    chart_type=chart.chart_type,
                    chart=chart.chart_info.chart_ref,
                    version=inst.chart_version or c.desired_version,
                    values_digest=c.values_digest,
                    chart_digest=c.chart_digest,
                    revision=inst.revision,
                    applied_at=utc_now(),
                    action="no-op",
                    result="succeeded",
                    duration=0.0,
                )
            )
            changed = True
        if changed:
            self.backend.save(self.state)

    # -- results ---------------------------------------------------------------------------------

    def outcome_of(self, change: Change, node: Any, blocked: str | None) -> ReleaseOutcome:
        if blocked is not None:
            return ReleaseOutcome(change.name, change.action, "skipped", blocked)
        if not change.is_change:
            return ReleaseOutcome(change.name, change.action, "ok", change.reason)
        mine = self.outcomes.get(change.name)
        status = str(getattr(node, "status", "not_started"))
        result = _SCHEDULER_RESULT.get(status, status)
        if mine is not None:
            if result == "cancelled":
                return attrs.evolve(mine, result="cancelled", reason=f"interrupted ({mine.reason})")
            return mine
        reason = getattr(node, "reason", None) or ""
        if result == "failed":  # the work raised instead of returning a result
            reason = self.project.redactor.redact(
                f"{type(node.error).__name__}: {_first_line(node.error)}" if node.error else reason
            )
        duration = getattr(node, "duration", None) or 0.0
        if result == "not_started" and not reason:
            reason = "not started (interrupted)" if self.cancel.is_set() else "not started"
        return ReleaseOutcome(change.name, change.action, result, reason, duration)
