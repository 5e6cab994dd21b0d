"""The ``prometheus-operator`` chart type's hook implementations.

=====================  ==============================================================
stage                  what this plugin adds to the defaults
=====================  ==============================================================
check_prerequisites    ``grafana_password_env`` names a set variable
contribute_values      (deploy) Grafana pointed at its admin Secret (pure); the
                       CRD step exec takes, for the plan (``context.exec_step``);
                       a downgrade back across a CRD update is refused, and
                       so is a CRD step over newer CRDs in the cluster
                       (``operator.prometheus.io/version``, another release's)
pre_exec               (deploy) the Grafana admin Secret; (destroy) the kubelet Service
                       the destroy plan listed for deletion, read from the release
exec                   (deploy) a ``wrapper=True`` step between the core's
                       preparation and its ``helm upgrade --install``: when the
                       core uninstalled the release for a breaking version (the
                       plan's step, ``context.prepared``) and ``delete_crds``,
                       the ``monitoring.coreos.com`` CRDs are deleted; otherwise,
                       on an upgrade (or when the CRDs are already there), the
                       chart's CRDs are server-side applied (the core's
                       ``upgrade_chart_crds``). The plan lists this step
                       (``destructive_steps``).
post_exec              (deploy) waits until the operator is available (in
                       ``namespaceOverride``'s namespace when set);
                       (destroy) deletes the operator's kubelet Service, its
                       Endpoints and EndpointSlices (``.kubelet``: only the
                       operator's, only as the destroy plan listed it, once the
                       operator's pods are gone); the CRDs
                       only with ``delete_crds``
validate               ``prometheus_crds``, ``operator_available``,
                       ``prometheus_instances`` (at least one Prometheus),
                       ``grafana_available``
=====================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from firestream_core.plugin import ChartType, HelmAction, hookimpl, is_dry_run, value_of

from .chart import (
    CHART,
    REPOSITORY,
    REPOSITORY_URL,
    VERSION,
    PrometheusOperatorChart,
    PrometheusOperatorOptions,
    crd_upgrades_crossed,
    options_of,
)

if TYPE_CHECKING:
    from firestream_core.plugin import ChartPayload, DeployContext, HelmChart, ValidationResult

PAYLOAD_KEY = "prometheus-operator"


def chart_type() -> ChartType:
    """The ``prometheus-operator`` chart type as registered."""
    return ChartType(
        name="prometheus-operator",
        chart_class=PrometheusOperatorChart,
        presets={"default": PrometheusOperatorChart.default},
        options=PrometheusOperatorOptions,
        repositories={REPOSITORY: REPOSITORY_URL},
        description=f"kube-prometheus-stack {VERSION}; CRDs upgraded with the chart, Grafana admin in a Secret",
        destructive_steps=destructive_steps,
        destroy_steps=destroy_steps,
    )


def crd_step_line(version: str | None) -> str:
    """The plan's line for the CRD step ``exec`` takes before helm (``upgrade_chart_crds``)."""
    return (f"server-side apply the monitoring.coreos.com CRDs of kube-prometheus-stack "
            f"{version or 'the resolved version'} before the upgrade (helm never updates crds/)")


def destructive_steps(chart: HelmChart, step: Any) -> list[str]:
    """What ``exec`` adds to a breaking step, for the plan, in its order.

    With an uninstall and ``delete_crds`` the CRDs go too (helm installs the
    new chart's afresh). Otherwise, with ``upgrade_crds``, the chart's CRDs
    are server-side applied before helm runs: one step, named with each
    CRD-updating major of the upgrade notes it covers (:data:`.chart.CRD_UPGRADES`).
    With ``upgrade_crds = false``, ``skip_crds`` or the value ``crds.enabled: false`` exec
    applies none, and the line says so.
    """
    from firestream_core.plugin import chart_value

    opts = options_of(chart)
    if step.uninstall and opts.delete_crds:
        return ["delete the monitoring.coreos.com CRDs (delete_crds = true), and every object of their kinds"]
    target = step.target or chart.chart_info.version or "the resolved version"
    crossed = crd_upgrades_crossed(step.installed, step.target)
    left = ("upgrade_crds = false" if not opts.upgrade_crds
            else "skip_crds = true" if chart.chart_info.skip_crds
            else None if chart_value(chart.chart_info, "crds.enabled", True) else "crds.enabled = false")
    # exec applies none then (the values files of a config's release are absolute paths)
    if left:
        return [f"CRDs NOT updated ({left}): apply those of kube-prometheus-stack {target} "
                f"yourself first; upstream requires it for {', '.join(v for v, _ in crossed) or 'this upgrade'}"]
    lines = [crd_step_line(target)]
    lines += [f"which covers the CRD update of {version}: {note}" for version, note in crossed]
    return lines


@hookimpl
def register_chart_types(register: Callable[[ChartType], None]) -> None:
    """Register the ``prometheus-operator`` chart type."""
    register(CHART_TYPE)


def destroy_steps(chart: HelmChart, project_dir: Any = None, context: DeployContext | None = None) -> list[str]:
    """What a destroy removes besides helm's uninstall (``ChartType.destroy_steps``), as
    ``post_exec`` decides it: the operator's kubelet Service, when the cluster holds it
    (``context``, the destroy plan's read-only view: :func:`.kubelet.kubelet_destroy_steps`; a
    Service of its name that is not the operator's is said to be kept), and the
    ``monitoring.coreos.com`` CRDs, with ``delete_crds``. They are cluster-wide: every
    ServiceMonitor, PrometheusRule, ... of every namespace goes with them."""
    lines = []
    if context is not None:
        from .kubelet import kubelet_destroy_steps

        lines += kubelet_destroy_steps(chart, context)
    if options_of(chart).delete_crds:
        lines.append("delete the monitoring.coreos.com CRDs (delete_crds = true), and every object of their "
                     "kinds in every namespace")
    return lines


CHART_TYPE = chart_type()
"""The chart type, built on import: from then on the chart class's ``chart_type`` is its name."""


def _payload(payload: ChartPayload) -> dict[str, Any]:
    return payload.setdefault(PAYLOAD_KEY, {})


def operator_selector(chart: HelmChart, context: DeployContext) -> str:
    """The operator Deployment's labels (``app: <chart name>-operator``, ``release``)."""
    name = value_of(chart, context, "nameOverride") or CHART
    return f"app={name}-operator,release={chart.chart_info.name}"


def operator_gone(context: DeployContext, namespace: str, selector: str, timeout: str) -> bool:
    """Whether the operator's pods are gone, waiting up to ``timeout`` for those still terminating
    (helm's uninstall deletes the Deployment; its pods go after it)."""
    pods = context.kubectl.get("pods", namespace=namespace, selector=selector)
    if not (pods or {}).get("items"):
        return True
    context.log.info("waiting for the Prometheus Operator's pods to be gone before deleting its kubelet Service")
    return context.kubectl.wait("pod", namespace=namespace, condition="delete", selector=selector, timeout=timeout)


def stack_namespace(chart: HelmChart, context: DeployContext) -> str:
    """Where the chart puts its own objects (operator, Prometheus): upstream's ``namespaceOverride``
    (``kube-prometheus-stack.namespace``), else the release's namespace. Grafana and the other
    subcharts have their own ``namespaceOverride`` and stay in the release's."""
    return str(value_of(chart, context, "namespaceOverride") or chart.chart_info.namespace_name)


@hookimpl
def check_prerequisites(chart: HelmChart, context: DeployContext) -> list[str] | None:
    """``grafana_password_env`` names a variable that is set."""
    from .grafana import missing_environment

    if chart.chart_info.action is not HelmAction.DEPLOY:
        return None
    return missing_environment(chart) or None


def crd_downgrade_problem(chart: HelmChart, context: DeployContext) -> str | None:
    """Why this deploy may not run: a downgrade back across a CRD update of :data:`.chart.CRD_UPGRADES`."""
    from firestream_core.plugin import release_downgrade_problem

    from .chart import CRD_UPGRADES

    return release_downgrade_problem(
        chart, context, CRD_UPGRADES, CHART,
        why="exec would server-side apply the older chart's CRDs over the newer ones the cluster "
            "holds, dropping what the newer operator's objects use",
    )


def crds_written(chart: HelmChart, context: DeployContext, *, check_step: bool = True) -> tuple[bool, str | None]:
    """Whether exec takes the CRD step on this deploy, and why the chart's CRDs may not be written.

    They are written by the CRD step, or by helm 4's own install on a create over existing CRDs
    (it server-side applies ``crds/``; helm 3 skips existing CRDs). CRDs are cluster-wide: over
    newer ones another release put there (``operator.prometheus.io/version``) they may not be.
    ``check_step=False``: the CRD step is not checked (``upgrade_chart_crds`` checks it in exec).
    """
    from firestream_core.plugin import crds_step_due, newer_crds_problem

    from .crds import CRDS, VERSION_ANNOTATION

    info = chart.chart_info
    crds_on = value_of(chart, context, "crds.enabled", True)
    step = options_of(chart).upgrade_crds and crds_on and crds_step_due(context, info, probe=CRDS[:1])
    by_helm = (not step and crds_on and context.installed is None
               and crds_step_due(context, info, probe=CRDS[:1]) and context.helm.major >= 4)
    if not (step or by_helm) or (step and not check_step):
        return bool(step), None
    return bool(step), newer_crds_problem(context, info, VERSION_ANNOTATION)


@hookimpl
def contribute_values(chart: HelmChart, context: DeployContext) -> dict[str, Any] | None:
    """Grafana pointed at the admin Secret ``pre_exec`` keeps (``grafana.admin.*``) and what it will
    change in it (:func:`.grafana.plan_grafana_admin`); and the CRD step ``exec`` takes on this
    deploy, said for the plan (``context.exec_step``), and that ``pre_exec`` creates the namespace
    before that Secret (``context.creates_namespace``)."""
    from .grafana import admin_values, plan_grafana_admin

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return None
    problem = crd_downgrade_problem(chart, context)
    if problem:
        context.refuse(problem)
        return None
    step, problem = crds_written(chart, context)
    if problem:
        context.refuse(problem)
        return None
    if step:
        context.exec_step(crd_step_line(info.version))
    plan_grafana_admin(chart, context)
    from .grafana import grafana_namespace

    values = admin_values(chart, context)
    if values is not None and info.create_namespace and grafana_namespace(chart, context) == info.namespace_name:
        context.creates_namespace()  # prepare_grafana_admin's ensure_namespace, before helm
    return values


@hookimpl
def pre_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """Keep Grafana's admin password in the Secret Grafana reads. Destroy: read, while the release is
    installed, the kubelet Service the plan listed for deletion (``post_exec`` deletes it)."""
    from .grafana import prepare_grafana_admin

    if chart.chart_info.action is HelmAction.DESTROY and context.installed is not None:
        from .kubelet import release_kubelet_service

        found = release_kubelet_service(chart, context)
        if found is not None:
            target, pods = found
            _payload(payload)["kubelet_service"] = list(target)
            if pods is not None:  # where the deployed operator's pods are, as its manifest says
                _payload(payload)["operator_pods"] = list(pods)
        return
    if chart.chart_info.action is not HelmAction.DEPLOY:
        return
    summary = prepare_grafana_admin(chart, context)
    if summary is not None:
        _payload(payload)["grafana_admin"] = summary


@hookimpl(wrapper=True)
def exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> Generator[None, Any, Any]:  # noqa: A001
    """The CRD step, between the core's preparation (``context.prepared``) and ``helm upgrade --install``."""
    from firestream_core.plugin import upgrade_chart_crds

    from .crds import CRDS, VERSION_ANNOTATION, delete_crds

    prepared = context.prepared  # None: a Destroy, a Skip, a dry run
    if prepared is not None:
        info = chart.chart_info
        opts = options_of(chart)
        record = _payload(payload)
        crds_gone = False
        if prepared.uninstalled:  # the plan's breaking step, taken by the core
            record["uninstalled_for_breaking_version"] = True
            if opts.delete_crds:
                record["crds_deleted"] = delete_crds(context, info)
                crds_gone = True
        if not crds_gone:  # helm 4's install over newer CRDs the plan did not see (the cluster changed)
            _, problem = crds_written(chart, context, check_step=False)
            if problem:
                from firestream_core.errors import PlanMismatchError

                raise PlanMismatchError(f"{problem}; nothing was applied and helm did not run",
                                        release=info.name, hint="run 'firestream plan' again and review it")
        if opts.upgrade_crds and not crds_gone and value_of(chart, context, "crds.enabled", True):
            applied = upgrade_chart_crds(context, info, installed=prepared.installed, probe=CRDS[:1],
                                         version_annotation=VERSION_ANNOTATION)
            if applied is not None:
                record["crds_applied"] = applied
    return (yield)


@hookimpl
def post_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """Deploy: wait for the operator. Destroy: once the operator's pods are gone, delete its kubelet
    Service as the destroy plan listed it; delete the CRDs when ``delete_crds``."""
    from firestream_core.plugin import HelmTimeoutError

    from .crds import delete_crds

    info = chart.chart_info
    if is_dry_run(chart, context):
        return
    if info.action is HelmAction.DESTROY:
        target = _payload(payload).get("kubelet_service")  # as the destroy plan listed it (pre_exec)
        if target:
            from .kubelet import delete_kubelet_service

            namespace, selector = _payload(payload).get("operator_pods") or (
                stack_namespace(chart, context), operator_selector(chart, context))
            if not operator_gone(context, namespace, selector, info.timeout):
                raise HelmTimeoutError(
                    f"the Prometheus Operator's pods ({selector}, namespace '{namespace}') were still there "
                    f"{info.timeout} after the uninstall: its kubelet Service '{target[1]}' (namespace "
                    f"'{target[0]}') was kept, since a running operator makes it again; delete it, its "
                    "Endpoints and EndpointSlices once they are gone", release=info.name)
            _payload(payload)["kubelet_service_deleted"] = delete_kubelet_service(context, *target)
        if destroy_steps(chart):  # the step the destroy plan shows, decided alike
            _payload(payload)["crds_deleted"] = delete_crds(context, info)
        else:
            context.log.info(
                "release '%s': monitoring.coreos.com CRDs kept (set delete_crds = true to remove them)",
                info.name,
            )
        return
    if info.action is not HelmAction.DEPLOY or not value_of(chart, context, "prometheusOperator.enabled", True):
        return
    context.log.info("release '%s': Post-exec: waiting for the Prometheus Operator to be available", info.name)
    ready = context.kubectl.wait(
        "deployment",
        namespace=stack_namespace(chart, context),
        condition="condition=Available",
        selector=operator_selector(chart, context),
        timeout=info.timeout,
    )
    if not ready:
        raise HelmTimeoutError(
            f"the Prometheus Operator of release '{info.name}' did not become available "
            f"within {info.timeout}",
            release=info.name,
        )
    _payload(payload)["operator_ready"] = True


@hookimpl
def validate(chart: HelmChart, context: DeployContext) -> list[ValidationResult] | None:
    """CRDs established, operator available, a Prometheus, Grafana available."""
    from firestream_core.plugin import checks

    from .crds import CRDS

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return None
    results = [checks.crds_established(context, CRDS, check="prometheus_crds")]
    if value_of(chart, context, "prometheusOperator.enabled", True):
        results.append(
            checks.deployment_available(
                context, namespace=stack_namespace(chart, context), selector=operator_selector(chart, context),
                check="operator_available",
            )
        )
    if value_of(chart, context, "prometheus.enabled", True):
        results.append(
            checks.resources_exist(
                context, "prometheuses.monitoring.coreos.com", namespace=stack_namespace(chart, context),
                selector=f"release={info.name}", check="prometheus_instances",
            )
        )
    if value_of(chart, context, "grafana.enabled", True):
        from .grafana import grafana_namespace

        results.append(
            checks.deployment_available(
                context, namespace=grafana_namespace(chart, context),
                selector=f"app.kubernetes.io/instance={info.name},app.kubernetes.io/name=grafana",
                check="grafana_available",
            )
        )
    return results
