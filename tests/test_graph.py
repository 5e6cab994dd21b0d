"""The depends_on graph: order, levels, dependents, sub-graphs, errors and renderings."""

from __future__ import annotations

import pytest

from firestream_core.errors import CycleError, GraphError, UnknownDependencyError
from firestream_core.graph import ReleaseGraph, build_graph
from firestream_core.model import ChartInfo, HelmChart


def chart(name: str, *deps: str, ns: str = "default") -> HelmChart:
    return HelmChart(ChartInfo(name=name, chart=f"repo/{name}", namespace=ns, depends_on=list(deps)))


@pytest.fixture
def graph() -> ReleaseGraph:
    # app needs db and cache; cache needs db; monitoring is independent;
    # ingress is needed by app.
    return build_graph(
        [
            chart("monitoring", ns="prometheus"),
            chart("app", "db", "cache", "ingress"),
            chart("db"),
            chart("cache", "db"),
            chart("ingress"),
        ],
        source="firestream.toml",
    )


def test_order_puts_dependencies_first_and_keeps_config_order_for_ties(graph: ReleaseGraph) -> None:
    assert graph.order() == ["monitoring", "db", "cache", "ingress", "app"]
    assert graph.reverse_order() == ["app", "ingress", "cache", "db", "monitoring"]


def test_levels_are_longest_path_depths(graph: ReleaseGraph) -> None:
    assert graph.levels() == [["monitoring", "db", "ingress"], ["cache"], ["app"]]
    assert graph.depth() == {"monitoring": 0, "db": 0, "ingress": 0, "cache": 1, "app": 2}


def test_dependents_and_dependencies_are_transitive(graph: ReleaseGraph) -> None:
    assert graph.dependents("db") == ["app", "cache"]
    assert graph.dependents("app") == []
    assert graph.dependencies("app") == ["db", "cache", "ingress"]
    with pytest.raises(KeyError):
        graph.dependents("nope")


def test_subgraph_with_and_without_dependencies(graph: ReleaseGraph) -> None:
    sub = graph.subgraph(["cache"])
    assert sub.names == ["db", "cache"]
    assert sub.order() == ["db", "cache"]
    alone = graph.subgraph(["app"], include_deps=False)
    assert alone.names == ["app"]
    assert alone.deps == {"app": ()}
    with pytest.raises(GraphError) as exc:
        graph.subgraph(["app", "nope"])
    assert str(exc.value) == (
        "unknown release: 'nope' (releases: monitoring, app, db, cache, ingress)"
    )


def test_cycle_is_named_in_depends_on_order() -> None:
    with pytest.raises(CycleError) as exc:
        build_graph([chart("a", "b"), chart("b", "c"), chart("c", "a"), chart("d")], source="f.toml")
    assert exc.value.cycle == ["a", "b", "c", "a"]
    assert str(exc.value) == "dependency cycle in f.toml: a -> b -> c -> a"


def test_cycle_starts_at_the_first_release_of_the_file() -> None:
    with pytest.raises(CycleError) as exc:
        build_graph([chart("x"), chart("c", "a"), chart("a", "b"), chart("b", "c")])
    assert exc.value.cycle == ["c", "a", "b", "c"]


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(CycleError) as exc:
        build_graph([chart("a", "a")], source="f.toml")
    assert str(exc.value) == "dependency cycle in f.toml: a -> a"


def test_unknown_dependency_names_both_releases_and_the_file() -> None:
    with pytest.raises(UnknownDependencyError) as exc:
        build_graph([chart("app", "db")], source="/p/firestream.toml")
    assert (exc.value.release, exc.value.missing) == ("app", "db")
    assert str(exc.value) == "release 'app' depends on 'db', which is not defined (/p/firestream.toml)"


def test_several_unknown_dependencies_are_all_listed() -> None:
    with pytest.raises(GraphError) as exc:
        build_graph([chart("app", "db", "redis"), chart("web", "app")], source="f.toml")
    assert exc.value.problems == [
        "release 'app' depends on 'db', which is not defined (f.toml)",
        "release 'app' depends on 'redis', which is not defined (f.toml)",
    ]


def test_duplicate_names_are_refused_even_across_namespaces() -> None:
    with pytest.raises(GraphError) as exc:
        build_graph([chart("db", ns="a"), chart("db", ns="b")], source="f.toml")
    assert str(exc.value) == (
        "release names must be unique in a project in f.toml so that depends_on is unambiguous\n"
        "  release 'db' is defined 2 times"
    )


def test_text_rendering_lists_levels_with_dependencies(graph: ReleaseGraph) -> None:
    assert graph.render("text") == (
        "level 1:\n"
        "  monitoring [prometheus]\n"
        "  db [default]\n"
        "  ingress [default]\n"
        "level 2:\n"
        "  cache [default] (depends on db)\n"
        "level 3:\n"
        "  app [default] (depends on db, cache, ingress)\n"
    )


def test_dot_rendering_has_every_edge_and_same_rank_levels() -> None:
    g = ReleaseGraph({"db": [], "app": ["db"], "web": ["db"]})
    assert g.render("dot") == (
        "digraph firestream {\n"
        "  rankdir=LR;\n"
        "  node [shape=box];\n"
        '  "db" [label="db"];\n'
        '  "app" [label="app"];\n'
        '  "web" [label="web"];\n'
        '  "db" -> "app";\n'
        '  "db" -> "web";\n'
        '  { rank=same; "app" "web"; }\n'
        "}\n"
    )


def test_mermaid_rendering() -> None:
    g = ReleaseGraph({"db": [], "app": ["db"]}, labels={"db": "data"})
    assert g.render("mermaid") == (
        "flowchart LR\n"
        '  r0["db<br/>data"]\n'
        '  r1["app"]\n'
        "  r0 --> r1\n"
    )


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown graph format 'svg'"):
        ReleaseGraph({}).render("svg")


def test_empty_graph() -> None:
    g = ReleaseGraph({})
    assert g.order() == [] and g.levels() == [] and g.render("text") == ""


def test_larger_graph_order_respects_every_edge() -> None:
    # a layered graph: every node of layer k depends on two nodes of layer k-1
    deps: dict[str, list[str]] = {}
    for layer in range(6):
        for i in range(8):
            name = f"n{layer}-{i}"
            deps[name] = [] if layer == 0 else [f"n{layer - 1}-{i}", f"n{layer - 1}-{(i + 3) % 8}"]
    g = ReleaseGraph(deps)
    pos = {n: i for i, n in enumerate(g.order())}
    assert len(pos) == 48
    assert all(pos[d] < pos[n] for n, ds in deps.items() for d in ds)
    assert [len(level) for level in g.levels()] == [8] * 6
