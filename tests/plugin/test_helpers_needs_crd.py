"""``firestream_core.plugin.helpers.needs_crd``: a value needing another chart's CRD, decided in the
desired state (``contribute_values``) with a plan note or a refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from firestream_core.model import ChartInfo, ChartSetValue, HelmChart
from firestream_core.plugin.context import DeployContext
from firestream_core.plugin.helpers import needs_crd
from firestream_core.plugin.presets import preset_values

CRD = "servicemonitors.monitoring.coreos.com"
KEY = "metrics.serviceMonitor.enabled"


class Kubectl:
    def __init__(self, crds: set[str]) -> None:
        self.crds = crds
        self.asked: list[tuple[str, str]] = []

    def get(self, kind: str, name: str, **_: Any) -> Any:
        self.asked.append((kind, name))
        return {"metadata": {"name": name}} if name in self.crds else None


def chart(*, user: str | None = None, depends_on: tuple[str, ...] = ()) -> HelmChart:
    info = ChartInfo(name="db", chart="x/db", yaml_files_content=[preset_values("db", "default", {KEY: True})],
                     depends_on=list(depends_on))
    if user is not None:
        info.values.append(ChartSetValue(KEY, user))
    return HelmChart(info)


def context(tmp_path: Path, crds: set[str] = frozenset(), releases: dict[str, str] | None = None) -> DeployContext:
    return DeployContext(helm=None, kubectl=Kubectl(set(crds)), project_dir=tmp_path,  # type: ignore[arg-type]
                         releases=releases or {})


def test_a_presets_value_is_turned_off_with_a_note_when_the_crd_is_absent(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    assert needs_crd(chart(), ctx, KEY, CRD, provider="prometheus-operator") == {
        "metrics": {"serviceMonitor": {"enabled": False}}}
    assert ctx.notes == [f"{KEY} off: the CRD {CRD} is not installed (deploy prometheus-operator first, "
                         "with depends_on, to have it on)"]
    assert ctx.problems == [] and ctx.kubectl.asked == [("customresourcedefinition", CRD)]  # type: ignore[attr-defined]


def test_it_stays_on_with_the_crd_or_a_dependency_on_the_projects_provider(tmp_path: Path) -> None:
    with_crd = context(tmp_path, {CRD})
    assert needs_crd(chart(), with_crd, KEY, CRD, provider="prometheus-operator") is None
    releases = {"db": "postgresql", "mon": "prometheus-operator"}
    depends = context(tmp_path, releases=releases)
    assert needs_crd(chart(depends_on=("mon",)), depends, KEY, CRD, provider="prometheus-operator") is None
    assert depends.notes == [] and depends.problems == []
    # in the project but not a dependency: off, and the note names the release to depend on
    apart = context(tmp_path, releases=releases)
    assert needs_crd(chart(), apart, KEY, CRD, provider="prometheus-operator") is not None
    assert apart.notes == [f'{KEY} off: the CRD {CRD} is not installed (add depends_on = ["mon"] (its '
                           "prometheus-operator release installs the CRD first), to have it on)"]


def test_off_asks_nothing_and_the_users_own_value_is_refused(tmp_path: Path) -> None:
    off = context(tmp_path)
    assert needs_crd(chart(user="false"), off, KEY, CRD, provider="prometheus-operator") is None
    assert off.kubectl.asked == [] and off.notes == []  # type: ignore[attr-defined]
    mine = context(tmp_path)
    assert needs_crd(chart(user="true"), mine, KEY, CRD, provider="prometheus-operator") is None
    assert mine.problems == [f"release 'db': {KEY} is true but the CRD {CRD} is not installed; deploy "
                             f"prometheus-operator first (depends_on) or set {KEY} = false"]
    assert mine.notes == []


def test_offline_it_asks_nothing_and_says_when_the_value_will_be_on(tmp_path: Path) -> None:
    """``firestream validate`` (``context.offline``): no cluster, nothing turned off, one note each."""
    def offline(releases: dict[str, str] | None = None) -> DeployContext:
        ctx = context(tmp_path, releases=releases)
        ctx.offline = True
        return ctx

    ctx = offline()
    assert needs_crd(chart(), ctx, KEY, CRD, provider="prometheus-operator") is None
    assert ctx.kubectl.asked == [] and ctx.problems == []  # type: ignore[attr-defined]
    assert ctx.notes == [f"{KEY} is on only if the CRD {CRD} exists at apply time; no release in this project "
                         "provides it (deploy prometheus-operator, with depends_on, to have it on); "
                         "otherwise it is turned off"]

    ctx = offline({"db": "generic", "mon": "prometheus-operator"})
    needs_crd(chart(user="true"), ctx, KEY, CRD, provider="prometheus-operator")
    assert ctx.notes == [f'{KEY} is on only if the CRD {CRD} exists at apply time; release \'mon\' '
                         '(prometheus-operator) provides it: add depends_on = ["mon"] to have it on; '
                         "otherwise the plan refuses the release (you set it)"]

    ctx = offline({"db": "generic", "mon": "prometheus-operator"})
    needs_crd(chart(depends_on=("mon",)), ctx, KEY, CRD, provider="prometheus-operator")
    assert ctx.notes == [f"{KEY} on: release 'mon' (prometheus-operator) installs the CRD {CRD} first (depends_on)"]

    ctx = offline()
    assert needs_crd(chart(user="false"), ctx, KEY, CRD, provider="prometheus-operator") is None
    assert ctx.notes == []  # off: nothing to say
