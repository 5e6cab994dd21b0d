"""The default chart version, and what an install at the seed's version meets."""

from __future__ import annotations

from pathlib import Path

from firestream_chart_postgresql import PostgresqlChart
from firestream_chart_postgresql.chart import VERSION
from firestream_chart_postgresql.major import FIRST_CHART_OF, postgres_major

DOCS = Path(__file__).resolve().parents[3] / "docs" / "charts.md"
SEED_VERSION = "13.2.24"


def test_the_default_version_is_the_documented_one() -> None:
    assert VERSION == "17.1.0"
    assert PostgresqlChart.default().chart_info.version == VERSION
    text = DOCS.read_text(encoding="utf-8")
    assert f"bitnami/postgresql {VERSION}" in text
    assert f"| `postgresql` | bitnami postgresql | {SEED_VERSION} | {VERSION} |" in text


def test_the_default_crosses_the_postgresql_major_of_a_seed_era_install() -> None:
    """13.2.24 ships PostgreSQL 16, the default 17: refused unless major_upgrade = "reinstall"
    (test_postgresql_helm.py runs both with the real helm); the breaking version is 16.0.0."""
    assert (postgres_major(SEED_VERSION), postgres_major(VERSION)) == (16, 17)
    assert FIRST_CHART_OF[17] == "16.0.0"
    # no breaking version by default: only the reinstall path adds one (major.py), so an upgrade
    # without it is refused before anything runs, never done half-way
    assert PostgresqlChart.default().chart_info.last_breaking_version_requiring_restart is None


def test_going_back_to_an_older_postgresql_major_is_refused_even_with_reinstall() -> None:
    """Chart 17.1.0 -> 13.2.24 would start PostgreSQL 16 on 17's data directory: refused, and
    ``major_upgrade = "reinstall"`` does not make it a reinstall."""
    import attrs
    from firestream_chart_postgresql.chart import PostgresqlOptions
    from firestream_chart_postgresql.major import major_upgrade_problem

    from firestream_core.model import InstalledRelease
    from firestream_core.plugin import DeployContext

    def problem(installed: str, target: str, **options: str) -> tuple[str | None, object]:
        chart = attrs.evolve(PostgresqlChart.default(), options=PostgresqlOptions(**options))
        chart.chart_info.name, chart.chart_info.version = "db", target
        live = InstalledRelease("db", "default", 1, "deployed", f"postgresql-{installed}")
        context = DeployContext(helm=None, kubectl=None, change="upgrade", installed=live)
        return major_upgrade_problem(chart, context), context.breaking_version

    expected = (
        "release 'db': chart 17.1.0 -> 13.2.24 moves PostgreSQL 17 -> 16, which cannot start on the data "
        "directory PostgreSQL 17 wrote, and major_upgrade does not go back: keep version = \"17.1.0\" (or any "
        "chart from 16.0.0 up); see docs/charts.md")
    assert problem("17.1.0", "13.2.24") == (expected, None)
    assert problem("17.1.0", "13.2.24", major_upgrade="reinstall") == (expected, None)
    assert problem("17.1.0", "16.0.0") == (None, None)
