"""PostgreSQL major versions: an in-place helm upgrade cannot move a data directory across one.

bitnami/postgresql 13.x-15.x ship PostgreSQL 16; 16.0.0 and later ship
PostgreSQL 17 (the chart's ``appVersion``). PostgreSQL refuses to start on
the data directory of an older major, so crossing one is refused unless the
release's ``major_upgrade`` names a documented way (docs/charts.md):

* ``"reinstall"`` - you dumped the data (``pg_dumpall``); the release is
  uninstalled and its PersistentVolumeClaims deleted (a breaking version
  with ``requires_uninstall``: ``plan`` shows it as a reinstall), the new
  major starts empty and you restore the dump.

Going back to an older major (a chart below 16.0.0 over a PostgreSQL 17
install) is refused whatever ``major_upgrade`` says.

Both are decided in the desired state (``contribute_values``), so ``plan``
shows them: the refusal as a problem naming the release and both versions
(``plan`` exits 1, apply stops the release before anything changed), the
reinstall as the plan's breaking step and its destructive steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from firestream_core.plugin import BreakingVersion, current_release

from .chart import options_of

if TYPE_CHECKING:
    from firestream_core.plugin import DeployContext, HelmChart

FIRST_CHART_OF = {17: "16.0.0"}
"""PostgreSQL major -> the first bitnami/postgresql chart version shipping it."""


def postgres_major(chart_version: str) -> int:
    """The PostgreSQL major a bitnami/postgresql chart version ships (16 before chart 16.0.0, then 17)."""
    try:
        major = int(chart_version.lstrip("v").split(".")[0])
    except ValueError:
        return 0
    return 17 if major >= 16 else 16


def decide_major_upgrade(chart: HelmChart, context: DeployContext) -> None:
    """In ``contribute_values``: refuse a PostgreSQL major crossed without a way chosen
    (``context.refuse``), or require the breaking version ``major_upgrade = "reinstall"`` takes."""
    problem = major_upgrade_problem(chart, context)
    if problem:
        context.refuse(problem)


def major_upgrade_problem(chart: HelmChart, context: DeployContext) -> str | None:
    """Why this deploy may not run (a PostgreSQL major crossed without a way chosen), or None.

    With ``major_upgrade = "reinstall"`` the release gets the breaking version
    that uninstalls it and deletes its data volumes first
    (``context.require_breaking_version``: the plan shows the reinstall).
    """
    info = chart.chart_info
    installed = current_release(chart, context)
    if installed is None or not info.version or not installed.chart_version:
        return None
    old, new = postgres_major(installed.chart_version), postgres_major(info.version)
    if old and new and new < old:
        return (
            f"release '{info.name}': chart {installed.chart_version} -> {info.version} moves PostgreSQL "
            f"{old} -> {new}, which cannot start on the data directory PostgreSQL {old} wrote, and "
            f"major_upgrade does not go back: keep version = \"{installed.chart_version}\" (or any chart "
            f"from {FIRST_CHART_OF[old]} up); see docs/charts.md"
        )
    if not old or new <= old:
        return None
    if options_of(chart).major_upgrade == "reinstall":
        ns = info.namespace_name
        context.require_breaking_version(BreakingVersion(
            FIRST_CHART_OF[new], requires_uninstall=True,
            pre_upgrade_commands=[["kubectl", "delete", "pvc", "--namespace", ns, "--selector",
                                   f"app.kubernetes.io/instance={info.name}", "--wait=false"]],
        ))
        context.log.warning(
            "release '%s': PostgreSQL %d -> %d (chart %s -> %s): major_upgrade = reinstall, so the "
            "release and its data volumes are deleted first; restore your dump afterwards",
            info.name, old, new, installed.chart_version, info.version,
        )
        return None
    return (
        f"release '{info.name}': chart {installed.chart_version} -> {info.version} moves PostgreSQL "
        f"{old} -> {new}, which an in-place helm upgrade cannot migrate (the data directory is "
        f"PostgreSQL {old}'s). Dump the data (pg_dumpall) and set major_upgrade = \"reinstall\" "
        f"(the release and its data volumes are deleted, PostgreSQL {new} starts empty, restore the "
        f"dump), or keep version = \"{installed.chart_version}\"; see docs/charts.md"
    )
