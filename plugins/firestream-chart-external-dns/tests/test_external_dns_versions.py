"""The default chart version, and what an install at the seed's version plans."""

from __future__ import annotations

from pathlib import Path

import attrs
from firestream_chart_external_dns import ExternalDnsChart
from firestream_chart_external_dns.chart import UPGRADE_NOTES, VERSION
from firestream_chart_external_dns.hooks import chart_type

from firestream_core.deploy.plan import make_plan
from firestream_core.model import BreakingVersion, InstalledRelease

DOCS = Path(__file__).resolve().parents[3] / "docs" / "charts.md"
SEED_VERSION = "6.31.0"


def test_the_default_version_is_the_documented_one() -> None:
    assert VERSION == "9.0.4"
    assert ExternalDnsChart.default().chart_info.version == VERSION
    text = DOCS.read_text(encoding="utf-8")
    assert f"bitnami/external-dns {VERSION}" in text
    assert f"| `external-dns` | bitnami external-dns | {SEED_VERSION} | {VERSION} |" in text


def test_a_seed_era_install_plans_an_in_place_upgrade_naming_each_upstream_note(tmp_path: Path) -> None:
    """7.0.0, 8.0.0 and 9.0.0 lie between: breaking version 9.0.0 without uninstall or command,
    and the plan names each note it crosses (no CRD step: the DNSEndpoint CRD is a template)."""
    chart = ExternalDnsChart.default()
    info = chart.chart_info
    assert info.last_breaking_version_requiring_restart == BreakingVersion("9.0.0")
    assert [v for v, _ in UPGRADE_NOTES] == ["7.0.0", "8.0.0", "9.0.0"]
    live = InstalledRelease(info.name, info.namespace_name, 1, "deployed", f"external-dns-{SEED_VERSION}")
    steps = chart_type().destructive_steps
    change = make_plan([chart], [live], None, project_dir=tmp_path, extra_steps=steps)[info.name]
    assert change.action == "upgrade"
    assert change.reasons[0] == f"breaking version 9.0.0: upgrade across it (installed {SEED_VERSION})"
    assert f"{SEED_VERSION} -> {VERSION}" in "; ".join(change.reasons)
    assert change.destructive[0] == (
        f"no uninstall, no CRD step: helm upgrades external-dns {SEED_VERSION} -> {VERSION} in place"
    )
    assert [line.split(":")[0] for line in change.destructive[1:]] == [
        "upgrade note of 7.0.0", "upgrade note of 8.0.0", "upgrade note of 9.0.0",
    ]
    assert "replicaCount, useDaemonset" in change.destructive[2]

    # from 8.x only 9.0.0 is crossed; from 9.x nothing is
    live8 = attrs.evolve(live, chart="external-dns-8.7.9")
    change = make_plan([chart], [live8], None, project_dir=tmp_path, extra_steps=steps)[info.name]
    assert [line.split(":")[0] for line in change.destructive[1:]] == ["upgrade note of 9.0.0"]
    live9 = attrs.evolve(live, chart="external-dns-9.0.0")
    change = make_plan([chart], [live9], None, project_dir=tmp_path)[info.name]
    assert change.breaking is None and change.destructive == ()
