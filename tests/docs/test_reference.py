"""The API reference (Sphinx + autodoc over the docstrings, docs/*.md as chapters) builds
with warnings as errors, and covers the whole chart-author surface and the library API."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_the_reference_names_every_name_of_the_author_surface() -> None:
    import firestream_core.plugin as surface

    page = (DOCS / "api" / "plugin.rst").read_text()
    documented = set(re.findall(r"\.\. auto\w+:: ([\w.]+)", page))
    documented |= {
        f"{mod}.{name.strip()}"
        for mod, names in re.findall(r"\.\. automodule:: ([\w.]+)\n\s+:members: ([^\n]+)", page)
        for name in names.split(",")
    }
    missing = []
    for name in surface.__all__:
        module = surface._MODULES.get(name) or surface._EXPORTS[name]
        if f"firestream_core.{module}" not in documented and f"firestream_core.{module}.{name}" not in documented:
            missing.append(name)
    assert missing == []


def test_every_docs_page_is_a_chapter() -> None:
    index = (DOCS / "index.md").read_text()
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    assert sorted(p for p in pages if f"\n{p}\n" not in index) == []


@pytest.mark.slow
def test_the_reference_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, check=False, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-6000:]
    html = tmp_path / "html"
    plugin = (html / "api" / "plugin.html").read_text()
    for name in ("HelmChart.validate", "ChartPayload.section", "ensure_secret", "SecretOutcome",
                 "deployment_available", "at_least", "on_deploy_failure", "hookimpl"):
        assert name in plugin, name
    library = (html / "api" / "library.html").read_text()
    for name in ("Project.from_charts", "Project.add_chart", "Project.plan", "Project.apply",
                 "ApplyResult", "check_plugins"):
        assert name in library, name
    assert (html / "writing-a-chart-plugin.html").is_file()


def test_the_cli_reference_s_selection_options_are_each_command_s() -> None:
    """docs/cli.md, "Selecting releases": every command it lists takes every option of its
    table, as its parser reads them (rollback, which takes release names, is not listed)."""
    from firestream_core.cli.main import build_parser

    section = (DOCS / "cli.md").read_text().split("## Selecting releases", 1)[1].split("\n## ", 1)[0]
    listed = section.split("takes", 1)[0]
    commands = re.findall(r"`(\w+)`", listed)
    options = [o for row in re.findall(r"^\| ([^|]*) \|", section, re.MULTILINE)
               for o in re.findall(r"`(-[\w-]+)", row)]
    assert "plan" in commands and "--target" in options and "--include-dependents" in options
    missing = []
    for command in commands:
        parser = build_parser(command)
        sub = next(a for a in parser._actions if a.choices and command in a.choices).choices[command]
        known = {s for a in sub._actions for s in a.option_strings}
        missing += [f"{command} {o}" for o in options if o not in known]
    assert missing == []
