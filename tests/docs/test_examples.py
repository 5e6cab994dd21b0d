"""The docs' examples cannot rot.

Every ```python block of README.md and docs/*.md compiles, and the blocks
marked ``<!-- example: run NAME -->`` run **as written** (``exec`` of the
block's text, in a folder holding what the example names) against the real
helm 3 and helm 4 on the emulated cluster: README's ``PostgresqlChart``
example and the seed's ``MyCustomChart`` (docs/writing-a-chart-plugin.md).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[2]
MARK = re.compile(r"^<!-- example: run ([\w-]+) -->$")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@attrs.frozen
class Block:
    page: Path
    line: int
    code: str
    run: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def python_blocks(page: Path) -> list[Block]:
    """The ```python blocks of ``page``, each with its first line and its run marker, if any."""
    lines = page.read_text().splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            before = lines[i - 1].strip() if i else ""
            m = MARK.match(before)
            out.append(Block(page, start + 1, "\n".join(lines[start:j]) + "\n", m.group(1) if m else None))
            i = j
        i += 1
    return out


BLOCKS = [b for page in PAGES for b in python_blocks(page)]
RUN = {b.run: b for b in BLOCKS if b.run}


def test_every_python_block_of_the_docs_compiles() -> None:
    assert len(BLOCKS) > 20
    bad = []
    for b in BLOCKS:
        try:
            compile(b.code, b.where, "exec")
        except SyntaxError as exc:
            bad.append(f"{b.where}: {exc}")
    assert bad == []


def test_the_examples_that_run_are_the_ones_set_up_below() -> None:
    assert sorted(RUN) == sorted(SETUPS)


# -- running them ------------------------------------------------------------------------------

POSTGRES_STAND_IN = ROOT / "plugins/firestream-chart-postgresql/tests/charts/postgresql"


def _tiny_app() -> Path:
    from firestream_testing.chartrepo import fixture_chart_dirs

    return next(d for d in fixture_chart_dirs() if d.name == "tiny-app")


SERVICEMONITOR_CRD = (
    ROOT / "plugins/firestream-chart-prometheus-operator/tests/charts/kube-prometheus-stack"
    / "charts/crds/crds/crd-servicemonitors.yaml"
)


def setup_readme(folder: Path, make_chart_repo: Any, kube: Any) -> None:
    """README: a firestream.toml with the 'redis' its postgresql depends on, and its values file.

    The development preset enables the ServiceMonitor: the cluster gets its CRD, as a cluster
    running prometheus-operator has it.
    """
    kube.run([kube.tools["kubectl"], "apply", "--server-side", "-f", str(SERVICEMONITOR_CRD)])
    repo = make_chart_repo([POSTGRES_STAND_IN, _tiny_app()], "docs-bitnami",
                           versions={"postgresql": ["13.2.24", "17.1.0"]})  # the seed's, the default
    (folder / "firestream.toml").write_text(
        f'[repositories]\nbitnami = "{repo.url}"\n\n'
        '[[deployments.generic]]\nname = "redis"\nchart = "bitnami/tiny-app"\ntimeout = "60s"\n'
    )
    (folder / "values").mkdir()
    (folder / "values/postgres-custom.yaml").write_text("commonLabels:\n  docs: readme\n")


def setup_seed(folder: Path, make_chart_repo: Any, kube: Any) -> None:
    """The seed's MyCustomChart deploys the local chart charts/my-app."""
    shutil.copytree(_tiny_app(), folder / "charts/my-app")


def setup_library(folder: Path, make_chart_repo: Any, kube: Any) -> None:
    """docs/library.md's from_charts example deploys the local chart charts/web twice."""
    shutil.copytree(_tiny_app(), folder / "charts/web")


SETUPS = {"readme": setup_readme, "seed-custom-chart": setup_seed, "library-from-charts": setup_library}


def check_readme(ns: dict[str, Any], kube: Any, helm_bin: Path) -> None:
    result = ns["result"]
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert list(result.releases) == ["redis", "postgresql"]  # depends_on from code, honoured
    assert result.releases["postgresql"].action == "create"
    got = json.loads(kube.run([helm_bin, "get", "values", "postgresql", "-n", "default",
                               "-o", "json"]).stdout)
    assert got["auth"]["database"] == "myapp"                 # the ChartSetValue
    assert got["commonLabels"] == {"docs": "readme"}         # the values file


def check_seed(ns: dict[str, Any], kube: Any, helm_bin: Path) -> None:
    outcome = ns["result"].releases["my-app"]
    # the chart's own validate first, then the built-in defaults'
    assert [v.name for v in outcome.validations] == [
        "deployment_available", "release_exists", "pods_running"
    ]
    listed = kube.run([helm_bin, "list", "-n", "apps", "-o", "json"]).stdout
    assert [r["name"] for r in json.loads(listed)] == ["my-app"]
    # the same class's stages run for the destroy: its validate must not look for what is gone
    gone = ns["project"].destroy()
    assert gone.ok, {n: o.reason for n, o in gone.releases.items()}
    listed = kube.run([helm_bin, "list", "-n", "apps", "-o", "json"]).stdout
    assert json.loads(listed) == []


def check_library(ns: dict[str, Any], kube: Any, helm_bin: Path) -> None:
    assert list(ns["result"].releases) == ["web", "api"]  # api depends_on web
    listed = kube.run([helm_bin, "list", "-n", "web", "-o", "json"]).stdout
    assert sorted(r["name"] for r in json.loads(listed)) == ["api", "web"]
    again = ns["project"].plan()  # the state file in project_dir remembers the run
    assert not again.has_changes, [(c.name, c.reasons) for c in again.releases]


CHECKS = {"readme": check_readme, "seed-custom-chart": check_seed, "library-from-charts": check_library}


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_example_runs_as_written(name, tmp_path, kube, helm_bin, make_chart_repo, monkeypatch,
                                 no_log_redactors) -> None:
    block = RUN[name]
    SETUPS[name](tmp_path, make_chart_repo, kube)
    monkeypatch.chdir(tmp_path)
    for key, value in kube.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FIRESTREAM_HELM_BINARY", str(helm_bin))
    monkeypatch.delenv("FIRESTREAM_DISABLE_PLUGINS", raising=False)
    ns: dict[str, Any] = {"__name__": f"doc_example_{name.replace('-', '_')}"}
    try:
        exec(compile(block.code, block.where, "exec"), ns)  # noqa: S102 - the docs' own example
        CHECKS[name](ns, kube, helm_bin)
    finally:
        project = ns.get("project")
        if project is not None:  # the next helm major starts from an empty cluster
            project.destroy()


@pytest.fixture
def no_log_redactors():
    yield
    from firestream_core.cli.logs import remove_redactors

    remove_redactors()


def test_the_run_release_examples_read_what_a_release_outcome_has() -> None:
    """Every ```python block calling ``run_release`` (docs/lifecycle.md, library.md) reads only
    attributes of the ``ReleaseOutcome`` it returns (those blocks need the internet to run)."""
    from firestream_core.deploy.results import ReleaseOutcome

    has = {a.name for a in attrs.fields(ReleaseOutcome)} | set(dir(ReleaseOutcome))
    blocks = [b for b in BLOCKS if "result = run_release(" in b.code]
    assert len(blocks) >= 2
    unknown = [f"{b.where}: result.{name}" for b in blocks
               for name in re.findall(r"\bresult\.(\w+)", b.code) if name not in has]
    assert unknown == []
