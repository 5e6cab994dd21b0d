"""The chart author's docs stay true: their code compiles, the plugin example is sound, links resolve."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from firestream_core import ChartPayload, HelmAction, ValidationStatus
from firestream_core.config.plugin_check import check_plugins
from firestream_core.plugin.manager import get_plugin_manager

DOCS = Path(__file__).resolve().parents[2] / "docs"
MINE = ("writing-a-chart-plugin.md", "testing-a-chart-plugin.md", "library.md")


def python_blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), flags=re.S)


def anchors(text: str) -> set[str]:
    out = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")
        out.add(slug)
    return out


@pytest.mark.parametrize("name", MINE)
def test_every_python_block_compiles(name: str) -> None:
    blocks = python_blocks(name)
    assert blocks
    for i, block in enumerate(blocks):
        compile(block, f"{name}[{i}]", "exec")


@pytest.mark.parametrize("name", MINE)
def test_relative_links_resolve(name: str) -> None:
    text = (DOCS / name).read_text()
    for target in re.findall(r"\]\(([^)]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        doc = DOCS / path if path else DOCS / name
        assert doc.is_file(), f"{name} links to missing {target}"
        if anchor:
            assert anchor in anchors(doc.read_text()), f"{name} links to missing anchor {target}"


def test_the_redis_example_is_a_sound_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chart type, validate and check_prerequisites examples, put together as one module."""
    blocks = python_blocks("writing-a-chart-plugin.md")
    chart_type = next(b for b in blocks if "class RedisChart(HelmChart)" in b)
    validate = next(b for b in blocks if "def validate(chart, context)" in b)
    prerequisites = next(b for b in blocks if "def check_prerequisites(chart, context)" in b)
    module = types.ModuleType("firestream_chart_redis_doc")
    source = "\n".join(
        [
            "from firestream_core import hookimpl",
            chart_type,
            validate,
            prerequisites,
            "@hookimpl\ndef register_chart_types(register):\n    register(chart_type())\n",
        ]
    )
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(source, "writing-a-chart-plugin.md", "exec"), module.__dict__)  # noqa: S102

    manager = get_plugin_manager(disabled=["defaults"], load_entry_points=False, extra_plugins=[module])
    assert manager.broken == []
    assert check_plugins(manager) == []
    chart = module.RedisChart.production()
    assert (chart.chart_type, chart.chart_info.timeout) == ("redis", "600s")

    class NothingThere:
        def get(self, kind, name=None, *, namespace=None, selector=None, **kwargs):
            return None if name else {"items": []}

    context = types.SimpleNamespace(kubectl=NothingThere())
    results = manager.validate(chart, context, ChartPayload())
    assert [(r.name, r.status) for r in results] == [
        ("redis_ready", ValidationStatus.FAILED),
        ("redis_service", ValidationStatus.FAILED),
    ]
    (problem,) = manager.check_prerequisites(chart, context, ChartPayload())
    assert "ServiceMonitor CRD is not installed" in problem
    chart.chart_info.action = HelmAction.DESTROY
    assert manager.validate(chart, context, ChartPayload()) == []


def test_the_cli_reference_documents_new_as_its_parser_reads_it() -> None:
    """The usage line of ``firestream new`` in docs/cli.md is the one its parser builds."""
    import argparse

    from firestream_core.cli.commands import new

    text = (DOCS / "cli.md").read_text()
    section = text.split("### `firestream new`", 1)[1].split("\n### ", 1)[0]
    usage = re.search(r"```\n(firestream new [^\n]*)\n```", section)
    assert usage is not None, "docs/cli.md: `firestream new` has no usage block"
    parser = argparse.ArgumentParser(prog="firestream new", add_help=False)
    new.add_arguments(parser)
    words = []
    for action in parser._actions:
        if action.option_strings:
            words.append(f"[{action.option_strings[0]} {action.metavar}]")
        else:  # the one KIND is written as itself
            words.append(new.KINDS[0] if action.dest == "kind" else str(action.metavar))
    expected = " ".join(words)
    assert usage.group(1) == f"firestream new {expected}"
    assert "To be written" not in section
