"""What every lifecycle stage receives besides the chart and the payload."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from firestream_core.model import BreakingStep, BreakingVersion, ExecOutcome, InstalledRelease
    from firestream_core.plugin.stage_tools import HelmTool, KubectlTool
    from firestream_core.tools.helm_output import TestRun
    from firestream_core.tools.redact import Redactor


@attrs.frozen
class PreparedRelease:
    """What the core did to a release before helm runs: ``context.prepared``, read by an ``exec`` wrapper.

    The default ``exec`` is two documented steps. First the built-in ``exec``
    *wrapper* (the outermost one) prepares the release: a ``pending-*`` release
    is recovered (rolled back, or uninstalled when it never worked) and the
    plan's breaking-version step is taken (its ``pre_upgrade_commands``, then
    the uninstall with ``requires_uninstall``; a step the plan did not show is
    refused). What it did is this record, in ``context.prepared``. Then every
    other ``exec`` runs: a chart plugin's ``wrapper=True`` hookimpl (its code
    before ``yield`` runs now, between the preparation and helm), and the
    default ``helm upgrade --install``. ``context.prepared`` is None for a
    Destroy, a Skip and a dry run (nothing is prepared).

    :ivar installed: the release as it stands now: None when it is not
        installed, or was uninstalled by the preparation; status
        ``uninstalled`` when ``helm uninstall --keep-history`` left only its
        history (the default ``exec`` installs it with ``helm install --replace``).
    :ivar recovered: a ``pending-*`` release was recovered first.
    :ivar breaking: the breaking-version step taken (the plan's), or None.
    :ivar uninstalled: the release was uninstalled for that step; helm now
        installs it afresh.

    Example, an operator chart's step before helm (the ``exec`` wrapper of the
    kafka and prometheus-operator plugins)::

        @hookimpl(wrapper=True)
        def exec(chart, context, payload):
            prepared = context.prepared        # None: a Destroy, a Skip, a dry run
            if prepared is not None and not prepared.uninstalled:
                applied = upgrade_chart_crds(context, chart.chart_info,
                                             installed=prepared.installed,
                                             probe=["kafkas.kafka.strimzi.io"])
                if applied:
                    payload.section("kafka")["crds_applied"] = applied
            return (yield)                     # the default helm upgrade --install

    >>> PreparedRelease(installed=None, uninstalled=True).uninstalled
    True
    """

    installed: InstalledRelease | None
    recovered: bool = False
    breaking: BreakingStep | None = None
    uninstalled: bool = False


@attrs.define
class LifecycleRecord:
    """What the runner keeps of one release's lifecycle while it runs (``context.lifecycle``).

    The core's own bookkeeping, kept out of the payload (which is the
    plugins'); the release's :class:`~firestream_core.deploy.results.ReleaseOutcome`
    carries ``executed`` and the tests' results when the lifecycle ends.
    Stages read it; the runner and the built-in defaults write it.

    :ivar executed: what ``exec`` did in this lifecycle (``performed``,
        ``revision``, helm's ``status`` of that revision, its ``workloads``),
        None before ``exec`` ran.
    :ivar status_fresh: ``executed.status`` is still helm's status of the
        release: true right after ``exec``, false once a plugin's own
        ``post_exec`` ran or after the first ``validate`` call.
    :ivar tests: the ``helm test`` run of the ``helm_tests`` validation (run
        once per lifecycle), None until it ran.
    :ivar tests_error: why ``helm test`` could not be run, if it could not.
    :ivar workloads: the release's workloads ``(kind, namespace, name)`` read
        from ``helm get manifest`` (once per lifecycle), None until read.
    :ivar pod_free: that manifest holds nothing that may run pods.

    A plugin's later stage reads what ``exec`` did::

        @hookimpl
        def post_exec(chart, context, payload):
            done = context.lifecycle.executed
            if done is not None and done.performed == "deployed":
                payload.section("redis")["revision"] = done.revision

    >>> from firestream_core.model import ExecOutcome
    >>> record = LifecycleRecord(ExecOutcome("deployed", 3, status="deployed"), status_fresh=True)
    >>> record.executed.revision, record.status_fresh, record.tests
    (3, True, None)
    """

    executed: ExecOutcome | None = None
    status_fresh: bool = False
    tests: TestRun | None = None
    tests_error: str | None = None
    workloads: tuple[tuple[str, str, str], ...] | None = None
    pod_free: bool = False


@attrs.define
class DeployContext:
    """The run's tools and settings, as one release's stages see them.

    :ivar helm: the helm layer (the run's ``firestream_core.tools.helm.Helm``); every
        helm call goes through it. Typed by what a stage may call on it
        (:class:`~firestream_core.plugin.stage_tools.HelmTool`): in
        ``contribute_values`` it is a read-only view whose writes raise ``PluginError``.
    :ivar kubectl: the kubectl layer (the run's ``firestream_core.tools.kubectl.Kubectl``;
        :class:`~firestream_core.plugin.stage_tools.KubectlTool`, read-only in
        ``contribute_values``).
    :ivar project_dir: the folder of ``firestream.toml``; relative paths in the
        config are relative to it.
    :ivar repositories: repository name -> URL, the config's ``[repositories]``
        over the chart types' defaults.
    :ivar installed: this release as the run's single cluster-state call saw
        it, or None when it is not installed.
    :ivar change: what the plan decided: ``create``, ``upgrade``, ``recover``,
        ``reinstall``, ``destroy``, ``no-op`` (None outside a plan).
    :ivar breaking: the breaking-version step the plan decided for this release
        (:func:`~firestream_core.model.breaking_step`), None when it decided none;
        exec refuses a different one while ``change`` is set.
    :ivar redactor: hides sensitive values (docs/secrets.md) in any text shown or logged.
    :ivar log: the logger stages should use (its output is redacted). During a
        lifecycle it is bound to the release: each line starts with
        ``release '<name>':`` (once, even when the message names it already).
    :ivar dry_run: nothing may be changed in the cluster.
    :ivar settings: further run settings (``on_validation_failure``: ``fail`` or
        ``warn``; ``run_tests``; ...). The old key ``validation_failure`` is still
        read, with a ``DeprecationWarning``.
    :ivar cancel: set when the run is interrupted; long waits should poll it.
    :ivar releases: the project's releases, name -> chart type (the desired-state
        stage: a plugin may ask whether the project deploys the chart that
        provides a CRD it needs).
    :ivar notes: what the desired-state stage said about this release's
        values (:meth:`note`); the plan shows each as a reason.
    :ivar problems: why this release cannot be deployed as configured
        (:meth:`refuse`); the plan shows them and apply stops the release at
        ``check_prerequisites``, before anything changed.
    :ivar breaking_version: a breaking version the desired-state stage decided
        (:meth:`require_breaking_version`); the plan decides the breaking step with it.
    :ivar steps: what this chart type's ``exec`` does besides helm whenever the release
        changes, said in the desired-state stage (:meth:`exec_step`); the plan lists them.
    :ivar out_of_date_reasons: why the cluster does not hold what this release's config asks
        for, in something only the plugin sees (:meth:`out_of_date`); the plan upgrades
        an installed release for them.
    :ivar namespace_by_plugin: the desired-state stage said this chart type's ``pre_exec``
        creates the release's namespace when it is missing (:meth:`creates_namespace`).
    :ivar lifecycle: what the runner keeps of this release's lifecycle
        (:class:`LifecycleRecord`: what ``exec`` did, the ``helm test`` run);
        the runner starts a new one for every release it runs.
    :ivar offline: the desired-state stage as ``firestream validate`` runs it: no
        cluster (``helm`` and ``kubectl`` answer nothing), nothing is installed;
        a hook notes what it will decide at plan time instead of asking.
    :ivar prepared: in ``exec``, what the core did before helm (pending recovery,
        the breaking-version step): a :class:`PreparedRelease`, None outside a
        Deploy that changes the cluster.
    :ivar planned_steps: the destructive steps the plan listed for this release, as it
        showed them (for a destroy, what its chart type's ``destroy_steps`` said); a hook
        takes a step of its own that depends on the cluster only when its line is here,
        so it never does what the plan did not show. Empty outside a run of a plan.

    A stage reads it, never builds it (the runner does)::

        @hookimpl
        def post_exec(chart, context, payload):
            if context.dry_run:
                return
            ns = chart.chart_info.namespace_name
            context.log.info("release '%s': %s", chart.name, context.change)
            context.kubectl.get("service", f"{chart.name}-headless", namespace=ns)
            seed = context.resolve("seed/schema.sql")    # relative to firestream.toml
            if context.settings.get("on_validation_failure") == "warn":
                ...
    """

    helm: HelmTool
    kubectl: KubectlTool
    project_dir: Path = attrs.field(factory=Path.cwd)
    repositories: Mapping[str, str] = attrs.field(factory=dict)
    installed: InstalledRelease | None = None
    change: str | None = None
    breaking: BreakingStep | None = None
    redactor: Redactor | None = None
    log: logging.Logger = attrs.field(factory=lambda: logging.getLogger("firestream"))
    dry_run: bool = False
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    cancel: threading.Event = attrs.field(factory=threading.Event)
    releases: Mapping[str, str] = attrs.field(factory=dict)
    notes: list[str] = attrs.field(factory=list)
    problems: list[str] = attrs.field(factory=list)
    breaking_version: BreakingVersion | None = None
    steps: list[str] = attrs.field(factory=list)
    out_of_date_reasons: list[str] = attrs.field(factory=list)
    namespace_by_plugin: bool = False
    lifecycle: LifecycleRecord = attrs.field(factory=LifecycleRecord)
    offline: bool = False
    prepared: PreparedRelease | None = None
    planned_steps: tuple[str, ...] = ()

    def note(self, text: str) -> None:
        """Say why a value of this release is what it is (``contribute_values``).

        The plan shows the line as a reason on the release's line
        (``metrics.serviceMonitor.enabled off: ...``); it never changes the action.

        >>> context = DeployContext(helm=None, kubectl=None)
        >>> context.note("metrics.serviceMonitor.enabled off: no ServiceMonitor CRD")
        >>> context.notes
        ['metrics.serviceMonitor.enabled off: no ServiceMonitor CRD']
        """
        if text not in self.notes:
            self.notes.append(text)

    def refuse(self, text: str) -> None:
        """Refuse to deploy this release as configured (``contribute_values``).

        ``plan`` lists the problem (and exits 1); ``apply`` stops the release
        at ``check_prerequisites`` with it, before anything changed.

        >>> context = DeployContext(helm=None, kubectl=None)
        >>> context.refuse("chart 17.1.0 moves PostgreSQL 16 -> 17: set major_upgrade")
        >>> context.problems
        ['chart 17.1.0 moves PostgreSQL 16 -> 17: set major_upgrade']
        """
        if text not in self.problems:
            self.problems.append(text)

    def creates_namespace(self) -> None:
        """Say that this release's ``pre_exec`` creates its namespace when it is missing
        (``contribute_values``), e.g. with :func:`~firestream_core.plugin.secrets.ensure_namespace`
        before a Secret it keeps there.

        ``pre_exec`` only runs during apply: this is how the plan learns it. A plan
        that finds the namespace missing lists it as the plugin's to create
        (``+ namespace data (created for db)``; ``created_by: plugin`` in ``--json``)
        and does not refuse the release for ``create_namespace = false``. Say it
        only when ``pre_exec`` will create it (same conditions), or the plan
        promises a namespace apply does not make.

        >>> context = DeployContext(helm=None, kubectl=None)
        >>> context.creates_namespace()
        >>> context.namespace_by_plugin
        True
        """
        self.namespace_by_plugin = True

    def exec_step(self, text: str) -> None:
        """Say a step this chart type's ``exec`` takes whenever the release is created,
        upgraded or recovered (``contribute_values``), e.g. its CRDs server-side applied before helm.

        The plan lists it under the release's destructive steps when the release
        changes, never on a ``no-op`` (nothing runs then); a line equal to one of the
        breaking-version step's (``ChartType.destructive_steps``) is listed once.

        >>> context = DeployContext(helm=None, kubectl=None)
        >>> context.exec_step("server-side apply the example.com CRDs of my-operator 1.2.0 before helm")
        >>> context.steps
        ['server-side apply the example.com CRDs of my-operator 1.2.0 before helm']
        """
        if text not in self.steps:
            self.steps.append(text)

    def out_of_date(self, text: str) -> None:
        """Say the cluster does not hold what this release's config asks for, in something only
        this plugin keeps (``contribute_values``), e.g. a Secret whose password is not the
        configured one: helm's values cannot show it.

        The plan shows the release as an ``upgrade`` with ``text`` as a reason (a no-op
        otherwise), so apply runs its lifecycle and the plugin's hooks bring it to the
        config; say what they will do with :meth:`exec_step`. Never for a create (it runs
        anyway) or a release the plan leaves alone.

        >>> context = DeployContext(helm=None, kubectl=None)
        >>> context.out_of_date("Secret 'db-auth': postgres-password not as configured")
        >>> context.out_of_date_reasons
        ["Secret 'db-auth': postgres-password not as configured"]
        """
        if text not in self.out_of_date_reasons:
            self.out_of_date_reasons.append(text)

    def require_breaking_version(self, version: BreakingVersion) -> None:
        """Use ``version`` as this release's breaking version (``contribute_values``), e.g. a
        reinstall the user chose for a data-format change; the plan shows the step it takes.

        >>> from firestream_core.model import BreakingVersion
        >>> context = DeployContext(helm=None, kubectl=None)
        >>> context.require_breaking_version(BreakingVersion("16.0.0", requires_uninstall=True))
        >>> context.breaking_version.version, context.breaking_version.requires_uninstall
        ('16.0.0', True)
        """
        self.breaking_version = version

    def resolve(self, path: Path | str) -> Path:
        """A config path made absolute against the project folder.

        >>> from pathlib import Path
        >>> context = DeployContext(helm=None, kubectl=None, project_dir=Path("/srv/shop"))
        >>> context.resolve("values/web.yaml"), context.resolve("/etc/web.yaml")
        (PosixPath('/srv/shop/values/web.yaml'), PosixPath('/etc/web.yaml'))
        """
        p = Path(path)
        return p if p.is_absolute() else self.project_dir / p
