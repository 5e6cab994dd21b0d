"""Small helpers every chart plugin needs, written once (they were copied into each plugin).

* :func:`options_of` - the release's chart-type options, or the options class's defaults;
* :func:`value_of` - the value helm will see at a dotted key (``--set`` syntax);
* :func:`is_dry_run` - nothing may change in the cluster (run-wide or for this release);
* :func:`current_release` - the release as installed: the plan's view, else one ``helm list``
  (in ``exec``, as the core's preparation left it);
* :func:`notes_crossed` / :func:`breaking_version_at` - a chart type's table of upgrade notes
  (versions whose upgrade needs a step, e.g. new CRDs): those an upgrade crosses (for the
  plan's destructive steps), and the chart version's breaking version;
* :func:`add_chart_repository` - ``helm repo add`` of the repository a chart comes from, into
  the run's own repositories (apply's ``pre_exec``, the commands that render, a plugin
  reading a chart's CRDs);
* :func:`needs_crd` - in ``contribute_values``: a preset's ServiceMonitor (or any value
  needing another chart's CRD) turned off, with a plan note, when that CRD is absent and
  no release of the project the release depends on provides it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from firestream_core.model import BreakingVersion, ChartInfo, HelmChart, InstalledRelease
    from firestream_core.plugin.context import DeployContext
    from firestream_core.plugin.stage_tools import HelmTool

__all__ = [
    "add_chart_repository",
    "breaking_version_at",
    "current_release",
    "is_dry_run",
    "needs_crd",
    "notes_crossed",
    "options_of",
    "value_of",
]

OptionsT = TypeVar("OptionsT")


def add_chart_repository(helm: HelmTool, info: ChartInfo, repositories: Mapping[str, str]) -> bool:
    """``helm repo add`` the repository ``info``'s chart comes from, into the run's own
    repositories (never the user's: :mod:`~firestream_core.tools.helm_repos`).

    What apply's ``pre_exec`` does, the commands that render a chart (``template``,
    ``diff``, ``plan --hooks``) before helm renders it, and :func:`~firestream_core.plugin.crds.chart_crds`
    before ``helm pull``: the repository is the one
    :func:`~firestream_core.model.chart_repository` names, ``repository = "..."`` or the ``repo/``
    of ``chart``. True when this call added it (once per run); False for a local chart, an
    ``oci://`` one (helm pulls ``oci://`` references directly) or a repository added before.

    :raises ChartNotFoundError: the chart's repository has no URL in ``repositories``: helm
        could not find it (the run's repositories are the project's alone).
    """
    from firestream_core.errors import ChartNotFoundError
    from firestream_core.model import chart_repository

    repo, _ = chart_repository(info)
    if not repo:
        return False
    url = repositories.get(repo)
    if not url:
        raise ChartNotFoundError(_missing_repository_message(info, repo), release=info.name,
                                 hint=f"[repositories]\n{repo} = \"https://...\"")
    return bool(not str(url).startswith("oci://") and helm.repo_add(repo, url))


def _missing_repository_message(info: ChartInfo, repo: str) -> str:
    """The message of a release whose chart's repository has no known URL."""
    return (
        f"release '{info.name}': the chart's repository '{repo}' has no known URL; "
        f"add it to [repositories] in firestream.toml ({repo} = \"https://...\")"
    )


def options_of(chart: HelmChart, options_class: type[OptionsT]) -> OptionsT:
    """``chart.options`` when it is an ``options_class``, else ``options_class()`` (its defaults).

    >>> import attrs
    >>> from firestream_core.model import ChartInfo, HelmChart
    >>> @attrs.frozen
    ... class CacheOptions:
    ...     replicas: int = 1
    >>> options_of(HelmChart(ChartInfo(name="cache", chart="redis")), CacheOptions)
    CacheOptions(replicas=1)
    >>> options_of(HelmChart(ChartInfo(name="cache", chart="redis"), options=CacheOptions(3)), CacheOptions)
    CacheOptions(replicas=3)
    """
    opts = chart.options
    return opts if isinstance(opts, options_class) else options_class()


def value_of(chart: HelmChart, context: DeployContext, key: str, default: Any = None) -> Any:
    """The value helm will see at ``key`` for this release, or ``default`` (the chart's own default).

    See :func:`firestream_core.plugin.checks.chart_value`; values files are
    read relative to the project folder.

    >>> from firestream_core.model import ChartInfo, ChartSetValue, HelmChart
    >>> from firestream_core.plugin.context import DeployContext
    >>> chart = HelmChart(ChartInfo(name="ingress", chart="ingress-nginx",
    ...                             values=[ChartSetValue("controller.hostNetwork", "true")]))
    >>> context = DeployContext(helm=None, kubectl=None)   # what a stage receives
    >>> value_of(chart, context, "controller.hostNetwork")
    True
    >>> value_of(chart, context, "controller.kind", "Deployment")   # not set: the default
    'Deployment'
    """
    from firestream_core.plugin.checks import chart_value

    return chart_value(chart.chart_info, key, default, project_dir=context.project_dir)


def is_dry_run(chart: HelmChart, context: DeployContext) -> bool:
    """True when nothing may change in the cluster (``--dry-run`` for the run or this release).

    >>> from firestream_core.model import ChartInfo, HelmChart
    >>> from firestream_core.plugin.context import DeployContext
    >>> chart = HelmChart(ChartInfo(name="db", chart="postgresql"))
    >>> is_dry_run(chart, DeployContext(helm=None, kubectl=None, dry_run=True))
    True
    >>> chart.chart_info.dry_run = True   # this release only
    >>> is_dry_run(chart, DeployContext(helm=None, kubectl=None))
    True
    """
    return bool(context.dry_run or chart.chart_info.dry_run)


def current_release(chart: HelmChart, context: DeployContext) -> InstalledRelease | None:
    """The release as installed: the plan's view (``context.installed``), or one ``helm list`` outside a plan.

    In ``exec``, once the core prepared the release (``context.prepared``: a
    pending release recovered, a breaking version's uninstall done), the
    release as that left it.

    Inside a plan (``apply``) no helm call is made:

    >>> from firestream_core.model import ChartInfo, HelmChart, InstalledRelease
    >>> from firestream_core.plugin.context import DeployContext
    >>> chart = HelmChart(ChartInfo(name="db", chart="postgresql"))
    >>> seen = InstalledRelease("db", "default", revision=2, status="deployed", chart="postgresql-13.2.24")
    >>> current_release(chart, DeployContext(helm=None, kubectl=None, change="upgrade", installed=seen))
    InstalledRelease(name='db', namespace='default', revision=2, status='deployed', chart='postgresql-13.2.24', app_version='', updated='')
    >>> current_release(chart, DeployContext(helm=None, kubectl=None, change="create")) is None
    True
    """
    if context.prepared is not None:
        return context.prepared.installed
    if context.installed is not None or context.change is not None or context.offline:
        return context.installed  # offline (validate): no cluster, nothing known to be installed
    info = chart.chart_info
    ns = info.namespace_name
    return next((r for r in context.helm.list_releases() if r.name == info.name and r.namespace == ns), None)


def notes_crossed(
    notes: Sequence[tuple[str, str]], installed: str, target: str | None
) -> list[tuple[str, str]]:
    """The ``(version, note)`` entries of ``notes`` an upgrade crosses: ``installed < version <= target``.

    Compared as semantic versions; no ``target`` (not pinned) crosses every
    version above ``installed``; an ``installed`` or ``target`` that is not a
    version crosses none.

    >>> NOTES = (("46.0.0", "new CRDs"), ("47.0.0", "operator v0.66.0"), ("49.0.0", "operator v0.67.1"))
    >>> notes_crossed(NOTES, "45.7.1", "47.1.0")
    [('46.0.0', 'new CRDs'), ('47.0.0', 'operator v0.66.0')]
    >>> [v for v, _ in notes_crossed(NOTES, "46.0.0", None)]
    ['47.0.0', '49.0.0']
    """
    from firestream_core.model import SemVer

    try:
        low = SemVer.parse(installed)
        high = SemVer.parse(target) if target else None
    except ValueError:
        return []
    return [(v, note) for v, note in notes
            if low < SemVer.parse(v) and (high is None or SemVer.parse(v) <= high)]


def downgrade_problem(
    notes: Sequence[tuple[str, str]], release: str, chart: str, installed: str, target: str | None, *, why: str
) -> str | None:
    """Why a deploy going back across ``notes`` (``target < version <= installed``) may not run, or None.

    For a chart type whose upgrade notes change what stays in the cluster after
    helm (CRDs, a data directory): going back across one is not a helm rollback,
    upstream documents none, and exec would act on the older chart (apply its
    older CRDs over the newer ones). The plan refuses it (``context.refuse``)
    naming the release, both versions, the notes and what to do.

    >>> NOTES = (("46.0.0", "new CRDs"), ("47.0.0", "operator v0.66.0"))
    >>> print(downgrade_problem(NOTES, "mon", "kube-prometheus-stack", "47.1.0", "45.7.1",
    ...                         why="its older CRDs would replace the newer ones"))
    release 'mon': kube-prometheus-stack 47.1.0 -> 45.7.1 is a downgrade back across 46.0.0 and 47.0.0 (its older CRDs would replace the newer ones), which upstream does not support and firestream does not do: keep version = "47.1.0" (or any version from 47.0.0 up)
    >>> downgrade_problem(NOTES, "mon", "kube-prometheus-stack", "47.1.0", "47.0.0", why="") is None
    True
    """
    if not target:
        return None
    back = notes_crossed(notes, target, installed)
    if not back:
        return None
    names = [v for v, _ in back]
    if len(names) > 3:
        across = f"{len(names)} of its upgrade notes, {names[0]} to {names[-1]}"
    else:
        across = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return (f"release '{release}': {chart} {installed} -> {target} is a downgrade back across {across} ({why}), "
            f"which upstream does not support and firestream does not do: keep version = \"{installed}\" "
            f"(or any version from {names[-1]} up)")


def release_downgrade_problem(
    chart: HelmChart, context: DeployContext, notes: Sequence[tuple[str, str]], chart_name: str, *, why: str
) -> str | None:
    """:func:`downgrade_problem` for the release ``chart`` deploys, from the version it runs now.

    The installed version is :func:`current_release`'s (the plan's view: no helm call in a
    plan); None when the release is not installed or helm names no version. What a
    plugin's ``contribute_values`` hands to ``context.refuse``.

    >>> from firestream_core.model import ChartInfo, HelmChart, InstalledRelease
    >>> from firestream_core.plugin.context import DeployContext
    >>> chart = HelmChart(ChartInfo(name="mon", chart="kube-prometheus-stack", version="45.7.1"))
    >>> seen = InstalledRelease("mon", "default", revision=3, status="deployed", chart="kube-prometheus-stack-47.1.0")
    >>> context = DeployContext(helm=None, kubectl=None, change="upgrade", installed=seen)
    >>> release_downgrade_problem(chart, context, (("46.0.0", "new CRDs"),), "kube-prometheus-stack",
    ...                           why="older CRDs").split(" is a downgrade")[0]
    "release 'mon': kube-prometheus-stack 47.1.0 -> 45.7.1"
    >>> created = DeployContext(helm=None, kubectl=None, change="create")
    >>> release_downgrade_problem(chart, created, (("46.0.0", "new CRDs"),), "kube-prometheus-stack", why="") is None
    True
    """
    installed = current_release(chart, context)
    if installed is None or not installed.chart_version:
        return None
    info = chart.chart_info
    return downgrade_problem(notes, info.name, chart_name, installed.chart_version, info.version, why=why)


def breaking_version_at(notes: Sequence[tuple[str, str]], version: str) -> BreakingVersion | None:
    """The last version of ``notes`` at or below ``version``, as a breaking version (no uninstall).

    A chart type's default ``last_breaking_version_requiring_restart``: an
    install older than it is upgraded across it, and the plan shows the step
    the plugin's ``exec`` wrapper takes for it (``ChartType.destructive_steps``).

    >>> NOTES = (("46.0.0", "new CRDs"), ("47.0.0", "operator v0.66.0"), ("49.0.0", "operator v0.67.1"))
    >>> breaking_version_at(NOTES, "48.2.0").version
    '47.0.0'
    >>> breaking_version_at(NOTES, "45.7.1") is None
    True
    """
    from firestream_core.model import BreakingVersion, SemVer

    top = SemVer.parse(version)
    crossed = [v for v, _ in notes if SemVer.parse(v) <= top]
    return BreakingVersion(crossed[-1]) if crossed else None


def needs_crd(
    chart: HelmChart, context: DeployContext, key: str, crd: str, *, provider: str, default: bool = False
) -> dict[str, Any] | None:
    """Decide, in ``contribute_values``, whether a value that needs another chart's CRD (a ServiceMonitor) stays on.

    When ``key`` is true for helm it stays on if the CRD ``crd`` is installed
    or the release ``depends_on`` a release of the project whose chart type is
    ``provider`` (that release installs the CRD first). Otherwise:

    * if only the chart type's preset turned it on, it is turned off: the
      return value is ``{key: false}`` as nested values to contribute, and
      ``context.note`` says why (the plan shows it on the release's line);
    * if the user's config turned it on, ``context.refuse`` names the key, the
      CRD and the ways out (``plan`` lists it; apply stops the release before
      anything changed).

    Offline (``context.offline``: ``firestream validate``, no cluster) nothing is
    decided: ``context.note`` says, from the config alone, when ``key`` will be
    on (the CRD at apply time, or the project's ``provider`` release it depends on).

    :return: the values to contribute (``{key: false}``, nested), or None.

    Example, a chart whose preset turns on a ServiceMonitor::

        @hookimpl
        def contribute_values(chart, context):
            return needs_crd(chart, context, "metrics.serviceMonitor.enabled",
                             "servicemonitors.monitoring.coreos.com", provider="prometheus-operator")
    """
    import attrs

    from firestream_core.plugin.checks import chart_value
    from firestream_core.plugin.presets import PRESET_PREFIX

    info = chart.chart_info
    if not value_of(chart, context, key, default):
        return None
    providers = sorted(n for n, t in context.releases.items() if t == provider and n != info.name)
    own = attrs.evolve(info, yaml_files_content=[d for d in info.yaml_files_content
                                                  if not d.filename.startswith(PRESET_PREFIX)])
    yours = chart_value(own, key, None, project_dir=context.project_dir) is not None
    if context.offline:
        context.note(_offline_crd_note(info.depends_on, providers, key, crd, provider, yours))
        return None
    if context.kubectl.get("customresourcedefinition", crd):
        return None
    if any(p in info.depends_on for p in providers):
        return None  # the provider is deployed first and installs the CRD
    if providers:
        fix = f"add depends_on = [\"{providers[0]}\"] (its {provider} release installs the CRD first)"
        to_have_it_on = f"{fix}, to have it on"
    else:
        fix = f"deploy {provider} first (depends_on)"
        to_have_it_on = f"deploy {provider} first, with depends_on, to have it on"
    if not yours:
        reason = f"{key} off: the CRD {crd} is not installed ({to_have_it_on})"
        context.note(reason)
        context.log.info("release '%s': %s", info.name, reason)
        out: dict[str, Any] = {}
        inner = out
        *path, last = key.split(".")
        for part in path:
            inner = inner.setdefault(part, {})
        inner[last] = False
        return out
    context.refuse(f"release '{info.name}': {key} is true but the CRD {crd} is not installed; "
                   f"{fix} or set {key} = false")
    return None


def _offline_crd_note(
    depends_on: Any, providers: list[str], key: str, crd: str, provider: str, yours: bool
) -> str:
    """What :func:`needs_crd` will decide, said from the config alone (``firestream validate``)."""
    used = [p for p in providers if p in depends_on]
    if used:
        return f"{key} on: release '{used[0]}' ({provider}) installs the CRD {crd} first (depends_on)"
    if providers:
        how = (f"release '{providers[0]}' ({provider}) provides it: add depends_on = [\"{providers[0]}\"] "
               "to have it on")
    else:
        how = f"no release in this project provides it (deploy {provider}, with depends_on, to have it on)"
    otherwise = "otherwise the plan refuses the release (you set it)" if yours else "otherwise it is turned off"
    return f"{key} is on only if the CRD {crd} exists at apply time; {how}; {otherwise}"
