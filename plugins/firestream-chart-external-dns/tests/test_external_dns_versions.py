"""The default chart version, and what an install at the seed's version plans."""

from __future__ import annotations

from pathlib import Path

from firestream_chart_external_dns import ExternalDnsChart
from firestream_chart_external_dns.chart import VERSION
from firestream_chart_external_dns.hooks import chart_type

from firestream_core.deploy.plan import make_plan
from firestream_core.model import InstalledRelease

DOCS = Path(__file__).resolve().parents[3] / "docs" / "charts.md"
SEED_VERSION = "6.31.0"


def test_the_default_version_is_the_documented_one() -> None:
    assert VERSION == "9.0.4"
    assert ExternalDnsChart.default().chart_info.version == VERSION
    text = DOCS.read_text(encoding="utf-8")
    assert f"bitnami/external-dns {VERSION}" in text
    assert f"| `external-dns` | bitnami external-dns | {SEED_VERSION} | {VERSION} |" in text


def test_a_seed_era_install_plans_one_plain_upgrade(tmp_path: Path) -> None:
    """Upstream's notes between the two ask for no CRD step or uninstall: nothing destructive."""
    chart = ExternalDnsChart.default()
    info = chart.chart_info
    assert info.last_breaking_version_requiring_restart is None
    assert chart_type().destructive_steps is None
    live = InstalledRelease(info.name, info.namespace_name, 1, "deployed", f"external-dns-{SEED_VERSION}")
    change = make_plan([chart], [live], None, project_dir=tmp_path)[info.name]
    assert change.action == "upgrade"
    assert change.breaking is None and change.destructive == ()
    assert f"{SEED_VERSION} -> {VERSION}" in "; ".join(change.reasons)
