"""The ``kafka`` chart type's hook implementations.

=====================  =============================================================
stage                  what this plugin adds to the defaults
=====================  =============================================================
contribute_values      (deploy) refuses a downgrade back across an upgrade note, and
                       an upgrade from below 0.49.0 to 1.x, which
                       Strimzi supports only through 0.49-0.51 and the v1 conversion
                       (the plan lists it, apply stops before any change), and
                       CRDs below 0.49.0 written over v1-serving ones; an
                       upgrade across upgrade notes - to a pinned version too -
                       gets the last one as its breaking version, so the plan
                       names the CRD step exec takes; any other create or upgrade
                       over existing CRDs says it too (``context.exec_step``)
pre_exec               (destroy) the Kafka resource is deleted before its operator
                       is uninstalled (``delete_cluster_on_destroy``)
exec                   (deploy) a ``wrapper=True`` step between the core's
                       preparation (``context.prepared``) and its ``helm
                       upgrade --install``: on an upgrade (or when the Strimzi
                       CRDs are already there), the chart's CRDs are
                       server-side applied (``upgrade_chart_crds``;
                       ``upgrade_crds = false`` to leave them). The plan lists
                       this step (``context.exec_step``, ``destructive_steps``).
post_exec              (deploy) waits until the operator Deployment is available,
                       then creates the ``kafka_cluster`` (if any) and waits for
                       its ``Ready`` condition; the plan lists this step on every
                       create and upgrade (``cluster_step_line``)
validate               ``strimzi_crds`` (CRD ``kafkas.kafka.strimzi.io``),
                       ``operator_deployment`` and, with a cluster, ``kafka_ready``
on_deploy_failure      the operator's last log lines (and the cluster's conditions)
=====================  =============================================================
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from firestream_core.plugin import ChartType, HelmAction, hookimpl, is_dry_run

from .chart import (
    REPOSITORY,
    REPOSITORY_URL,
    STEP_VERSION,
    V1_API_SINCE,
    V1_ONLY_SINCE,
    VERSION,
    KafkaChart,
    KafkaOptions,
    notes_crossed,
    options_of,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from firestream_core.plugin import ChartPayload, DeployContext, HelmChart, ValidationResult

PAYLOAD_KEY = "kafka"
OPERATOR_PODS = "name=strimzi-cluster-operator,strimzi.io/kind=cluster-operator"
"""The operator pods' labels (the chart's Deployment selector)."""
LOG_TAIL = 50


def chart_type() -> ChartType:
    """The ``kafka`` chart type as registered."""
    return ChartType(
        name="kafka",
        chart_class=KafkaChart,
        presets={"default": KafkaChart.default, "strimzi_operator": KafkaChart.strimzi_operator},
        options=KafkaOptions,
        repositories={REPOSITORY: REPOSITORY_URL},
        description=f"Strimzi Kafka operator {VERSION}; optionally a Kafka cluster, created and waited for",
        destructive_steps=destructive_steps,
        destroy_steps=destroy_steps,
    )


def destroy_steps(chart: HelmChart, project_dir: Any = None) -> list[str]:
    """What a destroy removes besides helm's uninstall (``ChartType.destroy_steps``), as
    ``pre_exec`` decides it: the Kafka cluster, with ``delete_cluster_on_destroy``."""
    opts = options_of(chart)
    cluster = opts.kafka_cluster
    if cluster is None or not opts.delete_cluster_on_destroy:
        return []
    from .cluster import pool_name

    if cluster.storage == "ephemeral":
        claims = "; its data is ephemeral and goes with its pods"
    elif cluster.delete_claim:
        claims = "; its volume claims and their data go too (delete_claim = true)"
    else:
        claims = "; its volume claims are kept (delete_claim = false)"
    return [f"delete Kafka cluster '{cluster.name}' and node pool '{pool_name(cluster.name)}' (namespace "
            f"'{chart.chart_info.namespace_name}') before the operator is uninstalled "
            f"(delete_cluster_on_destroy = true){claims}"]


def crd_step_line(version: str | None) -> str:
    """The plan's line for the CRD step ``exec`` takes before helm (``upgrade_chart_crds``)."""
    return (f"server-side apply the Strimzi CRDs of strimzi-kafka-operator {version or 'the resolved version'} "
            "before the upgrade (helm never updates crds/)")


def cluster_step_line(chart: HelmChart) -> str | None:
    """The plan's line for what ``post_exec`` does on every deploy with ``kafka_cluster``: the
    ``Kafka`` and its node pool applied, then waited for (None without a cluster)."""
    cluster = options_of(chart).kafka_cluster
    if cluster is None:
        return None
    from .cluster import pool_name

    storage = "ephemeral storage" if cluster.storage == "ephemeral" else f"a {cluster.storage} volume each"
    nodes = f"{cluster.replicas} node{'s' if cluster.replicas != 1 else ''}"
    return (f"post_exec: apply Kafka cluster '{cluster.name}' and node pool '{pool_name(cluster.name)}' "
            f"({nodes}, {storage}) in namespace '{chart.chart_info.namespace_name}' and wait until it is Ready")


def destructive_steps(chart: HelmChart, step: Any) -> list[str]:
    """What ``exec`` adds to a breaking step, for the plan: the Strimzi CRDs applied before helm.

    One step, named with each upgrade note it crosses (:data:`.chart.UPGRADE_NOTES`). With
    ``upgrade_crds = false`` or ``skip_crds`` exec applies none, and the line says so.
    """
    target = step.target or chart.chart_info.version or "the resolved version"
    crossed = notes_crossed(step.installed, step.target)
    left = ("upgrade_crds = false" if not options_of(chart).upgrade_crds
            else "skip_crds = true" if chart.chart_info.skip_crds else None)  # exec applies none then
    cluster = [line for line in (cluster_step_line(chart),) if line]  # post_exec, after helm
    if left:
        return [f"Strimzi CRDs NOT updated ({left}): apply those of strimzi-kafka-operator "
                f"{target} yourself first"] + [f"upgrade note of {v}: {note}" for v, note in crossed] + cluster
    lines = [crd_step_line(target)]
    lines += [f"which covers the note of {version}: {note}" for version, note in crossed]
    return lines + cluster


@hookimpl
def register_chart_types(register: Callable[[ChartType], None]) -> None:
    """Register the ``kafka`` chart type."""
    register(CHART_TYPE)


CHART_TYPE = chart_type()
"""The chart type, built on import: from then on the chart class's ``chart_type`` is its name."""


def operator_selector(chart: HelmChart, context: DeployContext) -> str:
    """The operator Deployment's labels (``app: strimzi``, ``release: <release>``)."""
    from firestream_core.plugin import chart_value

    name = chart_value(chart.chart_info, "nameOverride", None, project_dir=context.project_dir)
    return f"app={name or 'strimzi'},release={chart.chart_info.name}"


TWO_STEPS = (f"set version = \"{STEP_VERSION}\" and apply, convert the Strimzi custom resources and CRDs to v1 "
             "with Strimzi's v1 API conversion tool (convert-resource, then crd-upgrade), then remove the pin "
             "and apply again")
"""The way from below 0.49.0 to 1.x that Strimzi documents, as the refusals say it."""


def served_versions(crd: Mapping[str, Any]) -> list[str]:
    """The API versions a CRD of the cluster serves (``spec.versions[].served``)."""
    return [str(v.get("name")) for v in (crd.get("spec") or {}).get("versions") or [] if v.get("served")]


def v1_upgrade_problem(chart: HelmChart, context: DeployContext) -> str | None:
    """Why this deploy may not run: an install below 0.49.0 upgraded straight to 1.x, or None.

    1.0.0 removed ``v1beta2`` from the Strimzi CRDs; Kubernetes refuses a CRD
    update that drops a version its objects are still stored in, and the
    operators need the custom resources in ``v1`` first. Strimzi's upgrade
    path (proposal 113) passes one of 0.49-0.51, where the conversion tool
    moves the resources and the CRDs' stored versions to ``v1``.
    """
    from firestream_core.plugin import SemVer, current_release

    info = chart.chart_info
    installed = current_release(chart, context)
    if installed is None:
        return kept_crds_problem(chart, context)
    if not info.version or not installed.chart_version:
        return None
    try:
        old, new = SemVer.parse(installed.chart_version), SemVer.parse(info.version)
    except ValueError:
        return None
    if not (old < SemVer.parse(V1_API_SINCE) and new >= SemVer.parse(V1_ONLY_SINCE)):
        return None
    return (
        f"release '{info.name}': strimzi-kafka-operator {installed.chart_version} -> {info.version} "
        f"crosses {V1_API_SINCE} (the v1 API added) and {V1_ONLY_SINCE} (v1beta2 removed), which "
        f"Strimzi supports only in two steps: {TWO_STEPS}"
    )


def crd_downgrade_problem(chart: HelmChart, context: DeployContext) -> str | None:
    """Why this deploy may not run: a downgrade back across an upgrade note (:data:`.chart.UPGRADE_NOTES`)."""
    from firestream_core.plugin import release_downgrade_problem

    from .chart import CHART, UPGRADE_NOTES

    return release_downgrade_problem(
        chart, context, UPGRADE_NOTES, CHART,
        why="exec would server-side apply the older chart's CRDs over the newer ones, which may "
            "no longer serve the API versions the custom resources are stored in",
    )


def kept_crds_problem(chart: HelmChart, context: DeployContext) -> str | None:
    """Why installing 1.x may not run: Strimzi CRDs left by an earlier install still hold ``v1beta2``.

    helm keeps ``crds/`` when a release is uninstalled (``firestream destroy``), and a
    create over them applies the new chart's CRDs first (``crds_step_due``). 1.x's CRDs
    drop ``v1beta2``: Kubernetes refuses that update while ``v1beta2`` is still served
    alone or stored (``status.storedVersions``), so the same path as an upgrade applies.
    """
    from firestream_core.plugin import SemVer

    from .cluster import KIND

    info = chart.chart_info
    if context.offline or not info.version:
        return None
    try:
        if SemVer.parse(info.version) < SemVer.parse(V1_ONLY_SINCE):
            return None
    except ValueError:
        return None
    crd = context.kubectl.get("customresourcedefinition", KIND)
    if crd is None:
        return None
    served = served_versions(crd)
    stored = [str(v) for v in (crd.get("status") or {}).get("storedVersions") or []]
    if "v1" in served and "v1beta2" not in stored:
        return None
    return (
        f"release '{info.name}': the Strimzi CRDs an earlier install left in the cluster still hold "
        f"v1beta2 ({KIND} serves {', '.join(served) or 'nothing'}, stores {', '.join(stored) or 'nothing'}), "
        f"and strimzi-kafka-operator {info.version}'s CRDs remove it, which Kubernetes refuses: {TWO_STEPS}"
    )


def newer_crds_problem(chart: HelmChart, context: DeployContext) -> str | None:
    """Why the CRDs of a chart below 0.49.0 may not reach the cluster: its Strimzi CRDs serve ``v1``.

    CRDs are cluster-wide: another release (or one destroyed: helm keeps ``crds/``) may have
    left newer ones. Strimzi's carry no version (labels ``app: strimzi``,
    ``strimzi.io/crd-install``, ``component`` only), but ``v1`` served tells 0.49.0 or newer:
    a chart older than that would remove the ``v1`` API every other release's operator and
    custom resources use. Checked whenever the chart's CRDs would be written: the CRD step
    exec takes, or helm 4's own install, which server-side applies ``crds/`` over existing
    CRDs (helm 3 skips them).
    """
    from firestream_core.plugin import SemVer, crds_step_due

    from .cluster import KIND

    info = chart.chart_info
    if context.offline or not info.version:
        return None
    try:
        if SemVer.parse(info.version) >= SemVer.parse(V1_API_SINCE):
            return None
    except ValueError:
        return None
    if not crds_step_due(context, info, probe=(KIND,)):
        return None  # not a deploy, skip_crds, or no Strimzi CRDs in the cluster
    if not options_of(chart).upgrade_crds and (context.installed is not None or context.helm.major < 4):
        return None  # no CRD step, and helm leaves existing CRDs
    crd = context.kubectl.get("customresourcedefinition", KIND) or {}
    served = served_versions(crd)
    if "v1" not in served:
        return None
    return (
        f"release '{info.name}': the Strimzi CRDs in the cluster serve v1 ({KIND} serves {', '.join(served)}: "
        f"strimzi-kafka-operator {V1_API_SINCE} or newer, another release's or left by a destroyed one), "
        f"and strimzi-kafka-operator {info.version}'s CRDs do not: applying them would remove the v1 API "
        f"every other Strimzi release in the cluster relies on: deploy version {V1_API_SINCE} or newer, "
        f"or set skip_crds = true to leave the cluster's CRDs as they are (no CRD step, and helm installs none)"
    )


def refused_now(problem: str | None, chart: HelmChart, *, uninstalled: bool = False) -> None:
    """In exec: what the plan would now refuse (the cluster changed since) stops the release before
    any CRD is written and before helm runs."""
    from firestream_core.errors import PlanMismatchError

    if problem:
        left = (f"; release '{chart.chart_info.name}' stays uninstalled (the plan's breaking-version step "
                "removed it)" if uninstalled else "")
        raise PlanMismatchError(f"{problem}; no CRD was applied and helm did not run{left}",
                                release=chart.chart_info.name, hint="run 'firestream plan' again and review it")


@hookimpl
def contribute_values(chart: HelmChart, context: DeployContext) -> dict[str, Any] | None:
    """Refuse an upgrade from below 0.49.0 straight to 1.x (:func:`v1_upgrade_problem`); else an
    upgrade across upgrade notes gets the last as its breaking version (the plan shows the CRD
    step, a pinned ``version`` too); any deploy over existing CRDs (an upgrade, a create whose CRDs
    are there) lists the CRD step exec takes (``context.exec_step``). No values."""
    from firestream_core.plugin import BreakingVersion, current_release

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return None
    problem = (v1_upgrade_problem(chart, context) or crd_downgrade_problem(chart, context)
               or newer_crds_problem(chart, context))
    if problem:
        context.refuse(problem)
        return None
    from firestream_core.plugin import crds_step_due

    from .cluster import KIND

    if options_of(chart).upgrade_crds and crds_step_due(context, info, probe=(KIND,)):
        # every create or upgrade over existing CRDs applies them first (exec): the plan lists it
        context.exec_step(crd_step_line(info.version))
    cluster_line = cluster_step_line(chart)
    if cluster_line:  # post_exec applies the cluster on every deploy: the plan says so
        context.exec_step(cluster_line)
    cluster_out_of_date(chart, context)
    clusters_left(chart, context)
    installed = current_release(chart, context)
    if installed is None or not info.version or installed.chart_version in ("", info.version):
        return None
    crossed = notes_crossed(installed.chart_version, info.version)
    if crossed:
        context.require_breaking_version(BreakingVersion(crossed[-1][0]))
    return None


def cluster_out_of_date(chart: HelmChart, context: DeployContext) -> None:
    """An installed release whose Kafka cluster (``kafka_cluster``) is gone is out of date.

    ``post_exec`` creates the Kafka and its node pool, outside helm: a plan that only
    compared helm's release said ``no-op`` when someone had deleted them, and apply left
    the cluster missing. The plan reads both (one ``kubectl get`` each) for an installed
    release and says so (``context.out_of_date``): apply then runs the lifecycle, and
    ``post_exec`` applies them again. A read that fails is a note. Nothing for a create,
    no cluster configured, or ``firestream validate``.
    """
    from firestream_core.errors import first_line
    from firestream_core.plugin import FirestreamError

    from .cluster import KIND, POOL_KIND, pool_name

    cluster = options_of(chart).kafka_cluster
    installed = context.installed
    if cluster is None or context.offline or installed is None or installed.status == "uninstalled":
        return
    ns = chart.chart_info.namespace_name
    gone = []
    try:
        for kind, name, what in ((KIND, cluster.name, "Kafka cluster"),
                                 (POOL_KIND, pool_name(cluster.name), "node pool")):
            if context.kubectl.get(kind, name, namespace=ns) is None:
                gone.append(f"{what} '{name}'")
    except FirestreamError as exc:
        context.note(f"Kafka cluster '{cluster.name}' could not be read ({first_line(exc)})")
        return
    if gone:
        context.out_of_date(f"{' and '.join(gone)} (namespace '{ns}') missing: post_exec creates "
                            f"{'them' if len(gone) > 1 else 'it'}")


def clusters_left(chart: HelmChart, context: DeployContext) -> None:
    """A Kafka cluster an earlier deploy's ``post_exec`` applied that ``kafka_cluster`` no longer
    names (removed, or renamed) is left running by apply, and by destroy, which deletes only
    the configured one: the plan says so (``context.note``), naming it. Read for an installed
    release only: the ``Kafka`` objects of the release's namespace labelled as this release's
    (``app.kubernetes.io/instance``, managed by firestream), one ``kubectl get``; a read that
    fails is a note too.
    """
    from firestream_core.errors import first_line
    from firestream_core.plugin import FirestreamError

    from .cluster import KIND, POOL_KIND, pool_name

    installed = context.installed
    if context.offline or context.kubectl is None or installed is None or installed.status == "uninstalled":
        return
    info = chart.chart_info
    ns = info.namespace_name
    wanted = options_of(chart).kafka_cluster
    try:
        found = context.kubectl.get(KIND, namespace=ns, selector="app.kubernetes.io/managed-by=firestream,"
                                                                   f"app.kubernetes.io/instance={info.name}")
    except FirestreamError as exc:
        context.note(f"the Kafka clusters an earlier deploy made could not be read ({first_line(exc)})")
        return
    names = sorted(str((item.get("metadata") or {}).get("name", "")) for item in (found or {}).get("items") or ())
    left = [n for n in names if n and (wanted is None or n != wanted.name)]
    for name in left:
        now = "no longer in kafka_cluster" if wanted is None else f"kafka_cluster now names '{wanted.name}'"
        context.note(f"Kafka cluster '{name}' and its node pool '{pool_name(name)}' (namespace '{ns}'), applied by an "
                     f"earlier deploy, are left running ({now}): neither apply nor destroy deletes them; "
                     f"'kubectl delete {KIND}/{name} {POOL_KIND}/{pool_name(name)} -n {ns}' does")


@hookimpl
def pre_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """On destroy, delete the Kafka cluster while its operator can still clean up."""
    from .cluster import delete

    info = chart.chart_info
    cluster = options_of(chart).kafka_cluster
    if info.action is not HelmAction.DESTROY or cluster is None or not destroy_steps(chart):
        return  # the step the destroy plan shows, decided alike
    if is_dry_run(chart, context):
        context.log.info("release '%s': would delete Kafka cluster '%s'", info.name, cluster.name)
        return
    deleted = delete(context, cluster, info)
    payload.setdefault(PAYLOAD_KEY, {})["cluster_deleted"] = deleted


@hookimpl(wrapper=True)
def exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> Generator[None, Any, Any]:  # noqa: A001
    """The Strimzi CRDs of the chart version being deployed, applied between the core's
    preparation (``context.prepared``) and its ``helm upgrade --install``."""
    from firestream_core.plugin import upgrade_chart_crds

    from .cluster import KIND

    prepared = context.prepared  # None: a Destroy, a Skip, a dry run
    if prepared is not None:
        refused_now(newer_crds_problem(chart, context), chart, uninstalled=prepared.uninstalled)
    if prepared is not None and options_of(chart).upgrade_crds:
        applied = upgrade_chart_crds(context, chart.chart_info, installed=prepared.installed, probe=(KIND,))
        if applied is not None:
            payload.setdefault(PAYLOAD_KEY, {})["crds_applied"] = applied
    return (yield)


@hookimpl
def post_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """Wait for the operator; create the Kafka cluster and wait until it is Ready."""
    from firestream_core.plugin import HelmTimeoutError

    from .cluster import create_and_wait

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY or is_dry_run(chart, context):
        return
    record = payload.setdefault(PAYLOAD_KEY, {})
    context.log.info("release '%s': waiting for the Strimzi operator to be ready", info.name)
    if not context.kubectl.wait(
        "deployment",
        namespace=info.namespace_name,
        condition="condition=Available",
        selector=operator_selector(chart, context),
        timeout=info.timeout,
    ):
        raise HelmTimeoutError(
            f"the Strimzi operator of release '{info.name}' did not become available within "
            f"{info.timeout}",
            release=info.name,
        )
    record["operator_ready"] = True
    cluster = options_of(chart).kafka_cluster
    if cluster is None:
        context.log.info(
            "release '%s': the Strimzi operator is ready; Kafka clusters can now be created "
            "(kafka_cluster = { name = \"kafka\", replicas = 3, storage = \"10Gi\" })", info.name,
        )
        return
    record["cluster"] = cluster.name
    create_and_wait(context, cluster, info)
    record["cluster_ready"] = True


@hookimpl
def validate(chart: HelmChart, context: DeployContext) -> list[ValidationResult] | None:
    """The Kafka CRD, the operator Deployment and, with a cluster, its Ready condition."""
    from firestream_core.plugin import checks

    from .cluster import KIND

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return None
    ns = info.namespace_name
    results = [
        checks.crd_established(context, KIND, check="strimzi_crds"),
        checks.deployment_available(
            context, namespace=ns, selector=operator_selector(chart, context),
            check="operator_deployment",
        ),
    ]
    cluster = options_of(chart).kafka_cluster
    if cluster is not None:
        results.append(
            checks.condition_true(
                context, KIND, cluster.name, namespace=ns, condition="Ready", check="kafka_ready"
            )
        )
    return results


@hookimpl
def on_deploy_failure(
    chart: HelmChart, context: DeployContext, stage: str, error: BaseException
) -> list[str] | None:
    """The operator's last log lines, and the Kafka cluster's conditions."""
    info = chart.chart_info
    if info.action is HelmAction.SKIP:
        return None
    lines: list[str] = []
    for collect in (_operator_logs, _cluster_conditions):
        try:
            lines += collect(chart, context)
        except Exception as exc:  # collecting must never hide the release's error
            lines.append(f"{collect.__doc__}: unavailable ({type(exc).__name__})")
    return lines


def _operator_logs(chart: HelmChart, context: DeployContext) -> list[str]:
    """Strimzi operator logs"""
    ns = chart.chart_info.namespace_name
    pods: Any = context.kubectl.get("pods", namespace=ns, selector=OPERATOR_PODS) or {}
    names = sorted(str(p["metadata"]["name"]) for p in pods.get("items") or [])
    if not names:
        return [f"Strimzi operator logs: no operator pod in namespace '{ns}'"]
    lines = []
    for pod in names[:2]:
        text = context.kubectl.logs(pod, ns, tail=LOG_TAIL)
        lines.append(f"Strimzi operator logs ({pod}, last {LOG_TAIL} lines):")
        lines += [f"  {line}" for line in text.splitlines()] or ["  (no output)"]
    return lines


def _cluster_conditions(chart: HelmChart, context: DeployContext) -> list[str]:
    """Kafka cluster conditions"""
    from .cluster import KIND

    cluster = options_of(chart).kafka_cluster
    if cluster is None:
        return []
    obj = context.kubectl.get(KIND, cluster.name, namespace=chart.chart_info.namespace_name)
    if obj is None:
        return [f"Kafka cluster '{cluster.name}': not created"]
    conditions = (obj.get("status") or {}).get("conditions") or []
    if not conditions:
        return [f"Kafka cluster '{cluster.name}': no status yet (is the operator running?)"]
    return [
        f"Kafka cluster '{cluster.name}': {c.get('type')}={c.get('status')} "
        f"{c.get('reason') or ''} {c.get('message') or ''}".rstrip()
        for c in conditions
    ]
